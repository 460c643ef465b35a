/* First tier: the per-VM settings (targets_bound, targets_share), the
 * greedy policies' targets under them, and the SmarTmem policies (static,
 * reconf-static, smart-alloc) and qmemman on hand-made samples. */
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

#define UNL VM_TARGET_UNLIMITED

static int no_setting(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    (void)ctx, (void)name, (void)lo, (void)hi, (void)v;
    return 0;
}

/* The defaults of every built policy. */
static struct ft_params params(void)
{
    struct policy_settings in = {NULL, no_setting, NULL, NULL};
    struct ft_params p;
    memset(&p, 0xff, sizeof p);
    assert_int_equal(ft_params_parse(&in, &p), 0);
    return p;
}

static const struct ft_vm_settings SET3[] = {
    {1, 100, 500, 1}, {2, 300, UNL, 1}, /* VM 3: the defaults */
};

static void set(struct vm_target *t, uint64_t a, uint64_t b, uint64_t c)
{
    t[0] = (struct vm_target){1, a, false};
    t[1] = (struct vm_target){2, b, false};
    t[2] = (struct vm_target){3, c, false};
}

static void test_bound_caps_and_floors(void **state)
{
    (void)state;
    struct ft_input in = {.vm_settings = SET3, .n_vm_settings = 2};
    struct vm_target t[3];
    set(t, 800, 50, 200);
    targets_bound(t, 3, &in, 10000);
    assert_int_equal(t[0].pages, 500);      /* capped */
    assert_int_equal(t[1].pages, 300);      /* raised to its floor */
    assert_int_equal(t[2].pages, 200);      /* no settings: as it was */
    /* No settings at all: nothing changes below the limit. */
    struct ft_input none = {0};
    set(t, 800, 50, 200);
    targets_bound(t, 3, &none, 10000);
    assert_int_equal(t[0].pages, 800);
    assert_int_equal(t[1].pages, 50);
}

/* What caps take from wanted targets goes to the VMs below their caps, in
 * proportion, up to their caps. */
static void test_pass_on(void **state)
{
    (void)state;
    /* {vm, used, target, puts_total, puts_succ, gets, flushes}: all under
     * pressure but VM 3 in the last case. */
    struct tkm_vm vms[3] = {{1, 0, 0, 9, 1, 0, 0, 0}, {2, 0, 0, 9, 1, 0, 0, 0}, {3, 0, 0, 9, 1, 0, 0, 0}};
    struct ft_input in = {.vms = vms, .n_vms = 3, .vm_settings = SET3, .n_vm_settings = 2};
    struct vm_target t[3];
    set(t, 800, 100, 200);        /* VM 1 capped at 500: 300 go on */
    targets_pass_on(t, 3, &in);
    assert_int_equal(t[0].pages, 800); /* targets_bound caps it afterwards */
    assert_int_equal(t[1].pages, 100 + 300 * 100 / 300);
    assert_int_equal(t[2].pages, 200 + 300 * 200 / 300);
    const struct ft_vm_settings caps[2] = {{1, 0, 500, 1}, {2, 0, 150, 1}};
    struct ft_input two = {.vms = vms, .n_vms = 3, .vm_settings = caps, .n_vm_settings = 2};
    set(t, 800, 100, 200);        /* VM 2 takes only 50 of its 100 */
    targets_pass_on(t, 3, &two);
    assert_int_equal(t[1].pages, 150);
    assert_int_equal(t[2].pages, 400);
    set(t, 400, 100, 200);        /* nothing capped: nothing moves */
    targets_pass_on(t, 3, &in);
    assert_int_equal(t[1].pages, 100);
    assert_int_equal(t[2].pages, 200);
    vms[2].puts_succ = 9;         /* VM 3 idle: all 300 to VM 2 */
    set(t, 800, 100, 200);
    targets_pass_on(t, 3, &in);
    assert_int_equal(t[1].pages, 400);
    assert_int_equal(t[2].pages, 200);
}

static void test_bound_fits_what_is_above_the_floors(void **state)
{
    (void)state;
    struct ft_input in = {.vm_settings = SET3, .n_vm_settings = 2};
    struct vm_target t[3];
    /* Floors 100 + 300 + 0; above them 400 + 400 + 200 = 1000 into the
     * 600 the floors leave of 1000. */
    set(t, 500, 700, 200);
    targets_bound(t, 3, &in, 1000);
    assert_int_equal(t[0].pages, 100 + 400 * 600 / 1000);
    assert_int_equal(t[1].pages, 300 + 400 * 600 / 1000);
    assert_int_equal(t[2].pages, 200 * 600 / 1000);
    assert_true(targets_sum(t, 3) <= 1000);
}

