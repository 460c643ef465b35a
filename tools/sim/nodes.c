/* Node and master life: boots, memory managers that start, leave, exit and
 * crash, hypervisors and nodes that crash, and the master's crash and boot. */
#include "sim.h"

void node_boot(struct sim *s, struct sim_node *n)
{
    hv_boot(s, n);
    n->up = true;
    n->lives = 0;
    slave_boot(s, n);
    trace(s, "node %u boots (generation %" PRIu64 ")", n->id, n->gen);
}

/* A memory manager starts on a running hypervisor (a node boots, or its
 * slave restarts after leaving): it connects to whoever it can reach. */
void slave_boot(struct sim *s, struct sim_node *n)
{
    n->incarnation = ((uint64_t)n->gen << 32) | ((uint64_t)n->lives++ << 16) | n->id;
    int rc = slave_core_init(&n->sc, &s->cfg, &s->cfg.nodes[n->id - 1], n->incarnation,
                             slave_log, n);
    if (rc != VMCA_OK) {
        /* Not a protocol violation: the run cannot go on (bad usage). */
        fprintf(stderr, "vmca-sim: seed %" PRIu64 ": node %u's slave core does not start: %s\n",
                s->seed, n->id, vmca_strerror(rc));
        exit(2);
    }
    n->core_live = true;
    n->slave_down = false;
    n->leaving = false;
    n->census_round = 0;
    if (n->hv) { /* else it waits for its hypervisor */
        hv_stats(s, n, false);
        slave_core_on_hv_up(&n->sc);
    }
    links_up(s, n, false); /* a fresh slave has nothing in transit to resend */
}

/* The node's memory manager is gone (its connections with it); its
 * hypervisor runs on (hv_runs) or died with it. */
static void slave_gone(struct sim *s, struct sim_node *n, bool hv_runs)
{
    for (size_t i = 0; i < n->n_queued; i++) /* what a stopped slave had not read */
        free(n->queued[i].frame);
    n->n_queued = 0;
    n->slave_stopped = false;
    if (n->core_live)
        slave_core_free(&n->sc);
    if (hv_runs && n->hv)
        hv_tkm_manager_gone(n->tkm); /* as vmca-hv does when its manager's channel closes */
    n->core_live = false;
    n->slave_down = hv_runs;
    n->leaving = false;
    bump_links(s, n->id);
    if (s->master_up) {
        master_core_on_disconnect(&s->m, n->id, s->now);
        drain_master(s);
    }
}
/* Its leave is over (Leave-Notify): the slave exits, as vmca-slave does;
 * the hypervisor keeps running. It starts again a little later. */
void slave_exit(struct sim *s, struct sim_node *n)
{
    bool clean;
    slave_core_left(&n->sc, &clean);
    trace(s, "node %u's slave exits after leaving (%s)", n->id,
          clean ? "all its pages back" : "NOT all its pages back");
    if (!clean && n->hv) /* a crashed hypervisor has nothing to check */
        violation(s, "node %u left without all its own pages", n->id);
    slave_gone(s, n, true);
    at(s, s->now + (int64_t)rnd_range(s, 200, 3000), EV_RESTART_SLAVE, n->id);
}


/* A failure of node n (I2): what it held, or had in transit, dies with it
 * (its ghost) until every home has settled again. Call before its state
 * goes. */
static void node_fails(struct sim *s, struct sim_node *n)
{
    gather_ghost(s, n->id);
    replica_failure(s, n->id);
    s->failures++;
    n->recovering = 1;
    s->stat_crashes++;
}

void node_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u crashes", n->id);
    node_fails(s, n);
    n->up = false;
    hv_gone(n);
    slave_gone(s, n, false);
}

/* The memory manager dies (kill -9) while its hypervisor runs on: what the
 * hypervisor holds stays, the slave's memory (transfers, census debt) is
 * gone. It starts again a little later on the same hypervisor. For I2 the
 * node counts as failed: members drop its pages, homes take back theirs. */
void slave_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u's slave crashes (its hypervisor runs on)", n->id);
    node_fails(s, n);
    slave_gone(s, n, true);
    at(s, s->now + (int64_t)rnd_range(s, 5, 2000), EV_RESTART_SLAVE, n->id);
}

/* The hypervisor dies under a live memory manager (kill -9 of vmca-hv):
 * its memory and every claim it held are gone, the slave stays connected
 * to everyone and must stop vouching for the node. The hypervisor starts
 * again later (a new memory generation). */
void hv_crash(struct sim *s, struct sim_node *n)
{
    trace(s, "node %u's hypervisor crashes (its slave runs on)", n->id);
    node_fails(s, n);
    hv_gone(n);
    n->hv_stopped_ms = s->now; /* silent from now on (liveness) */
    n->remote_on = false;
    if (n->core_live) {
        slave_core_on_hv_down(&n->sc);
        drain_slave(s, n);
    }
    at(s, s->now + (int64_t)rnd_range(s, 200, 4000), EV_RESTART_HV, n->id);
}

void master_boot(struct sim *s)
{
    master_core_init(&s->m, &s->cfg, UINT64_C(0x4d00000000) + s->seq, master_log, s);
    s->master_up = true;
    s->master_boot_ms = s->now;
    for (unsigned i = 1; i <= s->n; i++)
        s->prev_state[i] = VMCA__NODE_STATE__NODE_INACTIVE;
    for (unsigned i = 1; i <= s->n; i++) {
        struct sim_node *n = &s->node[i];
        if (!reachable(s, MASTER_EP, i))
            continue; /* down or cut off: it connects when it can */
        master_core_on_connect(&s->m, n->id, n->incarnation, s->now);
        slave_core_on_master_up(&n->sc, s->now);
        drain_slave(s, n);
    }
    drain_master(s);
    trace(s, "master boots");
}

void master_crash(struct sim *s)
{
    trace(s, "master crashes");
    s->master_up = false;
    bump_links(s, MASTER_EP);
    master_core_free(&s->m);
    for (unsigned i = 1; i <= s->n; i++)
        if (s->node[i].up) {
            slave_core_on_master_down(&s->node[i].sc, s->now);
            drain_slave(s, &s->node[i]);
        }
    s->stat_master_crashes++;
}
