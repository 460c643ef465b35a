/* Protobuf Block lists; see pbblocks.h. */
#include "pbblocks.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "room.h"

int vmca_pb_blocks_fill(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n)
{
    pb->n = 0;
    if (!VMCA_ROOM(pb->store, pb->cap_store, n) || !VMCA_ROOM(pb->ptrs, pb->cap_ptrs, n))
        return VMCA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        vmca__block__init(&pb->store[i]);
        pb->store[i].gfn = blocks[i].gfn;
        pb->store[i].order = blocks[i].order;
        pb->store[i].generation = blocks[i].generation;
        pb->ptrs[i] = &pb->store[i];
    }
    pb->n = n;
    return VMCA_OK;
}

int vmca_pb_blocks_make(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n)
{
    memset(pb, 0, sizeof *pb);
    int rc = vmca_pb_blocks_fill(pb, blocks, n);
    if (rc != VMCA_OK)
        vmca_pb_blocks_free(pb);
    return rc;
}

void vmca_pb_blocks_free(struct vmca_pb_blocks *pb)
{
    free(pb->store);
    free(pb->ptrs);
    memset(pb, 0, sizeof *pb);
}
