/* vmca-guest's pure part: RAM as an LRU of guest pages, tmem swap through
 * batches of guest_proto.h ops handed to a callback, content verification,
 * workload generators and the run-time model (see guest_workload.h). */
#include "guest_workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "../hv-ext/hvx.h"

/* ---- small helpers ---- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Strict decimal: digits only, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

const char *gw_result_name(int r)
{
    switch (r) {
    case 0: return "OK";
    case 1: return "remote";
    case HVX_EPERM: return "EPERM";
    case HVX_ENOENT: return "ENOENT";
    case HVX_EIO: return "EIO";
    case HVX_ENOMEM: return "ENOMEM";
    case HVX_EFAULT: return "EFAULT";
    case HVX_EBUSY: return "EBUSY";
    case HVX_EEXIST: return "EEXIST";
    case HVX_EINVAL: return "EINVAL";
    default: return "E?";
    }
}

bool gw_page_size_ok(uint32_t ps)
{
    return ps >= GW_PAGE_SIZE_MIN && ps <= GW_PAGE_SIZE_MAX && (ps & (ps - 1)) == 0;
}

/* ---- model and report ---- */

uint64_t gw_model_ns(const struct gw_stats *s, const struct gw_model *m)
{
    uint64_t ops = s->puts + s->gets + s->flushes;
    uint64_t remote = s->puts_remote + s->gets_remote;
    uint64_t local = ops - remote;
    uint64_t us = local * m->tmem_local_us +
                  remote * (m->tmem_local_us + m->remote_latency_us) +
                  (s->disk_reads + s->disk_writes) * m->disk_latency_us;
    return us * 1000 + s->accesses * GW_RAM_ACCESS_NS;
}

int gw_format_stats(char *buf, size_t len, uint32_t vm, const struct gw_stats *s,
                    const struct gw_model *m)
{
    uint64_t ns = gw_model_ns(s, m);
    return snprintf(buf, len,
                    "vm=%" PRIu32 " accesses=%" PRIu64 " ram_hits=%" PRIu64
                    " allocs=%" PRIu64 " puts=%" PRIu64 " puts_ok=%" PRIu64
                    " puts_remote=%" PRIu64 " puts_failed=%" PRIu64 " gets=%" PRIu64
                    " gets_ok=%" PRIu64 " gets_remote=%" PRIu64 " gets_miss=%" PRIu64
                    " gets_lost=%" PRIu64 " flushes=%" PRIu64 " clean_drops=%" PRIu64
                    " disk_reads=%" PRIu64 " disk_writes=%" PRIu64 " verified=%" PRIu64
                    " mismatches=%" PRIu64 " batches=%" PRIu64 " model_ms=%" PRIu64
                    ".%03" PRIu64,
                    vm, s->accesses, s->ram_hits, s->allocs, s->puts, s->puts_ok,
                    s->puts_remote, s->puts_failed, s->gets, s->gets_ok, s->gets_remote,
                    s->gets_miss, s->gets_lost, s->flushes, s->clean_drops, s->disk_reads,
                    s->disk_writes, s->verified, s->mismatches, s->batches, ns / 1000000,
                    (ns / 1000) % 1000);
}

/* ---- page content ---- */

#define HDR_BYTES 16u

static uint64_t content_seed(uint32_t vm, uint64_t gpn, uint32_t version)
{
    uint64_t s = (uint64_t)vm * UINT64_C(0xd6e8feb86659fd93) ^
                 gpn * UINT64_C(0xa0761d6478bd642f) ^
                 ((uint64_t)version + 1) * UINT64_C(0xe7037ed1a0b428db);
    (void)splitmix64(&s);
    return s;
}

static void content_header(unsigned char h[HDR_BYTES], uint32_t vm, uint64_t gpn,
                           uint32_t version)
{
    memcpy(h, &vm, 4);
    memcpy(h + 4, &version, 4);
    memcpy(h + 8, &gpn, 8);
}

void gw_content_fill(void *page, uint32_t ps, uint32_t vm, uint64_t gpn, uint32_t version)
{
    unsigned char *p = page;
    content_header(p, vm, gpn, version);
    uint64_t s = content_seed(vm, gpn, version);
    for (uint32_t off = HDR_BYTES; off < ps; off += 8) {
        uint64_t w = splitmix64(&s);
        memcpy(p + off, &w, 8);
    }
}

