/* libhvx: ownership (grant/request/return/invalidate), tmem semantics
 * (targets, persistent vs ephemeral, flush-object, destroy), faults, and the
 * metadata budget, over an in-process fake of the global address space. */
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
#define NHOMES 4

/* Fake memory: one array per home, and a fault switch per home. */
struct fake {
    uint8_t *mem[NHOMES + 1];
    uint64_t pages[NHOMES + 1];
    bool fault[NHOMES + 1];
    size_t live_bytes;
};

static void *fake_alloc(void *arg, size_t n)
{
    ((struct fake *)arg)->live_bytes += n;
    return calloc(1, n);
}

static void fake_free(void *arg, void *p, size_t n)
{
    ((struct fake *)arg)->live_bytes -= n;
    free(p);
}

static void *fake_page(void *arg, uint64_t gfn, int *fault)
{
    struct fake *f = arg;
    uint32_t home = vmca_gfn_home(gfn);
    uint64_t idx = vmca_gfn_index(gfn);
    if (home == 0 || home > NHOMES || f->fault[home] || idx >= f->pages[home]) {
        *fault = -1;
        return NULL;
    }
    return f->mem[home] + idx * PAGE;
}

struct fx {
    struct fake fake;
    struct hvx_home homes[NHOMES];
    struct hvx *h;      /* node 1 */
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    /* node1 and node2 share a board, node3 another board, node4 another rack. */
    static const uint32_t loc[NHOMES][3] = {{0, 0, 1}, {0, 0, 2}, {0, 1, 3}, {1, 2, 4}};
    for (unsigned i = 0; i < NHOMES; i++) {
        x->homes[i].id = i + 1;
        x->homes[i].pages = 1024;
        memcpy(x->homes[i].location, loc[i], sizeof loc[i]);
        x->homes[i].location_len = 3;
        x->fake.pages[i + 1] = 1024;
        x->fake.mem[i + 1] = calloc(1024, PAGE);
    }
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = x->homes, .n_homes = NHOMES};
    struct hvx_env env = {fake_alloc, fake_free, fake_page, NULL, &x->fake, NULL, NULL, NULL};
    x->h = hvx_new(&p, &env);
    assert_non_null(x->h);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hvx_destroy(x->h);
    assert_int_equal(x->fake.live_bytes, 0);  /* every metadata byte freed */
    for (unsigned i = 1; i <= NHOMES; i++)
        free(x->fake.mem[i]);
    free(x);
    return 0;
}

static struct hvx_node_stats stats(struct hvx *h)
{
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(h, &st, owned, 8, lent, 8, vms, 8, false);
    return st;
}

static uint64_t owned_of(struct hvx *h, uint32_t home)
{
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(h, &st, owned, 8, lent, 8, vms, 8, false);
    for (size_t i = 0; i < st.n_homes; i++)
        if (owned[i].node == home)
            return owned[i].pages;
    return 0;
}

static void fill(uint8_t *buf, uint64_t seed)
{
    for (unsigned i = 0; i < PAGE; i += 8)
        memcpy(buf + i, &(uint64_t){seed * 1000003u + i}, 8);
}

static void test_initial_state(void **state)
{
    struct fx *x = *state;
    struct hvx_node_stats st = stats(x->h);
    assert_int_equal(st.owned_pages, 1024);
    assert_int_equal(st.free_pages, 1024);
    assert_int_equal(st.used_pages, 0);
    assert_true(hvx_enabled(x->h, 1));
    assert_false(hvx_enabled(x->h, 2));
    assert_int_equal(hvx_distance(x->h, 1, 2), 1);
    assert_int_equal(hvx_distance(x->h, 1, 3), 2);
    assert_int_equal(hvx_distance(x->h, 1, 4), 3);
    assert_int_equal(hvx_distance(x->h, 3, 3), 0);
}

