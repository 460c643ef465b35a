/* Slave core; see slave_core.h. */
#include "slave_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gfn.h"
#include "pbblocks.h"

/* A refused message is logged once per sender and message type: a peer that
 * keeps sending bad messages cannot flood the log. */
static void refused(struct slave_core *s, uint32_t from, int body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refused(struct slave_core *s, uint32_t from, int body, const char *fmt, ...)
{
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
    s->next_hc_id = 1;
    s->next_req = 1;
    s->hv_heard_ms = -1;
    if (vmca_bitmap_init(&s->enabled, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK)
        return VMCA_ERR_NOMEM;
    s->frozen_until = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof *s->frozen_until);
    s->refused_logged = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof *s->refused_logged);
    s->census_round = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof *s->census_round);
    if (!s->frozen_until || !s->refused_logged || !s->census_round || xfer_init(&s->xfers, cfg->n_nodes) != VMCA_OK ||
        vmca_bitmap_init(&s->returning, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->return_pending, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->return_stuck, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->census.waiting, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->invalidated, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK ||
        vmca_bitmap_init(&s->leaving_peers, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK) {
        slave_core_free(s);
        return VMCA_ERR_NOMEM;
    }
    vmca_outbox_init(&s->out, self->id, incarnation, cfg->max_frame);
    return VMCA_OK;
}

static void hv_sample_free(struct tkm_sample *hv)
{
    free(hv->owned);
    free(hv->lent);
    free(hv->vms);
    *hv = (struct tkm_sample){0};
}

static void *dup_array(const void *src, size_t n, size_t size, bool *fail)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n * size);
    if (!p)
        *fail = true;
    else
        memcpy(p, src, n * size);
    return p;
}

static void send_to_master(struct slave_core *s, Vmca__Envelope *env);
static void send_register(struct slave_core *s);
static void maybe_join(struct slave_core *s);
static void queue_hcall(struct slave_core *s, enum tkm_call_kind kind, uint32_t node,
                        uint64_t pages, bool enable, const struct vmca_block *blocks,
                        size_t n_blocks);
static void hcall_owners(struct slave_core *s, const uint32_t *owners, size_t n);
static void send_limits(struct slave_core *s);
static void fit_targets(struct slave_core *s, uint64_t limit);
static uint64_t targets_limit(const struct slave_core *s);
static void expect_reply(struct slave_core *s, struct slave_pending p);
static void send_census(struct slave_core *s, uint32_t to, uint32_t home, uint64_t round,
                        const struct vmca_block *blocks, size_t n, bool reply);
static void freeze_home(struct slave_core *s, uint32_t home, int64_t until_ms);

static void send_invalidate(struct slave_core *s)
{
    Vmca__Invalidate inv = VMCA__INVALIDATE__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE;
    env.invalidate = &inv;
    send_to_master(s, &env);
}

/* Takes our own pages back and registers once the hypervisor has answered
 * (hypercalls run in order: the Invalidates queued before ran first). A
 * stopped or slow hypervisor must not be a member again while it still
 * holds claims the homes have taken back since. */
static void reclaim_then_register(struct slave_core *s)
{
    queue_hcall(s, TKM_CALL_RECLAIM, s->self->id, 0, false, NULL, 0);
    hcall_owners(s, NULL, 0);
    expect_reply(s, (struct slave_pending){.kind = TKM_CALL_RECLAIM, .peer = s->self->id});
    s->register_after_hc = s->next_hc_id - 1;
    s->reclaim_own = false;
}

/* Drops our claims on every other home: every home, not only those of
 * the last sample (pages may have arrived since). */
static void drop_foreign_claims(struct slave_core *s)
{
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->cfg->nodes[i].id != s->self->id)
            queue_hcall(s, TKM_CALL_INVALIDATE, s->cfg->nodes[i].id, 0, false, NULL, 0);
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
    vmca_bitmap_clear_all(&s->returning);
    vmca_bitmap_clear_all(&s->return_pending);
    vmca_bitmap_clear_all(&s->enabled);
    s->census.running = false;
    /* Nothing of ours or theirs stays frozen by a census of this life. */
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        freeze_home(s, s->cfg->nodes[i].id, 0);
    s->grant_any_req = 0;
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
    vmca_bitmap_clear_all(&s->returning);
    vmca_bitmap_clear_all(&s->return_pending);
    s->n_pend = 0;
    s->register_after_hc = 0;
    s->requesting = 0; /* their replies will not come */
    s->grant_any_req = 0;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return; /* not a member yet: a plain Register follows */
    s->state = VMCA__NODE_STATE__NODE_RECOVERY;
    if (s->master_up)
        send_invalidate(s);
}

static bool uses_targets(const struct slave_core *s);

static bool has_target(const struct slave_core *s, uint32_t vm)
{
    return targets_find(s->targets, s->n_targets, vm) != NULL;
}

/* A slave that starts on a running hypervisor (it restarted) takes the
 * targets the hypervisor enforces as its own, so they stay within the
 * pages owned from the first page that leaves. */
static void adopt_targets(struct slave_core *s)
{
    if (s->n_targets || !uses_targets(s))
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        n += s->hv.vms[i].target != VM_TARGET_UNLIMITED;
    struct vm_target *t = n ? malloc(n * sizeof *t) : NULL;
    if (!t)
        return;
    free(s->targets);
    s->targets = t;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        if (s->hv.vms[i].target != VM_TARGET_UNLIMITED)
            s->targets[s->n_targets++] = (struct vm_target){s->hv.vms[i].vm,
                                                            s->hv.vms[i].target, false};
}

/* A VM the hypervisor reports with no target of ours (it connected since
 * the last period, or this slave just started) gets a provisional target
 * at once: the room the policy's targets leave under the limit, split
 * evenly among the VMs with a provisional one. Until the policy's next
 * period it would otherwise put without bound, past a Mem-Limit cap. A VM
 * reported unlimited although it has a target here (it reconnected under
 * the same id) gets it again. */
static void target_new_vms(struct slave_core *s)
{
    if (!uses_targets(s))
        return;
    size_t fresh = 0;
    bool resend = false;
    for (size_t v = 0; v < s->hv.n_vms; v++) {
        if (!has_target(s, s->hv.vms[v].vm))
            fresh++;
        else if (s->hv.vms[v].target == VM_TARGET_UNLIMITED)
            resend = true;
    }
    if (fresh) {
        struct vm_target *t = realloc(s->targets, (s->n_targets + fresh) * sizeof *t);
        if (!t)
            return; /* they stay unlimited until the next period */
        s->targets = t;
        for (size_t v = 0; v < s->hv.n_vms; v++)
            if (!has_target(s, s->hv.vms[v].vm))
                s->targets[s->n_targets++] = (struct vm_target){s->hv.vms[v].vm, 0, true};
        uint64_t limit = targets_limit(s), firm = 0;
        size_t n_prov = 0;
        for (size_t i = 0; i < s->n_targets; i++) {
            if (s->targets[i].provisional)
                n_prov++;
            else
                firm += s->targets[i].pages;
        }
        uint64_t share = firm < limit ? (limit - firm) / n_prov : 0;
        for (size_t i = 0; i < s->n_targets; i++)
            if (s->targets[i].provisional)
                s->targets[i].pages = share;
    }
    if (fresh || resend)
        send_limits(s);
}

