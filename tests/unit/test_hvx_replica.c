/* libhvx replication (replica.c): two copies in different failure domains,
 * gets served from the survivor after a home fails (fault, purge of a new
 * generation, invalidation), repair back to two copies, the
 * under-replicated count, flush/destroy of both copies, and a replicated
 * put with no page for its second copy refused without half state. */
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
#define NH 5
#define OWN_PAGES 16u
#define HOME_PAGES 64u
#define VM 7u      /* replicas = 2 */
#define FILLER 9u  /* single copy: takes this node's own pages */

/* node1 (self) and node2 share board {0,0}; node3 and node5 board {0,1};
 * node4 is on board {1,2}. */
static const uint32_t loc[NH][3] = {{0, 0, 1}, {0, 0, 2}, {0, 1, 3}, {1, 2, 4}, {0, 1, 5}};

struct fx {
    uint8_t *mem[NH + 1];
    bool fault[NH + 1];
    uint64_t gen[NH + 1];
    struct hvx_home homes[NH];
    struct hvx *h;
    int pool;
};

static void *f_alloc(void *arg, size_t n)
{
    (void)arg;
    return calloc(1, n);
}

static void f_free(void *arg, void *p, size_t n)
{
    (void)arg;
    (void)n;
    free(p);
}

static void *f_page(void *arg, uint64_t gfn, int *fault)
{
    struct fx *x = arg;
    uint32_t home = vmca_gfn_home(gfn);
    uint64_t idx = vmca_gfn_index(gfn);
    if (home == 0 || home > NH || x->fault[home] || idx >= x->homes[home - 1].pages) {
        *fault = -1;
        return NULL;
    }
    return x->mem[home] + idx * PAGE;
}

static uint64_t f_gen(void *arg, uint32_t home)
{
    return ((struct fx *)arg)->gen[home];
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    for (unsigned i = 0; i < NH; i++) {
        x->homes[i].id = i + 1;
        x->homes[i].pages = i == 0 ? OWN_PAGES : HOME_PAGES;
        memcpy(x->homes[i].location, loc[i], sizeof loc[i]);
        x->homes[i].location_len = 3;
        x->mem[i + 1] = calloc(x->homes[i].pages, PAGE);
        x->gen[i + 1] = 1;
    }
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = x->homes, .n_homes = NH};
    struct hvx_env env = {f_alloc, f_free, f_page, f_gen, x, NULL, NULL, NULL};
    x->h = hvx_new(&p, &env);
    assert_non_null(x->h);
    /* This node's own pages all used by a single-copy VM: VM's pages are remote. */
    uint8_t buf[PAGE] = {0};
    assert_int_equal(hvx_client_new(x->h, FILLER), HVX_OK);
    int fp = hvx_pool_new(x->h, FILLER, HVX_POOL_PERSISTENT);
    for (uint32_t i = 0; i < OWN_PAGES; i++)
        assert_int_equal(hvx_put(x->h, FILLER, (unsigned)fp, 1, i, buf), 0);
    assert_int_equal(hvx_client_new(x->h, VM), HVX_OK);
    assert_int_equal(hvx_set_replicas(x->h, VM, 2), HVX_OK);
    x->pool = hvx_pool_new(x->h, VM, HVX_POOL_PERSISTENT);
    assert_true(x->pool >= 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hvx_destroy(x->h);
    for (unsigned i = 1; i <= NH; i++)
        free(x->mem[i]);
    free(x);
    return 0;
}

/* Gives this node `n` pages of `home` (no owner table in this fake). */
static void grant(struct fx *x, uint32_t home, uint64_t first, unsigned order)
{
    assert_int_equal(hvx_enable(x->h, home, true), HVX_OK);
    struct hvx_block b = {vmca_gfn_make(home, first), order, x->gen[home]};
    enum hvx_grant_result r;
    assert_int_equal(hvx_grant(x->h, home, &b, 1, &r), (int64_t)1 << order);
}

static void fill(uint8_t *buf, uint64_t seed)
{
    for (unsigned i = 0; i < PAGE; i += 8)
        memcpy(buf + i, &(uint64_t){seed * 1000003u + i}, 8);
}

static struct hvx_vm_stats vm_stats(struct fx *x, struct hvx_node_stats *st)
{
    struct hvx_node_stats s;
    struct hvx_vm_stats vms[4];
    hvx_stats(x->h, st ? st : &s, NULL, 0, NULL, 0, vms, 4, false);
    for (unsigned i = 0; i < 4; i++)
        if (vms[i].vm == VM)
            return vms[i];
    fail();
    return vms[0];
}

static void put_pages(struct fx *x, uint32_t n, uint64_t seed)
{
    uint8_t buf[PAGE];
    for (uint32_t i = 0; i < n; i++) {
        fill(buf, seed + i);
        assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 5, i, buf), 1);
    }
}

