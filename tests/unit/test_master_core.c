/* Master core: Register edge, join announcements, refusals that change
 * nothing, table rebuild from Statistics after a master restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "audit.h"
#include "core_util.h"
#include "master_core.h"
#include "second_tier.h"

struct fixture {
    struct vmca_config cfg;
    struct master_core m;
    int warnings;
    int64_t now;                      /* the audit's clock */
};

static void count_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct fixture *f = arg;
    if (level <= VMCA_LOG_WARN)
        f->warnings++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    load_demo(&f->cfg);
    assert_int_equal(master_core_init(&f->m, &f->cfg, 77, count_log, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    master_core_free(&f->m);
    vmca_config_free(&f->cfg);
    free(f);
    return 0;
}

/* Hands `env` (its body set) to the master as node's, life `inc`. */
static int deliver(struct fixture *f, uint32_t node, uint64_t inc, Vmca__Envelope *env,
                   int64_t now)
{
    env->version = 1;
    env->from = node;
    env->incarnation = inc;
    return master_core_on_message(&f->m, node, env, now);
}

static int do_register(struct fixture *f, uint32_t node, uint32_t claims, uint64_t inc)
{
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = claims;
    reg.local_pages = 1000 * node;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    return deliver(f, node, inc, &env, 1000);
}

static int send_stats(struct fixture *f, uint32_t node, Vmca__Statistics *st, int64_t now)
{
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = st;
    return deliver(f, node, 5, &env, now);
}

/* Statistics saying `view`, listing the nodes of `bits` (ids 1..7) as
 * enabled. */
static int stats_view(struct fixture *f, uint32_t node, Vmca__NodeState view, uint8_t bits,
                      int64_t now)
{
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.state = view;
    st.total_pages = 500;
    st.free_pages = 400;
    st.enabled_bitmap.data = &bits;
    st.enabled_bitmap.len = 1;
    return send_stats(f, node, &st, now);
}

static int stats_enabling(struct fixture *f, uint32_t node, uint8_t bits, int64_t now)
{
    return stats_view(f, node, VMCA__NODE_STATE__NODE_ACTIVE, bits, now);
}

/* Statistics of a well-behaved slave: it has enabled the nodes the master
 * has Active (the demo's ids fit in one byte). */
static int do_stats(struct fixture *f, uint32_t node, Vmca__NodeState view, int64_t now)
{
    uint8_t bits = 0;
    for (uint32_t i = 1; i < 8; i++) {
        const struct master_node *x = master_core_node(&f->m, i);
        if (x && x->state == VMCA__NODE_STATE__NODE_ACTIVE)
            bits |= (uint8_t)(1u << i);
    }
    return stats_view(f, node, view, bits, now);
}

static int do_leave_req(struct fixture *f, uint32_t node, uint64_t inc, int64_t now)
{
    Vmca__LeaveReq lr = VMCA__LEAVE_REQ__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_REQ;
    env.leave_req = &lr;
    return deliver(f, node, inc, &env, now);
}


static void assert_enable(const struct sent *s, uint32_t to, const uint32_t *nodes, size_t n)
{
    assert_int_equal(s->to, to);
    assert_int_equal(s->env->body_case, VMCA__ENVELOPE__BODY_ENABLE_NODE);
    assert_true(s->env->enable_node->enable);
    assert_int_equal(s->env->enable_node->n_nodes, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s->env->enable_node->nodes[i], nodes[i]);
}

static void test_register_announces(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    assert_int_equal(master_core_node(&f->m, 1)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    assert_int_equal(do_register(f, 1, 1, 11), 0);
    assert_int_equal(master_core_node(&f->m, 1)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_enable(&s[0], 1, (uint32_t[]){1}, 1);
    assert_int_equal(s[0].env->from, f->cfg.master.node_id);
    free_sent(s, n);

    assert_int_equal(do_register(f, 3, 3, 33), 0);
    n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 2);
    assert_enable(&s[0], 1, (uint32_t[]){3}, 1);        /* old member learns of 3 */
    assert_enable(&s[1], 3, (uint32_t[]){1, 3}, 2);     /* 3 gets the enabled set */
    assert_true(s[1].env->seq > s[0].env->seq);
    free_sent(s, n);
    assert_int_equal(master_core_node(&f->m, 3)->local_pages, 3000);
    assert_true(master_core_node(&f->m, 3)->incarnation == 33);
    assert_int_equal(f->warnings, 0);
}

static void test_register_resend_is_idempotent(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    assert_int_equal(do_register(f, 2, 2, 22), 0);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(do_register(f, 2, 2, 22), 0);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_enable(&s[0], 2, (uint32_t[]){2}, 1);
    free_sent(s, n);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_ACTIVE);
}

static void test_refusals_change_nothing(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    assert_int_equal(do_register(f, 2, 2, 22), 0);
    free_sent(s, take_sent(&f->m.out, s, 8));
    struct master_node before = *master_core_node(&f->m, 2);

    /* A node cannot register another one. */
    assert_int_equal(do_register(f, 1, 2, 11), VMCA_ERR_AUTH);
    assert_int_equal(master_core_node(&f->m, 1)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    /* Statistics from a node that never registered and says so. */
    assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_INACTIVE, 10), VMCA_ERR_STATE);
    assert_int_equal(master_core_node(&f->m, 3)->last_stats_ms, -1);
    /* A master-to-slave message sent to the master. */
    Vmca__GrantFwd fwd = VMCA__GRANT_FWD__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_FWD;
    env.grant_fwd = &fwd;
    assert_int_equal(master_core_on_message(&f->m, 2, &env, 10), VMCA_ERR_PROTO);
    /* Unknown node id. */
    assert_int_equal(master_core_on_message(&f->m, 99, &env, 10), VMCA_ERR_AUTH);

    const struct master_node *after = master_core_node(&f->m, 2);
    assert_int_equal(after->state, before.state);
    assert_true(after->incarnation == before.incarnation);
    assert_int_equal(after->local_pages, before.local_pages);
    assert_int_equal(after->last_stats_ms, before.last_stats_ms);
    assert_int_equal(after->stats_count, before.stats_count);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 0);
    int warned = f->warnings;
    assert_true(warned >= 3);
    /* The same refusal again is not logged again. */
    assert_int_equal(do_register(f, 1, 2, 11), VMCA_ERR_AUTH);
    assert_int_equal(f->warnings, warned);
}

static void test_rebuild_from_statistics(void **state)
{
    struct fixture *f = *state;
    /* A restarted master hears Statistics from a node that is Active. */
    assert_int_equal(do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, 5000), 0);
    const struct master_node *n = master_core_node(&f->m, 2);
    assert_int_equal(n->state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(n->last_stats_ms, 5000);
    assert_int_equal(n->stats_count, 1);
    assert_int_equal(n->free_pages, 400);
    assert_int_equal(do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, 6000), 0);
    assert_int_equal(n->stats_count, 2);
    assert_int_equal(n->last_stats_ms, 6000);
}

static void test_connection_tracking(void **state)
{
    struct fixture *f = *state;
    master_core_on_connect(&f->m, 3, 9, 1);
    assert_true(master_core_node(&f->m, 3)->connected);
    master_core_on_disconnect(&f->m, 3, 2);
    assert_false(master_core_node(&f->m, 3)->connected);
    master_core_on_connect(&f->m, 4242, 9, 1);   /* unknown: ignored */
    assert_null(master_core_node(&f->m, 4242));
    assert_string_equal(vmca_state_name(VMCA__NODE_STATE__NODE_RECOVERY), "recovery");
}

