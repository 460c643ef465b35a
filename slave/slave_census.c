/* Slave core, census (leak-free recovery): freezing homes, running the
 * census of our own home, answering other homes' censuses. */
#include "slave_internal.h"

/* Pages of `home` stay put (no Request gives them) until `until_ms`, or
 * until the home says its census is done (until_ms = 0). */
void slave_freeze_home(struct slave_core *s, uint32_t home, int64_t until_ms)
{
    size_t idx = slave_node_index(s, home);
    if (idx >= s->cfg->n_nodes)
        return;
    bool was = s->census.frozen_until[idx] != 0;
    s->census.frozen_until[idx] = until_ms;
    if (was != (until_ms != 0))
        slave_queue_hcall(s, TKM_CALL_FREEZE, home, 0, until_ms != 0, NULL, 0);
}

void slave_census_add(struct slave_core *s, struct vmca_block b, uint32_t owner)
{
    struct slave_census *c = &s->census;
    if (!VMCA_ROOM(c->held, c->cap, c->n + 1) ||
        !VMCA_ROOM(c->owners, c->cap_owners, c->n + 1)) {
        c->running = false; /* give up this round rather than reclaim wrongly */
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "census: out of memory");
        return;
    }
    c->held[c->n] = b;
    c->owners[c->n++] = owner;
}

void slave_send_census(struct slave_core *s, uint32_t to, uint32_t home, uint64_t round,
                       const struct vmca_block *blocks, size_t n, bool reply)
{
    struct vmca_pb_blocks *pb = &s->pb_frame; /* one frame at a time */
    if (vmca_pb_blocks_fill(pb, blocks, n) != VMCA_OK)
        return;
    Vmca__Census c = VMCA__CENSUS__INIT;
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    if (reply) {
        cr.home = home;
        cr.round = round;
        cr.blocks = pb->ptrs;
        cr.n_blocks = pb->n;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
        env.census_reply = &cr;
    } else {
        c.home = home;
        c.round = round;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
        env.census = &c;
    }
    if (vmca_outbox_send(&s->out, to, &env) == VMCA_OK && reply)
        s->counters.census_replies++;
}

/* The census of our home is over (done or given up): pages move again. */
void slave_census_end(struct slave_core *s)
{
    struct slave_census *c = &s->census;
    c->running = false;
    slave_freeze_home(s, s->self->id, 0);
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1)) {
        if (b == s->self->id)
            continue;
        Vmca__Census done = VMCA__CENSUS__INIT;
        done.home = s->self->id;
        done.round = c->round;
        done.done = 1;
        Vmca__Envelope env = VMCA__ENVELOPE__INIT;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
        env.census = &done;
        vmca_outbox_send(&s->out, (uint32_t)b, &env);
    }
}

void slave_census_finish(struct slave_core *s)
{
    struct slave_census *c = &s->census;
    /* A Request hypercall queued before the freeze may still give pages of
     * ours away (a slow or stopped hypervisor answers late): reclaiming now
     * would take back pages that are about to be in transit. Finish once
     * it is answered (reply_request adds what it gave). */
    c->finish_waits = s->ft.requesting > 0;
    if (c->finish_waits)
        return;
    /* Recent handovers are reported conservatively (the receiver may have
     * lost them since): one more census once they are forgotten takes back
     * what this one had to leave. A census that began once its follow-up
     * was due, with no Invalidate since the last one, is that follow-up.
     * The master asks for it (census_owed), with every member: we do not
     * run it on our own, since our enabled set lacks leaving nodes, which
     * may still own pages of ours. */
    bool followup = c->followup_ms && c->started_ms >= c->followup_ms;
    if (followup && c->invalidates_at_start <= c->covered)
        c->followup_ms = 0;
    else
        c->followup_ms = c->started_ms + 20 * (int64_t)s->cfg->timing.stats_interval_ms;
    slave_queue_hcall(s, TKM_CALL_RECLAIM, s->self->id, 0, false, c->held, c->n);
    slave_hcall_owners(s, c->owners, c->n);
    if (c->invalidates_at_start > c->covered)
        c->covered = c->invalidates_at_start;
    slave_census_end(s); /* after the reclaim: hypercalls run in order */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                "census %llu: %zu blocks of ours held by live nodes; taking back the rest",
                (unsigned long long)c->round, c->n);
}