void gw_content_writer(const void *page, uint32_t *vm, uint64_t *gpn, uint32_t *version)
{
    const unsigned char *p = page;
    memcpy(vm, p, 4);
    memcpy(version, p + 4, 4);
    memcpy(gpn, p + 8, 8);
}

long gw_content_check(const void *page, uint32_t ps, uint32_t vm, uint64_t gpn,
                      uint32_t version)
{
    const unsigned char *p = page;
    unsigned char want[HDR_BYTES];
    content_header(want, vm, gpn, version);
    for (unsigned i = 0; i < HDR_BYTES; i++)
        if (p[i] != want[i])
            return (long)i;
    uint64_t s = content_seed(vm, gpn, version);
    for (uint32_t off = HDR_BYTES; off < ps; off += 8) {
        uint64_t w = splitmix64(&s);
        if (memcmp(p + off, &w, 8) != 0) {
            const unsigned char *wb = (const unsigned char *)&w;
            unsigned b = 0;
            while (p[off + b] == wb[b])
                b++;
            return (long)(off + b);
        }
    }
    return -1;
}

/* ---- the guest ---- */

static void fail(struct gw_guest *g, enum gw_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct gw_guest *g, enum gw_status st, const char *fmt, ...)
{
    if (g->status != GW_OK)
        return;
    g->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
    va_end(ap);
}

int gw_guest_init(struct gw_guest *g, const struct gw_config *cfg, unsigned char *buf,
                  gw_exec_fn exec, void *exec_arg)
{
    memset(g, 0, sizeof *g);
    g->mru = g->lru = GW_NIL;
    const char *bad = NULL;
    if (!gw_page_size_ok(cfg->page_size))
        bad = "page size";
    else if (cfg->ram_pages == 0)
        bad = "RAM of 0 pages";
    else if (cfg->n_pages == 0 || cfg->n_pages > GW_MAX_PAGES)
        bad = "address space size";
    else if (cfg->pool_kind != HVX_POOL_PERSISTENT && cfg->pool_kind != HVX_POOL_EPHEMERAL)
        bad = "pool kind";
    else if (cfg->slots == 0 || cfg->slots > GUEST_MAX_SLOTS)
        bad = "slot count";
    else if (cfg->max_batch == 0 || cfg->max_batch > GUEST_MAX_BATCH ||
             cfg->max_batch > cfg->slots)
        bad = "batch size";
    else if (!buf || !exec)
        bad = "buffer or exec callback";
    if (bad) {
        fail(g, GW_ERR_TRANSPORT, "invalid guest configuration: %s", bad);
        return g->status;
    }
    g->pages = calloc((size_t)cfg->n_pages, sizeof *g->pages);
    if (!g->pages) {
        fail(g, GW_ERR_TRANSPORT, "no memory for %" PRIu64 " page records", cfg->n_pages);
        return g->status;
    }
    g->cfg = *cfg;
    g->buf = buf;
    g->exec = exec;
    g->exec_arg = exec_arg;
    return GW_OK;
}

void gw_guest_free(struct gw_guest *g)
{
    free(g->pages);
    g->pages = NULL;
}

static unsigned char *slot_addr(struct gw_guest *g, unsigned slot)
{
    return g->buf + (size_t)slot * g->cfg.page_size;
}

static void lru_push_front(struct gw_guest *g, uint32_t x)
{
    struct gw_page *p = &g->pages[x];
    p->prev = GW_NIL;
    p->next = g->mru;
    if (g->mru != GW_NIL)
        g->pages[g->mru].prev = x;
    else
        g->lru = x;
    g->mru = x;
}

static void lru_remove(struct gw_guest *g, uint32_t x)
{
    struct gw_page *p = &g->pages[x];
    if (p->prev != GW_NIL)
        g->pages[p->prev].next = p->next;
    else
        g->mru = p->next;
    if (p->next != GW_NIL)
        g->pages[p->next].prev = p->prev;
    else
        g->lru = p->prev;
    p->prev = p->next = GW_NIL;
}

