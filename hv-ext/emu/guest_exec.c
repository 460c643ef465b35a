/* One guest op on libhvx (guest_exec.h). */
#include "guest_exec.h"

#include <stddef.h>

int32_t guest_exec(struct hvx *h, uint32_t vm, const struct guest_op *op, uint8_t *buf,
                   uint32_t slots, uint32_t page_size)
{
    bool paged = op->op == GUEST_OP_PUT || op->op == GUEST_OP_GET;
    if (paged && op->slot >= slots)
        return HVX_EINVAL;
    uint8_t *slot = paged ? buf + (size_t)op->slot * page_size : NULL;
    switch (op->op) {
    case GUEST_OP_NEW_POOL: return hvx_pool_new(h, vm, op->pool);
    case GUEST_OP_DESTROY_POOL: return hvx_pool_destroy(h, vm, op->pool);
    case GUEST_OP_PUT: return hvx_put(h, vm, op->pool, op->oid, op->index, slot);
    case GUEST_OP_GET: return hvx_get(h, vm, op->pool, op->oid, op->index, slot);
    case GUEST_OP_FLUSH_PAGE: return hvx_flush_page(h, vm, op->pool, op->oid, op->index);
    case GUEST_OP_FLUSH_OBJECT: {
        int64_t n = hvx_flush_object(h, vm, op->pool, op->oid);
        return n > INT32_MAX ? INT32_MAX : (int32_t)n;
    }
    default: return HVX_EINVAL;
    }
}
