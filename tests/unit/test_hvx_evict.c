/* libhvx: ephemeral eviction (oldest put epoch first, VMs above target
 * first, then the putter, then the biggest ephemeral holder; persistent
 * pages never), the metadata accounting, indices kept whole though records
 * store only their high 16 bits, and flush-object / destroy-pool /
 * client-destroy visiting only the chunks holding their VM's records of
 * their kind. One home of 64 pages, so a node is full after 64 puts
 * (bigger homes where a test says so). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gfn.h"
#include "hvx.h"
#include "hvx_int.h" /* hvx_bucket: to put many keys on one chain */

#define PAGE 4096u
#define PAGES 64u

struct fx {
    uint8_t *mem;
    size_t live_bytes;
    struct hvx_home home;
    struct hvx *h;
    uint64_t backed;      /* pages of home 1 with memory behind them */
};

static void *fx_alloc(void *arg, size_t n)
{
    ((struct fx *)arg)->live_bytes += n;
    return calloc(1, n);
}

static void fx_free(void *arg, void *p, size_t n)
{
    ((struct fx *)arg)->live_bytes -= n;
    free(p);
}

static void *fx_page(void *arg, uint64_t gfn, int *fault)
{
    struct fx *x = arg;
    if (vmca_gfn_home(gfn) != 1 || vmca_gfn_index(gfn) >= x->backed) {
        *fault = -1;
        return NULL;
    }
    return x->mem + vmca_gfn_index(gfn) * PAGE;
}

/* An instance over `homes` (node 1 first), `backed` pages of home 1 with
 * memory, for the tests with a fixture of their own. */
static void fx_start(struct fx *y, const struct hvx_home *homes, size_t n, uint64_t backed)
{
    y->backed = backed;
    y->mem = backed ? calloc(backed, PAGE) : NULL;
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = homes, .n_homes = n};
    struct hvx_env env = {fx_alloc, fx_free, fx_page, NULL, y, NULL, NULL, NULL};
    y->h = hvx_new(&p, &env);
    assert_non_null(y->h);
}

static void fx_stop(struct fx *y)
{
    hvx_destroy(y->h);
    assert_int_equal(y->live_bytes, 0);
    free(y->mem);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    x->home = (struct hvx_home){.id = 1, .pages = PAGES};
    fx_start(x, &x->home, 1, PAGES);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    free(*state);
    return 0;
}

/* Page content naming its VM and key, so a wrong page is never mistaken. */
static void fill(uint8_t *buf, uint32_t vm, uint64_t oid, uint32_t index)
{
    for (unsigned i = 0; i < PAGE; i += 16) {
        memcpy(buf + i, &(uint64_t){(uint64_t)vm << 32 | index}, 8);
        memcpy(buf + i + 8, &oid, 8);
    }
}

static int put(struct fx *x, uint32_t vm, int pool, uint64_t oid, uint32_t index)
{
    uint8_t buf[PAGE];
    fill(buf, vm, oid, index);
    return hvx_put(x->h, vm, (unsigned)pool, oid, index, buf);
}

/* Whether the key is there with its own data (an ephemeral get removes it). */
static bool has(struct fx *x, uint32_t vm, int pool, uint64_t oid, uint32_t index)
{
    uint8_t want[PAGE], got[PAGE];
    int rc = hvx_get(x->h, vm, (unsigned)pool, oid, index, got);
    if (rc == HVX_ENOENT)
        return false;
    assert_true(rc >= 0);
    fill(want, vm, oid, index);
    assert_memory_equal(got, want, PAGE); /* never another key's data */
    return true;
}

static struct hvx_vm_stats vm_stats(struct fx *x, uint32_t vm)
{
    struct hvx_node_stats st;
    struct hvx_home_pages owned[2], lent[2];
    struct hvx_vm_stats vms[8];
    hvx_stats(x->h, &st, owned, 2, lent, 2, vms, 8, false);
    for (size_t i = 0; i < st.n_vms; i++)
        if (vms[i].vm == vm)
            return vms[i];
    fail();
    return vms[0];
}

static int vm_with_pool(struct fx *x, uint32_t vm, unsigned kind)
{
    if (!hvx_client_known(x->h, vm))
        assert_int_equal(hvx_client_new(x->h, vm), HVX_OK);
    int p = hvx_pool_new(x->h, vm, kind);
    assert_true(p >= 0);
    return p;
}

