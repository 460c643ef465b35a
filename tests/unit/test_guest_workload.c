/* vmca-guest's pure part against an in-memory fake hypervisor that keeps
 * pages by (pool, oid, index) under a capacity limit: LRU eviction, puts
 * exactly when RAM is full, content round trips and corruption detection,
 * ENOMEM -> disk, ephemeral misses, EIO -> VM failed, the workload
 * generators and the run-time model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../hv-ext/hvx.h"
#include "../../tools/guest_workload.h"

/* ---- the fake hypervisor ---- */

#define FAKE_MAX 4096
#define LOG_MAX 100000

struct fake_entry {
    bool used;
    uint8_t pool;
    uint64_t oid;
    uint32_t index;
    unsigned char *data;
};

struct logged {
    uint8_t op;
    uint64_t gpn;
    int result;
};

struct fake_hv {
    unsigned char *buf;     /* the guest's slots */
    uint32_t ps;
    unsigned slots;
    size_t capacity;        /* pages it accepts */
    size_t n;
    struct fake_entry e[FAKE_MAX];
    unsigned pool_kind[HVX_POOLS_PER_CLIENT];
    unsigned n_pools;
    bool vm_failed;         /* every op answers EIO */
    bool remote;            /* successful puts/gets answer 1 */
    int fail_exec;          /* exec returns this (transport failure) */
    int put_result;         /* non-zero: every put answers this */
    unsigned max_count;     /* largest batch seen */
    unsigned batches;
    struct logged log[LOG_MAX];
    size_t n_log;
};

static struct fake_entry *fake_find(struct fake_hv *f, uint8_t pool, uint64_t oid,
                                    uint32_t index)
{
    for (size_t i = 0; i < FAKE_MAX; i++)
        if (f->e[i].used && f->e[i].pool == pool && f->e[i].oid == oid &&
            f->e[i].index == index)
            return &f->e[i];
    return NULL;
}

static void fake_remove(struct fake_hv *f, struct fake_entry *e)
{
    free(e->data);
    memset(e, 0, sizeof *e);
    f->n--;
}

static struct fake_entry *fake_find_gpn(struct fake_hv *f, uint64_t gpn)
{
    return fake_find(f, 0, gw_oid(gpn), gw_index(gpn));
}

static int fake_exec(void *arg, struct guest_op *ops, unsigned count)
{
    struct fake_hv *f = arg;
    if (f->fail_exec)
        return f->fail_exec;
    f->batches++;
    if (count > f->max_count)
        f->max_count = count;
    bool used_slot[GUEST_MAX_SLOTS] = {false};
    for (unsigned i = 0; i < count; i++) {
        struct guest_op *op = &ops[i];
        assert_int_equal(op->reserved, 0);
        if (op->op == GUEST_OP_PUT || op->op == GUEST_OP_GET) {
            assert_true(op->slot < f->slots);
            assert_false(used_slot[op->slot]); /* distinct slots in a batch */
            used_slot[op->slot] = true;
        }
        unsigned char *slot = f->buf + (size_t)op->slot * f->ps;
        struct fake_entry *e;
        int r = 0;
        if (op->op == GUEST_OP_NEW_POOL) {
            f->pool_kind[f->n_pools] = op->pool;
            op->result = (int32_t)f->n_pools++;
            continue;
        }
        if (f->vm_failed) {
            r = HVX_EIO;
        } else if (op->pool >= f->n_pools) {
            r = HVX_ENOENT;
        } else {
            switch (op->op) {
            case GUEST_OP_PUT:
                if (f->put_result) {
                    r = f->put_result;
                    break;
                }
                e = fake_find(f, op->pool, op->oid, op->index);
                if (e) {
                    memcpy(e->data, slot, f->ps);
                } else if (f->n >= f->capacity) {
                    r = HVX_ENOMEM;
                    break;
                } else {
                    for (e = f->e; e->used; e++)
                        ;
                    *e = (struct fake_entry){true, op->pool, op->oid, op->index,
                                             malloc(f->ps)};
                    assert_non_null(e->data);
                    memcpy(e->data, slot, f->ps);
                    f->n++;
                }
                r = f->remote;
                break;
            case GUEST_OP_GET:
                e = fake_find(f, op->pool, op->oid, op->index);
                if (!e) {
                    r = HVX_ENOENT;
                    break;
                }
                memcpy(slot, e->data, f->ps);
                if (f->pool_kind[op->pool] == HVX_POOL_EPHEMERAL)
                    fake_remove(f, e);
                r = f->remote;
                break;
            case GUEST_OP_FLUSH_PAGE:
                e = fake_find(f, op->pool, op->oid, op->index);
                if (!e)
                    r = HVX_ENOENT;
                else
                    fake_remove(f, e);
                break;
            default:
                r = HVX_EINVAL;
            }
        }
        op->result = r;
        if (f->n_log < LOG_MAX)
            f->log[f->n_log++] = (struct logged){
                op->op, ((uint64_t)op->index << GW_SWIZ_BITS) | op->oid, r};
    }
    return 0;
}

