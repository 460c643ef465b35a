/* Slave core, transfers: Grant-Fwd served by a Request hypercall, Grants
 * sent and received, their acknowledgements, recent handovers, Grant-Any. */
#include "slave_internal.h"

void slave_send_grant(struct slave_core *s, const struct xfer_out *x)
{
    struct vmca_pb_blocks *pb = &s->pb_frame; /* one frame at a time */
    if (vmca_pb_blocks_fill(pb, x->blocks, x->n) != VMCA_OK)
        return; /* resent later */
    Vmca__Grant g = VMCA__GRANT__INIT;
    g.xfer = x->xfer;
    g.blocks = pb->ptrs;
    g.n_blocks = pb->n;
    g.req = x->req;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = &g;
    vmca_outbox_send(&s->out, x->to, &env);
}

/* Starts transfer of `blocks` to `to` and sends it. */
void slave_transfer(struct slave_core *s, uint32_t to, uint64_t req,
                    const struct vmca_block *blocks, size_t n)
{
    struct xfer_out *x = xfer_add(&s->xfers, to, req, blocks, n);
    if (!x) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR,
                    "out of memory: %zu blocks for node %u are lost", n, to);
        return;
    }
    s->counters.grants_sent++;
    s->counters.grant_pages_sent += x->pages;
    s->counters.grant_blocks_sent += n;
    /* Per-transfer lines are debug: at info a busy node would flood its log. */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_DEBUG, "grant %llu: %llu pages to node %u",
                (unsigned long long)x->xfer, (unsigned long long)x->pages, to);
    slave_send_grant(s, x);
}

int slave_on_grant_fwd(struct slave_core *s, const Vmca__GrantFwd *gf)
{
    if (gf->donor != s->self->id || !slave_peer_active(s, gf->requester) || gf->pages == 0 ||
        s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_GRANT_FWD,
                      s->state != VMCA__NODE_STATE__NODE_ACTIVE ? SLAVE_REFUSE_STATE
                                                                : SLAVE_REFUSE_INVALID,
                      "refused grant-fwd: donor %u, requester %u, %llu pages", gf->donor,
                          gf->requester, (unsigned long long)gf->pages);
        return VMCA_ERR_INVAL;
    }
    /* The targets fit what stays here before the pages go (hypercalls run
     * in order), so the hypervisor never enforces more than is owned. */
    s->counters.grant_fwd++;
    s->counters.grant_fwd_pages += gf->pages;
    s->ft.requesting += gf->pages;
    slave_fit_targets(s, slave_targets_limit(s));
    slave_queue_hcall(s, TKM_CALL_REQUEST, gf->requester, gf->pages, false, NULL, 0);
    slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_REQUEST, .peer = gf->requester,
                                                 .req = gf->req, .pages = gf->pages});
    return VMCA_OK;
}

static void send_grant_ack(struct slave_core *s, uint32_t to, uint64_t xfer, uint64_t accepted,
                           const struct vmca_block *bounced, size_t n_bounced)
{
    struct vmca_pb_blocks *pb = &s->pb_frame; /* one frame at a time */
    if (vmca_pb_blocks_fill(pb, bounced, n_bounced) != VMCA_OK)
        return; /* the sender resends; we ack then */
    Vmca__GrantAck ack = VMCA__GRANT_ACK__INIT;
    ack.xfer = xfer;
    ack.accepted = accepted;
    ack.bounced = pb->ptrs;
    ack.n_bounced = pb->n;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ACK;
    env.grant_ack = &ack;
    vmca_outbox_send(&s->out, to, &env);
}

