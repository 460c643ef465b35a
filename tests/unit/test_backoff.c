/* Reconnect backoff: doubling, cap, jitter range, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static void test_doubles_to_cap(void **state)
{
    struct vmca_backoff b;
    vmca_backoff_init(&b, 100, 1000);
    /* rnd = UINT32_MAX... pick the top of the range with a modulus-friendly value */
    uint32_t expect_max[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (unsigned i = 0; i < sizeof expect_max / sizeof expect_max[0]; i++) {
        struct vmca_backoff probe = b;
        uint32_t lo = vmca_backoff_next(&probe, 0);
        probe = b;
        uint32_t hi = vmca_backoff_next(&probe, expect_max[i] - expect_max[i] / 2);
        assert_int_equal(lo, expect_max[i] / 2);
        assert_int_equal(hi, expect_max[i]);
        vmca_backoff_next(&b, 12345);
    }
}

static void test_jitter_in_range(void **state)
{
    struct vmca_backoff b;
    vmca_backoff_init(&b, 50, 5000);
    for (uint32_t r = 0; r < 2000; r++) {
        struct vmca_backoff probe = b;
        probe.attempt = r % 12;
        uint64_t d = 50;
        for (uint32_t i = 0; i < probe.attempt && d < 5000; i++)
            d *= 2;
        if (d > 5000)
            d = 5000;
        uint32_t got = vmca_backoff_next(&probe, r * 2654435761u);
        assert_true(got >= d / 2 && got <= d);
    }
}

static void test_reset_and_degenerate(void **state)
{
    struct vmca_backoff b;
    vmca_backoff_init(&b, 100, 1000);
    for (int i = 0; i < 10; i++)
        vmca_backoff_next(&b, 7);
    vmca_backoff_reset(&b);
    assert_int_equal(vmca_backoff_next(&b, 0), 50);
    vmca_backoff_init(&b, 0, 0);          /* clamped to 1 ms, never 0 forever */
    assert_true(vmca_backoff_next(&b, 1) <= 1);
    vmca_backoff_init(&b, 500, 100);      /* max below min: min wins */
    assert_int_equal(b.max_ms, 500);
    b.attempt = UINT32_MAX;               /* no overflow after many failures */
    assert_true(vmca_backoff_next(&b, 3) <= 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_to_cap),
        cmocka_unit_test(test_jitter_in_range),
        cmocka_unit_test(test_reset_and_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
