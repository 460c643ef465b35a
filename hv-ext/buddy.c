/* Buddy allocator over one zone's page indices: free blocks live in one
 * hierarchical bitmap per order, so the only metadata is about two bits per
 * page plus the summary levels (see buddy.h). Freestanding: no libc I/O, no
 * allocation, no globals. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buddy.h"

#define HBM_NONE UINT64_MAX
#define PAGES_MAX (UINT64_C(1) << 36)

/* ---- hierarchical bitmap ------------------------------------------------ */

static uint64_t words_for(uint64_t bits)
{
    return (bits + 63) >> 6;
}

/* Words of every level for nbits bits; returns the level count. Level L+1
 * has one bit per word of level L; the top level is a single word. */
static unsigned hbm_shape(uint64_t nbits, uint64_t words[HVX_HBM_MAX_LEVELS])
{
    unsigned n = 0;
    uint64_t bits = nbits;
    if (nbits == 0)
        return 0;
    for (;;) {
        uint64_t w = words_for(bits);
        words[n++] = w;
        if (w == 1 || n == HVX_HBM_MAX_LEVELS)
            return n;
        bits = w;
    }
}

static bool hbm_test(const struct hvx_hbm *h, uint64_t i)
{
    return (h->level[0][i >> 6] >> (i & 63)) & 1u;
}

static void hbm_set(struct hvx_hbm *h, uint64_t i)
{
    for (unsigned l = 0; l < h->nlevels; l++) {
        uint64_t *w = &h->level[l][i >> 6];
        uint64_t old = *w;
        *w = old | (UINT64_C(1) << (i & 63));
        if (old != 0)
            return;     /* the word was already non-zero: summary unchanged */
        i >>= 6;
    }
}

static void hbm_clear(struct hvx_hbm *h, uint64_t i)
{
    for (unsigned l = 0; l < h->nlevels; l++) {
        uint64_t *w = &h->level[l][i >> 6];
        *w &= ~(UINT64_C(1) << (i & 63));
        if (*w != 0)
            return;
        i >>= 6;
    }
}

static uint64_t hbm_first(const struct hvx_hbm *h)
{
    if (h->nlevels == 0)
        return HBM_NONE;
    unsigned l = h->nlevels - 1;
    uint64_t top = h->level[l][0];
    if (top == 0)
        return HBM_NONE;
    uint64_t pos = (uint64_t)__builtin_ctzll(top);
    while (l-- > 0)
        pos = (pos << 6) + (uint64_t)__builtin_ctzll(h->level[l][pos]);
    return pos;
}

/* First set bit at or after `from`, or HBM_NONE. */
static uint64_t hbm_next(const struct hvx_hbm *h, uint64_t from)
{
    uint64_t bits = h->nbits;
    uint64_t pos = from;
    unsigned l = 0;
    for (;;) {
        if (l >= h->nlevels || pos >= bits)
            return HBM_NONE;
        uint64_t w = pos >> 6;
        uint64_t word = h->level[l][w] & (~UINT64_C(0) << (pos & 63));
        if (word != 0) {
            pos = (w << 6) + (uint64_t)__builtin_ctzll(word);
            break;
        }
        pos = w + 1;    /* next word of this level = next bit one level up */
        bits = words_for(bits);
        l++;
    }
    while (l-- > 0)
        pos = (pos << 6) + (uint64_t)__builtin_ctzll(h->level[l][pos]);
    return pos;
}

/* Whether any bit in [lo, hi) is set: the partial words at both ends are
 * read at this level, the whole words between them through the summary
 * level above, so the cost is O(levels) whatever the range. */
static bool hbm_any(const struct hvx_hbm *h, uint64_t lo, uint64_t hi)
{
    if (hi > h->nbits)
        hi = h->nbits;
    for (unsigned l = 0; l < h->nlevels && lo < hi; l++) {
        const uint64_t *lv = h->level[l];
        uint64_t wlo = lo >> 6, whi = (hi - 1) >> 6;
        uint64_t mlo = ~UINT64_C(0) << (lo & 63);
        uint64_t mhi = ~UINT64_C(0) >> (63 - ((hi - 1) & 63));
        if (wlo == whi)
            return (lv[wlo] & mlo & mhi) != 0;
        if ((lv[wlo] & mlo) != 0 || (lv[whi] & mhi) != 0)
            return true;
        lo = wlo + 1;
        hi = whi;
    }
    return false;
}

/* ---- buddy -------------------------------------------------------------- */

static unsigned max_order_for(uint64_t npages)
{
    if (npages == 0)
        return 0;
    unsigned o = 63u - (unsigned)__builtin_clzll(npages);
    return o > HVX_BUDDY_MAX_ORDER ? HVX_BUDDY_MAX_ORDER : o;
}

size_t hvx_buddy_mem(uint64_t npages)
{
    if (npages == 0 || npages > PAGES_MAX)
        return 0;
    unsigned max = max_order_for(npages);
    uint64_t total = 0;
    for (unsigned k = 0; k <= max; k++) {
        uint64_t words[HVX_HBM_MAX_LEVELS];
        unsigned n = hbm_shape(npages >> k, words);
        for (unsigned l = 0; l < n; l++)
            total += words[l];
    }
    return (size_t)(total * sizeof(uint64_t));
}

