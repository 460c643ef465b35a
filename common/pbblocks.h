/* Protobuf Block lists built from struct vmca_block arrays (common/gfn.h),
 * for the messages and calls that carry blocks. A list can be refilled:
 * its arrays grow only when short, so a core or a codec that keeps one
 * allocates nothing per frame once warm. */
#ifndef VMCA_PBBLOCKS_H
#define VMCA_PBBLOCKS_H

#include <stddef.h>

#include "gfn.h"
#include "vmca.pb-c.h"

struct vmca_pb_blocks {
    Vmca__Block *store;   /* owned */
    Vmca__Block **ptrs;   /* owned; what a message's `blocks` field points at */
    size_t n;
    size_t cap_store, cap_ptrs;
};

/* Fills pb from n blocks, reusing its arrays (pb zeroed, or filled
 * before). Returns 0 or VMCA_ERR_NOMEM (pb then holds no blocks, n = 0). */
int vmca_pb_blocks_fill(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n);
/* vmca_pb_blocks_fill on a new list (free it with vmca_pb_blocks_free). */
int vmca_pb_blocks_make(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n);
void vmca_pb_blocks_free(struct vmca_pb_blocks *pb);

#endif
