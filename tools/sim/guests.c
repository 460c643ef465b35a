/* Simulated guests: each node's VMs put, get and flush pages through the
 * same guest ops vmca-hv executes (hv-ext/emu/guest_exec.h), with the page
 * content of vmca-guest (tools/guest_workload.h) naming the writer, so
 * every read is checked: I4 (no stale read) and I7 (no foreign read). The
 * access pattern is the simulator's own seeded choice of key and op. A VM
 * with replicas = 2 in the configuration uses a persistent pool (gets keep
 * the page) and is checked for P1 (sim.h). */
#include "guest_exec.h"
#include "guest_workload.h"
#include "sim.h"

/* The writer id in a page's content: unique across the cluster. */
static uint32_t writer_of(const struct sim_node *n, unsigned vi)
{
    return n->id * SIM_MAX_VMS + vi;
}

static int32_t exec(struct sim *s, struct sim_node *n, unsigned vi, uint8_t op, uint32_t key)
{
    struct guest_op g = {.op = op, .pool = (uint8_t)n->pool[vi], .index = key, .oid = 0,
                         .slot = 0};
    return guest_exec(n->hv, vi + 1, &g, s->page_buf, 1, s->cfg.page_size);
}

static void vm_start(struct sim *s, struct sim_node *n, unsigned vi)
{
    unsigned copies = vmca_config_replicas(&s->cfg, &s->cfg.nodes[n->id - 1], vi + 1);
    n->replicated[vi] = copies == 2;
    s->persistent |= n->replicated[vi];
    n->rep_failed[vi] = 0;
    struct guest_op g = {.op = GUEST_OP_NEW_POOL,
                         .pool = n->replicated[vi] ? HVX_POOL_PERSISTENT : HVX_POOL_EPHEMERAL};
    hvx_client_new(n->hv, vi + 1);
    hvx_set_replicas(n->hv, vi + 1, copies);
    n->pool[vi] = guest_exec(n->hv, vi + 1, &g, NULL, 0, 0);
    if (n->pool[vi] < 0 || n->pool[vi] > UINT8_MAX) { /* a pool id fits a guest op */
        fprintf(stderr, "vmca-sim: node %u VM %u: no pool (%d)\n", n->id, vi + 1, n->pool[vi]);
        exit(2);
    }
    (void)s;
    memset(n->version[vi], 0, sizeof n->version[vi]);
}

void guests_boot(struct sim *s, struct sim_node *n)
{
    for (unsigned v = 0; v < s->vms; v++)
        vm_start(s, n, v);
}

void guest_reconnect(struct sim *s, struct sim_node *n, unsigned vi)
{
    hvx_client_destroy(n->hv, vi + 1);
    vm_start(s, n, vi);
    if (n->core_live && !n->slave_stopped) { /* else: a sample at resume */
        hv_stats(s, n, false); /* its hypervisor's sample of the same period */
        drain_slave(s, n);
    }
}

void replica_failure(struct sim *s, uint32_t failed)
{
    for (unsigned i = 1; i <= s->n; i++)
        for (unsigned v = 0; v < s->vms; v++)
            s->node[i].rep_failed[v] |= i == failed ? 1u : UINT32_C(1) << failed;
}

/* Whether node f's failure is over for the holder n: f is back and active,
 * and n holds no claim on an earlier life of f's memory (purged). */
static bool failure_settled(struct sim *s, struct sim_node *n, uint32_t f)
{
    struct sim_node *x = &s->node[f];
    uint64_t pages, gen;
    if (!x->up || x->recovering || x->leaving || x->slave_down || s->fenced[f] ||
        slave_core_state(&x->sc) != VMCA__NODE_STATE__NODE_ACTIVE)
        return false;
    return !hvx_owned_bitmap(n->hv, f, &pages, &gen) || !gen || gen == x->gen;
}

