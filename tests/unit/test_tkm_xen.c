/* Backend xen (tkm/tkm_xen.h) driven through tkm_ops with a fake Xen behind
 * its seam (struct tkm_xen_sys): samples built from the fake's domain list
 * (dom0, dying and xenstore domains left out; domains appearing and
 * vanishing; lists longer than one libxenctrl batch), Mem-Limit writing KiB
 * targets in one transaction or none, the calls stock Xen cannot make
 * refused with a reply, Xen failing and coming back, and sample timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "tkm_xen.h"

#define MAX_DOMS 400
#define NODE 3u
#define INTERVAL 1000u

/* ---- the fake Xen ---- */

struct fake_xen {
    struct tkm_xen_domain dom[MAX_DOMS];   /* in increasing domid order */
    size_t n_dom;
    uint64_t total, free_pages;
    bool has_target[MAX_DOMS];             /* by domid */
    uint64_t target_kib[MAX_DOMS];
    bool fail_physinfo, fail_write, fail_read;
    size_t domain_calls, max_cap, writes, transactions;
    bool closed;
};

static int fake_physinfo(void *arg, uint64_t *total, uint64_t *free_pages, char *err,
                         size_t errlen)
{
    struct fake_xen *f = arg;
    if (f->fail_physinfo) {
        snprintf(err, errlen, "xc_physinfo: Permission denied");
        return VMCA_ERR_IO;
    }
    *total = f->total;
    *free_pages = f->free_pages;
    return VMCA_OK;
}

static int fake_domains(void *arg, uint32_t first, struct tkm_xen_domain *out, size_t cap,
                        char *err, size_t errlen)
{
    struct fake_xen *f = arg;
    f->domain_calls++;
    f->max_cap = cap > f->max_cap ? cap : f->max_cap;
    size_t n = 0;
    for (size_t i = 0; i < f->n_dom && n < cap; i++)
        if (f->dom[i].domid >= first)
            out[n++] = f->dom[i];
    return (int)n;
}

static int fake_read_target(void *arg, uint32_t domid, uint64_t *kib)
{
    struct fake_xen *f = arg;
    if (f->fail_read)
        return VMCA_ERR_IO;
    if (domid >= MAX_DOMS || !f->has_target[domid])
        return VMCA_ERR_NOTFOUND;
    *kib = f->target_kib[domid];
    return VMCA_OK;
}

static int fake_write_targets(void *arg, const uint32_t *domids, const uint64_t *kib, size_t n,
                              char *err, size_t errlen)
{
    struct fake_xen *f = arg;
    f->transactions++;
    if (f->fail_write) {
        snprintf(err, errlen, "/local/domain/%u/memory/target: Permission denied", domids[0]);
        return VMCA_ERR_IO;
    }
    for (size_t i = 0; i < n; i++) {
        assert_true(domids[i] < MAX_DOMS);
        f->has_target[domids[i]] = true;
        f->target_kib[domids[i]] = kib[i];
        f->writes++;
    }
    return VMCA_OK;
}

static void fake_close(void *arg) { ((struct fake_xen *)arg)->closed = true; }

static void add_dom(struct fake_xen *f, uint32_t domid, uint64_t tot, uint64_t max,
                    uint32_t flags)
{
    assert_true(f->n_dom < MAX_DOMS);
    size_t i = f->n_dom++;
    while (i > 0 && f->dom[i - 1].domid > domid) {
        f->dom[i] = f->dom[i - 1];
        i--;
    }
    f->dom[i] = (struct tkm_xen_domain){domid, flags, tot, max};
}

static void remove_dom(struct fake_xen *f, uint32_t domid)
{
    for (size_t i = 0; i < f->n_dom; i++)
        if (f->dom[i].domid == domid) {
            memmove(&f->dom[i], &f->dom[i + 1], (f->n_dom - i - 1) * sizeof f->dom[0]);
            f->n_dom--;
            return;
        }
    fail_msg("no domain %u to remove", domid);
}

/* ---- what the backend delivers, copied ---- */

struct got_reply {
    uint64_t id;
    int status;
    char error[256];
};

