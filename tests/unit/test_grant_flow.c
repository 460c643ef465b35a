/* The grant flow between two slave cores, wired by hand: Grant-Fwd ->
 * Request hypercall -> Grant -> Grant hypercall -> Grant-Ack; applied once
 * under resends (per sender incarnation), bounced blocks back to their home,
 * resend on peer-up, and the greedy-remote Grant-Any trigger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core_util.h"
#include "slave_core.h"
#include "slave_internal.h"

struct fx {
    struct vmca_config cfg;
    struct slave_core donor;     /* node2 */
    struct slave_core recv;      /* node3 */
};

static Vmca__Envelope *one(struct slave_core *s, uint32_t to, int body)
{
    struct sent out[8];
    size_t n = take_sent(&s->out, out, 8);
    Vmca__Envelope *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!found && out[i].to == to && (int)out[i].env->body_case == body)
            found = out[i].env;
        else
            vmca_envelope_free(out[i].env);
    }
    assert_non_null(found);
    return found;
}

static void enable_all(struct fx *x, struct slave_core *s)
{
    Vmca__EnableNode en = VMCA__ENABLE_NODE__INIT;
    uint32_t nodes[] = {1, 2, 3};
    en.nodes = nodes;
    en.n_nodes = 3;
    en.enable = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &en;
    struct tkm_sample hv = {.generation = 1};
    slave_core_on_hv_stats(s, &hv);
    slave_core_on_master_up(s, 0);
    assert_int_equal(slave_core_on_message(s, 1, true, &env, 0), 0);
    struct sent out[8];
    free_sent(out, take_sent(&s->out, out, 8));
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(s, &n);
    assert_int_equal(n, 3);               /* enable the other homes, open our memory */
    assert_int_equal(hc[0].kind, TKM_CALL_ENABLE);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    load_demo(&x->cfg);
    assert_int_equal(slave_core_init(&x->donor, &x->cfg, vmca_config_node_by_id(&x->cfg, 2),
                                     222, NULL, NULL), 0);
    assert_int_equal(slave_core_init(&x->recv, &x->cfg, vmca_config_node_by_id(&x->cfg, 3),
                                     333, NULL, NULL), 0);
    enable_all(x, &x->donor);
    enable_all(x, &x->recv);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    slave_core_free(&x->donor);
    slave_core_free(&x->recv);
    vmca_config_free(&x->cfg);
    free(x);
    return 0;
}

static struct tkm_call take_one_hcall(struct slave_core *s, enum tkm_call_kind kind,
                                         struct vmca_block *blocks, size_t *n_blocks)
{
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, kind);
    struct tkm_call h = hc[0];
    if (blocks) {
        memcpy(blocks, hc[0].blocks, hc[0].n_blocks * sizeof *blocks);
        *n_blocks = hc[0].n_blocks;
    }
    h.blocks = NULL;
    return h;
}

/* Drops the queued hypercalls and says how many there were. */
static size_t drop_hcalls(struct slave_core *s)
{
    size_t n;
    slave_core_take_hcalls(s, &n);
    return n;
}

/* Whatever s sent since, none of it a Grant-Any. */
static void assert_no_grant_any(struct slave_core *s)
{
    struct sent out[4];
    size_t n = take_sent(&s->out, out, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(out[i].env->body_case, VMCA__ENVELOPE__BODY_GRANT_ANY);
    free_sent(out, n);
}

static void deliver(struct slave_core *to, uint32_t from, uint64_t inc, Vmca__Envelope *env)
{
    env->incarnation = inc;
    slave_core_on_message(to, from, false, env, 10);
}

static void test_grant_flow(void **state)
{
    struct fx *x = *state;
    /* Master -> donor: Grant-Fwd(2 gives 100 pages to 3). */
    Vmca__GrantFwd gf = VMCA__GRANT_FWD__INIT;
    gf.donor = 2;
    gf.requester = 3;
    gf.pages = 100;
    gf.req = 7;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_FWD;
    env.grant_fwd = &gf;
    assert_int_equal(slave_core_on_message(&x->donor, 1, true, &env, 5), 0);
    /* ... on a peer connection it would be refused. */
    assert_int_equal(slave_core_on_message(&x->donor, 1, false, &env, 5), VMCA_ERR_AUTH);
    struct tkm_call rq = take_one_hcall(&x->donor, TKM_CALL_REQUEST, NULL, NULL);
    assert_int_equal(rq.node, 3);
    assert_int_equal(rq.pages, 100);
    /* The donor's hypervisor gives three blocks. */
    struct vmca_block given[3] = {{vmca_gfn_make(2, 0), 6, 0}, {vmca_gfn_make(2, 64), 5, 0},
                                  {vmca_gfn_make(2, 96), 2, 0}};
    struct tkm_reply r = {.id = rq.id, .pages = 100, .blocks = given, .n_blocks = 3};
    slave_core_on_hv_reply(&x->donor, &r, 6);
    assert_int_equal(xfer_in_transit(&x->donor.xfers), 100);
    Vmca__Envelope *grant = one(&x->donor, 3, VMCA__ENVELOPE__BODY_GRANT);
    assert_int_equal(grant->grant->n_blocks, 3);
    assert_int_equal(grant->grant->req, 7);

    /* Receiver: one Grant hypercall, even when the Grant arrives twice. */
    deliver(&x->recv, 2, 222, grant);
    struct vmca_block got[8];
    size_t n_got;
    struct tkm_call gh = take_one_hcall(&x->recv, TKM_CALL_GRANT, got, &n_got);
    assert_int_equal(gh.node, 2);
    assert_int_equal(n_got, 3);
    assert_true(got[1].gfn == given[1].gfn && got[1].order == 5);
    deliver(&x->recv, 2, 222, grant);
    assert_int_equal(drop_hcalls(&x->recv), 0);
    int results[3] = {TKM_GRANT_ACCEPTED, TKM_GRANT_ACCEPTED, TKM_GRANT_ACCEPTED};
    struct tkm_reply gr = {.id = gh.id, .pages = 100, .blocks = got, .n_blocks = 3,
                                .results = results, .n_results = 3};
    slave_core_on_hv_reply(&x->recv, &gr, 11);
    Vmca__Envelope *ack = one(&x->recv, 2, VMCA__ENVELOPE__BODY_GRANT_ACK);
    assert_true(ack->grant_ack->xfer == grant->grant->xfer);
    assert_int_equal(ack->grant_ack->accepted, 100);
    assert_int_equal(ack->grant_ack->n_bounced, 0);
    /* A resend after that is acknowledged again, not applied again. */
    deliver(&x->recv, 2, 222, grant);
    assert_int_equal(drop_hcalls(&x->recv), 0);
    Vmca__Envelope *ack2 = one(&x->recv, 2, VMCA__ENVELOPE__BODY_GRANT_ACK);
    assert_int_equal(ack2->grant_ack->accepted, 100);
    vmca_envelope_free(ack2);
    /* The same transfer id from a new life of the sender is a new transfer. */
    deliver(&x->recv, 2, 999, grant);
    take_one_hcall(&x->recv, TKM_CALL_GRANT, NULL, NULL);

    /* Before the ack the donor resends on peer-up; after it, nothing. */
    slave_core_on_peer_up(&x->donor, 3, 12);
    vmca_envelope_free(one(&x->donor, 3, VMCA__ENVELOPE__BODY_GRANT));
    ack->incarnation = 333;
    slave_core_on_message(&x->donor, 3, false, ack, 13);
    assert_int_equal(xfer_in_transit(&x->donor.xfers), 0);
    slave_core_on_peer_up(&x->donor, 3, 14);
    struct sent out[4];
    assert_int_equal(take_sent(&x->donor.out, out, 4), 0);
    vmca_envelope_free(ack);
    vmca_envelope_free(grant);
}

/* A Grant of one block, built in place (the caller may change it and
 * deliver it again). */
struct grant_msg {
    Vmca__Block b;
    Vmca__Block *bp;
    Vmca__Grant g;
    Vmca__Envelope env;
};

static void grant_msg(struct grant_msg *m, uint64_t xfer, uint64_t gfn, unsigned order)
{
    vmca__block__init(&m->b);
    m->b.gfn = gfn;
    m->b.order = order;
    m->bp = &m->b;
    vmca__grant__init(&m->g);
    m->g.xfer = xfer;
    m->g.blocks = &m->bp;
    m->g.n_blocks = 1;
    vmca__envelope__init(&m->env);
    m->env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    m->env.grant = &m->g;
}

static void test_bounce_to_home(void **state)
{
    struct fx *x = *state;
    size_t n;
    /* Node 2 sends node 3 a block homed at node 1 that node 3's hypervisor
     * bounces (home disabled there): it goes back to node 1. */
    struct grant_msg m;
    grant_msg(&m, 5, vmca_gfn_make(1, 512), 3);
    deliver(&x->recv, 2, 222, &m.env);
    struct vmca_block got[1];
    size_t n_got;
    struct tkm_call gh = take_one_hcall(&x->recv, TKM_CALL_GRANT, got, &n_got);
    int results[1] = {TKM_GRANT_BOUNCED};
    struct tkm_reply gr = {.id = gh.id, .pages = 0, .blocks = got, .n_blocks = 1,
                                .results = results, .n_results = 1};
    slave_core_on_hv_reply(&x->recv, &gr, 11);
    struct sent out[4];
    n = take_sent(&x->recv.out, out, 4);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].to, 2);   /* ack to the sender, naming the bounce */
    assert_int_equal(out[0].env->grant_ack->n_bounced, 1);
    assert_int_equal(out[1].to, 1);   /* the block goes home */
    assert_int_equal(out[1].env->body_case, VMCA__ENVELOPE__BODY_GRANT);
    assert_true(out[1].env->grant->blocks[0]->gfn == m.b.gfn);
    assert_int_equal(xfer_in_transit(&x->recv.xfers), 8);
    free_sent(out, n);
    /* Malformed and unauthorised grants change nothing. */
    m.b.gfn = vmca_gfn_make(1, 3);   /* misaligned for order 3 */
    m.g.xfer = 6;                    /* a new transfer (5 would be re-acked) */
    deliver(&x->recv, 2, 222, &m.env);
    assert_int_equal(take_sent(&x->recv.out, out, 4), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0);
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &m.env, 0), VMCA_ERR_AUTH);
}

