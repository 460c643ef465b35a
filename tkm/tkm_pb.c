/* Plain TKM types <-> protobuf; see tkm_pb.h. */
#include "tkm_pb.h"

#include <stdlib.h>

#include "err.h"
#include "pbblocks.h"
#include "room.h"

/* One growable array per use, so no two live results share storage. */
enum {
    CE_VT, CE_VTPTR,                                    /* call encode */
    RD_BLK, RD_RES,                                     /* reply decode */
    SD_OWNED, SD_LENT, SD_VMS,                          /* sample decode */
    CD_BLK, CD_VT,                                      /* call decode */
    RE_RES,                                             /* reply encode */
    SE_OWNED, SE_OPTR, SE_LENT, SE_LPTR, SE_VMS, SE_VPTR,            /* sample encode */
    N_BUFS
};

struct tkm_pb {
    struct {
        void *p;
        size_t cap;
    } buf[N_BUFS];
    struct vmca_pb_blocks call_blocks, reply_blocks; /* call encode, reply encode */
};

struct tkm_pb *tkm_pb_new(void)
{
    return calloc(1, sizeof(struct tkm_pb));
}

void tkm_pb_free(struct tkm_pb *pb)
{
    if (!pb)
        return;
    for (size_t i = 0; i < N_BUFS; i++)
        free(pb->buf[i].p);
    vmca_pb_blocks_free(&pb->call_blocks);
    vmca_pb_blocks_free(&pb->reply_blocks);
    free(pb);
}

/* Buffer i with room for n elements of `size` bytes, or NULL. */
static void *room(struct tkm_pb *pb, int i, size_t n, size_t size)
{
    void *p = vmca_room(pb->buf[i].p, &pb->buf[i].cap, n, size);
    if (p)
        pb->buf[i].p = p;
    return p;
}

/* Protobuf blocks from plain ones, in the list l; NULL when out of memory. */
static Vmca__Block **pb_blocks(struct vmca_pb_blocks *l, const struct vmca_block *b, size_t n)
{
    return vmca_pb_blocks_fill(l, b, n) == VMCA_OK ? l->ptrs : NULL;
}

static struct vmca_block *plain_blocks(struct tkm_pb *pb, int store, Vmca__Block *const *b,
                                       size_t n)
{
    struct vmca_block *v = room(pb, store, n, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (struct vmca_block){b[i]->gfn, b[i]->order, b[i]->generation};
    return v;
}

/* ---- manager side: calls out ---- */

static int send_call(void *be, uint64_t id, Vmca__TkmToHv *m)
{
    struct tkm_pb_sender *s = be;
    m->id = id;
    return s->send(s->arg, m);
}

/* Wraps call message `msg` (field `member`, case `kind` of TkmToHv) and
 * sends it: the tail of every encoder below. */
#define SEND_CALL(kind, member, msg)                                          \
    do {                                                                      \
        Vmca__TkmToHv m_ = VMCA__TKM_TO_HV__INIT;                             \
        m_.call_case = VMCA__TKM_TO_HV__CALL_##kind;                          \
        m_.member = (msg);                                                    \
        return send_call(be, id, &m_);                                        \
    } while (0)

static int enc_stats_now(void *be, uint64_t id)
{
    Vmca__TkmStatsNow sn = VMCA__TKM_STATS_NOW__INIT;
    SEND_CALL(STATS_NOW, stats_now, &sn);
}

static int enc_mem_limit(void *be, uint64_t id, const struct vm_target *t, size_t n)
{
    struct tkm_pb *pb = ((struct tkm_pb_sender *)be)->pb;
    Vmca__VmTarget *vt = room(pb, CE_VT, n, sizeof *vt);
    Vmca__VmTarget **vtp = room(pb, CE_VTPTR, n, sizeof *vtp);
    if (!vt || !vtp)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        vmca__vm_target__init(&vt[i]);
        vt[i].vm = t[i].vm;
        vt[i].pages = t[i].pages;
        vtp[i] = &vt[i];
    }
    Vmca__TkmMemLimit ml = VMCA__TKM_MEM_LIMIT__INIT;
    ml.targets = vtp;
    ml.n_targets = n;
    SEND_CALL(MEM_LIMIT, mem_limit, &ml);
}