static void fake_clear(struct fake_hv *f)
{
    for (size_t i = 0; i < FAKE_MAX; i++)
        if (f->e[i].used)
            fake_remove(f, &f->e[i]);
}

/* ---- a guest wired to a fake ---- */

struct rig {
    struct fake_hv *f;
    struct gw_guest g;
    unsigned char *buf;
};

static struct rig *rig_new(uint64_t ram, uint64_t n_pages, size_t capacity, unsigned kind,
                           unsigned max_batch, uint32_t ps)
{
    struct rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->f = calloc(1, sizeof *r->f);
    assert_non_null(r->f);
    unsigned slots = max_batch;
    r->buf = calloc(slots, ps);
    assert_non_null(r->buf);
    r->f->buf = r->buf;
    r->f->ps = ps;
    r->f->slots = slots;
    r->f->capacity = capacity;
    struct gw_config cfg = {.vm = 7, .page_size = ps, .ram_pages = ram, .n_pages = n_pages,
                            .pool_kind = kind, .max_batch = max_batch, .slots = slots};
    assert_int_equal(gw_guest_init(&r->g, &cfg, r->buf, fake_exec, r->f), GW_OK);
    assert_int_equal(gw_guest_open_pool(&r->g), GW_OK);
    assert_int_equal(r->g.pool, 0);
    return r;
}

static void rig_free(struct rig *r)
{
    gw_guest_free(&r->g);
    fake_clear(r->f);
    free(r->f);
    free(r->buf);
    free(r);
}

static int acc(struct rig *r, uint64_t gpn, bool write)
{
    return gw_guest_access(&r->g, gpn, write);
}

/* ---- content ---- */

static void test_content(void **state)
{
    enum { PS = 4096 };
    unsigned char *p = malloc(PS);
    assert_non_null(p);
    gw_content_fill(p, PS, 3, 12345, 9);
    assert_int_equal(gw_content_check(p, PS, 3, 12345, 9), -1);
    assert_int_equal(gw_content_check(p, PS, 3, 12345, 8), 4);   /* version field */
    assert_int_equal(gw_content_check(p, PS, 4, 12345, 9), 0);   /* vm field */
    assert_int_equal(gw_content_check(p, PS, 3, 12346, 9), 8);   /* page field */
    p[PS - 1] ^= 0x01;
    assert_int_equal(gw_content_check(p, PS, 3, 12345, 9), PS - 1);
    p[PS - 1] ^= 0x01;
    p[100] ^= 0x80;
    assert_int_equal(gw_content_check(p, PS, 3, 12345, 9), 100);
    /* Different versions differ beyond the header too. */
    unsigned char *q = malloc(PS);
    assert_non_null(q);
    gw_content_fill(q, PS, 3, 12345, 10);
    assert_true(memcmp(p + 16, q + 16, PS - 16) != 0);
    free(p);
    free(q);
}

/* ---- the guest ---- */

static void test_lru_eviction_order(void **state)
{
    struct rig *r = rig_new(4, 64, 100, HVX_POOL_PERSISTENT, 8, 256);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(acc(r, 0, false), GW_OK); /* hit: 0 becomes MRU */
    assert_int_equal(acc(r, 2, true), GW_OK);  /* hit: order now 1,3,0,2 */
    assert_int_equal(acc(r, 4, true), GW_OK);  /* evicts 1 */
    assert_int_equal(acc(r, 5, true), GW_OK);  /* evicts 3 */
    assert_int_equal(acc(r, 6, true), GW_OK);  /* evicts 0 */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->f->n_log, 3);
    uint64_t want[] = {1, 3, 0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->f->log[i].op, GUEST_OP_PUT);
        assert_int_equal(r->f->log[i].gpn, want[i]);
    }
    assert_int_equal(r->g.st.ram_hits, 2);
    assert_int_equal(r->g.st.allocs, 7);
    assert_int_equal(r->g.st.accesses, 9);
    assert_int_equal(r->g.resident, 4);
    rig_free(r);
}

static void test_puts_exactly_when_full(void **state)
{
    enum { RAM = 8, N = 40 };
    struct rig *r = rig_new(RAM, N, 1000, HVX_POOL_PERSISTENT, 4, 128);
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(acc(r, i, true), GW_OK);
        assert_int_equal(gw_guest_sync(&r->g), GW_OK);
        assert_int_equal(r->g.st.puts, i < RAM ? 0 : i + 1 - RAM);
        assert_int_equal(r->g.resident, i < RAM ? i + 1 : RAM);
    }
    assert_int_equal(r->g.st.puts_ok, N - RAM);
    assert_int_equal(r->f->n, N - RAM);
    rig_free(r);
}

