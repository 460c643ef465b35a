/* First tier: the flexmemd policies (proportional, fcfs, demand-prop,
 * direct-assign, auction, round-robin), the credit scheme over several
 * periods, and the sharing they are built on, on hand-made samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "credits.h"
#include "first_tier_policy.h"
#include "share.h"
#include "vm_targets.h"

#define MAXN 8

/* A VM of a sample: its use and the puts it was refused this period. */
static struct tkm_vm vm(uint32_t id, uint64_t used, uint64_t failed)
{
    return (struct tkm_vm){id, used, VM_TARGET_UNLIMITED, failed + 10, 10, 0, 0, 0};
}

static struct ft_vm_settings set(uint32_t id, uint64_t min, uint64_t max, uint32_t weight)
{
    return (struct ft_vm_settings){id, min, max, weight};
}

/* One policy with its state across periods. */
struct run {
    const struct ft_policy *policy;
    struct ft_params params;
    void *state;
    struct vm_target targets[MAXN], wanted[MAXN];
    struct ft_output out;
};

static int no_setting(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    (void)ctx, (void)name, (void)lo, (void)hi, (void)v;
    return 0;
}

static void start(struct run *r, const char *name)
{
    memset(r, 0, sizeof *r);
    r->policy = ft_policy_find(name);
    assert_non_null(r->policy);
    struct policy_settings none = {NULL, no_setting, NULL, NULL};
    assert_int_equal(ft_params_parse(&none, &r->params), 0);
    r->state = calloc(1, r->policy->state_size ? r->policy->state_size : 1);
    assert_non_null(r->state);
}

static void stop(struct run *r)
{
    free(r->state);
}

/* One period: n VMs, `owned` pages, period_ms 1000. */
static void period(struct run *r, const struct tkm_vm *vms, size_t n,
                   const struct ft_vm_settings *s, size_t ns, uint64_t owned)
{
    struct ft_input in = {vms, n, NULL, 0, owned, 65536, s, ns, 1000};
    for (size_t i = 0; i < n; i++)
        r->wanted[i].vm = UINT32_MAX;
    r->out = (struct ft_output){r->targets, r->wanted, 99, NULL};
    r->policy->decide(&r->params, r->state, &in, &r->out);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r->targets[i].vm, vms[i].vm);
    assert_true(targets_sum(r->targets, n) <= owned);
}

static void assert_targets(const struct run *r, size_t n, const uint64_t *want)
{
    for (size_t i = 0; i < n; i++) {
        if (r->targets[i].pages != want[i])
            fail_msg("VM %u: target %llu, expected %llu", r->targets[i].vm,
                     (unsigned long long)r->targets[i].pages, (unsigned long long)want[i]);
    }
}

static void test_share_add_water_fills(void **state)
{
    (void)state;
    uint64_t w[3] = {1, 2, 1}, room[3] = {UINT64_MAX, 1000, UINT64_MAX}, out[3] = {0, 0, 0};
    /* 2500 by 1:2:1 would give VM 1 1250: it is full at 1000, the rest
     * 1500 goes 1:1 to the others. */
    assert_int_equal(share_add(2500, 3, w, room, out, 0), 2500);
    assert_int_equal(out[0], 750);
    assert_int_equal(out[1], 1000);
    assert_int_equal(out[2], 750);
    assert_int_equal(room[1], 0);
    /* The units the division leaves go one each from `start`. */
    uint64_t ones[3] = {1, 1, 1}, big[3] = {9, 9, 9}, o[3] = {0, 0, 0};
    share_add(5, 3, ones, big, o, 2);
    assert_int_equal(o[2], 2);
    assert_int_equal(o[0], 2);
    assert_int_equal(o[1], 1);
    /* Every room full: less than the total is given. */
    uint64_t small[2] = {3, 4}, two[2] = {5, 0}, o2[2] = {0, 0};
    assert_int_equal(share_add(100, 2, two, small, o2, 0), 3);
    assert_int_equal(o2[0], 3);
    assert_int_equal(o2[1], 0); /* weight 0: nothing */
}

