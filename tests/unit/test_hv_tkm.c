/* The hypervisor-side TKM dispatcher (hv-ext/hv_tkm.h) through backend
 * inproc: the core's plain calls mapped onto the ops (tkm_call_apply), the
 * checks vmca-hv makes (a refused call changes nothing), the answers, the
 * environment it asks, and the statistics sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "gfn.h"
#include "hv_tkm.h"
#include "tkm_pb.h"

#define PAGE 4096u
#define NHOMES 4
#define HOME_PAGES 64u

struct fx {
    uint8_t *mem[NHOMES + 1];
    struct hvx *h;              /* node 1 */
    struct hv_tkm *d;
    struct tkm_backend b;
    bool fenced, remote;
    uint32_t forgotten;         /* last home forgotten, 0 none */
    /* the last reply, copied */
    size_t replies;
    struct tkm_reply r;
    struct vmca_block blocks[64];
    int results[64];
    char error[256];
    size_t samples;
};

static void *fake_alloc(void *arg, size_t n) { return calloc(1, n); }
static void fake_free(void *arg, void *p, size_t n) { free(p); }

static void *fake_page(void *arg, uint64_t gfn, int *fault)
{
    struct fx *x = arg;
    uint32_t home = vmca_gfn_home(gfn);
    uint64_t idx = vmca_gfn_index(gfn);
    if (home == 0 || home > NHOMES || idx >= HOME_PAGES) {
        *fault = -1;
        return NULL;
    }
    return x->mem[home] + idx * PAGE;
}

static bool env_fenced(void *arg) { return ((struct fx *)arg)->fenced; }
static uint64_t env_generation(void *arg) { return 7; }
static void env_set_remote(void *arg, bool open) { ((struct fx *)arg)->remote = open; }
static void env_forget(void *arg, uint32_t home) { ((struct fx *)arg)->forgotten = home; }

static void on_reply(void *arg, const struct tkm_reply *r)
{
    struct fx *x = arg;
    assert_true(r->n_blocks <= 64 && r->n_results <= 64);
    x->replies++;
    x->r = *r;
    if (r->n_blocks)
        memcpy(x->blocks, r->blocks, r->n_blocks * sizeof *r->blocks);
    if (r->n_results)
        memcpy(x->results, r->results, r->n_results * sizeof *r->results);
    snprintf(x->error, sizeof x->error, "%s", r->error ? r->error : "");
}

static void on_sample(void *arg, const struct tkm_hv_stats *s)
{
    ((struct fx *)arg)->samples++;
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    struct hvx_home homes[NHOMES];
    uint32_t ids[NHOMES];
    for (unsigned i = 0; i < NHOMES; i++) {
        homes[i] = (struct hvx_home){.id = i + 1, .pages = HOME_PAGES, .location = {0, i},
                                     .location_len = 2};
        ids[i] = i + 1;
        x->mem[i + 1] = calloc(HOME_PAGES, PAGE);
    }
    struct hvx_params p = {.self = 1, .page_size = PAGE, .homes = homes, .n_homes = NHOMES};
    struct hvx_env env = {fake_alloc, fake_free, fake_page, NULL, x, NULL, NULL, NULL};
    x->h = hvx_new(&p, &env);
    assert_non_null(x->h);
    struct hv_tkm_params tp = {.self = 1, .nodes = ids, .n_nodes = NHOMES, .max_blocks = 64,
                               .max_vms = 8};
    struct hv_tkm_env tenv = {x, env_fenced, env_generation, env_set_remote, env_forget, NULL};
    struct hv_tkm_answers out = {on_reply, on_sample};
    x->d = hv_tkm_new(x->h, &tp, &tenv, &out, x);
    assert_non_null(x->d);
    x->b = hv_tkm_backend(x->d);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    hv_tkm_free(x->d);
    hvx_destroy(x->h);
    for (unsigned i = 1; i <= NHOMES; i++)
        free(x->mem[i]);
    free(x);
    return 0;
}

/* Makes one plain call through the backend; it is answered at once. */
static void call(struct fx *x, struct tkm_call c)
{
    static uint64_t id;
    c.id = ++id;
    size_t before = x->replies;
    assert_int_equal(tkm_call_apply(&x->b, &c), VMCA_OK);
    assert_int_equal(x->replies, before + 1);
    assert_int_equal(x->r.id, c.id);
}

static void assert_block(const struct vmca_block *got, const struct vmca_block *want)
{
    assert_int_equal(got->gfn, want->gfn);
    assert_int_equal(got->order, want->order);
    assert_int_equal(got->generation, want->generation);
}