static void test_gets_bring_back_content(void **state)
{
    enum { RAM = 4, N = 32 };
    struct rig *r = rig_new(RAM, N, 1000, HVX_POOL_PERSISTENT, 16, 512);
    /* Two write passes (versions 1 and 2), then a read pass. */
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t i = 0; i < N; i++)
            assert_int_equal(acc(r, i, true), GW_OK);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(acc(r, i, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    const struct gw_stats *s = &r->g.st;
    assert_true(s->gets > 0);
    assert_int_equal(s->gets, s->gets_ok);
    assert_int_equal(s->verified, s->gets);
    assert_int_equal(s->mismatches, 0);
    /* Every page was swapped in once per pass after the first: N gets each
     * for pass 2 and the read pass (RAM 4 < N, sequential: all miss). */
    assert_int_equal(s->gets, 2 * N);
    /* Pass 2 wrote each swapped-in page: its tmem copy was flushed. */
    assert_int_equal(s->flushes, N);
    /* Puts: pass 1 evicts N - RAM pages, pass 2 evicts N dirty pages; the
     * read pass puts the RAM pages pass 2 left dirty and drops the other
     * clean ones, which tmem still holds. */
    assert_int_equal(s->puts, (N - RAM) + N + RAM);
    assert_int_equal(s->clean_drops, N - RAM);
    assert_int_equal(s->gets_remote, 0);
    rig_free(r);
}

static void test_flush_after_write_of_swapped_in_page(void **state)
{
    struct rig *r = rig_new(1, 4, 10, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK); /* put 0 */
    assert_int_equal(acc(r, 0, false), GW_OK); /* sync (pending put), put 1, get 0 */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_non_null(fake_find_gpn(r->f, 0)); /* non-exclusive: copy kept */
    assert_int_equal(acc(r, 0, true), GW_OK); /* dirtied: flush */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_null(fake_find_gpn(r->f, 0));
    assert_int_equal(r->g.st.flushes, 1);
    /* Evicted again: a put of the new version, then it comes back right. */
    assert_int_equal(acc(r, 2, true), GW_OK);
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.mismatches, 0);
    assert_int_equal(r->g.st.verified, 2);
    rig_free(r);
}

static void test_clean_page_dropped_without_put(void **state)
{
    struct rig *r = rig_new(1, 4, 10, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK); /* put 0 */
    assert_int_equal(acc(r, 0, false), GW_OK); /* put 1, get 0 */
    assert_int_equal(acc(r, 1, false), GW_OK); /* 0 is clean, tmem has it: no put */
    assert_int_equal(acc(r, 0, false), GW_OK); /* 1 clean as well */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.puts, 2);
    assert_int_equal(r->g.st.clean_drops, 2);
    assert_int_equal(r->g.st.gets, 3);
    assert_int_equal(r->g.st.verified, 3);
    rig_free(r);
}

static void test_corruption_detected(void **state)
{
    struct rig *r = rig_new(2, 16, 100, HVX_POOL_PERSISTENT, 8, 256);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    struct fake_entry *e = fake_find_gpn(r->f, 3);
    assert_non_null(e);
    e->data[200] ^= 0x10;
    assert_int_equal(acc(r, 2, false), GW_OK);
    assert_int_equal(acc(r, 3, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_INTEGRITY);
    assert_int_equal(r->g.st.mismatches, 1);
    assert_int_equal(r->g.st.verified, 1); /* page 2 was fine */
    assert_non_null(strstr(r->g.msg, "page 3 expected version 1"));
    assert_non_null(strstr(r->g.msg, "byte 200"));
    /* Sticky: nothing more happens. */
    size_t before = r->f->n_log;
    assert_int_equal(acc(r, 9, true), GW_ERR_INTEGRITY);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_INTEGRITY);
    assert_int_equal(r->f->n_log, before);
    rig_free(r);
}

static void test_stale_version_detected(void **state)
{
    /* The fake keeps an old version (it ignores a later put): the header
     * check names the version it found. */
    struct rig *r = rig_new(1, 4, 10, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK); /* put 0 v1 */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    unsigned char old[128];
    memcpy(old, fake_find_gpn(r->f, 0)->data, sizeof old);
    assert_int_equal(acc(r, 0, true), GW_OK); /* get 0, flush, v2 */
    assert_int_equal(acc(r, 1, false), GW_OK); /* put 0 v2 */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    memcpy(fake_find_gpn(r->f, 0)->data, old, sizeof old);
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_INTEGRITY);
    assert_non_null(strstr(r->g.msg, "page 0 expected version 2"));
    assert_non_null(strstr(r->g.msg, "version 1)"));
    rig_free(r);
}