/* A full node: a new ephemeral put evicts a page of the oldest put epoch
 * (keys 0..15: the first 16 puts), the first in page order; a put again of
 * a key moves it to the current epoch; an evicted key misses. */
static void test_oldest_first(void **state)
{
    struct fx *x = *state;
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    for (uint32_t i = 0; i < PAGES; i++)
        assert_int_equal(put(x, 1, e, 9, i), 0);
    assert_int_equal(put(x, 1, e, 9, 0), 0);   /* key 0 again: now the newest */
    assert_int_equal(put(x, 1, e, 9, 100), 0); /* evicts key 1 */
    assert_int_equal(put(x, 1, e, 9, 101), 0); /* evicts key 2 */
    assert_int_equal(vm_stats(x, 1).evictions, 2);
    /* the two puts that made room are counted (the policies' pressure);
     * the fills and the put again found room */
    assert_int_equal(vm_stats(x, 1).puts_evicting, 2);
    assert_int_equal(vm_stats(x, 1).puts_succ, PAGES + 3);
    assert_int_equal(vm_stats(x, 1).tmem_used, PAGES);
    assert_false(has(x, 1, e, 9, 1));
    assert_false(has(x, 1, e, 9, 2));
    assert_true(has(x, 1, e, 9, 0));
    for (uint32_t i = 3; i < PAGES; i++)
        assert_true(has(x, 1, e, 9, i));
    assert_true(has(x, 1, e, 9, 100));
    assert_true(has(x, 1, e, 9, 101));
}

/* VMs above their target lose pages first (furthest above first), even
 * when the putter's own pages are older; then the putter's own; then the
 * VM with the most ephemeral pages. */
static void test_above_target_first(void **state)
{
    struct fx *x = *state;
    int e1 = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int e2 = vm_with_pool(x, 2, HVX_POOL_EPHEMERAL);
    int e3 = vm_with_pool(x, 3, HVX_POOL_EPHEMERAL);
    for (uint32_t i = 0; i < 24; i++) /* VM 1 first: its pages are the oldest */
        assert_int_equal(put(x, 1, e1, 1, i), 0);
    for (uint32_t i = 0; i < 20; i++)
        assert_int_equal(put(x, 2, e2, 2, i), 0);
    for (uint32_t i = 0; i < 20; i++)
        assert_int_equal(put(x, 3, e3, 3, i), 0);
    /* Targets lowered after the fact: VM 2 is 10 above, VM 3 is 2 above. */
    assert_int_equal(hvx_set_target(x->h, 2, 10), HVX_OK);
    assert_int_equal(hvx_set_target(x->h, 3, 18), HVX_OK);
    for (uint32_t i = 0; i < 8; i++) /* VM 2 goes down to 2 above */
        assert_int_equal(put(x, 1, e1, 1, 100 + i), 0);
    assert_int_equal(vm_stats(x, 2).evictions, 8);
    assert_int_equal(vm_stats(x, 3).evictions, 0);
    assert_int_equal(vm_stats(x, 1).evictions, 0);
    /* Now both are 2 above: the tie goes to the lower slot (VM 2), then VM 3
     * is further above. */
    assert_int_equal(put(x, 1, e1, 1, 200), 0);
    assert_int_equal(vm_stats(x, 2).evictions, 9);
    assert_int_equal(put(x, 1, e1, 1, 201), 0);
    assert_int_equal(vm_stats(x, 3).evictions, 1);
    /* Evicted: VM 2's oldest 9 and VM 3's oldest 1, VM 1 kept all. */
    for (uint32_t i = 0; i < 9; i++)
        assert_false(has(x, 2, e2, 2, i));
    assert_true(has(x, 2, e2, 2, 9));
    assert_false(has(x, 3, e3, 3, 0));
    assert_true(has(x, 3, e3, 3, 1));
    assert_true(has(x, 1, e1, 1, 0));
    /* Those three gets freed three pages; fill them, then nobody is above
     * target (VM 2: 10 of 10, VM 3: 18 of 18): VM 1's put evicts its own
     * oldest page (key 1; key 0 was taken by the get). */
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(put(x, 1, e1, 1, 300 + i), 0);
    assert_int_equal(vm_stats(x, 1).evictions, 0);
    assert_int_equal(put(x, 1, e1, 1, 400), 0);
    assert_int_equal(vm_stats(x, 1).evictions, 1);
    assert_false(has(x, 1, e1, 1, 1));
    assert_true(has(x, 1, e1, 1, 2));
    /* VM 4 has no ephemeral page: its persistent put takes from the VM
     * with the most ephemeral pages (VM 1 here), its oldest epoch first (key 3; the
     * get of key 2 freed a page first, so two puts). */
    int p4 = vm_with_pool(x, 4, HVX_POOL_PERSISTENT);
    assert_int_equal(put(x, 4, p4, 4, 0), 0);
    assert_int_equal(put(x, 4, p4, 4, 1), 0);
    assert_int_equal(vm_stats(x, 1).evictions, 2);
    assert_false(has(x, 1, e1, 1, 3));
    assert_true(has(x, 1, e1, 1, 4));
}

