/* The faults the simulator injects (--faults), chosen at random times
 * among those enabled, and the Byzantine member's forged messages. */
#include "sim.h"

struct pick {
    struct sim *s;
    struct vmca_block b;
    uint64_t seen, want;
};

static int pick_cb(void *arg, struct hvx_block b)
{
    struct pick *p = arg;
    if (p->seen++ == p->want) {
        p->b = (struct vmca_block){b.gfn, b.order, b.generation};
        return 1;
    }
    return 0;
}

/* A Byzantine member answers a running census of another home before its
 * own hypervisor does, saying it holds none of the home's pages (it may
 * hold many): the home must not take back pages a live holder uses. */
bool forge_census_reply(struct sim *s, struct sim_node *r, struct sim_node *home)
{
    if (home == r || !r->up || !r->core_live || r->slave_stopped || !home->up ||
        !home->core_live ||
        !slave_core_census_waits_for(&home->sc, r->id))
        return false;
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    cr.home = home->id;
    struct slave_census_view cv;
    slave_core_census_view(&home->sc, &cv);
    cr.round = cv.round;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    env.census_reply = &cr;
    vmca_outbox_send(slave_core_outbox(&r->sc), home->id, &env);
    trace(s, "node %u forges an empty census reply to home %u (it holds %" PRIu64 " pages)",
          r->id, home->id, r->hv ? hvx_owned_of(r->hv, home->id) : 0);
    drain_slave(s, r);
    return true;
}

/* A Byzantine member: live node R sends a well-formed Grant it has no
 * right to send, in its own name and incarnation: blocks another node
 * owns (to a third node, or a "return" to their home), or pages of its
 * own home it has lent out. Whatever it sends, no page may get two
 * owners and no VM may read data it did not write. */
static void byzantine(struct sim *s)
{
    struct sim_node *r = &s->node[rnd_range(s, 1, s->n)];
    if (rnd(s) % 2 && forge_census_reply(s, r, &s->node[rnd_range(s, 1, s->n)]))
        return;
    struct sim_node *o = &s->node[rnd_range(s, 1, s->n)];
    if (!r->up || !r->core_live || r->slave_stopped || !o->up || !o->hv || o == r)
        return;
    /* A block o owns, of a random home o holds pages of. */
    uint32_t home = (uint32_t)rnd_range(s, 1, s->n);
    struct pick p = {s, {0, 0, 0}, 0, 0};
    uint64_t owned = hvx_owned_of(o->hv, home);
    if (!owned)
        return;
    p.want = UINT64_MAX; /* first count the blocks, then pick one */
    hvx_owned_blocks(o->hv, home, pick_cb, &p);
    if (!p.seen)
        return;
    p.want = rnd(s) % p.seen;
    p.seen = 0;
    hvx_owned_blocks(o->hv, home, pick_cb, &p);
    if (p.seen <= p.want)
        return; /* not found: never send the empty block */
    uint32_t to = rnd(s) % 2 ? home : (uint32_t)rnd_range(s, 1, s->n);
    if (to == r->id)
        return;
    struct vmca_pb_blocks pb;
    if (vmca_pb_blocks_make(&pb, &p.b, 1) != VMCA_OK)
        return;
    Vmca__Grant g = VMCA__GRANT__INIT;
    g.xfer = (UINT64_C(1) << 40) + rnd(s) % 1000000; /* never a real transfer's id */
    g.blocks = pb.ptrs;
    g.n_blocks = pb.n;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = &g;
    vmca_outbox_send(slave_core_outbox(&r->sc), to, &env);
    vmca_pb_blocks_free(&pb);
    trace(s, "node %u forges a grant of %u:%" PRIu64 "/%u (held by node %u) to node %u",
          r->id, vmca_gfn_home(p.b.gfn), vmca_gfn_index(p.b.gfn), p.b.order, o->id, to);
    drain_slave(s, r);
}

/* ---- the run ---- */

/* Each fault picks its victim with the run's generator: the draws, in this
 * order, are what a seed replays. */

static void fault_crash(struct sim *s)
{
    struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
    if (n->up && n->id != s->cfg.master.node_id) {
        node_crash(s, n);
        at(s, s->now + (int64_t)rnd_range(s, 200, 4000), EV_RESTART_NODE, n->id);
    }
}

static void fault_master(struct sim *s)
{
    if (s->master_up) {
        master_crash(s);
        at(s, s->now + (int64_t)rnd_range(s, 100, 1500), EV_RESTART_MASTER, 0);
    }
}

/* A connection breaks: what was in flight on it is lost; it comes back. */
static void fault_drop(struct sim *s)
{
    uint32_t a = (uint32_t)rnd_range(s, 1, s->n), b = (uint32_t)rnd_range(s, 0, s->n);
    if (a != b && ep_up(s, a) && ep_up(s, b)) {
        uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
        s->epoch[lo][hi]++; /* in-flight messages on this connection are lost */
        s->stat_drops++;
        trace(s, "connection %u-%u drops", a, b);
        if (b == MASTER_EP) {
            master_core_on_disconnect(&s->m, a, s->now);
            slave_core_on_master_down(&s->node[a].sc, s->now);
            drain_master(s);
            drain_slave(s, &s->node[a]);
        }
        push(s, (struct event){.at = s->now + (int64_t)rnd_range(s, 20, 300),
                               .kind = EV_RECONNECT, .a = a, .b = b});
    }
}

