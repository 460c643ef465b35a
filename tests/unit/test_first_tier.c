/* First tier: tlp (thesis Algorithm 8), the Eq. 6.2 scaling, each policy
 * behind the registry's interface, and the registry itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "first_tier_policy.h"
#include "tlp.h"
#include "vm_targets.h"

static const struct tlp_params P = {.percent = 2, .threshold = 256, .node_pages = 65536};

static void test_grow_shrink_keep(void **state)
{
    (void)state;
    struct vm_target prev[3] = {{1, 1000, false}, {2, 1000, false}, {3, 1000, false}};
    struct tkm_vm vms[3] = {
        {1, 900, 1000, 10, 4, 0, 0, 0},   /* puts failed: + 2 % of 65536 = 1310 */
        {2, 100, 1000, 5, 5, 0, 0, 0},    /* 900 unused > 256: - 2 % of 1000 */
        {3, 744, 1000, 5, 5, 0, 0, 0},    /* 256 unused: not above the threshold, kept */
    };
    struct vm_target out[3];
    uint64_t ask = 99;
    /* 3000 owned: the 1000 the others' targets leave is VM 1's own. */
    tlp_targets(prev, 3, vms, 3, &P, 3000, out, &ask);
    tlp_wanted(prev, 3, vms, 3, &P, 3000, out);
    assert_int_equal(out[0].vm, 1);
    assert_int_equal(out[0].pages, 2310);
    assert_int_equal(out[1].pages, 980);
    assert_int_equal(out[2].pages, 1000);
    assert_int_equal(ask, 2310 + 980 + 1000 - 3000);
    /* 100000 owned: VM 1, under pressure, first takes the 98000 pages the
     * others' targets leave (its own node's free pages), then its step. */
    tlp_wanted(prev, 3, vms, 3, &P, 100000, out);
    assert_int_equal(out[0].pages, 98000 + 1310);
    assert_int_equal(out[1].pages, 980);
    tlp_targets(prev, 3, vms, 3, &P, 100000, out, &ask);
    assert_int_equal(ask, 98000 + 1310 + 980 + 1000 - 100000);
}

/* A put that succeeded only by evicting an ephemeral page is pressure as a
 * failed one is: tlp grows that VM's target (without it, an ephemeral VM
 * under pressure never fails a put and never gets a page more). */
static void test_evicting_puts_are_pressure(void **state)
{
    (void)state;
    struct vm_target prev[2] = {{1, 1000, false}, {2, 1000, false}};
    struct tkm_vm vms[2] = {
        {1, 1000, 1000, 10, 10, 0, 0, 3},   /* every put succeeded, 3 by evicting */
        {2, 1000, 1000, 10, 10, 0, 0, 0},   /* every put found a free page */
    };
    assert_true(ft_vm_short(&vms[0]));
    assert_false(ft_vm_short(&vms[1]));
    assert_int_equal(tkm_vm_short_puts(&vms[0]), 3);
    assert_int_equal(tkm_vm_failed_puts(&vms[0]), 0);
    struct vm_target out[2];
    uint64_t ask = 0;
    tlp_targets(prev, 2, vms, 2, &P, 2000, out, &ask);
    tlp_wanted(prev, 2, vms, 2, &P, 2000, out);
    assert_int_equal(out[0].pages, 1000 + 1310); /* + 2 % of 65536 */
    assert_int_equal(out[1].pages, 1000);
}