static void test_grant_rules(void **state)
{
    struct fx *x = *state;
    enum hvx_grant_result r[4];
    struct hvx_block b[4] = {{vmca_gfn_make(2, 0), 4, 0}};
    /* Home 2 not enabled: bounced, nothing owned. */
    assert_int_equal(hvx_grant(x->h, 2, b, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_BOUNCED);
    assert_int_equal(owned_of(x->h, 2), 0);
    assert_int_equal(hvx_enable(x->h, 2, true), HVX_OK);
    assert_int_equal(hvx_grant(x->h, 2, b, 1, r), 16);
    assert_int_equal(r[0], HVX_GRANT_ACCEPTED);
    assert_int_equal(owned_of(x->h, 2), 16);
    /* Double grant (whole or overlapping) refused. */
    b[0] = (struct hvx_block){vmca_gfn_make(2, 0), 4, 0};
    b[1] = (struct hvx_block){vmca_gfn_make(2, 8), 2, 0};
    b[2] = (struct hvx_block){vmca_gfn_make(2, 0), 5, 0};
    assert_int_equal(hvx_grant(x->h, 2, b, 3, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
    assert_int_equal(r[1], HVX_GRANT_REJECTED);
    assert_int_equal(r[2], HVX_GRANT_REJECTED);
    /* Malformed: misaligned, past the home, unknown home, own page already owned. */
    b[0] = (struct hvx_block){vmca_gfn_make(2, 3), 2, 0};
    b[1] = (struct hvx_block){vmca_gfn_make(2, 1024), 0, 0};
    b[2] = (struct hvx_block){vmca_gfn_make(9, 0), 0, 0};
    b[3] = (struct hvx_block){vmca_gfn_make(1, 0), 0, 0};
    assert_int_equal(hvx_grant(x->h, 2, b, 4, r), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r[i], HVX_GRANT_REJECTED);
    assert_int_equal(stats(x->h).owned_pages, 1024 + 16);
}

static void test_request_prefers_large_close(void **state)
{
    struct fx *x = *state;
    enum hvx_grant_result r[2];
    hvx_enable(x->h, 2, true);
    hvx_enable(x->h, 4, true);
    struct hvx_block in[2] = {{vmca_gfn_make(2, 64), 6, 0}, {vmca_gfn_make(4, 0), 6, 0}};
    assert_int_equal(hvx_grant(x->h, 2, in, 2, r), 128);
    /* For node 4 (another rack) the closest pages are node 4's own. */
    struct hvx_block out[16];
    size_t n;
    assert_int_equal(hvx_request(x->h, 64, 4, out, 16, &n), 64);
    assert_int_equal(n, 1);
    assert_int_equal(vmca_gfn_home(out[0].gfn), 4);
    assert_int_equal(out[0].order, 6);
    assert_int_equal(owned_of(x->h, 4), 0);
    /* For node 2, its own pages first, then the rest, big blocks. */
    assert_int_equal(hvx_request(x->h, 64 + 512 + 3, 2, out, 16, &n), 64 + 512 + 3);
    assert_int_equal(vmca_gfn_home(out[0].gfn), 2);
    assert_int_equal(out[0].order, 6);
    assert_int_equal(vmca_gfn_home(out[1].gfn), 1);
    assert_int_equal(out[1].order, 9);
    assert_int_equal(n, 4);               /* 64 + 512 + 2 + 1 */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += UINT64_C(1) << out[i].order;
        assert_true(vmca_block_valid(out[i].gfn, out[i].order, 1024));
    }
    assert_int_equal(sum, 64 + 512 + 3);
    /* Own pages given away are lent to node 2. */
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(x->h, &st, owned, 8, lent, 8, vms, 8, false);
    assert_int_equal(st.n_lent, 1);     /* node 4 got its own pages back: not lent */
    assert_int_equal(lent[0].node, 2);
    assert_int_equal(lent[0].pages, 512 + 3);
    /* More than is free: only what is free. */
    assert_int_equal(hvx_request(x->h, 5000, 3, out, 16, &n), 1024 - 512 - 3);
    assert_int_equal(stats(x->h).owned_pages, 0);
}

/* HVX_MAX_CLIENTS VMs at once, each with a pool whose pages work; one more
 * is refused, and a slot freed by a destroy is taken again. */
static void test_client_limit(void **state)
{
    struct fx *x = *state;
    uint8_t buf[PAGE], out[PAGE];
    for (uint32_t vm = 1; vm <= HVX_MAX_CLIENTS; vm++) {
        assert_int_equal(hvx_client_new(x->h, vm * 3), HVX_OK);
        assert_true(hvx_pool_new(x->h, vm * 3, HVX_POOL_PERSISTENT) >= 0);
    }
    assert_int_equal(hvx_client_new(x->h, 1), HVX_ENOMEM);
    assert_false(hvx_client_known(x->h, 1));
    fill(buf, 77);
    assert_int_equal(hvx_put(x->h, HVX_MAX_CLIENTS * 3, 0, 1, 2, buf), HVX_OK);
    assert_int_equal(hvx_get(x->h, HVX_MAX_CLIENTS * 3, 0, 1, 2, out), HVX_OK);
    assert_memory_equal(buf, out, PAGE);
    assert_int_equal(hvx_client_destroy(x->h, 6), HVX_OK);
    assert_int_equal(hvx_client_new(x->h, 1), HVX_OK);
}

static void test_targets_and_semantics(void **state)
{
    struct fx *x = *state;
    uint8_t buf[PAGE], out[PAGE];
    assert_int_equal(hvx_client_new(x->h, 7), HVX_OK);
    assert_int_equal(hvx_client_new(x->h, 7), HVX_EEXIST);
    int pp = hvx_pool_new(x->h, 7, HVX_POOL_PERSISTENT);
    int ep = hvx_pool_new(x->h, 7, HVX_POOL_EPHEMERAL);
    assert_true(pp >= 0 && ep >= 0 && pp != ep);
    assert_int_equal(hvx_set_target(x->h, 7, 10), HVX_OK);
    for (uint32_t i = 0; i < 10; i++) {
        fill(buf, i);
        assert_int_equal(hvx_put(x->h, 7, (unsigned)pp, 1, i, buf), HVX_OK);
    }
    fill(buf, 99);
    assert_int_equal(hvx_put(x->h, 7, (unsigned)pp, 1, 10, buf), HVX_ENOMEM); /* at target */
    fill(buf, 5000);
    assert_int_equal(hvx_put(x->h, 7, (unsigned)pp, 1, 3, buf), HVX_OK);      /* replace */
    /* Persistent gets keep the page. */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 1, 3, out), HVX_OK);
        assert_memory_equal(out, buf, PAGE);
    }
    assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 1, 10, out), HVX_ENOENT);
    /* Ephemeral get removes the page. */
    assert_int_equal(hvx_set_target(x->h, 7, UINT64_MAX), HVX_OK);
    fill(buf, 77);
    assert_int_equal(hvx_put(x->h, 7, (unsigned)ep, 2, 0, buf), HVX_OK);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)ep, 2, 0, out), HVX_OK);
    assert_memory_equal(out, buf, PAGE);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)ep, 2, 0, out), HVX_ENOENT);
    /* flush-object removes exactly that object's pages. */
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(hvx_put(x->h, 7, (unsigned)pp, 2, i, buf), HVX_OK);
    assert_int_equal(hvx_flush_object(x->h, 7, (unsigned)pp, 1), 10);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 1, 0, out), HVX_ENOENT);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 2, 4, out), HVX_OK);
    assert_int_equal(hvx_flush_page(x->h, 7, (unsigned)pp, 2, 4), HVX_OK);
    assert_int_equal(hvx_flush_page(x->h, 7, (unsigned)pp, 2, 4), HVX_ENOENT);
    /* Bad arguments. */
    assert_int_equal(hvx_put(x->h, 8, 0, 1, 0, buf), HVX_ENOENT);
    assert_int_equal(hvx_put(x->h, 7, 15, 1, 0, buf), HVX_ENOENT);
    assert_int_equal(hvx_put(x->h, 7, (unsigned)pp, HVX_OID_MAX + 1, 0, buf), HVX_EINVAL);
    assert_int_equal(hvx_pool_new(x->h, 7, 9), HVX_EINVAL);
    /* Statistics count the period and reset. */
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(x->h, &st, owned, 8, lent, 8, vms, 8, true);
    assert_int_equal(st.n_vms, 1);
    assert_int_equal(vms[0].vm, 7);
    assert_int_equal(vms[0].tmem_used, 4);
    assert_int_equal(vms[0].puts_total, 10 + 1 + 1 + 1 + 5);
    assert_int_equal(vms[0].puts_succ, 10 + 1 + 1 + 5);
    assert_int_equal(st.used_pages, 4);
    hvx_stats(x->h, &st, owned, 8, lent, 8, vms, 8, false);
    assert_int_equal(vms[0].puts_total, 0);
    /* Destroying the pool and the client gives every page back. */
    assert_int_equal(hvx_pool_destroy(x->h, 7, (unsigned)pp), HVX_OK);
    assert_int_equal(stats(x->h).used_pages, 0);
    assert_int_equal(hvx_client_destroy(x->h, 7), HVX_OK);
    assert_int_equal(stats(x->h).free_pages, 1024);
}