static void check_pages(struct fx *x, uint32_t n, uint64_t seed)
{
    uint8_t want[PAGE], got[PAGE];
    for (uint32_t i = 0; i < n; i++) {
        fill(want, seed + i);
        assert_true(hvx_get(x->h, VM, (unsigned)x->pool, 5, i, got) >= 0);
        assert_memory_equal(want, got, PAGE);
    }
    assert_false(hvx_client_failed(x->h, VM));
}

static void test_domains(void **state)
{
    struct fx *x = *state;
    assert_true(hvx_same_domain(x->h, 3, 5));
    assert_false(hvx_same_domain(x->h, 2, 3));
    assert_false(hvx_same_domain(x->h, 1, 2)); /* this node: a domain of its own */
    assert_int_equal(hvx_set_replicas(x->h, VM, 0), HVX_EINVAL);
    assert_int_equal(hvx_set_replicas(x->h, VM, 3), HVX_EINVAL);
    assert_int_equal(hvx_set_replicas(x->h, 99, 2), HVX_ENOENT);
    assert_int_equal(vm_stats(x, NULL).replicas, 2);
}

/* Copies on node2 (closest) and node3 (another board); either home's
 * failure leaves every page readable. */
static void test_two_copies_survive_either_home(void **state)
{
    struct fx *x = *state;
    grant(x, 2, 0, 3);
    grant(x, 3, 0, 3);
    grant(x, 5, 0, 3);
    put_pages(x, 8, 100);
    struct hvx_node_stats st;
    struct hvx_vm_stats v = vm_stats(x, &st);
    assert_int_equal(v.tmem_used, 16);
    assert_int_equal(v.replica_pages, 8);
    assert_int_equal(v.under_replicated, 0);
    assert_int_equal(st.replica_pages, 8);
    assert_int_equal(st.used_pages, OWN_PAGES + 16);
    /* Node2 full with primaries, node3 with the replicas; node5 untouched. */
    assert_int_equal(hvx_owned_of(x->h, 5), 8);
    x->fault[2] = true;          /* node2 gone: gets fault there */
    check_pages(x, 8, 100);
    v = vm_stats(x, NULL);
    assert_int_equal(v.under_replicated, 8); /* every page has one copy now */
    assert_int_equal(v.replica_pages, 0);
    /* A second failure before any repair loses the pages: they were on node3. */
    x->fault[3] = true;
    uint8_t got[PAGE];
    assert_int_equal(hvx_get(x->h, VM, (unsigned)x->pool, 5, 0, got), HVX_EIO);
}

/* The replicas' home failing leaves the primaries; a put then drops the
 * faulted second copy and counts the page under-replicated. */
static void test_replica_home_fails(void **state)
{
    struct fx *x = *state;
    grant(x, 2, 0, 3);
    grant(x, 3, 0, 3);
    put_pages(x, 4, 150);
    x->fault[3] = true;
    check_pages(x, 4, 150);      /* read from node2, the nearer copy */
    put_pages(x, 1, 160);        /* page 0 rewritten: its copy on node3 faults */
    struct hvx_vm_stats v = vm_stats(x, NULL);
    assert_int_equal(v.under_replicated, 1);
    assert_int_equal(v.replica_pages, 3);
    hvx_invalidate(x->h, 3);
    assert_int_equal(vm_stats(x, NULL).under_replicated, 4);
    assert_false(hvx_client_failed(x->h, VM));
}

/* A new memory generation of a home (its restart) purges its zone: the
 * other copies serve the gets, the VM has not failed, and repair restores
 * two copies as pages arrive, in bounded steps. */
static void test_purge_then_repair(void **state)
{
    struct fx *x = *state;
    grant(x, 2, 0, 3);
    grant(x, 3, 0, 3);
    put_pages(x, 8, 200);
    x->gen[2]++;
    struct hvx_vm_stats v = vm_stats(x, NULL); /* hvx_stats purges */
    assert_false(v.failed);
    assert_int_equal(hvx_owned_of(x->h, 2), 0);
    assert_int_equal(v.under_replicated, 8);
    assert_int_equal(v.replica_pages, 0);
    check_pages(x, 8, 200);
    /* Only node5 free: same board as node3, no use for a second copy. */
    grant(x, 5, 0, 3);
    assert_int_equal(hvx_repair(x->h, 8), 0);
    assert_int_equal(vm_stats(x, NULL).under_replicated, 8);
    grant(x, 4, 0, 3);
    assert_int_equal(hvx_repair(x->h, 3), 3); /* bounded */
    assert_int_equal(vm_stats(x, NULL).under_replicated, 5);
    assert_int_equal(hvx_repair(x->h, 100), 5);
    v = vm_stats(x, NULL);
    assert_int_equal(v.under_replicated, 0);
    assert_int_equal(v.replica_pages, 8);
    assert_int_equal(hvx_repair(x->h, 100), 0);
    /* The repaired copies are the page: node3's loss now leaves all readable. */
    assert_true(hvx_invalidate(x->h, 3) > 0);
    check_pages(x, 8, 200);
    assert_int_equal(vm_stats(x, NULL).under_replicated, 8);
}