/* The master (node 1) tells `s`: donor gives `pages` to requester. */
static int grant_fwd(struct slave_core *s, uint32_t donor, uint32_t requester, uint64_t pages,
                     uint64_t req, int64_t now)
{
    Vmca__GrantFwd gf = VMCA__GRANT_FWD__INIT;
    gf.donor = donor;
    gf.requester = requester;
    gf.pages = pages;
    gf.req = req;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_FWD;
    env.grant_fwd = &gf;
    return slave_core_on_message(s, 1, true, &env, now);
}

/* tlp: targets go to the hypervisor and never sum above the pages owned
 * (I6): not after a period, and not after pages left for another node. */
static void test_tlp_targets_within_owned(void **state)
{
    struct fx *x = *state;
    assert_string_equal(x->cfg.policy.first_tier, "tlp"); /* the default */
    struct tkm_vm vm[2] = {{.vm = 1, .used = 600, .target = VM_TARGET_UNLIMITED,
                              .puts_total = 10, .puts_succ = 4},
                             {.vm = 2, .used = 300, .target = VM_TARGET_UNLIMITED,
                              .puts_total = 5, .puts_succ = 5}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    /* VMs without a target get an even share of the pages owned at once,
     * before the policy's period. */
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].n_targets, 2);
    assert_int_equal(hc[0].targets[0].pages, 500);
    assert_int_equal(hc[0].targets[1].pages, 500);
    slave_core_on_tick(&x->recv, 100);
    struct sent out[4];
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].n_targets, 2);
    /* VM 1 (under pressure, its target a stopgap) starts anew at the 700
     * pages VM 2's use leaves, + 2 % of 65536; VM 2 at its use: 2310 pages
     * wanted, 1000 owned. */
    assert_int_equal(hc[0].targets[0].vm, 1);
    assert_int_equal(hc[0].targets[0].pages, 2010 * 1000 / 2310);
    assert_int_equal(hc[0].targets[1].pages, 300 * 1000 / 2310);
    Vmca__Envelope *ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->pages, 1310);
    vmca_envelope_free(ga);

    /* The node serves a Grant-Fwd for 500 pages: the targets shrink to fit
     * what stays before the Request (hypercalls run in order), and again
     * when 512 pages turn out to have left. */
    assert_int_equal(grant_fwd(&x->recv, 3, 2, 500, 9, 200), 0);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 2);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].targets[0].pages, 870 * 500 / 999);
    assert_int_equal(hc[0].targets[1].pages, 129 * 500 / 999);
    assert_int_equal(hc[1].kind, TKM_CALL_REQUEST);
    struct tkm_call rq = hc[1];
    /* A period between the Request and its reply (VM 1 still failing puts,
     * so its target grows): the sample cannot show the pages gone yet, the
     * targets still leave room for them. The hypervisor reports the
     * targets it applied. */
    vm[0].target = 870 * 500 / 999;
    vm[1].target = 129 * 500 / 999;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 200 + 6 * (int64_t)x->cfg.timing.stats_interval_ms);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_true(hc[0].targets[0].pages + hc[0].targets[1].pages <= 500);
    free_sent(out, take_sent(&x->recv.out, out, 4));
    struct vmca_block given = {vmca_gfn_make(3, 512), 9, 0};
    struct tkm_reply r = {.id = rq.id, .pages = 512, .blocks = &given, .n_blocks = 1};
    slave_core_on_hv_reply(&x->recv, &r, 201);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_true(hc[0].targets[0].pages + hc[0].targets[1].pages <= 488);
    assert_true(hc[0].targets[0].pages + hc[0].targets[1].pages >= 486); /* floors only */
    n = take_sent(&x->recv.out, out, 4);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].env->body_case, VMCA__ENVELOPE__BODY_GRANT);
    free_sent(out, n);

    /* A failed hypercall changes nothing. */
    r = (struct tkm_reply){.id = 12345, .status = -5};
    slave_core_on_hv_reply(&x->recv, &r, 202);
    assert_int_equal(drop_hcalls(&x->recv), 0);
}

