/* Second tier: the "sorted" (thesis Algorithm 9), "topology" and
 * "two-choices" policies on hand-made donor lists, and the registry that
 * maps policy.second_tier to a built policy and reads its settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "second_tier.h"

#define D(i, f) ((struct tier2_donor){.id = (i), .free_pages = (f)})
/* A donor at a place in the hardware tree (rack, board, node). */
#define DL(i, f, loc) ((struct tier2_donor){.id = (i), .free_pages = (f), .location = (loc), \
                                            .location_len = 3})

/* The forwards written (got of them) are exactly `want`, in order. */
static void expect_fwds(const struct tier2_fwd *out, size_t got, const struct tier2_fwd *want,
                        size_t n)
{
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].donor, want[i].donor);
        assert_int_equal(out[i].pages, want[i].pages);
    }
}
/* Field by field: the structs have padding. */
static bool same_fwds(const struct tier2_fwd *a, size_t na, const struct tier2_fwd *b, size_t nb)
{
    for (size_t i = 0; na == nb && i < na; i++)
        if (a[i].donor != b[i].donor || a[i].pages != b[i].pages)
            return false;
    return na == nb;
}
#define EXPECT_FWDS(out, got, ...)                                                     \
    expect_fwds(out, got, (const struct tier2_fwd[]){__VA_ARGS__},                      \
                sizeof((const struct tier2_fwd[]){__VA_ARGS__}) / sizeof(struct tier2_fwd))

/* The policy's state as the master core keeps it: zeroed, its size. */
static void *new_state(const struct tier2_policy *p)
{
    void *st = p->state_bytes ? calloc(1, p->state_bytes) : NULL;
    assert_true(!p->state_bytes || st);
    return st;
}

static size_t decide(const char *name, struct tier2_request *rq, void *state,
                     struct tier2_fwd *out, size_t cap)
{
    const struct tier2_policy *p = tier2_find(name);
    assert_non_null(p);
    return p->decide(rq, NULL, state, out, cap);
}

static size_t sorted(struct tier2_donor *d, size_t n, uint64_t pages, uint64_t reserve,
                     struct tier2_fwd *out, size_t cap)
{
    struct tier2_request rq = {.requester = 99, .pages = pages, .reserve = reserve,
                               .donors = d, .n_donors = n};
    return decide("sorted", &rq, NULL, out, cap);
}

static void test_sorted(void **state)
{
    struct tier2_donor d[3];
    struct tier2_fwd out[3];
    /* The whole request to the richest donor that stays above the reserve. */
    memcpy(d, (struct tier2_donor[]){D(1, 500), D(2, 900), D(3, 700)}, sizeof d);
    EXPECT_FWDS(out, sorted(d, 3, 300, 100, out, 3), {2, 300});
    /* Nobody can give it all: each gives what it has above the reserve. */
    memcpy(d, (struct tier2_donor[]){D(1, 500), D(2, 900), D(3, 700)}, sizeof d);
    EXPECT_FWDS(out, sorted(d, 3, 1500, 100, out, 3), {2, 800}, {3, 600}, {1, 100});
    /* Not served beyond what exists above the reserve. */
    memcpy(d, (struct tier2_donor[]){D(1, 150), D(2, 100), D(3, 90)}, sizeof d);
    EXPECT_FWDS(out, sorted(d, 3, 1000, 100, out, 3), {1, 50});
    memcpy(d, (struct tier2_donor[]){D(1, 100), D(2, 10), D(3, 0)}, sizeof d);
    assert_int_equal(sorted(d, 3, 5, 100, out, 3), 0);
    assert_int_equal(sorted(d, 0, 5, 100, out, 3), 0);
    /* Ties go to the lower id; cap bounds the forwards. */
    memcpy(d, (struct tier2_donor[]){D(3, 200), D(1, 200), D(2, 200)}, sizeof d);
    assert_int_equal(sorted(d, 3, 500, 100, out, 2), 2);
    assert_int_equal(out[0].donor, 1);
    assert_int_equal(out[1].donor, 2);
    assert_int_equal(out[0].pages + out[1].pages, 200);
    /* Locations change nothing for sorted. */
    static const uint32_t near[3] = {0, 0, 1}, far[3] = {9, 9, 9};
    memcpy(d, (struct tier2_donor[]){DL(1, 500, near), DL(2, 900, far), DL(3, 700, near)},
           sizeof d);
    struct tier2_request rq = {.requester = 4, .pages = 300, .reserve = 100, .donors = d,
                               .n_donors = 3, .location = near, .location_len = 3};
    assert_int_equal(decide("sorted", &rq, NULL, out, 3), 1);
    assert_int_equal(out[0].donor, 2);
}