static uint64_t target_of(struct fx *x, uint32_t vm)
{
    struct tkm_hv_stats st;
    hv_tkm_sample(x->d, false, &st);
    for (size_t i = 0; i < st.sample.n_vms; i++)
        if (st.sample.vms[i].vm == vm)
            return st.sample.vms[i].target;
    fail_msg("no VM %u in the sample", vm);
    return 0;
}

static void test_mem_limit_unknown_vm_changes_nothing(void **state)
{
    struct fx *x = *state;
    assert_int_equal(hvx_client_new(x->h, 1), HVX_OK);
    struct vm_target t[2] = {{.vm = 1, .pages = 40}, {.vm = 9, .pages = 10}};
    call(x, (struct tkm_call){.kind = TKM_CALL_MEM_LIMIT, .targets = t, .n_targets = 1});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(target_of(x, 1), 40);
    /* VM 9 is unknown: the whole call is refused, VM 1 keeps 40. */
    t[0].pages = 20;
    call(x, (struct tkm_call){.kind = TKM_CALL_MEM_LIMIT, .targets = t, .n_targets = 2});
    assert_int_equal(x->r.status, HVX_ENOENT);
    assert_string_equal(x->error, "mem-limit: no VM 9");
    assert_int_equal(target_of(x, 1), 40);
}

static void test_grant_answers_per_block(void **state)
{
    struct fx *x = *state;
    call(x, (struct tkm_call){.kind = TKM_CALL_ENABLE, .node = 2, .enable = true});
    assert_int_equal(x->r.status, 0);
    /* One good block, one misaligned, one of an unknown home. */
    struct vmca_block g[3] = {{vmca_gfn_make(2, 0), 4, 1}, {vmca_gfn_make(2, 17), 2, 1},
                              {vmca_gfn_make(9, 0), 0, 1}};
    call(x, (struct tkm_call){.kind = TKM_CALL_GRANT, .node = 2, .blocks = g, .n_blocks = 3});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->r.pages, 16);
    assert_int_equal(x->r.n_results, 3);
    assert_int_equal(x->results[0], TKM_GRANT_ACCEPTED);
    assert_int_equal(x->results[1], TKM_GRANT_REJECTED);
    assert_int_equal(x->results[2], TKM_GRANT_REJECTED);
    assert_int_equal(x->r.n_blocks, 3);
    for (int i = 0; i < 3; i++)
        assert_block(&x->blocks[i], &g[i]);
    /* Home 3 is not enabled: its block bounces and comes back in the reply. */
    struct vmca_block h3 = {vmca_gfn_make(3, 8), 3, 1};
    call(x, (struct tkm_call){.kind = TKM_CALL_GRANT, .node = 3, .blocks = &h3, .n_blocks = 1});
    assert_int_equal(x->results[0], TKM_GRANT_BOUNCED);
    assert_block(&x->blocks[0], &h3);
    /* More blocks than the dispatcher takes: refused whole. */
    struct vmca_block many[65] = {{0}};
    call(x, (struct tkm_call){.kind = TKM_CALL_GRANT, .node = 2, .blocks = many, .n_blocks = 65});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_int_equal(x->r.n_results, 0);
    assert_int_equal(hvx_owned_of(x->h, 2), 16);
}

static void test_request_only_for_another_known_node(void **state)
{
    struct fx *x = *state;
    call(x, (struct tkm_call){.kind = TKM_CALL_REQUEST, .node = 1, .pages = 8});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_string_equal(x->error, "request: node 1 is not another node of the cluster");
    call(x, (struct tkm_call){.kind = TKM_CALL_REQUEST, .node = 5, .pages = 8});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_int_equal(hvx_owned_pages(x->h), HOME_PAGES);
    /* A fenced node gives nothing away. */
    x->fenced = true;
    call(x, (struct tkm_call){.kind = TKM_CALL_REQUEST, .node = 2, .pages = 8});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->r.pages, 0);
    assert_int_equal(x->r.n_blocks, 0);
    x->fenced = false;
    call(x, (struct tkm_call){.kind = TKM_CALL_REQUEST, .node = 2, .pages = 8});
    assert_int_equal(x->r.pages, 8);
    assert_int_equal(vmca_blocks_pages(x->blocks, x->r.n_blocks), 8);
    assert_int_equal(hvx_owned_pages(x->h), HOME_PAGES - 8);
}

