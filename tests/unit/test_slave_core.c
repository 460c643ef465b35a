/* Slave core: Register on first contact, enabled bitmap from Enable-Node,
 * Statistics on schedule, re-announce after a master restart, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "core_util.h"
#include "slave_core.h"

struct fixture {
    struct vmca_config cfg;
    struct slave_core s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    load_demo(&f->cfg);
    /* node2 is not the master's node in the demo. */
    assert_int_equal(slave_core_init(&f->s, &f->cfg, vmca_config_node_by_name(&f->cfg, "node2"),
                                     99, NULL, NULL), 0);
    /* The hypervisor reports first (memory generation 1: a first life). */
    struct tkm_sample hv = {.generation = 1};
    assert_int_equal(slave_core_on_hv_stats(&f->s, &hv), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    slave_core_free(&f->s);
    vmca_config_free(&f->cfg);
    free(f);
    return 0;
}

static int enable(struct fixture *f, uint32_t from, uint32_t *nodes, size_t n, int on,
                  int64_t now)
{
    Vmca__EnableNode en = VMCA__ENABLE_NODE__INIT;
    en.nodes = nodes;
    en.n_nodes = n;
    en.enable = on;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &en;
    return slave_core_on_message(&f->s, from, from == f->cfg.master.node_id, &env, now);
}

static void test_register_then_active(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    uint32_t master = f->cfg.master.node_id;
    slave_core_on_tick(&f->s, 0);                       /* nothing before the master */
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    slave_core_on_master_up(&f->s, 0);
    size_t n = take_sent(&f->s.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].to, master);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_REGISTER_NODE);
    assert_int_equal(s[0].env->register_node->node, 2);
    assert_int_equal(s[0].env->register_node->local_pages, 65536);
    assert_int_equal(s[0].env->register_node->n_location, 3);
    free_sent(s, n);
    slave_core_on_tick(&f->s, 5000);                    /* inactive: no statistics */
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);

    /* The hypervisor's figures go into Statistics (copied, not borrowed). */
    struct tkm_pages owned[2] = {{2, 400}, {1, 100}}, lent[1] = {{3, 50}};
    struct tkm_vm vms[1] = {{7, 20, 30, 5, 4, 3, 2, 0}};
    struct tkm_sample hv = {0, false, 500, 300, owned, 2, lent, 1, vms, 1, 0};
    assert_int_equal(slave_core_on_hv_stats(&f->s, &hv), 0);
    owned[0].pages = 1;
    vms[0].used = 999;
    assert_int_equal(enable(f, master, (uint32_t[]){1, 2}, 2, 1, 100), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_true(slave_core_enabled(&f->s, 1));
    assert_true(slave_core_enabled(&f->s, 2));
    assert_false(slave_core_enabled(&f->s, 3));
    n = take_sent(&f->s.out, s, 4);                     /* first Statistics at once */
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_STATISTICS);
    assert_int_equal(s[0].env->statistics->state, VMCA__NODE_STATE__NODE_ACTIVE);
    /* The enabled set travels as a bitmap: nodes 1 and 2. */
    assert_int_equal(s[0].env->statistics->n_enabled, 0);
    assert_int_equal(s[0].env->statistics->enabled_bitmap.len, 1);
    assert_int_equal(s[0].env->statistics->enabled_bitmap.data[0], (1u << 1) | (1u << 2));
    const Vmca__Statistics *st = s[0].env->statistics;
    assert_int_equal(st->total_pages, 500);
    assert_int_equal(st->free_pages, 300);
    assert_int_equal(st->n_owned, 2);
    assert_int_equal(st->owned[0]->node, 2);
    assert_int_equal(st->owned[0]->pages, 400);
    assert_int_equal(st->n_lent, 1);
    assert_int_equal(st->lent[0]->node, 3);
    assert_int_equal(st->lent[0]->pages, 50);
    assert_int_equal(st->n_vms, 1);
    assert_int_equal(st->vms[0]->vm, 7);
    assert_int_equal(st->vms[0]->tmem_used, 20);
    assert_int_equal(st->vms[0]->mm_target, 30);
    free_sent(s, n);
    /* Hypervisor gone (issue 9): the node's Statistics vouch for its
     * hypervisor, so none go (the master declares the node failed), not
     * Statistics with nothing owned. */
    slave_core_on_hv_down(&f->s);
    slave_core_on_tick(&f->s, 100 + f->cfg.timing.stats_interval_ms);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    slave_core_on_tick(&f->s, 100 + 10 * f->cfg.timing.stats_interval_ms);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_ACTIVE);
}

