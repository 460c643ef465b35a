/* Slave core, membership: register and join, master up/down, the node
 * states, being declared failed, the hypervisor's restarts and recovery of
 * an earlier life, Enable-Node and Invalidate. */
#include "slave_internal.h"

static void maybe_join(struct slave_core *s);

static void send_invalidate(struct slave_core *s)
{
    Vmca__Invalidate inv = VMCA__INVALIDATE__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE;
    env.invalidate = &inv;
    slave_send_to_master(s, &env);
}

/* Takes our own pages back and registers once the hypervisor has answered
 * (hypercalls run in order: the Invalidates queued before ran first). A
 * stopped or slow hypervisor must not be a member again while it still
 * holds claims the homes have taken back since. */
static void reclaim_then_register(struct slave_core *s)
{
    slave_queue_hcall(s, TKM_CALL_RECLAIM, s->self->id, 0, false, NULL, 0);
    slave_hcall_owners(s, NULL, 0);
    slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_RECLAIM, .peer = s->self->id});
    s->register_after_hc = s->act.next_hc_id - 1;
    s->reclaim_own = false;
}

/* Drops our claims on every other home: every home, not only those of
 * the last sample (pages may have arrived since). */
static void drop_foreign_claims(struct slave_core *s)
{
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->cfg->nodes[i].id != s->self->id)
            slave_queue_hcall(s, TKM_CALL_INVALIDATE, s->cfg->nodes[i].id, 0, false, NULL, 0);
}

/* Drops our claims and takes our pages back again: an earlier try may not
 * have run (the channel dropped, or the hypervisor refused it). Both are
 * idempotent. */
static void drop_and_reclaim_again(struct slave_core *s)
{
    drop_foreign_claims(s);
    reclaim_then_register(s);
}

/* We were declared failed while alive (fenced, or the master says we were
 * recovered): our claims on other homes were reclaimed by them and ours
 * were dropped by the members. Forget all of it; once the recovery is over
 * take our own pages back and register as a new life. */
static void declared_failed(struct slave_core *s, bool recovery_done)
{
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                "declared failed by the master: dropping every claim on other nodes' pages");
    drop_foreign_claims(s);
    xfer_drop_all(&s->xfers);
    vmca_bitmap_clear_all(&s->leave.returning);
    vmca_bitmap_clear_all(&s->leave.pending);
    vmca_bitmap_clear_all(&s->enabled);
    s->census.running = false;
    /* Nothing of ours or theirs stays frozen by a census of this life. */
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        slave_freeze_home(s, s->cfg->nodes[i].id, 0);
    s->tr.grant_any_req = 0;
    s->reclaim_own = true;
    s->out.incarnation++; /* a new life */
    if (recovery_done) {
        s->state = VMCA__NODE_STATE__NODE_INACTIVE;
        reclaim_then_register(s);
    } else {
        s->state = VMCA__NODE_STATE__NODE_RECOVERY;
        if (s->master_up)
            send_invalidate(s);
    }
}

/* The hypervisor restarted under us: this node's memory (and every page it
 * owned or lent) is gone. Forget transfers, tell the master, and register
 * again after Invalidate-Notify. */
static void node_crashed(struct slave_core *s)
{
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                "the hypervisor restarted (new memory generation): recovering");
    xfer_drop_all(&s->xfers);
    vmca_bitmap_clear_all(&s->leave.returning);
    vmca_bitmap_clear_all(&s->leave.pending);
    s->act.n_pend = 0;
    s->register_after_hc = 0;
    s->ft.requesting = 0; /* their replies will not come */
    s->surplus.in_flight = 0;
    s->tr.grant_any_req = 0;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return; /* not a member yet: a plain Register follows */
    s->state = VMCA__NODE_STATE__NODE_RECOVERY;
    if (s->master_up)
        send_invalidate(s);
}

/* Whether the hypervisor's sample shows pages an earlier memory manager
 * of this same memory left out: own pages not here (lent), or pages of
 * other homes held. A manager that left cleanly leaves none. */
static bool earlier_life_pages_out(const struct slave_core *s)
{
    if (s->hv.n_lent)
        return true;
    for (size_t i = 0; i < s->hv.n_owned; i++)
        if (s->hv.owned[i].node == s->self->id ? s->hv.owned[i].pages != s->self->tmem_pages
                                               : s->hv.owned[i].pages != 0)
            return true;
    return false;
}