static void test_proportional(void **state)
{
    (void)state;
    struct run r;
    start(&r, "proportional");
    struct tkm_vm vms[3] = {vm(1, 100, 40), vm(2, 100, 0), vm(3, 100, 0)};
    struct ft_vm_settings s[3] = {set(1, 0, VM_TARGET_UNLIMITED, 1),
                                  set(2, 0, VM_TARGET_UNLIMITED, 2),
                                  set(3, 1500, VM_TARGET_UNLIMITED, 1)};
    /* VM 3's 1500 first; the 2500 above the minimums by weight 1:2:1. */
    period(&r, vms, 3, s, 3, 4000);
    assert_targets(&r, 3, (uint64_t[]){625, 1250, 1500 + 625});
    assert_int_equal(r.out.ask, 0); /* never asks, though VM 1's puts failed */
    /* VM 2 capped at 1000: what it cannot take goes to the others. */
    s[1].max_pages = 1000;
    period(&r, vms, 3, s, 3, 4000);
    assert_targets(&r, 3, (uint64_t[]){750, 1000, 2250});
    /* Minimums above the pages owned: scaled to fit, nothing else. */
    s[0].min_pages = 500;
    period(&r, vms, 3, s, 3, 1000);
    assert_targets(&r, 3, (uint64_t[]){500 * 1000 / 2000, 0, 1500 * 1000 / 2000});
    stop(&r);
}

static void test_demand_prop(void **state)
{
    (void)state;
    struct run r;
    start(&r, "demand-prop");
    /* Demands 500, 2000 (1500 used + 500 failed), 3000; fair share 1000. */
    struct tkm_vm vms[3] = {vm(1, 500, 0), vm(2, 1500, 500), vm(3, 2000, 1000)};
    period(&r, vms, 3, NULL, 0, 3000);
    /* 500, 1000, 1000 first; the 500 left by unmet demand 1000:2000 is
     * 166 + 333, and the page the division leaves goes to VM 2. */
    assert_targets(&r, 3, (uint64_t[]){500, 1167, 1333});
    assert_int_equal(r.out.ask, 500 + 2000 + 3000 - 3000);
    assert_int_equal(r.wanted[1].pages, 2000);
    assert_int_equal(r.wanted[2].pages, 3000);
    assert_string_equal(r.out.why, "demand above the pages owned");
    /* VM 1 guaranteed 800, above its demand: it keeps 800 and the others
     * share the rest (fair 733, then 734 by unmet 1267:2267). */
    struct ft_vm_settings s[1] = {set(1, 800, VM_TARGET_UNLIMITED, 1)};
    period(&r, vms, 3, s, 1, 3000);
    assert_targets(&r, 3, (uint64_t[]){800, 997, 1203});
    /* Pages enough for all: demand met, the 4500 spare as headroom by
     * weight, nothing asked. */
    period(&r, vms, 3, NULL, 0, 10000);
    assert_targets(&r, 3, (uint64_t[]){2000, 3500, 4500});
    assert_int_equal(r.out.ask, 0);
    stop(&r);
}

/* Requests are served in the order they came, over periods; a VM whose
 * demand falls to its minimum leaves the queue; gone VMs are forgotten. */
static void test_fcfs_arrival_order(void **state)
{
    (void)state;
    struct run r;
    start(&r, "fcfs");
    struct ft_vm_settings s[3] = {set(1, 200, VM_TARGET_UNLIMITED, 1),
                                  set(2, 200, VM_TARGET_UNLIMITED, 1),
                                  set(3, 200, VM_TARGET_UNLIMITED, 1)};
    /* 1: only VM 2 asks for more than its minimum. */
    struct tkm_vm p1[2] = {vm(1, 200, 0), vm(2, 1500, 500)};
    period(&r, p1, 2, s, 3, 2000);
    assert_targets(&r, 2, (uint64_t[]){200, 1800});
    assert_int_equal(r.out.ask, 200);
    /* 2: VM 1 asks too, but after VM 2, which keeps all it has. */
    struct tkm_vm p2[2] = {vm(1, 200, 1300), vm(2, 1800, 200)};
    period(&r, p2, 2, s, 3, 2000);
    assert_targets(&r, 2, (uint64_t[]){200, 1800});
    assert_int_equal(r.out.ask, 1500 + 2000 - 2000);
    /* 3: VM 2 back at its minimum leaves the queue: VM 1 is served, the
     * 300 nobody demands is headroom. */
    struct tkm_vm p3[2] = {vm(1, 200, 1300), vm(2, 200, 0)};
    period(&r, p3, 2, s, 3, 2000);
    assert_targets(&r, 2, (uint64_t[]){1500 + 150, 200 + 150});
    assert_int_equal(r.out.ask, 0);
    /* 4: VM 2 asks again: now behind VM 1. */
    struct tkm_vm p4[2] = {vm(1, 1500, 0), vm(2, 1500, 500)};
    period(&r, p4, 2, s, 3, 2000);
    assert_targets(&r, 2, (uint64_t[]){1500, 500});
    /* 5: VM 1 gone, VM 3 new and asking: VM 2 came first. */
    struct tkm_vm p5[2] = {vm(3, 1000, 1000), vm(2, 1500, 500)};
    period(&r, p5, 2, s, 3, 2000);
    assert_targets(&r, 2, (uint64_t[]){200, 1800});
    stop(&r);
}