/* A sample of the same period (pushed when a VM connected) arrived before
 * the policy ran on the one that ended the period: the policy must still
 * see that period's counts, not the few since. */
static void keep_period_counts(struct tkm_sample *now, const struct tkm_sample *ended)
{
    for (size_t v = 0; v < now->n_vms; v++)
        for (size_t e = 0; e < ended->n_vms; e++)
            if (ended->vms[e].vm == now->vms[v].vm) {
                now->vms[v].puts_total = ended->vms[e].puts_total;
                now->vms[v].puts_succ = ended->vms[e].puts_succ;
                now->vms[v].gets = ended->vms[e].gets;
                now->vms[v].flushes = ended->vms[e].flushes;
                break;
            }
}

/* Targets of VMs the hypervisor no longer reports are dropped: a Mem-Limit
 * naming an unknown VM is refused whole. */
static void forget_gone_vms(struct slave_core *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_targets; i++) {
        bool present = false;
        for (size_t v = 0; v < s->hv.n_vms && !present; v++)
            present = s->hv.vms[v].vm == s->targets[i].vm;
        if (present)
            s->targets[k++] = s->targets[i];
    }
    s->n_targets = k;
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
    bool fail = false;
    struct tkm_sample copy = *in;
    copy.owned = dup_array(in->owned, in->n_owned, sizeof *in->owned, &fail);
    copy.lent = dup_array(in->lent, in->n_lent, sizeof *in->lent, &fail);
    copy.vms = dup_array(in->vms, in->n_vms, sizeof *in->vms, &fail);
    if (fail) {
        hv_sample_free(&copy);
        return VMCA_ERR_NOMEM;
    }
    bool new_period = !in->period || in->period != s->hv_period;
    if (!new_period && s->sample_fresh)
        keep_period_counts(&copy, &s->hv);
    hv_sample_free(&s->hv);
    s->hv = copy;
    bool was_up = s->hv_up;
    s->hv_up = true;
    s->hv_news = true;
    if (new_period)
        s->sample_fresh = true;
    s->hv_period = in->period;
    s->owned_now = in->total_pages;
    s->unsettled = 0; /* replies and samples come in order: this one has them all */
    adopt_targets(s);
    forget_gone_vms(s);
    fit_targets(s, targets_limit(s)); /* stale claims may have gone */
    target_new_vms(s);
    if (s->limits_stale) {
        s->limits_stale = false;
        send_limits(s);
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
    hv_sample_free(&s->hv);
    s->hv_up = false;
    s->hv_news = false;
    if (vmca_state_member(s->state))
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "hypervisor down: no statistics to the master until it is back (the "
                    "master declares this node failed)");
    s->hv_period = 0; /* a restarted hypervisor counts its periods from 1 again */
}

void slave_core_free(struct slave_core *s)
{
    hv_sample_free(&s->hv);
    xfer_free(&s->xfers);
    vmca_bitmap_free(&s->enabled);
    vmca_bitmap_free(&s->returning);
    vmca_bitmap_free(&s->return_pending);
    vmca_bitmap_free(&s->return_stuck);
    vmca_bitmap_free(&s->census.waiting);
    vmca_bitmap_free(&s->invalidated);
    vmca_bitmap_free(&s->leaving_peers);
    free(s->census.held);
    free(s->census.owners);
    free(s->frozen_until);
    free(s->refused_logged);
    free(s->census_round);
    free(s->recent);
    free(s->targets);
    tkm_calls_free(s->hc, s->n_hc);
    free(s->pend);
    vmca_outbox_free(&s->out);
}

bool slave_core_enabled(const struct slave_core *s, uint32_t node)
{
    return vmca_bitmap_test(&s->enabled, node);
}

static void send_to_master(struct slave_core *s, Vmca__Envelope *env)
{
    int rc = vmca_outbox_send(&s->out, s->master, env);
    if (rc != VMCA_OK)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "cannot queue %s: %s",
                    vmca_body_name(env->body_case), vmca_strerror(rc));
}

static void send_leave_req(struct slave_core *s)
{
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_REQ;
    env.leave_req = &lr;
    send_to_master(s, &env);
}

static void send_register(struct slave_core *s)
{
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = s->self->id;
    reg.local_pages = s->self->tmem_pages;
    reg.location = (uint32_t *)s->self->location;
    reg.n_location = s->self->location_len;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    send_to_master(s, &env);
}

/* HomePages entries for `n` tkm_pages, in `store` (pointers in `ptrs`). */
static void home_pages(const struct tkm_pages *in, size_t n, Vmca__HomePages *store,
                       Vmca__HomePages **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        vmca__home_pages__init(&store[i]);
        store[i].node = in[i].node;
        store[i].pages = in[i].pages;
        ptrs[i] = &store[i];
    }
}

int64_t slave_core_hv_silence_ms(const struct vmca_config *cfg)
{
    int64_t half = (int64_t)cfg->timing.failure_timeout_ms / 2;
    int64_t two = 2 * (int64_t)cfg->timing.stats_interval_ms;
    return half > two ? half : two;
}

/* Whether the hypervisor answers, so that our Statistics may vouch for the
 * node: it is connected and has said something recently. */
static bool hv_answers(const struct slave_core *s, int64_t now_ms)
{
    return s->hv_up && (s->hv_news || (s->hv_heard_ms >= 0 &&
                                        now_ms - s->hv_heard_ms <= slave_core_hv_silence_ms(s->cfg)));
}

static void send_statistics(struct slave_core *s)
{
    const struct tkm_sample *hv = &s->hv;
    size_t n_enabled = vmca_bitmap_count(&s->enabled);
    size_t n_pages = hv->n_owned + hv->n_lent;
    uint32_t *enabled = malloc((n_enabled ? n_enabled : 1) * sizeof *enabled);
    Vmca__HomePages *hp = malloc((n_pages ? n_pages : 1) * sizeof *hp);
    Vmca__HomePages **hpp = malloc((n_pages ? n_pages : 1) * sizeof *hpp);
    Vmca__VmStats *vs = malloc((hv->n_vms ? hv->n_vms : 1) * sizeof *vs);
    Vmca__VmStats **vsp = malloc((hv->n_vms ? hv->n_vms : 1) * sizeof *vsp);
    if (!enabled || !hp || !hpp || !vs || !vsp) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory building statistics");
        goto out;
    }
    /* The enabled set as bytes, up to the highest configured node id. */
    uint32_t max_id = 0;
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->cfg->nodes[i].id > max_id)
            max_id = s->cfg->nodes[i].id;
    size_t nbytes = max_id / 8 + 1;
    uint8_t *bits = calloc(nbytes, 1);
    if (!bits) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory building statistics");
        goto out;
    }
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b <= max_id && b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        bits[b / 8] |= (uint8_t)(1u << (b % 8));
    home_pages(hv->owned, hv->n_owned, hp, hpp);
    home_pages(hv->lent, hv->n_lent, hp + hv->n_owned, hpp + hv->n_owned);
    for (size_t i = 0; i < hv->n_vms; i++) {
        vmca__vm_stats__init(&vs[i]);
        vs[i].vm = hv->vms[i].vm;
        vs[i].tmem_used = hv->vms[i].used;
        vs[i].mm_target = hv->vms[i].target;
        vs[i].puts_total = hv->vms[i].puts_total;
        vs[i].puts_succ = hv->vms[i].puts_succ;
        vs[i].gets = hv->vms[i].gets;
        vs[i].flushes = hv->vms[i].flushes;
        vsp[i] = &vs[i];
    }
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.total_pages = hv->total_pages;
    st.free_pages = hv->free_pages;
    st.owned = hpp;
    st.n_owned = hv->n_owned;
    st.lent = hpp + hv->n_owned;
    st.n_lent = hv->n_lent;
    st.vms = vsp;
    st.n_vms = hv->n_vms;
    st.enabled_bitmap.data = bits;
    st.enabled_bitmap.len = nbytes;
    st.state = s->state;
    st.pending_transfers = (uint32_t)s->xfers.n_out;
    st.unsettled = s->unsettled;
    st.census_owed = s->invalidates > s->census_covered;
    st.period = ++s->period;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    send_to_master(s, &env);
    free(bits);