static void apply_put(struct gw_guest *g, const struct gw_op_meta *m, int r)
{
    struct gw_page *p = &g->pages[m->gpn];
    p->flags &= (uint8_t)~GW_PF_PUT_PENDING;
    g->st.puts++;
    if (r == 0 || r == 1) {
        g->st.puts_ok++;
        g->st.puts_remote += (uint64_t)r;
        return;
    }
    g->st.puts_failed++;
    if (r == HVX_ENOMEM || (r == HVX_ENOENT && g->cfg.pool_kind == HVX_POOL_EPHEMERAL)) {
        /* Frontswap's fallback: the page goes to the swap disk. (An
         * ephemeral put answers ENOENT when the entry it would replace was
         * lost; the page is just not stored.) */
        g->st.disk_writes++;
        p->where = GW_ON_DISK;
        return;
    }
    if (r == HVX_EIO) {
        fail(g, GW_ERR_VM_FAILED,
             "VM failed: put of page %" PRIu32 " (version %" PRIu32
             ") returned EIO: the hypervisor lost persistent data of this VM",
             m->gpn, m->version);
        return;
    }
    fail(g, GW_ERR_TRANSPORT,
         "put of page %" PRIu32 " returned %d (%s), not a result a put may have", m->gpn,
         r, gw_result_name(r));
}

static void apply_get(struct gw_guest *g, unsigned i, int r)
{
    const struct gw_op_meta *m = &g->meta[i];
    g->st.gets++;
    if (r == 0 || r == 1) {
        g->st.gets_ok++;
        g->st.gets_remote += (uint64_t)r;
        const unsigned char *s = slot_addr(g, i); /* op i owns slot i */
        long off = gw_content_check(s, g->cfg.page_size, g->cfg.vm, m->gpn, m->version);
        if (off < 0) {
            g->st.verified++;
            return;
        }
        g->st.mismatches++;
        uint32_t hvm, hver;
        uint64_t hgpn;
        memcpy(&hvm, s, 4);
        memcpy(&hver, s + 4, 4);
        memcpy(&hgpn, s + 8, 8);
        fail(g, GW_ERR_INTEGRITY,
             "content mismatch: page %" PRIu32 " expected version %" PRIu32
             " differs at byte %ld (slot %u header says vm %" PRIu32
             " page %" PRIu64 " version %" PRIu32 ")",
             m->gpn, m->version, off, i, hvm, hgpn, hver);
        return;
    }
    if (r == HVX_ENOENT && g->cfg.pool_kind == HVX_POOL_EPHEMERAL) {
        /* The hypervisor may drop ephemeral pages: read the page from disk. */
        g->st.gets_miss++;
        g->st.disk_reads++;
        return;
    }
    if (r == HVX_EIO) {
        g->st.gets_lost++;
        fail(g, GW_ERR_VM_FAILED,
             "VM failed: get of page %" PRIu32 " (version %" PRIu32
             ") returned EIO: the hypervisor lost persistent data of this VM",
             m->gpn, m->version);
        return;
    }
    if (r == HVX_ENOENT) {
        g->st.gets_lost++;
        fail(g, GW_ERR_INTEGRITY,
             "persistent page lost: get of page %" PRIu32 " (version %" PRIu32
             ") returned ENOENT, yet the hypervisor did not fail the VM",
             m->gpn, m->version);
        return;
    }
    fail(g, GW_ERR_TRANSPORT,
         "get of page %" PRIu32 " returned %d (%s), not a result a get may have", m->gpn, r,
         gw_result_name(r));
}

static void apply_flush(struct gw_guest *g, const struct gw_op_meta *m, int r)
{
    g->st.flushes++;
    if (r == 0)
        return;
    if (r == HVX_EIO)
        fail(g, GW_ERR_VM_FAILED,
             "VM failed: flush of page %" PRIu32
             " returned EIO: the hypervisor lost persistent data of this VM",
             m->gpn);
    else if (r == HVX_ENOENT)
        fail(g, GW_ERR_INTEGRITY,
             "persistent page lost: flush of page %" PRIu32 " (version %" PRIu32
             ") found no tmem copy, yet the hypervisor did not fail the VM",
             m->gpn, m->version);
    else
        fail(g, GW_ERR_TRANSPORT,
             "flush of page %" PRIu32 " returned %d (%s), not a result a flush may have",
             m->gpn, r, gw_result_name(r));
}

