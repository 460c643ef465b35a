/* The TKM dispatcher of a node's hypervisor; see hv_tkm.h. Every call is
 * checked before it has any effect: a refused call changes nothing. */
#include "hv_tkm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"

struct hv_tkm {
    struct hvx *hvx;
    uint32_t self;
    uint32_t *nodes;
    size_t n_nodes, max_blocks, max_vms;
    struct hv_tkm_env env;
    struct hv_tkm_answers out;
    void *out_arg;
    uint64_t period;
    /* call scratch */
    struct hvx_block *hb;
    struct vmca_block *vb;
    enum hvx_grant_result *hres;
    int *results;
    char err[256];
    /* sample scratch */
    struct hvx_home_pages *h_owned, *h_lent;
    struct hvx_vm_stats *h_vms;
    struct tkm_pages *owned, *lent;
    struct tkm_vm *vms;
    uint32_t *failed;
};

struct hv_tkm *hv_tkm_new(struct hvx *h, const struct hv_tkm_params *p,
                          const struct hv_tkm_env *env, const struct hv_tkm_answers *out,
                          void *out_arg)
{
    struct hv_tkm *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = (struct hv_tkm){.hvx = h, .self = p->self, .n_nodes = p->n_nodes,
                         .max_blocks = p->max_blocks, .max_vms = p->max_vms, .env = *env,
                         .out = *out, .out_arg = out_arg, .period = 1};
    size_t nb = p->max_blocks ? p->max_blocks : 1, nn = p->n_nodes ? p->n_nodes : 1;
    size_t nv = p->max_vms ? p->max_vms : 1;
    d->nodes = calloc(nn, sizeof *d->nodes);
    d->hb = calloc(nb, sizeof *d->hb);
    d->vb = calloc(nb, sizeof *d->vb);
    d->hres = calloc(nb, sizeof *d->hres);
    d->results = calloc(nb, sizeof *d->results);
    d->h_owned = calloc(nn, sizeof *d->h_owned);
    d->h_lent = calloc(nn, sizeof *d->h_lent);
    d->h_vms = calloc(nv, sizeof *d->h_vms);
    d->owned = calloc(nn, sizeof *d->owned);
    d->lent = calloc(nn, sizeof *d->lent);
    d->vms = calloc(nv, sizeof *d->vms);
    d->failed = calloc(nv, sizeof *d->failed);
    if (!d->failed || !d->nodes || !d->hb || !d->vb || !d->hres || !d->results || !d->h_owned ||
        !d->h_lent || !d->h_vms || !d->owned || !d->lent || !d->vms) {
        hv_tkm_free(d);
        return NULL;
    }
    for (size_t i = 0; i < p->n_nodes; i++)
        d->nodes[i] = p->nodes[i];
    return d;
}

void hv_tkm_free(struct hv_tkm *d)
{
    if (!d)
        return;
    free(d->nodes);
    free(d->hb);
    free(d->vb);
    free(d->hres);
    free(d->results);
    free(d->h_owned);
    free(d->h_lent);
    free(d->h_vms);
    free(d->owned);
    free(d->lent);
    free(d->vms);
    free(d->failed);
    free(d);
}

struct tkm_backend hv_tkm_backend(struct hv_tkm *d)
{
    return (struct tkm_backend){&hv_tkm_ops, d};
}

static bool node_known(const struct hv_tkm *d, uint32_t id)
{
    for (size_t i = 0; i < d->n_nodes; i++)
        if (d->nodes[i] == id)
            return true;
    return false;
}

static void refuse(struct hv_tkm *d, struct tkm_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct hv_tkm *d, struct tkm_reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    r->status = status;
    r->error = d->err;
}

/* Whether `node` is another node of the cluster (not this one); else the
 * call is refused. */
static bool other_node(struct hv_tkm *d, struct tkm_reply *r, const char *call, uint32_t node)
{
    if (node != d->self && node_known(d, node))
        return true;
    refuse(d, r, HVX_EINVAL, "%s: node %u is not another node of the cluster", call, node);
    return false;
}

static int answer(struct hv_tkm *d, const struct tkm_reply *r)
{
    if (d->out.reply)
        d->out.reply(d->out_arg, r);
    return VMCA_OK;
}

static void to_hvx(struct hv_tkm *d, const struct vmca_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d->hb[i] = (struct hvx_block){b[i].gfn, b[i].order > 63 ? 63 : b[i].order,
                                      b[i].generation};
}

/* The reply's blocks: the first n of d->hb, with their page count. */
static void reply_blocks(struct hv_tkm *d, struct tkm_reply *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d->vb[i] = (struct vmca_block){d->hb[i].gfn, d->hb[i].order, d->hb[i].generation};
    r->blocks = d->vb;
    r->n_blocks = n;
}