/* tlp: pages granted for a shortfall raise the targets at once toward what
 * the period wanted (within the pages owned), so the next period asks for
 * its own growth: asks do not alternate between a step and almost nothing
 * (issue 11: Grant-Any 4095 / 1 / 4095 ...). */
static void tlp_raise(struct fx *x, uint32_t first_vm)
{
    struct tkm_vm vm[2] = {{.vm = first_vm, .used = 600, .target = VM_TARGET_UNLIMITED,
                            .puts_total = 10, .puts_succ = 4},
                           {.vm = 2, .used = 300, .target = VM_TARGET_UNLIMITED,
                            .puts_total = 5, .puts_succ = 5}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    drop_hcalls(&x->recv); /* the stopgap shares */
    slave_core_on_tick(&x->recv, 100);
    drop_hcalls(&x->recv); /* fitted: 870 and 129 of the 2010 and 300 wanted */
    Vmca__Envelope *ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->pages, 1310);
    vmca_envelope_free(ga);
    /* 2048 pages of node 1 arrive from node 2. */
    struct grant_msg m;
    grant_msg(&m, 7, vmca_gfn_make(1, 0), 11);
    deliver(&x->recv, 2, 222, &m.env);
    struct vmca_block got[1];
    size_t n_got, n;
    struct tkm_call gh = take_one_hcall(&x->recv, TKM_CALL_GRANT, got, &n_got);
    int results[1] = {TKM_GRANT_ACCEPTED};
    struct tkm_reply gr = {.id = gh.id, .pages = 2048, .blocks = got, .n_blocks = 1,
                           .results = results, .n_results = 1};
    slave_core_on_hv_reply(&x->recv, &gr, 150);
    /* At once: the wanted targets fit in the 3048 pages owned now. */
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].targets[0].pages, 2010);
    assert_int_equal(hc[0].targets[1].pages, 300);
    struct sent out[4];
    free_sent(out, take_sent(&x->recv.out, out, 4)); /* the Grant-Ack */
    /* The next period (VM 1 still failing): it asks for its step beyond
     * what it owns: it first takes the 2748 pages VM 2's target leaves,
     * then its 1310 step. */
    vm[0].target = 2010;
    vm[1].target = 300;
    hv.total_pages = 3048;
    hv.period = 2;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100 + 6 * (int64_t)x->cfg.timing.stats_interval_ms);
    drop_hcalls(&x->recv);
    ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->pages, 1310);
    vmca_envelope_free(ga);
}

static void test_tlp_granted_pages_raise_targets(void **state)
{
    tlp_raise(*state, 1);
}

/* The same with the largest VM id first in the sample. */
static void test_tlp_raise_any_vm_id(void **state)
{
    tlp_raise(*state, UINT32_MAX);
}

/* The core's mark of wanted targets a policy did not write is not a VM id:
 * it was UINT32_MAX, a valid id, and with that VM first the wanted targets
 * went unbounded, so the ask asked for pages its cap refuses (1310, not
 * the 300 the capped wants need). */
static void test_wanted_mark_is_no_vm_id(void **state)
{
    struct fx *x = *state;
    struct vmca_node_cfg *n3 = &x->cfg.nodes[vmca_config_node_by_id(&x->cfg, 3) - x->cfg.nodes];
    n3->vms = calloc(1, sizeof *n3->vms); /* freed with the configuration */
    assert_non_null(n3->vms);
    n3->vms[0] = (struct ft_vm_settings){UINT32_MAX, 0, 1000, 1};
    n3->n_vms = 1;
    struct tkm_vm vm[2] = {{.vm = UINT32_MAX, .used = 600, .target = VM_TARGET_UNLIMITED,
                            .puts_total = 10, .puts_succ = 4},
                           {.vm = 2, .used = 300, .target = VM_TARGET_UNLIMITED,
                            .puts_total = 5, .puts_succ = 5}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    drop_hcalls(&x->recv);
    slave_core_on_tick(&x->recv, 100);
    drop_hcalls(&x->recv);
    /* tlp wants 2010 for it, capped at 1000; 300 for VM 2: 1300 of 1000 owned. */
    Vmca__Envelope *ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->pages, 300);
    vmca_envelope_free(ga);
}

/* A slave that starts on a running hypervisor takes the targets it
 * enforces as its own: pages that leave before its first period still
 * shrink them first (I6). */
static void test_tlp_restart_adopts_targets(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm = {.vm = 4, .used = 100, .target = 1000};
    struct tkm_sample hv = {.total_pages = 1000, .vms = &vm, .n_vms = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0);          /* they fit: nothing to send */
    assert_int_equal(grant_fwd(&x->recv, 3, 2, 300, 0, 10), 0);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 2);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].n_targets, 1);
    assert_int_equal(hc[0].targets[0].vm, 4);
    assert_int_equal(hc[0].targets[0].pages, 700);
    assert_int_equal(hc[1].kind, TKM_CALL_REQUEST);
}

/* Mem-Limit from the master caps the targets (and stops the asking while
 * the cap binds); 0 lifts it. */
static void test_tlp_mem_limit(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm = {.vm = 1, .used = 600, .target = VM_TARGET_UNLIMITED,
                          .puts_total = 10, .puts_succ = 4};
    struct tkm_sample hv = {.total_pages = 1000, .vms = &vm, .n_vms = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);                  /* 600 + 1310 > 1000: asks */
    drop_hcalls(&x->recv);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    x->recv.tr.grant_any_req = 0;
    Vmca__MemLimit ml = VMCA__MEM_LIMIT__INIT;
    ml.pages = 300;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    env.mem_limit = &ml;
    assert_int_equal(slave_core_on_message(&x->recv, 2, false, &env, 150), VMCA_ERR_AUTH);
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 150), 0);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].targets[0].pages, 300);
    /* Still failing puts, but the cap binds: the target stays at it, no ask. */
    vm.target = 300; /* applied */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 300);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].targets[0].pages, 300);
    assert_no_grant_any(&x->recv);
    /* The cap holds while connected to the master that set it. */
    slave_core_on_master_down(&x->recv, 350);
    assert_int_equal(x->recv.ft.mem_cap, 0);
    slave_core_on_master_up(&x->recv, 360);
    struct sent out[4];
    free_sent(out, take_sent(&x->recv.out, out, 4));
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 370), 0);
    assert_int_equal(x->recv.ft.mem_cap, 300);
    drop_hcalls(&x->recv);
    /* Lifted: the target grows past it again, up to the pages owned. */
    ml.pages = 0;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 400), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0);         /* nothing to shrink */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 500);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].targets[0].pages, 1000);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    /* The VM goes away: its target is forgotten (a Mem-Limit naming an
     * unknown VM would be refused whole), nothing more is sent for it. */
    hv.n_vms = 0;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(x->recv.ft.n_targets, 0);
    slave_core_on_tick(&x->recv, 700);
    assert_int_equal(drop_hcalls(&x->recv), 0);
}

/* A VM that connects between periods (the hypervisor pushes a sample of
 * the same period) gets a target at once, within the cap: its share of
 * what the others leave. The policy itself runs once per period. */