/* Issue 9: a hypervisor that says nothing (hung: no sample, no hypercall
 * reply) for slave_core_hv_silence_ms stops the Statistics; they resume
 * when it answers again, and a fenced sample then takes the node through
 * the declared-failed path. */
static void test_silent_hypervisor_stops_statistics(void **state)
{
    struct fixture *f = *state;
    struct sent s[8];
    uint32_t master = f->cfg.master.node_id;
    int64_t interval = f->cfg.timing.stats_interval_ms;
    int64_t bound = slave_core_hv_silence_ms(&f->cfg);
    assert_true(bound >= 2 * interval);
    assert_true(bound < (int64_t)f->cfg.timing.failure_timeout_ms);
    slave_core_on_master_up(&f->s, 0);
    assert_int_equal(enable(f, master, (uint32_t[]){1, 2}, 2, 1, 0), 0);
    free_sent(s, take_sent(&f->s.out, s, 8));
    slave_core_on_tick(&f->s, 0);                 /* the setup's sample, heard at 0 */
    /* Samples stop. Statistics go while the silence is within the bound. */
    int64_t t = interval;
    for (; t <= bound; t += interval) {
        slave_core_on_tick(&f->s, t);
        size_t n = take_sent(&f->s.out, s, 8);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_STATISTICS);
        free_sent(s, n);
    }
    for (int k = 0; k < 5; k++, t += interval) {
        slave_core_on_tick(&f->s, t);
        assert_int_equal(take_sent(&f->s.out, s, 8), 0);
    }
    /* Nor at once on a reconnect to the master. */
    slave_core_on_master_down(&f->s, t);
    slave_core_on_master_up(&f->s, t);
    assert_int_equal(take_sent(&f->s.out, s, 8), 0);
    /* A hypercall reply is a sign of life too. */
    struct tkm_reply r = {.id = 12345};
    slave_core_on_hv_reply(&f->s, &r, t);
    slave_core_on_tick(&f->s, t + interval);
    size_t n = take_sent(&f->s.out, s, 8);
    assert_int_equal(n, 1);
    free_sent(s, n);
    t += interval;
    /* It resumes fenced: the node was declared failed meanwhile. */
    for (t += bound + interval; t < 20 * bound; t += interval) {
        slave_core_on_tick(&f->s, t);
        assert_int_equal(take_sent(&f->s.out, s, 8), 0);
    }
    struct tkm_sample fenced = {.generation = 1, .fenced = true};
    assert_int_equal(slave_core_on_hv_stats(&f->s, &fenced), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_RECOVERY);
    n = take_sent(&f->s.out, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_INVALIDATE);
    free_sent(s, n);
}

static void test_statistics_schedule(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    uint32_t master = f->cfg.master.node_id;
    uint32_t interval = f->cfg.timing.stats_interval_ms;
    slave_core_on_master_up(&f->s, 0);
    assert_int_equal(enable(f, master, (uint32_t[]){2}, 1, 1, 0), 0);
    free_sent(s, take_sent(&f->s.out, s, 4));
    slave_core_on_tick(&f->s, interval - 1);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    slave_core_on_tick(&f->s, interval);
    size_t n = take_sent(&f->s.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->statistics->period, 2);
    free_sent(s, n);
    /* Master gone: nothing is sent; back: Statistics at once, not Register. */
    slave_core_on_master_down(&f->s, interval + 1);
    slave_core_on_tick(&f->s, 10 * interval);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    struct tkm_sample hv = {.generation = 1};
    assert_int_equal(slave_core_on_hv_stats(&f->s, &hv), 0); /* its hypervisor runs */
    slave_core_on_master_up(&f->s, 10 * interval);
    n = take_sent(&f->s.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_STATISTICS);
    free_sent(s, n);
}

/* Takes every queued hypercall; returns how many were of `kind`, the last
 * of them copied to *last (its arrays are not kept). */
static size_t take_hcalls_of(struct slave_core *s, enum tkm_call_kind kind,
                             struct tkm_call *last)
{
    size_t nh, k = 0;
    struct tkm_call *hc = slave_core_take_hcalls(s, &nh);
    for (size_t i = 0; i < nh; i++)
        if (hc[i].kind == kind) {
            k++;
            if (last)
                *last = (struct tkm_call){.id = hc[i].id, .kind = kind, .node = hc[i].node,
                                             .n_blocks = hc[i].n_blocks};
        }
    return k;
}