static uint64_t pages_of(const struct hvx_block *b, size_t n)
{
    uint64_t pages = 0;
    for (size_t i = 0; i < n; i++)
        pages += UINT64_C(1) << b[i].order;
    return pages;
}

static int op_stats_now(void *be, uint64_t id)
{
    struct hv_tkm *d = be;
    answer(d, &(struct tkm_reply){.id = id});
    struct tkm_hv_stats st;
    hv_tkm_sample(d, false, &st);
    if (d->out.sample)
        d->out.sample(d->out_arg, &st);
    return VMCA_OK;
}

static int op_mem_limit(void *be, uint64_t id, const struct vm_target *t, size_t n)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    for (size_t i = 0; i < n && r.status == 0; i++)
        if (!hvx_client_known(d->hvx, t[i].vm))
            refuse(d, &r, HVX_ENOENT, "mem-limit: no VM %u", t[i].vm);
    if (r.status == 0)
        for (size_t i = 0; i < n; i++)
            hvx_set_target(d->hvx, t[i].vm, t[i].pages);
    return answer(d, &r);
}

static int op_grant(void *be, uint64_t id, uint32_t from, const struct vmca_block *blocks,
                    size_t n)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (n > d->max_blocks) {
        refuse(d, &r, HVX_EINVAL, "grant: more than %zu blocks", d->max_blocks);
        return answer(d, &r);
    }
    to_hvx(d, blocks, n);
    int64_t got = hvx_grant(d->hvx, from, d->hb, n, d->hres);
    if (got < 0) {
        refuse(d, &r, (int)got, "grant: out of memory for metadata");
        return answer(d, &r);
    }
    for (size_t i = 0; i < n; i++)
        d->results[i] = (int)d->hres[i];
    r.results = d->results;
    r.n_results = n;
    /* The blocks with their results: bounced ones go back to their home,
     * and the memory manager needs them for that. */
    reply_blocks(d, &r, n);
    r.pages = (uint64_t)got;
    vmca_log_to(d->env.log, d->env.arg, VMCA_LOG_DEBUG,
                "grant from node %u: %llu pages accepted of %zu blocks", from,
                (unsigned long long)got, n);
    return answer(d, &r);
}

/* Free pages out of this node for `node`: a Request (for a receiver, any
 * home's, closest first) or a Surplus (the node's own pages back to it). A
 * fenced node was declared failed: its claims are being recovered
 * elsewhere, so it gives nothing away. */
static int give_free(void *be, uint64_t id, uint32_t node, uint64_t pages, bool surplus)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (!other_node(d, &r, surplus ? "surplus" : "request", node))
        return answer(d, &r);
    size_t n = 0;
    if (!d->env.fenced(d->env.arg))
        r.pages = surplus ? hvx_give_home(d->hvx, node, pages, d->hb, d->max_blocks, &n)
                          : hvx_request(d->hvx, pages, node, d->hb, d->max_blocks, &n);
    reply_blocks(d, &r, n);
    vmca_log_to(d->env.log, d->env.arg, VMCA_LOG_DEBUG,
                "%s node %u: gave %llu of %llu pages in %zu blocks",
                surplus ? "surplus to" : "request for", node, (unsigned long long)r.pages,
                (unsigned long long)pages, n);
    return answer(d, &r);
}

static int op_request(void *be, uint64_t id, uint32_t to, uint64_t pages)
{
    return give_free(be, id, to, pages, false);
}

static int op_give_surplus(void *be, uint64_t id, uint32_t home, uint64_t pages)
{
    return give_free(be, id, home, pages, true);
}

static int op_give_back(void *be, uint64_t id, uint32_t home, uint32_t max_migrate)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (!other_node(d, &r, "return", home))
        return answer(d, &r);
    size_t n = 0;
    int rc = hvx_return(d->hvx, home, max_migrate ? max_migrate : 256, d->hb, d->max_blocks,
                        &n);
    reply_blocks(d, &r, n);
    r.pages = pages_of(d->hb, n);
    r.done = rc == HVX_OK;
    r.status = rc == HVX_EBUSY ? 0 : rc;
    return answer(d, &r);
}

static int op_invalidate(void *be, uint64_t id, uint32_t home)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (!other_node(d, &r, "invalidate", home))
        return answer(d, &r);
    r.pages = hvx_invalidate(d->hvx, home);
    d->env.forget(d->env.arg, home); /* its next life maps afresh */
    vmca_log_to(d->env.log, d->env.arg, VMCA_LOG_INFO, "invalidated node %u: %llu pages dropped",
                home, (unsigned long long)r.pages);
    return answer(d, &r);
}

struct owned_acc {
    struct hvx_block *out;
    size_t n, cap;
};

static int owned_cb(void *arg, struct hvx_block b)
{
    struct owned_acc *a = arg;
    if (a->n == a->cap)
        return 1;
    a->out[a->n++] = b;
    return 0;
}