static int do_grant_any(struct fixture *f, uint32_t node, uint32_t names, uint64_t pages)
{
    Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
    ga.node = names;
    ga.pages = pages;
    ga.req = 42;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
    env.grant_any = &ga;
    return master_core_on_message(&f->m, node, &env, 2000);
}

static void test_grant_any_forwards(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    /* An inactive node may not ask. */
    assert_int_equal(do_grant_any(f, 1, 1, 100), VMCA_ERR_STATE);
    for (uint32_t n = 1; n <= 3; n++) {
        assert_int_equal(do_register(f, n, n, n), 0);
        master_core_on_connect(&f->m, n, n, 0);
    }
    free_sent(s, take_sent(&f->m.out, s, 8));
    /* Donors' free pages from Statistics: node2 has the most. */
    do_stats(f, 1, VMCA__NODE_STATE__NODE_ACTIVE, 1000);
    do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, 1000);
    do_stats(f, 3, VMCA__NODE_STATE__NODE_ACTIVE, 1000);
    f->m.nodes[1].free_pages = 3000;
    f->m.nodes[2].free_pages = 2000;
    uint64_t reserve = f->cfg.policy.reserve_pages;
    assert_int_equal(do_grant_any(f, 1, 1, 500), 0);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].to, 2);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_GRANT_FWD);
    assert_int_equal(s[0].env->grant_fwd->donor, 2);
    assert_int_equal(s[0].env->grant_fwd->requester, 1);
    assert_int_equal(s[0].env->grant_fwd->pages, 500);
    assert_int_equal(s[0].env->grant_fwd->req, 42);
    free_sent(s, n);
    /* The promise is remembered: the next request goes elsewhere or is split. */
    assert_int_equal(master_core_node(&f->m, 2)->free_pages, 3000);
    assert_int_equal(master_node_spoken_for(master_core_node(&f->m, 2)), 500);
    assert_int_equal(do_grant_any(f, 1, 1, 2500 - reserve + 1), 0);
    n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].env->grant_fwd->pages + s[1].env->grant_fwd->pages, 2500 - reserve + 1);
    free_sent(s, n);
    /* A node asking for another, or for nothing, is refused. */
    assert_int_equal(do_grant_any(f, 1, 3, 10), VMCA_ERR_PROTO);
    assert_int_equal(do_grant_any(f, 1, 1, 0), VMCA_ERR_PROTO);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
}

static size_t count_body(struct sent *s, size_t n, int body, uint32_t to)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (int)s[i].env->body_case == body && (to == 0 || s[i].to == to);
    return k;
}

/* The only fencing action queued is: fence `node`. */
static void assert_fenced(struct fixture *f, uint32_t node)
{
    size_t nf;
    struct master_fence *fc = master_core_take_fences(&f->m, &nf);
    assert_int_equal(nf, 1);
    assert_int_equal(fc[0].node, node);
    assert_true(fc[0].fenced);
    free(fc);
}

/* Nodes 1..3 registered and connected; what that sent is dropped. */
static void three_members(struct fixture *f)
{
    struct sent s[16];
    size_t nf;
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(do_register(f, i, i, i), 0);
        master_core_on_connect(&f->m, i, i, 0);
    }
    free(master_core_take_fences(&f->m, &nf));
    assert_int_equal(nf, 3);                     /* every registration lifts a fence */
    free_sent(s, take_sent(&f->m.out, s, 16));
}

/* Statistics of an Active node with `free` pages free (it has enabled
 * nodes 1..3). */
static int stats_free(struct fixture *f, uint32_t node, uint64_t free, int64_t now)
{
    uint8_t bits = 0x0e;
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.total_pages = 8192;
    st.free_pages = free;
    st.enabled_bitmap.data = &bits;
    st.enabled_bitmap.len = 1;
    return send_stats(f, node, &st, now);
}

/* The pages of the Grant-Fwds queued, to `to` (0: any), dropping them all;
 * *n_fwd counts them. */
static uint64_t forwarded(struct fixture *f, uint32_t to, size_t *n_fwd)
{
    struct sent s[16];
    size_t n = take_sent(&f->m.out, s, 16);
    uint64_t pages = 0;
    *n_fwd = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].env->body_case == VMCA__ENVELOPE__BODY_GRANT_FWD && (!to || s[i].to == to)) {
            pages += s[i].env->grant_fwd->pages;
            (*n_fwd)++;
        }
    free_sent(s, n);
    return pages;
}

/* R = 1024; nodes 1..3 Active and connected with Statistics: node 2 (the
 * one returned) the only donor with pages above the reserve (donor_free),
 * node 3 at the reserve. */
static const struct master_node *one_donor(struct fixture *f, uint64_t donor_free)
{
    size_t nf;
    f->cfg.policy.reserve_pages = 1024;
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(do_register(f, i, i, i), 0);
        master_core_on_connect(&f->m, i, i, 0);
    }
    free(master_core_take_fences(&f->m, &nf));
    assert_int_equal(stats_free(f, 1, 0, 1000), 0);
    assert_int_equal(stats_free(f, 2, donor_free, 1000), 0);
    assert_int_equal(stats_free(f, 3, f->cfg.policy.reserve_pages, 1000), 0);
    forwarded(f, 0, &nf);
    return master_core_node(&f->m, 2);
}

/* The case: R = 1024, the donor has 4096 free; two Grant-Any in a
 * row, the donor's Statistics sampled before the first Grant-Fwd arrives
 * in between. Together they never take more than 4096 - R; what was
 * forwarded is released once a later Statistics shows it given. */