/* The master's Invalidate-Notify: the recovery of this node is over. */
static int recovery_done(struct slave_core *s, uint32_t master, int64_t now)
{
    Vmca__InvalidateNotify in = VMCA__INVALIDATE_NOTIFY__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY;
    env.invalidate_notify = &in;
    return slave_core_on_message(s, master, true, &env, now);
}

static void test_later_life_recovers_first(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    uint32_t master = f->cfg.master.node_id;
    /* A node whose memory is a later generation joins with Invalidate. */
    struct slave_core later;
    assert_int_equal(slave_core_init(&later, &f->cfg, vmca_config_node_by_name(&f->cfg, "node3"),
                                     5, NULL, NULL), 0);
    slave_core_on_master_up(&later, 0);            /* no hypervisor yet: waits */
    assert_int_equal(take_sent(&later.out, s, 4), 0);
    struct tkm_sample hv = {.generation = 2};
    assert_int_equal(slave_core_on_hv_stats(&later, &hv), 0);
    size_t n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_INVALIDATE);
    free_sent(s, n);
    assert_int_equal(later.state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_int_equal(recovery_done(&later, master, 1), 0);
    n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_REGISTER_NODE);
    free_sent(s, n);
    /* A restart of its hypervisor while a member: Invalidate again. */
    uint32_t self[] = {3};
    Vmca__EnableNode en = VMCA__ENABLE_NODE__INIT;
    en.nodes = self;
    en.n_nodes = 1;
    en.enable = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &en;
    assert_int_equal(slave_core_on_message(&later, master, true, &env, 2), 0);
    assert_int_equal(later.state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&later.out, s, 4));
    hv.generation = 3;
    assert_int_equal(slave_core_on_hv_stats(&later, &hv), 0);
    assert_int_equal(later.state, VMCA__NODE_STATE__NODE_RECOVERY);
    n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_INVALIDATE);
    free_sent(s, n);
    slave_core_free(&later);
}

/* A memory manager that starts on a running hypervisor whose earlier
 * manager died with pages out (some lent, some of other homes held) drops
 * the claims on other homes at once, recovers before registering, and
 * takes all its own pages back after the recovery; one whose hypervisor
 * shows nothing out registers at once. */
static void test_restart_on_running_hypervisor(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    uint32_t master = f->cfg.master.node_id;
    struct slave_core later;
    assert_int_equal(slave_core_init(&later, &f->cfg, vmca_config_node_by_name(&f->cfg, "node3"),
                                     7, NULL, NULL), 0);
    struct tkm_pages owned[2] = {{3, 65536 - 510}, {1, 64}}, lent[1] = {{2, 510}};
    struct tkm_sample hv = {1, false, 65536 - 510 + 64, 0, owned, 2, lent, 1, NULL, 0, 3};
    assert_int_equal(slave_core_on_hv_stats(&later, &hv), 0);
    size_t nh;
    struct tkm_call *hc = slave_core_take_hcalls(&later, &nh);
    size_t dropped = 0;
    for (size_t i = 0; i < nh; i++)
        if (hc[i].kind == TKM_CALL_INVALIDATE) {
            assert_int_not_equal(hc[i].node, 3);
            dropped++;
        }
    assert_int_equal(dropped, f->cfg.n_nodes - 1); /* every other home */
    slave_core_on_master_up(&later, 0);
    size_t n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_INVALIDATE);
    free_sent(s, n);
    assert_int_equal(later.state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_int_equal(recovery_done(&later, master, 1), 0);
    struct tkm_call reclaim;
    assert_int_equal(take_hcalls_of(&later, TKM_CALL_RECLAIM, &reclaim), 1);
    assert_int_equal(reclaim.n_blocks, 0); /* every own page not here comes back */
    /* Not a member again before the hypervisor has answered (a stopped one
     * still holds the claims it was told to drop). */
    assert_int_equal(take_sent(&later.out, s, 4), 0);
    slave_core_on_master_up(&later, 2); /* a reconnect does not hurry it */
    assert_int_equal(take_sent(&later.out, s, 4), 0);
    /* The hypervisor refuses the reclaim (say it is out of memory): still
     * no Register; its next sample makes the drop and the reclaim again. */
    struct tkm_reply refused = {.id = reclaim.id, .status = -12};
    slave_core_on_hv_reply(&later, &refused, 3);
    assert_int_equal(take_sent(&later.out, s, 4), 0);
    assert_int_equal(slave_core_on_hv_stats(&later, &hv), 0);
    assert_int_equal(take_hcalls_of(&later, TKM_CALL_RECLAIM, &reclaim), 1);
    assert_int_equal(take_sent(&later.out, s, 4), 0);
    struct tkm_reply done = {.id = reclaim.id};
    slave_core_on_hv_reply(&later, &done, 3);
    n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_REGISTER_NODE);
    free_sent(s, n);
    slave_core_free(&later);

    /* Nothing out (a clean leave before): a plain Register. */
    assert_int_equal(slave_core_init(&later, &f->cfg, vmca_config_node_by_name(&f->cfg, "node3"),
                                     8, NULL, NULL), 0);
    struct tkm_pages all[1] = {{3, 65536}};
    struct tkm_sample clean = {1, false, 65536, 65536, all, 1, NULL, 0, NULL, 0, 3};
    assert_int_equal(slave_core_on_hv_stats(&later, &clean), 0);
    slave_core_on_master_up(&later, 0);
    n = take_sent(&later.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_REGISTER_NODE);
    free_sent(s, n);
    assert_int_equal(take_hcalls_of(&later, TKM_CALL_INVALIDATE, NULL), 0);
    slave_core_free(&later);
}