static void test_bound_floors_alone_above_the_limit(void **state)
{
    (void)state;
    struct ft_input in = {.vm_settings = SET3, .n_vm_settings = 2};
    struct vm_target t[3];
    set(t, 500, 700, 200);
    targets_bound(t, 3, &in, 200);          /* floors 400 > 200: they shrink */
    assert_int_equal(t[0].pages, 100 * 200 / 400);
    assert_int_equal(t[1].pages, 300 * 200 / 400);
    assert_int_equal(t[2].pages, 0);
    set(t, 500, 700, 200);
    targets_bound(t, 3, &in, 0);
    assert_int_equal(targets_sum(t, 3), 0);
    /* A floor is min(min_pages, max_pages). */
    static const struct ft_vm_settings odd[] = {{1, 900, 50, 1}};
    struct ft_input o = {.vm_settings = odd, .n_vm_settings = 1};
    set(t, 0, 0, 0);
    targets_bound(t, 3, &o, 10000);
    assert_int_equal(t[0].pages, 50);
}

/* Share rules for targets_share: weights 1, 2, 1 and caps from an array. */
static uint64_t caps[3];
static struct share_rule rule121(const void *arg, size_t i)
{
    (void)arg;
    static const uint64_t w[3] = {1, 2, 1};
    return (struct share_rule){w[i], caps[i]};
}

static void test_share_by_weight_with_caps(void **state)
{
    (void)state;
    struct vm_target t[3];
    caps[0] = caps[1] = caps[2] = UNL;
    set(t, 0, 0, 0);
    assert_int_equal(targets_share(t, 3, 100, rule121, NULL), 0);
    assert_int_equal(t[0].pages, 25);
    assert_int_equal(t[1].pages, 50);
    assert_int_equal(t[2].pages, 25);
    /* VM 2 capped at 30: its share goes to the others. */
    caps[1] = 30;
    set(t, 0, 0, 0);
    assert_int_equal(targets_share(t, 3, 100, rule121, NULL), 0);
    assert_int_equal(t[0].pages, 35);
    assert_int_equal(t[1].pages, 30);
    assert_int_equal(t[2].pages, 35);
    /* Added to what they have; the pages the floors leave are handed out. */
    caps[1] = UNL;
    set(t, 10, 0, 0);
    assert_int_equal(targets_share(t, 3, 7, rule121, NULL), 0);
    assert_int_equal(targets_sum(t, 3), 17);
    assert_int_equal(t[1].pages, 3 + 1);
    /* Every VM at its cap: the rest is returned. */
    caps[0] = caps[1] = caps[2] = 5;
    set(t, 0, 0, 0);
    assert_int_equal(targets_share(t, 3, 100, rule121, NULL), 85);
    assert_int_equal(targets_sum(t, 3), 15);
}

/* Greedy policies set targets only on a node with per-VM settings. */
static void test_greedy_with_vm_settings(void **state)
{
    (void)state;
    struct ft_params p = params();
    static const struct ft_vm_settings s[] = {{1, 0, 300, 1}};
    struct tkm_vm vms[3] = {{1, 100, UNL, 9, 5, 0, 0, 0},     /* failing, capped at 300 */
                            {2, 50, UNL, 4, 4, 0, 0, 0},      /* idle */
                            {3, 20, UNL, 9, 1, 0, 0, 0}};     /* failing */
    struct vm_target t[3], w[3];
    struct ft_input in = {vms, 3, NULL, 0, 1000, 1000, s, 1, 1000};
    struct ft_output out = {t, w, 0, NULL};
    const struct ft_policy *local = ft_policy_find("greedy-local");
    const struct ft_policy *remote = ft_policy_find("greedy-remote");
    assert_false(ft_policy_sets_targets(local, 0));
    assert_true(ft_policy_sets_targets(local, 1));
    assert_true(ft_policy_sets_targets(remote, 1));
    assert_true(ft_policy_sets_targets(ft_policy_find("tlp"), 0));
    local->decide(&p, NULL, &in, &out);
    /* Each keeps its use; the 830 free pages go to the failing VMs, VM 1
     * up to its cap, VM 3 the rest. */
    assert_int_equal(t[0].pages, 300);
    assert_int_equal(t[1].pages, 50);
    assert_int_equal(t[2].pages, 20 + 830 - 200);
    assert_int_equal(out.ask, 0);
    remote->decide(&p, NULL, &in, &out);
    assert_int_equal(out.ask, 1000);
    assert_int_equal(targets_sum(t, 3), 1000);
    /* What they want once the batch comes: VM 3 takes it all. */
    assert_int_equal(w[0].pages, 300);
    assert_int_equal(w[2].pages, 20 + 1830 - 200);
    /* No VM failing: the free pages go to all, by weight; VM 1's share
     * (276) passes its cap, so the other two share what it leaves. */
    vms[0].puts_succ = 9, vms[2].puts_succ = 9;
    local->decide(&p, NULL, &in, &out);
    assert_int_equal(t[0].pages, 300);
    assert_int_equal(t[1].pages, 50 + 315);
    assert_int_equal(t[2].pages, 20 + 315);
    /* Without settings they leave the targets alone. */
    in.vm_settings = NULL, in.n_vm_settings = 0;
    set(t, 7, 7, 7);
    local->decide(&p, NULL, &in, &out);
    assert_int_equal(t[0].pages, 7);
}

