/* First tier: tlp (thesis Algorithm 8) and the Eq. 6.2 scaling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "first_tier.h"

static const struct tlp_params P = {.percent = 2, .threshold = 256, .node_pages = 65536};

static void test_grow_shrink_keep(void **state)
{
    (void)state;
    struct vm_target prev[3] = {{1, 1000, false}, {2, 1000, false}, {3, 1000, false}};
    struct vm_period vms[3] = {
        {1, 900, 1000, 10, 4},   /* puts failed: + 2 % of 65536 = 1310 */
        {2, 100, 1000, 5, 5},    /* 900 unused > 256: - 2 % of 1000 */
        {3, 744, 1000, 5, 5},    /* 256 unused: not above the threshold, kept */
    };
    struct vm_target out[3];
    uint64_t ask = 99;
    tlp_targets(prev, 3, vms, 3, &P, 100000, out, &ask);
    assert_int_equal(out[0].vm, 1);
    assert_int_equal(out[0].pages, 2310);
    assert_int_equal(out[1].pages, 980);
    assert_int_equal(out[2].pages, 1000);
    assert_int_equal(ask, 0);
}

static void test_new_and_gone_vms(void **state)
{
    (void)state;
    struct vm_target prev[1] = {{9, 5000, false}};              /* VM 9 is gone */
    struct vm_period vms[2] = {
        {4, 300, VM_TARGET_UNLIMITED, 1, 1},            /* new, no target: starts at use */
        {5, 50, 700, 1, 1},                             /* new, target set: starts there */
    };
    struct vm_target out[2];
    uint64_t ask;
    tlp_targets(prev, 1, vms, 2, &P, 100000, out, &ask);
    assert_int_equal(out[0].vm, 4);
    assert_int_equal(out[0].pages, 300);
    assert_int_equal(out[1].vm, 5);
    assert_int_equal(out[1].pages, 700 - 14);            /* 650 unused: shrinks */
    assert_int_equal(ask, 0);
}

/* A stopgap target (set when the VM appeared between periods, and now the
 * hypervisor's) is not the policy's: the VM starts at its use. */
static void test_provisional_starts_at_use(void **state)
{
    (void)state;
    struct vm_target prev[2] = {{4, 500, true}, {5, 500, false}};
    struct vm_period vms[2] = {{4, 100, 500, 1, 1}, {5, 100, 500, 1, 1}};
    struct vm_target out[2];
    uint64_t ask;
    tlp_targets(prev, 2, vms, 2, &P, 100000, out, &ask);
    assert_int_equal(out[0].pages, 100);
    assert_false(out[0].provisional);
    assert_int_equal(out[1].pages, 500 - 10);            /* 400 unused: shrinks */
    assert_int_equal(ask, 0);
}

static void test_above_owned_asks_and_scales(void **state)
{
    (void)state;
    struct vm_period vms[2] = {{1, 600, VM_TARGET_UNLIMITED, 10, 4},
                               {2, 300, VM_TARGET_UNLIMITED, 5, 5}};
    struct vm_target out[2];
    uint64_t ask;
    tlp_targets(NULL, 0, vms, 2, &P, 1000, out, &ask);
    /* 600 + 1310 and 300: 2210 wanted, 1000 owned. */
    assert_int_equal(ask, 1210);
    assert_int_equal(out[0].pages, 1910 * 1000 / 2210);
    assert_int_equal(out[1].pages, 300 * 1000 / 2210);
    assert_true(targets_sum(out, 2) <= 1000);
}

static void test_fit(void **state)
{
    (void)state;
    /* Already within the limit: untouched. */
    struct vm_target t[3] = {{1, 10, false}, {2, 20, false}, {3, 30, false}};
    targets_fit(t, 3, 60);
    assert_int_equal(t[0].pages + t[1].pages + t[2].pages, 60);
    targets_fit(t, 3, 0);
    assert_int_equal(targets_sum(t, 3), 0);
    /* Products far above 2^64 are exact. */
    uint64_t g = UINT64_C(1) << 36;
    struct vm_target big[3] = {{1, g, false}, {2, g, false}, {3, g / 2, false}};
    targets_fit(big, 3, g);
    assert_int_equal(big[0].pages, UINT64_C(27487790694)); /* floor(2^36 / 2.5) */
    assert_int_equal(big[1].pages, UINT64_C(27487790694));
    assert_int_equal(big[2].pages, UINT64_C(13743895347));
    assert_true(targets_sum(big, 3) <= g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_shrink_keep),
        cmocka_unit_test(test_new_and_gone_vms),
        cmocka_unit_test(test_provisional_starts_at_use),
        cmocka_unit_test(test_above_owned_asks_and_scales),
        cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
