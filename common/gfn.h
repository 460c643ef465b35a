/* Global frame numbers: the emulated global physical address space gives every
 * page one 64-bit address. A gfn is the address without its page offset; its
 * high VMCA_GFN_NODE_BITS bits name the page's home node (hardware feature:
 * node id from address) and the low VMCA_GFN_INDEX_BITS bits the page inside
 * the home. A block is an aligned power-of-two run of gfns inside one home. */
#ifndef VMCA_GFN_H
#define VMCA_GFN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMCA_GFN_NODE_BITS 16u
#define VMCA_GFN_INDEX_BITS 36u
#define VMCA_GFN_INDEX_MASK ((UINT64_C(1) << VMCA_GFN_INDEX_BITS) - 1)
#define VMCA_NODE_NONE 0u                     /* no node; never a valid id */
#define VMCA_NODE_MAX ((1u << VMCA_GFN_NODE_BITS) - 1)
#define VMCA_ORDER_MAX 30u                    /* largest block: 2^30 pages */

static inline bool vmca_node_valid(uint32_t node)
{
    return node != VMCA_NODE_NONE && node <= VMCA_NODE_MAX;
}

/* gfn of page `index` of home `node`; both must be in range (check first). */
static inline uint64_t vmca_gfn_make(uint32_t node, uint64_t index)
{
    return ((uint64_t)node << VMCA_GFN_INDEX_BITS) | (index & VMCA_GFN_INDEX_MASK);
}

static inline uint32_t vmca_gfn_home(uint64_t gfn)
{
    return (uint32_t)(gfn >> VMCA_GFN_INDEX_BITS);
}

static inline uint64_t vmca_gfn_index(uint64_t gfn)
{
    return gfn & VMCA_GFN_INDEX_MASK;
}

/* A gfn names a page of a valid home (node bits in range, nothing above). */
static inline bool vmca_gfn_valid(uint64_t gfn)
{
    return (gfn >> (VMCA_GFN_INDEX_BITS + VMCA_GFN_NODE_BITS)) == 0 &&
           vmca_node_valid(vmca_gfn_home(gfn));
}

/* Byte address of a gfn's first byte, for pages of 2^page_shift bytes. */
static inline uint64_t vmca_gfn_to_addr(uint64_t gfn, unsigned page_shift)
{
    return gfn << page_shift;
}

static inline uint64_t vmca_addr_to_gfn(uint64_t addr, unsigned page_shift)
{
    return addr >> page_shift;
}

/* A block of global frames as protocol code passes it around. */
struct vmca_block {
    uint64_t gfn;
    uint32_t order;
    uint64_t generation;   /* the home's memory generation; 0 = not known */
};

/* Pages in a list of blocks. */
static inline uint64_t vmca_blocks_pages(const struct vmca_block *b, size_t n)
{
    uint64_t pages = 0;
    for (size_t i = 0; i < n; i++)
        pages += UINT64_C(1) << b[i].order;
    return pages;
}

/* The buddy of block (gfn, order): same home, index xor 2^order. */
static inline uint64_t vmca_block_buddy(uint64_t gfn, unsigned order)
{
    return gfn ^ (UINT64_C(1) << order);
}

/* Block (gfn, order) is well formed: valid gfn, order <= VMCA_ORDER_MAX, index
 * aligned to 2^order, and the block does not run past its home's index space
 * nor past `home_pages` pages when home_pages != 0. */
static inline bool vmca_block_valid(uint64_t gfn, unsigned order, uint64_t home_pages)
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

#endif
