/* Each node's hypervisor side: libhvx over the simulated global address
 * space (every home's memory, faults as the fabric gives them), the
 * hypercalls a slave asks for, and the statistics samples. */
#include "sim.h"

/* ---- libhvx environment: memory of every home, faults like the fabric ---- */

static void *env_alloc(void *arg, size_t n) { return calloc(1, n); }
static void env_free(void *arg, void *p, size_t n) { free(p); }

/* The home's memory as `me` may reach it, as the fabric decides, or NULL. */
static struct sim_node *reach_home(struct sim_node *me, uint32_t home, int *fault)
{
    struct sim *s = me->sim;
    struct sim_node *h = home >= 1 && home <= s->n ? &s->node[home] : NULL;
    *fault = -1;
    if (!h || !h->up || !h->hv || (home != me->id && (s->fenced[me->id] || !h->remote_on)))
        return NULL;
    if (home != me->id) {
        if (!me->mapped[home])
            me->mapped[home] = h->gen;
        else if (me->mapped[home] != h->gen)
            return NULL; /* the home restarted: stale until invalidated */
    }
    *fault = 0;
    return h;
}

static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    struct sim_node *h = reach_home(arg, vmca_gfn_home(gfn), fault);
    return h ? h->mem + vmca_gfn_index(gfn) * h->sim->cfg.page_size : NULL;
}

static void env_forget(void *arg, uint32_t home)
{
    struct sim_node *me = arg;
    if (home >= 1 && home <= me->sim->n && me->mapped[home] != me->sim->node[home].gen)
        me->mapped[home] = 0; /* the next access maps the current memory */
}

static uint32_t *env_owners(void *arg, uint32_t home, int *fault)
{
    struct sim_node *h = reach_home(arg, home, fault);
    return h ? h->owners : NULL;
}

static uint32_t env_claim_epoch(void *arg, uint32_t node)
{
    struct sim_node *me = arg;
    return node >= 1 && node <= me->sim->n ? me->sim->node[node].claim_epoch : 0;
}

static uint64_t env_generation(void *arg, uint32_t home)
{
    struct sim_node *me = arg;
    return home >= 1 && home <= me->sim->n ? me->sim->node[home].gen : 0;
}

static int owned_cb(void *arg, struct hvx_block b)
{
    struct tkm_reply *r = arg;
    struct vmca_block *v = (struct vmca_block *)r->blocks;
    v[r->n_blocks++] = (struct vmca_block){b.gfn, b.order, b.generation};
    return r->n_blocks == 4096;
}

/* Carries out a slave's hypercalls against its libhvx, as vmca-hv would. */
void run_hcalls(struct sim *s, struct sim_node *n)
{
    static struct hvx_block hb[4096];
    static struct vmca_block vb[4096];
    static enum hvx_grant_result gr[4096];
    static int res[4096];
    for (;;) {
        size_t cnt;
        struct tkm_call *hc = slave_core_take_hcalls(&n->sc, &cnt);
        if (!cnt) {
            free(hc);
            return;
        }
        for (size_t i = 0; i < cnt && n->core_live; i++) {
            struct tkm_reply r = {.id = hc[i].id, .blocks = vb};
            if (!n->hv) {
                /* As vmca-slave's TKM channel answers with its hypervisor
                 * gone: the call failed (EIO), nothing was done. */
                r.status = -5;
                slave_core_on_hv_reply(&n->sc, &r, s->now);
                continue;
            }
            size_t nb = hc[i].n_blocks < 4096 ? hc[i].n_blocks : 4096;
            for (size_t b = 0; b < nb; b++)
                hb[b] = (struct hvx_block){hc[i].blocks[b].gfn, hc[i].blocks[b].order,
                                           hc[i].blocks[b].generation};
            switch (hc[i].kind) {
            case TKM_CALL_REQUEST:
                if (s->fenced[n->id])
                    break; /* as vmca-hv: a fenced node gives nothing away */
                r.pages = hvx_request(n->hv, hc[i].pages, hc[i].node, hb, 4096, &r.n_blocks);
                for (size_t b = 0; b < r.n_blocks; b++)
                    vb[b] = (struct vmca_block){hb[b].gfn, hb[b].order, hb[b].generation};
                break;
            case TKM_CALL_GRANT: {
                int64_t got = hvx_grant(n->hv, hc[i].node, hb, nb, gr);
                if (got < 0) {
                    r.status = (int)got;
                    break;
                }
                r.pages = (uint64_t)got;
                for (size_t b = 0; b < nb; b++) {
                    vb[b] = hc[i].blocks[b];
                    res[b] = (int)gr[b];
                }
                r.n_blocks = nb;
                r.results = res;
                r.n_results = nb;
                break;
            }
            case TKM_CALL_ENABLE:
                if (hc[i].node == n->id)
                    n->remote_on = hc[i].enable;
                else
                    r.status = hvx_enable(n->hv, hc[i].node, hc[i].enable);
                break;
            case TKM_CALL_RETURN: {
                int rc = hvx_return(n->hv, hc[i].node, (unsigned)hc[i].pages, hb, 4096,
                                    &r.n_blocks);
                for (size_t b = 0; b < r.n_blocks; b++)
                    vb[b] = (struct vmca_block){hb[b].gfn, hb[b].order, hb[b].generation};
                r.done = rc == HVX_OK;
                r.status = rc == HVX_EBUSY ? 0 : rc;
                break;
            }
            case TKM_CALL_INVALIDATE:
                r.pages = hvx_invalidate(n->hv, hc[i].node);
                if (hc[i].node <= s->n)
                    n->mapped[hc[i].node] = 0;
                break;
            case TKM_CALL_OWNED:
                hvx_owned_blocks(n->hv, hc[i].node, owned_cb, &r);
                break;
            case TKM_CALL_FREEZE:
                r.status = hvx_freeze(n->hv, hc[i].node, hc[i].enable);
                break;
            case TKM_CALL_MEM_LIMIT:
                for (size_t k = 0; k < hc[i].n_targets; k++)
                    hvx_set_target(n->hv, hc[i].targets[k].vm, hc[i].targets[k].pages);
                break;
            case TKM_CALL_RECLAIM: {
                int64_t got = hvx_reclaim(n->hv, hb, hc[i].owners, hc[i].owners ? nb : 0);
                if (got < 0)
                    violation(s, "node %u: census reclaim refused (%d): the census disagrees "
                              "with its ownership", n->id, (int)got);
                r.pages = got < 0 ? 0 : (uint64_t)got;
                break;
            }
            }
            slave_core_on_hv_reply(&n->sc, &r, s->now);
        }
        tkm_calls_free(hc, cnt);
    }
}

