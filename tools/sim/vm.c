/* Scenario VMs (vmca-sim --scenario; docs/testing.md, "Guest model"): each VM
 * has ram_pages frames managed by CLOCK and a workload (workload.h) that
 * names the pages it touches. A page evicted goes to the VM's persistent
 * tmem pool (frontswap), or to disk when the put fails; a page coming back
 * from tmem is got, checked against what the VM put, and flushed
 * (frontswap's exclusive load). Every op reaches libhvx through
 * guest_exec, as vmca-hv's guest channel does. Each VM runs on its own
 * clock, in quanta that end at the scheduler's next event. */
#include "guest_exec.h"
#include "guest_workload.h"
#include "sim.h"
#include "workload.h"

enum { PG_UNTOUCHED, PG_RAM, PG_TMEM, PG_DISK };

/* The writer id in a page's content: node and VM, unique in the cluster. */
static uint32_t writer_of(const struct svm *v)
{
    return v->node << 16 | v->cfg->id;
}

static int64_t cost_ns(double us, uint32_t scale)
{
    return (int64_t)(us * 1000.0 * scale + 0.5);
}

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, c * size);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

int svms_create(struct sim *s, char *err, size_t errlen)
{
    const struct scenario *sc = s->opts->scenario;
    s->cost.cpu = cost_ns(sc->cpu_us, sc->scale);
    s->cost.local = cost_ns(sc->local_us, sc->scale);
    s->cost.remote = cost_ns(sc->remote_us, sc->scale);
    s->cost.disk = cost_ns(sc->disk_us, sc->scale);
    size_t n = 0;
    for (size_t i = 0; i < sc->n_nodes; i++)
        n += sc->nodes[i].n_vms;
    s->svm = calloc(n ? n : 1, sizeof *s->svm);
    if (!s->svm) {
        snprintf(err, errlen, "out of memory for %zu VMs", n);
        return -1;
    }
    for (size_t i = 0; i < sc->n_nodes; i++)
        for (size_t j = 0; j < sc->nodes[i].n_vms; j++) {
            struct svm *v = &s->svm[s->n_svm++];
            const struct scen_vm *c = &sc->nodes[i].vms[j];
            v->node = (uint32_t)i + 1;
            v->cfg = c;
            v->pool = -1;
            struct wl_spec ws = {
                .profile = c->profile, .ram_pages = scen_pages(c->ram_mb, sc->scale),
                .footprint_pages = scen_pages(c->footprint_mb, sc->scale),
                .repeats = c->repeats, .scale = sc->scale,
                .seed = (s->seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(i + 1) << 32) ^ c->id};
            char why[256];
            v->w = wl_new(&ws, why, sizeof why);
            if (!v->w) {
                snprintf(err, errlen, "%s:%u: nodes.[%zu].vms.[%zu]: expected a workload the "
                         "profile accepts, got: %s", sc->path, c->line, i, j, why);
                return -1;
            }
            v->ram = ws.ram_pages;
            v->fp = wl_footprint(v->w);
            v->start_ns = (int64_t)(c->start_s * 1e9);
            v->where = calloc(v->fp, 1);
            v->version = calloc(v->fp, sizeof *v->version);
            v->frame_of = calloc(v->fp, sizeof *v->frame_of);
            v->frame_page = calloc(v->ram, sizeof *v->frame_page);
            v->ref = calloc(v->ram, 1);
            if (!v->where || !v->version || !v->frame_of || !v->frame_page || !v->ref) {
                snprintf(err, errlen, "out of memory for VM %u of node %zu", c->id, i + 1);
                return -1;
            }
        }
    return 0;
}

void svms_free(struct sim *s)
{
    for (size_t i = 0; i < s->n_svm; i++) {
        struct svm *v = &s->svm[i];
        if (v->w)
            wl_free(v->w);
        free(v->where);
        free(v->version);
        free(v->frame_of);
        free(v->frame_page);
        free(v->ref);
        free(v->changes);
        free(v->samples);
    }
    free(s->svm);
    s->svm = NULL;
    s->n_svm = 0;
}

static int32_t vm_op(struct sim *s, struct svm *v, uint8_t op, uint64_t gpn)
{
    struct guest_op g = {.op = op, .pool = (uint8_t)v->pool, .oid = gw_oid(gpn),
                         .index = gw_index(gpn)};
    return guest_exec(s->node[v->node].hv, v->cfg->id, &g, s->page_buf, 1, s->cfg.page_size);
}

/* The VM connects: a client and a persistent pool, and the hypervisor's
 * statistics push that a connecting VM causes. */
