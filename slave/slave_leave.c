/* Slave core, leave and returns: the leave flow, Force-Return and the
 * Return hypercalls that send other homes' pages back, and the surplus
 * returns of an Active node (free pages of other homes it no longer
 * needs). */
#include "slave_internal.h"

void slave_send_leave_req(struct slave_core *s)
{
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_REQ;
    env.leave_req = &lr;
    slave_send_to_master(s, &env);
}

/* Pages of home p->peer released by the hypervisor go home in a transfer;
 * in-use pages that cannot move (nowhere free) make us ask for pages. */
void slave_reply_return(struct slave_core *s, const struct slave_pending *p,
                        const struct tkm_reply *r, int64_t now_ms)
{
    vmca_bitmap_clear(&s->leave.pending, p->peer);
    if (r->n_blocks)
        slave_transfer(s, p->peer, 0, r->blocks, r->n_blocks);
    if (r->status != 0) {
        if (!vmca_bitmap_test(&s->leave.stuck, p->peer))
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                        "returning pages of node %u: in-use pages cannot move yet (%d); "
                        "%s and trying again", p->peer, r->status,
                        s->state == VMCA__NODE_STATE__NODE_ACTIVE ? "asking for room"
                                                                   : "waiting");
        vmca_bitmap_set(&s->leave.stuck, p->peer);
        uint64_t held = 0;
        for (size_t i = 0; i < s->hv.n_owned; i++)
            if (s->hv.owned[i].node == p->peer)
                held = s->hv.owned[i].pages;
        slave_ask_pages(s, held, now_ms, "pages to return cannot move");
    } else if (r->done) {
        vmca_bitmap_clear(&s->leave.returning, p->peer);
        vmca_bitmap_clear(&s->leave.stuck, p->peer);
    }
}

/* One Return hypercall in flight per home being returned. */
void slave_run_returns(struct slave_core *s)
{
    if (s->state == VMCA__NODE_STATE__NODE_LEAVING)
        for (size_t i = 0; i < s->hv.n_owned; i++)
            if (s->hv.owned[i].node != s->self->id && s->hv.owned[i].pages)
                vmca_bitmap_set(&s->leave.returning, s->hv.owned[i].node);
    for (size_t h = vmca_bitmap_next_set(&s->leave.returning, 0); h < s->leave.returning.nbits;
         h = vmca_bitmap_next_set(&s->leave.returning, h + 1)) {
        if (vmca_bitmap_test(&s->leave.pending, h) || h == s->self->id)
            continue;
        vmca_bitmap_set(&s->leave.pending, h);
        slave_queue_hcall(s, TKM_CALL_RETURN, (uint32_t)h, 256, false, NULL, 0);
        slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_RETURN, .peer = (uint32_t)h});
    }
}

/* The leave flow, for a stop signal or the operator's LeaveAsk. */
static bool leave(struct slave_core *s, int64_t now_ms)
{
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return true;
    if (s->state == VMCA__NODE_STATE__NODE_ACTIVE) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "leaving: returning every page of other nodes to its home");
        s->state = VMCA__NODE_STATE__NODE_LEAVING;
        /* Refuse further foreign pages: they bounce back to their homes. */
        for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
             b = vmca_bitmap_next_set(&s->enabled, b + 1))
            if (b != s->self->id)
                slave_queue_hcall(s, TKM_CALL_ENABLE, (uint32_t)b, 0, false, NULL, 0);
    }
    slave_send_leave_req(s);
    slave_run_returns(s);
    return false;
}

bool slave_core_leave(struct slave_core *s, int64_t now_ms)
{
    s->stay = false; /* a stop signal ends an operator's leave with the process */
    return leave(s, now_ms);
}

int slave_on_leave_ask(struct slave_core *s, int64_t now_ms)
{
    if (s->state == VMCA__NODE_STATE__NODE_LEAVING)
        return VMCA_OK; /* leaving already (a stop signal came first: it exits after) */
    if (s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_LEAVE_ASK, SLAVE_REFUSE_STATE,
                      "refused leave-ask: not active");
        return VMCA_ERR_STATE;
    }
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                "the operator asks this node to leave: it stays up, inactive, afterwards");
    s->stay = true;
    leave(s, now_ms);
    return VMCA_OK;
}

void slave_core_leave_progress(const struct slave_core *s, char *out, size_t outlen)
{
    uint64_t held = 0, lent = 0;
    size_t homes = 0;
    for (size_t i = 0; i < s->hv.n_owned; i++)
        if (s->hv.owned[i].node != s->self->id && s->hv.owned[i].pages) {
            held += s->hv.owned[i].pages;
            homes++;
        }
    for (size_t i = 0; i < s->hv.n_lent; i++)
        lent += s->hv.lent[i].pages;
    snprintf(out, outlen, "%s; %llu pages of %zu other home%s held; %llu own pages lent out",
             s->left ? "Leave-Notify received"
             : s->state == VMCA__NODE_STATE__NODE_LEAVING ? "waiting for the master's Leave-Notify"
                                                          : "the master has not taken the leave",
             (unsigned long long)held, homes, homes == 1 ? "" : "s", (unsigned long long)lent);
}