static void test_forwards_are_spoken_for(void **state)
{
    struct fixture *f = *state;
    const struct master_node *d = one_donor(f, 4096);
    size_t nf;
    assert_int_equal(do_grant_any(f, 1, 1, 2049), 0);
    assert_int_equal(forwarded(f, 2, &nf), 2049);
    assert_int_equal(master_node_spoken_for(d), 2049);
    /* Crosses the Grant-Fwd: still 4096 free, but 2049 are spoken for. */
    assert_int_equal(stats_free(f, 2, 4096, 1100), 0);
    assert_int_equal(master_node_spoken_for(d), 2049);
    assert_int_equal(do_grant_any(f, 1, 1, 2047), 0);
    assert_int_equal(forwarded(f, 2, &nf), 4096 - 1024 - 2049);
    assert_int_equal(master_node_spoken_for(d), 4096 - 1024);
    /* Nothing is left above the reserve: a third request gets nothing. */
    assert_int_equal(do_grant_any(f, 1, 1, 1), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    assert_int_equal(nf, 0);
    /* The next Statistics shows the first grant: it is released, the
     * second (forwarded after the crossing one) is still spoken for. */
    assert_int_equal(stats_free(f, 2, 4096 - 2049, 1200), 0);
    assert_int_equal(master_node_spoken_for(d), 1023);
    assert_int_equal(do_grant_any(f, 1, 1, 1), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    /* ... and the one after shows both: nothing is spoken for; pages the
     * guests freed since are the donor's to give again. */
    assert_int_equal(stats_free(f, 2, 1024 + 500, 1300), 0);
    assert_int_equal(master_node_spoken_for(d), 0);
    assert_int_equal(do_grant_any(f, 1, 1, 800), 0);
    assert_int_equal(forwarded(f, 2, &nf), 500);
}

/* A Grant-Fwd lost with the donor's connection pins its pages only until
 * the donor's second Statistics after it (then its figures are the truth);
 * meanwhile a disconnected donor is no donor. */
static void test_lost_forward_is_released(void **state)
{
    struct fixture *f = *state;
    const struct master_node *d = one_donor(f, 4096);
    size_t nf;
    assert_int_equal(do_grant_any(f, 1, 1, 1000), 0);
    assert_int_equal(forwarded(f, 2, &nf), 1000);
    master_core_on_disconnect(&f->m, 2, 1100);  /* the Grant-Fwd is lost */
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    master_core_on_connect(&f->m, 2, 2, 1200);
    assert_int_equal(stats_free(f, 2, 4096, 1300), 0);  /* could predate it */
    assert_int_equal(master_node_spoken_for(d), 1000);
    assert_int_equal(stats_free(f, 2, 4096, 1400), 0);  /* cannot: never served */
    assert_int_equal(master_node_spoken_for(d), 0);
    assert_int_equal(do_grant_any(f, 1, 1, 3072), 0);
    assert_int_equal(forwarded(f, 2, &nf), 3072);
    assert_int_equal(nf, 1);
}

/* The master core again, running the built second tier `p`. */
static void use_policy(struct fixture *f, const struct tier2_policy *p)
{
    master_core_free(&f->m);
    snprintf(f->cfg.policy.second_tier, sizeof f->cfg.policy.second_tier, "%s", p->name);
    assert_int_equal(master_core_init(&f->m, &f->cfg, 77, count_log, f), 0);
}

/* Runs `body` once for every built second tier, each on a fresh master. */
static void for_each_policy(void **state, void (*body)(struct fixture *f))
{
    size_t i = 0;
    for (const struct tier2_policy *p; (p = tier2_at(i)); i++) {
        if (i) {
            teardown(state);
            setup(state);
        }
        use_policy(*state, p);
        body(*state);
    }
    assert_int_equal(i, 3);
}

/* Neither a Leaving nor a Recovering (so fenced) node is a donor, and
 * neither is served, nor a fenced node recovered and not registered again
 * (Inactive); a restarted master does not use a donor it adopted from its
 * Statistics until the next ones (its predecessor may have just forwarded
 * to it). Whatever the second tier: the core offers only eligible donors
 * and drops any other a policy names. */
static void donors_are_active_members(struct fixture *f)
{
    one_donor(f, 4096);
    size_t nf;
    assert_int_equal(stats_free(f, 3, 4096, 1100), 0);
    assert_int_equal(do_leave_req(f, 2, 2, 1200), 0);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_LEAVING);
    forwarded(f, 0, &nf);
    assert_int_equal(do_grant_any(f, 1, 1, 5000), 0);
    assert_int_equal(forwarded(f, 2, &nf), 0);   /* only node 3 gives */
    assert_int_equal(nf, 0);
    /* Node 3 fails: fenced and recovering, no donor either. */
    int64_t timeout = f->cfg.timing.failure_timeout_ms;
    assert_int_equal(stats_free(f, 1, 0, 1000 + timeout), 0);
    assert_int_equal(stats_free(f, 2, 4096, 1000 + timeout), 0);
    master_core_on_tick(&f->m, 1100 + timeout + 1);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_fenced(f, 3);
    forwarded(f, 0, &nf);
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    assert_int_equal(nf, 0);
    /* Neither asks. */
    assert_int_equal(do_grant_any(f, 2, 2, 100), VMCA_ERR_STATE);
    assert_int_equal(do_grant_any(f, 3, 3, 100), VMCA_ERR_STATE);
    assert_int_equal(forwarded(f, 0, &nf), 0);
}

static void test_donors_are_active_members(void **state)
{
    for_each_policy(state, donors_are_active_members);
}

/* A fenced node stays out after its recovery is over (Inactive until it
 * registers anew, its Statistics refused meanwhile): neither donor nor
 * served, with any policy; registered again, it is both. */
static void fenced_node_is_out(struct fixture *f)
{
    struct sent s[16];
    one_donor(f, 4096);
    size_t nf;
    int64_t t = f->cfg.timing.failure_timeout_ms + 1100;
    assert_int_equal(stats_free(f, 1, 0, t - 100), 0);
    assert_int_equal(stats_free(f, 3, 4096, t - 100), 0);
    master_core_on_tick(&f->m, t + 1);            /* node 2 failed: fenced */
    assert_fenced(f, 2);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    /* The others show it disabled and nothing of it held: recovered. */
    for (uint32_t i = 1; i <= 3; i += 2) {
        uint8_t bits = 0x0a;
        Vmca__Statistics st = VMCA__STATISTICS__INIT;
        st.state = VMCA__NODE_STATE__NODE_ACTIVE;
        st.total_pages = 8192;
        st.free_pages = i == 3 ? 4096 : 0;
        st.enabled_bitmap.data = &bits;
        st.enabled_bitmap.len = 1;
        assert_int_equal(send_stats(f, i, &st, t + 200), 0);
    }
    master_core_on_tick(&f->m, t + 300);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    free_sent(s, take_sent(&f->m.out, s, 16));
    /* Still fenced: its own Statistics (it believes it is Active) are
     * refused, and it neither gives nor asks. */
    assert_int_equal(stats_free(f, 2, 4096, t + 400), VMCA_ERR_STATE);
    free_sent(s, take_sent(&f->m.out, s, 16));
    assert_int_equal(stats_free(f, 3, 1024, t + 400), 0);  /* node 3 at the reserve */
    assert_int_equal(stats_free(f, 3, 1024, t + 450), 0);
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    assert_int_equal(nf, 0);
    assert_int_equal(do_grant_any(f, 2, 2, 100), VMCA_ERR_STATE);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    /* Registered anew (the fence lifted), it gives again. */
    assert_int_equal(do_register(f, 2, 2, 22), 0);
    size_t nfc;
    free(master_core_take_fences(&f->m, &nfc));
    assert_int_equal(stats_free(f, 2, 4096, t + 500), 0);
    forwarded(f, 0, &nf);
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 2, &nf), 100);
}

static void test_fenced_node_is_out(void **state)
{
    for_each_policy(state, fenced_node_is_out);
}

/* No built policy takes a donor below the reserve, over requests in a
 * row whose forwards its Statistics do not show yet: node 2 has 4096 free,
 * node 3 ten pages above R = 1024. */
static void reserve_holds(struct fixture *f)
{
    one_donor(f, 4096);
    assert_int_equal(stats_free(f, 3, 1024 + 10, 1000), 0);
    size_t nf;
    uint64_t from2 = 0, from3 = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(do_grant_any(f, 1, 1, 1500), 0);
        struct sent s[16];
        size_t n = take_sent(&f->m.out, s, 16);
        for (size_t j = 0; j < n; j++)
            if (s[j].env->body_case == VMCA__ENVELOPE__BODY_GRANT_FWD) {
                assert_int_equal(s[j].env->grant_fwd->donor, s[j].to);
                assert_true(s[j].to == 2 || s[j].to == 3);
                *(s[j].to == 2 ? &from2 : &from3) += s[j].env->grant_fwd->pages;
            }
        free_sent(s, n);
    }
    /* 6000 asked, 3072 + 10 above the reserve: all of it given, no more. */
    assert_int_equal(from2, 4096 - 1024);
    assert_int_equal(from3, 10);
    assert_int_equal(master_node_spoken_for(master_core_node(&f->m, 2)), 4096 - 1024);
    assert_int_equal(do_grant_any(f, 1, 1, 1), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
}

