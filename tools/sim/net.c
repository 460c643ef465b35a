/* The simulated network: per-link FIFO connections with random delay
 * (messages reorder across links), epochs that drop what was in flight
 * when a connection breaks, and the drains that carry the cores' actions. */
#include "sim.h"

/* ---- sending ---- */

bool ep_up(struct sim *s, uint32_t ep)
{
    return ep == MASTER_EP ? s->master_up : s->node[ep].up && !s->node[ep].slave_down;
}

bool reachable(struct sim *s, uint32_t a, uint32_t b)
{
    return ep_up(s, a) && ep_up(s, b) && !s->cut[a] && !s->cut[b];
}

static void send_frame(struct sim *s, uint32_t from, uint32_t to, bool from_master,
                       const uint8_t *frame, size_t len)
{
    if (!reachable(s, from, to) || from == to)
        return;
    uint8_t *copy = malloc(len);
    memcpy(copy, frame, len);
    int64_t t = s->now + (int64_t)rnd_range(s, 1, 8);
    if (s->slow_until[from] > s->now || s->slow_until[to] > s->now)
        t += (int64_t)rnd_range(s, 20, 150); /* a slow node */
    if (t < s->link_last[from][to])
        t = s->link_last[from][to]; /* FIFO on one connection */
    s->link_last[from][to] = t;
    uint32_t lo = from < to ? from : to, hi = from < to ? to : from;
    push(s, (struct event){.at = t, .kind = EV_DELIVER, .a = from, .b = to,
                           .epoch = s->epoch[lo][hi], .from_master = from_master,
                           .frame = copy, .len = len});
}

void drain_master(struct sim *s)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(master_core_outbox(&s->m), &n);
    for (size_t i = 0; i < n; i++) {
        reserve_check(s, act[i].to, act[i].frame, act[i].len); /* sent, even if lost */
        s->stat_frames++;
        send_frame(s, MASTER_EP, act[i].to, true, act[i].frame, act[i].len);
    }
    vmca_actions_free(act, n);
    struct master_fence *f = master_core_take_fences(&s->m, &n);
    for (size_t i = 0; i < n; i++)
        if (f[i].node >= 1 && f[i].node <= s->n) {
            if (f[i].fenced && !s->fenced[f[i].node]) {
                replica_failure(s, f[i].node);
                s->failures++;
                s->node[f[i].node].recovering = 1;
            }
            if (f[i].fenced)
                s->node[f[i].node].claim_epoch++; /* as the fabric does */
            s->fenced[f[i].node] = f[i].fenced;
        }
    free(f);
}

void drain_slave(struct sim *s, struct sim_node *n)
{
    for (int round = 0; round < 64 && n->core_live; round++) {
        if (!n->hv_stopped) /* a stopped hypervisor leaves them queued */
            run_hcalls(s, n);
        size_t cnt;
        struct vmca_action *act = vmca_outbox_take(slave_core_outbox(&n->sc), &cnt);
        if (!cnt) {
            free(act);
            return;
        }
        for (size_t i = 0; i < cnt; i++) {
            bool peer = act[i].link == VMCA_LINK_NODE;
            s->stat_frames++;
            send_frame(s, n->id, peer ? act[i].to : MASTER_EP, false, act[i].frame, act[i].len);
        }
        vmca_actions_free(act, cnt);
    }
}

void bump_links(struct sim *s, uint32_t ep)
{
    for (unsigned i = 0; i <= s->n; i++) {
        uint32_t lo = ep < i ? ep : i, hi = ep < i ? i : ep;
        s->epoch[lo][hi]++;
    }
}

void deliver(struct sim *s, struct event *e)
{
    uint32_t lo = e->a < e->b ? e->a : e->b, hi = e->a < e->b ? e->b : e->a;
    if (e->epoch != s->epoch[lo][hi] || !reachable(s, e->a, e->b))
        return;
    Vmca__Envelope *env;
    size_t used;
    char err[128];
    if (vmca_decode_frame(e->frame, e->len, s->cfg.max_frame, &env, &used, err, sizeof err)) {
        violation(s, "a core sent an undecodable frame: %s", err);
        return;
    }
    s->events++;
    trace(s, "%s %u -> %u", vmca_body_name(env->body_case), e->a, e->b);
    if (e->b == MASTER_EP) {
        if (env->body_case == VMCA__ENVELOPE__BODY_STATISTICS)
            s->heard_ms[e->a] = s->now;
        reserve_track(s, e->a, env);
        master_core_on_message(&s->m, e->a, env, s->now);
        drain_master(s);
    } else {
        struct sim_node *n = &s->node[e->b];
        if (n->slave_stopped) {
            /* It reads its sockets when it resumes, in order. */
            vmca_envelope_free(env);
            s->events--;
            if (n->n_queued == n->cap_queued) {
                n->cap_queued = n->cap_queued ? 2 * n->cap_queued : 64;
                n->queued = realloc(n->queued, n->cap_queued * sizeof *n->queued);
                if (!n->queued) {
                    fprintf(stderr, "vmca-sim: out of memory\n");
                    exit(1);
                }
            }
            n->queued[n->n_queued++] = *e;
            e->frame = NULL; /* kept by the queue */
            return;
        }
        uint32_t from = e->from_master ? s->cfg.master.node_id : e->a;
        if (env->body_case == VMCA__ENVELOPE__BODY_GRANT)
            for (size_t b = 0; b < env->grant->n_blocks; b++)
                if (env->grant->blocks[b]->order < 64)
                    s->stat_granted += UINT64_C(1) << env->grant->blocks[b]->order;
        slave_core_on_message(&n->sc, from, e->from_master, env, s->now);
        drain_slave(s, n);
    }
    vmca_envelope_free(env);
}

void links_up(struct sim *s, struct sim_node *n, bool both)
{
    if (reachable(s, n->id, MASTER_EP)) {
        master_core_on_connect(&s->m, n->id, n->incarnation, s->now);
        slave_core_on_master_up(&n->sc, s->now);
        drain_master(s);
    }
    for (unsigned i = 1; i <= s->n; i++)
        if (i != n->id && reachable(s, n->id, i)) {
            slave_core_on_peer_up(&s->node[i].sc, n->id, s->now);
            if (both)
                slave_core_on_peer_up(&n->sc, i, s->now);
            drain_slave(s, &s->node[i]);
        }
    drain_slave(s, n);
}
