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
    /* Not under pressure: what it uses, plus what it grew by. */
    struct tkm_vm v = {1, 800, 1000, 50, 50, 0, 0, 0};
    struct ds_vm r = ds_step(&v, NULL);
    assert_int_equal(r.demand, 800);
    assert_int_equal(r.grow, 0);
    struct ds_vm was = {1, 500, 0, 500};
    assert_int_equal(ds_step(&v, &was).demand, 800 + 300);
    was.used = 900; /* it shrank: no more than it uses */
    assert_int_equal(ds_step(&v, &was).demand, 800);

    /* First failed puts (50 of 100): its pace is what it failed to add;
     * the cycle says 600 * 100 / 50. */
    v = (struct tkm_vm){1, 600, 600, 100, 50, 0, 0, 0};
    r = ds_step(&v, NULL);
    assert_int_equal(r.grow, 50);
    assert_int_equal(r.demand, 1200);
    /* Given its estimate and failing again: the pace doubles when that is
     * more than it added and failed to add. */
    was = (struct ds_vm){1, 600, 500, 1200};
    v = (struct tkm_vm){1, 700, 1200, 100, 60, 0, 0, 0};
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 1000);
    assert_int_equal(r.demand, 700 + 1000);
    /* Held below its estimate (target 650 < 1200): not doubled; the
     * cycle, 700 * 100 / 60, is then more. */
    v.target = 650;
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 500);
    assert_int_equal(r.demand, 1200);
    /* ... and what it added and failed to add, when that is more. */
    was.grow = 10;
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 100 + 40);
    assert_int_equal(r.demand, 1166);

    /* A period without a failed put within one pace of its target: still
     * under pressure, its pace kept (not doubled). */
    was = (struct ds_vm){1, 900, 100, 1100};
    v = (struct tkm_vm){1, 950, 1000, 20, 20, 0, 0, 0};
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 100);
    assert_int_equal(r.demand, 950 + 100);
    /* ... but no put at all in the period: the pressure is over (else
     * the estimate keeps its node asking while it lends the same pages as
     * free). */
    v = (struct tkm_vm){1, 900, 1000, 0, 0, 0, 0, 0};
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 0);
    assert_int_equal(r.demand, 900);
    /* Room to spare (900 + 100 < 1100): the pressure is over. */
    v = (struct tkm_vm){1, 900, 1100, 20, 20, 0, 0, 0};
    r = ds_step(&v, &was);
    assert_int_equal(r.grow, 0);
    assert_int_equal(r.demand, 900);
    /* No put succeeded: no cycle, the pace alone. */
    v = (struct tkm_vm){1, 0, 0, 70, 0, 0, 0, 0};
    assert_int_equal(ds_step(&v, NULL).demand, 70);
}

/* What a VM holds on to: its use; its target too when its puts failed,
 * up to its estimate. */
static void test_hold(void **state)
{
    (void)state;
    /* No failed put: what it uses, whatever its target. */
    struct tkm_vm v = {1, 500, 800, 10, 10, 0, 0, 0};
    assert_int_equal(ds_hold(&v, 1000), 500);
    /* Puts that made room by evicting are pressure too. */
    v.puts_evicting = 3;
    assert_int_equal(ds_hold(&v, 1000), 800);
    v.puts_evicting = 0;
    /* Failed puts, below its target: the target, as its estimate is more. */
    v.puts_succ = 5;
    assert_int_equal(ds_hold(&v, 1000), 800);
    /* ... and no more than its estimate when that is less. */
    assert_int_equal(ds_hold(&v, 600), 600);
    /* Never less than it uses. */
    assert_int_equal(ds_hold(&v, 100), 500);
    /* A target below its use, or none set: its use. */
    v.target = 300;
    assert_int_equal(ds_hold(&v, 1000), 500);
    v.target = VM_TARGET_UNLIMITED;
    assert_int_equal(ds_hold(&v, 1000), 500);
}

