/* Slave core: set-up, the table of message types (who may send each, and
 * its handler), the timer, and the log-once refusals. The concerns live in
 * slave_actions, membership, report, transfers, leave, census, targets. */
#include "slave_internal.h"

const char *slave_refusal_name(unsigned r)
{
    static const char *const names[SLAVE_REFUSALS] = {
        [SLAVE_REFUSE_SENDER] = "sender",
        [SLAVE_REFUSE_STATE] = "state",
        [SLAVE_REFUSE_INVALID] = "invalid",
        [SLAVE_REFUSE_UNHANDLED] = "unhandled",
        [SLAVE_REFUSE_BLOCKS] = "rejected_blocks",
    };
    return r < SLAVE_REFUSALS ? names[r] : "unknown";
}

const struct slave_counters *slave_core_counters(const struct slave_core *s)
{
    return &s->counters;
}

const struct tkm_sample *slave_core_sample(const struct slave_core *s)
{
    return &s->hv;
}

void slave_refused(struct slave_core *s, uint32_t from, int body, enum slave_refusal why,
                   const char *fmt, ...)
{
    s->counters.refused[why]++;
    const struct vmca_node_cfg *n = vmca_config_node_by_id(s->cfg, from);
    if (n && body >= 0 && body < 32) {
        uint32_t *seen = &s->refused_logged[n - s->cfg->nodes];
        if (*seen & (UINT32_C(1) << body))
            return;
        *seen |= UINT32_C(1) << body;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN, "%s (logged once per sender)", msg);
}

int slave_core_init(struct slave_core *s, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *self, uint64_t incarnation,
                    vmca_log_fn log, void *log_arg)
{
    *s = (struct slave_core){
        .cfg = cfg, .self = self, .master = cfg->master.node_id,
        .state = VMCA__NODE_STATE__NODE_INACTIVE, .log = log, .log_arg = log_arg,
    };
    s->ft.policy = ft_policy_find(cfg->policy.first_tier);
    if (!s->ft.policy)
        return VMCA_ERR_INVAL; /* the loader refuses it: a hand-built cfg */
    s->ft.sets_targets = ft_policy_sets_targets(s->ft.policy, self->n_vms);
    s->act.next_hc_id = 1;
    s->tr.next_req = 1;
    s->hv_heard_ms = -1;
    s->surplus.quiet_needed = cfg->policy.surplus_quiet_periods;
    s->surplus.since_given = UINT32_MAX;
    size_t nodes = cfg->n_nodes ? cfg->n_nodes : 1;
    s->census.frozen_until = calloc(nodes, sizeof *s->census.frozen_until);
    s->refused_logged = calloc(nodes, sizeof *s->refused_logged);
    s->census.answered = calloc(nodes, sizeof *s->census.answered);
    s->ft.state = calloc(1, s->ft.policy->state_size ? s->ft.policy->state_size : 1);
    if (!s->census.frozen_until || !s->refused_logged || !s->census.answered || !s->ft.state ||
        slave_report_init(s) != VMCA_OK || xfer_init(&s->xfers, cfg->n_nodes) != VMCA_OK ||
        vmca_bitmap_init(&s->enabled, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->leave.returning, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->leave.pending, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->leave.stuck, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->census.waiting, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->invalidated, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->tr.leaving_peers, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK) {
        slave_core_free(s);
        return VMCA_ERR_NOMEM;
    }
    vmca_outbox_init(&s->out, self->id, incarnation, cfg->max_frame);
    return VMCA_OK;
}

void slave_core_free(struct slave_core *s)
{
    slave_report_free(s);
    xfer_free(&s->xfers);
    vmca_bitmap_free(&s->enabled);
    vmca_bitmap_free(&s->leave.returning);
    vmca_bitmap_free(&s->leave.pending);
    vmca_bitmap_free(&s->leave.stuck);
    vmca_bitmap_free(&s->census.waiting);
    vmca_bitmap_free(&s->invalidated);
    vmca_bitmap_free(&s->tr.leaving_peers);
    free(s->census.held);
    free(s->census.owners);
    free(s->census.frozen_until);
    free(s->refused_logged);
    free(s->census.answered);
    free(s->tr.recent);
    free(s->ft.targets);
    free(s->scratch);
    free(s->ft.next);
    free(s->ft.wanted);
    free(s->ft.settings);
    free(s->ft.state);
    slave_calls_free(s);
    vmca_pb_blocks_free(&s->pb_frame);
    free(s->act.pend);
    vmca_outbox_free(&s->out);
}

struct vmca_block *slave_scratch_blocks(struct slave_core *s, size_t n)
{
    return VMCA_ROOM(s->scratch, s->cap_scratch, n) ? s->scratch : NULL;
}

bool slave_core_enabled(const struct slave_core *s, uint32_t node)
{
    return vmca_bitmap_test(&s->enabled, node);
}

Vmca__NodeState slave_core_state(const struct slave_core *s)
{
    return s->state;
}

struct vmca_outbox *slave_core_outbox(struct slave_core *s)
{
    return &s->out;
}

const struct xfer_table *slave_core_transfers(const struct slave_core *s)
{
    return &s->xfers;
}

void slave_core_census_view(const struct slave_core *s, struct slave_census_view *v)
{
    *v = (struct slave_census_view){s->census.round, s->census.running,
                                    s->census.followup_ms != 0};
}

bool slave_core_census_waits_for(const struct slave_core *s, uint32_t peer)
{
    return s->census.running && vmca_bitmap_test(&s->census.waiting, peer);
}

bool slave_core_hv_up(const struct slave_core *s)
{
    return s->hv_up;
}

bool slave_core_returning(const struct slave_core *s, uint32_t home)
{
    return vmca_bitmap_test(&s->leave.returning, home);
}

bool slave_core_done(const struct slave_core *s)
{
    return s->left && !s->stay;
}

bool slave_core_left(const struct slave_core *s, bool *clean)
{
    if (clean)
        *clean = s->left_clean;
    return s->left;
}

size_t slave_node_index(const struct slave_core *s, uint32_t node)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_id(s->cfg, node);
    return n ? (size_t)(n - s->cfg->nodes) : s->cfg->n_nodes;
}