int slave_core_on_hv_stats(struct slave_core *s, const struct tkm_sample *in)
{
    bool new_period = !in->period || in->period != s->hv_period;
    if (slave_sample_take(s, in, !new_period && s->ft.sample_fresh) != VMCA_OK)
        return VMCA_ERR_NOMEM;
    bool was_up = s->hv_up;
    s->hv_up = true;
    s->hv_news = true;
    if (new_period)
        s->ft.sample_fresh = true;
    s->hv_period = in->period;
    s->ft.owned_now = in->total_pages;
    s->ft.unsettled = 0; /* replies and samples come in order: this one has them all */
    slave_adopt_targets(s);
    slave_forget_gone_vms(s);
    slave_fit_targets(s, slave_targets_limit(s)); /* stale claims may have gone */
    slave_target_new_vms(s);
    if (s->ft.limits_stale) {
        s->ft.limits_stale = false;
        slave_send_limits(s);
    }
    bool first = !s->hv_generation;
    if (in->generation && s->hv_generation && in->generation != s->hv_generation) {
        s->hv_generation = in->generation;
        s->recovered = false;
        node_crashed(s);
    }
    if (in->generation)
        s->hv_generation = in->generation;
    if (first && earlier_life_pages_out(s)) {
        /* The memory manager before us died on this running hypervisor:
         * what it lent and what it held of other homes are in nobody's
         * books now (its transfers and census debt died with it). Recover
         * as a failed node: drop our claims on other homes now (they take
         * them back by census), let members drop our pages, and take all
         * of ours back once the recovery is over. */
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "an earlier memory manager of this hypervisor left pages out: dropping "
                    "its claims, recovering before registering");
        drop_foreign_claims(s);
        s->reclaim_own = true;
        s->earlier_life = true;
    }
    if (s->register_after_hc == UINT64_MAX && was_up)
        drop_and_reclaim_again(s); /* the hypervisor refused it: it answers now */
    if (first || !was_up)
        maybe_join(s); /* an Inactive node waits for its hypervisor to join */
    if (in->fenced && vmca_state_member(s->state))
        declared_failed(s, false);
    return VMCA_OK;
}

void slave_core_on_hv_down(struct slave_core *s)
{
    slave_sample_clear(s);
    s->hv_up = false;
    s->hv_news = false;
    if (vmca_state_member(s->state))
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "hypervisor down: no statistics to the master until it is back (the "
                    "master declares this node failed)");
    s->hv_period = 0; /* a restarted hypervisor counts its periods from 1 again */
    s->surplus.in_flight = 0; /* calls in flight are lost with the channel */
}

void slave_core_on_hv_up(struct slave_core *s)
{
    /* A hypervisor lifts the freezes of a manager whose channel closed:
     * the censuses still running here freeze again. */
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->census.frozen_until[i])
            slave_queue_hcall(s, TKM_CALL_FREEZE, s->cfg->nodes[i].id, 0, true, NULL, 0);
    if (s->register_after_hc)
        drop_and_reclaim_again(s); /* the channel dropped before the answer */
    /* Enabled homes, and our own memory's remote access when we are a
     * member (a hypervisor that restarted is a new memory: node_crashed
     * takes us out of Active first). */
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        if (b != s->self->id || s->state == VMCA__NODE_STATE__NODE_ACTIVE)
            slave_queue_hcall(s, TKM_CALL_ENABLE, (uint32_t)b, 0, true, NULL, 0);
}

void slave_send_register(struct slave_core *s)
{
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = s->self->id;
    reg.local_pages = s->self->tmem_pages;
    reg.location = (uint32_t *)s->self->location;
    reg.n_location = s->self->location_len;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    slave_send_to_master(s, &env);
}

/* An Inactive node joins when both the master and its hypervisor are up. */
static void maybe_join(struct slave_core *s)
{
    if (s->state != VMCA__NODE_STATE__NODE_INACTIVE || s->left || !s->master_up || !s->hv_up ||
        s->register_after_hc)
        return;
    /* An earlier life may have pages out: a new memory (members may hold
     * its earlier generation's pages), or this memory under a manager that
     * died. Members drop them before we register again. */
    if ((s->hv_generation > 1 || s->earlier_life) && !s->recovered) {
        if (s->earlier_life)
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "recovering the earlier memory manager's pages before registering");
        else
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "memory generation %llu: recovering an earlier life before registering",
                        (unsigned long long)s->hv_generation);
        s->state = VMCA__NODE_STATE__NODE_RECOVERY;
        send_invalidate(s);
        return;
    }
    slave_send_register(s);
}

void slave_core_on_master_up(struct slave_core *s, int64_t now_ms)
{
    s->master_up = true;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
        maybe_join(s);
    } else if (s->state == VMCA__NODE_STATE__NODE_RECOVERY) {
        send_invalidate(s);
    } else {
        slave_vouch_statistics(s, now_ms);
        s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
        if (s->state == VMCA__NODE_STATE__NODE_LEAVING)
            slave_send_leave_req(s);
    }
}