static void test_tlp_new_vm_between_periods(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm[2] = {{.vm = 1, .used = 200, .target = VM_TARGET_UNLIMITED,
                              .puts_total = 5, .puts_succ = 5},
                             {.vm = 2, .target = VM_TARGET_UNLIMITED}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 1, .period = 7};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 2); /* the stopgap, then the policy's: VM 1 at its use */
    assert_int_equal(hc[0].targets[0].pages, 1000);
    assert_int_equal(hc[1].targets[0].pages, 200);
    Vmca__MemLimit ml = VMCA__MEM_LIMIT__INIT;
    ml.pages = 300;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    env.mem_limit = &ml;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 150), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0); /* 200 fits under 300 */

    hv.n_vms = 2; /* VM 2 connects: same period */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].n_targets, 2);
    assert_int_equal(hc[0].targets[0].pages, 200);
    assert_int_equal(hc[0].targets[1].vm, 2);
    assert_int_equal(hc[0].targets[1].pages, 100);
    slave_core_on_tick(&x->recv, 200);
    assert_int_equal(drop_hcalls(&x->recv), 0); /* no policy mid-period */

    /* The next period: VM 2's puts failed; its target was a stopgap, so it
     * starts anew at the room VM 1 leaves under the cap (100, more than
     * its use of 40). */
    vm[1] = (struct tkm_vm){.vm = 2, .used = 40, .target = 100, .puts_total = 10,
                              .puts_succ = 5};
    vm[0].target = 200;
    hv.period = 8;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 300);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    /* 200 and 100 + 1310 scaled into the cap of 300. */
    assert_int_equal(hc[0].targets[0].pages, 200 * 300 / 1610);
    assert_int_equal(hc[0].targets[1].pages, 1410 * 300 / 1610);
    assert_no_grant_any(&x->recv);
}

/* Provisional targets: VMs connecting one after another share the room
 * evenly; one reported unlimited although it has a target (it reconnected
 * under the same id) gets it again; a same-period sample before the tick
 * leaves the ended period's counts to the policy. */
static void test_tlp_provisional_cases(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm[3] = {{.vm = 1, .used = 200, .target = VM_TARGET_UNLIMITED,
                              .puts_total = 5, .puts_succ = 5},
                             {.vm = 2, .target = VM_TARGET_UNLIMITED},
                             {.vm = 3, .target = VM_TARGET_UNLIMITED}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 1, .period = 3};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);
    drop_hcalls(&x->recv);
    vm[0].target = 200; /* the policy's, applied */

    hv.n_vms = 2;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].targets[1].pages, 800);
    vm[1].target = 800;
    hv.n_vms = 3;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].n_targets, 3);
    assert_int_equal(hc[0].targets[0].pages, 200);
    assert_int_equal(hc[0].targets[1].pages, 400);
    assert_int_equal(hc[0].targets[2].pages, 400);
    vm[1].target = vm[2].target = 400;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0); /* nothing new */

    vm[1].target = VM_TARGET_UNLIMITED; /* VM 2 reconnected */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].targets[1].pages, 400);
    vm[1].target = 400;

    /* Period 4 begins: VM 1's puts failed in period 3. A VM connects right
     * away (a push of period 4, counts since it began) before the tick. */
    hv.period = 4;
    vm[0].puts_total = 10;
    vm[0].puts_succ = 4;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    vm[0].puts_total = vm[0].puts_succ = 0;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 200);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    /* 200 + 1310 for VM 1, the others at their use (0): scaled into 1000. */
    assert_int_equal(hc[0].targets[0].pages, 1000);
    assert_int_equal(hc[0].targets[1].pages, 0);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
}

/* A hypervisor restart drops the hypercalls in flight: the pages a Request
 * was taking no longer count against the targets' limit. */
static void test_restart_forgets_requests(void **state)
{
    struct fx *x = *state;
    struct tkm_sample hv = {.generation = 1, .total_pages = 1000, .period = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(grant_fwd(&x->recv, 3, 2, 300, 0, 10), 0);
    assert_int_equal(x->recv.ft.requesting, 300);
    drop_hcalls(&x->recv);
    hv.generation = 2;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(x->recv.ft.requesting, 0);
}

/* A hypervisor that restarts counts its periods from 1 again: its first
 * sample is a new period for the policy even when the old one was at 1. */
static void test_hv_restart_new_period(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm = {.vm = 1, .used = 100, .target = VM_TARGET_UNLIMITED,
                          .puts_total = 10, .puts_succ = 4};
    struct tkm_sample hv = {.total_pages = 1000, .vms = &vm, .n_vms = 1, .period = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);
    drop_hcalls(&x->recv);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    x->recv.tr.grant_any_req = 0;
    slave_core_on_hv_down(&x->recv);
    slave_core_on_hv_up(&x->recv);
    drop_hcalls(&x->recv);
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    drop_hcalls(&x->recv); /* the VM reconnected: its target again */
    slave_core_on_tick(&x->recv, 200);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1); /* the policy ran */
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
}

/* A Mem-Limit the hypervisor refused (a VM it named had left) goes again,
 * without that VM, after the next sample. */
static void test_refused_limits_sent_again(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm[2] = {{.vm = 1, .used = 100, .target = VM_TARGET_UNLIMITED},
                             {.vm = 2, .used = 100, .target = VM_TARGET_UNLIMITED}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 2, .period = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    struct tkm_reply refused = {.id = hc[0].id, .status = -2};
    slave_core_on_hv_reply(&x->recv, &refused, 10);
    hv.n_vms = 1; /* VM 2 left; VM 1 is still unlimited there */
    vm[0].target = 500;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].n_targets, 1);
    assert_int_equal(hc[0].targets[0].vm, 1);
    struct tkm_reply ok = {.id = hc[0].id};
    slave_core_on_hv_reply(&x->recv, &ok, 20);
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    assert_int_equal(drop_hcalls(&x->recv), 0); /* applied: nothing to send */
}

/* census_owed in the next Statistics of s. */
static bool owes_census(struct slave_core *s, int64_t now)
{
    s->next_stats_ms = now; /* due now */
    s->hv_heard_ms = now;   /* and the hypervisor answered */
    slave_core_on_tick(s, now);
    struct sent out[8];
    size_t n = take_sent(&s->out, out, 8);
    int owed = -1;
    for (size_t i = 0; i < n; i++)
        if (out[i].env->body_case == VMCA__ENVELOPE__BODY_STATISTICS)
            owed = out[i].env->statistics->census_owed;
    free_sent(out, n);
    assert_int_not_equal(owed, -1);
    return owed;
}

static void census_from_master(struct slave_core *s, uint32_t *members, size_t n, int64_t now)
{
    Vmca__Census c = VMCA__CENSUS__INIT;
    c.home = s->self->id;
    c.members = members;
    c.n_members = n;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
    env.census = &c;
    assert_int_equal(slave_core_on_message(s, 1, true, &env, now), 0);
}

/* An Invalidate(x) leaves the home owing a census (x may own pages of it)
 * until a census that began after it runs to its end; one given up for a
 * silent member does not pay it. */