static void test_no_free_page(void **state)
{
    struct fx *x = *state;
    uint8_t buf[PAGE] = {1};
    struct hvx_block out[64];
    size_t n;
    hvx_request(x->h, 1020, 2, out, 64, &n);
    hvx_client_new(x->h, 1);
    int p = hvx_pool_new(x->h, 1, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(hvx_put(x->h, 1, (unsigned)p, 0, i, buf), HVX_OK);
    assert_int_equal(hvx_put(x->h, 1, (unsigned)p, 0, 4, buf), HVX_ENOMEM);
}

/* Puts from VM 7 until `n` pages land on home `home`. */
static void fill_home(struct fx *x, int pool, uint32_t home, uint32_t n)
{
    uint8_t buf[PAGE];
    for (uint32_t i = 0; i < n; i++) {
        fill(buf, 100 + i);
        assert_true(hvx_put(x->h, 7, (unsigned)pool, home, i, buf) >= 0);
    }
}

static void test_return_migrates(void **state)
{
    struct fx *x = *state;
    enum hvx_grant_result r[1];
    struct hvx_block out[64];
    size_t n;
    hvx_enable(x->h, 2, true);
    /* Give away all own pages but 100, take 64 of node 2's, use them all. */
    hvx_request(x->h, 924, 3, out, 64, &n);
    struct hvx_block b = {vmca_gfn_make(2, 0), 6, 0};
    assert_int_equal(hvx_grant(x->h, 2, &b, 1, r), 64);
    hvx_client_new(x->h, 7);
    int pp = hvx_pool_new(x->h, 7, HVX_POOL_PERSISTENT);
    fill_home(x, pp, 0, 164);              /* own 100 + node 2's 64 */
    assert_int_equal(owned_of(x->h, 2), 64);
    /* No free page elsewhere: persistent pages cannot move. */
    assert_int_equal(hvx_return(x->h, 2, 1000, out, 64, &n), HVX_ENOMEM);
    assert_int_equal(n, 0);
    /* Free 64 own pages; now Return moves the data in bounded steps. */
    for (uint32_t i = 0; i < 64; i++)
        hvx_flush_page(x->h, 7, (unsigned)pp, 0, i);   /* own pages went first */
    int rc;
    int calls = 0;
    size_t blocks = 0;
    uint64_t pages = 0;
    do {
        rc = hvx_return(x->h, 2, 10, out, 64, &n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(vmca_gfn_home(out[i].gfn), 2);
            pages += UINT64_C(1) << out[i].order;
        }
        blocks += n;
        calls++;
    } while (rc == HVX_EBUSY && calls < 100);
    assert_int_equal(rc, HVX_OK);
    assert_true(calls >= 7);                /* 64 pages, 10 per call */
    assert_int_equal(pages, 64);
    assert_int_equal(owned_of(x->h, 2), 0);
    struct hvx_node_stats st = stats(x->h);
    assert_int_equal(st.owned_pages, 100);
    /* Every remaining entry still reads back its data. */
    uint8_t buf[PAGE], got[PAGE];
    for (uint32_t i = 64; i < 164; i++) {
        fill(buf, 100 + i);
        assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 0, i, got), 0);   /* all local now */
        assert_memory_equal(got, buf, PAGE);
    }
    assert_int_equal(hvx_return(x->h, 1, 10, out, 64, &n), HVX_EINVAL);
}