static void test_static_split_by_weight(void **state)
{
    (void)state;
    struct ft_params p = params();
    static const struct ft_vm_settings s[] = {{1, 0, UNL, 2}, {2, 0, 100, 1}};
    struct tkm_vm vms[3] = {{1, 900, UNL, 9, 1, 0, 0, 0}, {2, 0, UNL, 0, 0, 0, 0, 0},
                            {3, 5, UNL, 1, 1, 0, 0, 0}};
    struct vm_target t[3];
    struct ft_input in = {vms, 3, NULL, 0, 1000, 1000, s, 2, 1000};
    struct ft_output out = {t, NULL, 0, NULL};
    const struct ft_policy *st = ft_policy_find("static");
    assert_true(st->sets_targets);
    st->decide(&p, NULL, &in, &out);
    /* Shares 2:1:1, VM 2 capped at 100: its rest goes 2:1 to the others. */
    assert_int_equal(t[0].pages, 600);
    assert_int_equal(t[1].pages, 100);
    assert_int_equal(t[2].pages, 300);
    assert_int_equal(out.ask, 0);
    /* Equal without settings, whatever they use. */
    in.vm_settings = NULL, in.n_vm_settings = 0, in.owned = 999;
    st->decide(&p, NULL, &in, &out);
    assert_int_equal(t[0].pages, 333);
    assert_int_equal(t[1].pages, 333);
    assert_int_equal(t[2].pages, 333);
}

static void test_reconf_static_remembers_who_failed(void **state)
{
    (void)state;
    struct ft_params p = params();
    const struct ft_policy *rs = ft_policy_find("reconf-static");
    assert_true(rs->state_size > 0);
    unsigned char st[rs->state_size];
    memset(st, 0, sizeof st);
    struct tkm_vm vms[3] = {{1, 200, UNL, 9, 1, 0, 0, 0},     /* failing */
                            {2, 100, UNL, 3, 3, 0, 0, 0},
                            {3, 50, UNL, 3, 3, 0, 0, 0}};
    struct vm_target t[3];
    struct ft_input in = {vms, 3, NULL, 0, 1000, 1000, NULL, 0, 1000};
    struct ft_output out = {t, NULL, 0, NULL};
    rs->decide(&p, st, &in, &out);
    /* The ones that never failed keep their use; VM 1 the rest. */
    assert_int_equal(t[0].pages, 850);
    assert_int_equal(t[1].pages, 100);
    assert_int_equal(t[2].pages, 50);
    /* VM 1 no longer failing is still remembered; VM 3 joins it. */
    vms[0].puts_succ = 9, vms[2].puts_succ = 1;
    rs->decide(&p, st, &in, &out);
    assert_int_equal(t[0].pages, 450);
    assert_int_equal(t[1].pages, 100);
    assert_int_equal(t[2].pages, 450);
    /* VM 1 goes away, then comes back without failing: forgotten. */
    vms[2].puts_succ = 3;
    in.vms = vms + 1, in.n_vms = 2;
    rs->decide(&p, st, &in, &out);
    assert_int_equal(t[0].pages, 100);
    assert_int_equal(t[1].pages, 900);
    in.vms = vms, in.n_vms = 3;
    rs->decide(&p, st, &in, &out);
    assert_int_equal(t[0].pages, 200);
    assert_int_equal(t[1].pages, 100);
    assert_int_equal(t[2].pages, 700);
}