/* The master says: run the census of our home, asking `members` (or, when
 * it names none, every node we have enabled). */
static void census_start(struct slave_core *s, const uint32_t *members, size_t n_members,
                         int64_t now_ms)
{
    struct slave_census *c = &s->census;
    c->round++;
    s->counters.census_rounds++;
    c->running = true;
    c->invalidates_at_start = s->census.invalidates;
    c->finish_waits = false;
    c->started_ms = now_ms;
    c->n = 0;
    /* Our own pages stop circulating first (hypercalls run in order). */
    slave_freeze_home(s, s->self->id, now_ms + 10 * (int64_t)s->cfg->timing.stats_interval_ms);
    vmca_bitmap_clear_all(&c->waiting);
    /* Our own transfers in flight or recently handed over: the receiver
     * owns (or will own) them. */
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            if (vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == s->self->id)
                slave_census_add(s, s->xfers.out[i].blocks[b], s->xfers.out[i].to);
    for (size_t i = 0; i < s->tr.n_recent; i++)
        if (vmca_gfn_home(s->tr.recent[i].block.gfn) == s->self->id)
            slave_census_add(s, s->tr.recent[i].block, s->tr.recent[i].to);
    for (size_t i = 0; i < n_members; i++)
        if (members[i] != s->self->id && vmca_config_node_by_id(s->cfg, members[i]))
            vmca_bitmap_set(&c->waiting, members[i]);
    if (!n_members)
        for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
             b = vmca_bitmap_next_set(&s->enabled, b + 1))
            if (b != s->self->id)
                vmca_bitmap_set(&c->waiting, b);
    for (size_t b = vmca_bitmap_next_set(&c->waiting, 0); b < c->waiting.nbits;
         b = vmca_bitmap_next_set(&c->waiting, b + 1))
        slave_send_census(s, (uint32_t)b, s->self->id, c->round, NULL, 0, false);
    if (vmca_bitmap_count(&c->waiting) == 0 && c->running)
        slave_census_finish(s);
}

int slave_on_census(struct slave_core *s, uint32_t from, bool from_master,
                    const Vmca__Census *c, int64_t now_ms)
{
    if (from_master) {
        if (c->home != s->self->id || !vmca_state_member(s->state))
            return VMCA_ERR_STATE;
        census_start(s, c->members, c->n_members, now_ms);
        return VMCA_OK;
    }
    if (c->home != from) {
        slave_refused(s, from, VMCA__ENVELOPE__BODY_CENSUS, SLAVE_REFUSE_SENDER,
                      "refused census of node %u from node %u: only a home asks", c->home, from);
        return VMCA_ERR_AUTH;
    }
    if (c->done) {
        slave_freeze_home(s, from, 0);
        return VMCA_OK;
    }
    /* Freeze before listing (hypercalls run in order): what we report
     * cannot leave us before the home has its answer. A home that dies
     * mid-census does not freeze its pages for ever. */
    slave_freeze_home(s, from, now_ms + 10 * (int64_t)s->cfg->timing.stats_interval_ms);
    slave_queue_hcall(s, TKM_CALL_OWNED, from, 0, false, NULL, 0);
    slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_OWNED, .peer = from,
                                                 .round = c->round});
    return VMCA_OK;
}