/* A page moved by Return keeps its place in the eviction order: its put epoch. */
static void test_return_keeps_age(void **state)
{
    struct fx *x = *state;
    enum hvx_grant_result r[1];
    struct hvx_block out[64];
    size_t n;
    uint8_t buf[PAGE], got[PAGE];
    hvx_enable(x->h, 2, true);
    hvx_request(x->h, 924, 3, out, 64, &n); /* 100 own pages left */
    struct hvx_block b = {vmca_gfn_make(2, 0), 5, 0};
    assert_int_equal(hvx_grant(x->h, 2, &b, 1, r), 32);
    hvx_client_new(x->h, 7);
    int ep = hvx_pool_new(x->h, 7, HVX_POOL_EPHEMERAL);
    fill_home(x, ep, 0, 132);              /* keys 0..99 own, 100..131 on node 2 */
    for (uint32_t i = 0; i < 64; i++)
        assert_int_equal(hvx_flush_page(x->h, 7, (unsigned)ep, 0, i), HVX_OK);
    for (uint32_t i = 200; i < 210; i++) { /* newer than the pages on node 2 */
        fill(buf, i);
        assert_int_equal(hvx_put(x->h, 7, (unsigned)ep, 0, i, buf), 0);
    }
    int rc, calls = 0;
    do
        rc = hvx_return(x->h, 2, 8, out, 64, &n);
    while (rc == HVX_EBUSY && ++calls < 100);
    assert_int_equal(rc, HVX_OK);
    /* Keys 64..131 are one put epoch, 200..209 the next (docs/hypervisor.md,
     * "Eviction"). Fill the 22 free pages, then evict 68: all of the older
     * epoch, the moved 100..131 included, and none of 200..209, though they
     * sit at lower pages than the moved ones (fails when a move puts a page
     * in the current epoch). */
    for (uint32_t i = 300; i < 300 + 22 + 68; i++) {
        fill(buf, i);
        assert_int_equal(hvx_put(x->h, 7, (unsigned)ep, 0, i, buf), 0);
    }
    for (uint32_t i = 64; i < 132; i++)
        assert_int_equal(hvx_get(x->h, 7, (unsigned)ep, 0, i, got), HVX_ENOENT);
    for (uint32_t i = 200; i < 210; i++) {
        fill(buf, i);
        assert_int_equal(hvx_get(x->h, 7, (unsigned)ep, 0, i, got), 0);
        assert_memory_equal(got, buf, PAGE);
    }
}