/* The giving rule in the order it is handed, not sorted again. */
static void test_give_in_order(void **state)
{
    struct tier2_fwd out[4];
    const struct tier2_donor d[4] = {D(5, 150), D(6, 100), D(7, 600), D(8, 900)};
    /* The first that can give it all, though a later one has more. */
    EXPECT_FWDS(out, tier2_give_in_order(d, 4, 400, 100, out, 4), {7, 400});
    /* Nobody can: in order, skipping the one at the reserve. */
    EXPECT_FWDS(out, tier2_give_in_order(d, 4, 2000, 100, out, 4), {5, 50}, {7, 500}, {8, 800});
    assert_int_equal(tier2_give_in_order(d, 4, 2000, 100, out, 1), 1);
    assert_int_equal(tier2_give_in_order(d, 4, 0, 100, out, 4), 0);
    assert_int_equal(tier2_give_in_order(d, 4, 10, 100, out, 0), 0);
}

static void test_distance(void **state)
{
    static const uint32_t a[] = {0, 0, 1}, board[] = {0, 0, 2}, rack[] = {0, 1, 3},
                          other[] = {1, 0, 1}, deep[] = {0, 0, 1, 7};
    assert_int_equal(tier2_distance(a, 3, a, 3), 0);
    assert_int_equal(tier2_distance(a, 3, board, 3), 1);
    assert_int_equal(tier2_distance(a, 3, rack, 3), 2);
    assert_int_equal(tier2_distance(a, 3, other, 3), 3);
    assert_int_equal(tier2_distance(rack, 3, a, 3), 2);       /* symmetric */
    assert_int_equal(tier2_distance(a, 3, deep, 4), 1);       /* a path inside the other */
    assert_int_equal(tier2_distance(board, 3, deep, 4), 2);
    assert_int_equal(tier2_distance(NULL, 0, NULL, 0), 0);    /* neither given */
    assert_int_equal(tier2_distance(NULL, 0, a, 3), 3);       /* one given: not near */
}

static const uint32_t here[] = {0, 0, 1};

static size_t topology(struct tier2_donor *d, size_t n, uint64_t pages, struct tier2_fwd *out,
                       size_t cap)
{
    void *st = new_state(tier2_find("topology"));
    struct tier2_request rq = {.requester = 1, .pages = pages, .reserve = 100, .donors = d,
                               .n_donors = n, .location = here, .location_len = 3};
    size_t k = decide("topology", &rq, st, out, cap);
    free(st);
    return k;
}

