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

static struct slave_callq *filling(struct slave_core *s)
{
    return &s->calls[s->calls_filling];
}

void slave_queue_hcall(struct slave_core *s, enum tkm_call_kind kind, uint32_t node,
                       uint64_t pages, bool enable, const struct vmca_block *blocks,
                       size_t n_blocks)
{
    struct slave_callq *q = filling(s);
    if (!VMCA_ROOM(q->v, q->cap, q->n + 1) || !VMCA_ROOM(q->off, q->cap_off, q->n + 1) ||
        !VMCA_ROOM(q->blocks, q->cap_blocks, q->n_blocks + n_blocks)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory queueing a hypercall");
        return;
    }
    if (n_blocks)
        memcpy(q->blocks + q->n_blocks, blocks, n_blocks * sizeof *blocks);
    q->off[q->n] = (struct slave_call_off){q->n_blocks, SIZE_MAX, SIZE_MAX};
    q->v[q->n++] = (struct tkm_call){s->act.next_hc_id++, kind, node, pages, enable,
                                     NULL, n_blocks, NULL, NULL, 0};
    q->n_blocks += n_blocks;
    /* Their replies change the pages owned here (first tier). */
    if (kind == TKM_CALL_INVALIDATE || kind == TKM_CALL_RECLAIM)
        slave_expect_reply(s, (struct slave_pending){.kind = kind, .peer = node});
}

/* Remembers what the last queued hypercall is for. */
void slave_expect_reply(struct slave_core *s, struct slave_pending p)
{
    if (!VMCA_ROOM(s->act.pend, s->act.cap_pend, s->act.n_pend + 1)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory");
        return;
    }
    p.id = s->act.next_hc_id - 1;
    s->act.pend[s->act.n_pend++] = p;
}

struct tkm_call *slave_core_take_hcalls(struct slave_core *s, size_t *n)
{
    struct slave_callq *q = filling(s);
    for (size_t i = 0; i < q->n; i++) {
        const struct slave_call_off *o = &q->off[i];
        struct tkm_call *c = &q->v[i];
        c->blocks = c->n_blocks ? q->blocks + o->blocks : NULL;
        c->owners = o->owners == SIZE_MAX ? NULL : q->owners + o->owners;
        c->targets = o->targets == SIZE_MAX ? NULL : q->targets + o->targets;
    }
    *n = q->n;
    /* The other queue (the batch taken before) fills from now on. */
    s->calls_filling ^= 1;
    struct slave_callq *next = filling(s);
    next->n = next->n_blocks = next->n_owners = next->n_targets = 0;
    return q->v;
}

bool slave_core_hcalls_pending(const struct slave_core *s)
{
    return s->calls[s->calls_filling].n != 0;
}

/* The last queued hypercall also carries owners (copied). Without room
 * it carries none, and the shell fails the call (never an empty census). */
void slave_hcall_owners(struct slave_core *s, const uint32_t *owners, size_t n)
{
    struct slave_callq *q = filling(s);
    if (!q->n)
        return;
    if (!VMCA_ROOM(q->owners, q->cap_owners, q->n_owners + n + 1)) {
        q->v[q->n - 1].n_blocks = 0;
        return;
    }
    if (n)
        memcpy(q->owners + q->n_owners, owners, n * sizeof *owners);
    q->off[q->n - 1].owners = q->n_owners;
    q->n_owners += n;
}

bool slave_hcall_targets(struct slave_core *s, const struct vm_target *t, size_t n)
{
    struct slave_callq *q = filling(s);
    if (!q->n || !VMCA_ROOM(q->targets, q->cap_targets, q->n_targets + n))
        return false;
    memcpy(q->targets + q->n_targets, t, n * sizeof *t);
    q->off[q->n - 1].targets = q->n_targets;
    q->v[q->n - 1].n_targets = n;
    q->n_targets += n;
    return true;
}

void slave_hcall_drop_last(struct slave_core *s)
{
    struct slave_callq *q = filling(s);
    if (q->n)
        q->n--; /* its payload stays in the arenas until the queue is reset */
}

size_t slave_hcalls_queued(const struct slave_core *s)
{
    return s->calls[s->calls_filling].n;
}

void slave_calls_free(struct slave_core *s)
{
    for (int i = 0; i < 2; i++) {
        struct slave_callq *q = &s->calls[i];
        free(q->v);
        free(q->off);
        free(q->blocks);
        free(q->owners);
        free(q->targets);
    }
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
            slave_census_paid(s);      /* so nothing of ours is out to census */
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
        else if (p.kind == TKM_CALL_SURPLUS)
            slave_reply_surplus(s, &p, r);
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