static void test_census_owed_until_done(void **state)
{
    struct fx *x = *state;
    assert_false(owes_census(&x->recv, 100));
    Vmca__InvalidateNode in = VMCA__INVALIDATE_NODE__INIT;
    in.node = 2;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NODE;
    env.invalidate_node = &in;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 200), 0);
    drop_hcalls(&x->recv);
    assert_true(owes_census(&x->recv, 300));
    /* Node 1 never answers: the census is given up, still owed. */
    uint32_t members[] = {1, 3};
    census_from_master(&x->recv, members, 2, 400);
    int64_t patience = 5 * (int64_t)x->cfg.timing.stats_interval_ms;
    slave_core_on_tick(&x->recv, 400 + patience + 1);
    drop_hcalls(&x->recv);
    assert_true(owes_census(&x->recv, 400 + patience + 2));
    /* A census that runs to its end (nobody else to ask) pays it. */
    census_from_master(&x->recv, members + 1, 1, 500 + patience);
    drop_hcalls(&x->recv);
    assert_false(owes_census(&x->recv, 600 + patience));
    /* An Invalidate that comes while a census runs is not paid by it. */
    int64_t t = 1000 + patience;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, t), 0);
    census_from_master(&x->recv, members, 2, t + 1);
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, t + 2), 0);
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    cr.home = 3;
    cr.round = x->recv.census.round;
    Vmca__Envelope reply = VMCA__ENVELOPE__INIT;
    reply.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    reply.census_reply = &cr;
    assert_int_equal(slave_core_on_message(&x->recv, 1, false, &reply, t + 3), 0);
    assert_false(x->recv.census.running); /* it ran to its end */
    drop_hcalls(&x->recv);
    assert_true(owes_census(&x->recv, t + 4));
}

/* A census reply that names a block not of the home: that block is
 * refused alone (counted, logged), the rest of the reply counts as the
 * sender's answer and the round goes on to its end. */
static void test_census_bad_reply_refused_alone(void **state)
{
    struct fx *x = *state;
    uint32_t members[] = {1};
    census_from_master(&x->recv, members, 1, 100);
    drop_hcalls(&x->recv);
    assert_true(x->recv.census.running);
    Vmca__Block bad = VMCA__BLOCK__INIT, good = VMCA__BLOCK__INIT, *pb[] = {&bad, &good};
    bad.gfn = vmca_gfn_make(2, 0); /* node 2's, not home 3's */
    bad.order = 1;
    good.gfn = vmca_gfn_make(3, 8);
    good.order = 1;
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    cr.home = 3;
    cr.round = x->recv.census.round;
    cr.blocks = pb;
    cr.n_blocks = 2;
    Vmca__Envelope reply = VMCA__ENVELOPE__INIT;
    reply.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    reply.census_reply = &cr;
    uint64_t refused = x->recv.counters.refused[SLAVE_REFUSE_INVALID];
    assert_int_equal(slave_core_on_message(&x->recv, 1, false, &reply, 101), 0);
    assert_int_equal(x->recv.counters.refused[SLAVE_REFUSE_INVALID], refused + 1);
    assert_false(x->recv.census.running); /* ran to its end */
    size_t nh;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &nh);
    size_t held = 0;
    for (size_t i = 0; i < nh; i++)
        if (hc[i].kind == TKM_CALL_RECLAIM) {
            assert_int_equal(hc[i].n_blocks, 1); /* the good block is held */
            assert_int_equal(hc[i].blocks[0].gfn, vmca_gfn_make(3, 8));
            held++;
        }
    assert_int_equal(held, 1);
}

/* Whatever s sent since: how many Census frames, to anyone. */
static size_t census_sent(struct slave_core *s)
{
    struct sent out[64];
    size_t n = take_sent(&s->out, out, 64), k = 0;
    for (size_t i = 0; i < n; i++)
        k += out[i].env->body_case == VMCA__ENVELOPE__BODY_CENSUS;
    free_sent(out, n);
    return k;
}

/* How many queued hypercalls of that kind (the queue is emptied). */
static size_t hcalls_of(struct slave_core *s, enum tkm_call_kind kind)
{
    size_t n, k = 0;
    struct tkm_call *hc = slave_core_take_hcalls(s, &n);
    for (size_t i = 0; i < n; i++)
        k += hc[i].kind == kind;
    return k;
}

static void master_says(struct slave_core *s, int body, void *msg, int64_t now)
{
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = body;
    if (body == VMCA__ENVELOPE__BODY_INVALIDATE_NODE)
        env.invalidate_node = msg;
    else if (body == VMCA__ENVELOPE__BODY_FORCE_RETURN)
        env.force_return = msg;
    else
        env.invalidate_notify = msg;
    assert_int_equal(slave_core_on_message(s, 1, true, &env, now), 0);
}

/* An empty answer of `from` to home s's running census. */
static void census_answer(struct slave_core *s, uint32_t from, int64_t now)
{
    Vmca__CensusReply cr = VMCA__CENSUS_REPLY__INIT;
    cr.home = s->self->id;
    cr.round = s->census.round;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    env.census_reply = &cr;
    assert_int_equal(slave_core_on_message(s, from, false, &env, now), 0);
}

/* The follow-up of a census is driven by the master, with every member:
 * the home's own enabled set lacks a leaving node (Force-Return disabled
 * it there), which may still own pages of the home. So the home does not
 * run it on its own; it says it owes one, and the master's census asks
 * the leaving node. */
static void test_census_followup_asks_leaving_node(void **state)
{
    struct fx *x = *state;
    Vmca__ForceReturn fr = VMCA__FORCE_RETURN__INIT;
    fr.node = 2; /* node 2 leaves: disabled here, still a member */
    master_says(&x->recv, VMCA__ENVELOPE__BODY_FORCE_RETURN, &fr, 10);
    Vmca__InvalidateNode in = VMCA__INVALIDATE_NODE__INIT;
    in.node = 1; /* node 1 failed and was recovered */
    master_says(&x->recv, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, &in, 20);
    drop_hcalls(&x->recv);
    uint32_t members[] = {2, 3};
    census_from_master(&x->recv, members, 2, 100);
    assert_int_equal(census_sent(&x->recv), 1); /* to node 2 */
    census_answer(&x->recv, 2, 110);
    assert_false(x->recv.census.running);
    drop_hcalls(&x->recv);
    assert_false(owes_census(&x->recv, 120));
    /* The follow-up is due: nothing run on our own (it would ask nobody
     * and take back what node 2 holds), but it is owed. */
    int64_t due = 100 + 20 * (int64_t)x->cfg.timing.stats_interval_ms;
    uint64_t round = x->recv.census.round;
    slave_core_on_tick(&x->recv, due + 1);
    assert_int_equal(census_sent(&x->recv), 0);
    assert_int_equal(hcalls_of(&x->recv, TKM_CALL_RECLAIM), 0);
    assert_int_equal(x->recv.census.round, round);
    assert_true(owes_census(&x->recv, due + 2));
    /* The master's census asks the leaving node; its end pays the debt,
     * with no further follow-up. */
    census_from_master(&x->recv, members, 2, due + 3);
    assert_int_equal(census_sent(&x->recv), 1);
    census_answer(&x->recv, 2, due + 4);
    assert_false(x->recv.census.running);
    drop_hcalls(&x->recv);
    assert_false(owes_census(&x->recv, due + 5));
    assert_false(owes_census(&x->recv, 2 * due));
}