/* Without a replica, the same loss fails the VM (the test's control). */
static void test_single_copy_loss_fails(void **state)
{
    struct fx *x = *state;
    assert_int_equal(hvx_set_replicas(x->h, VM, 1), HVX_OK);
    grant(x, 2, 0, 3);
    grant(x, 3, 0, 3);
    put_pages(x, 4, 300);
    assert_int_equal(vm_stats(x, NULL).replica_pages, 0);
    hvx_invalidate(x->h, 2);
    assert_true(hvx_client_failed(x->h, VM));
}

/* Turning replication on for stored pages counts them under-replicated;
 * repair gives them their copies. */
static void test_enable_later_counts(void **state)
{
    struct fx *x = *state;
    assert_int_equal(hvx_set_replicas(x->h, VM, 1), HVX_OK);
    grant(x, 2, 0, 3);
    put_pages(x, 5, 400);
    assert_int_equal(hvx_set_replicas(x->h, VM, 2), HVX_OK);
    assert_int_equal(vm_stats(x, NULL).under_replicated, 5);
    grant(x, 4, 0, 3);
    assert_int_equal(hvx_repair(x->h, 16), 5);
    assert_int_equal(vm_stats(x, NULL).under_replicated, 0);
    hvx_invalidate(x->h, 2);
    check_pages(x, 5, 400);
}

/* Flush-page, flush-object, pool destroy and client destroy remove both
 * copies. */
static void test_flush_removes_both(void **state)
{
    struct fx *x = *state;
    grant(x, 2, 0, 4);
    grant(x, 4, 0, 4);
    put_pages(x, 6, 500);
    uint8_t buf[PAGE];
    fill(buf, 1);
    assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 6, 0, buf), 1);
    assert_int_equal(hvx_flush_page(x->h, VM, (unsigned)x->pool, 5, 0), HVX_OK);
    struct hvx_vm_stats v = vm_stats(x, NULL);
    assert_int_equal(v.tmem_used, 12);
    assert_int_equal(v.replica_pages, 6);
    assert_int_equal(hvx_get(x->h, VM, (unsigned)x->pool, 5, 0, buf), HVX_ENOENT);
    assert_int_equal(hvx_flush_object(x->h, VM, (unsigned)x->pool, 5), 5); /* pages */
    v = vm_stats(x, NULL);
    assert_int_equal(v.tmem_used, 2);
    assert_int_equal(v.replica_pages, 1);
    assert_int_equal(hvx_pool_destroy(x->h, VM, (unsigned)x->pool), HVX_OK);
    assert_int_equal(vm_stats(x, NULL).tmem_used, 0);
    x->pool = hvx_pool_new(x->h, VM, HVX_POOL_PERSISTENT);
    put_pages(x, 3, 600);
    assert_int_equal(hvx_client_destroy(x->h, VM), HVX_OK);
    struct hvx_node_stats st;
    struct hvx_vm_stats vms[4];
    hvx_stats(x->h, &st, NULL, 0, NULL, 0, vms, 4, false);
    assert_int_equal(st.used_pages, OWN_PAGES);
    assert_int_equal(st.replica_pages, 0);
    assert_int_equal(st.under_replicated, 0);
}

/* No page outside the first copy's domain, or no room under the target for
 * two pages: the put fails and nothing changes. */
static void test_put_without_second_page_refused(void **state)
{
    struct fx *x = *state;
    grant(x, 3, 0, 2);
    grant(x, 5, 0, 2);
    struct hvx_node_stats before, after;
    vm_stats(x, &before);
    uint8_t buf[PAGE];
    fill(buf, 7);
    assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 5, 0, buf), HVX_ENOMEM);
    struct hvx_vm_stats v = vm_stats(x, &after);
    assert_int_equal(after.used_pages, before.used_pages);
    assert_int_equal(after.free_pages, before.free_pages);
    assert_int_equal(v.tmem_used, 0);
    assert_int_equal(v.puts_succ, 0);
    assert_int_equal(hvx_get(x->h, VM, (unsigned)x->pool, 5, 0, buf), HVX_ENOENT);
    /* A page on another board: the put succeeds; a target of 1 refuses. */
    grant(x, 4, 0, 2);
    assert_int_equal(hvx_set_target(x->h, VM, 1), HVX_OK);
    assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 5, 0, buf), HVX_ENOMEM);
    assert_int_equal(hvx_set_target(x->h, VM, 2), HVX_OK);
    assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 5, 0, buf), 1);
    assert_int_equal(vm_stats(x, NULL).replica_pages, 1);
}