int gw_guest_sync(struct gw_guest *g)
{
    if (g->status != GW_OK || g->n_ops == 0)
        return g->status;
    unsigned n = g->n_ops;
    g->n_ops = 0;
    g->st.batches++;
    if (g->exec(g->exec_arg, g->ops, n) != 0) {
        fail(g, GW_ERR_TRANSPORT, "a batch of %u ops could not be executed", n);
        return g->status;
    }
    for (unsigned i = 0; i < n && g->status == GW_OK; i++) {
        int r = g->ops[i].result;
        switch (g->ops[i].op) {
        case GUEST_OP_PUT: apply_put(g, &g->meta[i], r); break;
        case GUEST_OP_GET: apply_get(g, i, r); break;
        case GUEST_OP_FLUSH_PAGE: apply_flush(g, &g->meta[i], r); break;
        default: break;
        }
    }
    return g->status;
}

/* Appends an op to the pending batch (executing the batch first when full).
 * Each op owns the slot of its position, so slots never clash in a batch. */
static int queue_op(struct gw_guest *g, uint8_t code, uint32_t gpn, uint32_t version)
{
    if (g->n_ops == g->cfg.max_batch && gw_guest_sync(g) != GW_OK)
        return g->status;
    unsigned i = g->n_ops++;
    g->ops[i] = (struct guest_op){
        .op = code,
        .pool = g->pool,
        .index = gw_index(gpn),
        .oid = gw_oid(gpn),
        .slot = i,
    };
    g->meta[i] = (struct gw_op_meta){.gpn = gpn, .version = version};
    if (code == GUEST_OP_PUT)
        gw_content_fill(slot_addr(g, i), g->cfg.page_size, g->cfg.vm, gpn, version);
    return GW_OK;
}

int gw_guest_open_pool(struct gw_guest *g)
{
    if (g->status != GW_OK)
        return g->status;
    if (gw_guest_sync(g) != GW_OK)
        return g->status;
    struct guest_op op = {.op = GUEST_OP_NEW_POOL, .pool = (uint8_t)g->cfg.pool_kind};
    g->st.batches++;
    if (g->exec(g->exec_arg, &op, 1) != 0) {
        fail(g, GW_ERR_TRANSPORT, "the new-pool op could not be executed");
        return g->status;
    }
    if (op.result < 0 || op.result > UINT8_MAX) {
        fail(g, GW_ERR_TRANSPORT, "vmca-hv refused a %s pool: %d (%s)",
             g->cfg.pool_kind == HVX_POOL_PERSISTENT ? "persistent" : "ephemeral",
             op.result, gw_result_name(op.result));
        return g->status;
    }
    g->pool = (uint8_t)op.result;
    g->pool_open = true;
    return GW_OK;
}

/* Makes room for one page: the LRU page leaves RAM. */
static int evict(struct gw_guest *g)
{
    uint32_t x = g->lru;
    struct gw_page *p = &g->pages[x];
    lru_remove(g, x);
    g->resident--;
    p->where = GW_IN_TMEM;
    if (p->flags & GW_PF_TMEM_COPY) {
        /* Clean since its swap-in and tmem still has it (a clean swap-cache
         * page): dropped without a put. */
        p->flags &= (uint8_t)~GW_PF_TMEM_COPY;
        g->st.clean_drops++;
        return GW_OK;
    }
    if (queue_op(g, GUEST_OP_PUT, x, p->version) != GW_OK)
        return g->status;
    p->flags |= GW_PF_PUT_PENDING;
    return GW_OK;
}

