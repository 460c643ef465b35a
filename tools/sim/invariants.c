/* The invariants checked after every step (I1 single owner, I2
 * conservation with the failed nodes' holdings, I5 legal states, I6 targets,
 * liveness) and at rest (I3), and --watch. */
#include "sim.h"

/* ---- invariants ---- */

/* Marks pages idx..idx+n-1 in bitmap w, a word at a time; returns how many
 * were not marked yet, and in *dup the first that was (if any). */
static uint64_t range_mark(uint64_t *w, uint64_t idx, uint64_t n, uint64_t *dup)
{
    uint64_t fresh = 0;
    bool seen_dup = false;
    while (n) {
        unsigned off = (unsigned)(idx & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << off;
        uint64_t old = w[idx >> 6] & mask;
        if (old && !seen_dup) {
            seen_dup = true;
            *dup = (idx & ~UINT64_C(63)) + (uint64_t)__builtin_ctzll(old);
        }
        fresh += (uint64_t)vmca_popcount64(mask & ~old);
        w[idx >> 6] |= mask;
        idx += take;
        n -= take;
    }
    return fresh;
}

/* The first page below `pages` not marked in w (pages if none). */
static uint64_t first_unmarked(const uint64_t *w, uint64_t pages)
{
    for (uint64_t p = 0; p < pages; p++)
        if (!((w[p >> 6] >> (p & 63)) & 1))
            return p;
    return pages;
}
/* Marks in s->seen the pages of home h that node o owns, a word at a time;
 * returns how many. A page already marked is owned twice (I1). */
static uint64_t mark_owned(struct sim *s, unsigned o, unsigned h, uint64_t home_pages)
{
    uint64_t pages, gen, count = 0;
    const uint64_t *w = hvx_owned_bitmap(s->node[o].hv, h, &pages, &gen);
    /* A claim on an earlier life of the home is void (libhvx never lets it
     * be used or passed on, and drops it at its next statistics). */
    if (!w || (o != h && gen && gen != s->node[h].gen))
        return 0;
    if (pages != home_pages) {
        violation(s, "node %u's zone of home %u has %" PRIu64 " pages, the home %" PRIu64, o,
                  h, pages, home_pages);
        return 0;
    }
    for (uint64_t i = 0; i < (pages + 63) / 64; i++) {
        uint64_t m = w[i];
        if (i == pages / 64)
            m &= (UINT64_C(1) << (pages % 64)) - 1; /* the tail of the last word */
        if (!m)
            continue;
        uint64_t old = s->seen[i] & m;
        if (old) {
            violation(s, "I1: page %u:%" PRIu64 " owned by two live nodes (one is %u)", h,
                      i * 64 + (uint64_t)__builtin_ctzll(old), o);
            return count;
        }
        s->seen[i] |= m;
        count += m == ~UINT64_C(0) ? 64 : (uint64_t)vmca_popcount64(m);
    }
    return count;
}

/* Follows each home's census (every step: a round must not be missed). A
 * home has no pages out of reach once a census that started after the last
 * failure has run to its end, follow-up included. */
static void track_census(struct sim *s)
{
    for (unsigned h = 1; h <= s->n; h++) {
        struct sim_node *n = &s->node[h];
        if (!n->up)
            continue;
        /* A failed node is back once it registered anew: its recovery is
         * over and the census after it takes back what it had. */
        bool active = slave_core_state(&n->sc) == VMCA__NODE_STATE__NODE_ACTIVE;
        struct slave_census_view cv;
        slave_core_census_view(&n->sc, &cv);
        if (n->recovering == 1 && !active)
            n->recovering = 2;
        else if (n->recovering == 2 && active) {
            n->recovering = 0;
            s->failures++;
        }
        if (cv.round != n->census_round) {
            n->census_round = cv.round;
            n->census_from = s->failures;
            /* A census is short: the Byzantine fault answers some at once. */
            if ((s->faults >> SIM_F_BYZANTINE & 1) && !s->quiet && cv.running && rnd(s) % 2)
                forge_census_reply(s, &s->node[rnd_range(s, 1, s->n)], n);
        }
        if (!cv.running && !cv.retry_due)
            n->settled = n->census_from;
    }
}

/* Whether home h's census, follow-up included, has run to its end since
 * the last failure and recovery. */
static bool census_settled(const struct sim *s, unsigned h)
{
    const struct sim_node *n = &s->node[h];
    struct slave_census_view cv;
    slave_core_census_view(&n->sc, &cv);
    return n->settled == s->failures && !cv.running && !cv.retry_due;
}

/* Marks (in s->seen) the pages of home h in transit at live nodes that
 * nobody owns (current memory only); returns how many. */
static uint64_t count_transit(struct sim *s, unsigned h)
{
    uint64_t k = 0;
    for (unsigned o = 1; o <= s->n; o++) {
        const struct xfer_table *x = slave_core_transfers(&s->node[o].sc);
        for (size_t i = 0; s->node[o].up && i < x->n_out; i++)
            for (size_t b = 0; b < x->out[i].n; b++) {
                struct vmca_block v = x->out[i].blocks[b];
                if (vmca_gfn_home(v.gfn) != h ||
                    (v.generation && v.generation != s->node[h].gen))
                    continue;
                uint64_t dup;
                k += range_mark(s->seen, vmca_gfn_index(v.gfn), UINT64_C(1) << v.order, &dup);
            }
    }
    return k;
}

static uint64_t *ghost_of(struct sim *s, unsigned f, unsigned h)
{
    return s->ghost + ((size_t)f * (SIM_MAX_NODES + 1) + h) * s->ghost_words;
}

struct ghost_ctx {
    struct sim *s;
    unsigned f, h;
};

static int ghost_cb(void *arg, struct hvx_block b)
{
    struct ghost_ctx *c = arg;
    uint64_t dup;
    if (!b.generation || b.generation == c->s->node[c->h].gen)
        range_mark(ghost_of(c->s, c->f, c->h), vmca_gfn_index(b.gfn), UINT64_C(1) << b.order,
                   &dup);
    return 0;
}

/* Adds to F's ghost what F holds now (if its memory is still there) and
 * what live nodes have in transit to F. */
void gather_ghost(struct sim *s, unsigned f)
{
    for (unsigned h = 1; h <= s->n; h++) {
        if (h == f)
            continue;
        struct ghost_ctx c = {s, f, h};
        if (s->node[f].hv)
            hvx_owned_blocks(s->node[f].hv, h, ghost_cb, &c);
        for (unsigned o = 1; o <= s->n; o++) {
            const struct xfer_table *x = slave_core_transfers(&s->node[o].sc);
            for (size_t i = 0; s->node[o].up && s->node[o].core_live && i < x->n_out; i++) {
                if (o != f && x->out[i].to != f)
                    continue;
                for (size_t b = 0; b < x->out[i].n; b++)
                    if (vmca_gfn_home(x->out[i].blocks[b].gfn) == h)
                        ghost_cb(&c, (struct hvx_block){x->out[i].blocks[b].gfn,
                                                        x->out[i].blocks[b].order,
                                                        x->out[i].blocks[b].generation});
            }
        }
    }
    s->ghosts |= UINT32_C(1) << f;
}

static bool node_failed(const struct sim *s, unsigned f)
{
    return !s->node[f].up || !s->node[f].hv || s->fenced[f] || s->node[f].recovering;
}

/* Ghosts are gathered while nodes are failed, and forgotten once every
 * node is back and reachable and every home has settled (then I2 holds
 * without them). */
static void track_ghosts(struct sim *s)
{
    bool settled = true;
    for (unsigned f = 1; f <= s->n; f++) {
        if (node_failed(s, f)) {
            gather_ghost(s, f);
            settled = false;
        } else if (s->cut[f] || !census_settled(s, f)) {
            settled = false;
        }
    }
    if (settled && s->ghosts) {
        memset(s->ghost, 0,
               (SIM_MAX_NODES + 1) * (SIM_MAX_NODES + 1) * s->ghost_words * sizeof *s->ghost);
        s->ghosts = 0;
    }
}

/* Marks in s->seen the pages of home h the failed nodes held; returns how
 * many were not marked yet. */
static uint64_t count_ghosts(struct sim *s, unsigned h)
{
    uint64_t k = 0;
    for (unsigned f = 1; f <= s->n; f++) {
        if (!(s->ghosts >> f & 1))
            continue;
        const uint64_t *g = ghost_of(s, f, h);
        for (size_t w = 0; w < s->ghost_words; w++) {
            if (!g[w])
                continue;
            k += (uint64_t)vmca_popcount64(g[w] & ~s->seen[w]);
            s->seen[w] |= g[w];
        }
    }
    return k;
}

/* I1 for every home; I2 for every home that has not itself failed: each
 * page owned by a live node, in transit, or held by a failed node not yet
 * recovered (its ghost); with `at_rest`, I3: each page owned exactly once. */
void check_ownership(struct sim *s, bool at_rest)
{
    for (unsigned h = 1; h <= s->n && !s->failed; h++) {
        uint64_t pages = s->cfg.nodes[h - 1].tmem_pages;
        memset(s->seen, 0, (pages + 63) / 64 * sizeof *s->seen);
        uint64_t owned = 0;
        for (unsigned o = 1; o <= s->n && !s->failed; o++) {
            /* Claims on a home whose memory is closed (it rebooted and is not
             * a member again) are an earlier life's, pending invalidation:
             * nobody can reach that memory through them. */
            /* A fenced node's claims on other homes are inert: its remote
             * accesses fault and it gives nothing away until it drops them. */
            if (!s->node[o].hv || (o != h && s->fenced[o]))
                continue;
            owned += mark_owned(s, o, h, pages);
        }
        /* None owned twice (I1, above): so each once iff all are owned. */
        if (at_rest && !s->failed && owned != pages)
            violation(s, "I3: at rest, page %u:%" PRIu64 " is not owned by anyone", h,
                      first_unmarked(s->seen, pages));
        s->stat_checks++;
        /* A home that failed itself gets its pages back by its own
         * recovery (members drop them on Invalidate, it reclaims them). */
        /* A stopped hypervisor has hypercalls of its slave pending (say the
         * reclaim of its own pages after a recovery): its home's figures
         * catch up when it resumes. */
        if (at_rest || s->failed || node_failed(s, h) || s->node[h].hv_stopped)
            continue;
        s->stat_i2++;
        /* No page owned twice (I1), so counting is enough; the scan only
         * names the missing page. */
        if (owned + count_transit(s, h) + count_ghosts(s, h) != pages)
            violation(s, "I2: page %u:%" PRIu64 " is neither owned, nor in transit, nor "
                      "held by a failed node", h, first_unmarked(s->seen, pages));
    }
}

static bool legal_edge(Vmca__NodeState from, Vmca__NodeState to)
{
    if (from == to)
        return true;
    switch (from) {
    case VMCA__NODE_STATE__NODE_INACTIVE:
        return true; /* register, or a restarted master learning the node's state */
    case VMCA__NODE_STATE__NODE_ACTIVE:
        return to == VMCA__NODE_STATE__NODE_LEAVING || to == VMCA__NODE_STATE__NODE_RECOVERY;
    case VMCA__NODE_STATE__NODE_LEAVING:
        return to == VMCA__NODE_STATE__NODE_INACTIVE || to == VMCA__NODE_STATE__NODE_RECOVERY;
    case VMCA__NODE_STATE__NODE_RECOVERY:
        return to == VMCA__NODE_STATE__NODE_INACTIVE;
    default:
        return false;
    }
}

static void check_states(struct sim *s)
{
    if (!s->master_up)
        return;
    for (unsigned i = 1; i <= s->n; i++) {
        Vmca__NodeState st = master_core_node(&s->m, i)->state;
        /* A recovery that starts and ends in one step (no member left to
         * wait for) passed through Recovery: the master marks it. */
        bool through_recovery = st == VMCA__NODE_STATE__NODE_INACTIVE &&
                                vmca_state_member(s->prev_state[i]) &&
                                master_core_node(&s->m, i)->recovered;
        if (!through_recovery && !legal_edge(s->prev_state[i], st))
            violation(s, "I5: node %u moved %s -> %s", i, vmca_state_name(s->prev_state[i]),
                      vmca_state_name(st));
        if (vmca_state_member(st) && !vmca_state_member(s->prev_state[i]))
            s->member_ms[i] = s->now;

        s->prev_state[i] = st;
    }
}

/* Liveness (issue 9): a node whose Statistics have not reached the master
 * for longer than the failure timeout (plus a master tick and a little) is
 * not a member of the master's table any more: it was declared failed,
 * whether its connection is open or not (a stopped slave, a stopped
 * hypervisor). */
static void check_liveness(struct sim *s)
{
    if (!s->master_up)
        return;
    int64_t bound = (int64_t)s->cfg.timing.failure_timeout_ms + 300;
    for (unsigned i = 1; i <= s->n && !s->failed; i++) {
        if (!vmca_state_member(master_core_node(&s->m, i)->state))
            continue;
        int64_t since = s->heard_ms[i];
        if (s->member_ms[i] > since)
            since = s->member_ms[i];
        if (s->master_boot_ms > since)
            since = s->master_boot_ms;
        if (s->now - since > bound)
            violation(s, "liveness: node %u sent the master no statistics for %" PRId64
                      " ms (failure timeout %u) and is still %s", i, s->now - since,
                      s->cfg.timing.failure_timeout_ms,
                      vmca_state_name(master_core_node(&s->m, i)->state));
        /* A hypervisor that says nothing: its slave stops vouching within
         * slave_core_hv_silence_ms, then the master's timeout runs. */
        const struct sim_node *n = &s->node[i];
        int64_t hv_since = n->hv_stopped_ms;
        if (s->member_ms[i] > hv_since)
            hv_since = s->member_ms[i];
        if (s->master_boot_ms > hv_since)
            hv_since = s->master_boot_ms;
        if ((n->hv_stopped || (n->up && !n->hv)) &&
            s->now - hv_since > bound + slave_core_hv_silence_ms(&s->cfg) + 100)
            violation(s, "liveness: node %u's hypervisor said nothing for %" PRId64
                      " ms and the node is still %s", i, s->now - hv_since,
                      vmca_state_name(master_core_node(&s->m, i)->state));
    }
}

/* I5, the slave's part: no pages held of a home the slave has disabled,
 * unless it is still returning them (Force-Return or leave); an Invalidate
 * runs at once here. I6: the per-VM targets a slave set sum to at most the
 * pages it owns. */
static void check_slaves(struct sim *s)
{
    for (unsigned i = 1; i <= s->n && !s->failed; i++) {
        struct sim_node *n = &s->node[i];
        if (!n->up || !n->hv)
            continue;
        /* A hypervisor whose manager died holds what it held until the
         * next manager drops it; a stopped hypervisor has not run the
         * Invalidates its slave asked for; a fenced node's claims are
         * inert until it drops them (I1). */
        for (unsigned h = 1; h <= s->n && !s->failed && n->core_live && !n->hv_stopped &&
                             !s->fenced[i];
             h++) {
            if (h == i || slave_core_enabled(&n->sc, h) ||
                slave_core_returning(&n->sc, h))
                continue;
            uint64_t held = hvx_owned_of(n->hv, h);
            if (held)
                violation(s, "I5: node %u holds %" PRIu64 " pages of node %u, which it has "
                          "disabled (no return in progress)", i, held, h);
        }
        size_t set;
        uint64_t sum = hvx_targets_sum(n->hv, &set), owned = hvx_owned_pages(n->hv);
        if (set && sum > owned)
            violation(s, "I6: node %u: per-VM targets sum to %" PRIu64 " pages, above the %"
                      PRIu64 " it owns", i, sum, owned);
        /* With tlp no VM runs unbounded once its slave has seen it (the
         * hypervisor pushes a sample when a VM connects). */
        if (n->core_live && slave_core_hv_up(&n->sc) && set < s->vms && !n->slave_stopped &&
            !n->hv_stopped &&
            ft_policy_find(s->cfg.policy.first_tier)->sets_targets)
            violation(s, "I6: node %u: %zu of its %u VMs have no target under %s", i,
                      s->vms - set, s->vms, s->cfg.policy.first_tier);
    }
}

/* --watch: a trace line whenever the set of nodes that own the page, or
 * have it in transit, changes. */
static void watch_page(struct sim *s)
{
    char now[512];
    size_t k = (size_t)snprintf(now, sizeof now, "owned by");
    uint32_t h = s->opts->watch_home;
    uint64_t idx = s->opts->watch_index;
    for (unsigned o = 1; o <= s->n; o++) {
        uint64_t pages, gen;
        const uint64_t *w = s->node[o].hv ? hvx_owned_bitmap(s->node[o].hv, h, &pages, &gen)
                                          : NULL;
        if (w && idx < pages && (w[idx >> 6] >> (idx & 63) & 1) && k < sizeof now)
            k += (size_t)snprintf(now + k, sizeof now - k, " %u (gen %" PRIu64 ")", o, gen);
        const struct xfer_table *x = slave_core_transfers(&s->node[o].sc);
        for (size_t t = 0; s->node[o].core_live && t < x->n_out; t++)
            for (size_t b = 0; b < x->out[t].n; b++) {
                struct vmca_block v = x->out[t].blocks[b];
                uint64_t first = vmca_gfn_index(v.gfn);
                if (vmca_gfn_home(v.gfn) == h && idx >= first &&
                    idx < first + (UINT64_C(1) << v.order) && k < sizeof now)
                    k += (size_t)snprintf(now + k, sizeof now - k, " [%u -> %u xfer %" PRIu64
                                          "]", o, x->out[t].to, x->out[t].xfer);
            }
    }
    if (s->steps == 1 || strcmp(now, s->watch_last) != 0) {
        trace(s, "watch %u:%" PRIu64 ": %s", h, idx, now);
        memcpy(s->watch_last, now, sizeof s->watch_last);
    }
}

/* The checks after a step. A guest's put/get/flush changes no ownership,
 * transit or census state, so I1/I2 are only re-checked after other steps
 * (every one, or every check_every-th with --check-every). */
/* The reserve (docs/protocol.md, second tier): a Grant-Fwd the master
 * sends may make up, with those sent since the donor's Statistics before
 * last reached the master, at most the donor's free pages above R in its
 * last Statistics. Counted from the messages themselves; the windows move
 * on every Statistics delivered to any master (a restarted one included)
 * and a Register empties them, which the master does no sooner, so the
 * check can only be less strict than the rule (the guests' puts after a
 * sample cannot make it fire: it compares with the figures sent). */
void reserve_track(struct sim *s, uint32_t node, const Vmca__Envelope *env)
{
    if (node < 1 || node > s->n)
        return;
    struct sim_donor *d = &s->donor[node];
    if (env->body_case == VMCA__ENVELOPE__BODY_STATISTICS) {
        d->free = env->statistics->free_pages;
        d->older = d->recent;
        d->recent = 0;
    } else if (env->body_case == VMCA__ENVELOPE__BODY_REGISTER_NODE) {
        d->older = d->recent = 0;
    }
}

void reserve_check(struct sim *s, uint32_t to, const uint8_t *frame, size_t len)
{
    Vmca__Envelope *env;
    size_t used;
    char err[128];
    if (to < 1 || to > s->n ||
        vmca_decode_frame(frame, len, s->cfg.max_frame, &env, &used, err, sizeof err))
        return; /* an undecodable frame is reported where it is delivered */
    if (env->body_case == VMCA__ENVELOPE__BODY_GRANT_FWD) {
        struct sim_donor *d = &s->donor[to];
        uint64_t r = s->cfg.policy.reserve_pages;
        uint64_t spare = d->free > r ? d->free - r : 0;
        d->recent += env->grant_fwd->pages;
        if (d->recent + d->older > spare)
            violation(s, "R: node %u was forwarded %llu pages since its Statistics before "
                      "last, more than the %llu above the reserve its last ones showed", to,
                      (unsigned long long)(d->recent + d->older), (unsigned long long)spare);
    }
    vmca_envelope_free(env);
}

void after_step(struct sim *s, const struct event *e)
{
    for (unsigned i = 1; i <= s->n; i++) {
        struct sim_node *n = &s->node[i];
        if (n->leaving && n->core_live && slave_core_left(&n->sc, NULL)) {
            slave_exit(s, n);
        } else if (n->leaving && n->core_live && s->persistent &&
                   s->now - n->leave_ms > SIM_LEAVE_GIVE_UP_MS) {
            trace(s, "node %u gives up its leave (persistent pages cannot move)", n->id);
            slave_crash(s, n);
        }
    }
    if (s->opts->watch_home)
        watch_page(s);
    check_states(s); /* cheap, and edges must not be skipped */
    check_liveness(s);
    track_census(s);
    if (e->kind != EV_GUEST)
        track_ghosts(s); /* every such step: a failed node's holdings must not be missed */
    if (e->kind != EV_GUEST && s->changed++ % s->check_every == 0) {
        check_ownership(s, false);
        check_slaves(s);
    }
}
