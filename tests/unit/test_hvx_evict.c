/* libhvx: ephemeral eviction (oldest first, VMs above target first, then
 * the putter, then the biggest ephemeral holder; persistent pages never),
 * the metadata accounting, and flush-object / destroy-pool / client-destroy
 * visiting only the records of their own list. One home of 64 pages, so a
 * node is full after 64 puts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gfn.h"
#include "hvx.h"

#define PAGE 4096u
#define PAGES 64u

struct fx {
    uint8_t *mem;
    size_t live_bytes;
    struct hvx_home home;
    struct hvx *h;
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
    if (vmca_gfn_home(gfn) != 1 || vmca_gfn_index(gfn) >= PAGES) {
        *fault = -1;
        return NULL;
    }
    return x->mem + vmca_gfn_index(gfn) * PAGE;
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    x->mem = calloc(PAGES, PAGE);
    x->home = (struct hvx_home){.id = 1, .pages = PAGES};
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = &x->home, .n_homes = 1};
    struct hvx_env env = {fx_alloc, fx_free, fx_page, NULL, x, NULL, NULL, NULL};
    x->h = hvx_new(&p, &env);
    assert_non_null(x->h);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hvx_destroy(x->h);
    assert_int_equal(x->live_bytes, 0);
    free(x->mem);
    free(x);
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

/* A full node: a new ephemeral put evicts the oldest page; a put again of
 * a key makes it the newest; an evicted key misses. */
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
     * with the most ephemeral pages (VM 1 here), oldest first (key 3; the
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

/* The library's accounting: the parts add up to what it allocated; a page
 * costs one record and its share of buckets and zone maps (the layout of
 * docs/hypervisor.md). */
#define META_PER_PAGE_MAX 26.0  /* 24-byte record + buckets + maps */
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
    assert_int_equal(m.record_bytes, 24);
    /* One record per page, in chunks of 512: 64 pages take one chunk. */
    assert_int_equal(m.records, 512 * m.record_bytes);
    /* Eviction and the age lists allocate nothing. */
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    size_t before = x->live_bytes;
    for (uint32_t i = 0; i < 3 * PAGES; i++)
        assert_int_equal(put(x, 1, e, 1, i), 0);
    assert_int_equal(x->live_bytes, before);
}

/* At scale: the budget per page holds with many pages (a bigger home). */
static void test_metadata_per_page(void **state)
{
    (void)state;
    struct fx y = {0};
    y.home = (struct hvx_home){.id = 1, .pages = 1u << 16};
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = &y.home, .n_homes = 1};
    struct hvx_env env = {fx_alloc, fx_free, fx_page, NULL, &y, NULL, NULL, NULL};
    struct hvx *h = hvx_new(&p, &env);
    assert_non_null(h);
    struct hvx_meta m;
    hvx_metadata(h, &m);
    double per = (double)(m.records + m.buckets + m.zone_maps + m.rest) / (double)(1u << 16);
    assert_true(per <= META_PER_PAGE_MAX);
    assert_true((double)m.records / (double)(1u << 16) == (double)m.record_bytes);
    hvx_destroy(h);
    assert_int_equal(y.live_bytes, 0);
}

/* flush-object, destroy-pool and client-destroy visit only the records of
 * their own list (hvx_walked): never other VMs', never the VM's other
 * persistent pools'. */
static void test_walks_own_records(void **state)
{
    struct fx *x = *state;
    int a = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    int b = vm_with_pool(x, 1, HVX_POOL_PERSISTENT);
    int e = vm_with_pool(x, 1, HVX_POOL_EPHEMERAL);
    int o = vm_with_pool(x, 2, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(put(x, 1, a, 1, i), 0);
        assert_int_equal(put(x, 1, a, 2, i), 0);
    }
    for (uint32_t i = 0; i < 12; i++)
        assert_int_equal(put(x, 1, b, 1, i), 0);
    for (uint32_t i = 0; i < 7; i++)
        assert_int_equal(put(x, 1, e, 1, i), 0);
    for (uint32_t i = 0; i < 30; i++)
        assert_int_equal(put(x, 2, o, 1, i), 0);
    uint64_t w = hvx_walked(x->h);
    assert_int_equal(hvx_flush_object(x->h, 1, (unsigned)a, 1), 5);
    assert_int_equal(hvx_walked(x->h) - w, 10); /* pool a's list */
    w = hvx_walked(x->h);
    assert_int_equal(hvx_flush_object(x->h, 1, (unsigned)e, 1), 7);
    assert_int_equal(hvx_walked(x->h) - w, 7);  /* VM 1's ephemeral list */
    w = hvx_walked(x->h);
    assert_int_equal(hvx_pool_destroy(x->h, 1, (unsigned)b), HVX_OK);
    assert_int_equal(hvx_walked(x->h) - w, 12);
    w = hvx_walked(x->h);
    assert_int_equal(hvx_client_destroy(x->h, 1), HVX_OK);
    assert_int_equal(hvx_walked(x->h) - w, 5);  /* what was left: object 2 */
    for (uint32_t i = 0; i < 30; i++)
        assert_true(has(x, 2, o, 1, i));
    assert_false(has(x, 2, o, 2, 0));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_oldest_first), T(test_above_target_first), T(test_persistent_never_evicted),
        T(test_get_after_eviction_misses), T(test_metadata_accounting),
        cmocka_unit_test(test_metadata_per_page), T(test_walks_own_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
