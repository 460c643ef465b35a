/* Protobuf Block lists built from struct vmca_block arrays (common/gfn.h),
 * for the messages and calls that carry blocks. */
#ifndef VMCA_PBBLOCKS_H
#define VMCA_PBBLOCKS_H

#include <stddef.h>

#include "gfn.h"
#include "vmca.pb-c.h"

struct vmca_pb_blocks {
    Vmca__Block *store;   /* owned */
    Vmca__Block **ptrs;   /* owned; what a message's `blocks` field points at */
    size_t n;
};

/* Fills pb from n blocks. Returns 0 or VMCA_ERR_NOMEM (pb then empty). */
int vmca_pb_blocks_make(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n);
void vmca_pb_blocks_free(struct vmca_pb_blocks *pb);

#endif