/* ---- node and master life ---- */

/* A statistics push, as vmca-hv makes them: at the end of a period (its
 * counters reset), or of the same period when a memory manager or a VM
 * connects. */
void hv_stats(struct sim *s, struct sim_node *n, bool period_end)
{
    struct hvx_node_stats st;
    struct hvx_home_pages owned[SIM_MAX_NODES + 1], lent[SIM_MAX_NODES + 1];
    struct hvx_vm_stats vms[4];
    if (!n->hv)
        return; /* crashed: it says nothing */
    if (period_end)
        n->period++;
    hvx_stats(n->hv, &st, owned, SIM_MAX_NODES + 1, lent, SIM_MAX_NODES + 1, vms, 4,
              period_end);
    struct tkm_pages o[SIM_MAX_NODES + 1], l[SIM_MAX_NODES + 1];
    struct tkm_vm v[4];
    for (size_t i = 0; i < st.n_homes; i++)
        o[i] = (struct tkm_pages){owned[i].node, owned[i].pages};
    for (size_t i = 0; i < st.n_lent; i++)
        l[i] = (struct tkm_pages){lent[i].node, lent[i].pages};
    for (size_t i = 0; i < st.n_vms; i++)
        v[i] = (struct tkm_vm){vms[i].vm, vms[i].tmem_used, vms[i].mm_target,
                                 vms[i].puts_total, vms[i].puts_succ, vms[i].gets_total,
                                 vms[i].flushes};
    struct tkm_sample sample = {n->gen, s->fenced[n->id], st.owned_pages, st.free_pages,
                                     o, st.n_homes, l, st.n_lent, v, st.n_vms, n->period};
    slave_core_on_hv_stats(&n->sc, &sample);
}

/* The node's hypervisor starts: a new memory generation, all its own. */
void hv_boot(struct sim *s, struct sim_node *n)
{
    struct hvx_home homes[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++)
        homes[i] = (struct hvx_home){.id = s->cfg.nodes[i].id,
                                     .pages = s->cfg.nodes[i].tmem_pages,
                                     .location = {s->cfg.nodes[i].location[0],
                                                  s->cfg.nodes[i].location[1]},
                                     .location_len = 2};
    n->gen++;
    n->claim_epoch++;
    n->remote_on = false;
    memset(n->mem, 0, s->cfg.nodes[n->id - 1].tmem_pages * s->cfg.page_size);
    memset(n->owners, 0, s->cfg.nodes[n->id - 1].tmem_pages * sizeof *n->owners);
    memset(n->mapped, 0, sizeof n->mapped);
    struct hvx_params p = {.self = n->id, .page_size = s->cfg.page_size, .homes = homes,
                           .n_homes = s->n};
    struct hvx_env env = {env_alloc, env_free, env_page, env_generation, n, env_owners,
                          env_claim_epoch, env_forget};
    n->hv = hvx_new(&p, &env);
    guests_boot(s, n);
    n->period = 1;
    n->census_from = n->settled = s->failures; /* fresh memory: all its own */
}

/* The hypervisor and its memory are gone. */
void hv_gone(struct sim_node *n)
{
    n->hv_stopped = false;
    hvx_destroy(n->hv);
    n->hv = NULL;
}