static void test_invalidate_and_faults(void **state)
{
    struct fx *x = *state;
    enum hvx_grant_result r[1];
    struct hvx_block out[64];
    size_t n;
    uint8_t buf[PAGE], got[PAGE];
    hvx_enable(x->h, 3, true);
    hvx_request(x->h, 1024, 2, out, 64, &n);    /* no own pages left */
    struct hvx_block b = {vmca_gfn_make(3, 128), 5, 0};
    assert_int_equal(hvx_grant(x->h, 3, &b, 1, r), 32);
    hvx_client_new(x->h, 7);
    hvx_client_new(x->h, 8);
    int pp = hvx_pool_new(x->h, 7, HVX_POOL_PERSISTENT);
    int ep = hvx_pool_new(x->h, 8, HVX_POOL_EPHEMERAL);
    fill_home(x, pp, 1, 4);
    fill(buf, 1);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(hvx_put(x->h, 8, (unsigned)ep, 1, i, buf), 1);  /* on home 3 */
    /* Home 3 restarts: its memory faults. Ephemeral: a miss; persistent:
     * the VM fails. Never stale data. */
    x->fake.fault[3] = true;
    assert_int_equal(hvx_get(x->h, 8, (unsigned)ep, 1, 0, got), HVX_ENOENT);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 1, 0, got), HVX_EIO);
    assert_int_equal(hvx_get(x->h, 7, (unsigned)pp, 1, 1, got), HVX_EIO);  /* stays failed */
    /* Invalidate drops the rest; nothing of home 3 is left. */
    assert_int_equal(hvx_invalidate(x->h, 3), 32);
    assert_int_equal(owned_of(x->h, 3), 0);
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(x->h, &st, owned, 8, lent, 8, vms, 8, false);
    assert_int_equal(st.used_pages, 0);
    assert_int_equal(st.owned_pages, 0);
    for (size_t i = 0; i < st.n_vms; i++) {
        assert_int_equal(vms[i].tmem_used, 0);
        assert_int_equal(vms[i].failed, vms[i].vm == 7);
    }
    assert_int_equal(hvx_get(x->h, 8, (unsigned)ep, 1, 1, got), HVX_ENOENT);
    assert_int_equal(hvx_invalidate(x->h, 3), 0);
    assert_int_equal(hvx_invalidate(x->h, 1), 0);           /* never its own */
}

static int count_block(void *arg, struct hvx_block b)
{
    *(uint64_t *)arg += UINT64_C(1) << b.order;
    return 0;
}

static void test_census_listing_and_metadata(void **state)
{
    struct fx *x = *state;
    struct hvx_block out[64];
    size_t n;
    hvx_request(x->h, 5, 2, out, 64, &n);
    uint64_t pages = 0;
    hvx_owned_blocks(x->h, 1, count_block, &pages);
    assert_int_equal(pages, 1019);
    struct hvx_node_stats st = stats(x->h);
    assert_true(st.metadata_bytes == x->fake.live_bytes);
}