int gw_guest_access(struct gw_guest *g, uint64_t gpn, bool write)
{
    if (g->status != GW_OK)
        return g->status;
    if (!g->pool_open || gpn >= g->cfg.n_pages) {
        fail(g, GW_ERR_TRANSPORT, "access to page %" PRIu64 " %s", gpn,
             g->pool_open ? "outside the address space" : "before the pool was opened");
        return g->status;
    }
    uint32_t x = (uint32_t)gpn;
    struct gw_page *p = &g->pages[x];
    g->st.accesses++;
    if (p->where == GW_RESIDENT) {
        g->st.ram_hits++;
        if (g->mru != x) {
            lru_remove(g, x);
            lru_push_front(g, x);
        }
    } else {
        /* Where the page is depends on its pending put's result. */
        if ((p->flags & GW_PF_PUT_PENDING) && gw_guest_sync(g) != GW_OK)
            return g->status;
        if (g->resident >= g->cfg.ram_pages && evict(g) != GW_OK)
            return g->status;
        switch (p->where) {
        case GW_UNTOUCHED:
            g->st.allocs++;
            break;
        case GW_IN_TMEM:
            if (queue_op(g, GUEST_OP_GET, x, p->version) != GW_OK)
                return g->status;
            /* Linux frontswap is non-exclusive: a persistent get keeps the
             * copy; an ephemeral get removes it. */
            if (g->cfg.pool_kind == HVX_POOL_PERSISTENT)
                p->flags |= GW_PF_TMEM_COPY;
            break;
        case GW_ON_DISK:
            g->st.disk_reads++;
            break;
        default:
            break;
        }
        p->where = GW_RESIDENT;
        lru_push_front(g, x);
        g->resident++;
    }
    if (write) {
        if (p->flags & GW_PF_TMEM_COPY) {
            /* The tmem copy is stale from now on: free it, as frontswap
             * invalidates the swap entry of a page dirtied after swap-in. */
            p->flags &= (uint8_t)~GW_PF_TMEM_COPY;
            if (queue_op(g, GUEST_OP_FLUSH_PAGE, x, p->version) != GW_OK)
                return g->status;
        }
        p->version++;
    }
    return g->status;
}

/* ---- workload specs ---- */

static void errf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

void gw_spec_free(struct gw_spec *s)
{
    free(s->phases);
    free(s->trace);
    s->phases = NULL;
    s->trace = NULL;
    s->n_phases = s->n_trace = 0;
}

/* Splits a line (comment stripped) into at most max whitespace-separated
 * tokens in place; returns the count, or max + 1 when there are more. */
static int split(char *line, char **tok, int max)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return max + 1;
        tok[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

int gw_phases_read(FILE *f, const char *name, struct gw_spec *out, char *err,
                   size_t errlen)
{
    char *line = NULL, *copy = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    struct gw_phase *ph = NULL;
    unsigned long lineno = 0;
    int rc = -1;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &cap, f);
        if (len < 0) {
            if (errno && !feof(f)) {
                errf(err, errlen, "%s: read error: %s", name, strerror(errno));
                goto out;
            }
            break;
        }
        lineno++;
        free(copy);
        copy = strdup(line);
        if (!copy) {
            errf(err, errlen, "%s: out of memory", name);
            goto out;
        }
        trim_nl(copy);
        char *tok[2];
        int nt = split(line, tok, 2);
        if (nt == 0)
            continue;
        uint64_t wss, secs;
        if (nt != 2 || parse_u64(tok[0], &wss) || parse_u64(tok[1], &secs)) {
            errf(err, errlen,
                 "%s:%lu: expected 'WSS_MB SECONDS' (two whole numbers), got '%s'", name,
                 lineno, copy);
            goto out;
        }
        if (wss == 0 || wss > GW_MAX_PAGES) {
            errf(err, errlen, "%s:%lu: WSS_MB must be 1..%" PRIu64 ", got %" PRIu64, name,
                 lineno, (uint64_t)GW_MAX_PAGES, wss);
            goto out;
        }
        if (secs == 0 || secs > UINT64_C(1) << 40) {
            errf(err, errlen, "%s:%lu: SECONDS must be a whole number >= 1, got %" PRIu64,
                 name, lineno, secs);
            goto out;
        }
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            struct gw_phase *np = realloc(ph, alloc * sizeof *ph);
            if (!np) {
                errf(err, errlen, "%s: out of memory", name);
                goto out;
            }
            ph = np;
        }
        ph[n++] = (struct gw_phase){wss, secs};
    }
    if (n == 0) {
        errf(err, errlen, "%s: no phases: expected lines 'WSS_MB SECONDS'", name);
        goto out;
    }
    out->kind = GW_PHASES;
    out->phases = ph;
    out->n_phases = n;
    ph = NULL;
    rc = 0;