out:
    free(enabled);
    free(hp);
    free(hpp);
    free(vs);
    free(vsp);
}

/* Statistics, if the hypervisor answers; else none (said once per
 * silence): the master must not count a node whose hypervisor is down or
 * hung as alive. */
static void vouch_statistics(struct slave_core *s, int64_t now_ms)
{
    if (!hv_answers(s, now_ms)) {
        if (!s->hv_silent_logged && s->hv_up)
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                        "hypervisor silent for %lld ms: no statistics to the master until it "
                        "answers (the master declares this node failed)",
                        (long long)(now_ms - s->hv_heard_ms));
        s->hv_silent_logged = true;
        return;
    }
    if (s->hv_silent_logged)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "hypervisor answers again: statistics resume");
    s->hv_silent_logged = false;
    send_statistics(s);
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
    send_register(s);
}

void slave_core_on_master_up(struct slave_core *s, int64_t now_ms)
{
    s->master_up = true;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
        maybe_join(s);
    } else if (s->state == VMCA__NODE_STATE__NODE_RECOVERY) {
        send_invalidate(s);
    } else {
        vouch_statistics(s, now_ms);
        s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
        if (s->state == VMCA__NODE_STATE__NODE_LEAVING)
            send_leave_req(s);
    }
}

void slave_core_on_master_down(struct slave_core *s, int64_t now_ms)
{
    s->master_up = false;
    /* The cap holds while connected to the master that set it: that master
     * sends it again on reconnect, a restarted one (which keeps none) does
     * not, and a lift sent while we were cut off is not missed. */
    s->mem_cap = 0;
}

/* ---- hypercalls ---- */

static void queue_hcall(struct slave_core *s, enum tkm_call_kind kind, uint32_t node,
                        uint64_t pages, bool enable, const struct vmca_block *blocks,
                        size_t n_blocks)
{
    if (s->n_hc == s->cap_hc) {
        size_t cap = s->cap_hc ? s->cap_hc * 2 : 16;
        struct tkm_call *v = realloc(s->hc, cap * sizeof *v);
        if (!v)
            goto nomem;
        s->hc = v;
        s->cap_hc = cap;
    }
    struct vmca_block *copy = NULL;
    if (n_blocks) {
        copy = malloc(n_blocks * sizeof *copy);
        if (!copy)
            goto nomem;
        memcpy(copy, blocks, n_blocks * sizeof *copy);
    }
    s->hc[s->n_hc++] = (struct tkm_call){s->next_hc_id++, kind, node, pages, enable,
                                            copy, n_blocks, NULL, NULL, 0};
    /* Their replies change the pages owned here (first tier). */
    if (kind == TKM_CALL_INVALIDATE || kind == TKM_CALL_RECLAIM)
        expect_reply(s, (struct slave_pending){.kind = kind, .peer = node});
    return;
nomem:
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory queueing a hypercall");
}

/* Remembers what the last queued hypercall is for. */
static void expect_reply(struct slave_core *s, struct slave_pending p)
{
    if (s->n_pend == s->cap_pend) {
        size_t cap = s->cap_pend ? s->cap_pend * 2 : 16;
        struct slave_pending *v = realloc(s->pend, cap * sizeof *v);
        if (!v) {
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory");
            return;
        }
        s->pend = v;
        s->cap_pend = cap;
    }
    p.id = s->next_hc_id - 1;
    s->pend[s->n_pend++] = p;
}

struct tkm_call *slave_core_take_hcalls(struct slave_core *s, size_t *n)
{
    struct tkm_call *v = s->hc;
    *n = s->n_hc;
    s->hc = NULL;
    s->n_hc = s->cap_hc = 0;
    return v;
}

/* The last queued hypercall also carries owners (copied). */
static void hcall_owners(struct slave_core *s, const uint32_t *owners, size_t n)
{
    struct tkm_call *h = &s->hc[s->n_hc - 1];
    h->owners = malloc((n ? n : 1) * sizeof *owners);
    if (h->owners && n)
        memcpy(h->owners, owners, n * sizeof *owners);
    else
        h->n_blocks = 0; /* no owners: the shell fails the call (never an empty census) */
}

void slave_core_on_hv_up(struct slave_core *s)
{
    /* A hypervisor lifts the freezes of a manager whose channel closed:
     * the censuses still running here freeze again. */
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->frozen_until[i])
            queue_hcall(s, TKM_CALL_FREEZE, s->cfg->nodes[i].id, 0, true, NULL, 0);
    if (s->register_after_hc)
        drop_and_reclaim_again(s); /* the channel dropped before the answer */
    /* Enabled homes, and our own memory's remote access when we are a
     * member (a hypervisor that restarted is a new memory: node_crashed
     * takes us out of Active first). */
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        if (b != s->self->id || s->state == VMCA__NODE_STATE__NODE_ACTIVE)
            queue_hcall(s, TKM_CALL_ENABLE, (uint32_t)b, 0, true, NULL, 0);
}

/* ---- grants ---- */

static void send_grant(struct slave_core *s, const struct xfer_out *x)
{
    struct vmca_pb_blocks pb;
    if (vmca_pb_blocks_make(&pb, x->blocks, x->n) != VMCA_OK)
        return; /* resent later */
    Vmca__Grant g = VMCA__GRANT__INIT;
    g.xfer = x->xfer;
    g.blocks = pb.ptrs;
    g.n_blocks = pb.n;
    g.req = x->req;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = &g;
    vmca_outbox_send(&s->out, x->to, &env);
    vmca_pb_blocks_free(&pb);
}

/* Starts transfer of `blocks` to `to` and sends it. */
static void transfer(struct slave_core *s, uint32_t to, uint64_t req,
                     const struct vmca_block *blocks, size_t n)
{
    struct xfer_out *x = xfer_add(&s->xfers, to, req, blocks, n);
    if (!x) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR,
                    "out of memory: %zu blocks for node %u are lost", n, to);
        return;
    }
    /* Per-transfer lines are debug: at info a busy node would flood its log. */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_DEBUG, "grant %llu: %llu pages to node %u",
                (unsigned long long)x->xfer, (unsigned long long)x->pages, to);
    send_grant(s, x);
}

