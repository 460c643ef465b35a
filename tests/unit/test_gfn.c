/* Global frame number math and block validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gfn.h"

static void test_make_and_split(void **state)
{
    uint64_t g = vmca_gfn_make(7, 12345);
    assert_int_equal(vmca_gfn_home(g), 7);
    assert_int_equal(vmca_gfn_index(g), 12345);
    g = vmca_gfn_make(VMCA_NODE_MAX, VMCA_GFN_INDEX_MASK);
    assert_int_equal(vmca_gfn_home(g), VMCA_NODE_MAX);
    assert_true(vmca_gfn_index(g) == VMCA_GFN_INDEX_MASK);
    assert_true(vmca_gfn_valid(g));
    /* Index bits never leak into the home. */
    g = vmca_gfn_make(3, VMCA_GFN_INDEX_MASK + 5);
    assert_int_equal(vmca_gfn_home(g), 3);
}

static void test_validity(void **state)
{
    assert_false(vmca_gfn_valid(vmca_gfn_make(0, 1)));       /* node 0 is none */
    assert_false(vmca_gfn_valid(UINT64_C(1) << 60));          /* above the node bits */
    assert_true(vmca_node_valid(1));
    assert_false(vmca_node_valid(0));
    assert_false(vmca_node_valid(VMCA_NODE_MAX + 1));
}

static void test_address_round_trip(void **state)
{
    uint64_t g = vmca_gfn_make(2, 99);
    uint64_t a = vmca_gfn_to_addr(g, 12);
    assert_true(a == (g << 12));
    assert_true(vmca_addr_to_gfn(a + 4095, 12) == g);
    assert_true(vmca_addr_to_gfn(a + 4096, 12) == g + 1);
    /* The whole 64-bit address space is covered: node bits end at bit 63. */
    assert_int_equal(VMCA_GFN_NODE_BITS + VMCA_GFN_INDEX_BITS + 12, 64);
}

static void test_buddy(void **state)
{
    uint64_t g = vmca_gfn_make(4, 8);
    assert_true(vmca_block_buddy(g, 3) == vmca_gfn_make(4, 0));
    assert_true(vmca_block_buddy(vmca_gfn_make(4, 0), 3) == g);
    assert_true(vmca_block_buddy(vmca_gfn_make(4, 5), 0) == vmca_gfn_make(4, 4));
    assert_int_equal(vmca_gfn_home(vmca_block_buddy(vmca_gfn_make(9, 1024), 10)), 9);
}

static void test_block_valid(void **state)
{
    assert_true(vmca_block_valid(vmca_gfn_make(1, 0), 10, 0));
    assert_true(vmca_block_valid(vmca_gfn_make(1, 1024), 10, 2048));
    assert_false(vmca_block_valid(vmca_gfn_make(1, 512), 10, 0));   /* misaligned */
    assert_false(vmca_block_valid(vmca_gfn_make(1, 1024), 10, 1500)); /* past the home */
    assert_false(vmca_block_valid(vmca_gfn_make(1, 4096), 0, 4096));  /* index too big */
    assert_false(vmca_block_valid(vmca_gfn_make(0, 0), 0, 0));       /* no home */
    assert_false(vmca_block_valid(vmca_gfn_make(1, 0), VMCA_ORDER_MAX + 1, 0));
    assert_true(vmca_block_valid(vmca_gfn_make(1, 0), VMCA_ORDER_MAX, 0));
    assert_true(vmca_block_valid(vmca_gfn_make(1, 4095), 0, 4096));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_and_split),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_address_round_trip),
        cmocka_unit_test(test_buddy),
        cmocka_unit_test(test_block_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
