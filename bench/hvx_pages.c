/* bench/hvx_pages: 4 KiB put+get+flush through the hv-ext API on a 1 GiB
 * pool, against the baseline measured in the same run: a plain 4 KiB memcpy
 * to and from random pages of a pool of the same size. Target: at least 0.7
 * of the baseline's throughput. Also prints libhvx metadata per page.
 *   hvx_pages [POOL_PAGES [OPS]]    (default 262144 pages = 1 GiB, 400000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gfn.h"
#include "hvx.h"
#include "bench_clock.h"

#define PAGE 4096u

static uint8_t *pool_mem;
static uint64_t pool_pages;

static void *env_alloc(void *arg, size_t n) { return calloc(1, n); }
static void env_free(void *arg, void *p, size_t n) { free(p); }
static void *env_page(void *arg, uint64_t gfn, int *fault)
{
    return pool_mem + vmca_gfn_index(gfn) * PAGE;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Baseline: copy a page into a random page of the pool and back out. */
static double run_memcpy(uint8_t *base, uint64_t pages, uint64_t ops, uint8_t *src,
                         uint8_t *dst)
{
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < ops; i++) {
        uint8_t *p = base + (next_rand() % pages) * PAGE;
        src[i & 1023] = (uint8_t)i;
        memcpy(p, src, PAGE);
        memcpy(dst, p, PAGE);
    }
    return bench_now_s() - t0;
}

/* hv-ext, as cold as the baseline: a ring of live entries fills half the
 * pool; each op flushes the oldest entry, puts a new one (into a page
 * freed long ago, as the baseline writes a random page) and gets it back
 * (as the baseline reads that page back), checking its content. */
static uint64_t *ring;
static uint64_t ring_len, next_key = 1;

static void key_of(uint64_t k, uint64_t *oid, uint32_t *index)
{
    *oid = k >> 20;
    *index = (uint32_t)(k & 0xfffff);
}

static void put_key(struct hvx *h, int pool, uint64_t k, uint8_t *src)
{
    uint64_t oid;
    uint32_t index;
    key_of(k, &oid, &index);
    memcpy(src, &k, sizeof k);
    if (hvx_put(h, 1, (unsigned)pool, oid, index, src) < 0) {
        fprintf(stderr, "hvx_pages: put failed\n");
        exit(1);
    }
}

static double run_hvx(struct hvx *h, int pool, uint64_t ops, uint8_t *src, uint8_t *dst)
{
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t slot = i % ring_len, oid;
        uint32_t index;
        key_of(ring[slot], &oid, &index);
        if (hvx_flush_page(h, 1, (unsigned)pool, oid, index) != HVX_OK) {
            fprintf(stderr, "hvx_pages: flush failed\n");
            exit(1);
        }
        uint64_t k = next_key++, got;
        ring[slot] = k;
        put_key(h, pool, k, src);
        key_of(k, &oid, &index);
        if (hvx_get(h, 1, (unsigned)pool, oid, index, dst) < 0 ||
            (memcpy(&got, dst, sizeof got), got != k)) {
            fprintf(stderr, "hvx_pages: get failed or returned other data\n");
            exit(1);
        }
    }
    return bench_now_s() - t0;
}

/* hv-ext, hot: put, get and flush one new key per op (what the spec names
 * literally); the allocator hands back the page it just freed, so this is
 * the cache-friendly best case. */
static double run_hvx_hot(struct hvx *h, int pool, uint64_t ops, uint8_t *src, uint8_t *dst)
{
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t k = next_key++, oid, got;
        uint32_t index;
        key_of(k, &oid, &index);
        put_key(h, pool, k, src);
        if (hvx_get(h, 1, (unsigned)pool, oid, index, dst) < 0 ||
            (memcpy(&got, dst, sizeof got), got != k) ||
            hvx_flush_page(h, 1, (unsigned)pool, oid, index) != HVX_OK) {
            fprintf(stderr, "hvx_pages: hot op failed\n");
            exit(1);
        }
    }
    return bench_now_s() - t0;
}

