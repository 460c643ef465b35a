/* Slave core, targets: the first tier's bookkeeping (per-VM targets in
 * force, the pages owned, Mem-Limit) around the policy from the registry. */
#include "slave_internal.h"

/* Room for n targets in both arrays, grown (doubling) only when short. */
static bool targets_room(struct slave_core *s, size_t n)
{
    struct slave_first_tier *ft = &s->ft;
    return VMCA_ROOM(ft->targets, ft->cap, n) && VMCA_ROOM(ft->next, ft->cap_next, n) &&
           VMCA_ROOM(ft->wanted, ft->cap_wanted, n);
}

static bool has_target(const struct slave_core *s, uint32_t vm)
{
    return targets_find(s->ft.targets, s->ft.n_targets, vm) != NULL;
}

/* A slave that starts on a running hypervisor (it restarted) takes the
 * targets the hypervisor enforces as its own, so they stay within the
 * pages owned from the first page that leaves. */
void slave_adopt_targets(struct slave_core *s)
{
    if (s->ft.n_targets || !s->ft.sets_targets)
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        n += s->hv.vms[i].target != VM_TARGET_UNLIMITED;
    if (!n || !targets_room(s, n))
        return;
    for (size_t i = 0; i < s->hv.n_vms; i++)
        if (s->hv.vms[i].target != VM_TARGET_UNLIMITED)
            s->ft.targets[s->ft.n_targets++] = (struct vm_target){s->hv.vms[i].vm,
                                                            s->hv.vms[i].target, false};
}

/* A VM the hypervisor reports with no target of ours (it connected since
 * the last period, or this slave just started) gets a provisional target
 * at once: the room the policy's targets leave under the limit, split
 * evenly among the VMs with a provisional one. Until the policy's next
 * period it would otherwise put without bound, past a Mem-Limit cap. A VM
 * reported unlimited although it has a target here (it reconnected under
 * the same id) gets it again. */
void slave_target_new_vms(struct slave_core *s)
{
    if (!s->ft.sets_targets)
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
        if (!targets_room(s, s->ft.n_targets + fresh))
            return; /* they stay unlimited until the next period */
        for (size_t v = 0; v < s->hv.n_vms; v++)
            if (!has_target(s, s->hv.vms[v].vm))
                s->ft.targets[s->ft.n_targets++] = (struct vm_target){s->hv.vms[v].vm, 0, true};
        uint64_t limit = slave_targets_limit(s), firm = 0;
        size_t n_prov = 0;
        for (size_t i = 0; i < s->ft.n_targets; i++) {
            if (s->ft.targets[i].provisional)
                n_prov++;
            else
                firm += s->ft.targets[i].pages;
        }
        uint64_t share = firm < limit ? (limit - firm) / n_prov : 0;
        for (size_t i = 0; i < s->ft.n_targets; i++)
            if (s->ft.targets[i].provisional)
                s->ft.targets[i].pages = share;
        /* A stopgap honours the per-VM settings (and the master's caps) too:
         * a cap holds from the first page. */
        size_t n_set;
        const struct ft_vm_settings *set = slave_vm_settings(s, &n_set);
        struct ft_input in = {.vm_settings = set, .n_vm_settings = n_set};
        targets_bound(s->ft.targets, s->ft.n_targets, &in, limit);
    }
    if (fresh || resend)
        slave_send_limits(s);
}

/* Targets of VMs the hypervisor no longer reports are dropped: a Mem-Limit
 * naming an unknown VM is refused whole. */
void slave_forget_gone_vms(struct slave_core *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->ft.n_targets; i++) {
        bool present = false;
        for (size_t v = 0; v < s->hv.n_vms && !present; v++)
            present = s->hv.vms[v].vm == s->ft.targets[i].vm;
        if (present)
            s->ft.targets[k++] = s->ft.targets[i];
    }
    s->ft.n_targets = k;
}