static void test_every_policy_keeps_the_reserve(void **state)
{
    for_each_policy(state, reserve_holds);
}

/* A policy that ignores the rules: all asked from the first donor, again
 * from the same one, and from the requester itself. */
static size_t greedy_decide(const struct tier2_request *rq, const void *params, void *state,
                            struct tier2_fwd *out, size_t cap)
{
    (void)params, (void)state;
    if (cap < 3 || rq->n_donors == 0)
        return 0;
    out[0] = (struct tier2_fwd){rq->donors[0].id, rq->pages};
    out[1] = (struct tier2_fwd){rq->donors[0].id, rq->pages};
    out[2] = (struct tier2_fwd){rq->requester, rq->pages};
    return 3;
}

/* The core holds any policy to the reserve and to the donors it offered. */
static void test_core_holds_policies_to_reserve(void **state)
{
    struct fixture *f = *state;
    static const struct tier2_policy greedy = {.name = "greedy", .decide = greedy_decide};
    const struct master_node *d = one_donor(f, 4096);
    f->m.tier2 = &greedy;
    size_t nf;
    assert_int_equal(do_grant_any(f, 1, 1, 5000), 0);
    assert_int_equal(forwarded(f, 0, &nf), 4096 - 1024);
    assert_int_equal(nf, 1);
    assert_int_equal(master_node_spoken_for(d), 4096 - 1024);
}

static void test_restarted_master_waits_for_donor(void **state)
{
    struct fixture *f = *state;
    f->cfg.policy.reserve_pages = 1024;
    size_t nf;
    master_core_on_tick(&f->m, 0);                /* the master starts */
    master_core_on_connect(&f->m, 1, 1, 0);
    master_core_on_connect(&f->m, 2, 2, 0);
    assert_int_equal(stats_free(f, 1, 0, 100), 0);
    assert_int_equal(stats_free(f, 2, 4096, 100), 0);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    forwarded(f, 0, &nf);
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 0, &nf), 0);
    assert_int_equal(nf, 0);
    assert_int_equal(stats_free(f, 2, 4096, 200), 0);
    assert_int_equal(do_grant_any(f, 1, 1, 100), 0);
    assert_int_equal(forwarded(f, 2, &nf), 100);
}

/* The second tier comes from policy.second_tier through its registry: a
 * configuration built by hand that names one not built does not start. */
static void test_second_tier_chosen_by_name(void **state)
{
    struct fixture *f = *state;
    struct master_core m;
    snprintf(f->cfg.policy.second_tier, sizeof f->cfg.policy.second_tier, "nearest");
    f->warnings = 0;
    assert_int_equal(master_core_init(&m, &f->cfg, 78, count_log, f), VMCA_ERR_CONFIG);
    assert_int_equal(f->warnings, 1);
    for (size_t i = 0; tier2_at(i); i++) {
        snprintf(f->cfg.policy.second_tier, sizeof f->cfg.policy.second_tier, "%s",
                 tier2_at(i)->name);
        assert_int_equal(master_core_init(&m, &f->cfg, 78, count_log, f), 0);
        assert_ptr_equal(m.tier2, tier2_at(i));
        assert_true(!m.tier2->state_bytes || m.tier2_state);
        master_core_free(&m);
    }
}

static void test_recovery_and_failure_detection(void **state)
{
    struct fixture *f = *state;
    struct sent s[16];
    size_t n, nf;
    three_members(f);
    /* Node 2 comes back with a new incarnation: it crashed and rebooted. */
    assert_int_equal(do_register(f, 2, 2, 99), 0);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 1), 1);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 3), 1);
    assert_int_equal(s[0].env->invalidate_node->node, 2);
    free_sent(s, n);
    /* It may not register until recovery is done. */
    assert_int_equal(do_register(f, 2, 2, 99), VMCA_ERR_STATE);
    /* A master that just started waits a failure timeout for members to
     * report before completing any flow. */
    int64_t settled = 1000 + f->cfg.timing.failure_timeout_ms;
    do_stats(f, 1, VMCA__NODE_STATE__NODE_ACTIVE, settled - 2);
    stats_enabling(f, 3, 0x0e, settled - 2);      /* still lists node 2 enabled */
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);
    master_core_on_tick(&f->m, settled);          /* settled, but node 3 not clear yet */
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, 0), 0);
    /* The flow message goes again to the member not clear yet, only to it. */
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 3), 1);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 1), 0);
    free_sent(s, n);
    do_stats(f, 3, VMCA__NODE_STATE__NODE_ACTIVE, settled + 1);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, 2), 1);
    /* ... and every home takes a census (leak-free recovery). */
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 1), 1);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 3), 1);
    free_sent(s, n);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    assert_int_equal(do_register(f, 2, 2, 99), 0);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&f->m.out, s, 16));
    struct master_fence *fc = master_core_take_fences(&f->m, &nf);
    assert_int_equal(nf, 1);
    assert_int_equal(fc[0].node, 2);
    assert_false(fc[0].fenced);
    free(fc);

    /* Node 3's connection drops; it is declared failed only after the
     * failure timeout without statistics, then fenced and recovered. */
    int64_t t0 = 10000, timeout = f->cfg.timing.failure_timeout_ms;
    for (uint32_t i = 1; i <= 3; i++)
        do_stats(f, i, VMCA__NODE_STATE__NODE_ACTIVE, t0);
    master_core_on_disconnect(&f->m, 3, t0);
    do_stats(f, 1, VMCA__NODE_STATE__NODE_ACTIVE, t0 + timeout - 1);
    do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, t0 + timeout - 1);
    master_core_on_tick(&f->m, t0 + timeout - 1);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);
    master_core_on_tick(&f->m, t0 + timeout);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_fenced(f, 3);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 0), 2);
    free_sent(s, n);
    /* Once recovering it is not declared failed again. */
    do_stats(f, 1, VMCA__NODE_STATE__NODE_ACTIVE, t0 + 10 * timeout);
    do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, t0 + 10 * timeout);
    master_core_on_tick(&f->m, t0 + 10 * timeout);
    free(master_core_take_fences(&f->m, &nf));
    assert_int_equal(nf, 0);
}

/* A home whose Statistics say it owes a census (its trigger was lost, say
 * with a master crash) is asked for one: not while a recovery is in
 * progress, not before a restarted master has waited for its members, and
 * not more often than a census takes. */