static void count_warn(void *arg, enum vmca_log_level level, const char *msg)
{
    if (level <= VMCA_LOG_WARN)
        ++*(int *)arg;
}

static void test_refusals_logged_once(void **state)
{
    struct fixture *f = *state;
    int warnings = 0;
    f->s.log = count_warn;
    f->s.log_arg = &warnings;
    for (int i = 0; i < 5; i++)   /* node 3 keeps sending a master command */
        assert_int_equal(enable(f, 3, (uint32_t[]){2}, 1, 1, 0), VMCA_ERR_AUTH);
    assert_int_equal(warnings, 1);
    for (int i = 0; i < 5; i++)   /* another sender gets its own line */
        assert_int_not_equal(enable(f, 2, (uint32_t[]){2}, 1, 1, 0), 0);
    assert_int_equal(warnings, 2);
    assert_false(slave_core_enabled(&f->s, 2));   /* and nothing changed */
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    uint32_t master = f->cfg.master.node_id;
    /* Enable-Node from a peer, not the master. */
    assert_int_not_equal(enable(f, 3, (uint32_t[]){2}, 1, 1, 0), 0);
    assert_false(slave_core_enabled(&f->s, 2));
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_INACTIVE);
    /* A set naming an unknown node is refused whole. */
    assert_int_equal(enable(f, master, (uint32_t[]){1, 77}, 2, 1, 0), VMCA_ERR_INVAL);
    assert_false(slave_core_enabled(&f->s, 1));
    assert_int_equal(enable(f, master, (uint32_t[]){0}, 1, 1, 0), VMCA_ERR_INVAL);
    /* A message this slave does not serve yet. */
    Vmca__MemLimit ml = VMCA__MEM_LIMIT__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    env.mem_limit = &ml;
    assert_int_equal(slave_core_on_message(&f->s, master, true, &env, 0), VMCA_ERR_STATE);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    /* Disable clears the bit. */
    assert_int_equal(enable(f, master, (uint32_t[]){1, 2}, 2, 1, 0), 0);
    assert_int_equal(enable(f, master, (uint32_t[]){1}, 1, 0, 0), 0);
    assert_false(slave_core_enabled(&f->s, 1));
    assert_true(slave_core_enabled(&f->s, 2));
    free_sent(s, take_sent(&f->s.out, s, 4));
}


/* A core on node3 of the demo whose configuration gives VM 1 a cap of 200
 * pages and VM 2 a minimum of 400, under `policy`, made Active. */
static void vm_settings_core(struct fixture *f, const char *policy, struct slave_core *c)
{
    struct vmca_node_cfg *n3 = &f->cfg.nodes[2];
    n3->vms = calloc(2, sizeof *n3->vms); /* freed with the configuration */
    assert_non_null(n3->vms);
    n3->vms[0] = (struct ft_vm_settings){1, 0, 200, 1};
    n3->vms[1] = (struct ft_vm_settings){2, 400, VM_TARGET_UNLIMITED, 1};
    n3->n_vms = 2;
    snprintf(f->cfg.policy.first_tier, sizeof f->cfg.policy.first_tier, "%s", policy);
    assert_int_equal(slave_core_init(c, &f->cfg, n3, 5, NULL, NULL), 0);
    struct tkm_sample first = {.generation = 1};
    assert_int_equal(slave_core_on_hv_stats(c, &first), 0);
    slave_core_on_master_up(c, 0);
    Vmca__EnableNode en = VMCA__ENABLE_NODE__INIT;
    en.nodes = (uint32_t[]){1, 2, 3};
    en.n_nodes = 3;
    en.enable = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &en;
    assert_int_equal(slave_core_on_message(c, f->cfg.master.node_id, true, &env, 0), 0);
    assert_int_equal(c->state, VMCA__NODE_STATE__NODE_ACTIVE);
    struct sent s[8];
    free_sent(s, take_sent(&c->out, s, 8));
    size_t nh;
    slave_core_take_hcalls(c, &nh);
}