/* A given-up census is not run again on our own (with only the enabled
 * set): it stays owed and the master asks for it with every member. */
static void test_census_given_up_stays_owed(void **state)
{
    struct fx *x = *state;
    uint32_t members[] = {1, 2, 3};
    census_from_master(&x->recv, members, 3, 100);
    assert_int_equal(census_sent(&x->recv), 2);
    drop_hcalls(&x->recv);
    int64_t patience = 5 * (int64_t)x->cfg.timing.stats_interval_ms;
    slave_core_on_tick(&x->recv, 100 + patience + 1);
    assert_false(x->recv.census.running); /* given up */
    drop_hcalls(&x->recv);
    census_sent(&x->recv); /* the give-up's Census done */
    for (int64_t t = 2; t < 40; t++)
        slave_core_on_tick(&x->recv, 100 + t * patience);
    assert_int_equal(census_sent(&x->recv), 0);
    assert_int_equal(hcalls_of(&x->recv, TKM_CALL_RECLAIM), 0);
    assert_true(owes_census(&x->recv, 100 + 40 * patience));
}

/* A node that took all its own pages back (after being declared failed)
 * has nothing out: it owes no census, whatever it owed before. */
static void test_census_paid_by_own_reclaim(void **state)
{
    struct fx *x = *state;
    Vmca__InvalidateNode in = VMCA__INVALIDATE_NODE__INIT;
    in.node = 2;
    master_says(&x->recv, VMCA__ENVELOPE__BODY_INVALIDATE_NODE, &in, 20);
    drop_hcalls(&x->recv);
    assert_true(owes_census(&x->recv, 30));
    struct tkm_sample fenced = {.generation = 1, .fenced = true};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &fenced), 0);
    assert_int_equal(x->recv.state, VMCA__NODE_STATE__NODE_RECOVERY);
    drop_hcalls(&x->recv);
    Vmca__InvalidateNotify done = VMCA__INVALIDATE_NOTIFY__INIT;
    master_says(&x->recv, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, &done, 40);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++)
        if (hc[i].kind == TKM_CALL_RECLAIM && hc[i].node == 3)
            id = hc[i].id;
    assert_int_not_equal(id, 0);
    assert_true(slave_census_owed(&x->recv, 50)); /* not before it is answered */
    struct tkm_reply ok = {.id = id};
    slave_core_on_hv_reply(&x->recv, &ok, 50);
    assert_false(slave_census_owed(&x->recv, 60));
}

/* A grant that arrives while the node recovers (its memory restarted) is
 * refused, not applied: the master's invalidation drops it at the donor,
 * and the node must not register again holding another home's pages. */
static void test_grant_refused_while_recovering(void **state)
{
    struct fx *x = *state;
    struct tkm_sample was = {.generation = 1}, now = {.generation = 2};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &was), 0);
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &now), 0); /* memory restarted */
    assert_int_equal(x->recv.state, VMCA__NODE_STATE__NODE_RECOVERY);
    assert_true(vmca_bitmap_test(&x->recv.enabled, 2)); /* node 2 still enabled */
    drop_hcalls(&x->recv);
    struct grant_msg m;
    grant_msg(&m, 5, vmca_gfn_make(2, 0), 1);
    m.env.incarnation = 222;
    assert_int_equal(slave_core_on_message(&x->recv, 2, false, &m.env, 20), VMCA_ERR_STATE);
    assert_int_equal(hcalls_of(&x->recv, TKM_CALL_GRANT), 0);
}

static void test_greedy_remote_asks_once(void **state)
{
    struct fx *x = *state;
    snprintf(x->cfg.policy.first_tier, sizeof x->cfg.policy.first_tier, "greedy-remote");
    x->recv.ft.policy = ft_policy_find("greedy-remote"); /* the core started with tlp */
    x->recv.ft.sets_targets = false; /* what init finds for it on this node */
    struct tkm_vm vm = {.vm = 1, .puts_total = 10, .puts_succ = 4};
    struct tkm_sample hv = {.total_pages = 10, .vms = &vm, .n_vms = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);
    Vmca__Envelope *ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->node, 3);
    assert_int_equal(ga->grant_any->pages, x->cfg.policy.first_tier_params.greedy_remote.batch);
    vmca_envelope_free(ga);
    /* Still failing, but a request is outstanding: no second one... */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 200);
    assert_no_grant_any(&x->recv);
    /* ... until it times out. */
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 200 + 6 * (int64_t)x->cfg.timing.stats_interval_ms);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    /* No failures: no request. */
    vm.puts_succ = 10;
    x->recv.tr.grant_any_req = 0;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100000);
    assert_no_grant_any(&x->recv);
}

/* A node whose VMs put nothing in the period asks for nothing, whatever
 * the policy estimates (qmemman: 900 used x 1.3 is above the 1000 owned):
 * idle, it lends its free pages and would ask for others' at once (two
 * such nodes traded the same pages for ever, vmca-sim seed 90053). Once
 * its VM puts again it asks for the preference's shortfall. */
static void test_idle_node_asks_nothing(void **state)
{
    struct fx *x = *state;
    snprintf(x->cfg.policy.first_tier, sizeof x->cfg.policy.first_tier, "qmemman");
    x->cfg.policy.first_tier_params.qmemman.ratio_percent = 130;
    x->cfg.policy.first_tier_params.qmemman.min_pages = 0;
    x->recv.ft.policy = ft_policy_find("qmemman");
    x->recv.ft.sets_targets = true;
    struct tkm_vm vm = {.vm = 1, .used = 900, .target = VM_TARGET_UNLIMITED};
    struct tkm_sample hv = {.total_pages = 1000, .vms = &vm, .n_vms = 1};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100);
    assert_no_grant_any(&x->recv);
    vm.puts_total = vm.puts_succ = 5;
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 100 + (int64_t)x->cfg.timing.stats_interval_ms);
    Vmca__Envelope *ga = one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY);
    assert_int_equal(ga->grant_any->pages, 1170 - 1000);
    vmca_envelope_free(ga);
}

/* One statistics period of `s`: the sample, then the tick that runs the
 * policy. The Surplus hypercalls it queued go to out (others dropped);
 * returns their count. Frames sent are kept for the caller. */
static size_t surplus_period(struct slave_core *s, const struct tkm_sample *hv, int64_t now,
                             struct tkm_call *out, size_t max)
{
    assert_int_equal(slave_core_on_hv_stats(s, hv), 0);
    slave_core_on_tick(s, now);
    size_t n, k = 0;
    struct tkm_call *hc = slave_core_take_hcalls(s, &n);
    for (size_t i = 0; i < n; i++)
        if (hc[i].kind == TKM_CALL_SURPLUS) {
            assert_true(k < max);
            out[k++] = hc[i];
        }
    return k;
}

static void drop_sent(struct slave_core *s)
{
    struct sent out[8];
    free_sent(out, take_sent(&s->out, out, 8));
}

/* Buddy-aligned blocks of home `home` for `pages` pages from index base
 * (a multiple of 2^17): the largest first. Returns the count. */