static int enc_grant(void *be, uint64_t id, uint32_t from, const struct vmca_block *blocks,
                     size_t n)
{
    Vmca__TkmGrant gr = VMCA__TKM_GRANT__INIT;
    gr.blocks = pb_blocks(&((struct tkm_pb_sender *)be)->pb->call_blocks, blocks, n);
    if (!gr.blocks)
        return VMCA_ERR_NOMEM;
    gr.from = from;
    gr.n_blocks = n;
    SEND_CALL(GRANT, grant, &gr);
}

static int enc_request(void *be, uint64_t id, uint32_t to, uint64_t pages)
{
    Vmca__TkmRequest rq = VMCA__TKM_REQUEST__INIT;
    rq.pages = pages;
    rq.to = to;
    SEND_CALL(REQUEST, request, &rq);
}

static int enc_give_back(void *be, uint64_t id, uint32_t home, uint32_t max_migrate)
{
    Vmca__TkmReturn rt = VMCA__TKM_RETURN__INIT;
    rt.home = home;
    rt.max_migrate = max_migrate;
    SEND_CALL(RET, ret, &rt);
}

static int enc_give_surplus(void *be, uint64_t id, uint32_t home, uint64_t pages)
{
    Vmca__TkmSurplus sp = VMCA__TKM_SURPLUS__INIT;
    sp.home = home;
    sp.pages = pages;
    SEND_CALL(SURPLUS, surplus, &sp);
}

static int enc_invalidate(void *be, uint64_t id, uint32_t home)
{
    Vmca__TkmInvalidate inv = VMCA__TKM_INVALIDATE__INIT;
    inv.home = home;
    SEND_CALL(INVALIDATE, invalidate, &inv);
}

static int enc_owned(void *be, uint64_t id, uint32_t home)
{
    Vmca__TkmOwned ow = VMCA__TKM_OWNED__INIT;
    ow.home = home;
    SEND_CALL(OWNED, owned, &ow);
}

static int enc_reclaim(void *be, uint64_t id, const struct vmca_block *held, size_t n_held,
                       const uint32_t *owners, size_t n_owners)
{
    Vmca__TkmReclaim rc = VMCA__TKM_RECLAIM__INIT;
    rc.held = pb_blocks(&((struct tkm_pb_sender *)be)->pb->call_blocks, held, n_held);
    if (!rc.held)
        return VMCA_ERR_NOMEM;
    rc.n_held = n_held;
    rc.owners = (uint32_t *)owners; /* protobuf-c's fields are not const; only read */
    rc.n_owners = n_owners;
    SEND_CALL(RECLAIM, reclaim, &rc);
}

static int enc_enable(void *be, uint64_t id, uint32_t home, bool enable)
{
    Vmca__TkmEnable en = VMCA__TKM_ENABLE__INIT;
    en.home = home;
    en.enable = enable;
    SEND_CALL(ENABLE, enable, &en);
}

static int enc_freeze(void *be, uint64_t id, uint32_t home, bool frozen)
{
    Vmca__TkmFreeze fz = VMCA__TKM_FREEZE__INIT;
    fz.home = home;
    fz.frozen = frozen;
    SEND_CALL(FREEZE, freeze, &fz);
}

const struct tkm_ops tkm_pb_call_ops = {
    .stats_now = enc_stats_now,
    .mem_limit = enc_mem_limit,
    .grant = enc_grant,
    .request = enc_request,
    .give_back = enc_give_back,
    .give_surplus = enc_give_surplus,
    .invalidate = enc_invalidate,
    .owned = enc_owned,
    .reclaim = enc_reclaim,
    .enable = enc_enable,
    .freeze = enc_freeze,
};

/* ---- manager side: answers in ---- */

int tkm_pb_reply_decode(struct tkm_pb *pb, const Vmca__TkmReply *in, struct tkm_reply *out)
{
    struct vmca_block *blocks = plain_blocks(pb, RD_BLK, in->blocks, in->n_blocks);
    int *results = room(pb, RD_RES, in->n_results, sizeof *results);
    if (!blocks || !results)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < in->n_results; i++)
        results[i] = (int)in->results[i];
    *out = (struct tkm_reply){
        .id = in->id, .status = in->status, .pages = in->pages, .blocks = blocks,
        .n_blocks = in->n_blocks, .results = results, .n_results = in->n_results,
        .done = in->done, .error = in->error && in->error[0] ? in->error : NULL,
    };
    return VMCA_OK;
}