out:
    free(ph);
    free(line);
    free(copy);
    return rc;
}

int gw_trace_read(FILE *f, const char *name, struct gw_spec *out, char *err,
                  size_t errlen)
{
    char *line = NULL, *copy = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    struct gw_trace_op *tr = NULL;
    unsigned long lineno = 0;
    int rc = -1;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &cap, f);
        if (len < 0) {
            if (errno && !feof(f)) {
                errf(err, errlen, "%s: read error: %s", name, strerror(errno));
                goto out;
            }
            break;
        }
        lineno++;
        free(copy);
        copy = strdup(line);
        if (!copy) {
            errf(err, errlen, "%s: out of memory", name);
            goto out;
        }
        trim_nl(copy);
        char *tok[2];
        int nt = split(line, tok, 2);
        if (nt == 0)
            continue;
        uint64_t page;
        bool ok_op = nt == 2 && (strcmp(tok[0], "r") == 0 || strcmp(tok[0], "w") == 0);
        if (!ok_op || parse_u64(tok[1], &page)) {
            errf(err, errlen, "%s:%lu: expected 'r PAGE' or 'w PAGE', got '%s'", name,
                 lineno, copy);
            goto out;
        }
        if (page >= GW_MAX_PAGES) {
            errf(err, errlen, "%s:%lu: PAGE must be below %" PRIu64 ", got %" PRIu64, name,
                 lineno, (uint64_t)GW_MAX_PAGES, page);
            goto out;
        }
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 256;
            struct gw_trace_op *nt2 = realloc(tr, alloc * sizeof *tr);
            if (!nt2) {
                errf(err, errlen, "%s: out of memory", name);
                goto out;
            }
            tr = nt2;
        }
        tr[n++] = (struct gw_trace_op){(uint32_t)page, tok[0][0] == 'w'};
    }
    if (n == 0) {
        errf(err, errlen, "%s: no accesses: expected lines 'r PAGE' or 'w PAGE'", name);
        goto out;
    }
    out->kind = GW_TRACE;
    out->trace = tr;
    out->n_trace = n;
    tr = NULL;
    rc = 0;
out:
    free(tr);
    free(line);
    free(copy);
    return rc;
}

static int read_file_spec(const char *path, struct gw_spec *out, bool phases, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(err, errlen, "--workload %s:%s: cannot open: %s", phases ? "phases" : "trace",
             path, strerror(errno));
        return -1;
    }
    char why[400] = "";
    int rc = phases ? gw_phases_read(f, path, out, why, sizeof why)
                    : gw_trace_read(f, path, out, why, sizeof why);
    fclose(f);
    if (rc != 0)
        errf(err, errlen, "--workload %s: %s", phases ? "phases" : "trace", why);
    return rc;
}

int gw_spec_parse(const char *spec, struct gw_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon) {
        errf(err, errlen,
             "--workload: expected usemem:LIMIT_MB, phases:FILE, trace:FILE or hold:PAGES, "
             "got '%s'",
             spec ? spec : "");
        return -1;
    }
    size_t klen = (size_t)(colon - spec);
    const char *arg = colon + 1;
    uint64_t v;
    if (klen == 6 && strncmp(spec, "usemem", 6) == 0) {
        if (parse_u64(arg, &v) || v == 0 || v > GW_MAX_PAGES) {
            errf(err, errlen,
                 "--workload usemem:LIMIT_MB: expected a whole number of MB from 1 to %" PRIu64
                 ", got '%s'",
                 (uint64_t)GW_MAX_PAGES, arg);
            return -1;
        }
        out->kind = GW_USEMEM;
        out->usemem_limit_mb = v;
        out->usemem_step_mb = GW_USEMEM_STEP_MB;
        return 0;
    }
    if (klen == 4 && strncmp(spec, "hold", 4) == 0) {
        if (parse_u64(arg, &v) || v == 0 || v > GW_MAX_PAGES) {
            errf(err, errlen,
                 "--workload hold:PAGES: expected a whole number of pages from 1 to %" PRIu64
                 ", got '%s'",
                 (uint64_t)GW_MAX_PAGES, arg);
            return -1;
        }
        out->kind = GW_HOLD;
        out->hold_pages = v;
        return 0;
    }
    bool phases = klen == 6 && strncmp(spec, "phases", 6) == 0;
    bool trace = klen == 5 && strncmp(spec, "trace", 5) == 0;
    if (phases || trace) {
        if (!*arg) {
            errf(err, errlen, "--workload %s:FILE: the file name is missing",
                 phases ? "phases" : "trace");
            return -1;
        }
        return read_file_spec(arg, out, phases, err, errlen);
    }
    errf(err, errlen,
         "--workload: unknown workload '%.*s': expected usemem:LIMIT_MB, phases:FILE, "
         "trace:FILE or hold:PAGES",
         (int)klen, spec);
    return -1;
}

