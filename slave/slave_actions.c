/* Slave core, actions: the hypercall queue handed to the TKM backend, the
 * replies awaited and their dispatch, and frames bound for the master. */
#include "slave_internal.h"

void slave_send_to_master(struct slave_core *s, Vmca__Envelope *env)
{
    int rc = vmca_outbox_send_on(&s->out, VMCA_LINK_MASTER, s->master, env);
    if (rc != VMCA_OK)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "cannot queue %s: %s",
                    vmca_body_name(env->body_case), vmca_strerror(rc));
}

void slave_queue_hcall(struct slave_core *s, enum tkm_call_kind kind, uint32_t node,
                       uint64_t pages, bool enable, const struct vmca_block *blocks,
                       size_t n_blocks)
{
    if (!SLAVE_ROOM(s->hc, s->cap_hc, s->n_hc + 1))
        goto nomem;
    struct vmca_block *copy = NULL;
    if (n_blocks) {
        copy = malloc(n_blocks * sizeof *copy);
        if (!copy)
            goto nomem;
        memcpy(copy, blocks, n_blocks * sizeof *copy);
    }
    s->hc[s->n_hc++] = (struct tkm_call){s->act.next_hc_id++, kind, node, pages, enable,
                                            copy, n_blocks, NULL, NULL, 0};
    /* Their replies change the pages owned here (first tier). */
    if (kind == TKM_CALL_INVALIDATE || kind == TKM_CALL_RECLAIM)
        slave_expect_reply(s, (struct slave_pending){.kind = kind, .peer = node});
    return;
nomem:
    vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory queueing a hypercall");
}

/* Remembers what the last queued hypercall is for. */
void slave_expect_reply(struct slave_core *s, struct slave_pending p)
{
    if (!SLAVE_ROOM(s->act.pend, s->act.cap_pend, s->act.n_pend + 1)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory");
        return;
    }
    p.id = s->act.next_hc_id - 1;
    s->act.pend[s->act.n_pend++] = p;
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
void slave_hcall_owners(struct slave_core *s, const uint32_t *owners, size_t n)
{
    struct tkm_call *h = &s->hc[s->n_hc - 1];
    h->owners = malloc((n ? n : 1) * sizeof *owners);
    if (h->owners && n)
        memcpy(h->owners, owners, n * sizeof *owners);
    else
        h->n_blocks = 0; /* no owners: the shell fails the call (never an empty census) */
}

void slave_core_on_hv_reply(struct slave_core *s, const struct tkm_reply *r,
                            int64_t now_ms)
{
    s->hv_heard_ms = now_ms;
    for (size_t i = 0; i < s->act.n_pend; i++) {
        if (s->act.pend[i].id != r->id)
            continue;
        struct slave_pending p = s->act.pend[i];
        s->act.pend[i] = s->act.pend[--s->act.n_pend];
        slave_owned_changed(s, &p, r);
        if (p.id == s->register_after_hc && r->status != 0) {
            /* Not made (the hypervisor is gone): again once it is back. */
            s->register_after_hc = UINT64_MAX;
        } else if (p.id == s->register_after_hc) {
            s->register_after_hc = 0; /* our claims are dropped, our pages back */
            if (s->state == VMCA__NODE_STATE__NODE_INACTIVE && s->master_up && !s->left)
                slave_send_register(s);
        }
        if ((p.kind == TKM_CALL_INVALIDATE || p.kind == TKM_CALL_RECLAIM) && r->status != 0)
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN, "%s of node %u failed: %d",
                        p.kind == TKM_CALL_INVALIDATE ? "invalidate" : "reclaim", p.peer,
                        r->status);
        if (p.kind == TKM_CALL_REQUEST)
            slave_reply_request(s, &p, r);
        else if (p.kind == TKM_CALL_GRANT)
            slave_reply_grant(s, &p, r);
        else if (p.kind == TKM_CALL_RETURN)
            slave_reply_return(s, &p, r, now_ms);
        else if (p.kind == TKM_CALL_OWNED)
            slave_reply_owned(s, &p, r);
        else if (p.kind == TKM_CALL_MEM_LIMIT && r->status != 0) {
            /* Refused whole: a VM it named left meanwhile. Once the next
             * sample has dropped that VM, the targets go again. */
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "the hypervisor refused the targets (%d): sending them again after "
                        "the next sample", r->status);
            s->ft.limits_stale = true;
        }
        return;
    }
    if (r->status != 0)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN, "hypercall %llu failed: %d",
                    (unsigned long long)r->id, r->status);
}