int tkm_pb_sample_decode(struct tkm_pb *pb, const Vmca__TkmStats *in, struct tkm_sample *out)
{
    struct tkm_pages *owned = room(pb, SD_OWNED, in->n_owned, sizeof *owned);
    struct tkm_pages *lent = room(pb, SD_LENT, in->n_lent, sizeof *lent);
    struct tkm_vm *vms = room(pb, SD_VMS, in->n_vms, sizeof *vms);
    if (!owned || !lent || !vms)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < in->n_owned; i++)
        owned[i] = (struct tkm_pages){in->owned[i]->node, in->owned[i]->pages};
    for (size_t i = 0; i < in->n_lent; i++)
        lent[i] = (struct tkm_pages){in->lent[i]->node, in->lent[i]->pages};
    for (size_t i = 0; i < in->n_vms; i++) {
        const Vmca__VmStats *v = in->vms[i];
        vms[i] = (struct tkm_vm){v->vm, v->tmem_used, v->mm_target, v->puts_total,
                                 v->puts_succ, v->gets, v->flushes, v->puts_evicting};
    }
    *out = (struct tkm_sample){
        .generation = in->generation, .fenced = in->fenced,
        .total_pages = in->owned_pages, .free_pages = in->free_pages,
        .owned = owned, .n_owned = in->n_owned, .lent = lent, .n_lent = in->n_lent,
        .vms = vms, .n_vms = in->n_vms, .period = in->period,
    };
    return VMCA_OK;
}

/* ---- hypervisor side ---- */

int tkm_pb_call_apply(struct tkm_pb *pb, const Vmca__TkmToHv *m, const struct tkm_backend *b)
{
    const struct tkm_ops *o = b->ops;
    switch (m->call_case) {
    case VMCA__TKM_TO_HV__CALL_STATS_NOW:
        return o->stats_now(b->be, m->id);
    case VMCA__TKM_TO_HV__CALL_MEM_LIMIT: {
        const Vmca__TkmMemLimit *ml = m->mem_limit;
        struct vm_target *t = room(pb, CD_VT, ml->n_targets, sizeof *t);
        if (!t)
            return VMCA_ERR_NOMEM;
        for (size_t i = 0; i < ml->n_targets; i++)
            t[i] = (struct vm_target){.vm = ml->targets[i]->vm, .pages = ml->targets[i]->pages};
        return o->mem_limit(b->be, m->id, t, ml->n_targets);
    }
    case VMCA__TKM_TO_HV__CALL_GRANT: {
        const Vmca__TkmGrant *g = m->grant;
        /* Too many: not copied (the scratch stays its size); the op
         * refuses the count before it reads a block. */
        if (g->n_blocks > TKM_MAX_BLOCKS)
            return o->grant(b->be, m->id, g->from, NULL, g->n_blocks);
        struct vmca_block *v = plain_blocks(pb, CD_BLK, g->blocks, g->n_blocks);
        return v ? o->grant(b->be, m->id, g->from, v, g->n_blocks) : VMCA_ERR_NOMEM;
    }
    case VMCA__TKM_TO_HV__CALL_REQUEST:
        return o->request(b->be, m->id, m->request->to, m->request->pages);
    case VMCA__TKM_TO_HV__CALL_RET:
        return o->give_back(b->be, m->id, m->ret->home, m->ret->max_migrate);
    case VMCA__TKM_TO_HV__CALL_SURPLUS:
        return o->give_surplus(b->be, m->id, m->surplus->home, m->surplus->pages);
    case VMCA__TKM_TO_HV__CALL_INVALIDATE:
        return o->invalidate(b->be, m->id, m->invalidate->home);
    case VMCA__TKM_TO_HV__CALL_OWNED:
        return o->owned(b->be, m->id, m->owned->home);
    case VMCA__TKM_TO_HV__CALL_RECLAIM: {
        const Vmca__TkmReclaim *rc = m->reclaim;
        if (rc->n_held > TKM_MAX_BLOCKS) /* as for a grant */
            return o->reclaim(b->be, m->id, NULL, rc->n_held, rc->owners, rc->n_owners);
        struct vmca_block *v = plain_blocks(pb, CD_BLK, rc->held, rc->n_held);
        return v ? o->reclaim(b->be, m->id, v, rc->n_held, rc->owners, rc->n_owners)
                 : VMCA_ERR_NOMEM;
    }
    case VMCA__TKM_TO_HV__CALL_ENABLE:
        return o->enable(b->be, m->id, m->enable->home, m->enable->enable);
    case VMCA__TKM_TO_HV__CALL_FREEZE:
        return o->freeze(b->be, m->id, m->freeze->home, m->freeze->frozen);
    default:
        return VMCA_ERR_PROTO;
    }
}