/* Persistent pages never go; an ephemeral (or persistent) put fails only
 * when no ephemeral page is left to evict; a VM at its target still fails
 * without evicting anything. */
static void test_persistent_never_evicted(void **state)
{
    struct fx *x = *state;
    int p1 = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    int e1 = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int e2 = vm_with_pool(x, 2, HVX_POOL_EPHEMERAL);
    int p2 = vm_with_pool(x, 2, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < PAGES - 4; i++)
        assert_int_equal(put(x, 1, p1, 1, i), 0);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(put(x, 1, e1, 2, i), 0);
    /* Four ephemeral pages: exactly four evictions, whatever the pool;
     * the putter's own ephemeral pages go before VM 1's (nobody is above
     * target). */
    assert_int_equal(put(x, 2, p2, 5, 0), 0); /* evicts (2, 0) */
    assert_int_equal(put(x, 2, p2, 5, 1), 0); /* evicts (2, 1) */
    assert_int_equal(put(x, 2, e2, 6, 0), 0); /* evicts (2, 2): VM 2 has none yet */
    assert_int_equal(put(x, 2, e2, 6, 1), 0); /* evicts its own (6, 0) */
    assert_int_equal(vm_stats(x, 1).evictions, 3);
    assert_int_equal(vm_stats(x, 2).evictions, 1);
    assert_int_equal(put(x, 2, p2, 5, 2), 0); /* evicts its own (6, 1) */
    assert_int_equal(put(x, 2, e2, 6, 2), 0); /* evicts VM 1's last, (2, 3) */
    assert_int_equal(put(x, 2, p2, 5, 3), 0); /* evicts its own (6, 2) */
    assert_int_equal(put(x, 2, e2, 6, 3), HVX_ENOMEM); /* nothing evictable */
    assert_int_equal(put(x, 2, p2, 5, 4), HVX_ENOMEM);
    assert_int_equal(vm_stats(x, 1).evictions, 4);
    assert_int_equal(vm_stats(x, 2).evictions, 3);
    assert_int_equal(vm_stats(x, 1).ephemeral, 0);
    assert_int_equal(vm_stats(x, 2).ephemeral, 0);
    for (uint32_t i = 0; i < PAGES - 4; i++)
        assert_true(has(x, 1, p1, 1, i));
    for (uint32_t i = 0; i < 4; i++)
        assert_true(has(x, 2, p2, 5, i));
    /* At target: the put fails though an ephemeral page could be evicted. */
    assert_int_equal(hvx_flush_page(x->h, 2, (unsigned)p2, 5, 3), HVX_OK);
    assert_int_equal(put(x, 2, e2, 6, 3), 0);             /* the free page */
    assert_int_equal(hvx_set_target(x->h, 1, PAGES - 4), HVX_OK);
    assert_int_equal(put(x, 1, p1, 1, 1000), HVX_ENOMEM); /* VM 1 at target */
    assert_int_equal(vm_stats(x, 2).evictions, 3);
    assert_true(has(x, 2, e2, 6, 3));
}

/* An evicted page's frame holds another VM's data now: the evicted key
 * misses, it never reads that data. */