static bool peer_active(const struct slave_core *s, uint32_t node)
{
    return node != s->self->id && vmca_config_node_by_id(s->cfg, node) &&
           vmca_bitmap_test(&s->enabled, node);
}

static int on_grant_fwd(struct slave_core *s, const Vmca__GrantFwd *gf)
{
    if (gf->donor != s->self->id || !peer_active(s, gf->requester) || gf->pages == 0 ||
        s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_GRANT_FWD,
                "refused grant-fwd: donor %u, requester %u, %llu pages", gf->donor,
                    gf->requester, (unsigned long long)gf->pages);
        return VMCA_ERR_INVAL;
    }
    /* The targets fit what stays here before the pages go (hypercalls run
     * in order), so the hypervisor never enforces more than is owned. */
    s->requesting += gf->pages;
    fit_targets(s, targets_limit(s));
    queue_hcall(s, TKM_CALL_REQUEST, gf->requester, gf->pages, false, NULL, 0);
    expect_reply(s, (struct slave_pending){.kind = TKM_CALL_REQUEST, .peer = gf->requester,
                                           .req = gf->req, .pages = gf->pages});
    return VMCA_OK;
}

static void send_grant_ack(struct slave_core *s, uint32_t to, uint64_t xfer, uint64_t accepted,
                           const struct vmca_block *bounced, size_t n_bounced)
{
    struct vmca_pb_blocks pb;
    if (vmca_pb_blocks_make(&pb, bounced, n_bounced) != VMCA_OK)
        return; /* the sender resends; we ack then */
    Vmca__GrantAck ack = VMCA__GRANT_ACK__INIT;
    ack.xfer = xfer;
    ack.accepted = accepted;
    ack.bounced = pb.ptrs;
    ack.n_bounced = pb.n;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ACK;
    env.grant_ack = &ack;
    vmca_outbox_send(&s->out, to, &env);
    vmca_pb_blocks_free(&pb);
}

static size_t node_index(const struct slave_core *s, uint32_t node)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_id(s->cfg, node);
    return n ? (size_t)(n - s->cfg->nodes) : s->cfg->n_nodes;
}

static int on_grant(struct slave_core *s, uint32_t from, uint64_t inc, const Vmca__Grant *g,
                    int64_t now_ms)
{
    size_t idx = node_index(s, from);
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
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE ||
        (!all_own && !vmca_bitmap_test(&s->enabled, from) &&
         !vmca_bitmap_test(&s->leaving_peers, from))) {
        refused(s, from, VMCA__ENVELOPE__BODY_GRANT,
                "refused grant %llu from node %u: %s", (unsigned long long)g->xfer, from,
                    s->state == VMCA__NODE_STATE__NODE_INACTIVE ? "not active yet"
                                                                : "sender not enabled");
        return VMCA_ERR_STATE;
    }
    if (g->n_blocks == 0 || g->n_blocks > 8192) {
        refused(s, from, VMCA__ENVELOPE__BODY_GRANT,
                "refused grant %llu from node %u: %zu blocks (1..8192 allowed)",
                    (unsigned long long)g->xfer, from, g->n_blocks);
        return VMCA_ERR_PROTO;
    }
    struct vmca_block *b = malloc(g->n_blocks * sizeof *b);
    if (!b)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < g->n_blocks; i++) {
        b[i].gfn = g->blocks[i]->gfn;
        b[i].order = g->blocks[i]->order;
        b[i].generation = g->blocks[i]->generation;
        if (!vmca_block_valid(b[i].gfn, b[i].order, 0)) {
            refused(s, from, VMCA__ENVELOPE__BODY_GRANT,
                    "refused grant %llu from node %u: block %zu is malformed",
                        (unsigned long long)g->xfer, from, i);
            free(b);
            return VMCA_ERR_PROTO;
        }
    }
    queue_hcall(s, TKM_CALL_GRANT, from, 0, false, b, g->n_blocks);
    expect_reply(s, (struct slave_pending){.kind = TKM_CALL_GRANT, .peer = from,
                                           .peer_inc = inc, .xfer = g->xfer,
                                           .grant_req = g->req});
    xfer_mark(&s->xfers, idx, inc, g->xfer, XFER_PENDING, 0);
    free(b);
    return VMCA_OK;
}

static void remember_handover(struct slave_core *s, uint64_t xfer, uint32_t to, int64_t now_ms)
{
    for (size_t i = 0; i < s->xfers.n_out; i++) {
        const struct xfer_out *x = &s->xfers.out[i];
        if (x->xfer != xfer || x->to != to)
            continue;
        for (size_t b = 0; b < x->n; b++) {
            if (s->n_recent == s->cap_recent) {
                size_t cap = s->cap_recent ? s->cap_recent * 2 : 64;
                struct slave_recent *v = realloc(s->recent, cap * sizeof *v);
                if (!v)
                    return;
                s->recent = v;
                s->cap_recent = cap;
            }
            s->recent[s->n_recent++] = (struct slave_recent){x->blocks[b], to, now_ms};
        }
        return;
    }
}

static int on_grant_ack(struct slave_core *s, uint32_t from, const Vmca__GrantAck *ack,
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

static void census_add(struct slave_core *s, struct vmca_block b, uint32_t owner);
static void census_finish(struct slave_core *s);

static void reply_request(struct slave_core *s, const struct slave_pending *p,
                          const struct tkm_reply *r)
{
    if (r->status != 0 || r->n_blocks == 0) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "cannot serve node %u (req %llu): the hypervisor gave no pages (%d)",
                    p->peer, (unsigned long long)p->req, r->status);
        if (s->census.running && s->census.finish_waits)
            census_finish(s);
        return;
    }
    transfer(s, p->peer, p->req, r->blocks, r->n_blocks);
    struct slave_census *c = &s->census;
    if (c->running) {
        for (size_t b = 0; b < r->n_blocks; b++)
            if (vmca_gfn_home(r->blocks[b].gfn) == s->self->id)
                census_add(s, r->blocks[b], p->peer);
        if (c->finish_waits)
            census_finish(s);
    }
}

static void reply_grant(struct slave_core *s, const struct slave_pending *p,
                        const struct tkm_reply *r)
{
    size_t idx = node_index(s, p->peer);
    if (r->status != 0 || r->n_results == 0) {
        /* Not applied (hypervisor down or out of memory): forget we saw it
         * so the sender's resend is applied later. */
        xfer_mark(&s->xfers, idx, p->peer_inc, p->xfer, XFER_NEW, 0);
        return;
    }
    /* Bounced blocks (home disabled here) go back to their homes. */
    struct vmca_block *bounced = malloc(r->n_results * sizeof *bounced);
    size_t nb = 0, rejected = 0;
    for (size_t i = 0; bounced && i < r->n_results; i++) {
        if (r->results[i] == TKM_GRANT_BOUNCED && i < r->n_blocks)
            bounced[nb++] = r->blocks[i];
        else if (r->results[i] != TKM_GRANT_ACCEPTED)
            rejected++; /* rejected, or bounced with no block to send home */
    }
    /* A sender of blocks it does not hold must not flood the log. */
    if (rejected)
        refused(s, p->peer, VMCA__ENVELOPE__BODY_GRANT_ACK,
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
        size_t hi = node_index(s, home);
        if (hi < s->cfg->n_nodes && s->frozen_until[hi] && s->census_round[hi])
            send_census(s, home, home, s->census_round[hi], &r->blocks[i], 1, true);
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
            transfer(s, home, 0, bounced + i, j - i);
        i = j;
    }
    free(bounced);
    if (p->grant_req && p->grant_req == s->grant_any_req)
        s->grant_any_req = 0; /* served (maybe in part): the policy may ask again */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_DEBUG,
                "grant %llu from node %u applied: %llu pages", (unsigned long long)p->xfer,
                p->peer, (unsigned long long)r->pages);
}