int slave_on_grant(struct slave_core *s, uint32_t from, uint64_t inc, const Vmca__Grant *g,
                   int64_t now_ms)
{
    size_t idx = slave_node_index(s, from);
    uint64_t accepted;
    enum xfer_seen_state seen = xfer_seen(&s->xfers, idx, inc, g->xfer, &accepted);
    if (seen == XFER_APPLIED) {
        send_grant_ack(s, from, g->xfer, accepted, NULL, 0); /* a resend: ack again */
        return VMCA_OK;
    }
    if (seen == XFER_PENDING)
        return VMCA_OK; /* being applied; the ack follows */
    /* Our own pages may come back from anyone (a leaving node returns them
     * after we disabled it); other pages only from an enabled peer, or from
     * one we were told is leaving: a grant it sent before it left still
     * lands (its pages bounce back to it), or its leave would never end. */
    bool all_own = g->n_blocks > 0;
    for (size_t i = 0; all_own && i < g->n_blocks; i++)
        all_own = vmca_gfn_home(g->blocks[i]->gfn) == s->self->id;
    /* Recovering (our memory restarted): the master invalidates us at every
     * peer, which drops the transfers in transit to us; a grant sent before
     * that must not land in the new memory, or we would register again
     * holding pages of homes we no longer have enabled. */
    bool recovering = s->state == VMCA__NODE_STATE__NODE_RECOVERY;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE || recovering ||
        (!all_own && !vmca_bitmap_test(&s->enabled, from) &&
         !vmca_bitmap_test(&s->tr.leaving_peers, from))) {
        slave_refused(s, from, VMCA__ENVELOPE__BODY_GRANT, SLAVE_REFUSE_STATE,
                      "refused grant %llu from node %u: %s", (unsigned long long)g->xfer, from,
                          s->state == VMCA__NODE_STATE__NODE_INACTIVE ? "not active yet"
                          : recovering                                 ? "recovering"
                                                                       : "sender not enabled");
        return VMCA_ERR_STATE;
    }
    if (g->n_blocks == 0 || g->n_blocks > 8192) {
        slave_refused(s, from, VMCA__ENVELOPE__BODY_GRANT, SLAVE_REFUSE_INVALID,
                      "refused grant %llu from node %u: %zu blocks (1..8192 allowed)",
                          (unsigned long long)g->xfer, from, g->n_blocks);
        return VMCA_ERR_PROTO;
    }
    struct vmca_block *b = slave_scratch_blocks(s, g->n_blocks);
    if (!b)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < g->n_blocks; i++) {
        b[i].gfn = g->blocks[i]->gfn;
        b[i].order = g->blocks[i]->order;
        b[i].generation = g->blocks[i]->generation;
        if (!vmca_block_valid(b[i].gfn, b[i].order, 0)) {
            slave_refused(s, from, VMCA__ENVELOPE__BODY_GRANT, SLAVE_REFUSE_INVALID,
                          "refused grant %llu from node %u: block %zu is malformed",
                              (unsigned long long)g->xfer, from, i);
            return VMCA_ERR_PROTO;
        }
    }
    slave_queue_hcall(s, TKM_CALL_GRANT, from, 0, false, b, g->n_blocks);
    slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_GRANT, .peer = from,
                                                 .peer_inc = inc, .xfer = g->xfer,
                                                 .grant_req = g->req});
    xfer_mark(&s->xfers, idx, inc, g->xfer, XFER_PENDING, 0);
    return VMCA_OK;
}

static void remember_handover(struct slave_core *s, uint64_t xfer, uint32_t to, int64_t now_ms)
{
    for (size_t i = 0; i < s->xfers.n_out; i++) {
        const struct xfer_out *x = &s->xfers.out[i];
        if (x->xfer != xfer || x->to != to)
            continue;
        for (size_t b = 0; b < x->n; b++) {
            if (!VMCA_ROOM(s->tr.recent, s->tr.cap_recent, s->tr.n_recent + 1))
                return;
            s->tr.recent[s->tr.n_recent++] = (struct slave_recent){x->blocks[b], to, now_ms};
        }
        return;
    }
}

int slave_on_grant_ack(struct slave_core *s, uint32_t from, const Vmca__GrantAck *ack,
                       int64_t now_ms)
{
    remember_handover(s, ack->xfer, from, now_ms);
    if (!xfer_acked(&s->xfers, ack->xfer, from))
        return VMCA_OK; /* a repeated ack */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_DEBUG,
                "grant %llu acknowledged by node %u: %llu pages accepted, %zu blocks bounced",
                (unsigned long long)ack->xfer, from, (unsigned long long)ack->accepted,
                ack->n_bounced);
    return VMCA_OK;
}

void slave_reply_request(struct slave_core *s, const struct slave_pending *p,
                         const struct tkm_reply *r)
{
    if (r->status != 0 || r->n_blocks == 0) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "cannot serve node %u (req %llu): the hypervisor gave no pages (%d)",
                    p->peer, (unsigned long long)p->req, r->status);
        if (s->census.running && s->census.finish_waits)
            slave_census_finish(s);
        return;
    }
    slave_transfer(s, p->peer, p->req, r->blocks, r->n_blocks);
    struct slave_census *c = &s->census;
    if (c->running) {
        for (size_t b = 0; b < r->n_blocks; b++)
            if (vmca_gfn_home(r->blocks[b].gfn) == s->self->id)
                slave_census_add(s, r->blocks[b], p->peer);
        if (c->finish_waits)
            slave_census_finish(s);
    }
}