/* ---- generators ---- */

enum {
    ST_USEMEM_GROW = 0, /* write the new part of the allocation */
    ST_USEMEM_VERIFY,   /* read the whole allocation */
    ST_USEMEM_WRITE,    /* loop: write pass */
    ST_USEMEM_READ,     /* loop: read pass */
    ST_HOLD_WRITE,
    ST_HOLD_HOLD,
    ST_HOLD_READ,
    ST_DONE,
};

uint64_t gw_usemem_accesses(uint64_t limit, uint64_t step, uint64_t loops)
{
    uint64_t n = 0;
    for (uint64_t cur = 0; cur < limit;) {
        uint64_t end = limit - cur > step ? cur + step : limit;
        n += (end - cur) + end;
        cur = end;
    }
    return n + loops * 2 * limit;
}

int gw_workload_init(struct gw_workload *w, const struct gw_spec *spec, uint32_t page_size,
                     const struct gw_run_opts *opts, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (!gw_page_size_ok(page_size)) {
        errf(err, errlen, "page size %" PRIu32 " is not a power of two in %u..%u",
             page_size, GW_PAGE_SIZE_MIN, GW_PAGE_SIZE_MAX);
        return -1;
    }
    w->spec = spec;
    w->opts = *opts;
    w->pages_per_mb = (UINT64_C(1) << 20) / page_size;
    w->rng = opts->seed;
    uint64_t n = 0;
    switch (spec->kind) {
    case GW_USEMEM:
        if (spec->usemem_step_mb == 0 || spec->usemem_limit_mb > GW_MAX_PAGES ||
            spec->usemem_step_mb > GW_MAX_PAGES) {
            errf(err, errlen, "usemem: bad limit or step");
            return -1;
        }
        n = spec->usemem_limit_mb * w->pages_per_mb;
        w->stage = ST_USEMEM_GROW;
        w->end = spec->usemem_step_mb * w->pages_per_mb;
        if (w->end > n)
            w->end = n;
        break;
    case GW_PHASES:
        for (size_t i = 0; i < spec->n_phases; i++) {
            if (spec->phases[i].wss_mb > GW_MAX_PAGES) {
                n = GW_MAX_PAGES + 1;
                break;
            }
            uint64_t p = spec->phases[i].wss_mb * w->pages_per_mb;
            if (p > n)
                n = p;
        }
        if (spec->n_phases == 0) {
            errf(err, errlen, "phases: no phases");
            return -1;
        }
        break;
    case GW_TRACE:
        for (size_t i = 0; i < spec->n_trace; i++)
            if ((uint64_t)spec->trace[i].page + 1 > n)
                n = (uint64_t)spec->trace[i].page + 1;
        break;
    case GW_HOLD:
        n = spec->hold_pages;
        w->stage = ST_HOLD_WRITE;
        break;
    }
    if (n == 0 || n > GW_MAX_PAGES) {
        errf(err, errlen,
             "the workload spans %" PRIu64 " pages of %" PRIu32
             " bytes; the guest supports 1..%" PRIu64,
             n, page_size, (uint64_t)GW_MAX_PAGES);
        return -1;
    }
    w->n_pages = n;
    return 0;
}

uint64_t gw_workload_pages(const struct gw_workload *w)
{
    return w->n_pages;
}

static enum gw_next emit(struct gw_access *a, uint64_t gpn, bool write)
{
    a->gpn = (uint32_t)gpn;
    a->write = write;
    return GW_NEXT_ACCESS;
}