static void ask_pages(struct slave_core *s, uint64_t pages, int64_t now_ms, const char *why);

/* Pages of home p->peer released by the hypervisor go home in a transfer;
 * in-use pages that cannot move (nowhere free) make us ask for pages. */
static void reply_return(struct slave_core *s, const struct slave_pending *p,
                         const struct tkm_reply *r, int64_t now_ms)
{
    vmca_bitmap_clear(&s->return_pending, p->peer);
    if (r->n_blocks)
        transfer(s, p->peer, 0, r->blocks, r->n_blocks);
    if (r->status != 0) {
        if (!vmca_bitmap_test(&s->return_stuck, p->peer))
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                        "returning pages of node %u: in-use pages cannot move yet (%d); "
                        "%s and trying again", p->peer, r->status,
                        s->state == VMCA__NODE_STATE__NODE_ACTIVE ? "asking for room"
                                                                   : "waiting");
        vmca_bitmap_set(&s->return_stuck, p->peer);
        uint64_t held = 0;
        for (size_t i = 0; i < s->hv.n_owned; i++)
            if (s->hv.owned[i].node == p->peer)
                held = s->hv.owned[i].pages;
        ask_pages(s, held, now_ms, "pages to return cannot move");
    } else if (r->done) {
        vmca_bitmap_clear(&s->returning, p->peer);
        vmca_bitmap_clear(&s->return_stuck, p->peer);
    }
}

/* One Return hypercall in flight per home being returned. */
static void run_returns(struct slave_core *s)
{
    if (s->state == VMCA__NODE_STATE__NODE_LEAVING)
        for (size_t i = 0; i < s->hv.n_owned; i++)
            if (s->hv.owned[i].node != s->self->id && s->hv.owned[i].pages)
                vmca_bitmap_set(&s->returning, s->hv.owned[i].node);
    for (size_t h = vmca_bitmap_next_set(&s->returning, 0); h < s->returning.nbits;
         h = vmca_bitmap_next_set(&s->returning, h + 1)) {
        if (vmca_bitmap_test(&s->return_pending, h) || h == s->self->id)
            continue;
        vmca_bitmap_set(&s->return_pending, h);
        queue_hcall(s, TKM_CALL_RETURN, (uint32_t)h, 256, false, NULL, 0);
        expect_reply(s, (struct slave_pending){.kind = TKM_CALL_RETURN, .peer = (uint32_t)h});
    }
}

bool slave_core_leave(struct slave_core *s, int64_t now_ms)
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
                queue_hcall(s, TKM_CALL_ENABLE, (uint32_t)b, 0, false, NULL, 0);
    }
    send_leave_req(s);
    run_returns(s);
    return false;
}

static int on_force_return(struct slave_core *s, const Vmca__ForceReturn *fr)
{
    uint32_t r = fr->node;
    if (r == s->self->id || !vmca_config_node_by_id(s->cfg, r)) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_FORCE_RETURN, "refused force-return of node %u", r);
        return VMCA_ERR_INVAL;
    }
    if (vmca_bitmap_test(&s->enabled, r)) {
        vmca_bitmap_clear(&s->enabled, r);
        queue_hcall(s, TKM_CALL_ENABLE, r, 0, false, NULL, 0);
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "force-return of node %u: returning its pages", r);
    }
    vmca_bitmap_set(&s->returning, r);
    vmca_bitmap_set(&s->leaving_peers, r);
    run_returns(s);
    return VMCA_OK;
}

/* ---- census (leak-free recovery) ---- */

/* Pages of `home` stay put (no Request gives them) until `until_ms`, or
 * until the home says its census is done (until_ms = 0). */
static void freeze_home(struct slave_core *s, uint32_t home, int64_t until_ms)
{
    size_t idx = node_index(s, home);
    if (idx >= s->cfg->n_nodes)
        return;
    bool was = s->frozen_until[idx] != 0;
    s->frozen_until[idx] = until_ms;
    if (was != (until_ms != 0))
        queue_hcall(s, TKM_CALL_FREEZE, home, 0, until_ms != 0, NULL, 0);
}

static void census_add(struct slave_core *s, struct vmca_block b, uint32_t owner)
{
    struct slave_census *c = &s->census;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct vmca_block *h = realloc(c->held, cap * sizeof *h);
        if (h)
            c->held = h;
        uint32_t *o = h ? realloc(c->owners, cap * sizeof *o) : NULL;
        if (!o) {
            c->running = false; /* give up this round rather than reclaim wrongly */
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "census: out of memory");
            return;
        }
        c->owners = o;
        c->cap = cap;
    }
    c->held[c->n] = b;
    c->owners[c->n++] = owner;
}

static void send_census(struct slave_core *s, uint32_t to, uint32_t home, uint64_t round,
                        const struct vmca_block *blocks, size_t n, bool reply)
{
    struct vmca_pb_blocks pb;
    if (vmca_pb_blocks_make(&pb, blocks, n) != VMCA_OK)
        return;
    Vmca__Census c = VMCA__CENSUS__INIT;
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    if (reply) {
        cr.home = home;
        cr.round = round;
        cr.blocks = pb.ptrs;
        cr.n_blocks = pb.n;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
        env.census_reply = &cr;
    } else {
        c.home = home;
        c.round = round;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
        env.census = &c;
    }
    vmca_outbox_send(&s->out, to, &env);
    vmca_pb_blocks_free(&pb);
}

/* The census of our home is over (done or given up): pages move again. */
static void census_end(struct slave_core *s)
{
    struct slave_census *c = &s->census;
    c->running = false;
    freeze_home(s, s->self->id, 0);
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

static void census_finish(struct slave_core *s)
{
    struct slave_census *c = &s->census;
    /* A Request hypercall queued before the freeze may still give pages of
     * ours away (a slow or stopped hypervisor answers late): reclaiming now
     * would take back pages that are about to be in transit. Finish once
     * it is answered (reply_request adds what it gave). */
    c->finish_waits = s->requesting > 0;
    if (c->finish_waits)
        return;
    /* Recent handovers are reported conservatively (the receiver may have
     * lost them since): one more census once they are forgotten takes back
     * what this one had to leave. */
    if (!c->followup)
        s->census_retry_ms = c->started_ms + 20 * (int64_t)s->cfg->timing.stats_interval_ms;
    queue_hcall(s, TKM_CALL_RECLAIM, s->self->id, 0, false, c->held, c->n);
    hcall_owners(s, c->owners, c->n);
    if (c->invalidates_at_start > s->census_covered)
        s->census_covered = c->invalidates_at_start;
    census_end(s); /* after the reclaim: hypercalls run in order */
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                "census %llu: %zu blocks of ours held by live nodes; taking back the rest",
                (unsigned long long)c->round, c->n);
}

