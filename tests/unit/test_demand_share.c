/* First-tier policy demand-share (slave/policy/demand_share.h): the demand
 * estimate from one period's figures and the VM's history, the share of
 * the pages owned, and the policy behind the registry's interface. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "demand_share.h"
#include "first_tier_policy.h"
#include "vm_targets.h"

/* {vm, used, target, puts_total, puts_succ, gets, flushes} */
static void test_demand_estimate(void **state)
{
    (void)state;
    /* No failed put: what it uses, plus what it grew by since last period. */
    struct tkm_vm v = {1, 800, 1000, 50, 50, 0, 0};
    assert_int_equal(ds_step(&v, NULL).demand, 800);
    struct ds_vm was = {1, 500, 0, 0, 500};
    assert_int_equal(ds_step(&v, &was).demand, 800 + 300);
    was.used = 900; /* it shrank: no more than it uses */
    assert_int_equal(ds_step(&v, &was).demand, 800);

    /* First failed puts: use + what went to disk + as much again. */
    v = (struct tkm_vm){1, 600, 600, 100, 50, 0, 0};
    struct ds_vm r = ds_step(&v, NULL);
    assert_int_equal(r.demand, 600 + 50 + 50);
    assert_int_equal(r.failed_run, 50);
    assert_int_equal(r.grow, 50);
    /* Given all 700 and failing again (40 puts): the growth doubles. */
    v = (struct tkm_vm){1, 700, 700, 100, 60, 0, 0};
    struct ds_vm r2 = ds_step(&v, &r);
    assert_int_equal(r2.grow, 100);
    assert_int_equal(r2.failed_run, 90);
    assert_int_equal(r2.demand, 700 + 90 + 100);
    /* Held below its demand (target 650 < 700): failures were expected,
     * the growth is not doubled. */
    v.target = 650;
    r2 = ds_step(&v, &r);
    assert_int_equal(r2.grow, 50);
    assert_int_equal(r2.demand, 700 + 90 + 50);

    /* 1000 pages held, a quarter of 400 puts failed: capped at the cycle,
     * 1000 * 400 / 300, however long the run. */
    v = (struct tkm_vm){1, 1000, 1000, 400, 300, 0, 0};
    was = (struct ds_vm){1, 1000, 5000, 1000, 3000};
    r = ds_step(&v, &was);
    assert_int_equal(r.demand, 1333);
    assert_int_equal(r.failed_run, 5100);
    assert_int_equal(r.grow, 1000);
    /* No put succeeded: no cycle to cap it. */
    v = (struct tkm_vm){1, 0, 0, 70, 0, 0, 0};
    assert_int_equal(ds_step(&v, NULL).demand, 140);
    /* A few failed puts never estimate below u + f. */
    v = (struct tkm_vm){1, 10, 10, 1000000, 999999, 0, 0};
    assert_int_equal(ds_step(&v, NULL).demand, 11);
}

static void test_share(void **state)
{
    (void)state;
    uint64_t t[3];
    uint32_t w1[3] = {1, 1, 1}, w2[3] = {2, 1, 1};
    /* Demands fit: each met, the rest split by weight. */
    uint64_t d[3] = {100, 200, 300};
    ds_share(d, w1, 3, 900, t);
    assert_int_equal(t[0], 200);
    assert_int_equal(t[1], 300);
    assert_int_equal(t[2], 400);
    ds_share(d, w2, 3, 1000, t);
    assert_int_equal(t[0], 100 + 200);
    assert_int_equal(t[1], 200 + 100);
    /* Demands pass the pages owned: the same share of each. */
    ds_share(d, w1, 3, 300, t);
    assert_int_equal(t[0], 50);
    assert_int_equal(t[1], 100);
    assert_int_equal(t[2], 150);
    /* By weight: VM 1 counts its demand twice. */
    ds_share(d, w2, 3, 350, t);
    assert_int_equal(t[0], 350 * 200 / 700);
    assert_int_equal(t[1], 350 * 200 / 700);
    assert_int_equal(t[2], 350 * 300 / 700);
    /* Never above the pages owned, however the floors fall. */
    uint64_t odd[3] = {7, 11, 13};
    ds_share(odd, w1, 3, 10, t);
    assert_true(t[0] + t[1] + t[2] <= 10);
    uint64_t none[3] = {0, 0, 0};
    ds_share(none, w1, 3, 0, t);
    assert_int_equal(t[0] + t[1] + t[2], 0);
}

