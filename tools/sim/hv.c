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

/* ---- the TKM dispatcher's environment, as the fabric is to vmca-hv ---- */

static bool env_fenced(void *arg)
{
    struct sim_node *n = arg;
    return n->sim->fenced[n->id];
}

static uint64_t env_own_generation(void *arg)
{
    return ((struct sim_node *)arg)->gen;
}

static void env_set_remote(void *arg, bool open)
{
    struct sim_node *n = arg;
    if (n->remote_on && !open)
        replica_failure(n->sim, n->id); /* copies others keep here are out of reach */
    n->remote_on = open;
}

static void env_forget_mapping(void *arg, uint32_t home)
{
    struct sim_node *n = arg;
    if (home <= n->sim->n)
        n->mapped[home] = 0;
}

static void hv_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim_node *n = arg;
    (void)level;
    if (n->sim->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [hv %u] %s\n", n->sim->now, n->id, msg);
}

/* The dispatcher's answer to the call being made: to the slave core. A
 * refused census reclaim means the census disagreed with the ownership. */
static void on_hv_reply(void *arg, const struct tkm_reply *r)
{
    struct sim_node *n = arg;
    if (n->calling == TKM_CALL_RECLAIM && r->status != 0)
        violation(n->sim, "node %u: census reclaim refused (%d): the census disagrees "
                  "with its ownership", n->id, r->status);
    slave_core_on_hv_reply(&n->sc, r, n->sim->now);
}

static void on_hv_sample(void *arg, const struct tkm_hv_stats *st)
{
    struct sim_node *n = arg;
    slave_core_on_hv_stats(&n->sc, &st->sample);
}

/* Makes a slave's hypercalls through backend inproc: what vmca-hv runs. */
void run_hcalls(struct sim *s, struct sim_node *n)
{
    for (;;) {
        size_t cnt;
        struct tkm_call *hc = slave_core_take_hcalls(&n->sc, &cnt);
        if (!cnt)
            return;
        for (size_t i = 0; i < cnt && n->core_live; i++) {
            n->calling = hc[i].kind;
            struct tkm_backend b = hv_tkm_backend(n->tkm);
            /* As vmca-slave's TKM channel answers with its hypervisor gone:
             * the call failed (EIO), nothing was done. */
            if (!n->hv || tkm_call_apply(&b, &hc[i]) != VMCA_OK) {
                struct tkm_reply r = {.id = hc[i].id, .status = -5};
                slave_core_on_hv_reply(&n->sc, &r, s->now);
            }
        }
    }
}

/* A statistics push, as vmca-hv makes them: at the end of a period (its
 * counters reset), or of the same period when a memory manager or a VM
 * connects. */
void hv_stats(struct sim *s, struct sim_node *n, bool period_end)
{
    if (!n->hv)
        return; /* crashed: it says nothing */
    if (period_end && s->persistent)
        replica_repair(s, n); /* as vmca-hv, each period (nothing to do without replicas) */
    struct tkm_hv_stats st;
    hv_tkm_sample(n->tkm, period_end, &st);
    slave_core_on_hv_stats(&n->sc, &st.sample);
}

/* The node's hypervisor starts: a new memory generation, all its own. */
void hv_boot(struct sim *s, struct sim_node *n)
{
    struct hvx_home homes[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++) { /* as vmca-hv builds them */
        const struct vmca_node_cfg *nc = &s->cfg.nodes[i];
        homes[i] = (struct hvx_home){.id = nc->id, .pages = nc->tmem_pages};
        homes[i].location_len = nc->location_len > HVX_LOCATION_MAX ? HVX_LOCATION_MAX
                                                                    : nc->location_len;
        memcpy(homes[i].location, nc->location, homes[i].location_len * sizeof(uint32_t));
    }
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
    uint32_t ids[SIM_MAX_NODES];
    for (unsigned i = 0; i < s->n; i++)
        ids[i] = s->cfg.nodes[i].id;
    struct hv_tkm_params tp = {.self = n->id, .nodes = ids, .n_nodes = s->n,
                               .max_blocks = TKM_MAX_BLOCKS, .max_vms = HVX_MAX_CLIENTS};
    struct hv_tkm_env tenv = {n, env_fenced, env_own_generation, env_set_remote,
                              env_forget_mapping, hv_log};
    struct hv_tkm_answers answers = {on_hv_reply, on_hv_sample};
    n->tkm = hv_tkm_new(n->hv, &tp, &tenv, &answers, n);
    guests_boot(s, n);
    n->census_from = n->settled = s->failures; /* fresh memory: all its own */
}

/* The hypervisor and its memory are gone. */
void hv_gone(struct sim_node *n)
{
    n->hv_stopped = false;
    hv_tkm_free(n->tkm);
    n->tkm = NULL;
    hvx_destroy(n->hv);
    n->hv = NULL;
}