/* A put over a stored page writes both copies; a page on this node needs
 * no second copy. */
static void test_overwrite_and_local(void **state)
{
    struct fx *x = *state;
    grant(x, 2, 0, 2);
    grant(x, 4, 0, 2);
    put_pages(x, 2, 700);
    put_pages(x, 2, 800); /* same keys, new data */
    x->fault[2] = true;
    check_pages(x, 2, 800);
    x->fault[2] = false;
    assert_int_equal(hvx_client_destroy(x->h, FILLER), HVX_OK); /* own pages free */
    uint8_t buf[PAGE];
    fill(buf, 9);
    uint64_t reps = vm_stats(x, NULL).replica_pages;
    assert_int_equal(hvx_put(x->h, VM, (unsigned)x->pool, 9, 0, buf), 0); /* local */
    assert_int_equal(vm_stats(x, NULL).replica_pages, reps);
}

/* The incremental figures equal a recount from the records. */
static void check_counts(struct fx *x)
{
    struct hvx_node_stats st;
    struct hvx_vm_stats vms[4];
    hvx_stats(x->h, &st, NULL, 0, NULL, 0, vms, 4, false);
    uint64_t reps, under;
    hvx_replica_recount(x->h, &reps, &under);
    assert_int_equal(st.replica_pages, reps);
    assert_int_equal(st.under_replicated, under);
}

/* Random puts, overwrites, flushes, gets, home failures (a new memory
 * generation, only when every page has two copies: at most one failure
 * since the last full repair), re-grants and bounded repairs: the VM never
 * fails, every get returns the last data put, and the counts stay exact. */
static void test_random_single_failures(void **state)
{
    struct fx *x = *state;
    for (uint32_t home = 2; home <= NH; home++)
        grant(x, home, 0, 6);
    enum { KEYS = 80 };
    uint64_t model[KEYS] = {0}; /* 0: not stored, else the data's seed */
    uint64_t rng = 0x9e3779b97f4a7c15u;
    uint8_t buf[PAGE], want[PAGE];
    unsigned failures = 0;
    for (unsigned step = 0; step < 3000; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t k = (uint32_t)(rng >> 8) % KEYS;
        unsigned op = (unsigned)(rng >> 40) % 100;
        if (op < 45) {
            uint64_t seed = step + 1;
            fill(buf, seed);
            int rc = hvx_put(x->h, VM, (unsigned)x->pool, 5, k, buf);
            assert_true(rc == 1 || rc == HVX_ENOMEM);
            if (rc == 1)
                model[k] = seed;
        } else if (op < 55) {
            int rc = hvx_flush_page(x->h, VM, (unsigned)x->pool, 5, k);
            assert_int_equal(rc, model[k] ? HVX_OK : HVX_ENOENT);
            model[k] = 0;
        } else if (op < 85) {
            int rc = hvx_get(x->h, VM, (unsigned)x->pool, 5, k, buf);
            if (!model[k]) {
                assert_int_equal(rc, HVX_ENOENT);
            } else {
                assert_true(rc >= 0);
                fill(want, model[k]);
                assert_memory_equal(want, buf, PAGE);
            }
        } else if (op < 88) {
            struct hvx_vm_stats v = vm_stats(x, NULL);
            if (v.under_replicated == 0) {
                uint32_t home = 2 + (uint32_t)(rng >> 20) % (NH - 1);
                x->gen[home]++; /* its memory restarts: every claim there void */
                vm_stats(x, NULL); /* purges */
                failures++;
            }
        } else if (op < 92) {
            for (uint32_t home = 2; home <= NH; home++)
                if (hvx_owned_of(x->h, home) == 0)
                    grant(x, home, 0, 6); /* its new memory, lent again */
        } else {
            hvx_repair(x->h, 1 + (unsigned)(rng >> 50) % 8);
        }
        assert_false(hvx_client_failed(x->h, VM));
        check_counts(x);
    }
    assert_true(failures > 5); /* the run did test failures */
    check_pages(x, 0, 0);
    for (uint32_t k = 0; k < KEYS; k++)
        if (model[k]) {
            fill(want, model[k]);
            assert_true(hvx_get(x->h, VM, (unsigned)x->pool, 5, k, buf) >= 0);
            assert_memory_equal(want, buf, PAGE);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_copies_survive_either_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_home_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_then_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_copy_loss_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_later_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_removes_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_without_second_page_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_and_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_single_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
