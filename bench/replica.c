/* bench/replica: the cost of replicated persistent pages (replicas = 2),
 * each figure beside a baseline measured in the same run:
 *  - put of a page with two copies against a single-copy put (target <= 2.2x);
 *  - get served from the second copy after the first copy's home failed,
 *    against a normal remote get (target <= 1.3x); the first get of each
 *    page after the failure (fault, drop, the copy becomes the page) too;
 *  - repair rate (second copies restored per second by hvx_repair) against
 *    the raw page-copy rate between the same memories (target >= 0.5x);
 *  - memory overhead: second copies in pages and as a share of the pool.
 * This node (1) has no free page of its own: every page is remote, on homes
 * 2, 3 and 4, each on a board of its own.
 *   replica [HOME_PAGES [ROUNDS]]   (default 16384 pages = 64 MiB a home, 10) */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "gfn.h"
#include "hvx.h"

#define PAGE 4096u
#define NH 4u
#define SINGLE 1u  /* VM with replicas = 1 */
#define DOUBLE 2u  /* VM with replicas = 2 */

static uint8_t *mem[NH + 1];
static uint64_t pages_of[NH + 1];
static bool down[NH + 1];

static void *env_alloc(void *arg, size_t n) { (void)arg; return calloc(1, n); }
static void env_free(void *arg, void *p, size_t n) { (void)arg; (void)n; free(p); }
static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    (void)arg;
    uint32_t home = vmca_gfn_home(gfn);
    if (home == 0 || home > NH || down[home]) {
        *fault = -1;
        return NULL;
    }
    return mem[home] + vmca_gfn_index(gfn) * PAGE;
}

static void die(const char *what)
{
    fprintf(stderr, "replica: %s\n", what);
    exit(1);
}

static void grant_all(struct hvx *h, uint32_t home)
{
    hvx_enable(h, home, true);
    for (uint64_t i = 0; i < pages_of[home]; i += 1024) {
        struct hvx_block b = {vmca_gfn_make(home, i), 10, 0};
        enum hvx_grant_result r;
        if (hvx_grant(h, home, &b, 1, &r) != 1024)
            die("grant refused");
    }
}

/* Puts n pages of VM vm (object 1, index i); returns seconds. */
static double put_n(struct hvx *h, uint32_t vm, int pool, uint64_t n, uint8_t *buf)
{
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < n; i++) {
        memcpy(buf, &i, sizeof i);
        if (hvx_put(h, vm, (unsigned)pool, 1, i, buf) != 1)
            die("put failed or was local");
    }
    return bench_now_s() - t0;
}

/* Gets n pages of VM vm, checking each; returns seconds. */
static double get_n(struct hvx *h, uint32_t vm, int pool, uint64_t n, uint8_t *buf)
{
    double t0 = bench_now_s();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t got;
        if (hvx_get(h, vm, (unsigned)pool, 1, i, buf) < 0)
            die("get failed");
        memcpy(&got, buf, sizeof got);
        if (got != i)
            die("get returned wrong data");
    }
    return bench_now_s() - t0;
}

static struct hvx_node_stats node_stats(struct hvx *h)
{
    struct hvx_node_stats st;
    hvx_stats(h, &st, NULL, 0, NULL, 0, NULL, 0, false);
    return st;
}

