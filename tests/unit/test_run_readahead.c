/* vmca-run's read-ahead window: an ascending or descending scan doubles it
 * up to the cap, a fault elsewhere starts over at 1, streams are followed
 * side by side and the least recently used one is replaced, a short run
 * (stopped at a resident page) is followed from where it really ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmca-run-readahead.h"

/* A fault at idx, the run fetched as the shim would with every page
 * evicted; returns the window granted. */
static uint32_t fault(struct ra *ra, uint64_t idx, bool *hit)
{
    struct ra_stream *st = ra_fault(ra, idx, hit);
    uint64_t lo = idx, hi = idx + 1;
    if (st->dir > 0)
        hi = idx + st->win;
    else if (st->dir < 0)
        lo = idx + 1 - st->win;
    ra_fetched(st, lo, hi);
    return st->win;
}

static void test_ascending(void **state)
{
    (void)state;
    struct ra ra = {.max = 16};
    bool hit;
    assert_int_equal(fault(&ra, 100, &hit), 1);
    assert_false(hit);
    static const uint32_t want[] = {2, 4, 8, 16, 16, 16};
    uint64_t next = 101;
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(fault(&ra, next, &hit), want[i]);
        assert_true(hit);
        next += want[i];
    }
    /* A fault inside the last run or beyond its end is no hit. */
    assert_int_equal(fault(&ra, next + 1, &hit), 1);
    assert_false(hit);
}

static void test_descending(void **state)
{
    (void)state;
    struct ra ra = {.max = 64};
    bool hit;
    assert_int_equal(fault(&ra, 1000, &hit), 1);
    assert_int_equal(fault(&ra, 999, &hit), 2); /* fetches 998..999 */
    assert_true(hit);
    assert_int_equal(fault(&ra, 997, &hit), 4); /* 994..997 */
    assert_true(hit);
    assert_int_equal(fault(&ra, 993, &hit), 8);
    assert_true(hit);
    /* Once descending, the page past the top is no hit of that stream. */
    assert_int_equal(fault(&ra, 1001, &hit), 1);
    assert_false(hit);
}

static void test_random_stays_one(void **state)
{
    (void)state;
    struct ra ra = {.max = 64};
    bool hit;
    for (uint64_t k = 0; k < 200; k++) {
        assert_int_equal(fault(&ra, k * 579 % 4096 * 3, &hit), 1);
        assert_false(hit);
    }
}

static void test_streams_side_by_side(void **state)
{
    (void)state;
    struct ra ra = {.max = 64};
    bool hit;
    /* Three arrays hashed in turn: each keeps its own doubling window. */
    uint64_t next[3] = {0, 10000, 20000};
    for (int k = 0; k < 3; k++)
        next[k] += fault(&ra, next[k], &hit);
    for (uint32_t w = 2; w <= 8; w *= 2)
        for (int k = 0; k < 3; k++) {
            assert_int_equal(fault(&ra, next[k], &hit), w);
            assert_true(hit);
            next[k] += w;
        }
    /* RA_STREAMS other faults replace the least recently used first:
     * stream 0 (used longest ago) is gone after RA_STREAMS - 2 of them. */
    for (unsigned i = 0; i < RA_STREAMS - 2; i++)
        fault(&ra, 1000000 + 1000 * i, &hit);
    assert_int_equal(fault(&ra, next[0], &hit), 1);
    assert_false(hit);
    assert_int_equal(fault(&ra, next[2], &hit), 16);
    assert_true(hit);
}

static void test_short_run(void **state)
{
    (void)state;
    struct ra ra = {.max = 64};
    bool hit;
    fault(&ra, 50, &hit);
    struct ra_stream *st = ra_fault(&ra, 51, &hit);
    assert_true(hit);
    assert_int_equal(st->win, 2);
    ra_fetched(st, 51, 52); /* page 52 was resident: the run stopped */
    assert_int_equal(fault(&ra, 52, &hit), 4);
    assert_true(hit);
}

static void test_cap_of_one(void **state)
{
    (void)state;
    struct ra ra = {.max = 1};
    bool hit;
    assert_int_equal(fault(&ra, 7, &hit), 1);
    assert_int_equal(fault(&ra, 8, &hit), 1);
    assert_true(hit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascending),
        cmocka_unit_test(test_descending),
        cmocka_unit_test(test_random_stays_one),
        cmocka_unit_test(test_streams_side_by_side),
        cmocka_unit_test(test_short_run),
        cmocka_unit_test(test_cap_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