static void test_direct_assign(void **state)
{
    (void)state;
    struct run r;
    start(&r, "direct-assign");
    struct tkm_vm vms[3] = {vm(1, 2000, 500), vm(2, 400, 0), vm(3, 600, 400)};
    /* Short: the smallest requests whole first (VM 2, VM 3), VM 1 the rest. */
    period(&r, vms, 3, NULL, 0, 3000);
    assert_targets(&r, 3, (uint64_t[]){1600, 400, 1000});
    assert_int_equal(r.out.ask, 2500 + 400 + 1000 - 3000);
    assert_int_equal(r.wanted[0].pages, 2500);
    /* Pages enough: each its demand and no more (no headroom). */
    period(&r, vms, 3, NULL, 0, 10000);
    assert_targets(&r, 3, (uint64_t[]){2500, 400, 1000});
    assert_int_equal(r.out.ask, 0);
    /* VM 2 guaranteed 600, above its demand of 400: 600. */
    struct ft_vm_settings s[1] = {set(2, 600, VM_TARGET_UNLIMITED, 1)};
    period(&r, vms, 3, s, 1, 3000);
    assert_targets(&r, 3, (uint64_t[]){1400, 600, 1000});
    stop(&r);
}

/* The credit scheme alone: endowment by minimum, rent, 5 % a second,
 * redistribution by minimum, gone and new VMs, credits conserved. */
static void test_credits_over_periods(void **state)
{
    (void)state;
    struct credits *c = calloc(1, sizeof *c);
    assert_non_null(c);
    struct ft_vm_settings s[3] = {set(1, 1000, VM_TARGET_UNLIMITED, 1),
                                  set(2, 3000, VM_TARGET_UNLIMITED, 1),
                                  set(3, 0, VM_TARGET_UNLIMITED, 1)};
    struct tkm_vm vms[2] = {vm(1, 1000, 0), vm(2, 3000, 0)};
    struct ft_input in = {vms, 2, NULL, 0, 10000, 10000, s, 3, 1000};
    /* 1: 20 s of each minimum; no rent; the 5 % taken comes back 1:3,
     * which is what each gave: unchanged. */
    credits_period(c, &in, 5);
    assert_int_equal(c->vms.slot[0].value, 20000000);
    assert_int_equal(c->vms.slot[1].value, 60000000);
    /* 2: VM 1 used 500 pages above its minimum for 1000 ms: pays 500000;
     * then 5 % of 19500000 and of 60000000; the 4475000 back 1:3. */
    vms[0].used = 1500;
    credits_period(c, &in, 5);
    assert_int_equal(c->vms.slot[0].value, 19500000 - 975000 + 1118750);
    assert_int_equal(c->vms.slot[1].value, 60000000 - 3000000 + 3356250);
    assert_int_equal(c->vms.slot[0].value + c->vms.slot[1].value, 80000000);
    /* 3, 2500 ms: VM 2 gone (its credits shared out), VM 3 new with a
     * minimum of 0 (counts as 1: 20000 credits); 5 % a second compounded
     * over 2.5 s keeps 879938 ppm. */
    vms[0].used = 1000;
    vms[1] = vm(3, 0, 0);
    in.period_ms = 2500;
    credits_period(c, &in, 5);
    assert_int_equal(c->vms.slot[0].vm, 1);
    assert_int_equal(c->vms.slot[1].vm, 3);
    assert_int_equal(c->vms.slot[0].value, 79939748);
    assert_int_equal(c->vms.slot[1].value, 80252);
    assert_int_equal(c->vms.slot[0].value + c->vms.slot[1].value, 80000000 + 20000);
    /* 0 %: nothing taken but the rent, which all comes back by minimum. */
    uint64_t before = c->vms.slot[1].value;
    in.period_ms = 1000;
    credits_period(c, &in, 0);
    assert_int_equal(c->vms.slot[1].value, before);
    vms[1].used = 10; /* above its minimum of 0: rent 10000 */
    credits_period(c, &in, 0);
    assert_int_equal(c->vms.slot[1].value, before - 10000 + 10000 / 1001);
    free(c);
}