static void test_get_after_eviction_misses(void **state)
{
    struct fx *x = *state;
    int e1 = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int p2 = vm_with_pool(x, 2, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < PAGES; i++)
        assert_int_equal(put(x, 1, e1, 7, i), 0);
    for (uint32_t i = 0; i < PAGES; i++)
        assert_int_equal(put(x, 2, p2, 7, i), 0); /* same oid and indices */
    for (uint32_t i = 0; i < PAGES; i++) {
        assert_false(has(x, 1, e1, 7, i));
        assert_true(has(x, 2, p2, 7, i));
    }
    assert_int_equal(vm_stats(x, 1).evictions, PAGES);
    assert_int_equal(put(x, 1, e1, 7, 0), HVX_ENOMEM);
}

/* Put epochs, not page order, decide: pages of a newer epoch at lower
 * pages than the oldest epoch's stay (fails when eviction follows the
 * hand's page order alone). */
static void test_epoch_before_page_order(void **state)
{
    struct fx *x = *state;
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    for (uint32_t i = 0; i < PAGES; i++)  /* epochs: 0..15, 16..31, 32..62, 63 */
        assert_int_equal(put(x, 1, e, 1, i), 0);
    for (uint32_t i = 0; i < 16; i++)     /* the first epoch is gone: pages 0..15 free */
        assert_int_equal(hvx_flush_page(x->h, 1, (unsigned)e, 1, i), HVX_OK);
    for (uint32_t i = 100; i < 116; i++)  /* newer, into pages 0..15 */
        assert_int_equal(put(x, 1, e, 1, i), 0);
    assert_int_equal(vm_stats(x, 1).evictions, 0);
    assert_int_equal(put(x, 1, e, 1, 200), 0); /* evicts key 16 (page 16) */
    assert_int_equal(put(x, 1, e, 1, 201), 0); /* evicts key 17 */
    assert_int_equal(vm_stats(x, 1).evictions, 2);
    assert_false(has(x, 1, e, 1, 16));
    assert_false(has(x, 1, e, 1, 17));
    for (uint32_t i = 100; i < 116; i++)
        assert_true(has(x, 1, e, 1, i));
    for (uint32_t i = 18; i < PAGES; i++)
        assert_true(has(x, 1, e, 1, i));
}

/* The library's accounting: the parts add up to what it allocated; a page
 * costs one 14-byte record and its share of the chunk's client bits, the
 * buckets and zone maps (the layout of docs/hypervisor.md). */
#define META_PER_PAGE_MAX 16.0
static void test_metadata_accounting(void **state)
{
    struct fx *x = *state;
    struct hvx_node_stats st;
    struct hvx_home_pages owned[2], lent[2];
    struct hvx_vm_stats vms[2];
    hvx_stats(x->h, &st, owned, 2, lent, 2, vms, 2, false);
    struct hvx_meta m;
    hvx_metadata(x->h, &m);
    assert_int_equal(st.metadata_bytes, x->live_bytes);
    assert_int_equal(m.records + m.buckets + m.zone_maps + m.rest, st.metadata_bytes);
    assert_int_equal(m.record_bytes, 14);
    assert_int_equal(m.chunk_bytes, 512 * 14 + 2 * 256 / 8); /* two bits per client slot */
    /* One record per page, in chunks of 512: 64 pages take one chunk. */
    assert_int_equal(m.records, m.chunk_bytes);
    assert_int_equal(m.buckets, 65536 * 4);                  /* the smallest table */
    /* Eviction and the epochs allocate nothing. */
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    size_t before = x->live_bytes;
    for (uint32_t i = 0; i < 3 * PAGES; i++)
        assert_int_equal(put(x, 1, e, 1, i), 0);
    assert_int_equal(x->live_bytes, before);
}

/* At scale: the budget per page holds with many pages (the bench's 1 GiB
 * home: below 2^16 buckets' worth of pages the smallest table dominates). */
static void test_metadata_per_page(void **state)
{
    (void)state;
    struct fx y = {0};
    y.home = (struct hvx_home){.id = 1, .pages = 1u << 18};
    fx_start(&y, &y.home, 1, 0);
    struct hvx_meta m;
    hvx_metadata(y.h, &m);
    double per = (double)(m.records + m.buckets + m.zone_maps + m.rest) / (double)(1u << 18);
    assert_true(per <= META_PER_PAGE_MAX);
    assert_true(m.records == (uint64_t)(1u << 18) / 512 * m.chunk_bytes);
    fx_stop(&y);
}