void slave_reply_grant(struct slave_core *s, const struct slave_pending *p,
                       const struct tkm_reply *r)
{
    size_t idx = slave_node_index(s, p->peer);
    if (r->status != 0 || r->n_results == 0) {
        /* Not applied (hypervisor down or out of memory): forget we saw it
         * so the sender's resend is applied later. */
        xfer_mark(&s->xfers, idx, p->peer_inc, p->xfer, XFER_NEW, 0);
        return;
    }
    /* Bounced blocks (home disabled here) go back to their homes. */
    struct vmca_block *bounced = slave_scratch_blocks(s, r->n_results);
    size_t nb = 0, rejected = 0;
    s->counters.grants_received++;
    s->counters.grant_pages_received += r->pages;
    for (size_t i = 0; i < r->n_results; i++) {
        s->counters.grant_blocks_received += r->results[i] == TKM_GRANT_ACCEPTED;
        s->counters.grant_blocks_bounced += r->results[i] == TKM_GRANT_BOUNCED;
        s->counters.grant_blocks_rejected += r->results[i] != TKM_GRANT_ACCEPTED &&
                                             r->results[i] != TKM_GRANT_BOUNCED;
    }
    for (size_t i = 0; bounced && i < r->n_results; i++) {
        if (r->results[i] == TKM_GRANT_BOUNCED && i < r->n_blocks)
            bounced[nb++] = r->blocks[i];
        else if (r->results[i] != TKM_GRANT_ACCEPTED)
            rejected++; /* rejected, or bounced with no block to send home */
    }
    /* A sender of blocks it does not hold must not flood the log. */
    if (rejected)
        slave_refused(s, p->peer, VMCA__ENVELOPE__BODY_GRANT_ACK, SLAVE_REFUSE_BLOCKS,
                      "grant %llu from node %u: %zu of %zu blocks rejected by the hypervisor "
                      "(not given to this node, or already held)", (unsigned long long)p->xfer,
                      p->peer, rejected, r->n_results);
    xfer_mark(&s->xfers, idx, p->peer_inc, p->xfer, XFER_APPLIED, r->pages);
    /* Blocks of a home whose census we already answered (it is still
     * running: the home is frozen here) would be missed by it: the sender
     * may have lost them before it heard of the census. Amend our answer
     * before acknowledging. */
    for (size_t i = 0; i < r->n_results && i < r->n_blocks; i++) {
        if (r->results[i] != TKM_GRANT_ACCEPTED)
            continue;
        uint32_t home = vmca_gfn_home(r->blocks[i].gfn);
        size_t hi = slave_node_index(s, home);
        if (hi < s->cfg->n_nodes && s->census.frozen_until[hi] && s->census.answered[hi])
            slave_send_census(s, home, home, s->census.answered[hi], &r->blocks[i], 1, true);
    }
    send_grant_ack(s, p->peer, p->xfer, r->pages, bounced, nb);
    for (size_t i = 0; i < nb;) {
        uint32_t home = vmca_gfn_home(bounced[i].gfn);
        size_t j = i;
        while (j < nb && vmca_gfn_home(bounced[j].gfn) == home)
            j++;
        if (vmca_bitmap_test(&s->invalidated, home))
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "dropping %zu blocks of node %u: its memory was invalidated", j - i,
                        home);
        else
            slave_transfer(s, home, 0, bounced + i, j - i);
        i = j;
    }
    if (p->grant_req && p->grant_req == s->tr.grant_any_req)
        s->tr.grant_any_req = 0; /* served (maybe in part): the policy may ask again */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_DEBUG,
                "grant %llu from node %u applied: %llu pages", (unsigned long long)p->xfer,
                p->peer, (unsigned long long)r->pages);
}

void slave_core_on_peer_up(struct slave_core *s, uint32_t peer, int64_t now_ms)
{
    if (s->census.running && vmca_bitmap_test(&s->census.waiting, peer))
        slave_send_census(s, peer, s->self->id, s->census.round, NULL, 0, false);
    for (size_t i = 0; i < s->xfers.n_out; i++)
        if (s->xfers.out[i].to == peer)
            slave_send_grant(s, &s->xfers.out[i]);
}

/* Grant-Any for `pages`, one request outstanding at a time. */
void slave_ask_pages(struct slave_core *s, uint64_t pages, int64_t now_ms, const char *why)
{
    if (s->tr.grant_any_req || !s->master_up || s->state != VMCA__NODE_STATE__NODE_ACTIVE ||
        pages == 0)
        return;
    Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
    ga.node = s->self->id;
    ga.pages = pages;
    ga.req = s->tr.next_req++;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
    env.grant_any = &ga;
    if (vmca_outbox_send_on(&s->out, VMCA_LINK_MASTER, s->master, &env) == VMCA_OK) {
        s->tr.grant_any_req = ga.req;
        s->tr.grant_any_ms = now_ms;
        s->counters.grant_any++;
        s->counters.grant_any_pages += ga.pages;
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "%s: asking the master for %llu pages (req %llu)", why,
                    (unsigned long long)ga.pages, (unsigned long long)ga.req);
    }
}