static void test_enomem_goes_to_disk(void **state)
{
    enum { RAM = 2, CAP = 3, N = 10 };
    struct rig *r = rig_new(RAM, N, CAP, HVX_POOL_PERSISTENT, 8, 128);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    const struct gw_stats *s = &r->g.st;
    assert_int_equal(s->puts, N - RAM);
    assert_int_equal(s->puts_ok, CAP);
    assert_int_equal(s->puts_failed, N - RAM - CAP);
    assert_int_equal(s->disk_writes, N - RAM - CAP);
    /* Pages 0..2 are in tmem, 3..7 on disk, 8..9 resident. */
    for (uint64_t i = 0; i < N - RAM; i++)
        assert_int_equal(r->g.pages[i].where, i < CAP ? GW_IN_TMEM : GW_ON_DISK);
    /* Read 3..7 back: disk reads, no gets. The evicted 8, 9 fail to put
     * (tmem is full) and go to disk as well. */
    for (uint64_t i = CAP; i < N - RAM; i++)
        assert_int_equal(acc(r, i, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(s->gets, 0);
    assert_int_equal(s->disk_reads, N - RAM - CAP);
    assert_int_equal(s->disk_writes, N - RAM - CAP + 2 + (N - RAM - CAP - 2));
    /* Tmem pages still come back right. */
    for (uint64_t i = 0; i < CAP; i++)
        assert_int_equal(acc(r, i, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(s->gets_ok, CAP);
    assert_int_equal(s->verified, CAP);
    rig_free(r);
}

static void test_pending_put_ordering(void **state)
{
    /* A failed put decides that the page is on disk: the guest must not
     * issue a get for it before the put's result is known. */
    struct rig *r = rig_new(1, 4, 0, HVX_POOL_PERSISTENT, 64, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK); /* put 0 pending */
    assert_int_equal(r->g.n_ops, 1);
    assert_int_equal(acc(r, 0, false), GW_OK); /* batch runs first: 0 is on disk */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.gets, 0);
    assert_int_equal(r->g.st.disk_reads, 1);
    assert_int_equal(r->g.st.disk_writes, 2);
    rig_free(r);

    /* With room in tmem, the get follows the put's completion. */
    r = rig_new(1, 4, 10, HVX_POOL_PERSISTENT, 64, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK);
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(r->f->batches, 2); /* pool + the batch holding the put */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.verified, 1);
    rig_free(r);
}

static void test_batches_bounded(void **state)
{
    enum { RAM = 4, N = 200, B = 5 };
    struct rig *r = rig_new(RAM, N, 1000, HVX_POOL_PERSISTENT, B, 128);
    for (int pass = 0; pass < 3; pass++)
        for (uint64_t i = 0; i < N; i++)
            assert_int_equal(acc(r, i, pass == 1), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->f->max_count, B);
    uint64_t ops = r->g.st.puts + r->g.st.gets + r->g.st.flushes;
    assert_true(r->g.st.batches >= ops / B);
    assert_int_equal(r->g.st.verified, r->g.st.gets);
    assert_int_equal(r->g.st.mismatches, 0);
    rig_free(r);
}

static void test_ephemeral_misses(void **state)
{
    enum { RAM = 2, N = 8 };
    struct rig *r = rig_new(RAM, N, 100, HVX_POOL_EPHEMERAL, 8, 128);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    /* An ephemeral get removes the page from tmem. */
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.gets_ok, 1);
    assert_int_equal(r->g.st.verified, 1);
    assert_null(fake_find_gpn(r->f, 0));
    /* The hypervisor drops everything: gets miss and read the disk. */
    fake_clear(r->f);
    for (uint64_t i = 1; i < 4; i++)
        assert_int_equal(acc(r, i, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.gets, 4);
    assert_int_equal(r->g.st.gets_miss, 3);
    assert_int_equal(r->g.st.disk_reads, 3);
    assert_int_equal(r->g.st.gets_lost, 0);
    assert_int_equal(r->g.st.flushes, 0);
    /* Page 0 was clean but its copy was consumed: evicting it puts again. */
    assert_int_equal(r->g.st.clean_drops, 0);
    const struct gw_stats *st = &r->g.st;
    assert_int_equal(st->accesses,
                     st->ram_hits + st->allocs + st->gets + st->disk_reads - st->gets_miss);
    rig_free(r);
}

static void test_odd_put_results(void **state)
{
    /* Ephemeral: ENOENT (the entry it replaced was lost) is a failed put. */
    struct rig *r = rig_new(1, 8, 100, HVX_POOL_EPHEMERAL, 8, 128);
    r->f->put_result = HVX_ENOENT;
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK);
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.puts_failed, 2);
    assert_int_equal(r->g.st.disk_writes, 2);
    assert_int_equal(r->g.st.disk_reads, 1);
    rig_free(r);
    /* Persistent: a put may not answer ENOENT or EINVAL: protocol failure. */
    static const int odd[] = {HVX_ENOENT, HVX_EINVAL, 2};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
        r->f->put_result = odd[i];
        assert_int_equal(acc(r, 0, true), GW_OK);
        assert_int_equal(acc(r, 1, true), GW_OK);
        assert_int_equal(gw_guest_sync(&r->g), GW_ERR_TRANSPORT);
        assert_non_null(strstr(r->g.msg, "put of page 0"));
        rig_free(r);
    }
}

