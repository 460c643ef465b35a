/* Fencing backends by name (common/fence.h): what is built, and the
 * emulated fabric's backend when no node of the cluster is up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fence.h"

static void test_unknown_backend(void **state)
{
    struct vmca_fence f;
    char err[256] = "";
    assert_int_equal(vmca_fence_open("xen", "t", &f, err, sizeof err), -1);
    assert_string_equal(err, "no fencing backend \"xen\" (built: emu)");
    vmca_fence_close(&f); /* harmless on a fence that did not open */
}

static void test_emu_without_fabric(void **state)
{
    struct vmca_fence f;
    char err[256] = "";
    assert_int_equal(vmca_fence_open("emu", "vmca-test-nofabric", &f, err, sizeof err), 0);
    /* No control segment: no node of the cluster is up; nothing is created. */
    assert_int_equal(vmca_fence_set(&f, 2, true, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    vmca_fence_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_backend),
        cmocka_unit_test(test_emu_without_fabric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