static int op_owned(void *be, uint64_t id, uint32_t home)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (!node_known(d, home)) {
        refuse(d, &r, HVX_EINVAL, "owned: no node %u", home);
        return answer(d, &r);
    }
    struct owned_acc acc = {d->hb, 0, d->max_blocks};
    hvx_owned_blocks(d->hvx, home, owned_cb, &acc);
    reply_blocks(d, &r, acc.n);
    r.pages = pages_of(d->hb, acc.n);
    r.done = acc.n < acc.cap;
    return answer(d, &r);
}

static int op_reclaim(void *be, uint64_t id, const struct vmca_block *held, size_t n_held,
                      const uint32_t *owners, size_t n_owners)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (n_held > d->max_blocks || n_owners != n_held) {
        refuse(d, &r, HVX_EINVAL, "reclaim: %zu blocks and %zu owners (at most %zu, one owner each)",
               n_held, n_owners, d->max_blocks);
        return answer(d, &r);
    }
    to_hvx(d, held, n_held);
    int64_t got = hvx_reclaim(d->hvx, d->hb, owners, n_held);
    if (got < 0) {
        refuse(d, &r, (int)got, "reclaim: the census does not fit this node's ownership");
        return answer(d, &r);
    }
    r.pages = (uint64_t)got;
    vmca_log_to(d->env.log, d->env.arg, VMCA_LOG_INFO,
                "census: %llu pages of this node taken back, %zu blocks held by others",
                (unsigned long long)got, n_held);
    return answer(d, &r);
}

static int op_enable(void *be, uint64_t id, uint32_t home, bool enable)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (home == d->self) {
        /* This node's own memory: open or close it to remote access. */
        d->env.set_remote(d->env.arg, enable);
        vmca_log_to(d->env.log, d->env.arg, VMCA_LOG_INFO, "memory %s to remote access",
                    enable ? "open" : "closed");
    } else if (!node_known(d, home) || hvx_enable(d->hvx, home, enable) != HVX_OK) {
        refuse(d, &r, HVX_EINVAL, "enable: cannot change node %u", home);
    }
    return answer(d, &r);
}

static int op_freeze(void *be, uint64_t id, uint32_t home, bool frozen)
{
    struct hv_tkm *d = be;
    struct tkm_reply r = {.id = id};
    if (hvx_freeze(d->hvx, home, frozen) != HVX_OK)
        refuse(d, &r, HVX_EINVAL, "freeze: no node %u", home);
    return answer(d, &r);
}

const struct tkm_ops hv_tkm_ops = {
    .stats_now = op_stats_now,
    .mem_limit = op_mem_limit,
    .grant = op_grant,
    .request = op_request,
    .give_back = op_give_back,
    .give_surplus = op_give_surplus,
    .invalidate = op_invalidate,
    .owned = op_owned,
    .reclaim = op_reclaim,
    .enable = op_enable,
    .freeze = op_freeze,
};

void hv_tkm_sample(struct hv_tkm *d, bool period_end, struct tkm_hv_stats *out)
{
    if (period_end)
        d->period++;
    struct hvx_node_stats st;
    hvx_stats(d->hvx, &st, d->h_owned, d->n_nodes, d->h_lent, d->n_nodes, d->h_vms,
              d->max_vms, period_end);
    for (size_t i = 0; i < st.n_homes; i++)
        d->owned[i] = (struct tkm_pages){d->h_owned[i].node, d->h_owned[i].pages};
    for (size_t i = 0; i < st.n_lent; i++)
        d->lent[i] = (struct tkm_pages){d->h_lent[i].node, d->h_lent[i].pages};
    size_t n_failed = 0;
    for (size_t i = 0; i < st.n_vms; i++) {
        const struct hvx_vm_stats *v = &d->h_vms[i];
        d->vms[i] = (struct tkm_vm){v->vm, v->tmem_used, v->mm_target, v->puts_total,
                                    v->puts_succ, v->gets_total, v->flushes,
                                    v->puts_evicting};
        if (v->failed)
            d->failed[n_failed++] = v->vm;
    }
    *out = (struct tkm_hv_stats){
        .sample = {
            .generation = d->env.generation(d->env.arg),
            .fenced = d->env.fenced(d->env.arg),
            .total_pages = st.owned_pages, .free_pages = st.free_pages,
            .owned = d->owned, .n_owned = st.n_homes, .lent = d->lent, .n_lent = st.n_lent,
            .vms = d->vms, .n_vms = st.n_vms, .period = d->period,
        },
        .used_pages = st.used_pages, .metadata_bytes = st.metadata_bytes,
        .failed_vms = d->failed, .n_failed_vms = n_failed,
    };
}

void hv_tkm_manager_gone(struct hv_tkm *d)
{
    for (size_t i = 0; i < d->n_nodes; i++)
        hvx_freeze(d->hvx, d->nodes[i], false);
}