/* The master says: run the census of our home, asking `members` (or, when
 * it names none, every node we have enabled). */
static void census_start(struct slave_core *s, const uint32_t *members, size_t n_members,
                         bool followup, int64_t now_ms)
{
    struct slave_census *c = &s->census;
    c->round++;
    c->running = true;
    c->invalidates_at_start = s->invalidates;
    c->followup = followup;
    c->finish_waits = false;
    c->started_ms = now_ms;
    c->n = 0;
    /* Our own pages stop circulating first (hypercalls run in order). */
    freeze_home(s, s->self->id, now_ms + 10 * (int64_t)s->cfg->timing.stats_interval_ms);
    vmca_bitmap_clear_all(&c->waiting);
    /* Our own transfers in flight or recently handed over: the receiver
     * owns (or will own) them. */
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            if (vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == s->self->id)
                census_add(s, s->xfers.out[i].blocks[b], s->xfers.out[i].to);
    for (size_t i = 0; i < s->n_recent; i++)
        if (vmca_gfn_home(s->recent[i].block.gfn) == s->self->id)
            census_add(s, s->recent[i].block, s->recent[i].to);
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
        send_census(s, (uint32_t)b, s->self->id, c->round, NULL, 0, false);
    if (vmca_bitmap_count(&c->waiting) == 0 && c->running)
        census_finish(s);
}

static int on_census(struct slave_core *s, uint32_t from, bool from_master,
                     const Vmca__Census *c, int64_t now_ms)
{
    if (from_master) {
        if (c->home != s->self->id || !vmca_state_member(s->state))
            return VMCA_ERR_STATE;
        census_start(s, c->members, c->n_members, false, now_ms);
        return VMCA_OK;
    }
    if (c->home != from) {
        refused(s, from, VMCA__ENVELOPE__BODY_CENSUS,
                "refused census of node %u from node %u: only a home asks", c->home, from);
        return VMCA_ERR_AUTH;
    }
    if (c->done) {
        freeze_home(s, from, 0);
        return VMCA_OK;
    }
    /* Freeze before listing (hypercalls run in order): what we report
     * cannot leave us before the home has its answer. A home that dies
     * mid-census does not freeze its pages for ever. */
    freeze_home(s, from, now_ms + 10 * (int64_t)s->cfg->timing.stats_interval_ms);
    queue_hcall(s, TKM_CALL_OWNED, from, 0, false, NULL, 0);
    expect_reply(s, (struct slave_pending){.kind = TKM_CALL_OWNED, .peer = from,
                                           .round = c->round});
    return VMCA_OK;
}

/* Our answer to home p->peer: what we own of it plus what we have in transit. */
static void reply_owned(struct slave_core *s, const struct slave_pending *p,
                        const struct tkm_reply *r)
{
    if (r->status != 0)
        return; /* no answer: the home gives this round up */
    size_t n = r->n_blocks + s->n_recent;
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            n += vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == p->peer;
    struct vmca_block *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return;
    if (r->n_blocks)
        memcpy(all, r->blocks, r->n_blocks * sizeof *all);
    size_t k = r->n_blocks;
    for (size_t i = 0; i < s->xfers.n_out; i++)
        for (size_t b = 0; b < s->xfers.out[i].n; b++)
            if (vmca_gfn_home(s->xfers.out[i].blocks[b].gfn) == p->peer)
                all[k++] = s->xfers.out[i].blocks[b];
    for (size_t i = 0; i < s->n_recent; i++)
        if (vmca_gfn_home(s->recent[i].block.gfn) == p->peer)
            all[k++] = s->recent[i].block;
    send_census(s, p->peer, p->peer, p->round, all, k, true);
    size_t idx = node_index(s, p->peer);
    if (idx < s->cfg->n_nodes)
        s->census_round[idx] = p->round;
    free(all);
}

static int on_census_reply(struct slave_core *s, uint32_t from, const Vmca__CensusReply *cr)
{
    struct slave_census *c = &s->census;
    if (!c->running || cr->home != s->self->id || cr->round != c->round)
        return VMCA_OK; /* late: ignore (amendments of answered peers are taken) */
    for (size_t i = 0; i < cr->n_blocks; i++) {
        struct vmca_block b = {cr->blocks[i]->gfn, cr->blocks[i]->order, 0};
        if (vmca_gfn_home(b.gfn) != s->self->id ||
            !vmca_block_valid(b.gfn, b.order, s->self->tmem_pages)) {
            /* Refused alone: the round goes on (the sender may answer again). */
            refused(s, from, VMCA__ENVELOPE__BODY_CENSUS_REPLY,
                    "refused census reply from node %u: block %zu is not of this home", from, i);
            return VMCA_ERR_PROTO;
        }
    }
    for (size_t i = 0; i < cr->n_blocks && c->running; i++)
        census_add(s, (struct vmca_block){cr->blocks[i]->gfn, cr->blocks[i]->order,
                                                  cr->blocks[i]->generation}, from);
    vmca_bitmap_clear(&c->waiting, from);
    if (c->running && vmca_bitmap_count(&c->waiting) == 0)
        census_finish(s);
    return VMCA_OK;
}

static int on_invalidate_node(struct slave_core *s, const Vmca__InvalidateNode *in)
{
    uint32_t r = in->node;
    if (r == s->self->id || !vmca_config_node_by_id(s->cfg, r)) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, "refused invalidate of node %u", r);
        return VMCA_ERR_INVAL;
    }
    vmca_bitmap_clear(&s->enabled, r);
    vmca_bitmap_clear(&s->returning, r);
    vmca_bitmap_set(&s->invalidated, r);
    vmca_bitmap_clear(&s->leaving_peers, r);
    queue_hcall(s, TKM_CALL_ENABLE, r, 0, false, NULL, 0);
    queue_hcall(s, TKM_CALL_INVALIDATE, r, 0, false, NULL, 0);
    s->invalidates++; /* r may own pages of ours: a census is owed */
    size_t dropped = xfer_drop_to(&s->xfers, r);
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                "invalidate node %u: dropping its pages%s", r,
                dropped ? " and the transfers in transit to it" : "");
    return VMCA_OK;
}

static int on_invalidate_notify(struct slave_core *s)
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
        send_register(s);
    return VMCA_OK;
}

static int on_leave_notify(struct slave_core *s)
{
    if (s->state != VMCA__NODE_STATE__NODE_LEAVING) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_LEAVE_NOTIFY, "refused leave-notify: not leaving");
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

/* ---- first tier: per-VM targets ---- */

static bool uses_targets(const struct slave_core *s)
{
    return strcmp(s->cfg->policy.first_tier, "tlp") == 0;
}

/* Mem-Limit with the current targets. */
static void send_limits(struct slave_core *s)
{
    if (!s->n_targets)
        return;
    size_t before = s->n_hc;
    queue_hcall(s, TKM_CALL_MEM_LIMIT, 0, 0, false, NULL, 0);
    if (s->n_hc == before)
        return; /* out of memory, logged */
    struct vm_target *copy = malloc(s->n_targets * sizeof *copy);
    if (!copy) {
        s->n_hc--; /* never an empty Mem-Limit */
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory sending targets");
        return;
    }
    memcpy(copy, s->targets, s->n_targets * sizeof *copy);
    s->hc[s->n_hc - 1].targets = copy;
    s->hc[s->n_hc - 1].n_targets = s->n_targets;
    expect_reply(s, (struct slave_pending){.kind = TKM_CALL_MEM_LIMIT});
}