static size_t blocks_of(uint32_t home, uint64_t base, uint64_t pages, struct vmca_block *out,
                        size_t max)
{
    size_t n = 0;
    for (int o = 17; o >= 0; o--)
        if (pages & (UINT64_C(1) << o)) {
            assert_true(n < max);
            out[n++] = (struct vmca_block){vmca_gfn_make(home, base), (unsigned)o, 1};
            base += UINT64_C(1) << o;
        }
    return n;
}

/* Answers Surplus call c with `pages` pages of its home (from index
 * base); the Grant home is taken from the outbox and returned. */
static Vmca__Envelope *answer_surplus(struct slave_core *s, const struct tkm_call *c,
                                      uint64_t base, uint64_t pages, int64_t now)
{
    struct vmca_block b[20];
    size_t n = blocks_of(c->node, base, pages, b, 20);
    struct tkm_reply r = {.id = c->id, .pages = pages, .blocks = b, .n_blocks = n};
    slave_core_on_hv_reply(s, &r, now);
    return pages ? one(s, c->node, VMCA__ENVELOPE__BODY_GRANT) : NULL;
}

/* tlp: once demand has been quiet for policy.surplus_quiet_periods (3), free
 * pages of another home above the VM's target plus the slack go back to
 * it, at most a quarter of the pages owned per period, through a Grant the
 * home applies; the node keeps what its targets need (never its own pages). */
static void test_surplus_goes_home_keeps_need(void **state)
{
    struct fx *x = *state;
    uint64_t own = x->recv.self->tmem_pages;
    uint64_t used = own + 4000, borrowed = own;
    uint64_t slack = used / 8;               /* an eighth of the need: above own / 16 */
    assert_true(slack > own / 16);
    struct tkm_pages owned[2] = {{3, own}, {2, borrowed}};
    struct tkm_vm vm = {.vm = 1, .used = used, .target = VM_TARGET_UNLIMITED,
                        .puts_total = 10, .puts_succ = 10};
    struct tkm_sample hv = {.generation = 1, .total_pages = own + borrowed, .owned = owned,
                            .n_owned = 2, .vms = &vm, .n_vms = 1};
    struct tkm_call sc[4];
    int64_t t = 100;
    /* Two quiet periods: nothing yet (the first sets the target to used). */
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    vm.target = used;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    /* The third: a quarter of the pages owned, of home 2, not more. */
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 1);
    assert_int_equal(sc[0].node, 2);
    uint64_t step = (own + borrowed) / 4;
    assert_int_equal(sc[0].pages, step);
    assert_true(own + borrowed - step > used + slack); /* the bound, not the need, limits */
    drop_sent(&x->recv);
    /* The hypervisor gives them: a Grant to the home, which applies it. */
    Vmca__Envelope *grant = answer_surplus(&x->recv, &sc[0], 0, step, t + 1);
    assert_true(grant->grant->blocks[0]->gfn == vmca_gfn_make(2, 0));
    assert_int_equal(slave_core_surplus_given(&x->recv), step);
    assert_int_equal(drop_hcalls(&x->recv), 0); /* the target still fits: no Mem-Limit */
    deliver(&x->donor, 3, 333, grant);
    struct tkm_call gh = take_one_hcall(&x->donor, TKM_CALL_GRANT, NULL, NULL);
    assert_int_equal(gh.node, 3);
    vmca_envelope_free(grant);
    /* The next periods: only down to what the target and the slack need. */
    uint64_t given = step;
    for (int round = 0; round < 8 && own + borrowed - given > used + slack; round++) {
        owned[1].pages = borrowed - given;
        hv.total_pages = own + borrowed - given;
        assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 1);
        assert_int_equal(sc[0].node, 2);
        uint64_t want = hv.total_pages - used - slack;
        assert_int_equal(sc[0].pages, want < hv.total_pages / 4 ? want : hv.total_pages / 4);
        vmca_envelope_free(answer_surplus(&x->recv, &sc[0], UINT64_C(1) << 17 * (round + 1),
                                          sc[0].pages, t + 1));
        given += sc[0].pages;
    }
    assert_int_equal(own + borrowed - given, used + slack);
    assert_int_equal(slave_core_surplus_given(&x->recv), given);
    /* At the need, nothing more goes. */
    owned[1].pages = borrowed - given;
    hv.total_pages = own + borrowed - given;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    /* Less than a slack's worth above it (pages freed a few at a time):
     * no round; a slack's worth: one. */
    owned[1].pages += slack - 1;
    hv.total_pages += slack - 1;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    owned[1].pages += 1;
    hv.total_pages += 1;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 1);
    assert_int_equal(sc[0].pages, slack);
}

/* No giving back while the VMs are under pressure, while a Grant-Any is
 * outstanding, or in the quiet periods right after: no give-and-ask-again
 * loop. After the guest is gone everything of the other homes goes back
 * (none of ours), home by home. */
static void test_surplus_waits_for_quiet(void **state)
{
    struct fx *x = *state;
    snprintf(x->cfg.policy.first_tier, sizeof x->cfg.policy.first_tier, "greedy-remote");
    x->recv.ft.policy = ft_policy_find("greedy-remote");
    x->recv.ft.sets_targets = false; /* what init finds for it on this node */
    uint64_t own = x->recv.self->tmem_pages, step = (own + 20000) / 4;
    struct tkm_pages owned[3] = {{3, own}, {2, 15000}, {1, 5000}};
    struct tkm_vm vm = {.vm = 1, .used = 100, .puts_total = 10, .puts_succ = 4};
    struct tkm_sample hv = {.generation = 1, .total_pages = own + 20000, .owned = owned,
                            .n_owned = 3, .vms = &vm, .n_vms = 1};
    struct tkm_call sc[4];
    int64_t t = 100;
    /* Failing puts: a Grant-Any, never a surplus. */
    assert_int_equal(surplus_period(&x->recv, &hv, t += 1000, sc, 4), 0);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    /* Puts succeed, but the Grant-Any is outstanding: still nothing, for
     * more periods than the quiet ones. */
    vm.puts_succ = vm.puts_total;
    for (int i = 0; i < 4; i++)
        assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_no_grant_any(&x->recv);
    /* Served: the quiet periods count from now. */
    x->recv.tr.grant_any_req = 0;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    /* A failed put again: the count restarts. */
    vm.puts_succ = 9;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    drop_sent(&x->recv);
    x->recv.tr.grant_any_req = 0;
    vm.puts_succ = vm.puts_total;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    /* The guest is gone: the pages of both homes go back, within the
     * bound per period, and none of node 3's own. */
    hv.n_vms = 0;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 2);
    assert_int_equal(sc[0].node, 2);
    assert_int_equal(sc[0].pages, 15000);
    assert_int_equal(sc[1].node, 1);
    assert_int_equal(sc[1].pages, 5000);                /* all of it: within the bound */
    assert_true(15000 + 5000 < step);
    /* One round at a time: none while those are unanswered. */
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    /* A short answer (little of home 1 was free): wait the quiet periods
     * again, not a page or two home every period. */
    struct vmca_block b2 = {vmca_gfn_make(2, 0), 13, 1}, b1 = {vmca_gfn_make(1, 0), 8, 1};
    struct tkm_reply r = {.id = sc[0].id, .pages = 8192, .blocks = &b2, .n_blocks = 1};
    slave_core_on_hv_reply(&x->recv, &r, t + 1);
    r = (struct tkm_reply){.id = sc[1].id, .pages = 256, .blocks = &b1, .n_blocks = 1};
    slave_core_on_hv_reply(&x->recv, &r, t + 1);
    drop_sent(&x->recv);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 2);
    r = (struct tkm_reply){.id = sc[0].id, .pages = 8192, .blocks = &b2, .n_blocks = 1};
    slave_core_on_hv_reply(&x->recv, &r, t + 1);
    b1.order = 12;
    r = (struct tkm_reply){.id = sc[1].id, .pages = 4096, .blocks = &b1, .n_blocks = 1};
    slave_core_on_hv_reply(&x->recv, &r, t + 1);
    drop_sent(&x->recv);
    /* The master recovers node 1 and waits for us to be clear: surplus
     * returns pause for the quiet periods, then go on (none to node 1). */
    Vmca__InvalidateNode in = VMCA__INVALIDATE_NODE__INIT;
    in.node = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NODE;
    env.invalidate_node = &in;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, t), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 1);
    assert_int_equal(sc[0].node, 2);
}