/* A hog drains its credits; a VM that saved them outbids it (auction) or
 * is held to what it can pay for (round-robin). */
static void test_auction_and_round_robin_over_periods(void **state)
{
    (void)state;
    struct ft_vm_settings s[2] = {set(1, 100, VM_TARGET_UNLIMITED, 1),
                                  set(2, 100, VM_TARGET_UNLIMITED, 1)};
    struct tkm_vm p1[2] = {vm(1, 2100, 900), vm(2, 100, 0)};
    struct tkm_vm p2[2] = {vm(1, 2900, 100), vm(2, 100, 2900)};
    struct tkm_vm p3[2] = {vm(1, 100, 2900), vm(2, 2900, 100)};
    static const uint64_t auction[3][2] = {{2900, 100}, {100, 2900}, {899, 2101}};
    static const uint64_t round_robin[3][2] = {{2900, 100}, {698, 2302}, {1500, 1500}};
    const char *names[2] = {"auction", "round-robin"};
    for (int k = 0; k < 2; k++) {
        const uint64_t(*want)[2] = k ? round_robin : auction;
        struct run r;
        start(&r, names[k]);
        assert_int_equal(r.params.flexmem.credit_percent, 5);
        /* 1: VM 1 alone asks: it gets all (beyond its 2000 credited pages:
         * no page is left idle) and pays its 2000 x 1000 ms of rent. */
        period(&r, p1, 2, s, 2, 3000);
        assert_targets(&r, 2, want[0]);
        assert_int_equal(r.out.ask, 100);
        /* 2: both ask 2900 above the minimum. VM 1 has 598750 credits
         * left (598 pages), VM 2 3401250. */
        period(&r, p2, 2, s, 2, 3000);
        assert_targets(&r, 2, want[1]);
        assert_int_equal(r.out.ask, 3000);
        /* 3: VM 2 paid its 2800 pages (all of 3401250 less 5 %), VM 1
         * paid none above its minimum: 1998813 against 2001187. */
        period(&r, p3, 2, s, 2, 3000);
        assert_targets(&r, 2, want[2]);
        stop(&r);
    }
}

/* Round-robin's turns start one VM further every period. */
static void test_round_robin_turns_rotate(void **state)
{
    (void)state;
    struct run r;
    start(&r, "round-robin");
    struct ft_vm_settings s[3] = {set(1, 100, VM_TARGET_UNLIMITED, 1),
                                  set(2, 100, VM_TARGET_UNLIMITED, 1),
                                  set(3, 100, VM_TARGET_UNLIMITED, 1)};
    struct tkm_vm vms[3] = {vm(1, 100, 1000), vm(2, 100, 1000), vm(3, 100, 1000)};
    /* 1001 above the minimums: 333 each, the 2 left from VM 1, then VM 2,
     * then VM 3. */
    period(&r, vms, 3, s, 3, 1301);
    assert_targets(&r, 3, (uint64_t[]){434, 434, 433});
    period(&r, vms, 3, s, 3, 1301);
    assert_targets(&r, 3, (uint64_t[]){433, 434, 434});
    period(&r, vms, 3, s, 3, 1301);
    assert_targets(&r, 3, (uint64_t[]){434, 433, 434});
    stop(&r);
}

/* Every policy, over periods of made-up samples with VMs coming and going:
 * one target per VM in order, within the pages owned, never above the cap,
 * never below the minimum while the minimums fit; the ask is what the
 * wanted targets pass the pages owned by. */