int main(int argc, char **argv)
{
    uint64_t hp = argc > 1 ? strtoull(argv[1], NULL, 10) : 16384;
    unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10;
    if (hp < 2048 || hp % 1024 || hp > HVX_HOME_PAGES_MAX || rounds == 0)
        die("usage: replica [HOME_PAGES (a multiple of 1024, >= 2048) [ROUNDS]]");
    struct hvx_home homes[NH];
    for (uint32_t i = 0; i < NH; i++) {
        pages_of[i + 1] = i == 0 ? 1024 : hp;
        homes[i] = (struct hvx_home){.id = i + 1, .pages = pages_of[i + 1],
                                     .location = {0, i, i + 1}, .location_len = 3};
        mem[i + 1] = calloc(pages_of[i + 1], PAGE);
        if (!mem[i + 1])
            die("no memory for the homes");
    }
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = homes, .n_homes = NH};
    struct hvx_env env = {env_alloc, env_free, env_page, NULL, NULL, NULL, NULL, NULL};
    struct hvx *h = hvx_new(&p, &env);
    if (!h)
        die("hvx_new failed");
    uint8_t *buf = calloc(1, PAGE);
    /* This node's own pages taken by a third VM: every page below is remote. */
    hvx_client_new(h, 9);
    int fill = hvx_pool_new(h, 9, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < 1024; i++)
        if (hvx_put(h, 9, (unsigned)fill, 1, i, buf) != 0)
            die("own page put failed");
    grant_all(h, 2);
    grant_all(h, 3);
    hvx_client_new(h, SINGLE);
    hvx_client_new(h, DOUBLE);
    hvx_set_replicas(h, DOUBLE, 2);
    int ps = hvx_pool_new(h, SINGLE, HVX_POOL_PERSISTENT);
    int pd = hvx_pool_new(h, DOUBLE, HVX_POOL_PERSISTENT);
    uint64_t n = hp / 2; /* both copies fit: first copies on home 2, second on 3 */

    /* Puts, interleaved rounds: the same pages of home 2 serve both VMs. */
    double t_single = 0, t_double = 0;
    for (unsigned r = 0; r < rounds; r++) {
        t_single += put_n(h, SINGLE, ps, n, buf);
        hvx_flush_object(h, SINGLE, (unsigned)ps, 1);
        t_double += put_n(h, DOUBLE, pd, n, buf);
        hvx_flush_object(h, DOUBLE, (unsigned)pd, 1);
    }
    double put_ratio = t_double / t_single;
    printf("put: single copy %.0f ns/page, two copies %.0f ns/page: %.2fx (target <= 2.2x)\n",
           t_single / (double)(n * rounds) * 1e9, t_double / (double)(n * rounds) * 1e9,
           put_ratio);

    /* Gets: normal remote gets, then with home 2 (the first copies) gone. */
    put_n(h, DOUBLE, pd, n, buf);
    double t_get = 0;
    for (unsigned r = 0; r < rounds; r++)
        t_get += get_n(h, DOUBLE, pd, n, buf);
    down[2] = true;
    double t_first = get_n(h, DOUBLE, pd, n, buf); /* fault, drop, promote */
    double t_rep = 0;
    for (unsigned r = 0; r < rounds; r++)
        t_rep += get_n(h, DOUBLE, pd, n, buf);
    if (hvx_client_failed(h, DOUBLE))
        die("the replicated VM failed");
    double get_ns = t_get / (double)(n * rounds) * 1e9;
    double rep_ns = t_rep / (double)(n * rounds) * 1e9;
    printf("get: normal remote %.0f ns/page, from the second copy after its home failed "
           "%.0f ns/page: %.2fx (target <= 1.3x); first get after the failure %.0f ns/page "
           "(%.2fx)\n", get_ns, rep_ns, rep_ns / get_ns, t_first / (double)n * 1e9,
           t_first / (double)n * 1e9 / get_ns);

    /* Repair: home 2 purged, home 4's pages arrive; against raw copies
     * of the same number of pages from home 3's memory to home 4's. */
    hvx_invalidate(h, 2);
    if (node_stats(h).under_replicated != n)
        die("not every page counted under-replicated");
    double t0 = bench_now_s();
    for (unsigned r = 0; r < rounds; r++)
        for (uint64_t i = 0; i < n; i++)
            memcpy(mem[4] + i * PAGE, mem[3] + i * PAGE, PAGE); /* as repair walks them */
    double t_raw = (bench_now_s() - t0) / rounds;
    grant_all(h, 4);
    t0 = bench_now_s();
    uint64_t copied = 0;
    while (node_stats(h).under_replicated)
        copied += hvx_repair(h, 4096);
    double t_repair = bench_now_s() - t0;
    if (copied != n)
        die("repair restored a wrong number of copies");
    double raw_rate = (double)n / t_raw, rep_rate = (double)n / t_repair;
    printf("repair: %.0f pages/s, raw page copy %.0f pages/s: %.2fx (target >= 0.5x)\n",
           rep_rate, raw_rate, rep_rate / raw_rate);
    down[2] = false;

    /* What replication costs in memory: a page per page of the VM. */
    struct hvx_node_stats st = node_stats(h);
    printf("memory: %" PRIu64 " second copies for %" PRIu64 " pages of the VM; %.1f%% of "
           "the pool (%" PRIu64 " pages owned), %.1f%% of the pages in use\n",
           st.replica_pages, n, 100.0 * (double)st.replica_pages / (double)st.owned_pages,
           st.owned_pages, 100.0 * (double)st.replica_pages / (double)st.used_pages);
    printf("ratios: put %.2f get %.2f repair %.2f\n", put_ratio, rep_ns / get_ns,
           rep_rate / raw_rate);
    hvx_destroy(h);
    for (uint32_t i = 1; i <= NH; i++)
        free(mem[i]);
    free(buf);
    return 0;
}