struct fx {
    struct fake_xen xen;
    struct tkm_xen *x;
    struct tkm_backend b;
    size_t ups, downs, samples, n_replies;
    char down_why[512];
    struct got_reply replies[32];
    /* the last sample */
    uint64_t total, free_pages, period, generation;
    struct tkm_pages owned[4];
    size_t n_owned, n_lent;
    struct tkm_vm vms[MAX_DOMS];
    size_t n_vms;
    /* order of events: 'u' up, 'r' reply, 's' sample, 'd' down */
    char order[64];
    size_t n_order;
};

static void note(struct fx *t, char c)
{
    if (t->n_order + 1 < sizeof t->order)
        t->order[t->n_order++] = c;
}

static void ev_up(void *arg) { ((struct fx *)arg)->ups++, note(arg, 'u'); }

static void ev_down(void *arg, const char *why)
{
    struct fx *t = arg;
    t->downs++;
    snprintf(t->down_why, sizeof t->down_why, "%s", why);
    note(t, 'd');
}

static void ev_reply(void *arg, const struct tkm_reply *r)
{
    struct fx *t = arg;
    assert_true(t->n_replies < 32);
    struct got_reply *g = &t->replies[t->n_replies++];
    g->id = r->id;
    g->status = r->status;
    snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
    note(t, 'r');
}

static void ev_sample(void *arg, const struct tkm_sample *s)
{
    struct fx *t = arg;
    t->samples++;
    t->total = s->total_pages;
    t->free_pages = s->free_pages;
    t->period = s->period;
    t->generation = s->generation;
    assert_true(s->n_owned <= 4);
    memcpy(t->owned, s->owned, s->n_owned * sizeof *s->owned);
    t->n_owned = s->n_owned;
    t->n_lent = s->n_lent;
    assert_true(s->n_vms <= MAX_DOMS);
    memcpy(t->vms, s->vms, s->n_vms * sizeof *s->vms);
    t->n_vms = s->n_vms;
    note(t, 's');
}

static const struct tkm_events events = {
    .up = ev_up, .sample = ev_sample, .reply = ev_reply, .down = ev_down,
};

static void start(struct fx *t, uint32_t page_size)
{
    struct tkm_xen_sys sys = {&t->xen, fake_physinfo, fake_domains, fake_read_target,
                              fake_write_targets, fake_close};
    struct tkm_xen_params p = {.node = NODE, .page_size = page_size, .interval_ms = INTERVAL};
    t->x = tkm_xen_new(&p, &sys, &events, t);
    assert_non_null(t->x);
    t->b = tkm_xen_backend(t->x);
}

/* A host of 1 GiB, 256 MiB free: dom0, guests 1 and 2. */
static int setup(void **state)
{
    struct fx *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->xen.total = 262144;
    t->xen.free_pages = 65536;
    add_dom(&t->xen, 0, 100000, UINT64_MAX, 0);
    add_dom(&t->xen, 1, 30000, 40000, 0);
    add_dom(&t->xen, 2, 20000, 25000, 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct fx *t = *state;
    if (t->x) {
        tkm_xen_free(t->x);
        assert_true(t->xen.closed);
    }
    free(t);
    return 0;
}

static const struct tkm_vm *vm_of(const struct fx *t, uint32_t vm)
{
    for (size_t i = 0; i < t->n_vms; i++)
        if (t->vms[i].vm == vm)
            return &t->vms[i];
    return NULL;
}

static const struct got_reply *reply_to(const struct fx *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_replies; i++)
        if (t->replies[i].id == id)
            return &t->replies[i];
    return NULL;
}

/* ---- tests ---- */

static void test_sample_from_domain_list(void **state)
{
    struct fx *t = *state;
    add_dom(&t->xen, 7, 5000, 8000, TKM_XEN_DOM_DYING);
    add_dom(&t->xen, 9, 4000, 4096, TKM_XEN_DOM_XENSTORE);
    t->xen.has_target[1] = true;
    t->xen.target_kib[1] = 131072; /* 128 MiB */
    t->xen.has_target[0] = true;   /* dom0's: never reported */
    t->xen.target_kib[0] = 400000;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    assert_string_equal(t->order, "us"); /* up before the first sample */
    assert_int_equal(t->samples, 1);
    assert_int_equal(t->total, 262144);
    assert_int_equal(t->free_pages, 65536);
    assert_int_equal(t->generation, 1);
    assert_int_equal(t->n_owned, 1);
    assert_int_equal(t->owned[0].node, NODE);
    assert_int_equal(t->owned[0].pages, 262144);
    assert_int_equal(t->n_lent, 0);
    assert_int_equal(t->n_vms, 2);            /* not 0, 7 (dying) or 9 (xenstore) */
    const struct tkm_vm *a = vm_of(t, 1), *b = vm_of(t, 2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->used, 30000);
    assert_int_equal(a->target, 32768);       /* 131072 KiB / 4 KiB */
    assert_int_equal(b->used, 20000);
    assert_true(b->target == VM_TARGET_UNLIMITED); /* no memory/target */
    assert_int_equal(a->puts_total + a->puts_succ + a->gets + a->flushes, 0);
}