static enum gw_next next_usemem(struct gw_workload *w, struct gw_access *a)
{
    uint64_t limit = w->n_pages;
    for (;;) {
        switch (w->stage) {
        case ST_USEMEM_GROW:
            if (w->i < w->end)
                return emit(a, w->i++, true);
            w->stage = ST_USEMEM_VERIFY;
            w->i = 0;
            break;
        case ST_USEMEM_VERIFY:
            if (w->i < w->end)
                return emit(a, w->i++, false);
            w->cur = w->end;
            if (w->cur >= limit) {
                w->stage = ST_USEMEM_WRITE;
                w->loop = 0;
            } else {
                uint64_t step = w->spec->usemem_step_mb * w->pages_per_mb;
                w->end = limit - w->cur > step ? w->cur + step : limit;
                w->stage = ST_USEMEM_GROW;
            }
            w->i = w->cur < limit ? w->cur : 0;
            break;
        case ST_USEMEM_WRITE:
            if (w->loop >= w->opts.loops) {
                w->stage = ST_DONE;
                return GW_NEXT_END;
            }
            if (w->i < limit)
                return emit(a, w->i++, true);
            w->stage = ST_USEMEM_READ;
            w->i = 0;
            break;
        case ST_USEMEM_READ:
            if (w->i < limit)
                return emit(a, w->i++, false);
            w->loop++;
            w->stage = ST_USEMEM_WRITE;
            w->i = 0;
            break;
        default:
            return GW_NEXT_END;
        }
    }
}

static enum gw_next next_phases(struct gw_workload *w, uint64_t now_ms, struct gw_access *a)
{
    const struct gw_spec *s = w->spec;
    while (w->phase < s->n_phases) {
        const struct gw_phase *ph = &s->phases[w->phase];
        if (!w->phase_started) {
            w->phase_started = true;
            w->phase_start_ms = now_ms;
            w->phase_ops = 0;
        }
        bool done = w->opts.ops_per_phase
                        ? w->phase_ops >= w->opts.ops_per_phase
                        : now_ms >= w->phase_start_ms &&
                              now_ms - w->phase_start_ms >= ph->seconds * 1000;
        if (done) {
            w->phase++;
            w->phase_started = false;
            continue;
        }
        w->phase_ops++;
        uint64_t wss = ph->wss_mb * w->pages_per_mb;
        uint64_t gpn = splitmix64(&w->rng) % wss;
        bool write = (splitmix64(&w->rng) >> 63) != 0;
        return emit(a, gpn, write);
    }
    return GW_NEXT_END;
}

static enum gw_next next_trace(struct gw_workload *w, struct gw_access *a)
{
    const struct gw_spec *s = w->spec;
    for (;;) {
        if (w->loop >= w->opts.loops)
            return GW_NEXT_END;
        if (w->i < s->n_trace) {
            const struct gw_trace_op *t = &s->trace[w->i++];
            return emit(a, t->page, t->write);
        }
        w->loop++;
        w->i = 0;
    }
}

static enum gw_next next_hold(struct gw_workload *w, struct gw_access *a)
{
    switch (w->stage) {
    case ST_HOLD_WRITE:
        if (w->i < w->n_pages)
            return emit(a, w->i++, true);
        w->stage = ST_HOLD_HOLD;
        return GW_NEXT_HOLD;
    case ST_HOLD_HOLD:
        w->stage = ST_HOLD_READ;
        w->i = 0;
        /* fall through */
    case ST_HOLD_READ:
        if (w->i < w->n_pages)
            return emit(a, w->i++, false);
        w->stage = ST_DONE;
        return GW_NEXT_END;
    default:
        return GW_NEXT_END;
    }
}

enum gw_next gw_workload_next(struct gw_workload *w, uint64_t now_ms, struct gw_access *a)
{
    switch (w->spec->kind) {
    case GW_USEMEM: return next_usemem(w, a);
    case GW_PHASES: return next_phases(w, now_ms, a);
    case GW_TRACE: return next_trace(w, a);
    case GW_HOLD: return next_hold(w, a);
    }
    return GW_NEXT_END;
}
