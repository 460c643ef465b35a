/* Second tier: the "sorted" policy (thesis Algorithm 9) and the registry
 * that maps policy.second_tier to a built policy and reads its settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "second_tier.h"

static size_t sorted(struct tier2_donor *d, size_t n, uint64_t pages, uint64_t reserve,
                     struct tier2_fwd *out, size_t cap)
{
    const struct tier2_policy *p = tier2_find("sorted");
    assert_non_null(p);
    struct tier2_request rq = {99, pages, reserve, d, n};
    return p->decide(&rq, NULL, NULL, out, cap);
}

static void test_sorted(void **state)
{
    struct tier2_donor d[3];
    struct tier2_fwd out[3];
    /* The whole request to the richest donor that stays above the reserve. */
    memcpy(d, (struct tier2_donor[]){{1, 500}, {2, 900}, {3, 700}}, sizeof d);
    assert_int_equal(sorted(d, 3, 300, 100, out, 3), 1);
    assert_int_equal(out[0].donor, 2);
    assert_int_equal(out[0].pages, 300);
    /* Nobody can give it all: each gives what it has above the reserve. */
    memcpy(d, (struct tier2_donor[]){{1, 500}, {2, 900}, {3, 700}}, sizeof d);
    assert_int_equal(sorted(d, 3, 1500, 100, out, 3), 3);
    assert_int_equal(out[0].donor, 2);
    assert_int_equal(out[0].pages, 800);
    assert_int_equal(out[1].donor, 3);
    assert_int_equal(out[1].pages, 600);
    assert_int_equal(out[2].donor, 1);
    assert_int_equal(out[2].pages, 100);
    /* Not served beyond what exists above the reserve. */
    memcpy(d, (struct tier2_donor[]){{1, 150}, {2, 100}, {3, 90}}, sizeof d);
    assert_int_equal(sorted(d, 3, 1000, 100, out, 3), 1);
    assert_int_equal(out[0].donor, 1);
    assert_int_equal(out[0].pages, 50);
    memcpy(d, (struct tier2_donor[]){{1, 100}, {2, 10}, {3, 0}}, sizeof d);
    assert_int_equal(sorted(d, 3, 5, 100, out, 3), 0);
    assert_int_equal(sorted(d, 0, 5, 100, out, 3), 0);
    /* Ties go to the lower id; cap bounds the forwards. */
    memcpy(d, (struct tier2_donor[]){{3, 200}, {1, 200}, {2, 200}}, sizeof d);
    assert_int_equal(sorted(d, 3, 500, 100, out, 2), 2);
    assert_int_equal(out[0].donor, 1);
    assert_int_equal(out[1].donor, 2);
    assert_int_equal(out[0].pages + out[1].pages, 200);
}

/* A policy group as a test writes it: name=value pairs, integers or strings. */
struct fake_group {
    const char *names[4], *strings[4];
    long long ints[4];
    char refused[64], what[256];
    long long lo, hi;                 /* the range asked for reserve_pages */
};

static int fake_find(struct fake_group *g, const char *name)
{
    for (int i = 0; i < 4; i++)
        if (g->names[i] && strcmp(g->names[i], name) == 0)
            return i;
    return -1;
}

static int fake_int(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    struct fake_group *g = ctx;
    int i = fake_find(g, name);
    if (strcmp(name, "reserve_pages") == 0) {
        g->lo = lo;
        g->hi = hi;
    }
    if (i < 0)
        return 0;
    if (g->ints[i] < lo || g->ints[i] > hi) {
        snprintf(g->refused, sizeof g->refused, "%s", name);
        return -1;
    }
    *v = g->ints[i];
    return 1;
}

static int fake_string(void *ctx, const char *name, const char **v)
{
    struct fake_group *g = ctx;
    int i = fake_find(g, name);
    if (i < 0)
        return 0;
    *v = g->strings[i];
    return 1;
}

static int fake_refuse(void *ctx, const char *name, const char *what)
{
    struct fake_group *g = ctx;
    snprintf(g->refused, sizeof g->refused, "%s", name);
    snprintf(g->what, sizeof g->what, "%s", what);
    return -1;
}

static int configure(struct fake_group *g, char *name, size_t namesz, uint64_t *reserve)
{
    struct policy_settings s = {g, fake_int, fake_string, fake_refuse};
    uint64_t params[TIER2_PARAMS_BYTES / 8];
    return tier2_configure(&s, name, namesz, reserve, params);
}

static void test_registry(void **state)
{
    char names[64];
    tier2_names(names, sizeof names);
    assert_string_equal(names, "sorted");
    assert_string_equal(tier2_find("sorted")->name, "sorted");
    assert_null(tier2_find("topology"));  /* issue 11 builds it */
    assert_null(tier2_find(""));
    const char *settings[8];
    size_t n = tier2_setting_names(settings, 8);
    assert_true(n >= 2 && n <= 8);
    assert_string_equal(settings[0], "second_tier");
    assert_string_equal(settings[1], "reserve_pages");
    assert_int_equal(tier2_setting_names(settings, 1), n); /* counts past cap */
}

static void test_configure(void **state)
{
    char name[32] = "";
    uint64_t reserve = 0;
    /* Nothing given: the defaults, reserve read as 0..2^36. */
    struct fake_group g = {0};
    assert_int_equal(configure(&g, name, sizeof name, &reserve), 0);
    assert_string_equal(name, TIER2_DEFAULT);
    assert_int_equal(reserve, TIER2_RESERVE_DEFAULT);
    assert_int_equal(g.lo, 0);
    assert_int_equal(g.hi, INT64_C(1) << 36);
    /* Given. */
    g = (struct fake_group){.names = {"second_tier", "reserve_pages"},
                            .strings = {"sorted"}, .ints = {0, 7}};
    assert_int_equal(configure(&g, name, sizeof name, &reserve), 0);
    assert_string_equal(name, "sorted");
    assert_int_equal(reserve, 7);
    /* A name that is not built is refused with the built names. */
    g = (struct fake_group){.names = {"second_tier"}, .strings = {"topology"}};
    strcpy(name, "unchanged");
    assert_true(configure(&g, name, sizeof name, &reserve) < 0);
    assert_string_equal(g.refused, "second_tier");
    assert_string_equal(g.what, "one of sorted (the second-tier policies built), got \"topology\"");
    assert_string_equal(name, "unchanged");
    /* A reserve out of range is the reader's error. */
    g = (struct fake_group){.names = {"reserve_pages"}, .ints = {-1}};
    assert_true(configure(&g, name, sizeof name, &reserve) < 0);
    assert_string_equal(g.refused, "reserve_pages");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_configure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