static void test_reclaim_after_census(void **state)
{
    struct fx *x = *state;
    struct hvx_block out[64];
    size_t n;
    /* Node 1 lends 64 pages to node 2 and 32 to node 3; node 3 dies. */
    assert_int_equal(hvx_request(x->h, 64, 2, out, 64, &n), 64);
    struct hvx_block to2 = out[0];
    assert_int_equal(hvx_request(x->h, 32, 3, out, 64, &n), 32);
    assert_int_equal(stats(x->h).owned_pages, 1024 - 96);
    /* A census naming a block of another home, or a misaligned one, is
     * refused whole. */
    struct hvx_block bad[2] = {to2, {vmca_gfn_make(2, 0), 0, 0}};
    uint32_t owners[3] = {2, 2, 2};
    assert_int_equal(hvx_reclaim(x->h, bad, owners, 2), HVX_EINVAL);
    bad[1] = (struct hvx_block){vmca_gfn_make(1, 513), 1, 0};
    assert_int_equal(hvx_reclaim(x->h, bad, owners, 2), HVX_EINVAL);
    assert_int_equal(stats(x->h).owned_pages, 1024 - 96);
    /* Freezing our home keeps Request off it. */
    assert_int_equal(hvx_freeze(x->h, 1, true), HVX_OK);
    assert_int_equal(hvx_request(x->h, 10, 4, out, 64, &n), 0);
    assert_int_equal(hvx_freeze(x->h, 1, false), HVX_OK);
    /* Only node 2 reports (twice, as sender and receiver would, plus a block
     * that is back here already): node 3's 32 pages come home. */
    struct hvx_block rep[3] = {to2, to2, {vmca_gfn_make(1, 1023), 0, 0}};
    assert_int_equal(hvx_reclaim(x->h, rep, owners, 3), 32);
    assert_int_equal(stats(x->h).owned_pages, 1024 - 64);
    struct hvx_node_stats st;
    struct hvx_home_pages owned[8], lent[8];
    struct hvx_vm_stats vms[8];
    hvx_stats(x->h, &st, owned, 8, lent, 8, vms, 8, false);
    assert_int_equal(st.n_lent, 1);
    assert_int_equal(lent[0].node, 2);
    assert_int_equal(lent[0].pages, 64);
    /* A second census with nothing new takes nothing. */
    assert_int_equal(hvx_reclaim(x->h, &to2, owners, 1), 0);
    /* The reclaimed pages are usable: all 960 can be given again. */
    uint64_t got = 0;
    for (int k = 0; k < 20; k++)
        got += hvx_request(x->h, 1024, 4, out, 64, &n);
    assert_int_equal(got, 1024 - 64);
}

/* ---- owner tables: a transfer is taken only when the giver's hypervisor
 * named the receiver in the home's table ---- */

struct owned_fx {
    struct fake fake;
    uint32_t *table[NHOMES + 1];
    uint32_t epoch[NHOMES + 1];
    struct hvx_home homes[NHOMES];
    struct hvx *h[3];   /* nodes 1 and 2 */
};

static uint32_t *fake_owners(void *arg, uint32_t home, int *fault)
{
    struct owned_fx *x = arg;
    if (home == 0 || home > NHOMES || x->fake.fault[home]) {
        *fault = -1;
        return NULL;
    }
    return x->table[home];
}

static uint32_t fake_epoch(void *arg, uint32_t node)
{
    return ((struct owned_fx *)arg)->epoch[node];
}

static void *owned_page(void *arg, uint64_t gfn, int *fault)
{
    return fake_page(&((struct owned_fx *)arg)->fake, gfn, fault);
}

static void *owned_alloc(void *arg, size_t n)
{
    return fake_alloc(&((struct owned_fx *)arg)->fake, n);
}

static void owned_free(void *arg, void *p, size_t n)
{
    fake_free(&((struct owned_fx *)arg)->fake, p, n);
}

static int owned_setup(void **state)
{
    struct owned_fx *x = calloc(1, sizeof *x);
    for (unsigned i = 0; i < NHOMES; i++) {
        x->homes[i] = (struct hvx_home){.id = i + 1, .pages = 1024, .location = {0, i},
                                        .location_len = 2};
        x->fake.pages[i + 1] = 1024;
        x->fake.mem[i + 1] = calloc(1024, PAGE);
        x->table[i + 1] = calloc(1024, sizeof(uint32_t));
    }
    struct hvx_env env = {owned_alloc, owned_free, owned_page, NULL, x, fake_owners, fake_epoch, NULL};
    for (uint32_t n = 1; n <= 2; n++) {
        struct hvx_params p = {.self = n, .page_size = PAGE, .homes = x->homes,
                               .n_homes = NHOMES};
        x->h[n] = hvx_new(&p, &env);
        assert_non_null(x->h[n]);
        for (uint32_t home = 1; home <= NHOMES; home++)
            if (home != n)
                assert_int_equal(hvx_enable(x->h[n], home, true), HVX_OK);
    }
    *state = x;
    return 0;
}

static int owned_teardown(void **state)
{
    struct owned_fx *x = *state;
    hvx_destroy(x->h[1]);
    hvx_destroy(x->h[2]);
    assert_int_equal(x->fake.live_bytes, 0);
    for (unsigned i = 1; i <= NHOMES; i++) {
        free(x->fake.mem[i]);
        free(x->table[i]);
    }
    free(x);
    return 0;
}

