/* vmca-faultproxy's faults with a simulated clock: the control file's
 * settings, the throttle's windows (never above their cap, every byte
 * counted once) and the delay queue (held at least the delay, order kept
 * when the delay changes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmca-faultproxy-core.h"

static void test_control(void **state)
{
    (void)state;
    struct fp_faults f = {7, 8};
    char err[256];
    assert_int_equal(fp_parse_control("", &f, err, sizeof err), 0);
    assert_int_equal(f.delay_ms, 0);
    assert_int_equal(f.throttle_bps, 0);
    assert_int_equal(fp_parse_control("# faults\n  delay_ms 150  # ms\n\nthrottle_bps 4096\n",
                                      &f, err, sizeof err), 0);
    assert_int_equal(f.delay_ms, 150);
    assert_int_equal(f.throttle_bps, 4096);
    assert_int_equal(fp_parse_control("delay_ms 60000\nthrottle_bps 1000000000", &f, err,
                                      sizeof err), 0);
    assert_int_equal(f.delay_ms, 60000);

    static const struct { const char *text, *err; } bad[] = {
        {"delay_ms 60001\n", "1: delay_ms: expected 0..60000, got '60001'"},
        {"delay_ms 10\ndelay_ms -1\n", "2: delay_ms: expected 0..60000, got '-1'"},
        {"throttle_bps 1000000001", "1: throttle_bps: expected 0 (off) or 1..1000000000, got "
                                    "'1000000001'"},
        {"throttle_bps 12k", "1: throttle_bps: expected 0 (off) or 1..1000000000, got '12k'"},
        {"\n\nthrotle_bps 5", "3: unknown setting 'throtle_bps' (expected delay_ms or "
                              "throttle_bps)"},
        {"delay_ms", "1: expected 'SETTING NUMBER', got 'delay_ms'"},
        {"delay_ms 1 2", "1: expected 'SETTING NUMBER', got 'delay_ms 1 2'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = (struct fp_faults){3, 4};
        assert_int_equal(fp_parse_control(bad[i].text, &f, err, sizeof err), -1);
        assert_string_equal(err, bad[i].err);
        assert_int_equal(f.delay_ms, 3); /* unchanged */
        assert_int_equal(f.throttle_bps, 4);
    }
}

/* Sends `total` bytes in chunks of 37 through a throttle of bps with
 * window W, the clock moving `step` ms a chunk and jumping to the next
 * allowance when none is left; checks every window against its cap and
 * that the windows add up to every byte. */
static void throttle_run(uint32_t bps, uint32_t w, uint64_t total, uint64_t want_cap,
                         int64_t step)
{
    struct fp_throttle t;
    fp_throttle_init(&t, w, bps, 1000);
    int64_t now = 1000;
    uint64_t sent = 0, counted = 0, windows = 0;
    struct fp_window done;
    bool ended;
    while (sent < total) {
        uint64_t allow = fp_throttle_allow(&t, now, &done, &ended);
        if (ended) {
            assert_true(done.bytes <= done.cap);
            assert_int_equal(done.cap, want_cap);
            counted += done.bytes;
            windows++;
        }
        if (!allow) {
            now = fp_throttle_next_ms(&t);
            continue;
        }
        uint64_t n = total - sent < 37 ? total - sent : 37; /* chunks of 37 bytes */
        if (n > allow)
            n = allow;
        fp_throttle_take(&t, n);
        sent += n;
        now += step;
    }
    if (fp_throttle_restart(&t, 0, now, &done)) {
        assert_true(done.bytes <= done.cap);
        counted += done.bytes;
        windows++;
    }
    assert_int_equal(counted, total);
    assert_int_equal(t.windows, windows);
    assert_int_equal(t.windows_over, 0);
    assert_true(t.max_bytes <= want_cap);
    /* Sent as fast as allowed, each window but the last is full. */
    if (step == 0)
        assert_int_equal(windows, (total + want_cap - 1) / want_cap);
    else
        assert_true(windows >= (total + want_cap - 1) / want_cap);
}