static void vm_start(struct sim *s, struct svm *v)
{
    struct sim_node *n = &s->node[v->node];
    struct guest_op g = {.op = GUEST_OP_NEW_POOL, .pool = HVX_POOL_PERSISTENT};
    int rc = hvx_client_new(n->hv, v->cfg->id);
    v->pool = rc == HVX_OK ? guest_exec(n->hv, v->cfg->id, &g, NULL, 0, 0) : rc;
    if (v->pool < 0 || v->pool > UINT8_MAX) {
        violation(s, "node %u VM %u: the hypervisor gives it no pool (%d)", v->node,
                  v->cfg->id, v->pool);
        return;
    }
    v->started = true;
    v->clock_ns = v->start_ns;
    if (n->core_live) {
        hv_stats(s, n, false);
        drain_slave(s, n);
    }
}

/* Its work is done: the guest's swap goes away, so its tmem pages do. */
static void vm_finish(struct sim *s, struct svm *v)
{
    v->done = true;
    v->end_ns = v->clock_ns;
    struct guest_op g = {.op = GUEST_OP_DESTROY_POOL, .pool = (uint8_t)v->pool};
    int32_t rc = guest_exec(s->node[v->node].hv, v->cfg->id, &g, NULL, 0, 0);
    if (rc < 0)
        violation(s, "node %u VM %u: its pool cannot be destroyed (%d)", v->node, v->cfg->id,
                  rc);
}

/* Page gpn leaves RAM: into tmem, or to disk when the put fails. */
static void evict(struct sim *s, struct svm *v, uint64_t gpn)
{
    gw_content_fill(s->page_buf, s->cfg.page_size, writer_of(v), gpn, v->version[gpn]);
    int32_t rc = vm_op(s, v, GUEST_OP_PUT, gpn);
    v->puts++;
    if (rc == 0 || rc == 1) {
        v->where[gpn] = PG_TMEM;
        v->clock_ns += rc ? s->cost.remote : s->cost.local;
    } else if (rc == HVX_ENOMEM) {
        v->failed_puts++;
        v->period_failed++;
        v->where[gpn] = PG_DISK;
        v->clock_ns += s->cost.disk;
    } else {
        violation(s, "node %u VM %u page %" PRIu64 ": put failed with %d (no fault runs)",
                  v->node, v->cfg->id, gpn, rc);
    }
}

/* Page gpn comes back from tmem: got, verified, flushed. */
static void load(struct sim *s, struct svm *v, uint64_t gpn)
{
    uint32_t ps = s->cfg.page_size, me = writer_of(v);
    int32_t rc = vm_op(s, v, GUEST_OP_GET, gpn);
    if (rc != 0 && rc != 1) {
        violation(s, "node %u VM %u page %" PRIu64 ": get of a page it put failed with %d "
                  "(its data is lost)", v->node, v->cfg->id, gpn, rc);
        return;
    }
    long at = gw_content_check(s->page_buf, ps, me, gpn, v->version[gpn]);
    if (at >= 0) {
        uint32_t writer, wversion;
        uint64_t wpage;
        gw_content_writer(s->page_buf, &writer, &wpage, &wversion);
        if (writer != me) /* the first rule of a memory system */
            violation(s, "I7: node %u VM %u page %" PRIu64 " read data it did not write "
                      "(written by node %u VM %u)", v->node, v->cfg->id, gpn, writer >> 16,
                      writer & 0xffffu);
        else
            violation(s, "I4: node %u VM %u page %" PRIu64 ": get returned other data than "
                      "it put (expected version %u, got page %" PRIu64 " version %u, first "
                      "difference at byte %ld)", v->node, v->cfg->id, gpn, v->version[gpn],
                      wpage, wversion, at);
        return;
    }
    s->stat_gets_ok++;
    if (rc)
        v->gets_remote++;
    else
        v->gets_local++;
    v->clock_ns += rc ? s->cost.remote : s->cost.local;
    rc = vm_op(s, v, GUEST_OP_FLUSH_PAGE, gpn);
    if (rc < 0)
        violation(s, "node %u VM %u page %" PRIu64 ": flush after its get failed with %d",
                  v->node, v->cfg->id, gpn, rc);
}

/* A free frame, or one CLOCK frees (evicting its page). */
static uint64_t take_frame(struct sim *s, struct svm *v)
{
    if (v->used < v->ram)
        return v->used++;
    for (;;) {
        uint64_t f = v->hand;
        v->hand = (v->hand + 1) % v->ram;
        if (v->ref[f]) {
            v->ref[f] = 0;
            continue;
        }
        evict(s, v, v->frame_page[f]);
        return f;
    }
}

static void access_page(struct sim *s, struct svm *v, uint64_t gpn, bool write)
{
    v->accesses++;
    if (v->where[gpn] == PG_RAM) {
        v->ref[v->frame_of[gpn]] = 1;
        v->clock_ns += s->cost.cpu;
    } else {
        uint64_t f = take_frame(s, v);
        switch (v->where[gpn]) {
        case PG_TMEM: load(s, v, gpn); break;
        case PG_DISK:
            v->gets_disk++;
            v->clock_ns += s->cost.disk;
            break;
        default: v->clock_ns += s->cost.cpu; break; /* first touch */
        }
        v->where[gpn] = PG_RAM;
        v->frame_of[gpn] = (uint32_t)f;
        v->frame_page[f] = gpn;
        v->ref[f] = 1;
    }
    if (write)
        v->version[gpn]++;
}