int slave_on_force_return(struct slave_core *s, const Vmca__ForceReturn *fr)
{
    uint32_t r = fr->node;
    if (!slave_other_node(s, r, VMCA__ENVELOPE__BODY_FORCE_RETURN, "force-return"))
        return VMCA_ERR_INVAL;
    if (vmca_bitmap_test(&s->enabled, r)) {
        vmca_bitmap_clear(&s->enabled, r);
        slave_queue_hcall(s, TKM_CALL_ENABLE, r, 0, false, NULL, 0);
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "force-return of node %u: returning its pages", r);
    }
    vmca_bitmap_set(&s->leave.returning, r);
    vmca_bitmap_set(&s->tr.leaving_peers, r);
    s->surplus.quiet = 0; /* r's leave waits for us to be clear: see slave_on_invalidate_node */
    slave_run_returns(s);
    return VMCA_OK;
}

int slave_on_leave_notify(struct slave_core *s)
{
    if (s->state != VMCA__NODE_STATE__NODE_LEAVING) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_LEAVE_NOTIFY, SLAVE_REFUSE_STATE,
                      "refused leave-notify: not leaving");
        return VMCA_ERR_STATE;
    }
    uint64_t own = 0;
    bool foreign = false;
    for (size_t i = 0; i < s->hv.n_owned; i++) {
        if (s->hv.owned[i].node == s->self->id)
            own = s->hv.owned[i].pages;
        else if (s->hv.owned[i].pages)
            foreign = true;
    }
    s->state = VMCA__NODE_STATE__NODE_INACTIVE;
    s->left = true;
    if (!s->hv_up) {
        /* The master saw everything back; the hypervisor died since, and
         * its memory with it: nothing to check, nothing of ours is out. */
        s->left_clean = false;
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "left the cluster; the hypervisor is down (its memory is gone with it)");
        return VMCA_OK;
    }
    s->left_clean = own == s->self->tmem_pages && !foreign;
    vmca_log_to(s->log, s->log_arg, s->left_clean ? VMCA_LOG_INFO : VMCA_LOG_ERR,
                "left the cluster: %llu of %llu own pages back%s",
                (unsigned long long)own, (unsigned long long)s->self->tmem_pages,
                foreign ? ", still holding pages of other nodes" : "");
    return VMCA_OK;
}

/* What this node's VMs need, in pages: what they use, or the targets in
 * force when the policy sets targets and they are higher (a target is
 * room the policy gave a VM; taking it away would make the policy ask for
 * it again), plus a slack (a sixteenth of the node's own pages) so a VM
 * that grows a little, or a policy step, is met from pages already here
 * rather than by asking again; an eighth of the need when that is more (a
 * small node that borrowed many times its size). *slack gets the slack. */
static uint64_t surplus_need(const struct slave_core *s, uint64_t *slack_out)
{
    uint64_t used = 0;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        used += s->hv.vms[i].used;
    uint64_t need = used;
    if (s->ft.sets_targets) {
        uint64_t t = targets_sum(s->ft.targets, s->ft.n_targets);
        need = t > need ? t : need;
    }
    uint64_t slack = s->self->tmem_pages / SLAVE_SURPLUS_SLACK_DIV;
    if (need / SLAVE_SURPLUS_SLACK_NEED_DIV > slack)
        slack = need / SLAVE_SURPLUS_SLACK_NEED_DIV;
    *slack_out = slack ? slack : 1;
    return need + slack;
}

/* Whether pages of `home` may go back to it now: it is an Active peer
 * (not leaving, failed or recovering), its memory was not invalidated, no
 * leave or Force-Return is already returning them, and no census of it
 * runs (its pages must not circulate meanwhile). */
static bool surplus_home_ok(const struct slave_core *s, uint32_t home)
{
    size_t hi = slave_node_index(s, home);
    return home != s->self->id && hi < s->cfg->n_nodes && slave_peer_active(s, home) &&
           !vmca_bitmap_test(&s->invalidated, home) &&
           !vmca_bitmap_test(&s->leave.returning, home) && !s->census.frozen_until[hi];
}

/* Once per period, on a fresh sample and after the first tier: free pages
 * of other homes above what this node's VMs need go back to their homes
 * (never our own pages; in-use ones stay: only a leave migrates), at most
 * a quarter of the pages owned per period, and only when they are at least
 * the slack. Only after
 * policy.surplus_quiet_periods in a row with no failed put and no Grant-Any
 * outstanding, so a node under pressure, or one whose Grant-Any was just
 * served, keeps what it gathered: no giving back and asking again every
 * other period. The hypervisor gives what of the amount is free (it knows
 * which pages are); the blocks go home as a Grant, acknowledged as any. */