static void test_every_policy_holds_the_bounds(void **state)
{
    (void)state;
    static const char *names[] = {"proportional", "fcfs", "demand-prop",
                                  "direct-assign", "auction", "round-robin"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        struct run r;
        start(&r, names[k]);
        uint64_t x = 12345 + k;
        for (int p = 0; p < 60; p++) {
            struct tkm_vm vms[MAXN];
            struct ft_vm_settings s[MAXN];
            size_t n = 1 + (size_t)(p * 7 + k) % MAXN;
            uint64_t owned = 0, mins = 0;
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005u + 1442695040888963407u;
                uint32_t id = (uint32_t)((i * 3 + (size_t)p / 5) % 13); /* VMs come and go */
                for (size_t j = 0; j < i; j++)
                    if (vms[j].vm == id)
                        id = (uint32_t)(20 + i);
                vms[i] = vm(id, (x >> 8) % 3000, (x >> 20) % 2 ? (x >> 24) % 2000 : 0);
                s[i] = set(id, (x >> 32) % 600, (x >> 40) % 4 ? VM_TARGET_UNLIMITED : 2500,
                           1 + (uint32_t)((x >> 44) % 5));
                mins += vm_floor(&s[i]);
                owned += 700;
            }
            owned = (x >> 50) % 3 ? owned : owned / 3; /* sometimes short of the minimums */
            period(&r, vms, n, s, n, owned);
            for (size_t i = 0; i < n; i++) {
                assert_true(r.targets[i].pages <= s[i].max_pages);
                if (mins <= owned)
                    assert_true(r.targets[i].pages >= vm_floor(&s[i]));
            }
            if (!strcmp(names[k], "proportional")) {
                assert_int_equal(r.out.ask, 0);
                continue;
            }
            uint64_t wanted = targets_sum(r.wanted, n);
            for (size_t i = 0; i < n; i++)
                assert_true(r.wanted[i].pages >= r.targets[i].pages);
            assert_int_equal(r.out.ask, wanted > owned ? wanted - owned : 0);
        }
        stop(&r);
    }
}

/* More VMs than the state's tables: each its minimum, fitted. */
static void test_too_many_vms(void **state)
{
    (void)state;
    enum { N = FLEX_MAX_VMS + 1 };
    struct tkm_vm *vms = calloc(N, sizeof *vms);
    struct ft_vm_settings *s = calloc(N, sizeof *s);
    struct vm_target *t = calloc(N, sizeof *t);
    assert_true(vms && s && t);
    for (uint32_t i = 0; i < N; i++) {
        vms[i] = vm(i, 50, 50);
        s[i] = set(i, 10, VM_TARGET_UNLIMITED, 1);
    }
    const struct ft_policy *p = ft_policy_find("fcfs");
    void *st = calloc(1, p->state_size);
    struct ft_params params;
    memset(&params, 0, sizeof params);
    struct ft_input in = {vms, N, NULL, 0, 100000, 100000, s, N, 1000};
    struct ft_output out = {t, NULL, 99, NULL};
    p->decide(&params, st, &in, &out);
    assert_int_equal(t[N - 1].vm, N - 1);
    assert_int_equal(t[N - 1].pages, 10);
    assert_int_equal(targets_sum(t, N), 10 * N);
    assert_int_equal(out.ask, 0);
    free(st);
    free(t);
    free(s);
    free(vms);
}

static int one_setting(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    const long long *value = ctx;
    if (strcmp(name, "flexmem_credit_percent") != 0)
        return 0;
    if (*value < lo || *value > hi)
        return -1;
    *v = *value;
    return 1;
}

static void test_registry_and_settings(void **state)
{
    (void)state;
    static const char *names[] = {"proportional", "fcfs", "demand-prop",
                                  "direct-assign", "auction", "round-robin"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        const struct ft_policy *p = ft_policy_find(names[k]);
        assert_non_null(p);
        assert_true(p->sets_targets);
        assert_true(p->state_size > 0);
    }
    char list[512];
    ft_policy_names(list, sizeof list);
    assert_non_null(strstr(list, "proportional, fcfs, demand-prop, direct-assign, auction, "
                                 "round-robin"));
    assert_true(ft_setting_known("flexmem_credit_percent"));
    long long value = 0;
    struct policy_settings in = {&value, one_setting, NULL, NULL};
    struct ft_params p;
    assert_int_equal(ft_params_parse(&in, &p), 0);
    assert_int_equal(p.flexmem.credit_percent, 0);
    value = 100;
    assert_int_equal(ft_params_parse(&in, &p), 0);
    assert_int_equal(p.flexmem.credit_percent, 100);
    value = 101;
    assert_int_equal(ft_params_parse(&in, &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_add_water_fills),
        cmocka_unit_test(test_proportional),
        cmocka_unit_test(test_demand_prop),
        cmocka_unit_test(test_fcfs_arrival_order),
        cmocka_unit_test(test_direct_assign),
        cmocka_unit_test(test_credits_over_periods),
        cmocka_unit_test(test_auction_and_round_robin_over_periods),
        cmocka_unit_test(test_round_robin_turns_rotate),
        cmocka_unit_test(test_every_policy_holds_the_bounds),
        cmocka_unit_test(test_too_many_vms),
        cmocka_unit_test(test_registry_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