static void test_topology(void **state)
{
    static const uint32_t board2[] = {0, 0, 2}, board5[] = {0, 0, 5}, board6[] = {0, 0, 6},
                          rack3[] = {0, 1, 3}, far4[] = {1, 0, 4};
    struct tier2_donor d[5];
    struct tier2_fwd out[5];
#define FIVE (struct tier2_donor[]){DL(2, 2000, board2), DL(3, 9000, rack3), DL(4, 9500, far4), \
                                   DL(5, 3000, board5), DL(6, 100, board6)}
    /* Same board first, the richer of the two there. */
    memcpy(d, FIVE, sizeof d);
    EXPECT_FWDS(out, topology(d, 5, 500, out, 5), {5, 500});
    /* Nobody on the board can give it all: the closest that can (same
     * rack), not the richest (another rack). */
    memcpy(d, FIVE, sizeof d);
    EXPECT_FWDS(out, topology(d, 5, 4500, out, 5), {3, 4500});
    /* Nobody can: board (richer first), rack, the rest; node 6 is at the
     * reserve and gives nothing. */
    memcpy(d, FIVE, sizeof d);
    EXPECT_FWDS(out, topology(d, 5, 20000, out, 5),
                {5, 2900}, {2, 1900}, {3, 8900}, {4, 20000 - 2900 - 1900 - 8900});
    /* Same distance and free pages: the lower id. */
    memcpy(d, (struct tier2_donor[]){DL(6, 3000, board6), DL(5, 3000, board5)}, 2 * sizeof *d);
    assert_int_equal(topology(d, 2, 100, out, 5), 1);
    assert_int_equal(out[0].donor, 5);
    /* No locations in the configuration: as sorted. */
    memcpy(d, (struct tier2_donor[]){D(1, 500), D(2, 900), D(3, 700)}, 3 * sizeof *d);
    struct tier2_request rq = {.requester = 9, .pages = 1500, .reserve = 100, .donors = d,
                               .n_donors = 3};
    void *st = new_state(tier2_find("topology"));
    assert_int_equal(decide("topology", &rq, st, out, 5), 3);
    free(st);
    assert_int_equal(out[0].donor, 2);
    assert_int_equal(out[1].donor, 3);
    assert_int_equal(out[2].donor, 1);
    assert_int_equal(out[2].pages, 100);
#undef FIVE
}

/* One two-choices request over a copy of `d` (the policy reorders it). */
static size_t two_choices(void *st, uint32_t requester, const struct tier2_donor *d, size_t n,
                          uint64_t pages, struct tier2_fwd *out, size_t cap)
{
    struct tier2_donor copy[8];
    assert_true(n <= 8);
    memcpy(copy, d, n * sizeof *d);
    struct tier2_request rq = {.requester = requester, .pages = pages, .reserve = 100,
                               .donors = copy, .n_donors = n};
    return decide("two-choices", &rq, st, out, cap);
}

static void test_two_choices(void **state)
{
    const struct tier2_policy *p = tier2_find("two-choices");
    assert_non_null(p);
    assert_true(p->state_bytes > 0);
    const struct tier2_donor d[4] = {D(1, 1100), D(2, 2100), D(3, 3100), D(4, 100)};
    struct tier2_fwd out[4];
    /* Of any two drawn the richer gives: node 1 (the poorest above the
     * reserve) never is the first choice, nodes 2 and 3 both are (the
     * draw is random, not a ranking), node 3 more often; node 4, at the
     * reserve, never gives. */
    void *st = new_state(p);
    unsigned first[5] = {0};
    for (int i = 0; i < 300; i++) {
        assert_int_equal(two_choices(st, 7, d, 4, 500, out, 4), 1);
        assert_int_equal(out[0].pages, 500);
        first[out[0].donor]++;
    }
    assert_int_equal(first[1], 0);
    assert_int_equal(first[4], 0);
    assert_true(first[2] > 30);
    assert_true(first[3] > first[2]);
    /* More than any one has: drawn again for the rest, each donor once,
     * all that is above the reserve given, nothing from node 4. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(two_choices(st, 7, d, 4, 10000, out, 4), 3);
        uint64_t sum = 0;
        unsigned seen = 0;
        for (int j = 0; j < 3; j++) {
            assert_true(out[j].donor >= 1 && out[j].donor <= 3);
            assert_int_equal(out[j].pages, d[out[j].donor - 1].free_pages - 100);
            assert_false(seen & 1u << out[j].donor);
            seen |= 1u << out[j].donor;
            sum += out[j].pages;
        }
        assert_int_equal(sum, 1000 + 2000 + 3000);
    }
    /* Covered by the first pick: one forward, of the request. */
    assert_int_equal(two_choices(st, 7, d, 4, 999, out, 4), 1);
    assert_int_equal(out[0].pages, 999);
    /* cap bounds the forwards; one candidate is taken without a draw. */
    assert_int_equal(two_choices(st, 7, d, 4, 10000, out, 1), 1);
    assert_int_equal(two_choices(st, 7, &d[2], 2, 10000, out, 4), 1);
    assert_int_equal(out[0].donor, 3);
    assert_int_equal(out[0].pages, 3000);
    assert_int_equal(two_choices(st, 7, &d[3], 1, 10, out, 4), 0);
    assert_int_equal(two_choices(st, 7, d, 0, 10, out, 4), 0);
    free(st);
    /* Deterministic: the same state and request, the same choices; the
     * seed comes from the first requester. */
    void *a = new_state(p), *b = new_state(p), *c = new_state(p);
    unsigned differ = 0;
    for (int i = 0; i < 40; i++) {
        struct tier2_fwd oa[4], ob[4], oc[4];
        size_t na = two_choices(a, 5, d, 4, 4000, oa, 4);
        size_t nb = two_choices(b, 5, d, 4, 4000, ob, 4);
        size_t nc = two_choices(c, 6, d, 4, 4000, oc, 4);
        expect_fwds(oa, na, ob, nb);
        differ += !same_fwds(oa, na, oc, nc);
    }
    assert_true(differ > 0);
    free(a);
    free(b);
    free(c);
}

