/* The TKM interface as a struct of operations in plain C types: one per call
 * a memory manager makes of its hypervisor, and the events a backend
 * delivers back. tkm_call_apply maps the core's queued calls onto them.
 *
 * Backends:
 *   emu    tkm/tkm.h: vmca-hv's TKM socket (protobuf stays inside tkm/);
 *   inproc hv-ext/hv_tkm.h: libhvx in the same process, the dispatcher
 *          vmca-hv runs called directly (the simulator, unit tests);
 *   xen    tkm/tkm_xen.h: a stock Xen host (libxenctrl, xenstore), first
 *          tier only: Mem-Limit as balloon targets, every call needing
 *          tmem refused with a reply (docs/hypervisor.md). */
#ifndef VMCA_TKM_OPS_H
#define VMCA_TKM_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

/* What a backend delivers. Arrays are borrowed for the call only. A
 * synchronous backend (inproc) delivers a reply inside the op. */
struct tkm_events {
    void (*up)(void *arg);                                 /* calls can be made */
    void (*sample)(void *arg, const struct tkm_sample *s); /* statistics */
    void (*reply)(void *arg, const struct tkm_reply *r);   /* to the call of r->id */
    void (*down)(void *arg, const char *why);              /* pending calls are lost */
    /* Another memory manager holds the hypervisor: down for good. */
    void (*refused)(void *arg, const char *why);
};

/* Each op makes one call, answered by a reply with its id. Returns 0, or a
 * vmca_err when the call was not made (no reply will come). Arrays are
 * borrowed for the op only. */
struct tkm_ops {
    /* A sample now (the same period): a reply, then the sample. */
    int (*stats_now)(void *be, uint64_t id);
    /* Per-VM targets (Mem-Limit): every VM known, or nothing changes. */
    int (*mem_limit)(void *be, uint64_t id, const struct vm_target *targets, size_t n);
    /* Blocks received from node `from`: one TKM_GRANT_* result per block. */
    int (*grant)(void *be, uint64_t id, uint32_t from, const struct vmca_block *blocks,
                 size_t n);
    /* Up to `pages` free pages for node `to`: the blocks taken out. */
    int (*request)(void *be, uint64_t id, uint32_t to, uint64_t pages);
    /* Pages of `home` back to it, moving at most max_migrate in-use pages
     * (0: 256); `done` once nothing of it is left. */
    int (*give_back)(void *be, uint64_t id, uint32_t home, uint32_t max_migrate);
    /* Up to `pages` free pages of `home` (another node) back to it, no
     * in-use page moved: the blocks taken out (surplus lent memory). */
    int (*give_surplus)(void *be, uint64_t id, uint32_t home, uint64_t pages);
    /* Drop every page of `home` and forget its memory's mapping. */
    int (*invalidate)(void *be, uint64_t id, uint32_t home);
    /* The blocks of `home` owned here (census). */
    int (*owned)(void *be, uint64_t id, uint32_t home);
    /* Census result of the own home: owners[i] holds held[i]. */
    int (*reclaim)(void *be, uint64_t id, const struct vmca_block *held, size_t n_held,
                   const uint32_t *owners, size_t n_owners);
    /* Accept pages of `home` or not; of the own home: open or close its
     * memory to remote access. */
    int (*enable)(void *be, uint64_t id, uint32_t home, bool enable);
    /* Keep Request off the pages of `home` (its census runs) or not. */
    int (*freeze)(void *be, uint64_t id, uint32_t home, bool frozen);
};

struct tkm_backend {
    const struct tkm_ops *ops;
    void *be;
};

/* Makes the queued call c through b. Returns what the op returns, or
 * VMCA_ERR_NOMEM for a reclaim without owners (the core ran out of memory:
 * an empty reclaim would take back every page). */
int tkm_call_apply(const struct tkm_backend *b, const struct tkm_call *c);

#endif