void slave_give_surplus(struct slave_core *s)
{
    struct slave_surplus *sp = &s->surplus;
    uint32_t quiet = s->cfg->policy.surplus_quiet_periods, quiet_max = 16 * quiet;
    if (!quiet)
        return; /* policy.surplus_quiet_periods = 0: lent pages come back only on leave */
    bool failed = false;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        failed |= ft_vm_short(&s->hv.vms[i]);
    if (failed || s->tr.grant_any_req) {
        /* Asking again soon after giving back: the demand comes and goes
         * on a longer rhythm than the quiet periods; wait longer next time
         * (once per ask). */
        if (sp->since_given <= SLAVE_SURPLUS_SOON) {
            sp->quiet_needed = sp->quiet_needed * 2 < quiet_max ? sp->quiet_needed * 2
                                                                : quiet_max;
            sp->since_given = UINT32_MAX;
        }
        sp->quiet = 0;
        return;
    }
    if (sp->since_given < UINT32_MAX && ++sp->since_given > SLAVE_SURPLUS_SOON)
        sp->quiet_needed = quiet; /* no ask long after giving back */
    if (sp->quiet < sp->quiet_needed)
        sp->quiet++;
    /* One round at a time; none while pages leave for a Grant-Fwd (the
     * count owned would be off by them). */
    if (sp->quiet < sp->quiet_needed || sp->in_flight || !s->hv_up || s->ft.requesting ||
        s->state != VMCA__NODE_STATE__NODE_ACTIVE)
        return;
    uint64_t slack, need = surplus_need(s, &slack), owned = s->ft.owned_now;
    /* A round only for at least a slack's worth: pages a VM frees one by
     * one do not go home a few at a time, each a transfer the master's
     * flows would wait for. */
    if (owned < need + slack)
        return;
    /* A quarter of what is owned (or of our own pages, when we lent some):
     * a small node that gathered many times its size empties in a few
     * periods, and the last pages above the need go in smaller steps. */
    uint64_t base = owned > s->self->tmem_pages ? owned : s->self->tmem_pages;
    uint64_t step = base / SLAVE_SURPLUS_STEP_DIV;
    uint64_t budget = owned - need;
    if (budget > (step ? step : 1))
        budget = step ? step : 1;
    for (size_t i = 0; i < s->hv.n_owned && budget; i++) {
        uint32_t home = s->hv.owned[i].node;
        uint64_t pages = s->hv.owned[i].pages;
        if (!pages || !surplus_home_ok(s, home))
            continue;
        uint64_t ask = pages < budget ? pages : budget;
        /* As for a Request: the targets leave room for what may go, and
         * reach the hypervisor before the call does (I6). */
        s->ft.requesting += ask;
        slave_fit_targets(s, slave_targets_limit(s));
        size_t before = slave_hcalls_queued(s);
        slave_queue_hcall(s, TKM_CALL_SURPLUS, home, ask, false, NULL, 0);
        if (slave_hcalls_queued(s) == before) {
            s->ft.requesting -= ask;
            return; /* out of memory, logged */
        }
        slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_SURPLUS, .peer = home,
                                                     .pages = ask});
        sp->in_flight++;
        budget -= ask;
    }
}

/* The free pages of home p->peer the hypervisor released go home. */
void slave_reply_surplus(struct slave_core *s, const struct slave_pending *p,
                         const struct tkm_reply *r)
{
    if (s->surplus.in_flight)
        s->surplus.in_flight--;
    uint64_t pages = r->status == 0 ? vmca_blocks_pages(r->blocks, r->n_blocks) : 0;
    /* Less than half of what was asked: the free pages of that home are
     * gone, the rest is in use (a VM frees them one by one as it flushes).
     * Wait the quiet periods again rather than send a page or two home
     * every period: transfers pending in every Statistics would keep the
     * master's flows (recovery, leave) from ever seeing this node clear. */
    if (pages < p->pages / 2)
        s->surplus.quiet = 0;
    if (!pages)
        return;
    /* The home's memory was invalidated since the call (it failed): its
     * pages are void, nothing goes there (as for bounced blocks). */
    if (vmca_bitmap_test(&s->invalidated, p->peer)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "dropping %llu surplus pages of node %u: its memory was invalidated",
                    (unsigned long long)pages, p->peer);
        return;
    }
    s->surplus.given += pages;
    s->surplus.since_given = 0;
    s->counters.surplus_returns++;
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                "giving back %llu surplus pages of node %u (asked %llu)",
                (unsigned long long)pages, p->peer, (unsigned long long)p->pages);
    slave_transfer(s, p->peer, 0, r->blocks, r->n_blocks);
}

uint64_t slave_core_surplus_given(const struct slave_core *s)
{
    return s->surplus.given;
}
