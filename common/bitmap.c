/* Bitmap operations; see bitmap.h. */
#include "bitmap.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

size_t vmca_bits_count(const uint64_t *w, size_t nbits)
{
    size_t n = 0, full = nbits / 64;
    for (size_t i = 0; i < full; i++)
        n += (size_t)vmca_popcount64(w[i]);
    if (nbits % 64)
        n += (size_t)vmca_popcount64(w[full] & ((UINT64_C(1) << (nbits % 64)) - 1));
    return n;
}

size_t vmca_bits_next_set(const uint64_t *w, size_t nbits, size_t from)
{
    if (from >= nbits)
        return nbits;
    size_t i = from / 64, nw = (nbits + 63) / 64;
    uint64_t word = w[i] & (~UINT64_C(0) << (from % 64));
    if (!word) {
        /* Bitmaps of node ids are mostly empty and scanned every tick:
         * skip empty stretches four words at a time. */
        i++;
        while (i + 4 <= nw && !(w[i] | w[i + 1] | w[i + 2] | w[i + 3]))
            i += 4;
        while (i < nw && !w[i])
            i++;
        if (i == nw)
            return nbits;
        word = w[i];
    }
    size_t bit = i * 64 + (size_t)__builtin_ctzll(word);
    return bit < nbits ? bit : nbits;
}

int vmca_bitmap_init(struct vmca_bitmap *b, size_t nbits)
{
    b->nbits = nbits;
    b->words = calloc(VMCA_BITMAP_WORDS(nbits) ? VMCA_BITMAP_WORDS(nbits) : 1,
                      sizeof(uint64_t));
    return b->words ? VMCA_OK : VMCA_ERR_NOMEM;
}

void vmca_bitmap_free(struct vmca_bitmap *b)
{
    free(b->words);
    b->words = NULL;
    b->nbits = 0;
}

void vmca_bitmap_clear_all(struct vmca_bitmap *b)
{
    memset(b->words, 0, VMCA_BITMAP_WORDS(b->nbits) * sizeof(uint64_t));
}

void vmca_bitmap_set(struct vmca_bitmap *b, size_t bit)
{
    if (bit < b->nbits)
        vmca_bits_set(b->words, bit);
}

void vmca_bitmap_clear(struct vmca_bitmap *b, size_t bit)
{
    if (bit < b->nbits)
        vmca_bits_clear(b->words, bit);
}

bool vmca_bitmap_test(const struct vmca_bitmap *b, size_t bit)
{
    return bit < b->nbits && vmca_bits_test(b->words, bit);
}

size_t vmca_bitmap_count(const struct vmca_bitmap *b)
{
    return vmca_bits_count(b->words, b->nbits);
}

size_t vmca_bitmap_next_set(const struct vmca_bitmap *b, size_t from)
{
    return vmca_bits_next_set(b->words, b->nbits, from);
}