static void test_domains_appear_and_vanish(void **state)
{
    struct fx *t = *state;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    assert_int_equal(t->n_vms, 2);
    uint64_t p1 = t->period;
    remove_dom(&t->xen, 2);
    add_dom(&t->xen, 5, 1234, 5000, 0);
    t->xen.dom[0].tot_pages = 1; /* dom0 changes: still not reported */
    t->xen.dom[1].tot_pages = 31000;
    tkm_xen_run(t->x, INTERVAL);
    assert_int_equal(t->samples, 2);
    assert_int_equal(t->period, p1 + 1);
    assert_int_equal(t->n_vms, 2);
    assert_null(vm_of(t, 2));
    assert_non_null(vm_of(t, 5));
    assert_int_equal(vm_of(t, 5)->used, 1234);
    assert_int_equal(vm_of(t, 1)->used, 31000);
    assert_null(vm_of(t, 0));
    /* A vanished domain is no VM for Mem-Limit either. */
    struct vm_target tg[] = {{.vm = 2, .pages = 100}};
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 11, tg, 1), VMCA_OK);
    tkm_xen_run(t->x, INTERVAL + 1);
    assert_int_equal(reply_to(t, 11)->status, -2);
    assert_string_equal(reply_to(t, 11)->error, "mem-limit: no VM 2");
}

/* More domains than one xc_domain_getinfolist batch: all of them. */
static void test_long_domain_list(void **state)
{
    struct fx *t = *state;
    for (uint32_t d = 3; d < 303; d++)
        add_dom(&t->xen, d, d, 1000, 0);
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    assert_int_equal(t->n_vms, 302);
    assert_non_null(vm_of(t, 302));
    assert_int_equal(vm_of(t, 302)->used, 302);
    assert_true(t->xen.domain_calls >= 2);
    assert_true(t->xen.max_cap < 303); /* asked in batches */
}

static void test_mem_limit_writes_kib(void **state)
{
    struct fx *t = *state;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    struct vm_target tg[] = {
        {.vm = 1, .pages = 1000},
        {.vm = 2, .pages = VM_TARGET_UNLIMITED},
    };
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 5, tg, 2), VMCA_OK);
    assert_int_equal(t->n_replies, 0); /* never inside the op */
    assert_true(tkm_xen_pending(t->x));
    assert_int_equal(t->xen.transactions, 1);
    assert_int_equal(t->xen.target_kib[1], 4000);
    assert_int_equal(t->xen.target_kib[2], 25000 * 4); /* unlimited: max_pages */
    tkm_xen_run(t->x, 10);
    assert_false(tkm_xen_pending(t->x));
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].id, 5);
    assert_int_equal(t->replies[0].status, 0);
    /* Above max_pages: Xen would not populate it, so max_pages is asked. */
    tg[0].pages = 50000;
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 6, tg, 1), VMCA_OK);
    assert_int_equal(t->xen.target_kib[1], 40000 * 4);
    /* The next sample reads the targets back from xenstore. */
    tkm_xen_run(t->x, INTERVAL);
    assert_int_equal(vm_of(t, 1)->target, 40000);
    assert_int_equal(vm_of(t, 2)->target, 25000);
}