static void test_census_owed(void **state)
{
    struct fixture *f = *state;
    struct sent s[16];
    size_t n;
    three_members(f);
    uint8_t bits = (1u << 1) | (1u << 2) | (1u << 3);
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.total_pages = 500;
    st.enabled_bitmap.data = &bits;
    st.enabled_bitmap.len = 1;
    st.census_owed = 1;
    int64_t settled = 1000 + f->cfg.timing.failure_timeout_ms;
    int64_t patience = 10 * (int64_t)f->cfg.timing.stats_interval_ms;
    assert_int_equal(send_stats(f, 3, &st, settled - 1), 0);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);  /* a restarted master waits */
    assert_int_equal(send_stats(f, 3, &st, settled), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].to, 3);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_CENSUS);
    assert_int_equal(s[0].env->census->home, 3);
    assert_int_equal(s[0].env->census->n_members, 3);
    free_sent(s, n);
    /* Not again before a slave would have given that census up ... */
    assert_int_equal(send_stats(f, 3, &st, settled + patience - 1), 0);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);
    /* ... but again after, while it is still owed. */
    assert_int_equal(send_stats(f, 3, &st, settled + patience), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 3), 1);
    free_sent(s, n);
    /* Not owed: nothing asked. */
    st.census_owed = 0;
    assert_int_equal(send_stats(f, 1, &st, settled + 2 * patience), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 0), 0);
    free_sent(s, n);
    /* A leaving home is asked too: its leave ends only with its pages. */
    assert_int_equal(do_leave_req(f, 1, 1, settled + 2 * patience), 0);
    assert_int_equal(master_core_node(&f->m, 1)->state, VMCA__NODE_STATE__NODE_LEAVING);
    free_sent(s, take_sent(&f->m.out, s, 16));
    st.census_owed = 1;
    st.state = VMCA__NODE_STATE__NODE_LEAVING;
    assert_int_equal(send_stats(f, 1, &st, settled + 2 * patience + 1), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 1), 1);
    free_sent(s, n);
    /* ... and a leaving node is asked in every home's census: it may still
     * own pages of the home (in use, not moved yet). */
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    assert_int_equal(send_stats(f, 3, &st, settled + 2 * patience + 2), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->census->home, 3);
    bool leaving_asked = false;
    for (size_t i = 0; i < s[0].env->census->n_members; i++)
        leaving_asked |= s[0].env->census->members[i] == 1;
    assert_true(leaving_asked);
    free_sent(s, n);
    /* Node 2 is being recovered: the Invalidate may not be applied
     * everywhere yet, so no census now. */
    assert_int_equal(do_register(f, 2, 2, 99), 0);
    free_sent(s, take_sent(&f->m.out, s, 16));
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    assert_int_equal(send_stats(f, 3, &st, settled + 4 * patience), 0);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_CENSUS, 0), 0);
    free_sent(s, n);
}

/* Statistics with pages owned per home (pairs), transfers in transit and
 * one VM's target (UINT64_MAX: none). */
static void stats_owned(struct fixture *f, uint32_t node, const uint64_t (*own)[2], size_t n,
                        uint32_t pending, uint64_t total, uint64_t target, int64_t now)
{
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    Vmca__HomePages hp[4], *hpp[4];
    for (size_t i = 0; i < n; i++) {
        vmca__home_pages__init(&hp[i]);
        hp[i].node = (uint32_t)own[i][0];
        hp[i].pages = own[i][1];
        hpp[i] = &hp[i];
    }
    Vmca__VmStats vm = VMCA__VM_STATS__INIT, *vmp = &vm;
    vm.vm = 1;
    vm.mm_target = target;
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.owned = hpp;
    st.n_owned = n;
    st.pending_transfers = pending;
    st.total_pages = total;
    st.vms = &vmp;
    st.n_vms = 1;
    assert_int_equal(send_stats(f, node, &st, now), 0);
}

/* Issue 9, item 1: a member whose Statistics stop is failed even though its
 * connection stays open (a stopped slave, or one whose hypervisor is down
 * or hung and so stops vouching for the node); when it speaks again with
 * the recovered life it is told to register anew. */
static void test_hung_member_is_failed(void **state)
{
    struct fixture *f = *state;
    struct sent s[16];
    size_t n, nf;
    three_members(f);
    int64_t t0 = 20000, timeout = f->cfg.timing.failure_timeout_ms;
    for (uint32_t i = 1; i <= 3; i++)
        do_stats(f, i, VMCA__NODE_STATE__NODE_ACTIVE, t0);
    free_sent(s, take_sent(&f->m.out, s, 16));
    /* Node 3 stays connected and says nothing more. */
    assert_true(master_core_node(&f->m, 3)->connected);
    do_stats(f, 1, VMCA__NODE_STATE__NODE_ACTIVE, t0 + timeout - 1);
    do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, t0 + timeout - 1);
    master_core_on_tick(&f->m, t0 + timeout - 1);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    int warned = f->warnings;
    master_core_on_tick(&f->m, t0 + timeout);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_true(f->warnings > warned);           /* "node 3 ... failed ...: active -> recovery" */
    assert_fenced(f, 3);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 1), 1);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, 2), 1);
    free_sent(s, n);
    /* The members drop it: recovered. */
    stats_enabling(f, 1, 0x06, t0 + timeout + 1);
    stats_enabling(f, 2, 0x06, t0 + timeout + 1);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, 3), 1);
    free_sent(s, n);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    /* It resumes: its Statistics (still "active") get Invalidate-Notify
     * again and change nothing. */
    assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_ACTIVE, t0 + timeout + 2),
                     VMCA_ERR_STATE);
    n = take_sent(&f->m.out, s, 16);
    assert_int_equal(n, 1);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, 3), 1);
    free_sent(s, n);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    /* A node that registers and never reports is failed a timeout later. */
    assert_int_equal(do_register(f, 3, 3, 333), 0);  /* at 1000 */
    free_sent(s, take_sent(&f->m.out, s, 16));
    free(master_core_take_fences(&f->m, &nf));
    master_core_on_tick(&f->m, t0 + timeout + 3);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    free(master_core_take_fences(&f->m, &nf));
    free_sent(s, take_sent(&f->m.out, s, 16));
}

/* Issue 9, item 4: outside a restarted master's rebuild window, a node the
 * master holds Inactive cannot make itself (or be made by a member's
 * Statistics) a member: Statistics, Leave-Req and Grant-Any from it are
 * refused, logged once, and change nothing. */
static void test_forged_state_refused(void **state)
{
    struct fixture *f = *state;
    struct sent s[16];
    for (uint32_t i = 1; i <= 2; i++) {
        assert_int_equal(do_register(f, i, i, i), 0);  /* the first event: t = 1000 */
        master_core_on_connect(&f->m, i, i, 1000);
    }
    free_sent(s, take_sent(&f->m.out, s, 16));
    int64_t late = 1000 + (int64_t)f->cfg.timing.failure_timeout_ms +
                   (int64_t)f->cfg.timing.reconnect_max_ms;
    assert_true(master_core_rebuilding(&f->m, late - 1));
    assert_false(master_core_rebuilding(&f->m, late));
    master_core_on_connect(&f->m, 3, 3, late);
    free_sent(s, take_sent(&f->m.out, s, 16));
    /* A member's Statistics listing node 3 as enabled do not make it one. */
    assert_int_equal(stats_enabling(f, 1, 0x0e, late), 0);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    size_t n = take_sent(&f->m.out, s, 16);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_ENABLE_NODE, 0), 0);
    free_sent(s, n);
    int warned = f->warnings;
    /* Statistics claiming Active from node 3, which never registered. */
    assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_ACTIVE, late), VMCA_ERR_STATE);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    assert_int_equal(master_core_node(&f->m, 3)->last_stats_ms, -1);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);   /* no Enable-Node(3) to anyone */
    assert_int_equal(f->warnings, warned + 1);
    assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_ACTIVE, late + 200), VMCA_ERR_STATE);
    assert_int_equal(f->warnings, warned + 1);          /* logged once */
    /* ... or Leaving. */
    assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_LEAVING, late + 300), VMCA_ERR_STATE);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    /* Leave-Req from it. */
    assert_int_equal(do_leave_req(f, 3, 3, late + 400), VMCA_ERR_STATE);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_INACTIVE);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);   /* no Force-Return(3) */
    int after_leave = f->warnings;
    assert_true(after_leave > warned + 1);
    assert_int_equal(do_leave_req(f, 3, 3, late + 500), VMCA_ERR_STATE);
    assert_int_equal(f->warnings, after_leave);
    /* Grant-Any from it. */
    assert_int_equal(do_grant_any(f, 3, 3, 10), VMCA_ERR_STATE);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);
    /* A Register is the way in. */
    assert_int_equal(do_register(f, 3, 3, 3), 0);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&f->m.out, s, 16));
    /* A leaving node's same life cannot register (which would start a
     * recovery of it). */
    assert_int_equal(do_leave_req(f, 3, 3, late + 700), 0);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_LEAVING);
    free_sent(s, take_sent(&f->m.out, s, 16));
    assert_int_equal(do_register(f, 3, 3, 3), VMCA_ERR_STATE);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_LEAVING);
    assert_int_equal(take_sent(&f->m.out, s, 16), 0);
}

