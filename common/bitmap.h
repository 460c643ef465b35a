/* Fixed-size bitmap. The word-array functions need no allocation (usable by
 * the freestanding hv-ext); struct vmca_bitmap owns its words. */
#ifndef VMCA_BITMAP_H
#define VMCA_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMCA_BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

static inline void vmca_bits_set(uint64_t *w, size_t bit)
{
    w[bit / 64] |= UINT64_C(1) << (bit % 64);
}

static inline void vmca_bits_clear(uint64_t *w, size_t bit)
{
    w[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
}

static inline bool vmca_bits_test(const uint64_t *w, size_t bit)
{
    return (w[bit / 64] >> (bit % 64)) & 1u;
}

/* Set bits in one word. Without -mpopcnt, __builtin_popcountll is a call
 * into libgcc; this inline form is as fast as that call's body. */
static inline unsigned vmca_popcount64(uint64_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
#endif
}

/* Number of set bits among the first nbits. */
size_t vmca_bits_count(const uint64_t *w, size_t nbits);
/* First set bit at or after `from`, or nbits when none. */
size_t vmca_bits_next_set(const uint64_t *w, size_t nbits, size_t from);

struct vmca_bitmap {
    uint64_t *words; /* owned; freed by vmca_bitmap_free */
    size_t nbits;
};

/* All bits clear. Returns 0 or VMCA_ERR_NOMEM. */
int vmca_bitmap_init(struct vmca_bitmap *b, size_t nbits);
void vmca_bitmap_free(struct vmca_bitmap *b);
void vmca_bitmap_clear_all(struct vmca_bitmap *b);

/* Bounds-checked; out-of-range bits read as clear and ignore writes. */
void vmca_bitmap_set(struct vmca_bitmap *b, size_t bit);
void vmca_bitmap_clear(struct vmca_bitmap *b, size_t bit);
bool vmca_bitmap_test(const struct vmca_bitmap *b, size_t bit);
size_t vmca_bitmap_count(const struct vmca_bitmap *b);
size_t vmca_bitmap_next_set(const struct vmca_bitmap *b, size_t from);

#endif