static void test_eio_is_vm_failed(void **state)
{
    struct rig *r = rig_new(2, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    r->f->vm_failed = true;
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_VM_FAILED);
    assert_int_equal(r->g.st.gets_lost + r->g.st.puts_failed, 1);
    assert_non_null(strstr(r->g.msg, "VM failed"));
    assert_int_equal(acc(r, 1, false), GW_ERR_VM_FAILED);
    rig_free(r);

    /* A get alone answering EIO. */
    r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(acc(r, 2, false), GW_OK); /* evicts 1: put */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    r->f->vm_failed = true;
    assert_int_equal(acc(r, 0, false), GW_OK); /* 2 evicted: put -> EIO first */
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_VM_FAILED);
    rig_free(r);
}

static void test_get_eio_counts_lost(void **state)
{
    struct rig *r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK); /* put 0 */
    assert_int_equal(acc(r, 0, false), GW_OK); /* put 1, get 0 */
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    /* Page 1 is in tmem, page 0 resident and clean: evicting 0 needs no put. */
    r->f->vm_failed = true;
    assert_int_equal(acc(r, 1, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_VM_FAILED);
    assert_int_equal(r->g.st.gets_lost, 1);
    assert_non_null(strstr(r->g.msg, "get of page 1"));
    rig_free(r);
}

static void test_persistent_enoent_is_loud(void **state)
{
    struct rig *r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    fake_remove(r->f, fake_find_gpn(r->f, 0)); /* silently lost */
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_INTEGRITY);
    assert_int_equal(r->g.st.gets_lost, 1);
    assert_non_null(strstr(r->g.msg, "page 0"));
    rig_free(r);
}

static void test_remote_results_counted(void **state)
{
    struct rig *r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    r->f->remote = true;
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(acc(r, i, true), GW_OK);
    assert_int_equal(acc(r, 0, false), GW_OK);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.puts_remote, 4);
    assert_int_equal(r->g.st.puts_ok, 4);
    assert_int_equal(r->g.st.gets_remote, 1);
    assert_int_equal(r->g.st.verified, 1);
    rig_free(r);
}

static void test_transport_failure(void **state)
{
    struct rig *r = rig_new(1, 8, 100, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(acc(r, 0, true), GW_OK);
    assert_int_equal(acc(r, 1, true), GW_OK);
    r->f->fail_exec = -1;
    assert_int_equal(gw_guest_sync(&r->g), GW_ERR_TRANSPORT);
    rig_free(r);
}

static void test_init_rejects_bad_config(void **state)
{
    unsigned char buf[4096];
    struct gw_guest g;
    struct gw_config ok = {.vm = 1, .page_size = 128, .ram_pages = 1, .n_pages = 4,
                           .pool_kind = HVX_POOL_PERSISTENT, .max_batch = 4, .slots = 4};
    struct gw_config c = ok;
    c.page_size = 100;
    assert_int_equal(gw_guest_init(&g, &c, buf, fake_exec, NULL), GW_ERR_TRANSPORT);
    c = ok;
    c.max_batch = 5;
    assert_int_equal(gw_guest_init(&g, &c, buf, fake_exec, NULL), GW_ERR_TRANSPORT);
    c = ok;
    c.ram_pages = 0;
    assert_int_equal(gw_guest_init(&g, &c, buf, fake_exec, NULL), GW_ERR_TRANSPORT);
    c = ok;
    c.pool_kind = 7;
    assert_int_equal(gw_guest_init(&g, &c, buf, fake_exec, NULL), GW_ERR_TRANSPORT);
    assert_int_equal(gw_guest_init(&g, &ok, buf, fake_exec, NULL), GW_OK);
    /* Access before the pool exists is refused. */
    assert_int_equal(gw_guest_access(&g, 0, true), GW_ERR_TRANSPORT);
    gw_guest_free(&g);
}

/* ---- workloads ---- */

static uint64_t count_accesses(struct gw_workload *w)
{
    struct gw_access a;
    uint64_t n = 0;
    enum gw_next nx;
    while ((nx = gw_workload_next(w, 0, &a)) != GW_NEXT_END) {
        assert_int_equal(nx, GW_NEXT_ACCESS);
        assert_true(a.gpn < gw_workload_pages(w));
        n++;
    }
    return n;
}

static void test_usemem_pattern(void **state)
{
    char err[256];
    struct gw_spec s;
    assert_int_equal(gw_spec_parse("usemem:300", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, GW_USEMEM);
    assert_int_equal(s.usemem_limit_mb, 300);
    assert_int_equal(s.usemem_step_mb, 128);
    /* 64 KiB pages: 16 per MB, limit 4800 pages, steps of 2048 pages:
     * (2048 + 2048) + (2048 + 4096) + (704 + 4800) + 3 loops * 2 * 4800. */
    struct gw_run_opts o = {.loops = 3};
    struct gw_workload w;
    assert_int_equal(gw_workload_init(&w, &s, 65536, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_pages(&w), 4800);
    uint64_t want = (2048 + 2048) + (2048 + 4096) + (704 + 4800) + 3 * 2 * 4800;
    assert_int_equal(gw_usemem_accesses(4800, 2048, 3), want);
    assert_int_equal(count_accesses(&w), want);
    /* Same at 4 KiB pages with no loops. */
    o.loops = 0;
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(count_accesses(&w), (32768 + 32768) + (32768 + 65536) + (11264 + 76800));
    gw_spec_free(&s);

    /* The exact sequence for a tiny configuration: limit 5 pages, step 2. */
    struct gw_spec t = {.kind = GW_USEMEM, .usemem_limit_mb = 5, .usemem_step_mb = 2};
    o.loops = 1;
    assert_int_equal(gw_workload_init(&w, &t, GW_PAGE_SIZE_MAX, &o, err, sizeof err), 0);
    static const struct {
        uint32_t gpn;
        bool write;
    } seq[] = {
        {0, 1}, {1, 1}, {0, 0}, {1, 0},                                   /* step 1 */
        {2, 1}, {3, 1}, {0, 0}, {1, 0}, {2, 0}, {3, 0},                   /* step 2 */
        {4, 1}, {0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0},                   /* step 3 */
        {0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1},                           /* loop */
        {0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0},
    };
    struct gw_access a;
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_ACCESS);
        assert_int_equal(a.gpn, seq[i].gpn);
        assert_int_equal(a.write, seq[i].write);
    }
    assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_END);
    assert_int_equal(gw_usemem_accesses(5, 2, 1), sizeof seq / sizeof seq[0]);
}