/* Our answer to home p->peer: what we own of it plus what we have in transit. */
void slave_reply_owned(struct slave_core *s, const struct slave_pending *p,
                       const struct tkm_reply *r)
{
    if (r->status != 0)
        return; /* no answer: the home gives this round up */
    size_t n = r->n_blocks + s->tr.n_recent;
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            n += vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == p->peer;
    struct vmca_block *all = slave_scratch_blocks(s, n);
    if (!all)
        return;
    if (r->n_blocks)
        memcpy(all, r->blocks, r->n_blocks * sizeof *all);
    size_t k = r->n_blocks;
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            if (vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == p->peer)
                all[k++] = s->xfers.out[i].blocks[b];
    for (size_t i = 0; i < s->tr.n_recent; i++)
        if (vmca_gfn_home(s->tr.recent[i].block.gfn) == p->peer)
            all[k++] = s->tr.recent[i].block;
    slave_send_census(s, p->peer, p->peer, p->round, all, k, true);
    size_t idx = slave_node_index(s, p->peer);
    if (idx < s->cfg->n_nodes)
        s->census.answered[idx] = p->round;
}

/* An answer to the census of our home. A block in it that is not of our
 * home is refused alone (logged once per sender): the rest counts as the
 * sender's answer and the round goes on to its end. Holding back the whole
 * answer would stall the round until it is given up, for every round such
 * a sender answers; and taking the rest is the safe side (what is reported
 * held is not taken back; what a live holder's hypervisor holds is never
 * taken back, whatever the answers say). */
int slave_on_census_reply(struct slave_core *s, uint32_t from, const Vmca__CensusReply *cr)
{
    struct slave_census *c = &s->census;
    if (!c->running || cr->home != s->self->id || cr->round != c->round)
        return VMCA_OK; /* late: ignore (amendments of answered peers are taken) */
    for (size_t i = 0; i < cr->n_blocks && c->running; i++) {
        struct vmca_block b = {cr->blocks[i]->gfn, cr->blocks[i]->order,
                               cr->blocks[i]->generation};
        if (vmca_gfn_home(b.gfn) != s->self->id ||
            !vmca_block_valid(b.gfn, b.order, s->self->tmem_pages)) {
            slave_refused(s, from, VMCA__ENVELOPE__BODY_CENSUS_REPLY, SLAVE_REFUSE_INVALID,
                          "refused block %zu (gfn %#llx order %u) of a census reply from node "
                          "%u: not of this home; the rest of the reply counts",
                          i, (unsigned long long)b.gfn, b.order, from);
            continue;
        }
        slave_census_add(s, b, from);
    }
    vmca_bitmap_clear(&c->waiting, from);
    if (c->running && vmca_bitmap_count(&c->waiting) == 0)
        slave_census_finish(s);
    return VMCA_OK;
}

/* Whether a census of our home is owed: an Invalidate(x) applied since
 * the last census that began before it ran to its end (x may own pages of
 * ours), or a follow-up or a given-up census that is due. */
bool slave_census_owed(const struct slave_core *s, int64_t now_ms)
{
    const struct slave_census *c = &s->census;
    return c->invalidates > c->covered || (c->followup_ms && now_ms >= c->followup_ms);
}

/* All our own pages are back (the reclaim after a recovery): nothing of
 * ours is out, so no census is owed. */
void slave_census_paid(struct slave_core *s)
{
    s->census.covered = s->census.invalidates;
    s->census.followup_ms = 0;
}

/* Timer: a census of ours that waited too long is given up (it stays
 * owed: the master asks again), freezes of dead homes lapse. */
void slave_census_tick(struct slave_core *s, int64_t now_ms)
{
    struct slave_census *c = &s->census;
    int64_t patience = 5 * (int64_t)s->cfg->timing.stats_interval_ms;
    if (c->running && now_ms - c->started_ms > patience) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "census %llu given up: %zu peers did not answer",
                    (unsigned long long)c->round, vmca_bitmap_count(&c->waiting));
        slave_census_end(s);
        if (!c->followup_ms || c->followup_ms > now_ms)
            c->followup_ms = now_ms; /* leaks stay until a census succeeds */
    }
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (c->frozen_until[i] && now_ms >= c->frozen_until[i])
            slave_freeze_home(s, s->cfg->nodes[i].id, 0);
}