void slave_core_on_master_down(struct slave_core *s, int64_t now_ms)
{
    s->master_up = false;
    /* The cap holds while connected to the master that set it: that master
     * sends it again on reconnect, a restarted one (which keeps none) does
     * not, and a lift sent while we were cut off is not missed. */
    s->ft.mem_cap = 0;
    slave_drop_vm_caps(s);
}

int slave_on_enable(struct slave_core *s, const Vmca__EnableNode *en, int64_t now_ms)
{
    for (size_t i = 0; i < en->n_nodes; i++) {
        if (!vmca_node_valid(en->nodes[i]) || !vmca_config_node_by_id(s->cfg, en->nodes[i])) {
            slave_refused(s, s->master, VMCA__ENVELOPE__BODY_ENABLE_NODE, SLAVE_REFUSE_INVALID,
                          "refused enable-node: node %u is not in the configuration",
                              en->nodes[i]);
            return VMCA_ERR_INVAL;
        }
    }
    for (size_t i = 0; i < en->n_nodes; i++) {
        uint32_t x = en->nodes[i];
        if (x != s->self->id && en->enable != vmca_bitmap_test(&s->enabled, x))
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "enable-node: %s pages of node %u",
                        en->enable ? "accepting" : "refusing", x);
        if (en->enable) {
            vmca_bitmap_set(&s->enabled, x);
            vmca_bitmap_clear(&s->invalidated, x);
            vmca_bitmap_clear(&s->tr.leaving_peers, x);
        } else {
            vmca_bitmap_clear(&s->enabled, x);
        }
        if (x != s->self->id)
            slave_queue_hcall(s, TKM_CALL_ENABLE, x, 0, en->enable != 0, NULL, 0);
        if (x == s->self->id && en->enable && s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
            s->state = VMCA__NODE_STATE__NODE_ACTIVE;
            /* Members may reach our memory from now on. */
            slave_queue_hcall(s, TKM_CALL_ENABLE, x, 0, true, NULL, 0);
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "registered: now active, %zu nodes enabled",
                        vmca_bitmap_count(&s->enabled));
            slave_vouch_statistics(s, now_ms);
            s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
        }
    }
    return VMCA_OK;
}

int slave_on_invalidate_node(struct slave_core *s, const Vmca__InvalidateNode *in)
{
    uint32_t r = in->node;
    if (!slave_other_node(s, r, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, "invalidate"))
        return VMCA_ERR_INVAL;
    vmca_bitmap_clear(&s->enabled, r);
    vmca_bitmap_clear(&s->leave.returning, r);
    vmca_bitmap_set(&s->invalidated, r);
    vmca_bitmap_clear(&s->tr.leaving_peers, r);
    slave_queue_hcall(s, TKM_CALL_ENABLE, r, 0, false, NULL, 0);
    slave_queue_hcall(s, TKM_CALL_INVALIDATE, r, 0, false, NULL, 0);
    s->census.invalidates++; /* r may own pages of ours: a census is owed */
    /* The master's recovery of r waits for a Statistics of ours with no
     * transfer pending: surplus returns pause (the master sends this again
     * while we are not clear). */
    s->surplus.quiet = 0;
    size_t dropped = xfer_drop_to(&s->xfers, r);
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                "invalidate node %u: dropping its pages%s", r,
                dropped ? " and the transfers in transit to it" : "");
    return VMCA_OK;
}

int slave_on_invalidate_notify(struct slave_core *s)
{
    if (vmca_state_member(s->state)) {
        declared_failed(s, true); /* recovered while we thought we were fine */
        return VMCA_OK;
    }
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "recovery done: registering again");
    s->state = VMCA__NODE_STATE__NODE_INACTIVE;
    s->recovered = true;
    vmca_bitmap_clear_all(&s->enabled);
    if (s->reclaim_own)
        reclaim_then_register(s);
    else
        slave_send_register(s);
    return VMCA_OK;
}

int slave_on_join_ask(struct slave_core *s)
{
    if (s->state != VMCA__NODE_STATE__NODE_INACTIVE) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_JOIN_ASK, SLAVE_REFUSE_STATE,
                      "refused join-ask: not inactive");
        return VMCA_ERR_STATE;
    }
    if (s->left) {
        /* A new life: the master and the peers fence the one that left. */
        s->left = s->left_clean = s->stay = false;
        s->out.incarnation++;
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "the operator asks this node to join: registering again");
    }
    maybe_join(s); /* not left: it joins already once the hypervisor is up */
    return VMCA_OK;
}