/* vMCA's page from the configuration: 16 KiB pages are 4 Xen pages. */
static void test_page_size_from_configuration(void **state)
{
    struct fx *t = *state;
    t->xen.total = 1001;
    t->xen.free_pages = 7;
    t->xen.dom[1].tot_pages = 10;       /* 2.5 vMCA pages: 3 used */
    t->xen.has_target[1] = true;
    t->xen.target_kib[1] = 64 + 8;      /* 4.5 pages: 4 */
    start(t, 16384);
    tkm_xen_run(t->x, 0);
    assert_int_equal(t->total, 250);
    assert_int_equal(t->free_pages, 1);
    assert_int_equal(vm_of(t, 1)->used, 3);
    assert_int_equal(vm_of(t, 1)->target, 4);
    struct vm_target tg[] = {{.vm = 1, .pages = 5}};
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 1, tg, 1), VMCA_OK);
    assert_int_equal(t->xen.target_kib[1], 5 * 16);
    /* A page size Xen's pages do not divide is refused, the ops closed. */
    struct fake_xen other = {0};
    struct tkm_xen_sys sys = {&other, fake_physinfo, fake_domains, fake_read_target,
                              fake_write_targets, fake_close};
    struct tkm_xen_params p = {.node = NODE, .page_size = 2048, .interval_ms = INTERVAL};
    assert_null(tkm_xen_new(&p, &sys, &events, t));
    assert_true(other.closed);
}

static void test_mem_limit_all_or_nothing(void **state)
{
    struct fx *t = *state;
    add_dom(&t->xen, 8, 10, 20, TKM_XEN_DOM_DYING);
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    struct vm_target unknown[] = {{.vm = 1, .pages = 100}, {.vm = 42, .pages = 100}};
    struct vm_target dom0[] = {{.vm = 1, .pages = 100}, {.vm = 0, .pages = 100}};
    struct vm_target dying[] = {{.vm = 8, .pages = 100}};
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 1, unknown, 2), VMCA_OK);
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 2, dom0, 2), VMCA_OK);
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 3, dying, 1), VMCA_OK);
    tkm_xen_run(t->x, 1);
    assert_int_equal(t->xen.transactions, 0); /* nothing written, not even VM 1 */
    assert_false(t->xen.has_target[1]);
    assert_int_equal(reply_to(t, 1)->status, -2);
    assert_string_equal(reply_to(t, 1)->error, "mem-limit: no VM 42");
    assert_int_equal(reply_to(t, 2)->status, -2);
    assert_string_equal(reply_to(t, 2)->error, "mem-limit: no VM 0 (dom0 is not managed)");
    assert_string_equal(reply_to(t, 3)->error, "mem-limit: no VM 8 (the domain is dying)");
}

static void test_xenstore_write_failure_is_an_error_reply(void **state)
{
    struct fx *t = *state;
    t->xen.has_target[1] = true;
    t->xen.target_kib[1] = 8000;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    t->xen.fail_write = true;
    struct vm_target tg[] = {{.vm = 1, .pages = 100}, {.vm = 2, .pages = 100}};
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 9, tg, 2), VMCA_OK);
    tkm_xen_run(t->x, 1);
    const struct got_reply *r = reply_to(t, 9);
    assert_non_null(r);
    assert_int_equal(r->status, -5);
    assert_string_equal(r->error, "mem-limit: cannot write the balloon targets to xenstore: "
                                  "/local/domain/1/memory/target: Permission denied");
    assert_int_equal(t->xen.target_kib[1], 8000);
    assert_false(t->xen.has_target[2]);
}

/* Every call that needs tmem or the global address space, as the slave
 * core queues it, gets a refusal with its id (not silence). */
static void test_tmem_calls_refused(void **state)
{
    struct fx *t = *state;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    struct vmca_block blocks[1] = {{0}};
    uint32_t owners[1] = {2};
    static const struct {
        enum tkm_call_kind kind;
        const char *name;
    } calls[] = {
        {TKM_CALL_REQUEST, "request"},   {TKM_CALL_GRANT, "grant"},
        {TKM_CALL_ENABLE, "enable"},     {TKM_CALL_RETURN, "return"},
        {TKM_CALL_INVALIDATE, "invalidate"}, {TKM_CALL_OWNED, "owned"},
        {TKM_CALL_RECLAIM, "reclaim"},   {TKM_CALL_FREEZE, "freeze"},
        {TKM_CALL_SURPLUS, "surplus"},
    };
    size_t n = sizeof calls / sizeof calls[0];
    for (size_t i = 0; i < n; i++) {
        struct tkm_call c = {.id = 100 + i, .kind = calls[i].kind, .node = 2, .pages = 8,
                             .enable = true, .blocks = blocks, .n_blocks = 1,
                             .owners = owners};
        assert_int_equal(tkm_call_apply(&t->b, &c), VMCA_OK);
    }
    tkm_xen_run(t->x, 1);
    assert_int_equal(t->n_replies, n);
    for (size_t i = 0; i < n; i++) {
        const struct got_reply *r = reply_to(t, 100 + i);
        assert_non_null(r);
        assert_int_equal(r->status, TKM_XEN_EOPNOTSUPP);
        char want[128];
        snprintf(want, sizeof want,
                 "%s: not supported by the xen backend: stock Xen has no tmem", calls[i].name);
        assert_string_equal(r->error, want);
    }
    assert_int_equal(t->xen.transactions, 0);
}