void replica_repair(struct sim *s, struct sim_node *n)
{
    s->stat_repairs += hvx_repair(n->hv, 64);
    struct hvx_node_stats st;
    struct hvx_vm_stats vms[SIM_MAX_VMS];
    hvx_stats(n->hv, &st, NULL, 0, NULL, 0, vms, SIM_MAX_VMS, false);
    uint64_t reps, under;
    hvx_replica_recount(n->hv, &reps, &under);
    if (reps > s->stat_rep_peak)
        s->stat_rep_peak = reps;
    if (reps != st.replica_pages || under != st.under_replicated)
        violation(s, "P1: node %u counts %" PRIu64 " replica pages, %" PRIu64
                  " under-replicated; its records say %" PRIu64 " and %" PRIu64, n->id,
                  st.replica_pages, st.under_replicated, reps, under);
    for (size_t i = 0; i < st.n_vms; i++) {
        unsigned vi = vms[i].vm - 1;
        if (vi >= s->vms || !n->replicated[vi] || vms[i].under_replicated ||
            (n->rep_failed[vi] & 1u))
            continue;
        bool settled = true;
        for (uint32_t f = 1; f <= s->n && settled; f++)
            if (n->rep_failed[vi] & (UINT32_C(1) << f))
                settled = failure_settled(s, n, f);
        if (settled)
            n->rep_failed[vi] = 0; /* two copies of every page again */
    }
}

/* A replicated VM lost a page (rc: EIO, or a miss of a page it holds): a
 * violation unless its own node or two others failed since its last full
 * repair; then it starts again with no data, as a failed VM would. */
static void replica_loss(struct sim *s, struct sim_node *n, unsigned vi, uint32_t key, int rc)
{
    uint32_t others = n->rep_failed[vi] & ~1u;
    if (!(n->rep_failed[vi] & 1u) && (others & (others - 1)) == 0) {
        violation(s, "P1: node %u VM %u key %u: persistent page lost (%d) with %s failed "
                  "since its last repair", n->id, vi + 1, key, rc,
                  others ? "one other node" : "no node");
        return;
    }
    s->stat_rep_losses++;
    trace(s, "node %u VM %u lost replicated data after two failures: starts again", n->id,
          vi + 1);
    guest_reconnect(s, n, vi);
}

void guest_op(struct sim *s, struct sim_node *n)
{
    uint32_t ps = s->cfg.page_size;
    unsigned vi = s->vms > 1 ? (unsigned)(rnd(s) % s->vms) : 0;
    uint32_t vm = vi + 1, *version = n->version[vi], me = writer_of(n, vi);
    uint32_t key = (uint32_t)(rnd(s) % SIM_KEYS);
    unsigned op = (unsigned)(rnd(s) % 10);
    if (op < 6) {
        uint32_t v = version[key] + 1 + (uint32_t)(rnd(s) % 3);
        gw_content_fill(s->page_buf, ps, me, key, v);
        int rc = exec(s, n, vi, GUEST_OP_PUT, key);
        if (rc == HVX_EIO && n->replicated[vi]) {
            replica_loss(s, n, vi, key, rc);
        } else if (rc >= 0) {
            version[key] = v;
            s->stat_puts_ok++;
        } else if (rc == HVX_ENOENT) {
            version[key] = 0; /* an old entry lost with its home: nothing held */
        }
    } else if (op < 9) {
        int rc = exec(s, n, vi, GUEST_OP_GET, key);
        if (n->replicated[vi] && (rc == HVX_EIO || (rc == HVX_ENOENT && version[key]))) {
            replica_loss(s, n, vi, key, rc);
            return;
        }
        if (rc >= 0) {
            if (!version[key]) {
                violation(s, "I4: node %u VM %u key %u: get returned data that was never "
                          "put (or was flushed)", n->id, vm, key);
                return;
            }
            if (gw_content_check(s->page_buf, ps, me, key, version[key]) >= 0) {
                uint32_t writer, wversion;
                uint64_t wkey;
                gw_content_writer(s->page_buf, &writer, &wkey, &wversion);
                if (writer != me)
                    /* I7: the first rule of a memory system. */
                    violation(s, "I7: node %u VM %u key %u read data it did not write "
                              "(written by node %u VM %u)", n->id, vm, key,
                              writer / SIM_MAX_VMS, writer % SIM_MAX_VMS + 1);
                else
                    violation(s, "I4: node %u VM %u key %u: get returned stale data "
                              "(expected version %u, got key %" PRIu64 " version %u)",
                              n->id, vm, key, version[key], wkey, wversion);
                return;
            }
            s->stat_gets_ok++;
            if (n->replicated[vi])
                return; /* a persistent get keeps the page */
        }
        version[key] = 0; /* ephemeral gets are exclusive; a miss holds nothing */
    } else {
        exec(s, n, vi, GUEST_OP_FLUSH_PAGE, key);
        version[key] = 0;
    }
}
