/* Buddy allocator over the page indices [0, npages) of one home node's zone
 * (Linux mm/page_alloc.c style: blocks of 2^order pages aligned to their
 * size, buddy = idx ^ (1 << order), merge on free, split on allocation).
 * Free blocks are kept in one hierarchical bitmap per order (bit i of order
 * k set = the block starting at page i << k is free and whole), so the
 * allocator needs no per-page struct: about 0.3 bytes per page of the home.
 * Freestanding: no allocation (the caller provides hvx_buddy_mem() bytes),
 * no libc beyond <stdint.h>/<stddef.h>/<stdbool.h>/<string.h>. Pages that
 * were never freed into the allocator are "not owned" and never handed out. */
#ifndef HVX_BUDDY_H
#define HVX_BUDDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVX_BUDDY_MAX_ORDER 30u   /* largest block: 2^30 pages */
#define HVX_HBM_MAX_LEVELS 6u     /* 64^6 = 2^36 bits per order */

/* One hierarchical bitmap: level 0 holds the bits, level L+1 one bit per
 * non-zero word of level L; find-first is one ctz per level. */
struct hvx_hbm {
    uint64_t *level[HVX_HBM_MAX_LEVELS];
    uint64_t nbits;
    unsigned nlevels;
};

struct hvx_buddy {
    uint64_t npages;
    unsigned max_order;                 /* largest order that fits npages */
    uint64_t free_pages;
    uint64_t free_blocks[HVX_BUDDY_MAX_ORDER + 1];
    struct hvx_hbm order[HVX_BUDDY_MAX_ORDER + 1];
};

/* Bytes of storage hvx_buddy_init needs for npages (1..2^36) pages. */
size_t hvx_buddy_mem(uint64_t npages);

/* Sets up b over `mem` (hvx_buddy_mem(npages) bytes, 8-byte aligned, owned
 * by the caller and kept until the allocator is dropped). No page is free. */
void hvx_buddy_init(struct hvx_buddy *b, uint64_t npages, void *mem);

/* Adds block [idx, idx + 2^order) to the free set, merging with free
 * buddies. Returns 0, or -1 (nothing changed) when the block is misaligned,
 * out of range, or overlaps a page that is already free. */
int hvx_buddy_free(struct hvx_buddy *b, uint64_t idx, unsigned order);

/* Takes a free block of exactly 2^order pages, splitting a larger one when
 * needed (lowest address first within the smallest order that has one).
 * Returns its first page index, or -1 when no block that large is free. */
int64_t hvx_buddy_alloc(struct hvx_buddy *b, unsigned order);

/* Removes the specific block [idx, idx + 2^order) from the free set,
 * splitting the free block containing it. Returns 0, or -1 (nothing
 * changed) when any of its pages is not free. */
int hvx_buddy_take(struct hvx_buddy *b, uint64_t idx, unsigned order);

/* Whether page idx is free (part of some free block). */
bool hvx_buddy_is_free(const struct hvx_buddy *b, uint64_t idx);

/* The largest free block (highest order; lowest address among those):
 * returns 0 and sets *idx and *order, or -1 when nothing is free. */
int hvx_buddy_largest(const struct hvx_buddy *b, uint64_t *idx, unsigned *order);

/* Calls fn for every free block (order descending, address ascending);
 * stops early when fn returns non-zero and returns that value. */
int hvx_buddy_foreach_free(const struct hvx_buddy *b,
                           int (*fn)(void *arg, uint64_t idx, unsigned order),
                           void *arg);

/* Adds every page of [lo, hi) to the free set as the largest aligned blocks
 * that fit, merging with free buddies (for a zone's initial grant). Returns
 * 0, or -1 (nothing changed) when the range is empty, out of range, or any
 * of its pages is already free. */
int hvx_buddy_free_range(struct hvx_buddy *b, uint64_t lo, uint64_t hi);

/* Verifies every invariant (summary levels match the words below them, no
 * bit past the end, free blocks disjoint and fully merged, counters exact)
 * in O(npages / 32 + free blocks * max_order) word reads, for tests and the
 * simulator (not for hot paths).
 * Returns 0 when all hold, -1 otherwise. */
int hvx_buddy_check(const struct hvx_buddy *b);

#endif