/* Runs a workload through a guest on the fake; returns the status. */
static int run(struct rig *r, struct gw_workload *w)
{
    struct gw_access a;
    enum gw_next nx;
    while ((nx = gw_workload_next(w, 0, &a)) != GW_NEXT_END) {
        if (nx == GW_NEXT_HOLD) {
            int st = gw_guest_sync(&r->g);
            if (st != GW_OK)
                return st;
            continue;
        }
        int st = gw_guest_access(&r->g, a.gpn, a.write);
        if (st != GW_OK)
            return st;
    }
    return gw_guest_sync(&r->g);
}

static void test_usemem_through_guest(void **state)
{
    char err[256];
    /* 4 KiB pages, step 1 MB (256 pages), limit 3 MB (768 pages), RAM 100. */
    struct gw_spec s = {.kind = GW_USEMEM, .usemem_limit_mb = 3, .usemem_step_mb = 1};
    struct gw_run_opts o = {.loops = 1};
    struct gw_workload w;
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), 0);
    struct rig *r = rig_new(100, gw_workload_pages(&w), FAKE_MAX, HVX_POOL_PERSISTENT, 32,
                            4096);
    assert_int_equal(run(r, &w), GW_OK);
    const struct gw_stats *st = &r->g.st;
    assert_int_equal(st->accesses, gw_usemem_accesses(768, 256, 1));
    assert_int_equal(st->accesses, (256 + 256) + (256 + 512) + (256 + 768) + 2 * 768);
    assert_int_equal(st->mismatches, 0);
    assert_int_equal(st->verified, st->gets);
    assert_true(st->gets > 0);
    assert_int_equal(st->puts_failed, 0);
    assert_int_equal(st->accesses, st->ram_hits + st->allocs + st->gets + st->disk_reads);
    rig_free(r);
}

static void test_trace(void **state)
{
    char err[256];
    static const char text[] = "# a trace\nw 1\nr 2   # read\n\n  w 1\r\nr 0\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    assert_non_null(f);
    struct gw_spec s = {0};
    assert_int_equal(gw_trace_read(f, "t.trace", &s, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(s.kind, GW_TRACE);
    assert_int_equal(s.n_trace, 4);
    struct gw_run_opts o = {.loops = 2};
    struct gw_workload w;
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_pages(&w), 3);
    static const struct gw_access want[] = {{1, true}, {2, false}, {1, true}, {0, false}};
    struct gw_access a;
    for (int loop = 0; loop < 2; loop++)
        for (int i = 0; i < 4; i++) {
            assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_ACCESS);
            assert_int_equal(a.gpn, want[i].gpn);
            assert_int_equal(a.write, want[i].write);
        }
    assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_END);

    /* Replayed through a guest with 1 page of RAM. */
    assert_int_equal(gw_workload_init(&w, &s, 128, &o, err, sizeof err), 0);
    struct rig *r = rig_new(1, 3, 10, HVX_POOL_PERSISTENT, 8, 128);
    assert_int_equal(run(r, &w), GW_OK);
    assert_int_equal(r->g.st.accesses, 8);
    assert_int_equal(r->g.st.mismatches, 0);
    assert_int_equal(r->g.st.verified, r->g.st.gets);
    assert_true(r->g.st.gets > 0);
    rig_free(r);
    gw_spec_free(&s);

    /* Malformed traces name the file and line. */
    static const char *bad[] = {"w 1\nx 2\n", "w 1\nw\n", "w -1\n", "w 1 2\n",
                                "# nothing\n", "w 99999999999\n"};
    static const char *where[] = {"t:2: expected", "t:2: expected", "t:1: expected",
                                  "t:1: expected", "no accesses", "t:1: PAGE"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fmemopen((void *)bad[i], strlen(bad[i]), "r");
        assert_non_null(f);
        struct gw_spec b = {0};
        err[0] = '\0';
        assert_int_equal(gw_trace_read(f, "t", &b, err, sizeof err), -1);
        fclose(f);
        assert_non_null(strstr(err, where[i]));
        gw_spec_free(&b);
    }
}