/* What the targets may sum to: the pages owned less those a Request not
 * answered yet may take (a sample never shows them gone: replies and
 * samples come in order), or the master's cap. */
static uint64_t targets_limit(const struct slave_core *s)
{
    uint64_t stays = s->requesting < s->owned_now ? s->owned_now - s->requesting : 0;
    return s->mem_cap && s->mem_cap < stays ? s->mem_cap : stays;
}

/* Targets above `limit` shrink in proportion and go to the hypervisor. */
static void fit_targets(struct slave_core *s, uint64_t limit)
{
    if (s->n_targets && targets_sum(s->targets, s->n_targets) > limit) {
        targets_fit(s->targets, s->n_targets, limit);
        send_limits(s);
    }
}

/* Pages left this node: the targets must still fit in what it owns (I6,
 * thesis Eq. 6.1), so they shrink at once rather than next period. Replies
 * and samples come from the hypervisor in order, so the count stays exact. */
static void owned_changed(struct slave_core *s, const struct slave_pending *p,
                          const struct tkm_reply *r)
{
    uint64_t gone = 0;
    switch (p->kind) {
    case TKM_CALL_GRANT:
    case TKM_CALL_RECLAIM:
        if (r->status == 0 && r->pages) {
            s->owned_now += r->pages;
            s->unsettled++;
        }
        return;
    case TKM_CALL_REQUEST:
        s->requesting = p->pages < s->requesting ? s->requesting - p->pages : 0;
        gone = r->status == 0 ? vmca_blocks_pages(r->blocks, r->n_blocks) : 0;
        break;
    case TKM_CALL_RETURN:
        gone = vmca_blocks_pages(r->blocks, r->n_blocks); /* given back even when stuck */
        break;
    case TKM_CALL_INVALIDATE:
        gone = r->status == 0 ? r->pages : 0;
        break;
    default:
        return;
    }
    if (gone)
        s->unsettled++;
    s->owned_now = gone < s->owned_now ? s->owned_now - gone : 0;
    fit_targets(s, targets_limit(s));
}

void slave_core_on_hv_reply(struct slave_core *s, const struct tkm_reply *r,
                            int64_t now_ms)
{
    s->hv_heard_ms = now_ms;
    for (size_t i = 0; i < s->n_pend; i++) {
        if (s->pend[i].id != r->id)
            continue;
        struct slave_pending p = s->pend[i];
        s->pend[i] = s->pend[--s->n_pend];
        owned_changed(s, &p, r);
        if (p.id == s->register_after_hc && r->status != 0) {
            /* Not made (the hypervisor is gone): again once it is back. */
            s->register_after_hc = UINT64_MAX;
        } else if (p.id == s->register_after_hc) {
            s->register_after_hc = 0; /* our claims are dropped, our pages back */
            if (s->state == VMCA__NODE_STATE__NODE_INACTIVE && s->master_up && !s->left)
                send_register(s);
        }
        if ((p.kind == TKM_CALL_INVALIDATE || p.kind == TKM_CALL_RECLAIM) && r->status != 0)
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN, "%s of node %u failed: %d",
                        p.kind == TKM_CALL_INVALIDATE ? "invalidate" : "reclaim", p.peer,
                        r->status);
        if (p.kind == TKM_CALL_REQUEST)
            reply_request(s, &p, r);
        else if (p.kind == TKM_CALL_GRANT)
            reply_grant(s, &p, r);
        else if (p.kind == TKM_CALL_RETURN)
            reply_return(s, &p, r, now_ms);
        else if (p.kind == TKM_CALL_OWNED)
            reply_owned(s, &p, r);
        else if (p.kind == TKM_CALL_MEM_LIMIT && r->status != 0) {
            /* Refused whole: a VM it named left meanwhile. Once the next
             * sample has dropped that VM, the targets go again. */
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "the hypervisor refused the targets (%d): sending them again after "
                        "the next sample", r->status);
            s->limits_stale = true;
        }
        return;
    }
    if (r->status != 0)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN, "hypercall %llu failed: %d",
                    (unsigned long long)r->id, r->status);
}

void slave_core_on_peer_up(struct slave_core *s, uint32_t peer, int64_t now_ms)
{
    if (s->census.running && vmca_bitmap_test(&s->census.waiting, peer))
        send_census(s, peer, s->self->id, s->census.round, NULL, 0, false);
    for (size_t i = 0; i < s->xfers.n_out; i++)
        if (s->xfers.out[i].to == peer)
            send_grant(s, &s->xfers.out[i]);
}

/* ---- first tier ---- */

/* Grant-Any for `pages`, one request outstanding at a time. */
static void ask_pages(struct slave_core *s, uint64_t pages, int64_t now_ms, const char *why)
{
    if (s->grant_any_req || !s->master_up || s->state != VMCA__NODE_STATE__NODE_ACTIVE ||
        pages == 0)
        return;
    Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
    ga.node = s->self->id;
    ga.pages = pages;
    ga.req = s->next_req++;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
    env.grant_any = &ga;
    if (vmca_outbox_send(&s->out, s->master, &env) == VMCA_OK) {
        s->grant_any_req = ga.req;
        s->grant_any_ms = now_ms;
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "%s: asking the master for %llu pages (req %llu)", why,
                    (unsigned long long)ga.pages, (unsigned long long)ga.req);
    }
}

/* tlp (thesis Algorithm 8) on the last sample: new targets to the
 * hypervisor, and a Grant-Any for what they need beyond the pages owned. */
static void first_tier_tlp(struct slave_core *s, int64_t now_ms)
{
    size_t n = s->hv.n_vms;
    if (!n) { /* no VM: no targets */
        free(s->targets);
        s->targets = NULL;
        s->n_targets = 0;
        return;
    }
    struct vm_period *vp = malloc(n * sizeof *vp);
    struct vm_target *out = malloc(n * sizeof *out);
    if (!vp || !out) {
        free(vp);
        free(out);
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory computing targets");
        return;
    }
    for (size_t i = 0; i < n; i++)
        vp[i] = (struct vm_period){s->hv.vms[i].vm, s->hv.vms[i].used, s->hv.vms[i].target,
                                   s->hv.vms[i].puts_total, s->hv.vms[i].puts_succ};
    struct tlp_params p = {s->cfg->policy.tlp_percent, s->cfg->policy.tlp_threshold,
                           s->self->tmem_pages};
    uint64_t ask, limit = targets_limit(s);
    tlp_targets(s->targets, s->n_targets, vp, n, &p, limit, out, &ask);
    if (s->mem_cap && limit == s->mem_cap)
        ask = 0; /* the master's cap binds, not the pages owned: more would not help */
    free(vp);
    free(s->targets);
    s->targets = out;
    s->n_targets = n;
    send_limits(s);
    if (ask)
        ask_pages(s, ask, now_ms, "targets above the pages owned");
}