static void test_owner_table_checks_grants(void **state)
{
    struct owned_fx *x = *state;
    struct hvx_block out[8];
    enum hvx_grant_result r[8];
    size_t n;
    /* Home 2 gives 16 pages to node 1: the table says "in transit to 1". */
    assert_int_equal(hvx_request(x->h[2], 16, 1, out, 8, &n), 16);
    assert_int_equal(n, 1);
    uint64_t idx = vmca_gfn_index(out[0].gfn);
    for (uint64_t i = idx; i < idx + 16; i++)
        assert_int_equal(x->table[2][i], HVX_OWNER_TRANSIT | 1);
    /* Anyone may carry the message; what counts is the table. Node 1 now
     * holds the block. */
    assert_int_equal(hvx_grant(x->h[1], 4, out, 1, r), 16);
    assert_int_equal(r[0], HVX_GRANT_ACCEPTED);
    assert_int_equal(x->table[2][idx], 1);
    /* A "return" of that block to its home that node 1's hypervisor did not
     * make (a forged message, from any sender) is refused: node 1 still
     * holds it, so home 2 taking it would share the pages. */
    assert_int_equal(hvx_grant(x->h[2], 1, out, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
    assert_int_equal(hvx_grant(x->h[2], 4, out, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
    /* A grant of pages home 3 never gave away (its table says home) is
     * refused, whoever sends it. */
    struct hvx_block forged = {vmca_gfn_make(3, 0), 4, 0};
    assert_int_equal(hvx_grant(x->h[1], 3, &forged, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
    assert_int_equal(hvx_owned_of(x->h[1], 3), 0);
    /* A real return: node 1's hypervisor releases the block, the table
     * names the home again, and the home takes it. */
    assert_int_equal(hvx_return(x->h[1], 2, 256, out, 8, &n), HVX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(x->table[2][idx], HVX_OWNER_TRANSIT);
    assert_int_equal(hvx_grant(x->h[2], 1, out, 1, r), 16);
    assert_int_equal(r[0], HVX_GRANT_ACCEPTED);
    assert_int_equal(x->table[2][idx], 0);
    /* Replaying the earlier grant to node 1 now finds the home named. */
    assert_int_equal(hvx_grant(x->h[1], 2, out, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
}

/* Surplus: node 1 gives free pages of home 2 back to it, no more than
 * asked, never in-use ones and never its own; the table names the home
 * in transit and the home takes them. Nothing of a frozen home. */
static void test_give_home_free_only(void **state)
{
    struct owned_fx *x = *state;
    struct hvx_block out[16];
    enum hvx_grant_result r[16];
    size_t n;
    assert_int_equal(hvx_request(x->h[2], 64, 1, out, 16, &n), 64);
    assert_int_equal(hvx_grant(x->h[1], 2, out, n, r), 64);
    /* Node 1 uses all its own pages and 8 of home 2's. */
    hvx_client_new(x->h[1], 7);
    int pp = hvx_pool_new(x->h[1], 7, HVX_POOL_PERSISTENT);
    uint8_t buf[PAGE];
    memset(buf, 0x5a, sizeof buf);
    for (uint32_t i = 0; i < 1024 + 8; i++)
        assert_true(hvx_put(x->h[1], 7, (unsigned)pp, 1, i, buf) >= 0);
    assert_int_equal(hvx_give_home(x->h[1], 1, 100, out, 16, &n), 0); /* own: never */
    assert_int_equal(n, 0);
    assert_int_equal(hvx_freeze(x->h[1], 2, true), HVX_OK);
    assert_int_equal(hvx_give_home(x->h[1], 2, 100, out, 16, &n), 0); /* its census runs */
    assert_int_equal(hvx_freeze(x->h[1], 2, false), HVX_OK);
    /* Asked for 20: 20 of the 56 free ones, in power-of-two blocks. */
    assert_int_equal(hvx_give_home(x->h[1], 2, 20, out, 16, &n), 20);
    uint64_t pages = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(vmca_gfn_home(out[i].gfn), 2);
        pages += UINT64_C(1) << out[i].order;
        uint64_t idx = vmca_gfn_index(out[i].gfn);
        assert_int_equal(x->table[2][idx], HVX_OWNER_TRANSIT);
    }
    assert_int_equal(pages, 20);
    assert_int_equal(hvx_owned_of(x->h[1], 2), 44);
    assert_int_equal(hvx_grant(x->h[2], 1, out, n, r), 20); /* the home takes them */
    /* Asked for more than is free: the 36 free ones, the 8 in use stay. */
    assert_int_equal(hvx_give_home(x->h[1], 2, 1000, out, 16, &n), 36);
    assert_int_equal(hvx_owned_of(x->h[1], 2), 8);
    assert_int_equal(hvx_grant(x->h[2], 1, out, n, r), 36);
    assert_int_equal(hvx_give_home(x->h[1], 2, 1000, out, 16, &n), 0);
    assert_int_equal(hvx_owned_of(x->h[1], 2), 8);
    /* Every page of node 1's VM still reads back. */
    uint8_t got[PAGE];
    for (uint32_t i = 0; i < 1024 + 8; i++)
        assert_true(hvx_get(x->h[1], 7, (unsigned)pp, 1, i, got) >= 0);
    assert_int_equal(hvx_owned_of(x->h[2], 2), 1024 - 8);
}

static void test_owner_table_bounce_fault_reclaim(void **state)
{
    struct owned_fx *x = *state;
    struct hvx_block out[8];
    enum hvx_grant_result r[8];
    size_t n;
    /* A block given to node 1 while node 1 rejects its home bounces: the
     * table hands it back to the home, which can take it again. */
    assert_int_equal(hvx_request(x->h[2], 8, 1, out, 8, &n), 8);
    assert_int_equal(hvx_enable(x->h[1], 2, false), HVX_OK);
    assert_int_equal(hvx_grant(x->h[1], 2, out, 1, r), 0);
    assert_int_equal(r[0], HVX_GRANT_BOUNCED);
    assert_int_equal(x->table[2][vmca_gfn_index(out[0].gfn)], HVX_OWNER_TRANSIT);
    assert_int_equal(hvx_enable(x->h[1], 2, true), HVX_OK);
    assert_int_equal(hvx_grant(x->h[1], 2, out, 1, r), 0); /* no longer ours to take */
    assert_int_equal(hvx_grant(x->h[2], 1, out, 1, r), 8);
    /* A table that cannot be reached: nothing is taken, nothing given. */
    struct hvx_block lent[8], mine[8], back[8];
    size_t nl, nm, nb;
    assert_int_equal(hvx_request(x->h[2], 8, 1, lent, 8, &nl), 8);
    x->fake.fault[2] = true;
    assert_int_equal(hvx_grant(x->h[1], 2, lent, nl, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
    x->fake.fault[2] = false;
    assert_int_equal(hvx_grant(x->h[1], 2, lent, nl, r), 8);
    x->fake.fault[2] = true;
    assert_int_equal(hvx_request(x->h[1], 8, 3, mine, 8, &nm), 8);
    assert_int_equal(vmca_gfn_home(mine[0].gfn), 1); /* not home 2's pages */
    assert_int_equal(hvx_return(x->h[1], 2, 256, back, 8, &nb), HVX_EBUSY);
    assert_int_equal(nb, 0); /* the home's table is unreachable: they stay */
    assert_int_equal(hvx_owned_of(x->h[1], 2), 8);
    x->fake.fault[2] = false;
    /* The census takes back what nobody reported (here 32 pages given to
     * node 3, which died before taking them) and names the home: a late
     * grant is refused. Node 1's pages stay lent even though the census
     * does not report them (a lying reply): its hypervisor holds them. */
    assert_int_equal(hvx_request(x->h[2], 32, 3, mine, 8, &nm), 32);
    uint64_t dead = vmca_gfn_index(mine[0].gfn);
    assert_int_equal(x->table[2][dead], HVX_OWNER_TRANSIT | 3);
    assert_int_equal(hvx_reclaim(x->h[2], NULL, NULL, 0), 32);
    assert_int_equal(x->table[2][dead], 0);
    assert_int_equal(x->table[2][vmca_gfn_index(lent[0].gfn)], 1);
    assert_int_equal(hvx_owned_of(x->h[2], 2), 1024 - 8);
    /* Once node 1's claims are void (its memory restarted, or it was
     * fenced: a new claim epoch), the census takes them back. */
    x->epoch[1]++;
    assert_int_equal(hvx_reclaim(x->h[2], NULL, NULL, 0), 8);
    assert_int_equal(x->table[2][vmca_gfn_index(lent[0].gfn)], 0);
    assert_int_equal(hvx_grant(x->h[1], 3, mine, nm, r), 0);
    assert_int_equal(r[0], HVX_GRANT_REJECTED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_initial_state), T(test_grant_rules), T(test_request_prefers_large_close),
        T(test_targets_and_semantics), T(test_client_limit), T(test_no_free_page), T(test_return_migrates), T(test_return_keeps_age),
        T(test_invalidate_and_faults), T(test_census_listing_and_metadata),
        T(test_reclaim_after_census),
        cmocka_unit_test_setup_teardown(test_give_home_free_only, owned_setup,
                                        owned_teardown),
        cmocka_unit_test_setup_teardown(test_owner_table_checks_grants, owned_setup,
                                        owned_teardown),
        cmocka_unit_test_setup_teardown(test_owner_table_bounce_fault_reclaim, owned_setup,
                                        owned_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