static void test_throttle_windows(void **state)
{
    (void)state;
    throttle_run(1000, 100, 1000, 100, 0);
    throttle_run(1000, 100, 1000, 100, 1);
    throttle_run(200000, 50, 300000, 10000, 0);
    throttle_run(200000, 50, 300000, 10000, 1); /* windows end before they fill */
    throttle_run(5, 100, 7, 1, 0);              /* a cap below one byte a window is 1 */
}

static void test_throttle_off_and_change(void **state)
{
    (void)state;
    struct fp_throttle t;
    struct fp_window done;
    bool ended;
    fp_throttle_init(&t, 100, 0, 0);
    assert_true(fp_throttle_allow(&t, 0, &done, &ended) == UINT64_MAX);
    fp_throttle_take(&t, 5000);
    /* Throttled from t=30: the unthrottled window ends (nothing to report). */
    assert_false(fp_throttle_restart(&t, 1000, 30, &done));
    assert_int_equal(fp_throttle_allow(&t, 30, &done, &ended), 100);
    assert_false(ended);
    fp_throttle_take(&t, 60);
    assert_int_equal(fp_throttle_allow(&t, 129, &done, &ended), 40);
    /* A new cap mid-window starts a new window: no window has two caps. */
    assert_true(fp_throttle_restart(&t, 2000, 80, &done));
    assert_int_equal(done.start_ms, 30);
    assert_int_equal(done.bytes, 60);
    assert_int_equal(done.cap, 100);
    assert_int_equal(fp_throttle_allow(&t, 80, &done, &ended), 200);
    assert_int_equal(fp_throttle_next_ms(&t), 180);
}

static void test_delay_queue(void **state)
{
    (void)state;
    struct fp_queue q = {0};
    struct fp_holds h = {.min_ms = -1, .max_ms = -1};
    const unsigned char *data;
    int64_t due;
    assert_int_equal(fp_queue_due(&q, 0, &data, &due), 0);
    assert_int_equal(due, -1);
    assert_int_equal(fp_queue_push(&q, "abc", 3, 0, 50), 0);
    assert_int_equal(fp_queue_push(&q, "de", 2, 10, 0), 0); /* delay lifted at t=10 */
    assert_int_equal(q.queued, 5);
    /* "de" is due at 10 but waits behind "abc", due at 50. */
    assert_int_equal(fp_queue_due(&q, 20, &data, &due), 0);
    assert_int_equal(due, 50);
    assert_int_equal(fp_queue_due(&q, 50, &data, &due), 3);
    assert_memory_equal(data, "abc", 3);
    fp_queue_consume(&q, 2, 50, &h); /* a throttle let 2 bytes go */
    assert_int_equal(h.chunks, 0);
    assert_int_equal(fp_queue_due(&q, 60, &data, &due), 1);
    assert_memory_equal(data, "c", 1);
    fp_queue_consume(&q, 1, 70, &h);
    assert_int_equal(h.chunks, 1);
    assert_int_equal(h.delayed, 1);
    assert_int_equal(h.min_ms, 70); /* held from read to its last byte out */
    assert_int_equal(fp_queue_due(&q, 70, &data, &due), 2);
    assert_memory_equal(data, "de", 2);
    fp_queue_consume(&q, 9, 70, &h); /* more than left: just the chunk */
    assert_int_equal(h.chunks, 2);
    assert_int_equal(h.delayed, 1); /* "de" was read without a delay */
    assert_int_equal(q.queued, 0);
    assert_null(q.head);
    assert_int_equal(fp_queue_push(&q, "x", 1, 100, 20), 0);
    fp_queue_clear(&q);
    assert_null(q.head);
    assert_int_equal(q.queued, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_throttle_windows),
        cmocka_unit_test(test_throttle_off_and_change),
        cmocka_unit_test(test_delay_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
