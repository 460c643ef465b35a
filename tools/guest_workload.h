/* The pure part of vmca-guest, the emulated VM: its RAM (an LRU of resident
 * guest pages), the per-page state (resident, in tmem, on disk, untouched)
 * and version, page content generation and verification, the workload
 * generators and the run-time model. No sockets and no clocks: the tmem
 * hypervisor is reached through a callback that executes one batch of
 * guest_proto.h ops, so unit tests drive it with an in-memory fake.
 * docs/guest.md describes the model and the frontswap semantics chosen. */
#ifndef VMCA_GUEST_WORKLOAD_H
#define VMCA_GUEST_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../hv-ext/emu/guest_proto.h"

/* Limits checked at the boundary (CLI, workload files, hello reply). */
#define GW_MAX_PAGES (UINT64_C(1) << 26)   /* guest address space, in pages */
#define GW_PAGE_SIZE_MIN 64u
#define GW_PAGE_SIZE_MAX (1u << 20)
#define GW_USEMEM_STEP_MB 128u
/* Guest page number -> tmem key, as Linux's Xen tmem frontswap swizzled a
 * swap offset: oid = low SWIZ bits, index = the rest (swap type 0). */
#define GW_SWIZ_BITS 8u

/* Run status; the values are vmca-guest's exit codes. */
enum gw_status {
    GW_OK = 0,
    GW_ERR_TRANSPORT = 1,  /* the exec callback failed, or a result broke the protocol */
    GW_ERR_VM_FAILED = 3,  /* HVX_EIO: the hypervisor declared the VM failed */
    GW_ERR_INTEGRITY = 4,  /* content mismatch, or a persistent page lost silently */
};

/* Executes ops[0..count) in order on the hypervisor, filling each result.
 * Returns 0, or non-zero when the batch could not be executed (the caller
 * keeps its own message). */
typedef int (*gw_exec_fn)(void *arg, struct guest_op *ops, unsigned count);

struct gw_stats {
    uint64_t accesses;     /* workload accesses (reads + writes) */
    uint64_t ram_hits;     /* accesses to a resident page */
    uint64_t allocs;       /* first touches of a page (no I/O) */
    uint64_t puts, puts_ok, puts_remote, puts_failed;
    uint64_t gets, gets_ok, gets_remote, gets_miss, gets_lost;
    uint64_t flushes;      /* FLUSH_PAGE of a stale tmem copy (persistent) */
    uint64_t clean_drops;  /* evictions of a page whose tmem copy was current: no put */
    uint64_t disk_reads, disk_writes;
    uint64_t verified;     /* gets whose whole page matched */
    uint64_t mismatches;
    uint64_t batches;      /* batches executed */
};

/* Costs of the run-time model (docs/guest.md). */
struct gw_model {
    uint64_t tmem_local_us;    /* default 2 */
    uint64_t remote_latency_us;/* added to a remote op; default 50 */
    uint64_t disk_latency_us;  /* default 5000 */
};
#define GW_MODEL_DEFAULT ((struct gw_model){2, 50, 5000})
#define GW_RAM_ACCESS_NS 100u

/* Modelled run time in nanoseconds:
 *   local tmem ops (puts + gets + flushes whose result was not 1) * local_us
 * + remote tmem ops (result 1) * (local_us + remote_latency_us)
 * + (disk_reads + disk_writes) * disk_latency_us      (all * 1000)
 * + accesses * GW_RAM_ACCESS_NS. */
uint64_t gw_model_ns(const struct gw_stats *s, const struct gw_model *m);

/* Writes "vm=.. accesses=.. ... model_ms=X.YYY" (no newline) into buf;
 * returns what snprintf returns. */
int gw_format_stats(char *buf, size_t len, uint32_t vm, const struct gw_stats *s,
                    const struct gw_model *m);

/* "ENOMEM", "EIO", ... for an HVX_E* value, "OK" for 0, "remote" for 1,
 * "E?" otherwise. Static strings. */