/* A demand change: the working set moved by more than 10 % since the last. */
static void track_demand(struct svm *v)
{
    uint64_t ws = wl_working_set(v->w);
    if (10 * ws <= 11 * v->ref_ws && 10 * ws >= 9 * v->ref_ws)
        return;
    v->ref_ws = ws;
    if (grow((void **)&v->changes, &v->cap_changes, v->n_changes, sizeof *v->changes))
        v->changes[v->n_changes++] = v->clock_ns;
}

void svms_advance(struct sim *s, int64_t until_ms)
{
    int64_t until = until_ms * 1000000;
    for (size_t k = 0; k < s->n_svm && !s->failed; k++) {
        struct svm *v = &s->svm[(k + s->svm_turn) % s->n_svm];
        if (v->done || v->start_ns >= until)
            continue;
        if (!v->started)
            vm_start(s, v);
        while (v->clock_ns < until && !s->failed) {
            uint64_t page;
            bool write;
            if (!wl_next(v->w, &page, &write)) {
                vm_finish(s, v);
                break;
            }
            if (page >= v->fp) {
                violation(s, "node %u VM %u: its workload touched page %" PRIu64
                          " beyond its footprint %" PRIu64, v->node, v->cfg->id, page, v->fp);
                break;
            }
            access_page(s, v, page, write);
            track_demand(v);
        }
    }
    s->svm_turn++;
}

bool svms_done(const struct sim *s)
{
    for (size_t i = 0; i < s->n_svm; i++)
        if (!s->svm[i].done)
            return false;
    return true;
}

void svms_sample(struct sim *s, FILE *series)
{
    struct hvx_vm_stats st[HVX_MAX_CLIENTS];
    for (unsigned i = 1; i <= s->n; i++) {
        struct hvx_node_stats ns;
        size_t got = 0;
        bool have = false;
        for (size_t k = 0; k < s->n_svm && !s->failed; k++) {
            struct svm *v = &s->svm[k];
            if (v->node != i || !v->started || v->done)
                continue;
            if (!have) {
                hvx_stats(s->node[i].hv, &ns, NULL, 0, NULL, 0, st, HVX_MAX_CLIENTS, false);
                got = ns.n_vms;
                have = true;
            }
            struct svm_sample smp = {.t_ms = s->now, .ws = wl_working_set(v->w),
                                     .failed = v->period_failed, .target = -1};
            for (size_t j = 0; j < got; j++)
                if (st[j].vm == v->cfg->id) {
                    smp.tmem = st[j].tmem_used;
                    smp.target = st[j].mm_target == UINT64_MAX ? -1 : (int64_t)st[j].mm_target;
                }
            v->period_failed = 0;
            if (grow((void **)&v->samples, &v->cap_samples, v->n_samples, sizeof *v->samples))
                v->samples[v->n_samples++] = smp;
            if (series)
                fprintf(series, "%.3f\t%s\t%u\t%" PRIu64 "\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64
                        "\n", (double)s->now / 1000.0, s->cfg.nodes[i - 1].name, v->cfg->id,
                        smp.tmem, smp.target, smp.ws, smp.failed);
        }
    }
}

/* The mean over v's demand changes of the time until its tmem pages stay
 * within 10 % of where they settle before the next change, or until its
 * puts stop failing (whichever comes first), from the period samples; a
 * change with no sample before the next one is not counted. -1: none. */
double svm_converge_s(const struct svm *v)
{
    double sum = 0;
    unsigned counted = 0;
    size_t k = 0;
    for (size_t c = 0; c < v->n_changes; c++) {
        int64_t from = v->changes[c];
        int64_t to = c + 1 < v->n_changes ? v->changes[c + 1] : INT64_MAX;
        while (k < v->n_samples && v->samples[k].t_ms * 1000000 < from)
            k++;
        size_t last = k;
        while (last < v->n_samples && v->samples[last].t_ms * 1000000 < to)
            last++;
        if (last == k)
            continue;
        uint64_t settle = v->samples[last - 1].tmem;
        size_t stay = last - 1, calm = last; /* earliest sample from which each holds */
        while (stay > k) {
            uint64_t x = v->samples[stay - 1].tmem, d = x > settle ? x - settle : settle - x;
            if (10 * d > settle)
                break;
            stay--;
        }
        while (calm > k && v->samples[calm - 1].failed == 0)
            calm--;
        size_t at = calm < stay ? calm : stay;
        sum += (double)(v->samples[at].t_ms * 1000000 - from) / 1e9;
        counted++;
    }
    return counted ? sum / counted : -1;
}
