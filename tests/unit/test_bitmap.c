/* Bitmap against a byte-per-bit reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bitmap.h"

static void test_against_reference(void **state)
{
    enum { N = 1000 };
    struct vmca_bitmap b;
    unsigned char ref[N] = {0};
    assert_int_equal(vmca_bitmap_init(&b, N), 0);
    srand(42);
    for (int i = 0; i < 20000; i++) {
        size_t bit = (size_t)rand() % N;
        if (rand() & 1) {
            vmca_bitmap_set(&b, bit);
            ref[bit] = 1;
        } else {
            vmca_bitmap_clear(&b, bit);
            ref[bit] = 0;
        }
    }
    size_t count = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(vmca_bitmap_test(&b, i), ref[i]);
        count += ref[i];
    }
    assert_int_equal(vmca_bitmap_count(&b), count);
    size_t seen = 0;
    for (size_t i = vmca_bitmap_next_set(&b, 0); i < N; i = vmca_bitmap_next_set(&b, i + 1)) {
        assert_int_equal(ref[i], 1);
        seen++;
    }
    assert_int_equal(seen, count);
    vmca_bitmap_free(&b);
}

/* next_set from every position of sparse bitmaps (the empty stretches it
 * skips a few words at a time), against a scan bit by bit; the last word
 * is partial and bits are set near word and group edges. */
static void test_next_set_sparse(void **state)
{
    enum { N = 64 * 67 + 5 };
    static const size_t edges[] = {0, 63, 64, 255, 256, 257, 1023, 2047, 4287, N - 1};
    struct vmca_bitmap b;
    unsigned char ref[N];
    assert_int_equal(vmca_bitmap_init(&b, N), 0);
    srand(7);
    for (int round = 0; round < 24; round++) {
        vmca_bitmap_clear_all(&b);
        memset(ref, 0, sizeof ref);
        int bits = round % 6; /* 0..5 bits set */
        for (int k = 0; k < bits; k++) {
            size_t bit = round % 2 ? edges[(size_t)rand() % (sizeof edges / sizeof *edges)]
                                   : (size_t)rand() % N;
            vmca_bitmap_set(&b, bit);
            ref[bit] = 1;
        }
        for (size_t from = 0; from <= N + 1; from++) {
            size_t want = from;
            while (want < N && !ref[want])
                want++;
            if (want > N)
                want = N;
            assert_int_equal(vmca_bitmap_next_set(&b, from), want);
        }
    }
    vmca_bitmap_free(&b);
}

/* The inline popcount against counting bit by bit: edges and random words. */
static void test_popcount(void **state)
{
    uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
    for (int i = 0; i < 4000; i++) {
        uint64_t w;
        if (i < 64)
            w = UINT64_C(1) << i;
        else if (i < 128)
            w = ~UINT64_C(0) >> (i - 64);
        else if (i == 128)
            w = 0;
        else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            w = x & (i % 3 ? ~UINT64_C(0) : x >> 3); /* denser and sparser */
        }
        unsigned n = 0;
        for (unsigned b = 0; b < 64; b++)
            n += (unsigned)(w >> b & 1);
        assert_int_equal(vmca_popcount64(w), n);
    }
}

static void test_bounds(void **state)
{
    struct vmca_bitmap b;
    assert_int_equal(vmca_bitmap_init(&b, 70), 0);
    vmca_bitmap_set(&b, 70);            /* out of range: ignored */
    vmca_bitmap_set(&b, 1000);
    assert_false(vmca_bitmap_test(&b, 70));
    assert_int_equal(vmca_bitmap_count(&b), 0);
    vmca_bitmap_set(&b, 69);
    vmca_bitmap_set(&b, 0);
    vmca_bitmap_set(&b, 64);
    assert_int_equal(vmca_bitmap_count(&b), 3);
    assert_int_equal(vmca_bitmap_next_set(&b, 1), 64);
    assert_int_equal(vmca_bitmap_next_set(&b, 65), 69);
    assert_int_equal(vmca_bitmap_next_set(&b, 70), 70);
    vmca_bitmap_clear_all(&b);
    assert_int_equal(vmca_bitmap_count(&b), 0);
    assert_int_equal(vmca_bitmap_next_set(&b, 0), 70);
    vmca_bitmap_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_next_set_sparse),
        cmocka_unit_test(test_popcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