/* Eviction: VM 2's ephemeral pool fills the rest of the node, keys
 * [eph_lo, eph_hi) live. "flush + put" flushes its oldest key and puts a
 * new one (a free page each time); "evicting put" puts a new key on the
 * full node, which evicts one of VM 2's pages of its oldest put epoch. */
static uint64_t eph_lo, eph_hi;

static void put_eph(struct hvx *h, int pool, uint64_t k, uint8_t *src)
{
    memcpy(src, &k, sizeof k);
    if (hvx_put(h, 2, (unsigned)pool, k >> 20, (uint32_t)(k & 0xfffff), src) < 0) {
        fprintf(stderr, "hvx_pages: ephemeral put failed\n");
        exit(1);
    }
}

static double run_eph(struct hvx *h, int pool, uint64_t ops, uint8_t *src, bool flush)
{
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < ops; i++) {
        if (flush) {
            uint64_t k = eph_lo++;
            if (hvx_flush_page(h, 2, (unsigned)pool, k >> 20, (uint32_t)(k & 0xfffff)) != HVX_OK) {
                fprintf(stderr, "hvx_pages: ephemeral flush failed\n");
                exit(1);
            }
        }
        put_eph(h, pool, eph_hi++, src);
    }
    return bench_now_s() - t0;
}