/* Within the rebuild window a restarted master still adopts a node from its
 * own Statistics, and a silent one its members list as enabled. */
static void test_rebuild_window_adopts(void **state)
{
    struct fixture *f = *state;
    struct sent s[16];
    master_core_on_tick(&f->m, 0);                       /* the master starts */
    assert_int_equal(stats_enabling(f, 1, 0x0e, 100), 0); /* lists 1, 2, 3 */
    assert_int_equal(master_core_node(&f->m, 1)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&f->m.out, s, 16));
    /* Node 2 reports in the window, node 3 stays silent: failed later. */
    assert_int_equal(stats_enabling(f, 2, 0x0e, 200), 0);
    int64_t timeout = f->cfg.timing.failure_timeout_ms;
    assert_int_equal(stats_enabling(f, 1, 0x0e, 100 + timeout), 0);
    assert_int_equal(stats_enabling(f, 2, 0x0e, 100 + timeout), 0);
    master_core_on_tick(&f->m, 100 + timeout);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    free_sent(s, take_sent(&f->m.out, s, 16));
    size_t nf;
    free(master_core_take_fences(&f->m, &nf));
}

static enum audit_verdict verdict(struct fixture *f, struct audit_report *r)
{
    assert_int_equal(audit_run(&f->m, f->now, r), 0);
    return r->verdict;
}

static void test_audit(void **state)
{
    struct fixture *f = *state;
    struct audit_report r;
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(do_register(f, i, i, 10 + i), 0);   /* 1000 * i pages */
        master_core_on_connect(&f->m, i, 10 + i, 1000);
    }
    assert_int_equal(verdict(f, &r), AUDIT_NOT_AT_REST);   /* nobody reported yet */
    assert_int_equal(r.unreported, 3);
    audit_report_free(&r);
    const uint64_t n1[][2] = {{1, 1000}}, n2[][2] = {{2, 1500}, {1, 0}},
                   n3[][2] = {{3, 3000}, {2, 500}};
    stats_owned(f, 1, n1, 1, 0, 1000, UINT64_MAX, 2000);
    stats_owned(f, 2, n2, 2, 0, 1500, 1500, 2000);
    stats_owned(f, 3, n3, 2, 0, 3500, UINT64_MAX, 2000);
    assert_int_equal(verdict(f, &r), AUDIT_BALANCED);
    assert_int_equal(r.n_homes, 3);
    assert_int_equal(r.homes[1].home, 2);
    assert_int_equal(r.homes[1].owned, 2000);
    assert_int_equal(r.homes[1].pages, 2000);
    assert_int_equal(r.n_targets, 1);                        /* only node 2 set one */
    assert_int_equal(r.targets[0].node, 2);
    audit_report_free(&r);
    /* A transfer in transit: pages may be on their way. */
    stats_owned(f, 3, n3, 2, 1, 3500, UINT64_MAX, 2100);
    assert_int_equal(verdict(f, &r), AUDIT_NOT_AT_REST);
    audit_report_free(&r);
    /* 100 pages of home 2 gone missing (a leak). */
    const uint64_t leak[][2] = {{3, 3000}, {2, 400}};
    stats_owned(f, 3, leak, 2, 0, 3400, UINT64_MAX, 2200);
    assert_int_equal(verdict(f, &r), AUDIT_UNBALANCED);
    assert_int_equal(r.homes[1].owned, 1900);
    audit_report_free(&r);
    /* Owned twice: node 1 also claims 100 of them. */
    const uint64_t twice[][2] = {{1, 1000}, {2, 200}};
    stats_owned(f, 3, n3, 2, 0, 3500, UINT64_MAX, 2300);
    stats_owned(f, 1, twice, 2, 0, 1200, UINT64_MAX, 2300);
    assert_int_equal(verdict(f, &r), AUDIT_UNBALANCED);
    assert_int_equal(r.homes[1].owned, 2200);
    audit_report_free(&r);
    /* I6: targets above the pages owned. */
    stats_owned(f, 1, n1, 1, 0, 1000, UINT64_MAX, 2400);
    stats_owned(f, 2, n2, 2, 0, 1500, 1501, 2400);
    assert_int_equal(verdict(f, &r), AUDIT_UNBALANCED);
    assert_int_equal(r.targets[0].sum, 1501);
    audit_report_free(&r);
    stats_owned(f, 2, n2, 2, 0, 1500, 1500, 2500);
    assert_int_equal(verdict(f, &r), AUDIT_BALANCED);
    audit_report_free(&r);
    /* A member gone: not at rest (its pages are not accounted), and the
     * audit says what is down rather than a leak. */
    master_core_on_disconnect(&f->m, 3, 2600);
    assert_int_equal(verdict(f, &r), AUDIT_NOT_AT_REST);
    assert_int_equal(r.unreported, 1);
    assert_int_equal(r.n_down, 1);
    assert_int_equal(r.down[0].node, 3);
    assert_int_equal(r.down[0].why, AUDIT_DOWN_DISCONNECTED);
    audit_report_free(&r);
    /* Connected but silent (issue 9: a hung slave, or its hypervisor down:
     * it stops its Statistics). Node 3 last reported at 2300. */
    master_core_on_connect(&f->m, 3, 13, 2700);
    int64_t interval = f->cfg.timing.stats_interval_ms;
    f->now = 2300 + 2 * interval;
    stats_owned(f, 1, n1, 1, 0, 1000, UINT64_MAX, f->now);
    stats_owned(f, 2, n2, 2, 0, 1500, 1500, f->now);
    assert_int_equal(verdict(f, &r), AUDIT_BALANCED);      /* within two intervals */
    audit_report_free(&r);
    f->now++;
    assert_int_equal(verdict(f, &r), AUDIT_NOT_AT_REST);
    assert_int_equal(r.n_down, 1);
    assert_int_equal(r.down[0].node, 3);
    assert_int_equal(r.down[0].why, AUDIT_DOWN_SILENT);
    assert_int_equal(r.down[0].silent_ms, 2 * interval + 1);
    audit_report_free(&r);
    /* Declared failed: its recovery is what is going on. */
    master_core_on_tick(&f->m, 2300 + (int64_t)f->cfg.timing.failure_timeout_ms);
    assert_int_equal(master_core_node(&f->m, 3)->state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_int_equal(verdict(f, &r), AUDIT_NOT_AT_REST);
    assert_int_equal(r.n_down, 1);
    assert_int_equal(r.down[0].why, AUDIT_DOWN_RECOVERY);
    audit_report_free(&r);
}

