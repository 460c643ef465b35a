/* Bitmap against a byte-per-bit reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
