/* Unit tests for the exposition writer (common/prom.c) and the histogram
 * counters (common/histo.c): HELP and TYPE lines, escaping of HELP text and
 * label values, cumulative buckets with +Inf, _sum and _count, exact
 * decimals, state sets, and names that are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "histo.h"
#include "prom.h"

static void test_family_and_samples(void **state)
{
    (void)state;
    struct vmca_prom p;
    vmca_prom_init(&p);
    vmca_prom_family(&p, "vmca_x_total", "counter", "Things counted");
    vmca_prom_u64(&p, "vmca_x_total", NULL, 0, 7);
    struct vmca_prom_label l[] = {{"node", "n1"}, {"vm", "3"}};
    vmca_prom_u64(&p, "vmca_x_total", l, 2, UINT64_MAX);
    assert_false(vmca_prom_failed(&p));
    assert_string_equal(p.buf, "# HELP vmca_x_total Things counted\n"
                               "# TYPE vmca_x_total counter\n"
                               "vmca_x_total 7\n"
                               "vmca_x_total{node=\"n1\",vm=\"3\"} 18446744073709551615\n");
    assert_int_equal(p.len, strlen(p.buf));
    vmca_prom_free(&p);
}

static void test_escaping(void **state)
{
    (void)state;
    struct vmca_prom p;
    vmca_prom_init(&p);
    /* HELP: backslash and newline escaped, a quote kept as it is. */
    vmca_prom_family(&p, "m", "gauge", "a \\ b\nc \"d\"");
    /* Label values: backslash, quote and newline escaped. */
    struct vmca_prom_label l[] = {{"node", "we\"ird\\na\nme"}};
    vmca_prom_u64(&p, "m", l, 1, 1);
    assert_false(vmca_prom_failed(&p));
    assert_string_equal(p.buf, "# HELP m a \\\\ b\\nc \"d\"\n"
                               "# TYPE m gauge\n"
                               "m{node=\"we\\\"ird\\\\na\\nme\"} 1\n");
    vmca_prom_free(&p);
}

static void test_histogram(void **state)
{
    (void)state;
    static const uint64_t le[] = {50, 250, 1000};
    struct vmca_histo h;
    vmca_histo_init(&h, le, 3);
    uint64_t seen[] = {10, 50, 51, 300, 999, 1000, 1001, 7000};
    for (size_t i = 0; i < sizeof seen / sizeof *seen; i++)
        vmca_histo_observe(&h, seen[i]);
    /* Per bucket (not cumulative) in the core: <=50: 2, <=250: 1, <=1000: 3, above: 2. */
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[2], 3);
    assert_int_equal(h.counts[3], 2);
    assert_int_equal(h.count, 8);
    assert_int_equal(h.sum, 10411);

    struct vmca_prom p;
    vmca_prom_init(&p);
    struct vmca_prom_label l[] = {{"node", "a"}};
    vmca_prom_histogram(&p, "lat_seconds", l, 1, &h, 3); /* ms exposed as seconds */
    assert_false(vmca_prom_failed(&p));
    assert_string_equal(p.buf, "lat_seconds_bucket{node=\"a\",le=\"0.05\"} 2\n"
                               "lat_seconds_bucket{node=\"a\",le=\"0.25\"} 3\n"
                               "lat_seconds_bucket{node=\"a\",le=\"1\"} 6\n"
                               "lat_seconds_bucket{node=\"a\",le=\"+Inf\"} 8\n"
                               "lat_seconds_sum{node=\"a\"} 10.411\n"
                               "lat_seconds_count{node=\"a\"} 8\n");
    vmca_prom_free(&p);

    /* Empty, without labels, whole units. */
    vmca_histo_init(&h, le, 3);
    vmca_prom_init(&p);
    vmca_prom_histogram(&p, "n", NULL, 0, &h, 0);
    assert_string_equal(p.buf, "n_bucket{le=\"50\"} 0\nn_bucket{le=\"250\"} 0\n"
                               "n_bucket{le=\"1000\"} 0\nn_bucket{le=\"+Inf\"} 0\n"
                               "n_sum 0\nn_count 0\n");
    vmca_prom_free(&p);
}