/* The Mem-Limit queued, or fails the test. */
static const struct tkm_call *mem_limit(struct slave_core *c)
{
    size_t nh;
    struct tkm_call *hc = slave_core_take_hcalls(c, &nh);
    for (size_t i = 0; i < nh; i++)
        if (hc[i].kind == TKM_CALL_MEM_LIMIT) {
            assert_int_equal(hc[i].n_targets, 2);
            return &hc[i];
        }
    fail_msg("no Mem-Limit among %zu hypercalls", nh);
    return NULL;
}

static bool grant_any_sent(struct slave_core *c)
{
    struct sent s[8];
    size_t n = take_sent(&c->out, s, 8);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= s[i].env->body_case == VMCA__ENVELOPE__BODY_GRANT_ANY;
    free_sent(s, n);
    return any;
}

/* Issue 11: the core bounds every policy's targets (and the stopgaps of
 * new VMs) by the node's per-VM settings, and asks for no page a cap
 * refuses. VM 1 fails puts (tlp wants 2010 pages for it), VM 2 is idle. */
static void test_targets_bounded_by_vm_settings(void **state)
{
    struct fixture *f = *state;
    struct slave_core c;
    vm_settings_core(f, "tlp", &c);
    struct tkm_vm vm[2] = {{1, 600, VM_TARGET_UNLIMITED, 10, 4, 0, 0, 0},
                           {2, 300, VM_TARGET_UNLIMITED, 5, 5, 0, 0, 0}};
    struct tkm_sample hv = {.generation = 1, .total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&c, &hv), 0);
    const struct tkm_call *ml = mem_limit(&c);   /* the stopgaps: 500 each, VM 1 capped */
    assert_int_equal(ml->targets[0].pages, 200);
    assert_int_equal(ml->targets[1].pages, 500);
    slave_core_on_tick(&c, 100);
    ml = mem_limit(&c);
    assert_int_equal(ml->targets[0].vm, 1);
    assert_int_equal(ml->targets[0].pages, 200); /* tlp's 2010, capped */
    assert_int_equal(ml->targets[1].pages, 400); /* tlp's 300, raised to the minimum */
    assert_false(grant_any_sent(&c));           /* 600 wanted, 1000 owned */
    slave_core_free(&c);
}

/* greedy-local sets targets on such a node: VM 1 at its cap, the pages
 * it cannot take to VM 2. */
static void test_greedy_targets_with_vm_settings(void **state)
{
    struct fixture *f = *state;
    struct slave_core c;
    vm_settings_core(f, "greedy-local", &c);
    assert_true(c.ft.sets_targets);
    struct tkm_vm vm[2] = {{1, 600, VM_TARGET_UNLIMITED, 10, 4, 0, 0, 0},
                           {2, 300, VM_TARGET_UNLIMITED, 5, 5, 0, 0, 0}};
    struct tkm_sample hv = {.generation = 1, .total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&c, &hv), 0);
    mem_limit(&c);
    slave_core_on_tick(&c, 100);
    const struct tkm_call *ml = mem_limit(&c);
    assert_int_equal(ml->targets[0].pages, 200);
    assert_int_equal(ml->targets[1].pages, 800);
    assert_false(grant_any_sent(&c));
    slave_core_free(&c);
    /* Without per-VM settings greedy-local sets none. */
    free(f->cfg.nodes[2].vms);
    f->cfg.nodes[2].vms = NULL;
    f->cfg.nodes[2].n_vms = 0;
    assert_int_equal(slave_core_init(&c, &f->cfg, &f->cfg.nodes[2], 6, NULL, NULL), 0);
    assert_false(c.ft.sets_targets);
    slave_core_free(&c);
}

/* One message from the master (or from a peer: from_master false). */
static int from_master(struct fixture *f, Vmca__Envelope *env, bool master, int64_t now)
{
    return slave_core_on_message(&f->s, master ? f->cfg.master.node_id : 3, master, env, now);
}

