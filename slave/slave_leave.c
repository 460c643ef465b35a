/* Slave core, leave: the leave flow, Force-Return and the Return
 * hypercalls that send other homes' pages back. */
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
                slave_queue_hcall(s, TKM_CALL_ENABLE, (uint32_t)b, 0, false, NULL, 0);
    }
    slave_send_leave_req(s);
    slave_run_returns(s);
    return false;
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
    slave_run_returns(s);
    return VMCA_OK;
}

int slave_on_leave_notify(struct slave_core *s)
{
    if (s->state != VMCA__NODE_STATE__NODE_LEAVING) {
        slave_refused(s, s->master, VMCA__ENVELOPE__BODY_LEAVE_NOTIFY,
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
