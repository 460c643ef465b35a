/* vmca-sim's workload profiles (tools/sim/workload.h): determinism for a
 * seed, footprint bounds, usemem's 128 MB steps and loops, the Zipf skew of
 * memcached, analytics' phases, graph's hot part, flux's rising and falling
 * working set, repeats, and the refusal of bad specs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/sim/workload.h"

static const char *const all[] = {"usemem", "analytics", "graph", "memcached", "constant", "flux"};
#define N_ALL (sizeof all / sizeof all[0])
#define MAX_ACCESSES 50000000u  /* a bound no profile below comes near: ends the loop */

static struct wl *make(const char *profile, uint64_t ram, uint64_t fp, unsigned repeats,
                       uint64_t seed, uint32_t scale)
{
    char err[256] = "";
    struct wl_spec s = {.profile = profile, .ram_pages = ram, .footprint_pages = fp,
                        .repeats = repeats, .seed = seed, .scale = scale};
    struct wl *w = wl_new(&s, err, sizeof err);
    if (!w)
        fail_msg("wl_new(%s): %s", profile, err);
    return w;
}

/* FNV-1a over the whole stream; *n = accesses. */
static uint64_t stream_hash(struct wl *w, uint64_t *n)
{
    uint64_t h = UINT64_C(1469598103934665603), page;
    bool write;
    *n = 0;
    while (*n < MAX_ACCESSES && wl_next(w, &page, &write)) {
        h = (h ^ (page * 2 + write)) * UINT64_C(1099511628211);
        (*n)++;
    }
    assert_true(*n < MAX_ACCESSES);
    return h;
}

static void test_deterministic(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_ALL; p++) {
        uint64_t n1, n2, n3;
        struct wl *a = make(all[p], 512, 0, 1, 42, 64);
        struct wl *b = make(all[p], 512, 0, 1, 42, 64);
        struct wl *c = make(all[p], 512, 0, 1, 43, 64);
        uint64_t ha = stream_hash(a, &n1), hb = stream_hash(b, &n2), hc = stream_hash(c, &n3);
        assert_int_equal(ha, hb);
        assert_int_equal(n1, n2);
        assert_true(n1 > 0);
        /* the profiles that draw random numbers differ with the seed */
        bool random = p >= 2;
        if (random)
            assert_true(ha != hc);
        else
            assert_int_equal(ha, hc);
        /* done stays done */
        uint64_t page;
        bool write;
        assert_false(wl_next(a, &page, &write));
        wl_free(a);
        wl_free(b);
        wl_free(c);
    }
}

static void test_footprint_bounds(void **state)
{
    (void)state;
    /* defaults: usemem 1 GB; the others 2-3x RAM */
    const uint64_t ram = 1000;
    const uint64_t want[N_ALL] = {1024 * 256 / 64, 3 * ram, 5 * ram / 2, 2 * ram, 2 * ram,
                                  2 * ram};
    for (size_t p = 0; p < N_ALL; p++) {
        struct wl *w = make(all[p], ram, 0, 1, 7, 64);
        uint64_t fp = wl_footprint(w), page, n = 0, max = 0, max_ws = 0;
        bool write;
        assert_int_equal(fp, want[p]);
        while (n < MAX_ACCESSES && wl_next(w, &page, &write)) {
            assert_true(page < fp);
            assert_true(wl_working_set(w) <= fp);
            if (page > max)
                max = page;
            if (wl_working_set(w) > max_ws)
                max_ws = wl_working_set(w);
            n++;
        }
        assert_true(n < MAX_ACCESSES);
        /* every profile uses its whole footprint at some point */
        assert_int_equal(max, fp - 1);
        assert_int_equal(max_ws, fp);
        wl_free(w);
        /* an explicit footprint is kept */
        w = make(all[p], ram, 777, 1, 7, 64);
        assert_int_equal(wl_footprint(w), 777);
        while (wl_next(w, &page, &write))
            assert_true(page < 777);
        wl_free(w);
    }
}

/* usemem at scale: every step of 128 MB writes its new pages, then reads the
 * allocation from 0; at the limit, 3 loops of a write and a read pass. */
static void check_usemem(uint32_t scale, uint64_t fp_override)
{
    const uint64_t step = 128u * 256u / scale;
    const uint64_t limit = fp_override ? fp_override : 1024u * 256u / scale;
    struct wl *w = make("usemem", 512u * 256u / scale, fp_override, 1, 1, scale);
    assert_int_equal(wl_footprint(w), limit);
    uint64_t page;
    bool write;
    uint64_t alloc = 0;
    while (alloc < limit) {
        uint64_t end = limit - alloc > step ? alloc + step : limit;
        for (uint64_t p = alloc; p < end; p++) {
            assert_true(wl_next(w, &page, &write));
            assert_int_equal(page, p);
            assert_true(write);
            assert_int_equal(wl_working_set(w), end);
        }
        for (uint64_t p = 0; p < end; p++) {
            assert_true(wl_next(w, &page, &write));
            assert_int_equal(page, p);
            assert_false(write);
            assert_int_equal(wl_working_set(w), end);
        }
        alloc = end;
    }
    for (int loop = 0; loop < 3; loop++)
        for (int pass = 0; pass < 2; pass++)
            for (uint64_t p = 0; p < limit; p++) {
                assert_true(wl_next(w, &page, &write));
                assert_int_equal(page, p);
                assert_int_equal(write, pass == 0);
                assert_int_equal(wl_working_set(w), limit);
            }
    assert_false(wl_next(w, &page, &write));
    wl_free(w);
}