const char *gw_result_name(int result);

/* True when page_size is a power of two in GW_PAGE_SIZE_MIN..MAX. */
bool gw_page_size_ok(uint32_t page_size);

/* ---- page content ---- */

/* Fills page (page_size bytes) with the content of (vm, gpn, version): a
 * 16-byte header (vm, version, gpn, host order) then a pseudo-random
 * stream seeded from the three. */
void gw_content_fill(void *page, uint32_t page_size, uint32_t vm, uint64_t gpn,
                     uint32_t version);
/* Who the header of a page written by gw_content_fill says wrote it (the
 * rest of the page is not checked). */
void gw_content_writer(const void *page, uint32_t *vm, uint64_t *gpn, uint32_t *version);
/* Compares the whole page with that content. Returns -1 when it matches,
 * else the offset of the first differing byte. */
long gw_content_check(const void *page, uint32_t page_size, uint32_t vm, uint64_t gpn,
                      uint32_t version);

/* ---- the guest (RAM, page states, batches) ---- */

enum gw_where {
    GW_UNTOUCHED = 0,
    GW_RESIDENT = 1,
    GW_IN_TMEM = 2,
    GW_ON_DISK = 3,
};

struct gw_page {
    uint32_t prev, next;   /* LRU links among resident pages (GW_NIL ends) */
    uint32_t version;      /* write accesses so far */
    uint8_t where;         /* enum gw_where */
    uint8_t flags;         /* GW_PF_* */
};
#define GW_NIL UINT32_MAX
#define GW_PF_PUT_PENDING 1u  /* a PUT of it is in the unexecuted batch */
#define GW_PF_TMEM_COPY 2u    /* resident and tmem holds its current version */

struct gw_config {
    uint32_t vm;
    uint32_t page_size;    /* from the hello reply */
    uint64_t ram_pages;    /* >= 1 */
    uint64_t n_pages;      /* guest address space (gw_workload_pages) */
    unsigned pool_kind;    /* HVX_POOL_PERSISTENT or HVX_POOL_EPHEMERAL */
    unsigned max_batch;    /* 1..GUEST_MAX_BATCH, <= slots */
    unsigned slots;        /* pages in the shared buffer */
};

/* What an op of the pending batch is about. */
struct gw_op_meta {
    uint32_t gpn;
    uint32_t version;      /* stored by a PUT / expected by a GET */
};

struct gw_guest {
    struct gw_config cfg;
    unsigned char *buf;    /* cfg.slots * page_size bytes, shared with the hypervisor */
    gw_exec_fn exec;
    void *exec_arg;
    uint8_t pool;          /* pool id from NEW_POOL */
    bool pool_open;
    struct gw_page *pages; /* cfg.n_pages entries */
    uint32_t mru, lru;     /* LRU ends */
    uint64_t resident;
    struct guest_op ops[GUEST_MAX_BATCH];
    struct gw_op_meta meta[GUEST_MAX_BATCH];
    unsigned n_ops;
    struct gw_stats st;
    enum gw_status status; /* sticky: the first failure ends the run */
    char msg[256];         /* what failed, for the shell to print */
};

/* Sets g up; pages table allocated here (freed by gw_guest_free). buf must
 * hold cfg->slots pages. Returns GW_OK, or GW_ERR_TRANSPORT with g->msg set
 * when cfg is invalid or memory is short. */
int gw_guest_init(struct gw_guest *g, const struct gw_config *cfg, unsigned char *buf,
                  gw_exec_fn exec, void *exec_arg);
void gw_guest_free(struct gw_guest *g);

/* Creates the tmem pool (a one-op batch). Returns the run status. */
int gw_guest_open_pool(struct gw_guest *g);

/* One access of the workload. Ops go into the pending batch, which is
 * executed when full, when a page with a PUT pending is needed again, and
 * by gw_guest_sync. Returns the run status (GW_OK or the sticky failure;
 * after a failure nothing is done). gpn < cfg.n_pages. */