/* Records store index >> 16; the rest follows from the bucket. Indices that
 * differ only in their high or only in their low bits stay apart, through
 * a rehash (ownership grows: 2^18 buckets), and flush-object finds them. */
static void test_index_bits_and_rehash(void **state)
{
    (void)state;
    struct fx y = {0};
    struct hvx_home homes[2] = {{.id = 1, .pages = 1u << 16}, {.id = 2, .pages = 1u << 19}};
    fx_start(&y, homes, 2, PAGES); /* home 1's first 64 pages backed */
    int e = vm_with_pool(&y, 1, HVX_POOL_EPHEMERAL);
    int q = vm_with_pool(&y, 1, HVX_POOL_PERSISTENT);
    uint32_t idx[PAGES];
    for (uint32_t i = 0; i < PAGES; i++) /* high bits only, low bits only, both */
        idx[i] = i < 24 ? i << 16 | 5 : i < 48 ? (7u << 16) | (i * 2731u & 0xffff)
                                               : UINT32_MAX - (i - 48) * 65537u;
    for (uint32_t i = 0; i < PAGES; i++)
        assert_int_equal(put(&y, 1, i & 1 ? e : q, 3, idx[i]), 0);
    struct hvx_meta m0, m1;
    hvx_metadata(y.h, &m0);
    assert_int_equal(hvx_enable(y.h, 2, true), HVX_OK);
    enum hvx_grant_result r[1];
    struct hvx_block b = {vmca_gfn_make(2, 0), 19, 0};
    assert_int_equal(hvx_grant(y.h, 2, &b, 1, r), 1 << 19);
    hvx_metadata(y.h, &m1);
    assert_true(m1.buckets > m0.buckets); /* rehashed */
    for (uint32_t i = 0; i < PAGES; i += 2)
        assert_true(has(&y, 1, q, 3, idx[i]));
    for (uint32_t i = 0; i < PAGES; i += 2) /* a persistent get keeps it: again */
        assert_true(has(&y, 1, q, 3, idx[i]));
    assert_false(has(&y, 1, q, 3, 5 | 1u << 16 | 1u << 31));
    for (uint32_t i = 1; i < 24; i += 2) /* flush_page by the whole index */
        assert_int_equal(hvx_flush_page(y.h, 1, (unsigned)e, 3, idx[i]), HVX_OK);
    assert_int_equal(hvx_flush_object(y.h, 1, (unsigned)e, 3), PAGES / 2 - 12);
    assert_int_equal(hvx_flush_object(y.h, 1, (unsigned)q, 3), PAGES / 2);
    assert_int_equal(vm_stats(&y, 1).tmem_used, 0);
    fx_stop(&y);
}

/* One long chain: 43 entries of one object in one bucket (indices chosen
 * with the library's bucket function), taken off from its middle by
 * flush-page, from wherever by eviction (which finds the bucket from the
 * chain's end) and whole by flush-object; every other entry keeps its data
 * (fails when an unlink loses or misplaces the rest of the chain). */
static uint32_t chain_index(uint64_t key, uint32_t bucket, uint32_t hi)
{
    for (uint32_t lo = 0;; lo++) /* the low bits that put (key, hi:lo) there */
        if (hvx_bucket(key, hi << 16 | lo, 0xffff) == bucket)
            return hi << 16 | lo;
}

static void test_one_bucket_chain(void **state)
{
    struct fx *x = *state;
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int q = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    /* VM 1 is client slot 0: key = (1 << 4 | pool) << 48 | oid. */
    uint64_t key = ((uint64_t)(1u << 4 | (unsigned)e) << 48) | 5;
    uint32_t idx[43];
    for (uint32_t i = 0; i < 43; i++)
        idx[i] = chain_index(key, 777, i * 3 + 1);
    for (uint32_t i = 0; i < 40; i++)  /* pages 0..39, the chain's oldest epoch 0..15 */
        assert_int_equal(put(x, 1, e, 5, idx[i]), 0);
    for (uint32_t i = 0; i < PAGES - 40; i++)
        assert_int_equal(put(x, 1, q, 6, i), 0);
    assert_int_equal(hvx_flush_page(x->h, 1, (unsigned)e, 5, idx[10]), HVX_OK);
    assert_int_equal(hvx_flush_page(x->h, 1, (unsigned)e, 5, idx[20]), HVX_OK);
    for (uint32_t i = 40; i < 43; i++) /* two free pages, then one eviction */
        assert_int_equal(put(x, 1, e, 5, idx[i]), 0);
    assert_int_equal(vm_stats(x, 1).evictions, 1);
    assert_false(has(x, 1, e, 5, idx[0]));  /* page 0: the hand's first */
    for (uint32_t i = 1; i < 43; i++)
        if (i != 10 && i != 20) {
            uint8_t want[PAGE], got[PAGE];
            fill(want, 1, 5, idx[i]);
            assert_int_equal(hvx_get(x->h, 1, (unsigned)e, 5, idx[i], got), 0);
            assert_memory_equal(got, want, PAGE);
            assert_int_equal(put(x, 1, e, 5, idx[i]), 0); /* back (the get took it) */
        }
    assert_int_equal(hvx_flush_object(x->h, 1, (unsigned)e, 5), 40);
    for (uint32_t i = 0; i < PAGES - 40; i++)
        assert_true(has(x, 1, q, 6, i));
}