static void test_usemem_steps(void **state)
{
    (void)state;
    check_usemem(64, 0);    /* 512-page steps up to 4096 pages: 8 steps */
    check_usemem(1, 0);     /* 32768-page steps up to 262144 */
    check_usemem(4096, 0);  /* 8-page steps up to 64 */
    check_usemem(64, 1300); /* a limit that is not a whole number of steps */
    /* the working set moves only at step boundaries: 8 distinct values */
    struct wl *w = make("usemem", 2048, 0, 1, 1, 64);
    uint64_t page, last = 0, changes = 0;
    bool write;
    while (wl_next(w, &page, &write))
        if (wl_working_set(w) != last) {
            assert_int_equal(wl_working_set(w), last + 512);
            last = wl_working_set(w);
            changes++;
        }
    assert_int_equal(changes, 8);
    wl_free(w);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Counts per page of the accesses after the load (the steady part); sorted
 * descending into counts[0..fp). Returns the accesses counted. */
static uint64_t steady_counts(const char *profile, uint64_t ram, uint64_t *counts, uint64_t fp)
{
    struct wl *w = make(profile, ram, fp, 1, 99, 64);
    uint64_t page, n = 0, seen = 0;
    bool write;
    memset(counts, 0, fp * sizeof *counts);
    while (wl_next(w, &page, &write)) {
        if (++seen <= fp && strcmp(profile, "memcached") == 0)
            continue; /* the load writes every page once */
        counts[page]++;
        n++;
    }
    wl_free(w);
    qsort(counts, fp, sizeof *counts, cmp_desc);
    return n;
}

static void test_memcached_zipf(void **state)
{
    (void)state;
    const uint64_t fp = 16384;
    uint64_t *c = calloc(fp, sizeof *c);
    assert_non_null(c);
    uint64_t n = steady_counts("memcached", fp / 2, c, fp);
    assert_int_equal(n, 8 * fp);
    /* the most popular 1 % of the pages take about half the requests
     * (H(164)/H(16384) for s = 0.99); uniform would give 1 % */
    uint64_t top = 0;
    for (uint64_t i = 0; i < fp / 100; i++)
        top += c[i];
    double share = (double)top / (double)n;
    assert_true(share > 0.40 && share < 0.65);
    /* the exponent: least squares slope of log(count) over log(rank), ranks 1..100 */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int r = 1; r <= 100; r++) {
        double x = log((double)r), y = log((double)c[r - 1]);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double slope = (100 * sxy - sx * sy) / (100 * sxx - sx * sx);
    assert_true(-slope > 0.85 && -slope < 1.15);
    /* the contrast: constant's uniform accesses have no skew */
    n = steady_counts("constant", fp / 2, c, fp);
    top = 0;
    for (uint64_t i = 0; i < fp / 100; i++)
        top += c[i];
    assert_true((double)top / (double)n < 0.02);
    free(c);
}

static void test_flux_rises_and_falls(void **state)
{
    (void)state;
    const uint64_t fp = 4000;
    struct wl *w = make("flux", 2000, 0, 1, 5, 64);
    assert_int_equal(wl_footprint(w), fp);
    uint64_t levels[64], nl = 0, page;
    bool write;
    levels[nl++] = wl_working_set(w);
    while (wl_next(w, &page, &write)) {
        assert_true(page < wl_working_set(w));
        if (wl_working_set(w) != levels[nl - 1]) {
            assert_true(nl < 64);
            levels[nl++] = wl_working_set(w);
        }
    }
    wl_free(w);
    /* two periods: lo up to fp in 4 steps and back down (the last level
     * of one period is the first of the next) */
    const uint64_t want[] = {1000, 1750, 2500, 3250, 4000, 3250, 2500, 1750,
                             1000, 1750, 2500, 3250, 4000, 3250, 2500, 1750};
    assert_int_equal(nl, sizeof want / sizeof want[0]);
    for (uint64_t i = 0; i < nl; i++)
        assert_int_equal(levels[i], want[i]);
    /* constant's working set never moves */
    w = make("constant", 2000, 0, 1, 5, 64);
    uint64_t ws = wl_working_set(w);
    while (wl_next(w, &page, &write))
        assert_int_equal(wl_working_set(w), ws);
    wl_free(w);
}

static void test_analytics_phases(void **state)
{
    (void)state;
    struct wl *w = make("analytics", 1000, 0, 1, 5, 64);
    uint64_t fp = wl_footprint(w), page, prev = UINT64_MAX, seq = 0, n = 0;
    uint64_t ws[16], nws = 0;
    bool write;
    ws[nws++] = wl_working_set(w);
    while (wl_next(w, &page, &write)) {
        if (prev != UINT64_MAX && page == (prev + 1) % fp)
            seq++;
        prev = page;
        n++;
        if (wl_working_set(w) != ws[nws - 1]) {
            assert_true(nws < 16);
            ws[nws++] = wl_working_set(w);
        }
    }
    wl_free(w);
    /* four phases, each a different array size */
    assert_int_equal(nws, 4);
    assert_int_equal(ws[0], fp / 2);
    assert_int_equal(ws[1], fp);
    assert_int_equal(ws[2], fp * 3 / 4);
    assert_int_equal(ws[3], fp / 3);
    /* sequential scans: all but the wrap from one scan to the next */
    assert_true(seq > n * 99 / 100);
}

static void test_graph_locality(void **state)
{
    (void)state;
    const uint64_t fp = 10000;
    struct wl *w = make("graph", 4000, fp, 1, 5, 64);
    uint64_t page, n = 0, hot = 0, adjacent = 0, prev = 0, seen = 0;
    bool write;
    while (wl_next(w, &page, &write)) {
        if (++seen <= fp) { /* the load, in order */
            assert_int_equal(page, seen - 1);
            assert_true(write);
            assert_int_equal(wl_working_set(w), seen);
            prev = page;
            continue;
        }
        n++;
        hot += page < fp / 5;
        adjacent += page == prev + 1;
        prev = page;
    }
    wl_free(w);
    assert_int_equal(n, 6 * fp);
    /* 80 % of the runs start in the hot fifth (runs may cross its end) */
    double h = (double)hot / (double)n;
    assert_true(h > 0.72 && h < 0.88);
    /* runs of 1..8 pages: about 3.5 of every 4.5 accesses follow their predecessor */
    double a = (double)adjacent / (double)n;
    assert_true(a > 0.7 && a < 0.85);
}

static void test_repeats(void **state)
{
    (void)state;
    for (size_t p = 0; p < N_ALL; p++) {
        uint64_t n1, n3;
        struct wl *a = make(all[p], 300, 0, 1, 11, 64);
        struct wl *b = make(all[p], 300, 0, 3, 11, 64);
        stream_hash(a, &n1);
        stream_hash(b, &n3);
        assert_int_equal(n3, 3 * n1);
        wl_free(a);
        wl_free(b);
    }
}

static void expect_refused(const struct wl_spec *s, const char *needle)
{
    char err[256] = "";
    struct wl *w = wl_new(s, err, sizeof err);
    assert_null(w);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_bad_spec(void **state)
{
    (void)state;
    struct wl_spec ok = {.profile = "graph", .ram_pages = 100, .repeats = 1, .seed = 1,
                         .scale = 64};
    struct wl_spec s = ok;
    expect_refused(NULL, "no profile");
    s.profile = NULL;
    expect_refused(&s, "no profile");
    s.profile = "usemen";
    expect_refused(&s, "unknown profile 'usemen' (expected one of usemem, analytics");
    s = ok;
    s.scale = 0;
    expect_refused(&s, "scale 0 is not a power of two");
    s.scale = 48;
    expect_refused(&s, "scale 48");
    s.scale = 8192;
    expect_refused(&s, "scale 8192");
    s = ok;
    s.ram_pages = 0;
    expect_refused(&s, "ram_pages 0");
    s = ok;
    s.repeats = 0;
    expect_refused(&s, "repeats must be at least 1");
    s = ok;
    s.footprint_pages = WL_MAX_PAGES + 1;
    expect_refused(&s, "footprint of 67108865 pages");
    s = ok;
    s.ram_pages = 2; /* default footprint 5 pages */
    expect_refused(&s, "footprint of 5 pages is not from 8");
    /* the same spec with every fault removed is accepted */
    char err[64];
    struct wl *w = wl_new(&ok, err, sizeof err);
    assert_non_null(w);
    wl_free(w);
}

static void test_names_and_assumes(void **state)
{
    (void)state;
    char names[256];
    snprintf(names, sizeof names, "%s", wl_profile_names());
    size_t count = 0;
    for (char *tok = strtok(names, ", "); tok; tok = strtok(NULL, ", ")) {
        const char *a = wl_assumes(tok);
        assert_non_null(a);
        assert_true(strlen(a) > 20);
        assert_null(strchr(a, '\n'));
        count++;
    }
    assert_int_equal(count, N_ALL);
    assert_null(wl_assumes("nosuch"));
    assert_null(wl_assumes(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_footprint_bounds),
        cmocka_unit_test(test_usemem_steps),
        cmocka_unit_test(test_memcached_zipf),
        cmocka_unit_test(test_flux_rises_and_falls),
        cmocka_unit_test(test_analytics_phases),
        cmocka_unit_test(test_graph_locality),
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_bad_spec),
        cmocka_unit_test(test_names_and_assumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