int gw_guest_access(struct gw_guest *g, uint64_t gpn, bool write);

/* Executes the pending batch and applies its results. Returns the status. */
int gw_guest_sync(struct gw_guest *g);

/* Tmem key of a guest page. */
static inline uint64_t gw_oid(uint64_t gpn)
{
    return gpn & ((1u << GW_SWIZ_BITS) - 1u);
}
static inline uint32_t gw_index(uint64_t gpn)
{
    return (uint32_t)(gpn >> GW_SWIZ_BITS);
}

/* ---- workloads ---- */

enum gw_kind { GW_USEMEM, GW_PHASES, GW_TRACE, GW_HOLD };

struct gw_phase {
    uint64_t wss_mb;
    uint64_t seconds;
};

struct gw_trace_op {
    uint32_t page;
    bool write;
};

/* A parsed --workload. Sizes are in MB where the spec is; the page size is
 * applied by gw_workload_init. Owns its arrays (gw_spec_free). */
struct gw_spec {
    enum gw_kind kind;
    uint64_t usemem_limit_mb;
    uint64_t usemem_step_mb;     /* GW_USEMEM_STEP_MB from the parser */
    struct gw_phase *phases;
    size_t n_phases;
    struct gw_trace_op *trace;
    size_t n_trace;
    uint64_t hold_pages;
};

/* Parses "usemem:MB", "phases:FILE", "trace:FILE", "hold:PAGES" (reading
 * the file). Returns 0, or -1 with a message naming the spec, the file and
 * line and what was expected in err. */
int gw_spec_parse(const char *spec, struct gw_spec *out, char *err, size_t errlen);
/* The file readers behind it; name is used in messages. */
int gw_phases_read(FILE *f, const char *name, struct gw_spec *out, char *err,
                   size_t errlen);
int gw_trace_read(FILE *f, const char *name, struct gw_spec *out, char *err,
                  size_t errlen);
void gw_spec_free(struct gw_spec *s);

struct gw_run_opts {
    uint64_t loops;           /* usemem loops / trace replays */
    uint64_t ops_per_phase;   /* 0: phases last their SECONDS of wall clock */
    uint64_t seed;
};

struct gw_access {
    uint32_t gpn;
    bool write;
};

enum gw_next {
    GW_NEXT_ACCESS = 0,   /* *a filled */
    GW_NEXT_HOLD = 1,     /* hold workload: all pages written; hold now */
    GW_NEXT_END = 2,
};

struct gw_workload {
    const struct gw_spec *spec;
    struct gw_run_opts opts;
    uint64_t pages_per_mb;
    uint64_t n_pages;         /* address space the workload touches */
    /* generator state */
    unsigned stage;
    uint64_t i, end, cur, loop;
    size_t phase;
    uint64_t phase_ops;
    uint64_t phase_start_ms;
    bool phase_started;
    uint64_t rng;
};

/* Binds a spec to a page size. Returns 0, or -1 with err set (sizes that do
 * not fit GW_MAX_PAGES, a page size that does not divide 1 MiB, ...). */
int gw_workload_init(struct gw_workload *w, const struct gw_spec *spec,
                     uint32_t page_size, const struct gw_run_opts *opts, char *err,
                     size_t errlen);
/* Pages of guest address space the workload uses (gpn < this). */
uint64_t gw_workload_pages(const struct gw_workload *w);
/* Next access; now_ms is a monotonic clock, read only by phases without
 * ops_per_phase. */
enum gw_next gw_workload_next(struct gw_workload *w, uint64_t now_ms, struct gw_access *a);

/* Accesses usemem makes: sum over steps of (new pages + allocation so far)
 * + loops * 2 * limit, all in pages. */
uint64_t gw_usemem_accesses(uint64_t limit_pages, uint64_t step_pages, uint64_t loops);

#endif