static void test_new_and_gone_vms(void **state)
{
    (void)state;
    struct vm_target prev[1] = {{9, 5000, false}};              /* VM 9 is gone */
    struct tkm_vm vms[2] = {
        {4, 300, VM_TARGET_UNLIMITED, 1, 1, 0, 0, 0},            /* new, no target: starts at use */
        {5, 50, 700, 1, 1, 0, 0, 0},                             /* new, target set: starts there */
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
    struct tkm_vm vms[2] = {{4, 100, 500, 1, 1, 0, 0, 0}, {5, 100, 500, 1, 1, 0, 0, 0}};
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
    struct tkm_vm vms[2] = {{1, 600, VM_TARGET_UNLIMITED, 10, 4, 0, 0, 0},
                               {2, 300, VM_TARGET_UNLIMITED, 5, 5, 0, 0, 0}};
    struct vm_target out[2];
    uint64_t ask;
    tlp_targets(NULL, 0, vms, 2, &P, 1000, out, &ask);
    /* VM 1 is under pressure and new: it starts at the 700 pages VM 2's
     * use leaves (not at its use of 600), + 1310; VM 2 at its use. 2310
     * wanted, 1000 owned: the ask is VM 1's step. */
    assert_int_equal(ask, 1310);
    assert_int_equal(out[0].pages, 2010 * 1000 / 2310);
    assert_int_equal(out[1].pages, 300 * 1000 / 2310);
    assert_true(targets_sum(out, 2) <= 1000);
}

/* Issue 11: a VM under pressure on a large node reaches its node's free
 * pages, and asks for remote ones, from its first period (from its use it
 * would take 1/P periods: 50 at P = 2 %); an idle new VM is not handed
 * pages it did not ask for, and those with targets keep theirs. */
static void test_new_vm_under_pressure_starts_at_free_share(void **state)
{
    (void)state;
    struct vm_target prev[1] = {{7, 5000, false}};
    struct tkm_vm vms[4] = {
        {7, 4000, 5000, 3, 3, 0, 0, 0},                      /* a target of its own */
        {8, 100, VM_TARGET_UNLIMITED, 9, 2, 0, 0, 0},       /* new, puts failed */
        {9, 50, VM_TARGET_UNLIMITED, 9, 1, 0, 0, 0},        /* new, puts failed */
        {10, 500, VM_TARGET_UNLIMITED, 4, 4, 0, 0, 0},      /* new, idle: at its use */
    };
    struct vm_target out[4];
    uint64_t ask;
    tlp_wanted(prev, 1, vms, 4, &P, 65536, out);
    uint64_t share = (65536 - 5000 - 500) / 2;
    assert_int_equal(out[1].pages, share + 1310);
    assert_int_equal(out[2].pages, share + 1310);
    assert_int_equal(out[3].pages, 500);
    assert_int_equal(out[0].pages, 5000 - 100); /* 1000 unused > 256: - 2 % */
    /* Against 65536 owned: the shortfall is asked for, the targets fit. */
    tlp_targets(prev, 1, vms, 4, &P, 65536, out, &ask);
    assert_int_equal(ask, 4900 + 2 * (share + 1310) + 500 - 65536);
    assert_true(targets_sum(out, 4) <= 65536);
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

/* Settings as the loader would give them: none set, or one overridden. */
struct fake_settings {
    const char *name;
    long long value;
    const char *bad;            /* a setting whose value is out of range */
};

static int fake_get_int(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    struct fake_settings *f = ctx;
    if (f->bad && strcmp(f->bad, name) == 0)
        return -1;
    if (f->name && strcmp(f->name, name) == 0) {
        if (f->value < lo || f->value > hi)
            return -1;
        *v = f->value;
        return 1;
    }
    return 0;
}

static void test_registry_finds_each_built_name(void **state)
{
    (void)state;
    const char *built[] = {"greedy-local", "greedy-remote", "tlp", "static", "reconf-static",
                           "smart-alloc", "qmemman"};
    size_t n = 0;
    for (const struct ft_policy *const *p = ft_policies(); *p; p++, n++)
        assert_ptr_equal(ft_policy_find((*p)->name), *p);
    assert_true(n >= 7); /* the others are tested in their own files (test_flexmem.c, ...) */
    for (size_t i = 0; i < 7; i++) {
        const struct ft_policy *p = ft_policy_find(built[i]);
        assert_non_null(p);
        assert_string_equal(p->name, built[i]);
        assert_non_null(p->decide);
        assert_non_null(p->parse);
    }
    assert_true(ft_policy_find("tlp")->sets_targets);
    assert_false(ft_policy_find("greedy-remote")->sets_targets);
}

static void test_registry_unknown_and_names(void **state)
{
    (void)state;
    assert_null(ft_policy_find("smart_alloc"));
    assert_null(ft_policy_find("Static"));
    assert_null(ft_policy_find(""));
    char names[512];
    ft_policy_names(names, sizeof names);
    /* The registry's order: these first, then the others' */
    const char *first = "greedy-local, greedy-remote, tlp, static, reconf-static, smart-alloc";
    assert_memory_equal(names, first, strlen(first));
    ft_policy_names(names, 8); /* truncated, still a string */
    assert_string_equal(names, "greedy-");
    assert_true(ft_setting_known("tlp_percent"));
    assert_true(ft_setting_known("tlp_threshold"));
    assert_true(ft_setting_known("grant_batch"));
    assert_false(ft_setting_known("first_tier"));
}

static void test_settings_defaults_and_ranges(void **state)
{
    (void)state;
    struct fake_settings none = {0};
    struct policy_settings in = {&none, fake_get_int, NULL, NULL};
    struct ft_params p;
    memset(&p, 0xff, sizeof p);
    assert_int_equal(ft_params_parse(&in, &p), 0);
    assert_int_equal(p.tlp.percent, 2);
    assert_int_equal(p.tlp.threshold, 256);
    assert_int_equal(p.greedy_remote.batch, 1000);
    struct fake_settings pct = {"tlp_percent", 100, NULL};
    in.ctx = &pct;
    assert_int_equal(ft_params_parse(&in, &p), 0);
    assert_int_equal(p.tlp.percent, 100);
    pct.value = 101;
    assert_int_equal(ft_params_parse(&in, &p), -1);
    struct fake_settings batch = {"grant_batch", 0, NULL};
    in.ctx = &batch;
    assert_int_equal(ft_params_parse(&in, &p), -1);
}

static struct ft_params params(void)
{
    struct fake_settings none = {0};
    struct policy_settings in = {&none, fake_get_int, NULL, NULL};
    struct ft_params p;
    assert_int_equal(ft_params_parse(&in, &p), 0);
    return p;
}

static void test_greedy_policies(void **state)
{
    (void)state;
    struct ft_params p = params();
    struct tkm_vm vms[2] = {{1, 10, VM_TARGET_UNLIMITED, 5, 5, 0, 0, 0},
                            {2, 10, VM_TARGET_UNLIMITED, 9, 3, 0, 0, 0}};
    struct ft_input in = {vms, 2, NULL, 0, 100, 1000, NULL, 0, 1000};
    struct ft_output out = {NULL, NULL, 99, NULL};
    ft_policy_find("greedy-remote")->decide(&p, NULL, &in, &out);
    assert_int_equal(out.ask, 1000);                     /* VM 2's puts failed */
    assert_string_equal(out.why, "puts failed");
    vms[1].puts_succ = 9;
    ft_policy_find("greedy-remote")->decide(&p, NULL, &in, &out);
    assert_int_equal(out.ask, 0);
    vms[1].puts_succ = 3;
    out.ask = 99;
    ft_policy_find("greedy-local")->decide(&p, NULL, &in, &out);
    assert_int_equal(out.ask, 0);                        /* never asks */
}

/* tlp behind the interface gives what tlp_targets gives. */
static void test_tlp_policy(void **state)
{
    (void)state;
    struct ft_params p = params();
    struct tkm_vm vms[2] = {{1, 600, VM_TARGET_UNLIMITED, 10, 4, 0, 0, 0},
                            {2, 300, VM_TARGET_UNLIMITED, 5, 5, 0, 0, 0}};
    struct vm_target out_t[2];
    struct ft_input in = {vms, 2, NULL, 0, 1000, 65536, NULL, 0, 1000};
    struct ft_output out = {out_t, NULL, 0, NULL};
    ft_policy_find("tlp")->decide(&p, NULL, &in, &out);
    assert_int_equal(out.ask, 1310);
    assert_int_equal(out_t[0].pages, 2010 * 1000 / 2310);
    assert_int_equal(out_t[1].pages, 300 * 1000 / 2310);
    assert_string_equal(out.why, "targets above the pages owned");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_shrink_keep),
        cmocka_unit_test(test_evicting_puts_are_pressure),
        cmocka_unit_test(test_new_vm_under_pressure_starts_at_free_share),
        cmocka_unit_test(test_new_and_gone_vms),
        cmocka_unit_test(test_provisional_starts_at_use),
        cmocka_unit_test(test_above_owned_asks_and_scales),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_registry_finds_each_built_name),
        cmocka_unit_test(test_registry_unknown_and_names),
        cmocka_unit_test(test_settings_defaults_and_ranges),
        cmocka_unit_test(test_greedy_policies),
        cmocka_unit_test(test_tlp_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