/* Surplus: free pages of another home back to it, at most those asked;
 * never of this node or an unknown one, nothing when fenced. */
static void test_surplus_gives_free_pages_of_the_home(void **state)
{
    struct fx *x = *state;
    call(x, (struct tkm_call){.kind = TKM_CALL_ENABLE, .node = 2, .enable = true});
    struct vmca_block g = {vmca_gfn_make(2, 0), 5, 0};
    call(x, (struct tkm_call){.kind = TKM_CALL_GRANT, .node = 2, .blocks = &g, .n_blocks = 1});
    assert_int_equal(x->r.pages, 32);
    call(x, (struct tkm_call){.kind = TKM_CALL_SURPLUS, .node = 1, .pages = 8});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_string_equal(x->error, "surplus: node 1 is not another node of the cluster");
    call(x, (struct tkm_call){.kind = TKM_CALL_SURPLUS, .node = 5, .pages = 8});
    assert_int_equal(x->r.status, HVX_EINVAL);
    x->fenced = true;
    call(x, (struct tkm_call){.kind = TKM_CALL_SURPLUS, .node = 2, .pages = 8});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->r.n_blocks, 0);
    x->fenced = false;
    call(x, (struct tkm_call){.kind = TKM_CALL_SURPLUS, .node = 3, .pages = 8});
    assert_int_equal(x->r.status, 0);             /* none of home 3 held: nothing */
    assert_int_equal(x->r.n_blocks, 0);
    assert_int_equal(hvx_owned_pages(x->h), HOME_PAGES + 32);
    call(x, (struct tkm_call){.kind = TKM_CALL_SURPLUS, .node = 2, .pages = 24});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->r.pages, 24);
    assert_int_equal(vmca_blocks_pages(x->blocks, x->r.n_blocks), 24);
    for (size_t i = 0; i < x->r.n_blocks; i++)
        assert_int_equal(vmca_gfn_home(x->blocks[i].gfn), 2);
    assert_int_equal(hvx_owned_of(x->h, 2), 8);
    assert_int_equal(hvx_owned_of(x->h, 1), HOME_PAGES); /* our own stay */
    /* As vmca-hv decodes it from its socket. */
    struct tkm_pb *pb = tkm_pb_new();
    assert_non_null(pb);
    Vmca__TkmSurplus sp = VMCA__TKM_SURPLUS__INIT;
    sp.home = 2;
    sp.pages = 100;
    Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
    m.id = 79;
    m.call_case = VMCA__TKM_TO_HV__CALL_SURPLUS;
    m.surplus = &sp;
    assert_int_equal(tkm_pb_call_apply(pb, &m, &x->b), 0);
    assert_int_equal(x->r.id, 79);
    assert_int_equal(x->r.pages, 8);
    assert_int_equal(hvx_owned_of(x->h, 2), 0);
    tkm_pb_free(pb);
}

static void test_reclaim_needs_one_owner_per_block(void **state)
{
    struct fx *x = *state;
    struct vmca_block held[2] = {{vmca_gfn_make(1, 0), 3, 0}, {vmca_gfn_make(1, 8), 3, 0}};
    uint32_t owners[2] = {2, 3};
    size_t before = x->replies;
    assert_int_equal(x->b.ops->reclaim(x->b.be, 42, held, 2, owners, 1), VMCA_OK);
    assert_int_equal(x->replies, before + 1);
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_string_equal(x->error, "reclaim: 2 blocks and 1 owners (at most 64, one owner each)");
    /* The core without memory for the owners: the call is not made at all
     * (an empty reclaim would take back every page). */
    struct tkm_call c = {.id = 43, .kind = TKM_CALL_RECLAIM, .blocks = held, .n_blocks = 2};
    assert_int_equal(tkm_call_apply(&x->b, &c), VMCA_ERR_NOMEM);
    assert_int_equal(x->replies, before + 1);
    /* A well-formed census result is taken. */
    call(x, (struct tkm_call){.kind = TKM_CALL_RECLAIM, .node = 1, .blocks = held,
                              .n_blocks = 2, .owners = owners});
    assert_int_equal(x->r.status, 0);
}