/* A node that asks again soon after giving back waits twice the quiet
 * periods before the next round: demand that comes and goes on a longer
 * rhythm does not make it give and ask again every few periods. */
static void test_surplus_backs_off_after_asking_again(void **state)
{
    struct fx *x = *state;
    snprintf(x->cfg.policy.first_tier, sizeof x->cfg.policy.first_tier, "greedy-remote");
    x->recv.ft.policy = ft_policy_find("greedy-remote");
    x->recv.ft.sets_targets = false; /* what init finds for it on this node */
    uint64_t own = x->recv.self->tmem_pages;
    struct tkm_pages owned[2] = {{3, own}, {2, 16384}};
    struct tkm_vm vm = {.vm = 1, .used = own, .puts_total = 10, .puts_succ = 10};
    struct tkm_sample hv = {.generation = 1, .total_pages = own + 16384, .owned = owned,
                            .n_owned = 2, .vms = &vm, .n_vms = 1};
    struct tkm_call sc[4];
    int64_t t = 100;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 1);
    uint64_t asked = sc[0].pages;
    assert_int_equal(asked, 16384 - own / 8); /* down to use plus an eighth */
    drop_sent(&x->recv);
    vmca_envelope_free(answer_surplus(&x->recv, &sc[0], 0, asked, t + 1));
    /* Two periods later its VM's puts fail again: a Grant-Any. */
    owned[1].pages -= asked;
    hv.total_pages -= asked;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    vm.puts_succ = 5;
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    vmca_envelope_free(one(&x->recv, 1, VMCA__ENVELOPE__BODY_GRANT_ANY));
    x->recv.tr.grant_any_req = 0; /* served */
    vm.puts_succ = vm.puts_total;
    owned[1].pages += 8192;
    hv.total_pages += 8192;
    /* Now six quiet periods, not three, before the next round. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 0);
    assert_int_equal(surplus_period(&x->recv, &hv, t += 100, sc, 4), 1);
    assert_int_equal(sc[0].node, 2);
}

/* VmLimits from the master (vmcactl mem-set): each cap is that VM's
 * max_pages for every policy run, a target above it comes down at once,
 * a bad set is refused whole, and the caps go with the master connection. */
static void test_tlp_vm_caps(void **state)
{
    struct fx *x = *state;
    struct tkm_vm vm[2] = {{.vm = 1, .used = 200, .target = 200, .puts_total = 10, .puts_succ = 2},
                           {.vm = 2, .used = 200, .target = 200, .puts_total = 10, .puts_succ = 2}};
    struct tkm_sample hv = {.total_pages = 1000, .vms = vm, .n_vms = 2};
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    drop_hcalls(&x->recv);
    x->recv.ft.targets[0].pages = x->recv.ft.targets[1].pages = 200;
    Vmca__VmCap cap = VMCA__VM_CAP__INIT, dup = VMCA__VM_CAP__INIT, *caps[2] = {&cap, &dup};
    cap.vm = 1;
    cap.pages = 120;
    Vmca__VmLimits vl = VMCA__VM_LIMITS__INIT;
    vl.caps = caps;
    vl.n_caps = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_VM_LIMITS;
    env.vm_limits = &vl;
    assert_int_equal(slave_core_on_message(&x->recv, 2, false, &env, 50), VMCA_ERR_AUTH);
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 50), 0);
    size_t n;
    struct tkm_call *hc = slave_core_take_hcalls(&x->recv, &n);
    assert_int_equal(n, 1);                     /* VM 1 down to its cap at once */
    assert_int_equal(hc[0].kind, TKM_CALL_MEM_LIMIT);
    assert_int_equal(hc[0].targets[0].vm, 1);
    assert_int_equal(hc[0].targets[0].pages, 120);
    assert_int_equal(hc[0].targets[1].pages, 200);
    /* Both fail puts: tlp grows both, VM 1 only up to its cap. */
    vm[0].target = 120;
    for (int64_t t = 100; t <= 300; t += 100) {
        assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
        slave_core_on_tick(&x->recv, t);
        hc = slave_core_take_hcalls(&x->recv, &n);
        assert_true(n >= 1);
        assert_int_equal(hc[n - 1].targets[0].pages, 120);
        assert_true(hc[n - 1].targets[1].pages > 200);
        vm[1].target = hc[n - 1].targets[1].pages;
        struct sent out[4];
        free_sent(out, take_sent(&x->recv.out, out, 4));
        x->recv.tr.grant_any_req = 0;
    }
    /* A cap of 0, or a VM named twice: refused whole, the cap stays. */
    cap.pages = 0;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 350), VMCA_ERR_INVAL);
    cap.pages = 90;
    dup.vm = 1;
    dup.pages = 500;
    vl.n_caps = 2;
    assert_int_equal(slave_core_on_message(&x->recv, 1, true, &env, 360), VMCA_ERR_INVAL);
    assert_int_equal(drop_hcalls(&x->recv), 0);
    assert_int_equal(slave_vm_max(&x->recv, 1), 120);
    /* The master connection goes, and the caps with it. */
    slave_core_on_master_down(&x->recv, 400);
    assert_true(slave_vm_max(&x->recv, 1) == VM_TARGET_UNLIMITED);
    assert_int_equal(slave_core_on_hv_stats(&x->recv, &hv), 0);
    slave_core_on_tick(&x->recv, 500);
    hc = slave_core_take_hcalls(&x->recv, &n);
    assert_true(n >= 1);
    assert_true(hc[n - 1].targets[0].pages > 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grant_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounce_to_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_granted_pages_raise_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_raise_any_vm_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wanted_mark_is_no_vm_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_refused_while_recovering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greedy_remote_asks_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_node_asks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surplus_goes_home_keeps_need, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surplus_waits_for_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surplus_backs_off_after_asking_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tlp_targets_within_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_restart_adopts_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_mem_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_vm_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_new_vm_between_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tlp_provisional_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_forgets_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_restart_new_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_limits_sent_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_owed_until_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_bad_reply_refused_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_followup_asks_leaving_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_given_up_stays_owed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_census_paid_by_own_reclaim, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