/* Mem-Limit with the current targets. */
void slave_send_limits(struct slave_core *s)
{
    if (!s->ft.n_targets)
        return;
    size_t before = slave_hcalls_queued(s);
    slave_queue_hcall(s, TKM_CALL_MEM_LIMIT, 0, 0, false, NULL, 0);
    if (slave_hcalls_queued(s) == before)
        return; /* out of memory, logged */
    if (!slave_hcall_targets(s, s->ft.targets, s->ft.n_targets)) {
        slave_hcall_drop_last(s); /* never an empty Mem-Limit */
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory sending targets");
        return;
    }
    slave_expect_reply(s, (struct slave_pending){.kind = TKM_CALL_MEM_LIMIT});
}

/* What the targets may sum to: the pages owned less those a Request not
 * answered yet may take (a sample never shows them gone: replies and
 * samples come in order), or the master's cap. */
uint64_t slave_targets_limit(const struct slave_core *s)
{
    uint64_t stays = s->ft.requesting < s->ft.owned_now ? s->ft.owned_now - s->ft.requesting : 0;
    return s->ft.mem_cap && s->ft.mem_cap < stays ? s->ft.mem_cap : stays;
}

/* Targets above `limit` shrink in proportion and go to the hypervisor. */
void slave_fit_targets(struct slave_core *s, uint64_t limit)
{
    if (s->ft.n_targets && targets_sum(s->ft.targets, s->ft.n_targets) > limit) {
        targets_fit(s->ft.targets, s->ft.n_targets, limit);
        slave_send_limits(s);
    }
}

/* Pages came (a Grant, a census): the targets the last period asked them
 * for are raised toward what it wanted, within the pages owned, at once.
 * Waiting for the next period would spend that period's growth refilling
 * the gap, so the asks would alternate between a step and almost nothing. */
static void raise_targets(struct slave_core *s)
{
    struct slave_first_tier *ft = &s->ft;
    if (!ft->n_wanted || ft->n_wanted != ft->n_targets)
        return;
    for (size_t i = 0; i < ft->n_targets; i++)
        if (ft->wanted[i].vm != ft->targets[i].vm || ft->wanted[i].provisional)
            return; /* the VMs changed since (or none wanted): the next period decides */
    memcpy(ft->next, ft->wanted, ft->n_targets * sizeof *ft->next);
    targets_fit(ft->next, ft->n_targets, slave_targets_limit(s));
    bool higher = false;
    for (size_t i = 0; i < ft->n_targets; i++) {
        if (ft->next[i].pages < ft->targets[i].pages)
            ft->next[i].pages = ft->targets[i].pages; /* raise only */
        higher |= ft->next[i].pages > ft->targets[i].pages;
    }
    /* Still within the pages owned (I6), or not at all. */
    if (!higher || targets_sum(ft->next, ft->n_targets) > slave_targets_limit(s))
        return;
    memcpy(ft->targets, ft->next, ft->n_targets * sizeof *ft->targets);
    slave_send_limits(s);
}

/* Pages left this node: the targets must still fit in what it owns (I6,
 * thesis Eq. 6.1), so they shrink at once rather than next period. Replies
 * and samples come from the hypervisor in order, so the count stays exact. */