/* Behind the registry: targets in vms order, the wanted demands, the ask,
 * and the history kept in the policy's own state across periods. */
static void test_policy(void **state)
{
    (void)state;
    const struct ft_policy *p = ft_policy_find("demand-share");
    assert_non_null(p);
    assert_true(p->sets_targets);
    struct ds_state *st = calloc(1, p->state_size);
    assert_non_null(st);
    struct ft_params params;
    memset(&params, 0, sizeof params);
    /* VM 1 holds 600 and failed half its puts: it wants 700; VM 2 idles. */
    struct tkm_vm vms[2] = {{1, 600, 600, 100, 50, 0, 0}, {2, 200, 400, 10, 10, 0, 0}};
    struct vm_target t[2], wanted[2];
    struct ft_input in = {vms, 2, NULL, 0, 800, 800, NULL, 0, 1000};
    struct ft_output out = {t, wanted, 0, NULL};
    p->decide(&params, st, &in, &out);
    assert_int_equal(wanted[0].pages, 700);
    assert_int_equal(wanted[1].pages, 200);
    assert_int_equal(out.ask, 900 - 800);
    assert_int_equal(t[0].vm, 1);
    assert_int_equal(t[0].pages, 800 * 700 / 900);
    assert_int_equal(t[1].pages, 800 * 200 / 900);
    assert_true(targets_sum(t, 2) <= 800);
    assert_int_equal(st->n, 2);
    /* The pages came (2000 owned): every demand met; each grew since the
     * last period (by 500 and 100), so each may keep growing at that pace. */
    vms[0] = (struct tkm_vm){1, 1100, 1100, 100, 100, 0, 0};
    vms[1] = (struct tkm_vm){2, 300, 300, 10, 10, 0, 0};
    in.owned = 2000;
    p->decide(&params, st, &in, &out);
    assert_int_equal(out.ask, 0);
    assert_int_equal(wanted[0].pages, 1600);
    assert_int_equal(wanted[1].pages, 400);
    assert_int_equal(t[0].pages, 1600);
    assert_int_equal(t[1].pages, 400);
    /* 2100 owned: the 100 no demand claims are shared. */
    vms[0].used = 1100;
    vms[1].used = 300;
    in.owned = 2100;
    p->decide(&params, st, &in, &out);
    assert_int_equal(t[0].pages, 1100 + 350);
    assert_int_equal(t[1].pages, 300 + 350);
    /* Weights from the per-VM settings; VM 2 is gone (forgotten). */
    struct ft_vm_settings vs[1] = {{1, 0, VM_TARGET_UNLIMITED, 3}};
    in.vm_settings = vs;
    in.n_vm_settings = 1;
    in.n_vms = 1;
    in.owned = 1900;
    p->decide(&params, st, &in, &out);
    assert_int_equal(st->n, 1);
    assert_int_equal(st->vm[0].vm, 1);
    assert_int_equal(t[0].pages, 1900);
    /* Two VMs over the pages owned, by weight: VM 1 counts its demand 3x. */
    vms[1] = (struct tkm_vm){2, 0, 0, 100, 0, 0, 0};   /* new, every put failed */
    vms[0] = (struct tkm_vm){1, 1100, 1900, 100, 100, 0, 0};
    in.n_vms = 2;
    in.owned = 1200;
    p->decide(&params, st, &in, &out);
    assert_int_equal(wanted[1].pages, 200);
    assert_int_equal(t[0].pages, (uint64_t)1200 * 3 * 1100 / (3 * 1100 + 200));
    assert_int_equal(t[1].pages, (uint64_t)1200 * 200 / (3 * 1100 + 200));
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demand_estimate),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