/* Active with every own page here (a leave then ends clean). */
static void make_active(struct fixture *f)
{
    struct sent s[4];
    struct tkm_pages owned[1] = {{2, 65536}};
    struct tkm_sample hv = {.generation = 1, .total_pages = 65536, .owned = owned, .n_owned = 1};
    assert_int_equal(slave_core_on_hv_stats(&f->s, &hv), 0);
    slave_core_on_master_up(&f->s, 0);
    assert_int_equal(enable(f, f->cfg.master.node_id, (uint32_t[]){1, 2}, 2, 1, 10), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&f->s.out, s, 4));
    size_t n;
    slave_core_take_hcalls(&f->s, &n);
}

/* The operator's leave (LeaveAsk) runs the leave flow and leaves the slave
 * up, Inactive, after Leave-Notify; JoinAsk registers it again as a new
 * life. A stop signal during such a leave ends the process after it. */
static void test_operator_leave_and_join(void **state)
{
    struct fixture *f = *state;
    struct sent s[4];
    make_active(f);
    Vmca__LeaveAsk la = VMCA__LEAVE_ASK__INIT;
    Vmca__JoinAsk ja = VMCA__JOIN_ASK__INIT;
    Vmca__LeaveNotify ln = VMCA__LEAVE_NOTIFY__INIT;
    Vmca__Envelope leave = VMCA__ENVELOPE__INIT, join = VMCA__ENVELOPE__INIT,
                   notify = VMCA__ENVELOPE__INIT;
    leave.body_case = VMCA__ENVELOPE__BODY_LEAVE_ASK;
    leave.leave_ask = &la;
    join.body_case = VMCA__ENVELOPE__BODY_JOIN_ASK;
    join.join_ask = &ja;
    notify.body_case = VMCA__ENVELOPE__BODY_LEAVE_NOTIFY;
    notify.leave_notify = &ln;
    /* Only the master asks; an Active node may not be told to join. */
    assert_int_equal(from_master(f, &leave, false, 20), VMCA_ERR_AUTH);
    assert_int_equal(from_master(f, &join, true, 20), VMCA_ERR_STATE);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_ACTIVE);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);

    assert_int_equal(from_master(f, &leave, true, 30), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_LEAVING);
    size_t n = take_sent(&f->s.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_LEAVE_REQ);
    free_sent(s, n);
    assert_int_equal(from_master(f, &leave, true, 40), 0); /* again: leaving already */
    assert_int_equal(from_master(f, &notify, true, 50), 0);
    bool clean = false;
    assert_true(slave_core_left(&f->s, &clean));
    assert_true(clean);
    assert_false(slave_core_done(&f->s));               /* it stays up */
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_INACTIVE);
    slave_core_on_master_down(&f->s, 60);                /* a reconnect does not rejoin */
    slave_core_on_master_up(&f->s, 70);
    assert_int_equal(take_sent(&f->s.out, s, 4), 0);
    assert_int_equal(from_master(f, &leave, true, 75), VMCA_ERR_STATE);

    uint64_t inc = f->s.out.incarnation;
    assert_int_equal(from_master(f, &join, true, 80), 0);
    n = take_sent(&f->s.out, s, 4);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].env->body_case, VMCA__ENVELOPE__BODY_REGISTER_NODE);
    assert_true(s[0].env->incarnation == inc + 1);      /* a new life */
    free_sent(s, n);
    assert_false(slave_core_left(&f->s, NULL));
    assert_int_equal(enable(f, f->cfg.master.node_id, (uint32_t[]){1, 2}, 2, 1, 90), 0);
    assert_int_equal(f->s.state, VMCA__NODE_STATE__NODE_ACTIVE);
    free_sent(s, take_sent(&f->s.out, s, 4));

    /* Asked to leave, then stopped by a signal: it exits once it has left. */
    assert_int_equal(from_master(f, &leave, true, 100), 0);
    assert_false(slave_core_leave(&f->s, 110));
    free_sent(s, take_sent(&f->s.out, s, 4));
    assert_int_equal(from_master(f, &notify, true, 120), 0);
    assert_true(slave_core_done(&f->s));
    /* An operator's leave over, a stop signal exits at once. */
    assert_true(slave_core_leave(&f->s, 130));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_then_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statistics_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_hypervisor_stops_statistics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_leave_and_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_logged_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_life_recovers_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_on_running_hypervisor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_bounded_by_vm_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greedy_targets_with_vm_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