/* An Enable-Node lost with a dropped connection is sent again after the
 * reconnect, once, for the Active members the node has not enabled. */
static void test_enable_after_reconnect(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    for (uint32_t i = 1; i <= 3; i++) {
        assert_int_equal(do_register(f, i, i, 10 + i), 0);
        master_core_on_connect(&f->m, i, 10 + i, 1000);
    }
    free_sent(s, take_sent(&f->m.out, s, 8));
    /* Node 2 enabled itself and node 1 only: node 3's join never reached it. */
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    uint8_t bits = (1u << 1) | (1u << 2);
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.enabled_bitmap.data = &bits;
    st.enabled_bitmap.len = 1;
    assert_int_equal(send_stats(f, 2, &st, 2000), 0);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    uint32_t three = 3;
    assert_enable(&s[0], 2, &three, 1);
    free_sent(s, n);
    /* Once per connection: its next Statistics (the Enable-Node may still be
     * on its way) send nothing. */
    assert_int_equal(send_stats(f, 2, &st, 2200), 0);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    /* After a reconnect it is compared again. */
    master_core_on_disconnect(&f->m, 2, 2300);
    master_core_on_connect(&f->m, 2, 12, 2400);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(send_stats(f, 2, &st, 2500), 0);
    n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_enable(&s[0], 2, &three, 1);
    free_sent(s, n);
    /* With every Active member enabled, nothing is sent. */
    master_core_on_disconnect(&f->m, 2, 2600);
    master_core_on_connect(&f->m, 2, 12, 2700);
    free_sent(s, take_sent(&f->m.out, s, 8));
    bits |= 1u << 3;
    assert_int_equal(send_stats(f, 2, &st, 2800), 0);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
}

static void test_mem_limit(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    char err[160];
    assert_int_equal(master_core_mem_limit(&f->m, 9, 100, err, sizeof err), VMCA_ERR_INVAL);
    assert_string_equal(err, "no node 9 in the configuration");
    assert_int_equal(master_core_mem_limit(&f->m, 2, 100, err, sizeof err), VMCA_ERR_STATE);
    assert_non_null(strstr(err, "inactive, not active"));
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    assert_int_equal(do_register(f, 2, 2, 12), 0);
    master_core_on_connect(&f->m, 2, 12, 1000);
    free_sent(s, take_sent(&f->m.out, s, 8));
    /* More than the cluster has (the demo: 3 x 65536 pages): refused, no change. */
    assert_int_equal(master_core_mem_limit(&f->m, 2, 3 * 65536 + 1, err, sizeof err),
                     VMCA_ERR_INVAL);
    assert_string_equal(err, "196609 pages is more than the cluster's 196608");
    assert_int_equal(master_core_node(&f->m, 2)->mem_cap, 0);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    assert_int_equal(master_core_mem_limit(&f->m, 2, 100, err, sizeof err), 0);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].to, 2);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_MEM_LIMIT);
    assert_int_equal(s[0].env->mem_limit->pages, 100);
    free_sent(s, n);
    /* A reconnected node (its slave may have restarted) is told again. */
    master_core_on_disconnect(&f->m, 2, 1100);
    master_core_on_connect(&f->m, 2, 12, 1200);
    assert_int_equal(do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, 1300), 0);
    n = take_sent(&f->m.out, s, 8);
    assert_int_equal(count_body(s, n, VMCA__ENVELOPE__BODY_MEM_LIMIT, 2), 1);
    free_sent(s, n);
}

/* The VmLimits among what was sent to `to`, or NULL. */
static const Vmca__VmLimits *vm_limits_to(struct sent *s, size_t n, uint32_t to)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].to == to && s[i].env->body_case == VMCA__ENVELOPE__BODY_VM_LIMITS)
            return s[i].env->vm_limits;
    return NULL;
}

/* Per-VM caps (vmcactl mem-set): refused with nothing changed unless the
 * node is Active and the pages fit the cluster; the whole set is sent each
 * time, 0 lifts one, and a reconnected node gets the set again (a node
 * that registers anew too: test_vmcactl's leave and join). */
static void test_vm_caps(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    char err[320];
    assert_int_equal(master_core_vm_cap(&f->m, 9, 1, 100, err, sizeof err), VMCA_ERR_INVAL);
    assert_string_equal(err, "no node 9 in the configuration");
    assert_int_equal(master_core_vm_cap(&f->m, 2, 1, 100, err, sizeof err), VMCA_ERR_STATE);
    assert_string_equal(err, "node 2 (node2) is inactive, not active");
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    assert_int_equal(do_register(f, 2, 2, 12), 0);
    master_core_on_connect(&f->m, 2, 12, 1000);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(master_core_vm_cap(&f->m, 2, 1, 3 * 65536 + 1, err, sizeof err),
                     VMCA_ERR_INVAL);
    assert_int_equal(master_core_node(&f->m, 2)->n_vm_caps, 0);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);

    assert_int_equal(master_core_vm_cap(&f->m, 2, 7, 100, err, sizeof err), 0);
    assert_int_equal(master_core_vm_cap(&f->m, 2, 8, 200, err, sizeof err), 0);
    assert_int_equal(master_core_vm_cap(&f->m, 2, 7, 50, err, sizeof err), 0); /* replaced */
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 3);
    const Vmca__VmLimits *vl = s[2].env->vm_limits;
    assert_int_equal(s[2].to, 2);
    assert_int_equal(vl->n_caps, 2);
    assert_int_equal(vl->caps[0]->vm, 7);
    assert_int_equal(vl->caps[0]->pages, 50);
    assert_int_equal(vl->caps[1]->vm, 8);
    assert_int_equal(vl->caps[1]->pages, 200);
    free_sent(s, n);
    assert_int_equal(master_core_vm_cap(&f->m, 2, 7, 0, err, sizeof err), 0); /* lifted */
    n = take_sent(&f->m.out, s, 8);
    vl = vm_limits_to(s, n, 2);
    assert_non_null(vl);
    assert_int_equal(vl->n_caps, 1);
    assert_int_equal(vl->caps[0]->vm, 8);
    free_sent(s, n);
    assert_int_equal(master_core_vm_cap(&f->m, 2, 99, 0, err, sizeof err), 0); /* none: no-op */
    assert_int_equal(master_core_node(&f->m, 2)->n_vm_caps, 1);
    free_sent(s, take_sent(&f->m.out, s, 8));
    /* A full table refuses a new VM, not a change of one it holds. */
    for (uint32_t vm = 100; master_core_node(&f->m, 2)->n_vm_caps < MASTER_VM_CAPS; vm++) {
        assert_int_equal(master_core_vm_cap(&f->m, 2, vm, 10, err, sizeof err), 0);
        free_sent(s, take_sent(&f->m.out, s, 8));
    }
    assert_int_equal(master_core_vm_cap(&f->m, 2, 5000, 10, err, sizeof err), VMCA_ERR_INVAL);
    assert_non_null(strstr(err, "VM caps already"));
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    assert_int_equal(master_core_vm_cap(&f->m, 2, 8, 300, err, sizeof err), 0);
    free_sent(s, take_sent(&f->m.out, s, 8));

    /* A reconnected node is told again with its first Statistics... */
    master_core_on_disconnect(&f->m, 2, 1100);
    master_core_on_connect(&f->m, 2, 12, 1200);
    assert_int_equal(do_stats(f, 2, VMCA__NODE_STATE__NODE_ACTIVE, 1300), 0);
    n = take_sent(&f->m.out, s, 8);
    vl = vm_limits_to(s, n, 2);
    assert_non_null(vl);
    assert_int_equal(vl->n_caps, MASTER_VM_CAPS);
    free_sent(s, n);
}