int main(int argc, char **argv)
{
    pool_pages = argc > 1 ? strtoull(argv[1], NULL, 0) : 262144;
    uint64_t ops = argc > 2 ? strtoull(argv[2], NULL, 0) : 400000;
    if (pool_pages < 1024 || pool_pages > HVX_HOME_PAGES_MAX || ops == 0) {
        fprintf(stderr, "usage: hvx_pages [POOL_PAGES (1024..%llu) [OPS]]\n",
                (unsigned long long)HVX_HOME_PAGES_MAX);
        return 2;
    }
    pool_mem = malloc(pool_pages * PAGE);
    uint8_t *base = malloc(pool_pages * PAGE);
    uint8_t *src = aligned_alloc(64, PAGE), *dst = aligned_alloc(64, PAGE);
    if (!pool_mem || !base || !src || !dst) {
        fprintf(stderr, "hvx_pages: out of memory\n");
        return 1;
    }
    memset(pool_mem, 1, pool_pages * PAGE);   /* touch both pools */
    memset(base, 1, pool_pages * PAGE);
    memset(src, 7, PAGE);

    struct hvx_home home = {.id = 1, .pages = pool_pages, .location_len = 0};
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = &home, .n_homes = 1};
    struct hvx_env env = {env_alloc, env_free, env_page, NULL, NULL, NULL, NULL, NULL};
    struct hvx *h = hvx_new(&p, &env);
    if (!h || hvx_client_new(h, 1) != HVX_OK) {
        fprintf(stderr, "hvx_pages: cannot create the hv-ext instance\n");
        return 1;
    }
    int pool = hvx_pool_new(h, 1, HVX_POOL_PERSISTENT);
    ring_len = pool_pages / 2;                          /* half full */
    ring = malloc(ring_len * sizeof *ring);
    if (!ring)
        return 1;
    for (uint64_t i = 0; i < ring_len; i++) {
        ring[i] = next_key++;
        put_key(h, pool, ring[i], src);
    }

    double best_base = 1e9, best_hvx = 1e9, best_hot = 1e9;
    for (int round = 0; round < 5; round++) {           /* interleaved, best of 5 */
        double b = run_memcpy(base, pool_pages, ops, src, dst);
        double x = run_hvx(h, pool, ops, src, dst);
        double y = run_hvx_hot(h, pool, ops, src, dst);
        best_base = b < best_base ? b : best_base;
        best_hvx = x < best_hvx ? x : best_hvx;
        best_hot = y < best_hot ? y : best_hot;
    }
    struct hvx_node_stats st;
    struct hvx_home_pages owned[2], lent[2];
    struct hvx_vm_stats vms[2];
    hvx_stats(h, &st, owned, 2, lent, 2, vms, 2, false);
    uint64_t fill = st.free_pages;
    int eph = hvx_client_new(h, 2) == HVX_OK ? hvx_pool_new(h, 2, HVX_POOL_EPHEMERAL) : -1;
    if (eph < 0) {
        fprintf(stderr, "hvx_pages: cannot create the ephemeral pool\n");
        return 1;
    }
    eph_lo = eph_hi = UINT64_C(1) << 40;
    for (uint64_t i = 0; i < fill; i++)
        put_eph(h, eph, eph_hi++, src);
    double best_fp = 1e9, best_ev = 1e9;
    for (int round = 0; round < 5; round++) {
        double t = run_eph(h, eph, ops, src, true);
        best_fp = t < best_fp ? t : best_fp;
    }
    for (int round = 0; round < 5; round++) {
        double t = run_eph(h, eph, ops, src, false);
        best_ev = t < best_ev ? t : best_ev;
    }
    struct hvx_vm_stats vms2[2];
    hvx_stats(h, &st, owned, 2, lent, 2, vms2, 2, false);
    double base_ns = best_base / (double)ops * 1e9, hvx_ns = best_hvx / (double)ops * 1e9;
    double hot_ns = best_hot / (double)ops * 1e9;
    double ratio = base_ns / hvx_ns, hot_ratio = base_ns / hot_ns;
    printf("hvx_pages: pool %llu pages (%.0f MiB), %llu ops per round, best of 5\n",
           (unsigned long long)pool_pages, (double)pool_pages * PAGE / 1048576.0,
           (unsigned long long)ops);
    printf("baseline memcpy 4 KiB in + out of a random page: %8.1f ns/op\n", base_ns);
    printf("hv-ext put + get + flush of 4 KiB pages (cold):  %8.1f ns/op\n", hvx_ns);
    printf("hv-ext put + get + flush of one page (hot):       %8.1f ns/op\n", hot_ns);
    printf("ratio cold (hv-ext throughput / baseline): %.2f  (target >= 0.70: %s)\n", ratio,
           ratio >= 0.70 ? "PASS" : "MISS");
    printf("ratio hot  (hv-ext throughput / baseline): %.2f  (target >= 0.70: %s)\n",
           hot_ratio, hot_ratio >= 0.70 ? "PASS" : "MISS");
    double fp_ns = best_fp / (double)ops * 1e9, ev_ns = best_ev / (double)ops * 1e9;
    printf("hv-ext ephemeral flush oldest + put, node full:  %8.1f ns/op\n", fp_ns);
    printf("hv-ext ephemeral put that evicts, node full:      %8.1f ns/op (%llu evictions)\n",
           ev_ns, (unsigned long long)vms2[1].evictions);
    printf("ratio evicting put / (flush + put): %.2f  (the eviction's cost against a flush's)\n",
           ev_ns / fp_ns);
    struct hvx_meta m;
    hvx_metadata(h, &m);
    double per = (double)st.metadata_bytes / (double)st.owned_pages;
    printf("metadata: %.2f bytes per managed page (%llu bytes, %llu pages; goal <= 16: %s)\n",
           per, (unsigned long long)st.metadata_bytes, (unsigned long long)st.owned_pages,
           per <= 16.0 ? "PASS" : "MISS");
    printf("  records %.2f (%llu-byte records of key, hash link, index >> 16, in %llu-byte chunks "
           "of 512 with two bits per client slot), hash buckets %.2f, zone maps (buddy, "
           "ownership bitmap) %.2f, rest %.2f\n",
           (double)m.records / (double)st.owned_pages, (unsigned long long)m.record_bytes,
           (unsigned long long)m.chunk_bytes,
           (double)m.buckets / (double)st.owned_pages,
           (double)m.zone_maps / (double)st.owned_pages,
           (double)m.rest / (double)st.owned_pages);
    hvx_destroy(h);
    free(pool_mem);
    free(base);
    free(src);
    free(dst);
    free(ring);
    return 0;
}