static void test_freeze_enable_invalidate_owned(void **state)
{
    struct fx *x = *state;
    call(x, (struct tkm_call){.kind = TKM_CALL_FREEZE, .node = 9, .enable = true});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_string_equal(x->error, "freeze: no node 9");
    call(x, (struct tkm_call){.kind = TKM_CALL_FREEZE, .node = 1, .enable = true});
    assert_int_equal(x->r.status, 0);
    assert_true(hvx_frozen(x->h, 1));
    hv_tkm_manager_gone(x->d);
    assert_false(hvx_frozen(x->h, 1));
    /* Enable of this node opens or closes its memory to remote access. */
    call(x, (struct tkm_call){.kind = TKM_CALL_ENABLE, .node = 1, .enable = true});
    assert_int_equal(x->r.status, 0);
    assert_true(x->remote);
    call(x, (struct tkm_call){.kind = TKM_CALL_ENABLE, .node = 1, .enable = false});
    assert_false(x->remote);
    call(x, (struct tkm_call){.kind = TKM_CALL_ENABLE, .node = 9, .enable = true});
    assert_int_equal(x->r.status, HVX_EINVAL);
    /* Invalidate forgets the home's mapping; never of this node. */
    call(x, (struct tkm_call){.kind = TKM_CALL_INVALIDATE, .node = 1});
    assert_int_equal(x->r.status, HVX_EINVAL);
    assert_int_equal(x->forgotten, 0);
    call(x, (struct tkm_call){.kind = TKM_CALL_INVALIDATE, .node = 3});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->forgotten, 3);
    /* Owned: every own block here, all of them (done). */
    call(x, (struct tkm_call){.kind = TKM_CALL_OWNED, .node = 1});
    assert_int_equal(x->r.status, 0);
    assert_int_equal(x->r.pages, HOME_PAGES);
    assert_true(x->r.done);
    call(x, (struct tkm_call){.kind = TKM_CALL_OWNED, .node = 9});
    assert_int_equal(x->r.status, HVX_EINVAL);
}

static void test_sample_and_stats_now(void **state)
{
    struct fx *x = *state;
    struct tkm_hv_stats st;
    hv_tkm_sample(x->d, false, &st);
    assert_int_equal(st.sample.period, 1);
    assert_int_equal(st.sample.generation, 7);
    assert_int_equal(st.sample.total_pages, HOME_PAGES);
    assert_int_equal(st.sample.n_owned, 1);
    hv_tkm_sample(x->d, true, &st);
    assert_int_equal(st.sample.period, 2);
    x->fenced = true;
    hv_tkm_sample(x->d, false, &st);
    assert_true(st.sample.fenced);
    assert_int_equal(st.sample.period, 2);
    /* Stats-Now: a reply, then a sample. */
    assert_int_equal(x->b.ops->stats_now(x->b.be, 5), VMCA_OK);
    assert_int_equal(x->r.id, 5);
    assert_int_equal(x->samples, 1);
}

/* vmca-hv's decoding (tkm_pb.c) of a call with more blocks than a call may
 * carry: refused by the dispatcher without the blocks being copied (a
 * local client cannot grow the hypervisor's scratch without bound). */
static void test_decoded_oversize_call_refused_uncopied(void **state)
{
    struct fx *x = *state;
    struct tkm_pb *pb = tkm_pb_new();
    assert_non_null(pb);
    Vmca__TkmGrant g = VMCA__TKM_GRANT__INIT;
    g.from = 2;
    g.n_blocks = TKM_MAX_BLOCKS + 1;
    g.blocks = NULL; /* read, it would crash */
    Vmca__TkmToHv m = VMCA__TKM_TO_HV__INIT;
    m.id = 77;
    m.call_case = VMCA__TKM_TO_HV__CALL_GRANT;
    m.grant = &g;
    assert_int_equal(tkm_pb_call_apply(pb, &m, &x->b), 0);
    assert_int_equal(x->r.id, 77);
    assert_int_equal(x->r.status, HVX_EINVAL);
    Vmca__TkmReclaim rc = VMCA__TKM_RECLAIM__INIT;
    rc.n_held = rc.n_owners = TKM_MAX_BLOCKS + 1;
    m.call_case = VMCA__TKM_TO_HV__CALL_RECLAIM;
    m.reclaim = &rc;
    m.id = 78;
    assert_int_equal(tkm_pb_call_apply(pb, &m, &x->b), 0);
    assert_int_equal(x->r.id, 78);
    assert_int_equal(x->r.status, HVX_EINVAL);
    tkm_pb_free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mem_limit_unknown_vm_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_answers_per_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_surplus_gives_free_pages_of_the_home, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_only_for_another_known_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_needs_one_owner_per_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_enable_invalidate_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_and_stats_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_oversize_call_refused_uncopied, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