/* Every built policy on many donor lists: forwards only to donors it was
 * given, each at most once, none taking one below the reserve, no more
 * than asked, and all that is asked when the donors have it (cap allowing). */
static void test_every_policy_keeps_the_rules(void **state)
{
    static const uint32_t locs[4][3] = {{0, 0, 1}, {0, 0, 2}, {0, 1, 3}, {1, 0, 4}};
    size_t policies = 0;
    for (const struct tier2_policy *p; (p = tier2_at(policies)); policies++) {
        void *st = new_state(p);
        uint64_t x = 12345;
        for (int round = 0; round < 500; round++) {
            struct tier2_donor d[8];
            uint64_t free_of[9] = {0}, spare = 0, reserve = 64;
            size_t n = 1 + round % 8;
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005u + 1442695040888963407u;
                d[i] = DL((uint32_t)(i + 1), (x >> 33) % 1000, locs[(x >> 20) % 4]);
                free_of[i + 1] = d[i].free_pages;
                spare += d[i].free_pages > reserve ? d[i].free_pages - reserve : 0;
            }
            uint64_t pages = 1 + (x >> 40) % 3000;
            struct tier2_request rq = {.requester = 9, .pages = pages, .reserve = reserve,
                                       .donors = d, .n_donors = n, .location = locs[round % 4],
                                       .location_len = 3};
            struct tier2_fwd out[8];
            size_t k = p->decide(&rq, NULL, st, out, n);
            uint64_t sum = 0;
            unsigned seen = 0;
            for (size_t j = 0; j < k; j++) {
                assert_true(out[j].donor >= 1 && out[j].donor <= n);
                assert_false(seen & 1u << out[j].donor);
                seen |= 1u << out[j].donor;
                assert_true(out[j].pages > 0);
                assert_true(out[j].pages + reserve <= free_of[out[j].donor]);
                sum += out[j].pages;
            }
            assert_int_equal(sum, pages < spare ? pages : spare);
        }
        free(st);
    }
    assert_int_equal(policies, 3);
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
    assert_string_equal(names, "sorted, topology, two-choices");
    for (size_t i = 0; tier2_at(i); i++)
        assert_ptr_equal(tier2_find(tier2_at(i)->name), tier2_at(i));
    assert_string_equal(tier2_at(0)->name, "sorted");
    assert_null(tier2_at(3));
    assert_string_equal(tier2_find("topology")->name, "topology");
    assert_string_equal(tier2_find("two-choices")->name, "two-choices");
    assert_null(tier2_find("two_choices"));
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
    g = (struct fake_group){.names = {"second_tier"}, .strings = {"two-choices"}};
    assert_int_equal(configure(&g, name, sizeof name, &reserve), 0);
    assert_string_equal(name, "two-choices");
    g = (struct fake_group){.names = {"second_tier"}, .strings = {"nearest"}};
    strcpy(name, "unchanged");
    assert_true(configure(&g, name, sizeof name, &reserve) < 0);
    assert_string_equal(g.refused, "second_tier");
    assert_string_equal(g.what, "one of sorted, topology, two-choices (the second-tier "
                                "policies built), got \"nearest\"");
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
        cmocka_unit_test(test_give_in_order),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_two_choices),
        cmocka_unit_test(test_every_policy_keeps_the_rules),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_configure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