static void test_sample_timing(void **state)
{
    struct fx *t = *state;
    start(t, 4096);
    assert_int_equal(tkm_xen_run(t->x, 5000), INTERVAL);
    assert_int_equal(t->samples, 1);
    uint64_t p = t->period;
    assert_int_equal(tkm_xen_run(t->x, 5400), 600);  /* not due: nothing */
    assert_int_equal(t->samples, 1);
    assert_int_equal(tkm_xen_run(t->x, 6000), INTERVAL);
    assert_int_equal(t->samples, 2);
    assert_int_equal(t->period, p + 1);
    /* Late by 2.5 periods: one sample, no catching up, the next a whole
     * interval on. */
    assert_int_equal(tkm_xen_run(t->x, 9500), INTERVAL);
    assert_int_equal(t->samples, 3);
    assert_int_equal(t->period, p + 2);
    assert_int_equal(tkm_xen_run(t->x, 9600), 900);
    assert_int_equal(t->samples, 3);
    /* stats_now: its reply, then a sample of the same period. */
    t->n_order = 0;
    memset(t->order, 0, sizeof t->order);
    assert_int_equal(t->b.ops->stats_now(t->b.be, 77), VMCA_OK);
    assert_true(tkm_xen_pending(t->x));
    assert_int_equal(tkm_xen_run(t->x, 9700), 800);
    assert_string_equal(t->order, "rs");
    assert_int_equal(t->replies[t->n_replies - 1].id, 77);
    assert_int_equal(t->samples, 4);
    assert_int_equal(t->period, p + 2);
    assert_false(tkm_xen_pending(t->x));
}

/* Xen stops answering: `down` once, calls not made meanwhile; back: `up`
 * before the sample. */
static void test_xen_down_and_back(void **state)
{
    struct fx *t = *state;
    start(t, 4096);
    tkm_xen_run(t->x, 0);
    t->xen.fail_physinfo = true;
    tkm_xen_run(t->x, INTERVAL);
    tkm_xen_run(t->x, 2 * INTERVAL);
    assert_int_equal(t->downs, 1);
    assert_string_equal(t->down_why, "Xen does not answer: xc_physinfo: Permission denied");
    assert_int_equal(t->samples, 1);
    struct vm_target tg[] = {{.vm = 1, .pages = 100}};
    assert_int_equal(t->b.ops->mem_limit(t->b.be, 1, tg, 1), VMCA_ERR_STATE);
    assert_int_equal(t->b.ops->request(t->b.be, 2, 1, 8), VMCA_ERR_STATE);
    assert_int_equal(t->b.ops->stats_now(t->b.be, 3), VMCA_ERR_STATE);
    assert_int_equal(t->xen.transactions, 0);
    t->n_order = 0;
    memset(t->order, 0, sizeof t->order);
    t->xen.fail_physinfo = false;
    tkm_xen_run(t->x, 3 * INTERVAL);
    assert_string_equal(t->order, "us");
    assert_int_equal(t->ups, 2);
    assert_int_equal(t->samples, 2);
    /* A xenstore read failing is Xen not answering too. */
    t->xen.fail_read = true;
    tkm_xen_run(t->x, 4 * INTERVAL);
    assert_int_equal(t->downs, 2);
    assert_string_equal(t->down_why, "Xen does not answer: cannot read the balloon target "
                                     "of domain 1 from xenstore");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sample_from_domain_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domains_appear_and_vanish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_domain_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_limit_writes_kib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_size_from_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_limit_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_write_failure_is_an_error_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tmem_calls_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xen_down_and_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