static void test_phases(void **state)
{
    char err[256];
    static const char text[] = "# wss seconds\n1 2\n\n2 1 # bigger\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    assert_non_null(f);
    struct gw_spec s = {0};
    assert_int_equal(gw_phases_read(f, "p", &s, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(s.n_phases, 2);
    assert_int_equal(s.phases[1].wss_mb, 2);
    assert_int_equal(s.phases[1].seconds, 1);

    /* ops-per-phase: exactly N accesses per phase, inside each WSS. */
    struct gw_run_opts o = {.ops_per_phase = 1000, .seed = 42};
    struct gw_workload w, w2;
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_init(&w2, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_pages(&w), 512);
    struct gw_access a, b;
    unsigned writes = 0, high = 0;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_ACCESS);
        assert_int_equal(gw_workload_next(&w2, 0, &b), GW_NEXT_ACCESS);
        assert_int_equal(a.gpn, b.gpn); /* seeded: deterministic */
        assert_int_equal(a.write, b.write);
        assert_true(a.gpn < (i < 1000 ? 256u : 512u));
        writes += a.write;
        high += i >= 1000 && a.gpn >= 256;
    }
    assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_END);
    assert_in_range(writes, 800, 1200); /* about half */
    assert_true(high > 300);            /* phase 2 uses its whole WSS */
    /* Another seed, another stream. */
    o.seed = 43;
    assert_int_equal(gw_workload_init(&w2, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_init(&w, &s, 4096, &(struct gw_run_opts){.ops_per_phase = 1000, .seed = 42},
                                      err, sizeof err),
                     0);
    unsigned same = 0;
    for (int i = 0; i < 100; i++) {
        gw_workload_next(&w, 0, &a);
        gw_workload_next(&w2, 0, &b);
        same += a.gpn == b.gpn;
    }
    assert_true(same < 20);

    /* Wall clock: phase 1 lasts 2 s, phase 2 1 s from its first access. */
    o = (struct gw_run_opts){.seed = 1};
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), 0);
    assert_int_equal(gw_workload_next(&w, 10000, &a), GW_NEXT_ACCESS);
    assert_int_equal(gw_workload_next(&w, 11999, &a), GW_NEXT_ACCESS);
    assert_true(a.gpn < 256);
    assert_int_equal(gw_workload_next(&w, 12000, &a), GW_NEXT_ACCESS); /* phase 2 */
    assert_int_equal(gw_workload_next(&w, 12999, &a), GW_NEXT_ACCESS);
    assert_int_equal(gw_workload_next(&w, 13000, &a), GW_NEXT_END);
    gw_spec_free(&s);

    static const char *bad[] = {"1\n", "1 2 3\n", "0 5\n", "4 0\n", "a 1\n", "\n#\n"};
    static const char *where[] = {"p:1: expected", "p:1: expected", "p:1: WSS_MB",
                                  "p:1: SECONDS", "p:1: expected", "no phases"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fmemopen((void *)bad[i], strlen(bad[i]), "r");
        assert_non_null(f);
        struct gw_spec x = {0};
        err[0] = '\0';
        assert_int_equal(gw_phases_read(f, "p", &x, err, sizeof err), -1);
        fclose(f);
        assert_non_null(strstr(err, where[i]));
        gw_spec_free(&x);
    }
}

static void test_hold(void **state)
{
    char err[256];
    struct gw_spec s;
    assert_int_equal(gw_spec_parse("hold:10", &s, err, sizeof err), 0);
    struct gw_run_opts o = {0};
    struct gw_workload w;
    assert_int_equal(gw_workload_init(&w, &s, 128, &o, err, sizeof err), 0);
    struct rig *r = rig_new(4, gw_workload_pages(&w), 100, HVX_POOL_PERSISTENT, 8, 128);
    struct gw_access a;
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_ACCESS);
        assert_int_equal(a.gpn, i);
        assert_true(a.write);
        assert_int_equal(gw_guest_access(&r->g, a.gpn, a.write), GW_OK);
    }
    assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_HOLD);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    assert_int_equal(r->g.st.puts, 10 - 4); /* PAGES - RAM puts, all done */
    assert_int_equal(r->g.n_ops, 0);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_ACCESS);
        assert_int_equal(a.gpn, i);
        assert_false(a.write);
        assert_int_equal(gw_guest_access(&r->g, a.gpn, a.write), GW_OK);
    }
    assert_int_equal(gw_workload_next(&w, 0, &a), GW_NEXT_END);
    assert_int_equal(gw_guest_sync(&r->g), GW_OK);
    /* Reading in order with LRU misses every page: pages 0..5 come from
     * tmem first, then 6..9, which those swap-ins had pushed out. */
    assert_int_equal(r->g.st.gets, 10);
    assert_int_equal(r->g.st.verified, 10);
    assert_int_equal(r->g.st.puts, 10 - 4 + 4);
    assert_int_equal(r->g.st.clean_drops, 10 - 4);
    rig_free(r);
    gw_spec_free(&s);
}

