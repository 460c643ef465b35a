/* Protobuf Block lists; see pbblocks.h. */
#include "pbblocks.h"

#include <stdlib.h>

#include "err.h"

int vmca_pb_blocks_make(struct vmca_pb_blocks *pb, const struct vmca_block *blocks, size_t n)
{
    pb->n = 0;
    pb->store = malloc((n ? n : 1) * sizeof *pb->store);
    pb->ptrs = malloc((n ? n : 1) * sizeof *pb->ptrs);
    if (!pb->store || !pb->ptrs) {
        vmca_pb_blocks_free(pb);
        return VMCA_ERR_NOMEM;
    }
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

void vmca_pb_blocks_free(struct vmca_pb_blocks *pb)
{
    free(pb->store);
    free(pb->ptrs);
    pb->store = NULL;
    pb->ptrs = NULL;
    pb->n = 0;
}