bool slave_other_node(struct slave_core *s, uint32_t node, int body, const char *what)
{
    if (node != s->self->id && vmca_config_node_by_id(s->cfg, node))
        return true;
    slave_refused(s, s->master, body, SLAVE_REFUSE_INVALID, "refused %s of node %u", what,
                  node);
    return false;
}

bool slave_peer_active(const struct slave_core *s, uint32_t node)
{
    return node != s->self->id && vmca_config_node_by_id(s->cfg, node) &&
           vmca_bitmap_test(&s->enabled, node);
}

/* Who may send each message type to a slave. The master's node runs a
 * slave too, so the node id alone does not say who speaks: the
 * connection's role (checked at Hello) does. Types not listed are the
 * master's. */
enum slave_sender { FROM_MASTER = 0, FROM_PEER, FROM_EITHER };
static const uint8_t sender_of[] = {
    [VMCA__ENVELOPE__BODY_GRANT] = FROM_PEER,
    [VMCA__ENVELOPE__BODY_GRANT_ACK] = FROM_PEER,
    [VMCA__ENVELOPE__BODY_CENSUS_REPLY] = FROM_PEER,
    [VMCA__ENVELOPE__BODY_CENSUS] = FROM_EITHER, /* start ours (master), or a home's (peer) */
};

static enum slave_sender sender(int body)
{
    return body >= 0 && (size_t)body < sizeof sender_of ? (enum slave_sender)sender_of[body]
                                                          : FROM_MASTER;
}