void slave_owned_changed(struct slave_core *s, const struct slave_pending *p,
                         const struct tkm_reply *r)
{
    uint64_t gone = 0;
    switch (p->kind) {
    case TKM_CALL_GRANT:
    case TKM_CALL_RECLAIM:
        if (r->status == 0 && r->pages) {
            s->ft.owned_now += r->pages;
            s->ft.unsettled++;
            raise_targets(s);
        }
        return;
    case TKM_CALL_REQUEST:
    case TKM_CALL_SURPLUS: /* both take free pages out: counted while asked */
        s->ft.requesting = p->pages < s->ft.requesting ? s->ft.requesting - p->pages : 0;
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
        s->ft.unsettled++;
    s->ft.owned_now = gone < s->ft.owned_now ? s->ft.owned_now - gone : 0;
    slave_fit_targets(s, slave_targets_limit(s));
}

/* The first-tier policy on the last sample: new targets to the hypervisor
 * (a policy that sets them), and a Grant-Any for what it asks. */
void slave_first_tier(struct slave_core *s, int64_t now_ms)
{
    struct slave_first_tier *ft = &s->ft;
    size_t n = s->hv.n_vms;
    if (ft->sets_targets && !n) { /* no VM: no targets */
        ft->n_targets = 0;
        return;
    }
    if (!targets_room(s, n)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory computing targets");
        return;
    }
    uint64_t limit = slave_targets_limit(s);
    size_t n_set;
    const struct ft_vm_settings *set = slave_vm_settings(s, &n_set); /* + the master's caps */
    struct ft_input in = {s->hv.vms, n, ft->targets, ft->n_targets, limit,
                          s->self->tmem_pages, set, n_set,
                          s->cfg->timing.stats_interval_ms};
    struct ft_output out = {ft->next, ft->wanted, 0, ""};
    /* A policy that does not write `wanted` leaves these marks (every id
     * is a valid VM id, so the mark is `provisional`: a policy's entries
     * never are), and neither the ask's cut nor raise_targets reads them. */
    for (size_t i = 0; i < n; i++)
        ft->wanted[i] = (struct vm_target){s->hv.vms[i].vm, 0, true};
    ft->policy->decide(&s->cfg->policy.first_tier_params, ft->state, &in, &out);
    /* A node whose VMs put nothing this period asks for nothing, whatever
     * the policy's estimate: idle, it would lend its free pages (the
     * master sees them free) and ask for others' at once, and two such
     * nodes traded the same pages for ever (vmca-sim qmemman, 6 nodes,
     * seed 90053, no faults). */
    bool any_put = false;
    for (size_t i = 0; i < n && !any_put; i++)
        any_put = s->hv.vms[i].puts_total != 0;
    if (!any_put)
        out.ask = 0;
    bool wanted = n && !ft->wanted[0].provisional; /* the policy wrote them */
    if (ft->sets_targets) {
        /* Every policy honours the per-VM settings the same way. */
        targets_bound(out.targets, n, &in, limit);
        if (wanted) {
            targets_pass_on(out.wanted, n, &in);
            targets_bound(out.wanted, n, &in, UINT64_MAX);
            /* Pages no VM may take (above its max_pages) are not asked for. */
            uint64_t w = targets_sum(out.wanted, n), need = w > limit ? w - limit : 0;
            if (out.ask > need)
                out.ask = need;
        }
        if (ft->mem_cap && limit == ft->mem_cap)
            out.ask = 0; /* the master's cap binds, not the pages owned: more would not help */
        /* Swap the two arrays with their capacities (they can differ after
         * a failed growth). */
        size_t cap = ft->cap;
        ft->next = ft->targets;
        ft->targets = out.targets;
        ft->cap = ft->cap_next;
        ft->cap_next = cap;
        ft->n_targets = n;
        /* only a shortfall is worth raising toward, and only what was wanted */
        ft->n_wanted = out.ask && wanted ? n : 0;
        slave_send_limits(s);
    }
    if (out.ask)
        slave_ask_pages(s, out.ask, now_ms, out.why);
}

/* Mem-Limit(n) from the master: at most n pages for this node's own VMs
 * (0 lifts the cap). A policy's targets sum to at most min(owned, n); one
 * that sets no targets cannot honour it (logged). */
int slave_on_mem_limit(struct slave_core *s, const Vmca__MemLimit *ml)
{
    if (s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_MEM_LIMIT, SLAVE_REFUSE_STATE,
                      "refused mem-limit: not active");
        return VMCA_ERR_STATE;
    }
    if (ml->pages > vmca_config_total_pages(s->cfg)) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_MEM_LIMIT, SLAVE_REFUSE_INVALID,
                      "refused mem-limit of %llu pages: more than the cluster's %llu",
                      (unsigned long long)ml->pages,
                      (unsigned long long)vmca_config_total_pages(s->cfg));
        return VMCA_ERR_INVAL;
    }
    s->ft.mem_cap = ml->pages;
    if (!s->ft.sets_targets && ml->pages)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "mem-limit %llu pages: policy %s sets no per-VM targets, so it is not "
                    "enforced", (unsigned long long)ml->pages, s->ft.policy->name);
    else
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "mem-limit: %s%llu pages for our VMs",
                    ml->pages ? "at most " : "no cap (", (unsigned long long)ml->pages);
    slave_fit_targets(s, slave_targets_limit(s));
    return VMCA_OK;
}