/* Cut one slave off from everyone (master included) for a while. */
static void fault_partition(struct sim *s)
{
    uint32_t a = (uint32_t)rnd_range(s, 2, s->n);
    if (s->node[a].up && s->node[a].core_live && !s->cut[a]) {
        trace(s, "node %u partitioned away", a);
        bump_links(s, a);
        s->cut[a] = true;
        if (s->master_up) {
            master_core_on_disconnect(&s->m, a, s->now);
            drain_master(s);
        }
        slave_core_on_master_down(&s->node[a].sc, s->now);
        drain_slave(s, &s->node[a]);
        at(s, s->now + (int64_t)rnd_range(s, 300, 4000), EV_HEAL, a);
    }
}

static void fault_slow(struct sim *s)
{
    uint32_t a = (uint32_t)rnd_range(s, 1, s->n);
    s->slow_until[a] = s->now + (int64_t)rnd_range(s, 500, 5000);
    trace(s, "node %u slow", a);
}

/* A clean shutdown: the slave leaves, exits, and starts again. */
static void fault_leave(struct sim *s)
{
    struct sim_node *n = &s->node[rnd_range(s, 2, s->n)];
    if (n->up && n->core_live && !n->leaving && slave_core_state(&n->sc) == VMCA__NODE_STATE__NODE_ACTIVE) {
        trace(s, "node %u leaves", n->id);
        n->leaving = true;
        n->leave_ms = s->now;
        replica_failure(s, n->id); /* a leave that times out drops what others keep */
        slave_core_leave(&n->sc, s->now);
        drain_slave(s, n);
    }
}

/* A VM goes away and connects again under the same id, with no data; its
 * hypervisor pushes a sample of the same period. */
static void fault_vm(struct sim *s)
{
    struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
    unsigned vi = (unsigned)(rnd(s) % s->vms);
    if (n->up && n->hv && !n->hv_stopped) { /* a stopped hypervisor takes no VM */
        trace(s, "node %u: VM %u reconnects", n->id, vi + 1);
        guest_reconnect(s, n, vi);
    }
}

/* A slave dies on its running hypervisor. */
static void fault_restart(struct sim *s)
{
    struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
    if (n->up && n->core_live && !n->leaving)
        slave_crash(s, n);
}

/* A slave (or its hypervisor) stopped (SIGSTOP) with its connections open,
 * for up to three failure timeouts. */
static void stop_one(struct sim *s, bool hv)
{
    struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
    bool *stopped = hv ? &n->hv_stopped : &n->slave_stopped;
    if (n->up && n->hv && n->core_live && !n->slave_stopped && !n->hv_stopped) {
        *stopped = true;
        n->hv_stopped_ms = s->now;
        trace(s, "node %u's %s stopped", n->id, hv ? "hypervisor" : "slave");
        push(s, (struct event){.at = s->now + (int64_t)rnd_range(
                                   s, 200, 3 * (uint64_t)s->cfg.timing.failure_timeout_ms),
                               .kind = EV_RESUME, .a = n->id});
    }
}

static void fault_stop(struct sim *s) { stop_one(s, false); }
static void fault_hvstop(struct sim *s) { stop_one(s, true); }

static void fault_hvcrash(struct sim *s)
{
    struct sim_node *n = &s->node[rnd_range(s, 1, s->n)];
    if (n->up && n->hv && n->id != s->cfg.master.node_id)
        hv_crash(s, n);
}

/* In enum sim_fault order (the order a seed's draws assume). */
static const struct {
    const char *name;
    void (*inject)(struct sim *s);
} faults[SIM_FAULTS] = {
    [SIM_F_CRASH] = {"crash", fault_crash},
    [SIM_F_MASTER] = {"master", fault_master},
    [SIM_F_DROP] = {"drop", fault_drop},
    [SIM_F_PARTITION] = {"partition", fault_partition},
    [SIM_F_SLOW] = {"slow", fault_slow},
    [SIM_F_LEAVE] = {"leave", fault_leave},
    [SIM_F_VM] = {"vm", fault_vm},
    [SIM_F_RESTART] = {"restart", fault_restart},
    [SIM_F_BYZANTINE] = {"byzantine", byzantine},
    [SIM_F_STOP] = {"stop", fault_stop},
    [SIM_F_HVSTOP] = {"hvstop", fault_hvstop},
    [SIM_F_HVCRASH] = {"hvcrash", fault_hvcrash},
};

int faults_parse(const char *list, unsigned *set, char *bad, size_t badlen)
{
    unsigned on = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        unsigned f = 0;
        while (f < SIM_FAULTS && !(strlen(faults[f].name) == len &&
                                   strncmp(p, faults[f].name, len) == 0))
            f++;
        if (f < SIM_FAULTS)
            on |= 1u << f;
        else if (!(len == 4 && strncmp(p, "none", 4) == 0)) {
            snprintf(bad, badlen, "%.*s", (int)len, p);
            return -1;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    *set = on;
    return 0;
}

const char *fault_name(unsigned f)
{
    return f < SIM_FAULTS ? faults[f].name : "?";
}

void schedule_fault(struct sim *s)
{
    if (s->faults)
        at(s, s->now + (int64_t)rnd_range(s, 300, 3000), EV_FAULT, 0);
}

void do_fault(struct sim *s)
{
    if (s->quiet)
        return;
    unsigned kinds[SIM_FAULTS], nk = 0;
    for (unsigned f = 0; f < SIM_FAULTS; f++)
        if (s->faults >> f & 1)
            kinds[nk++] = f;
    faults[kinds[rnd(s) % nk]].inject(s);
    schedule_fault(s);
}