static void test_share(void **state)
{
    (void)state;
    uint64_t t[3];
    uint32_t w1[3] = {1, 1, 1}, w2[3] = {2, 1, 1};
    uint64_t d[3] = {100, 200, 300}, u[3] = {100, 150, 100};
    /* Every demand met, the rest spread by weight. */
    ds_share(d, u, w1, 3, 900, t);
    assert_int_equal(t[0], 200);
    assert_int_equal(t[1], 300);
    assert_int_equal(t[2], 400);
    /* 50 free pages: VM 2's shortfall (50) is met whole, VM 3's (200) not:
     * the nothing left is all it shares. Every VM keeps what it uses. */
    ds_share(d, u, w1, 3, 400, t);
    assert_int_equal(t[0], 100);
    assert_int_equal(t[1], 200);
    assert_int_equal(t[2], 100);
    /* 150 free: 50 to VM 2, the other 100 to VM 3 (the one short). */
    ds_share(d, u, w1, 3, 500, t);
    assert_int_equal(t[2], 200);
    /* Two shortfalls too big to meet whole share what is left after the
     * small one is met, by weight. */
    uint64_t big[3] = {1000, 1000, 100}, none[3] = {0, 0, 0};
    ds_share(big, none, w1, 3, 600, t);
    assert_int_equal(t[2], 100);
    assert_int_equal(t[0], 250);
    assert_int_equal(t[1], 250);
    ds_share(big, none, w2, 3, 400, t);
    assert_int_equal(t[2], 100);
    assert_int_equal(t[0], 200);
    assert_int_equal(t[1], 100);
    /* The order is by shortfall per weight: weight 2 makes VM 1's 300 as
     * small as VM 2's 150. */
    uint64_t d2[3] = {300, 160, 1000};
    ds_share(d2, none, w2, 3, 460, t);
    assert_int_equal(t[0], 300);
    assert_int_equal(t[1], 160);
    assert_int_equal(t[2], 0);
    /* Never above the pages owned. */
    uint64_t odd[3] = {7, 11, 13};
    ds_share(odd, none, w1, 3, 10, t);
    assert_true(t[0] + t[1] + t[2] <= 10);
    ds_share(none, none, w1, 3, 0, t);
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
    /* VM 1 holds 600 and failed half its puts: it wants 1200; VM 2 idles. */
    struct tkm_vm vms[2] = {{1, 600, 600, 100, 50, 0, 0, 0}, {2, 200, 400, 10, 10, 0, 0, 0}};
    struct vm_target t[2], wanted[2];
    struct ft_input in = {vms, 2, NULL, 0, 1000, 1000, NULL, 0, 1000};
    struct ft_output out = {t, wanted, 0, NULL};
    p->decide(&params, st, &in, &out);
    assert_int_equal(wanted[0].pages, 1200);
    assert_int_equal(wanted[1].pages, 200);
    assert_int_equal(out.ask, 1400 - 1000);
    assert_int_equal(t[0].vm, 1);
    assert_int_equal(t[0].pages, 800);   /* its use and every free page */
    assert_int_equal(t[1].pages, 200);
    assert_true(targets_sum(t, 2) <= 1000);
    assert_int_equal(st->n, 2);
    /* The pages came (2000 owned): both demands met, the rest spread. */
    vms[0] = (struct tkm_vm){1, 1100, 1100, 100, 100, 0, 0, 0};
    vms[1] = (struct tkm_vm){2, 300, 300, 10, 10, 0, 0, 0};
    in.owned = 2000;
    p->decide(&params, st, &in, &out);
    assert_int_equal(out.ask, 0);
    assert_int_equal(wanted[1].pages, 300 + 100);   /* it grew by 100 */
    assert_true(targets_sum(t, 2) <= 2000);
    assert_true(t[0].pages >= wanted[0].pages && t[1].pages >= wanted[1].pages);
    /* VM 1's puts failed and it read back 200 more than it put (700 used,
     * target 900): it holds its 900, and VM 2's small shortfall (it wants
     * 200) does not take the 200 (it would, were only uses kept). */
    memset(st, 0, p->state_size);
    vms[0] = (struct tkm_vm){1, 700, 900, 100, 50, 0, 0, 0};
    vms[1] = (struct tkm_vm){2, 100, 100, 20, 10, 0, 0, 0};
    in.owned = 1000;
    p->decide(&params, st, &in, &out);
    assert_int_equal(wanted[0].pages, 1400);
    assert_int_equal(wanted[1].pages, 200);
    assert_int_equal(t[0].pages, 900);
    assert_int_equal(t[1].pages, 100);
    in.owned = 2000;
    /* VM 2 is gone (forgotten); weights from the per-VM settings. */
    struct ft_vm_settings vs[1] = {{1, 0, VM_TARGET_UNLIMITED, 3}};
    in.vm_settings = vs;
    in.n_vm_settings = 1;
    in.n_vms = 1;
    p->decide(&params, st, &in, &out);
    assert_int_equal(st->n, 1);
    assert_int_equal(st->vm[0].vm, 1);
    assert_int_equal(t[0].pages, 2000);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demand_estimate),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