/* greedy-remote (POLICIES.md): when a VM's puts failed in the last period,
 * ask the master for a batch of pages, one request at a time. greedy-local
 * never asks. tlp sets per-VM targets; the other first-tier policies come
 * with the policies work and until then ask like greedy-remote. */
static void first_tier(struct slave_core *s, int64_t now_ms)
{
    if (strcmp(s->cfg->policy.first_tier, "greedy-local") == 0)
        return;
    if (uses_targets(s)) {
        first_tier_tlp(s, now_ms);
        return;
    }
    bool failed = false;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        failed |= s->hv.vms[i].puts_total > s->hv.vms[i].puts_succ;
    if (failed)
        ask_pages(s, s->cfg->policy.grant_batch, now_ms, "puts failed");
}

/* Mem-Limit(n) from the master: at most n pages for this node's own VMs
 * (0 lifts the cap). tlp's targets sum to at most min(owned, n); the greedy
 * policies set no targets and so cannot honour it (logged). */
static int on_mem_limit(struct slave_core *s, const Vmca__MemLimit *ml)
{
    if (s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_MEM_LIMIT, "refused mem-limit: not active");
        return VMCA_ERR_STATE;
    }
    if (ml->pages > vmca_config_total_pages(s->cfg)) {
        refused(s, s->master, VMCA__ENVELOPE__BODY_MEM_LIMIT,
                "refused mem-limit of %llu pages: more than the cluster's %llu",
                (unsigned long long)ml->pages,
                (unsigned long long)vmca_config_total_pages(s->cfg));
        return VMCA_ERR_INVAL;
    }
    s->mem_cap = ml->pages;
    if (!uses_targets(s) && ml->pages)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "mem-limit %llu pages: policy %s sets no per-VM targets, so it is not "
                    "enforced", (unsigned long long)ml->pages, s->cfg->policy.first_tier);
    else
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "mem-limit: %s%llu pages for our VMs",
                    ml->pages ? "at most " : "no cap (", (unsigned long long)ml->pages);
    fit_targets(s, targets_limit(s));
    return VMCA_OK;
}

static int on_enable(struct slave_core *s, const Vmca__EnableNode *en, int64_t now_ms)
{
    for (size_t i = 0; i < en->n_nodes; i++) {
        if (!vmca_node_valid(en->nodes[i]) || !vmca_config_node_by_id(s->cfg, en->nodes[i])) {
            refused(s, s->master, VMCA__ENVELOPE__BODY_ENABLE_NODE,
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
            vmca_bitmap_clear(&s->leaving_peers, x);
        } else {
            vmca_bitmap_clear(&s->enabled, x);
        }
        if (x != s->self->id)
            queue_hcall(s, TKM_CALL_ENABLE, x, 0, en->enable != 0, NULL, 0);
        if (x == s->self->id && en->enable && s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
            s->state = VMCA__NODE_STATE__NODE_ACTIVE;
            /* Members may reach our memory from now on. */
            queue_hcall(s, TKM_CALL_ENABLE, x, 0, true, NULL, 0);
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "registered: now active, %zu nodes enabled",
                        vmca_bitmap_count(&s->enabled));
            vouch_statistics(s, now_ms);
            s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
        }
    }
    return VMCA_OK;
}

int slave_core_on_message(struct slave_core *s, uint32_t from, bool from_master,
                          const Vmca__Envelope *env, int64_t now_ms)
{
    /* The master's node runs a slave too, so the node id alone does not
     * say who speaks: the connection's role (checked at Hello) does. */
    if (env->body_case == VMCA__ENVELOPE__BODY_CENSUS)
        return on_census(s, from, from_master, env->census, now_ms);
    bool peer_msg = env->body_case == VMCA__ENVELOPE__BODY_GRANT ||
                    env->body_case == VMCA__ENVELOPE__BODY_GRANT_ACK ||
                    env->body_case == VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    if (peer_msg) {
        if (from_master || !vmca_config_node_by_id(s->cfg, from) || from == s->self->id) {
            refused(s, from, (int)env->body_case,
                    "refused %s from node %u: not a peer", vmca_body_name(env->body_case),
                        from);
            return VMCA_ERR_AUTH;
        }
        if (env->body_case == VMCA__ENVELOPE__BODY_CENSUS_REPLY)
            return on_census_reply(s, from, env->census_reply);
        return env->body_case == VMCA__ENVELOPE__BODY_GRANT
                   ? on_grant(s, from, env->incarnation, env->grant, now_ms)
                   : on_grant_ack(s, from, env->grant_ack, now_ms);
    }
    if (!from_master || from != s->master) {
        refused(s, from, (int)env->body_case,
                "refused %s from node %u: only the master sends it",
                    vmca_body_name(env->body_case), from);
        return VMCA_ERR_AUTH;
    }
    switch (env->body_case) {
    case VMCA__ENVELOPE__BODY_ENABLE_NODE:
        return on_enable(s, env->enable_node, now_ms);
    case VMCA__ENVELOPE__BODY_GRANT_FWD:
        return on_grant_fwd(s, env->grant_fwd);
    case VMCA__ENVELOPE__BODY_FORCE_RETURN:
        return on_force_return(s, env->force_return);
    case VMCA__ENVELOPE__BODY_LEAVE_NOTIFY:
        return on_leave_notify(s);
    case VMCA__ENVELOPE__BODY_INVALIDATE_NODE:
        return on_invalidate_node(s, env->invalidate_node);
    case VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY:
        return on_invalidate_notify(s);
    case VMCA__ENVELOPE__BODY_MEM_LIMIT:
        return on_mem_limit(s, env->mem_limit);
    default:
        refused(s, s->master, (int)env->body_case,
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
    if (now_ms >= s->next_resend_ms) {
        /* Unacknowledged transfers go out again (the receiver dedups). */
        for (size_t i = 0; i < s->xfers.n_out; i++)
            send_grant(s, &s->xfers.out[i]);
        s->next_resend_ms = now_ms + patience;
    }
    if (s->grant_any_req && now_ms - s->grant_any_ms > patience)
        s->grant_any_req = 0; /* no answer: the master may ask donors again */
    if (s->sample_fresh) {
        s->sample_fresh = false;
        first_tier(s, now_ms);
    }
    run_returns(s);
    if (s->census.running && now_ms - s->census.started_ms > patience) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "census %llu given up: %zu peers did not answer",
                    (unsigned long long)s->census.round, vmca_bitmap_count(&s->census.waiting));
        census_end(s);
        s->census_retry_ms = now_ms + patience; /* leaks stay until a census succeeds */
    }
    if (s->census_retry_ms && now_ms >= s->census_retry_ms && !s->census.running) {
        s->census_retry_ms = 0;
        if (vmca_state_member(s->state))
            census_start(s, NULL, 0, true, now_ms);
    }
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->frozen_until[i] && now_ms >= s->frozen_until[i])
            freeze_home(s, s->cfg->nodes[i].id, 0);
    /* Handovers are remembered for two census timeouts. */
    size_t kept = 0;
    for (size_t i = 0; i < s->n_recent; i++)
        if (now_ms - s->recent[i].acked_ms <= 2 * patience)
            s->recent[kept++] = s->recent[i];
    s->n_recent = kept;
    if (!s->master_up || s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return;
    if (now_ms < s->next_stats_ms)
        return;
    vouch_statistics(s, now_ms);
    s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
}
