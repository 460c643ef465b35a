/* Validation of blocks of global frames (the inline math is in gfn.h). */
#include "gfn.h"

bool vmca_block_valid(uint64_t gfn, unsigned order, uint64_t home_pages)
{
    if (!vmca_gfn_valid(gfn) || order > VMCA_ORDER_MAX)
        return false;
    uint64_t index = vmca_gfn_index(gfn);
    uint64_t size = UINT64_C(1) << order;
    if (index & (size - 1))
        return false;
    if (size > VMCA_GFN_INDEX_MASK + 1 - index)
        return false;
    if (home_pages != 0 && (index >= home_pages || size > home_pages - index))
        return false;
    return true;
}