static void test_spec_errors(void **state)
{
    char err[256];
    struct gw_spec s;
    static const char *bad[] = {"usemem", "usemem:", "usemem:0", "usemem:-5", "usemem:1x",
                                "hold:0", "hold:abc", "phases:", "trace:",
                                "trace:/nonexistent/x", "swap:3"};
    static const char *want[] = {"expected usemem:LIMIT_MB", "usemem:LIMIT_MB",
                                 "usemem:LIMIT_MB", "usemem:LIMIT_MB", "got '1x'",
                                 "hold:PAGES", "hold:PAGES", "file name is missing",
                                 "file name is missing", "cannot open", "unknown workload 'swap'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(gw_spec_parse(bad[i], &s, err, sizeof err), -1);
        if (!strstr(err, want[i]))
            fail_msg("%s: got '%s'", bad[i], err);
    }
    /* Too big an address space for the page size. */
    assert_int_equal(gw_spec_parse("usemem:67108864", &s, err, sizeof err), 0);
    struct gw_workload w;
    struct gw_run_opts o = {.loops = 1};
    assert_int_equal(gw_workload_init(&w, &s, 4096, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "pages"));
}

/* ---- model ---- */

static void test_model(void **state)
{
    struct gw_stats s = {0};
    struct gw_model m = GW_MODEL_DEFAULT;
    assert_int_equal(m.tmem_local_us, 2);
    assert_int_equal(m.remote_latency_us, 50);
    assert_int_equal(m.disk_latency_us, 5000);
    s.accesses = 1000;
    s.puts = 10;
    s.puts_remote = 4;
    s.gets = 6;
    s.gets_remote = 1;
    s.flushes = 2;
    s.disk_reads = 3;
    s.disk_writes = 2;
    /* local ops: 18 - 5 = 13 -> 26 us; remote 5 * 52 = 260 us;
     * disk 5 * 5000 = 25000 us; accesses 1000 * 100 ns = 100 us. */
    assert_int_equal(gw_model_ns(&s, &m), (26 + 260 + 25000) * 1000ull + 100000ull);
    char line[1024];
    gw_format_stats(line, sizeof line, 3, &s, &m);
    assert_non_null(strstr(line, "vm=3 accesses=1000 "));
    assert_non_null(strstr(line, " puts_remote=4 "));
    assert_non_null(strstr(line, " mismatches=0 "));
    assert_non_null(strstr(line, " model_ms=25.386"));
    m = (struct gw_model){1, 9, 100};
    /* 13 * 1 + 5 * 10 + 5 * 100 = 563 us + 0.1 ms */
    assert_int_equal(gw_model_ns(&s, &m), 663000);
    gw_format_stats(line, sizeof line, 3, &s, &m);
    assert_non_null(strstr(line, "model_ms=0.663"));
    assert_string_equal(gw_result_name(HVX_ENOMEM), "ENOMEM");
    assert_string_equal(gw_result_name(HVX_EIO), "EIO");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_lru_eviction_order),
        cmocka_unit_test(test_puts_exactly_when_full),
        cmocka_unit_test(test_gets_bring_back_content),
        cmocka_unit_test(test_flush_after_write_of_swapped_in_page),
        cmocka_unit_test(test_clean_page_dropped_without_put),
        cmocka_unit_test(test_corruption_detected),
        cmocka_unit_test(test_stale_version_detected),
        cmocka_unit_test(test_enomem_goes_to_disk),
        cmocka_unit_test(test_pending_put_ordering),
        cmocka_unit_test(test_batches_bounded),
        cmocka_unit_test(test_ephemeral_misses),
        cmocka_unit_test(test_odd_put_results),
        cmocka_unit_test(test_eio_is_vm_failed),
        cmocka_unit_test(test_get_eio_counts_lost),
        cmocka_unit_test(test_persistent_enoent_is_loud),
        cmocka_unit_test(test_remote_results_counted),
        cmocka_unit_test(test_transport_failure),
        cmocka_unit_test(test_init_rejects_bad_config),
        cmocka_unit_test(test_usemem_pattern),
        cmocka_unit_test(test_usemem_through_guest),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