int slave_core_on_message(struct slave_core *s, uint32_t from, bool from_master,
                          const Vmca__Envelope *env, int64_t now_ms)
{
    enum slave_sender who = sender((int)env->body_case);
    if (who == FROM_PEER &&
        (from_master || !vmca_config_node_by_id(s->cfg, from) || from == s->self->id)) {
        slave_refused(s, from, (int)env->body_case, SLAVE_REFUSE_SENDER,
                      "refused %s from node %u: not a peer",
                            vmca_body_name(env->body_case), from);
        return VMCA_ERR_AUTH;
    }
    if (who == FROM_MASTER && (!from_master || from != s->master)) {
        slave_refused(s, from, (int)env->body_case, SLAVE_REFUSE_SENDER,
                            "refused %s from node %u: only the master sends it",
                            vmca_body_name(env->body_case), from);
        return VMCA_ERR_AUTH;
    }
    switch (env->body_case) {
    case VMCA__ENVELOPE__BODY_CENSUS:
        return slave_on_census(s, from, from_master, env->census, now_ms);
    case VMCA__ENVELOPE__BODY_CENSUS_REPLY:
        return slave_on_census_reply(s, from, env->census_reply);
    case VMCA__ENVELOPE__BODY_GRANT:
        return slave_on_grant(s, from, env->incarnation, env->grant, now_ms);
    case VMCA__ENVELOPE__BODY_GRANT_ACK:
        return slave_on_grant_ack(s, from, env->grant_ack, now_ms);
    case VMCA__ENVELOPE__BODY_ENABLE_NODE:
        return slave_on_enable(s, env->enable_node, now_ms);
    case VMCA__ENVELOPE__BODY_GRANT_FWD:
        return slave_on_grant_fwd(s, env->grant_fwd);
    case VMCA__ENVELOPE__BODY_FORCE_RETURN:
        return slave_on_force_return(s, env->force_return);
    case VMCA__ENVELOPE__BODY_LEAVE_NOTIFY:
        return slave_on_leave_notify(s);
    case VMCA__ENVELOPE__BODY_INVALIDATE_NODE:
        return slave_on_invalidate_node(s, env->invalidate_node);
    case VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY:
        return slave_on_invalidate_notify(s);
    case VMCA__ENVELOPE__BODY_MEM_LIMIT:
        return slave_on_mem_limit(s, env->mem_limit);
    case VMCA__ENVELOPE__BODY_VM_LIMITS:
        return slave_on_vm_limits(s, env->vm_limits);
    case VMCA__ENVELOPE__BODY_LEAVE_ASK:
        return slave_on_leave_ask(s, now_ms);
    case VMCA__ENVELOPE__BODY_JOIN_ASK:
        return slave_on_join_ask(s);
    default:
        slave_refused(s, s->master, (int)env->body_case, SLAVE_REFUSE_UNHANDLED,
                            "refused %s from the master: not handled by this slave yet",
                            vmca_body_name(env->body_case));
        return VMCA_ERR_STATE;
    }
}

void slave_core_on_tick(struct slave_core *s, int64_t now_ms)
{
    if (s->hv_news) {
        s->hv_news = false;
        s->hv_heard_ms = now_ms;
    }
    int64_t patience = 5 * (int64_t)s->cfg->timing.stats_interval_ms;
    if (now_ms >= s->tr.next_resend_ms) {
        /* Unacknowledged transfers go out again (the receiver dedups). */
        for (size_t i = 0; i < s->xfers.n_out; i++)
            slave_send_grant(s, &s->xfers.out[i]);
        s->tr.next_resend_ms = now_ms + patience;
    }
    if (s->tr.grant_any_req && now_ms - s->tr.grant_any_ms > patience)
        s->tr.grant_any_req = 0; /* no answer: the master may ask donors again */
    if (s->ft.sample_fresh) {
        s->ft.sample_fresh = false;
        slave_first_tier(s, now_ms);
        slave_give_surplus(s); /* after the policy: it may have asked for pages */
    }
    slave_run_returns(s);
    slave_census_tick(s, now_ms);
    /* Handovers are remembered for two census timeouts. */
    size_t kept = 0;
    for (size_t i = 0; i < s->tr.n_recent; i++)
        if (now_ms - s->tr.recent[i].acked_ms <= 2 * patience)
            s->tr.recent[kept++] = s->tr.recent[i];
    s->tr.n_recent = kept;
    if (!s->master_up || s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return;
    if (now_ms < s->next_stats_ms)
        return;
    slave_vouch_statistics(s, now_ms);
    s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
}