/* flush-object, destroy-pool and client-destroy visit (hvx_walked counts
 * the used records they read) only the chunks that hold their VM's records
 * of the pool's kind: never a chunk of other VMs' pages only, never the
 * VM's ephemeral chunks for a persistent pool or the other way round. A
 * home of 2048 pages (4 chunks): chunk 0 and 2 VM 2's, chunk 1 VM 1's
 * persistent pages, chunk 3 VM 1's ephemeral ones. */
#define WALK_PAGES 2048u
static void test_walks_own_records(void **state)
{
    (void)state;
    struct fx y = {0};
    y.home = (struct hvx_home){.id = 1, .pages = WALK_PAGES};
    fx_start(&y, &y.home, 1, WALK_PAGES);
    struct fx *x = &y;
    int a = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    int b = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int o = vm_with_pool(x, 2, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < 512; i++)            /* chunk 0 */
        assert_int_equal(put(x, 2, o, 1, i), 0);
    for (uint32_t i = 0; i < 5; i++) {            /* chunk 1 */
        assert_int_equal(put(x, 1, a, 1, i), 0);
        assert_int_equal(put(x, 1, a, 2, i), 0);
    }
    for (uint32_t i = 0; i < 12; i++)
        assert_int_equal(put(x, 1, b, 1, i), 0);
    for (uint32_t i = 0; i < 512 - 22; i++)
        assert_int_equal(put(x, 1, a, 3, i), 0);
    for (uint32_t i = 512; i < 1024; i++)         /* chunk 2 */
        assert_int_equal(put(x, 2, o, 1, i), 0);
    for (uint32_t i = 0; i < 7; i++)              /* chunk 3 */
        assert_int_equal(put(x, 1, e, 1, i), 0);
    uint64_t w = hvx_walked(x->h);
    assert_int_equal(hvx_flush_object(x->h, 1, (unsigned)a, 1), 5);
    assert_int_equal(hvx_walked(x->h) - w, 512); /* chunk 1 */
    w = hvx_walked(x->h);
    assert_int_equal(hvx_flush_object(x->h, 1, (unsigned)e, 1), 7);
    assert_int_equal(hvx_walked(x->h) - w, 7);   /* chunk 3 */
    w = hvx_walked(x->h);
    assert_int_equal(hvx_pool_destroy(x->h, 1, (unsigned)b), HVX_OK);
    assert_int_equal(hvx_walked(x->h) - w, 507); /* chunk 1, 5 fewer */
    w = hvx_walked(x->h);
    assert_int_equal(hvx_client_destroy(x->h, 1), HVX_OK);
    assert_int_equal(hvx_walked(x->h) - w, 495); /* chunk 1 (chunk 3 is empty) */
    for (uint32_t i = 0; i < 1024; i++)
        assert_true(has(x, 2, o, 1, i));
    assert_false(has(x, 2, o, 2, 0));
    fx_stop(&y);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_oldest_first), T(test_above_target_first), T(test_persistent_never_evicted),
        T(test_get_after_eviction_misses), T(test_epoch_before_page_order),
        T(test_metadata_accounting), cmocka_unit_test(test_metadata_per_page),
        cmocka_unit_test(test_index_bits_and_rehash), T(test_one_bucket_chain),
        cmocka_unit_test(test_walks_own_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