void hvx_buddy_init(struct hvx_buddy *b, uint64_t npages, void *mem)
{
    memset(b, 0, sizeof(*b));
    if (npages == 0 || npages > PAGES_MAX || mem == NULL)
        return;         /* an empty allocator: every operation refuses */
    b->npages = npages;
    b->max_order = max_order_for(npages);
    uint64_t *p = mem;
    for (unsigned k = 0; k <= b->max_order; k++) {
        struct hvx_hbm *h = &b->order[k];
        uint64_t words[HVX_HBM_MAX_LEVELS];
        h->nbits = npages >> k;
        h->nlevels = hbm_shape(h->nbits, words);
        for (unsigned l = 0; l < h->nlevels; l++) {
            h->level[l] = p;
            memset(p, 0, (size_t)words[l] * sizeof(uint64_t));
            p += words[l];
        }
    }
}

/* Whether [idx, idx + 2^order) is an aligned block inside the zone. */
static bool block_valid(const struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    if (b->npages == 0 || order > b->max_order)
        return false;
    uint64_t size = UINT64_C(1) << order;
    return (idx & (size - 1)) == 0 && idx <= b->npages - size;
}

/* Whether any page of [lo, hi) (inside the zone, lo < hi) is free: at each
 * order, whether a free block overlaps the range (one or two bits at the
 * orders above the range's length, a bitmap range below). */
static bool range_has_free(const struct hvx_buddy *b, uint64_t lo, uint64_t hi)
{
    for (unsigned k = 0; k <= b->max_order; k++)
        if (hbm_any(&b->order[k], lo >> k, ((hi - 1) >> k) + 1))
            return true;
    return false;
}

static void set_free(struct hvx_buddy *b, uint64_t idx, unsigned k)
{
    hbm_set(&b->order[k], idx >> k);
    b->free_blocks[k]++;
}

static void clear_free(struct hvx_buddy *b, uint64_t idx, unsigned k)
{
    hbm_clear(&b->order[k], idx >> k);
    b->free_blocks[k]--;
}

/* Inserts a block known not to overlap the free set, merging upward. */
static void insert_block(struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    unsigned k = order;
    b->free_pages += UINT64_C(1) << order;
    while (k < b->max_order) {
        uint64_t buddy = (idx >> k) ^ 1u;
        const struct hvx_hbm *h = &b->order[k];
        if (buddy >= h->nbits || !hbm_test(h, buddy))
            break;
        clear_free(b, buddy << k, k);
        idx &= ~(UINT64_C(1) << k);
        k++;
    }
    set_free(b, idx, k);
}

/* The order of the free block that is or contains the block at idx of
 * `order`, or -1. One bit per order, but free blocks are disjoint, so a
 * free block seen inside a container proves that container and all above
 * it are not free: a free buddy at order k ends the walk, any other free
 * block in the same word at order k (the container of order k + 6) ends
 * it after order k + 5. That keeps the order-0 paths short. */
static int find_container(const struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    unsigned limit = b->max_order;
    for (unsigned k = order; k <= limit; k++) {
        const struct hvx_hbm *h = &b->order[k];
        uint64_t bit = idx >> k;
        if (bit >= h->nbits)
            break;      /* the container passes the end here and above */
        uint64_t word = h->level[0][bit >> 6];
        if ((word >> (bit & 63)) & 1u)
            return (int)k;
        if (word != 0) {
            if ((word >> ((bit ^ 1u) & 63)) & 1u)
                break;
            if (k + 5 < limit)
                limit = k + 5;
        }
    }
    return -1;
}

/* Whether any page of the valid block (idx, order) is free: it or a
 * container is free, or a sub-block is (a bitmap range per lower order). */
static bool block_has_free(const struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    if (find_container(b, idx, order) >= 0)
        return true;
    uint64_t end = idx + (UINT64_C(1) << order);
    for (unsigned k = 0; k < order; k++)
        if (hbm_any(&b->order[k], idx >> k, end >> k))
            return true;
    return false;
}

int hvx_buddy_free(struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    if (!block_valid(b, idx, order))
        return -1;
    if (block_has_free(b, idx, order))
        return -1;
    insert_block(b, idx, order);
    return 0;
}

/* Removes the free block (start, k) and gives back every part of it except
 * [idx, idx + 2^order): at each lower order the half not holding idx. */
static void split_out(struct hvx_buddy *b, uint64_t start, unsigned k,
                      uint64_t idx, unsigned order)
{
    clear_free(b, start, k);
    while (k > order) {
        k--;
        set_free(b, (idx ^ (UINT64_C(1) << k)) & ~((UINT64_C(1) << k) - 1), k);
    }
    b->free_pages -= UINT64_C(1) << order;
}