static void test_histo_bounds(void **state)
{
    (void)state;
    /* Unordered or repeated bounds are dropped, at most VMCA_HISTO_MAX kept. */
    static const uint64_t le[] = {5, 5, 3, 9};
    struct vmca_histo h;
    vmca_histo_init(&h, le, 4);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.le[0], 5);
    assert_int_equal(h.le[1], 9);
    uint64_t many[VMCA_HISTO_MAX + 4];
    for (size_t i = 0; i < sizeof many / sizeof *many; i++)
        many[i] = i + 1;
    vmca_histo_init(&h, many, sizeof many / sizeof *many);
    assert_int_equal(h.n, VMCA_HISTO_MAX);
    vmca_histo_observe(&h, UINT64_MAX);
    vmca_histo_observe(&h, 2);
    assert_int_equal(h.sum, UINT64_MAX); /* saturates */
    assert_int_equal(h.counts[VMCA_HISTO_MAX], 1);
}

static void test_stateset_and_one(void **state)
{
    (void)state;
    static const char *const names[] = {"off", "on", "broken"};
    struct vmca_prom p;
    vmca_prom_init(&p);
    struct vmca_prom_label l[] = {{"node", "b"}};
    vmca_prom_family(&p, "s", "gauge", "state");
    vmca_prom_stateset(&p, "s", l, 1, "state", names, 3, 1);
    vmca_prom_one(&p, "c_total", "counter", "one", NULL, 0, 0);
    assert_string_equal(p.buf, "# HELP s state\n# TYPE s gauge\n"
                               "s{node=\"b\",state=\"off\"} 0\n"
                               "s{node=\"b\",state=\"on\"} 1\n"
                               "s{node=\"b\",state=\"broken\"} 0\n"
                               "# HELP c_total one\n# TYPE c_total counter\nc_total 0\n");
    vmca_prom_free(&p);
}

static void test_bad_names(void **state)
{
    (void)state;
    static const char *const bad_metrics[] = {"", "1abc", "a-b", "a b", "a{b"};
    for (size_t i = 0; i < sizeof bad_metrics / sizeof *bad_metrics; i++) {
        struct vmca_prom p;
        vmca_prom_init(&p);
        vmca_prom_u64(&p, bad_metrics[i], NULL, 0, 1);
        assert_true(vmca_prom_failed(&p));
        vmca_prom_free(&p);
    }
    static const char *const bad_labels[] = {"", "__reserved", "a:b", "9x", "a-b"};
    for (size_t i = 0; i < sizeof bad_labels / sizeof *bad_labels; i++) {
        struct vmca_prom p;
        vmca_prom_init(&p);
        struct vmca_prom_label l[] = {{bad_labels[i], "v"}};
        vmca_prom_u64(&p, "ok_name", l, 1, 1);
        assert_true(vmca_prom_failed(&p));
        vmca_prom_free(&p);
    }
    /* Metric names may hold ':'; a failed buffer writes nothing more. */
    struct vmca_prom p;
    vmca_prom_init(&p);
    vmca_prom_u64(&p, "job:rate_5m", NULL, 0, 2);
    assert_false(vmca_prom_failed(&p));
    assert_string_equal(p.buf, "job:rate_5m 2\n");
    vmca_prom_u64(&p, "bad name", NULL, 0, 1);
    size_t len = p.len;
    vmca_prom_u64(&p, "good", NULL, 0, 1);
    assert_true(vmca_prom_failed(&p));
    assert_int_equal(p.len, len);
    vmca_prom_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_histo_bounds),
        cmocka_unit_test(test_stateset_and_one),
        cmocka_unit_test(test_bad_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