int tkm_pb_reply_encode(struct tkm_pb *pb, const struct tkm_reply *in, Vmca__TkmReply *out)
{
    vmca__tkm_reply__init(out);
    Vmca__Block **blocks = pb_blocks(&pb->reply_blocks, in->blocks, in->n_blocks);
    Vmca__GrantResult *res = room(pb, RE_RES, in->n_results, sizeof *res);
    if (!blocks || !res)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < in->n_results; i++)
        res[i] = (Vmca__GrantResult)in->results[i];
    out->id = in->id;
    out->status = in->status;
    if (in->error)
        out->error = (char *)in->error; /* only read by the packer */
    out->pages = in->pages;
    out->blocks = blocks;
    out->n_blocks = in->n_blocks;
    out->results = res;
    out->n_results = in->n_results;
    out->done = in->done;
    return VMCA_OK;
}

int tkm_pb_sample_encode(struct tkm_pb *pb, const struct tkm_hv_stats *hs, Vmca__TkmStats *out)
{
    const struct tkm_sample *in = &hs->sample;
    vmca__tkm_stats__init(out);
    Vmca__HomePages *po = room(pb, SE_OWNED, in->n_owned, sizeof *po);
    Vmca__HomePages **ppo = room(pb, SE_OPTR, in->n_owned, sizeof *ppo);
    Vmca__HomePages *pl = room(pb, SE_LENT, in->n_lent, sizeof *pl);
    Vmca__HomePages **ppl = room(pb, SE_LPTR, in->n_lent, sizeof *ppl);
    Vmca__VmStats *pv = room(pb, SE_VMS, in->n_vms, sizeof *pv);
    Vmca__VmStats **ppv = room(pb, SE_VPTR, in->n_vms, sizeof *ppv);
    if (!po || !ppo || !pl || !ppl || !pv || !ppv)
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < in->n_owned; i++) {
        vmca__home_pages__init(&po[i]);
        po[i].node = in->owned[i].node;
        po[i].pages = in->owned[i].pages;
        ppo[i] = &po[i];
    }
    for (size_t i = 0; i < in->n_lent; i++) {
        vmca__home_pages__init(&pl[i]);
        pl[i].node = in->lent[i].node;
        pl[i].pages = in->lent[i].pages;
        ppl[i] = &pl[i];
    }
    for (size_t i = 0; i < in->n_vms; i++) {
        const struct tkm_vm *v = &in->vms[i];
        vmca__vm_stats__init(&pv[i]);
        pv[i].vm = v->vm;
        pv[i].tmem_used = v->used;
        pv[i].mm_target = v->target;
        pv[i].puts_total = v->puts_total;
        pv[i].puts_succ = v->puts_succ;
        pv[i].gets = v->gets;
        pv[i].flushes = v->flushes;
        pv[i].puts_evicting = v->puts_evicting;
        ppv[i] = &pv[i];
    }
    out->period = in->period;
    out->owned_pages = in->total_pages;
    out->free_pages = in->free_pages;
    out->used_pages = hs->used_pages;
    out->metadata_bytes = hs->metadata_bytes;
    out->generation = in->generation;
    out->fenced = in->fenced;
    out->owned = ppo;
    out->n_owned = in->n_owned;
    out->lent = ppl;
    out->n_lent = in->n_lent;
    out->vms = ppv;
    out->n_vms = in->n_vms;
    out->failed_vms = (uint32_t *)hs->failed_vms; /* only read by the packer */
    out->n_failed_vms = hs->n_failed_vms;
    return VMCA_OK;
}
