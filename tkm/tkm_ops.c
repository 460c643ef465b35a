/* The manager side's one mapping of a queued TKM call onto the backend's
 * operations (tkm_ops.h). */
#include "tkm_ops.h"

#include "err.h"

int tkm_call_apply(const struct tkm_backend *b, const struct tkm_call *c)
{
    const struct tkm_ops *o = b->ops;
    switch (c->kind) {
    case TKM_CALL_REQUEST: return o->request(b->be, c->id, c->node, c->pages);
    case TKM_CALL_GRANT: return o->grant(b->be, c->id, c->node, c->blocks, c->n_blocks);
    case TKM_CALL_ENABLE: return o->enable(b->be, c->id, c->node, c->enable);
    case TKM_CALL_RETURN: return o->give_back(b->be, c->id, c->node, (uint32_t)c->pages);
    case TKM_CALL_INVALIDATE: return o->invalidate(b->be, c->id, c->node);
    case TKM_CALL_OWNED: return o->owned(b->be, c->id, c->node);
    case TKM_CALL_RECLAIM:
        if (!c->owners)
            return VMCA_ERR_NOMEM;
        return o->reclaim(b->be, c->id, c->blocks, c->n_blocks, c->owners, c->n_blocks);
    case TKM_CALL_FREEZE: return o->freeze(b->be, c->id, c->node, c->enable);
    case TKM_CALL_MEM_LIMIT: return o->mem_limit(b->be, c->id, c->targets, c->n_targets);
    case TKM_CALL_SURPLUS: return o->give_surplus(b->be, c->id, c->node, c->pages);
    }
    return VMCA_ERR_INVAL;
}