static void test_smart_alloc_is_tlp_without_asking(void **state)
{
    (void)state;
    struct ft_params p = params();
    struct tkm_vm vms[2] = {{1, 600, UNL, 10, 4, 0, 0, 0}, {2, 300, UNL, 5, 5, 0, 0, 0}};
    struct vm_target t[2], want[2];
    struct ft_input in = {vms, 2, NULL, 0, 1000, 65536, NULL, 0, 1000};
    struct ft_output out = {t, NULL, 99, NULL};
    ft_policy_find("smart-alloc")->decide(&p, NULL, &in, &out);
    struct tlp_params tp = {p.tlp.percent, p.tlp.threshold, 65536};
    tlp_wanted(NULL, 0, vms, 2, &tp, 1000, want);
    assert_true(targets_sum(want, 2) > 1000);       /* tlp would ask */
    assert_int_equal(out.ask, 0);
    assert_int_equal(t[0].pages, want[0].pages * 1000 / targets_sum(want, 2));
    assert_int_equal(t[1].pages, want[1].pages * 1000 / targets_sum(want, 2));
}

static void test_qmemman_enough_and_low(void **state)
{
    (void)state;
    struct ft_params p = params();
    assert_int_equal(p.qmemman.ratio_percent, 130);
    assert_int_equal(p.qmemman.min_pages, 256);
    p.qmemman.min_pages = 0;
    /* Preferences 1300, (300 + 100 failed) x 1.3 = 520, 130: 1950. */
    struct tkm_vm vms[3] = {{1, 1000, UNL, 5, 5, 0, 0, 0}, {2, 300, UNL, 150, 50, 0, 0, 0},
                            {3, 100, UNL, 1, 1, 0, 0, 0}};
    struct vm_target t[3], w[3];
    struct ft_input in = {vms, 3, NULL, 0, 3900, 65536, NULL, 0, 1000};
    struct ft_output out = {t, w, 0, NULL};
    const struct ft_policy *q = ft_policy_find("qmemman");
    q->decide(&p, NULL, &in, &out);
    /* Enough: the surplus in proportion to preference. */
    assert_int_equal(t[0].pages, 2600);
    assert_int_equal(t[1].pages, 1040);
    assert_int_equal(t[2].pages, 260);
    assert_int_equal(out.ask, 0);
    /* Low (1800 owned): VM 1, a donor (target 1800 > 1300), down to its
     * preference; VMs 2 and 3 keep 300 and 50 and share the 150 left
     * 520:130, none above its preference; the shortfall is asked for. */
    struct vm_target now[3] = {{1, 1800, false}, {2, 300, false}, {3, 50, false}};
    in.targets = now, in.n_targets = 3, in.owned = 1800;
    q->decide(&p, NULL, &in, &out);
    assert_int_equal(t[0].pages, 1300);
    assert_int_equal(t[1].pages, 300 + 120);
    assert_int_equal(t[2].pages, 50 + 30);
    assert_int_equal(out.ask, 150);
    assert_string_equal(out.why, "preferences above the pages owned");
    assert_int_equal(w[0].pages, 1300);
    assert_int_equal(w[1].pages, 520);
    assert_int_equal(w[2].pages, 130);
    /* Even after the squeeze too much: fitted into the pages owned. */
    in.owned = 1500;
    q->decide(&p, NULL, &in, &out);
    assert_true(targets_sum(t, 3) <= 1500);
    assert_int_equal(t[0].pages, 1300 * 1500 / 1650);
    /* The floor, the ratio and a cap. */
    p.qmemman.min_pages = 256;
    p.qmemman.ratio_percent = 200;
    static const struct ft_vm_settings s[] = {{1, 0, 1500, 1}};
    in.vm_settings = s, in.n_vm_settings = 1, in.owned = 100000;
    q->decide(&p, NULL, &in, &out);
    assert_int_equal(w[0].pages, 1500);             /* 2000, capped */
    assert_int_equal(w[1].pages, 800);
    assert_int_equal(w[2].pages, 256);              /* 200, the floor */
    assert_int_equal(t[0].pages, 1500);
    assert_int_equal(targets_sum(t, 3), 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_caps_and_floors),
        cmocka_unit_test(test_pass_on),
        cmocka_unit_test(test_bound_fits_what_is_above_the_floors),
        cmocka_unit_test(test_bound_floors_alone_above_the_limit),
        cmocka_unit_test(test_share_by_weight_with_caps),
        cmocka_unit_test(test_greedy_with_vm_settings),
        cmocka_unit_test(test_static_split_by_weight),
        cmocka_unit_test(test_reconf_static_remembers_who_failed),
        cmocka_unit_test(test_smart_alloc_is_tlp_without_asking),
        cmocka_unit_test(test_qmemman_enough_and_low),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