/* The operator's leave and join go to the node itself, only in the state
 * that allows them and only over a connection; refusals send nothing. */
static void test_operator_leave_join(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    char err[320];
    assert_int_equal(master_core_ask_leave(&f->m, 2, err, sizeof err), VMCA_ERR_STATE);
    assert_string_equal(err, "node 2 (node2) is inactive, not active");
    assert_int_equal(master_core_ask_join(&f->m, 2, err, sizeof err), VMCA_ERR_NOTFOUND);
    assert_non_null(strstr(err, "no vmca-slave of node 2 (node2) is connected"));
    assert_int_equal(master_core_ask_join(&f->m, 9, err, sizeof err), VMCA_ERR_INVAL);
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    master_core_on_connect(&f->m, 2, 12, 900);
    assert_int_equal(master_core_ask_join(&f->m, 2, err, sizeof err), 0);
    size_t n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].to, 2);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_JOIN_ASK);
    free_sent(s, n);
    assert_int_equal(do_register(f, 2, 2, 12), 0);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(master_core_ask_join(&f->m, 2, err, sizeof err), VMCA_ERR_STATE);
    assert_string_equal(err, "node 2 (node2) is active, not inactive");
    master_core_on_disconnect(&f->m, 2, 950);
    assert_int_equal(master_core_ask_leave(&f->m, 2, err, sizeof err), VMCA_ERR_STATE);
    assert_non_null(strstr(err, "not connected"));
    assert_int_equal(take_sent(&f->m.out, s, 8), 0);
    master_core_on_connect(&f->m, 2, 12, 960);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(master_core_ask_leave(&f->m, 2, err, sizeof err), 0);
    n = take_sent(&f->m.out, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_LEAVE_ASK);
    free_sent(s, n);
    /* The connection drops before the node acts on it: asked again when
     * it reconnects, still Active. */
    master_core_on_disconnect(&f->m, 2, 970);
    master_core_on_connect(&f->m, 2, 12, 980);
    n = take_sent(&f->m.out, s, 8);
    bool again = false;
    for (size_t i = 0; i < n; i++)
        again |= s[i].to == 2 && s[i].env->body_case == VMCA__ENVELOPE__BODY_LEAVE_ASK;
    free_sent(s, n);
    assert_true(again);
    /* Asking changes no state: the node's Leave-Req does. */
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(do_leave_req(f, 2, 12, 1000), 0);
    assert_int_equal(master_core_node(&f->m, 2)->state, VMCA__NODE_STATE__NODE_LEAVING);
    free_sent(s, take_sent(&f->m.out, s, 8));
    assert_int_equal(master_core_ask_leave(&f->m, 2, err, sizeof err), VMCA_ERR_STATE);
    assert_string_equal(err, "node 2 (node2) is leaving, not active");
}

/* What vmcactl nodes, vms and stats read: lent and borrowed pages and the
 * per-VM figures of the last Statistics (failed puts = puts - successes
 * of that period), and the refusals counted, logged once or not. */
static void test_operator_figures(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    assert_int_equal(do_register(f, 2, 2, 5), 0);
    free_sent(s, take_sent(&f->m.out, s, 8));
    Vmca__HomePages own = VMCA__HOME_PAGES__INIT, b1 = VMCA__HOME_PAGES__INIT,
                    b3 = VMCA__HOME_PAGES__INIT, l1 = VMCA__HOME_PAGES__INIT,
                    l3 = VMCA__HOME_PAGES__INIT;
    own.node = 2, own.pages = 60000;
    b1.node = 1, b1.pages = 300;
    b3.node = 3, b3.pages = 20;
    l1.node = 1, l1.pages = 5000;
    l3.node = 3, l3.pages = 536;
    Vmca__HomePages *owned[] = {&own, &b1, &b3}, *lent[] = {&l1, &l3};
    Vmca__VmStats v1 = VMCA__VM_STATS__INIT, v2 = VMCA__VM_STATS__INIT;
    v1.vm = 7, v1.tmem_used = 40, v1.mm_target = 50, v1.puts_total = 30, v1.puts_succ = 12;
    v2.vm = 9, v2.tmem_used = 3, v2.mm_target = UINT64_MAX, v2.puts_total = 4, v2.puts_succ = 4;
    Vmca__VmStats *vms[] = {&v1, &v2};
    uint8_t bits = 1u << 2;
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.total_pages = 60320;
    st.free_pages = 100;
    st.owned = owned;
    st.n_owned = 3;
    st.lent = lent;
    st.n_lent = 2;
    st.vms = vms;
    st.n_vms = 2;
    st.enabled_bitmap.data = &bits;
    st.enabled_bitmap.len = 1;
    assert_int_equal(send_stats(f, 2, &st, 1100), 0);
    const struct master_node *n = master_core_node(&f->m, 2);
    assert_int_equal(n->borrowed_pages, 320);
    assert_int_equal(n->lent_pages, 5536);
    assert_int_equal(n->n_vms, 2);
    assert_int_equal(n->vms[0].vm, 7);
    assert_int_equal(n->vms[0].used, 40);
    assert_int_equal(n->vms[0].target, 50);
    assert_int_equal(n->vms[0].puts, 30);
    assert_int_equal(n->vms[0].failed, 18);
    assert_true(n->vms[1].target == UINT64_MAX);
    assert_int_equal(n->vms[1].failed, 0);
    /* The next Statistics replace them whole. */
    st.n_vms = 1;
    st.n_owned = 1;
    st.n_lent = 0;
    assert_int_equal(send_stats(f, 2, &st, 1300), 0);
    assert_int_equal(n->n_vms, 1);
    assert_int_equal(n->borrowed_pages, 0);
    assert_int_equal(n->lent_pages, 0);
    free_sent(s, take_sent(&f->m.out, s, 8));
    /* Refusals are counted each time, though logged once. */
    uint64_t before = master_core_refused_total(&f->m);
    for (int i = 0; i < 3; i++)
        assert_int_equal(do_stats(f, 3, VMCA__NODE_STATE__NODE_INACTIVE, 1400), VMCA_ERR_STATE);
    assert_int_equal(master_core_refused_total(&f->m), before + 3);
    free_sent(s, take_sent(&f->m.out, s, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_announces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_resend_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_from_statistics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_tracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_any_forwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwards_are_spoken_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_forward_is_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_donors_are_active_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fenced_node_is_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_policy_keeps_the_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarted_master_waits_for_donor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_holds_policies_to_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_tier_chosen_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_and_failure_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_owed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_after_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_leave_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_member_is_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_state_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_window_adopts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