int64_t hvx_buddy_alloc(struct hvx_buddy *b, unsigned order)
{
    if (b->npages == 0 || order > b->max_order)
        return -1;
    for (unsigned k = order; k <= b->max_order; k++) {
        if (b->free_blocks[k] == 0)
            continue;
        uint64_t start = hbm_first(&b->order[k]) << k;
        split_out(b, start, k, start, order);
        return (int64_t)start;
    }
    return -1;
}

int hvx_buddy_take(struct hvx_buddy *b, uint64_t idx, unsigned order)
{
    if (!block_valid(b, idx, order))
        return -1;
    int k = find_container(b, idx, order);
    if (k < 0)
        return -1;
    split_out(b, (idx >> k) << k, (unsigned)k, idx, order);
    return 0;
}

bool hvx_buddy_is_free(const struct hvx_buddy *b, uint64_t idx)
{
    if (idx >= b->npages)
        return false;
    return find_container(b, idx, 0) >= 0;
}

int hvx_buddy_largest(const struct hvx_buddy *b, uint64_t *idx, unsigned *order)
{
    if (b->npages == 0)
        return -1;
    for (unsigned k = b->max_order + 1; k-- > 0;) {
        if (b->free_blocks[k] == 0)
            continue;
        *idx = hbm_first(&b->order[k]) << k;
        *order = k;
        return 0;
    }
    return -1;
}

int hvx_buddy_foreach_free(const struct hvx_buddy *b,
                           int (*fn)(void *arg, uint64_t idx, unsigned order),
                           void *arg)
{
    if (b->npages == 0)
        return 0;
    for (unsigned k = b->max_order + 1; k-- > 0;) {
        const struct hvx_hbm *h = &b->order[k];
        for (uint64_t i = hbm_next(h, 0); i != HBM_NONE; i = hbm_next(h, i + 1)) {
            int rc = fn(arg, i << k, k);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int hvx_buddy_free_range(struct hvx_buddy *b, uint64_t lo, uint64_t hi)
{
    if (b->npages == 0 || lo >= hi || hi > b->npages)
        return -1;
    if (range_has_free(b, lo, hi))
        return -1;
    while (lo < hi) {
        /* the largest aligned block starting at lo that fits in [lo, hi) */
        unsigned k = 63u - (unsigned)__builtin_clzll(hi - lo);
        if (lo != 0 && (unsigned)__builtin_ctzll(lo) < k)
            k = (unsigned)__builtin_ctzll(lo);
        if (k > b->max_order)
            k = b->max_order;
        insert_block(b, lo, k);
        lo += UINT64_C(1) << k;
    }
    return 0;
}

/* ---- self-check --------------------------------------------------------- */

static int check_hbm(const struct hvx_hbm *h, uint64_t nbits)
{
    uint64_t words[HVX_HBM_MAX_LEVELS];
    unsigned n = hbm_shape(nbits, words);
    if (h->nbits != nbits || h->nlevels != n)
        return -1;
    uint64_t bits = nbits;
    for (unsigned l = 0; l < n; l++) {
        const uint64_t *lv = h->level[l];
        /* nothing set past the last bit of the level */
        if ((bits & 63) != 0 && (lv[words[l] - 1] >> (bits & 63)) != 0)
            return -1;
        if (l + 1 < n) {
            const uint64_t *up = h->level[l + 1];
            for (uint64_t w = 0; w < words[l]; w++) {
                bool sum = (up[w >> 6] >> (w & 63)) & 1u;
                if (sum != (lv[w] != 0))
                    return -1;
            }
        }
        bits = words[l];
    }
    return 0;
}

int hvx_buddy_check(const struct hvx_buddy *b)
{
    if (b->npages == 0)
        return b->free_pages == 0 ? 0 : -1;
    if (b->max_order != max_order_for(b->npages))
        return -1;
    uint64_t pages = 0;
    for (unsigned k = 0; k <= HVX_BUDDY_MAX_ORDER; k++) {
        if (k > b->max_order) {
            if (b->free_blocks[k] != 0)
                return -1;
            continue;
        }
        const struct hvx_hbm *h = &b->order[k];
        if (check_hbm(h, b->npages >> k) != 0)
            return -1;
        uint64_t count = 0;
        for (uint64_t i = hbm_next(h, 0); i != HBM_NONE; i = hbm_next(h, i + 1)) {
            count++;
            /* the free block at (i, k) must not overlap another free block:
             * no containing block free above, no sub-block free below */
            uint64_t lo = i << k, hi = (i + 1) << k;
            for (unsigned j = 0; j <= b->max_order; j++) {
                if (j == k)
                    continue;
                if (hbm_any(&b->order[j], lo >> j, ((hi - 1) >> j) + 1))
                    return -1;
            }
            /* fully merged: the buddy of the same order is not free */
            if (k < b->max_order) {
                uint64_t buddy = i ^ 1u;
                if (buddy < h->nbits && hbm_test(h, buddy))
                    return -1;
            }
        }
        if (count != b->free_blocks[k])
            return -1;
        pages += count << k;
    }
    return pages == b->free_pages ? 0 : -1;
}
