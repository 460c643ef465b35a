/* Buddy allocator against a byte-per-page reference: random operation
 * sequences checked against the model (and the unique fully merged block
 * decomposition of its free pages), plus merge, split, refusal and size
 * cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buddy.h"

/* ---- fixture and reference model ----------------------------------------- */

struct blk {
    uint64_t idx;
    unsigned order;
};

struct model {
    struct hvx_buddy b;
    void *mem;
    size_t memsz;
    uint64_t n;
    unsigned max;               /* max_order computed here, independently */
    unsigned char *ref;         /* 1 = page free */
    uint64_t nfree;
    struct blk *want, *got, *tmp;   /* scratch, n + 1 entries each */
    size_t nwant;               /* ref_blocks() of the last full check */
};

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: deterministic, every failure replays from its seed */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static unsigned ref_max_order(uint64_t n)
{
    unsigned k = 0;
    while (k < HVX_BUDDY_MAX_ORDER && (UINT64_C(2) << k) <= n)
        k++;
    return k;
}

static void model_init(struct model *m, uint64_t n)
{
    memset(m, 0, sizeof(*m));
    m->n = n;
    m->max = ref_max_order(n);
    m->memsz = hvx_buddy_mem(n);
    assert_true(m->memsz > 0);
    m->mem = malloc(m->memsz);
    assert_non_null(m->mem);
    memset(m->mem, 0xa5, m->memsz);     /* init must clear it itself */
    m->ref = calloc(n, 1);
    assert_non_null(m->ref);
    m->want = malloc((n + 1) * sizeof(struct blk));
    m->got = malloc((n + 1) * sizeof(struct blk));
    m->tmp = malloc((n + 1) * sizeof(struct blk));
    assert_non_null(m->want);
    assert_non_null(m->got);
    assert_non_null(m->tmp);
    hvx_buddy_init(&m->b, n, m->mem);
    assert_int_equal(m->b.npages, n);
    assert_int_equal(m->b.max_order, m->max);
}

static void model_fini(struct model *m)
{
    free(m->mem);
    free(m->ref);
    free(m->want);
    free(m->got);
    free(m->tmp);
}

static bool ref_valid(const struct model *m, uint64_t idx, unsigned order)
{
    if (order > m->max)
        return false;
    uint64_t size = UINT64_C(1) << order;
    return idx % size == 0 && idx < m->n && size <= m->n - idx;
}

/* 1 when every page of the block is free, 0 when none is, 2 when mixed */
static int ref_state(const struct model *m, uint64_t idx, unsigned order)
{
    uint64_t size = UINT64_C(1) << order, nf = 0;
    for (uint64_t p = idx; p < idx + size; p++)
        nf += m->ref[p];
    return nf == size ? 1 : nf == 0 ? 0 : 2;
}

static void ref_mark(struct model *m, uint64_t idx, unsigned order, unsigned char v)
{
    for (uint64_t p = idx; p < idx + (UINT64_C(1) << order); p++) {
        assert_int_not_equal(m->ref[p], v);
        m->ref[p] = v;
    }
    if (v)
        m->nfree += UINT64_C(1) << order;
    else
        m->nfree -= UINT64_C(1) << order;
}

/* The fully merged decomposition of the free pages is unique: each free
 * page lies in the largest aligned, valid, wholly free block holding it.
 * Scanning left to right, the first uncovered free page starts its block.
 * Returned sorted by order descending, address ascending. */
static size_t ref_blocks(const struct model *m, struct blk *out)
{
    struct blk *tmp = m->tmp;
    size_t nb = 0;
    uint64_t p = 0;
    while (p < m->n) {
        if (!m->ref[p]) {
            p++;
            continue;
        }
        unsigned k = 0;
        while (k < m->max && p % (UINT64_C(2) << k) == 0 &&
               (UINT64_C(2) << k) <= m->n - p &&
               ref_state(m, p + (UINT64_C(1) << k), k) == 1)
            k++;
        out[nb].idx = p;
        out[nb].order = k;
        nb++;
        p += UINT64_C(1) << k;
    }
    /* stable counting sort by order descending keeps addresses ascending */
    size_t t = 0;
    for (unsigned k = m->max + 1; k-- > 0;)
        for (size_t i = 0; i < nb; i++)
            if (out[i].order == k)
                tmp[t++] = out[i];
    memcpy(out, tmp, nb * sizeof(*out));
    return nb;
}

struct collect {
    struct blk *v;
    size_t n, cap;
    int stop_at;                /* return 7 from the stop_at-th call (1-based) */
};

static int collect_cb(void *arg, uint64_t idx, unsigned order)
{
    struct collect *c = arg;
    assert_true(c->n < c->cap);
    c->v[c->n].idx = idx;
    c->v[c->n].order = order;
    c->n++;
    return (c->stop_at > 0 && (size_t)c->stop_at == c->n) ? 7 : 0;
}

/* The structure itself, read through the public struct: summary bits match
 * the words below, nothing set past the end, counters match the bits. */
static void check_structure(const struct model *m)
{
    const struct hvx_buddy *b = &m->b;
    uint64_t pages = 0;
    for (unsigned k = 0; k <= HVX_BUDDY_MAX_ORDER; k++) {
        if (k > m->max) {
            assert_int_equal(b->free_blocks[k], 0);
            continue;
        }
        const struct hvx_hbm *h = &b->order[k];
        assert_int_equal(h->nbits, m->n >> k);
        uint64_t bits = h->nbits, setbits = 0;
        assert_true(h->nlevels >= 1 && h->nlevels <= HVX_HBM_MAX_LEVELS);
        for (unsigned l = 0; l < h->nlevels; l++) {
            uint64_t words = (bits + 63) / 64;
            for (uint64_t w = 0; w < words; w++) {
                uint64_t word = h->level[l][w];
                if (w == words - 1 && bits % 64 != 0)
                    assert_int_equal(word >> (bits % 64), 0);
                if (l == 0)
                    setbits += (uint64_t)__builtin_popcountll(word);
                if (l + 1 < h->nlevels) {
                    uint64_t up = (h->level[l + 1][w / 64] >> (w % 64)) & 1;
                    assert_int_equal(up, word != 0);
                } else {
                    assert_int_equal(words, 1);
                }
            }
            bits = words;
        }
        assert_int_equal(setbits, b->free_blocks[k]);
        pages += setbits << k;
    }
    assert_int_equal(pages, b->free_pages);
}

/* Everything observable agrees with the model. */
static void full_check(struct model *m)
{
    struct blk *want = m->want, *got = m->got;
    size_t nw = ref_blocks(m, want);
    m->nwant = nw;
    struct collect c = {got, 0, m->n + 1, 0};
    assert_int_equal(hvx_buddy_foreach_free(&m->b, collect_cb, &c), 0);
    assert_int_equal(c.n, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(got[i].idx, want[i].idx);
        assert_int_equal(got[i].order, want[i].order);
    }
    uint64_t perorder[HVX_BUDDY_MAX_ORDER + 1] = {0};
    for (size_t i = 0; i < nw; i++)
        perorder[want[i].order]++;
    for (unsigned k = 0; k <= HVX_BUDDY_MAX_ORDER; k++)
        assert_int_equal(m->b.free_blocks[k], perorder[k]);
    assert_int_equal(m->b.free_pages, m->nfree);
    for (uint64_t p = 0; p < m->n; p++)
        assert_int_equal(hvx_buddy_is_free(&m->b, p), m->ref[p]);
    assert_false(hvx_buddy_is_free(&m->b, m->n));
    uint64_t li;
    unsigned lo;
    if (nw == 0) {
        assert_int_equal(hvx_buddy_largest(&m->b, &li, &lo), -1);
    } else {
        assert_int_equal(hvx_buddy_largest(&m->b, &li, &lo), 0);
        assert_int_equal(li, want[0].idx);
        assert_int_equal(lo, want[0].order);
    }
    check_structure(m);
    assert_int_equal(hvx_buddy_check(&m->b), 0);
}

/* What alloc(order) must return, from the decomposition the last full
 * check computed: the lowest block of the smallest order >= `order` that
 * has one, or -1. */
static int64_t ref_alloc_choice(const struct model *m, unsigned order)
{
    const struct blk *v = m->want;
    size_t nb = m->nwant;
    int64_t best = -1;
    unsigned bo = 0;
    for (size_t i = 0; i < nb; i++) {
        if (v[i].order < order)
            continue;
        if (best < 0 || v[i].order < bo) {
            best = (int64_t)v[i].idx;
            bo = v[i].order;
        }
    }
    return best;
}

/* ---- snapshots for refusals ----------------------------------------------- */

struct snap {
    struct hvx_buddy b;
    unsigned char *mem;
    unsigned char *freemap;
};

static void snap_take(const struct model *m, struct snap *s)
{
    s->b = m->b;
    s->mem = malloc(m->memsz);
    s->freemap = malloc(m->n);
    assert_non_null(s->mem);
    assert_non_null(s->freemap);
    memcpy(s->mem, m->mem, m->memsz);
    for (uint64_t p = 0; p < m->n; p++)
        s->freemap[p] = hvx_buddy_is_free(&m->b, p);
}

static void snap_same(const struct model *m, const struct snap *s)
{
    assert_int_equal(m->b.free_pages, s->b.free_pages);
    assert_memory_equal(&m->b, &s->b, sizeof(m->b));
    assert_memory_equal(m->mem, s->mem, m->memsz);
    for (uint64_t p = 0; p < m->n; p++)
        assert_int_equal(hvx_buddy_is_free(&m->b, p), s->freemap[p]);
}

static void snap_drop(struct snap *s)
{
    free(s->mem);
    free(s->freemap);
}

/* ---- random sequences ----------------------------------------------------- */

static unsigned pick_order(uint64_t *s, unsigned max)
{
    unsigned r = (unsigned)rng_below(s, 16), o;
    if (r < 8)
        o = 0;
    else if (r < 12)
        o = 1 + (unsigned)rng_below(s, 2);
    else if (r < 14)
        o = 3 + (unsigned)rng_below(s, 4);
    else if (r < 15)
        o = 7 + (unsigned)rng_below(s, 4);
    else
        o = (unsigned)rng_below(s, max + 2);  /* max + 1: always refused */
    return o > max + 1 ? max + 1 : o;
}

/* A page in the wanted state, or a random page after a few misses. */
static uint64_t pick_page(const struct model *m, uint64_t *s, unsigned char want)
{
    uint64_t p = 0;
    for (int t = 0; t < 8; t++) {
        p = rng_below(s, m->n);
        if (m->ref[p] == want)
            break;
    }
    return p;
}

/* Is there an aligned valid block of 2^order pages, all free, in the model? */
static bool ref_has_free_block(const struct model *m, unsigned order)
{
    if (order > m->max)
        return false;
    uint64_t size = UINT64_C(1) << order;
    for (uint64_t idx = 0; size <= m->n - idx; idx += size) {
        uint64_t p = idx + size;
        while (p > idx && m->ref[p - 1])
            p--;
        if (p == idx)
            return true;
    }
    return false;
}

/* After an operation on the block: is_free agrees with the model there
 * (on every page of small blocks, on 64 spread over a large one; the
 * periodic full check reads them all). */
static void check_block(const struct model *m, uint64_t idx, unsigned order)
{
    if (!ref_valid(m, idx, order))
        return;
    uint64_t size = UINT64_C(1) << order;
    uint64_t step = size > 64 ? size / 64 : 1;
    for (uint64_t p = idx; p < idx + size; p += step)
        assert_int_equal(hvx_buddy_is_free(&m->b, p), m->ref[p]);
    assert_int_equal(hvx_buddy_is_free(&m->b, idx + size - 1), m->ref[idx + size - 1]);
}

static void run_random(uint64_t n, uint64_t seed, long ops)
{
    struct model m;
    model_init(&m, n);
    uint64_t s = seed;
    /* a full check costs O(n): every n/32 ops keeps it O(32) pages per op
     * (under 5 s with ASan); every op is still checked against the model
     * on the pages it touched */
    long every = (long)(n / 32);
    if (every < 1)
        every = 1;
    long nalloc = 0, nfree = 0, ntake = 0, nrefused = 0;
    for (long op = 0; op < ops; op++) {
        bool full = op % every == 0;
        if (full)
            full_check(&m);
        unsigned r = (unsigned)rng_below(&s, 100);
        unsigned order = pick_order(&s, m.max);
        if (r < 35) {
            int64_t want = full ? ref_alloc_choice(&m, order) : -2;
            int64_t got = hvx_buddy_alloc(&m.b, order);
            if (want != -2)
                assert_int_equal(got, want);
            if (got < 0) {
                assert_false(ref_has_free_block(&m, order));
                nrefused++;
            } else {
                assert_true(ref_valid(&m, (uint64_t)got, order));
                assert_int_equal(ref_state(&m, (uint64_t)got, order), 1);
                ref_mark(&m, (uint64_t)got, order, 0);
                check_block(&m, (uint64_t)got, order);
                nalloc++;
            }
        } else if (r < 80) {
            uint64_t idx;
            if (rng_below(&s, 10) < 8)
                idx = pick_page(&m, &s, 0) & ~((UINT64_C(1) << order) - 1);
            else
                idx = rng_below(&s, n + 64);    /* any: misaligned, past end */
            bool ok = ref_valid(&m, idx, order) && ref_state(&m, idx, order) == 0;
            assert_int_equal(hvx_buddy_free(&m.b, idx, order), ok ? 0 : -1);
            if (ok) {
                ref_mark(&m, idx, order, 1);
                check_block(&m, idx, order);
                nfree++;
            } else {
                check_block(&m, idx, order);    /* unchanged there */
                nrefused++;
            }
        } else {
            uint64_t idx;
            if (rng_below(&s, 10) < 8)
                idx = pick_page(&m, &s, 1) & ~((UINT64_C(1) << order) - 1);
            else
                idx = rng_below(&s, n + 64);
            bool ok = ref_valid(&m, idx, order) && ref_state(&m, idx, order) == 1;
            assert_int_equal(hvx_buddy_take(&m.b, idx, order), ok ? 0 : -1);
            if (ok) {
                ref_mark(&m, idx, order, 0);
                check_block(&m, idx, order);
                ntake++;
            } else {
                check_block(&m, idx, order);    /* unchanged there */
                nrefused++;
            }
        }
        assert_int_equal(m.b.free_pages, m.nfree);
    }
    full_check(&m);
    /* the mix must really exercise every path, or the test proves little */
    assert_true(nalloc > ops / 20);
    assert_true(nfree > ops / 20);
    assert_true(ntake > ops / 50);
    assert_true(nrefused > ops / 50);
    model_fini(&m);
}

static void test_random_1000(void **state)
{
    run_random(1000, 1, 200000);
    run_random(1000, 2, 200000);
}

static void test_random_4099(void **state)
{
    run_random(4099, 3, 200000);
    run_random(4099, 4, 200000);
}

static void test_random_65536(void **state)
{
    run_random(65536, 5, 200000);
}

static void test_random_small(void **state)
{
    /* tiny and odd zones: every boundary case of the last partial block */
    for (uint64_t n = 1; n <= 70; n++)
        run_random(n, 100 + n, 1500);
}

/* ---- merge and split ------------------------------------------------------ */

static void test_merge_one_by_one(void **state)
{
    struct model m;
    model_init(&m, 1024);
    uint64_t perm[1024];
    for (uint64_t i = 0; i < 1024; i++)
        perm[i] = i;
    uint64_t s = 77;
    for (uint64_t i = 1023; i > 0; i--) {
        uint64_t j = rng_below(&s, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint64_t i = 0; i < 1024; i++) {
        assert_int_equal(hvx_buddy_free(&m.b, perm[i], 0), 0);
        ref_mark(&m, perm[i], 0, 1);
        if (i % 64 == 0)
            full_check(&m);
    }
    for (unsigned k = 0; k < 10; k++)
        assert_int_equal(m.b.free_blocks[k], 0);
    assert_int_equal(m.b.free_blocks[10], 1);
    assert_int_equal(m.b.free_pages, 1024);
    uint64_t idx;
    unsigned order;
    assert_int_equal(hvx_buddy_largest(&m.b, &idx, &order), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(order, 10);
    full_check(&m);
    model_fini(&m);

    /* not a power of two: ascending frees end as 512+256+128+64+32+8 */
    model_init(&m, 1000);
    for (uint64_t p = 0; p < 1000; p++) {
        assert_int_equal(hvx_buddy_free(&m.b, p, 0), 0);
        ref_mark(&m, p, 0, 1);
    }
    struct blk v[16];
    struct collect c = {v, 0, 16, 0};
    assert_int_equal(hvx_buddy_foreach_free(&m.b, collect_cb, &c), 0);
    static const struct blk want[] = {
        {0, 9}, {512, 8}, {768, 7}, {896, 6}, {960, 5}, {992, 3},
    };
    assert_int_equal(c.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(v[i].idx, want[i].idx);
        assert_int_equal(v[i].order, want[i].order);
    }
    full_check(&m);
    model_fini(&m);
}

static void expect_split_chain(const struct model *m, uint64_t taken, unsigned lo,
                               unsigned hi)
{
    /* after taking block (taken, lo) out of one free block of order hi:
     * exactly one free block at each order lo..hi-1, the half not holding
     * `taken` */
    for (unsigned k = 0; k <= m->max; k++) {
        if (k >= lo && k < hi) {
            assert_int_equal(m->b.free_blocks[k], 1);
            uint64_t other = (taken ^ (UINT64_C(1) << k)) & ~((UINT64_C(1) << k) - 1);
            assert_true(hvx_buddy_is_free(&m->b, other));
            assert_true((m->b.order[k].level[0][(other >> k) / 64] >>
                         ((other >> k) % 64)) & 1);
        } else {
            assert_int_equal(m->b.free_blocks[k], 0);
        }
    }
}

static void test_split(void **state)
{
    struct model m;
    model_init(&m, 1024);
    assert_int_equal(hvx_buddy_free(&m.b, 0, 10), 0);
    ref_mark(&m, 0, 10, 1);
    assert_int_equal(hvx_buddy_alloc(&m.b, 0), 0);
    ref_mark(&m, 0, 0, 0);
    assert_int_equal(m.b.free_pages, 1023);
    expect_split_chain(&m, 0, 0, 10);
    full_check(&m);
    /* giving it back merges all the way up again */
    assert_int_equal(hvx_buddy_free(&m.b, 0, 0), 0);
    ref_mark(&m, 0, 0, 1);
    assert_int_equal(m.b.free_blocks[10], 1);
    full_check(&m);

    /* a larger order splits only down to that order */
    assert_int_equal(hvx_buddy_alloc(&m.b, 3), 0);
    ref_mark(&m, 0, 3, 0);
    expect_split_chain(&m, 0, 3, 10);
    full_check(&m);
    /* the next order-3 allocation comes from the order-3 block at 8 */
    assert_int_equal(hvx_buddy_alloc(&m.b, 3), 8);
    ref_mark(&m, 8, 3, 0);
    assert_int_equal(m.b.free_blocks[3], 0);
    /* an order-2 allocation must split the lowest order-4 block (16) */
    assert_int_equal(hvx_buddy_alloc(&m.b, 2), 16);
    ref_mark(&m, 16, 2, 0);
    full_check(&m);
    model_fini(&m);

    /* take from the middle of a whole block */
    model_init(&m, 1024);
    assert_int_equal(hvx_buddy_free(&m.b, 0, 10), 0);
    ref_mark(&m, 0, 10, 1);
    assert_int_equal(hvx_buddy_take(&m.b, 613, 0), 0);
    ref_mark(&m, 613, 0, 0);
    expect_split_chain(&m, 613, 0, 10);
    full_check(&m);
    assert_int_equal(hvx_buddy_take(&m.b, 768, 7), 0);
    ref_mark(&m, 768, 7, 0);
    full_check(&m);
    assert_int_equal(hvx_buddy_free(&m.b, 768, 7), 0);
    ref_mark(&m, 768, 7, 1);
    assert_int_equal(hvx_buddy_free(&m.b, 613, 0), 0);
    ref_mark(&m, 613, 0, 1);
    assert_int_equal(m.b.free_blocks[10], 1);
    full_check(&m);
    model_fini(&m);
}

/* ---- alignment ------------------------------------------------------------ */

static void test_alignment(void **state)
{
    struct model m;
    model_init(&m, 4099);
    assert_int_equal(hvx_buddy_free_range(&m.b, 0, 4099), 0);
    memset(m.ref, 1, 4099);
    m.nfree = 4099;
    full_check(&m);
    uint64_t s = 9;
    long got = 0;
    /* random orders until even order 0 fails: the zone ends fully used */
    for (;;) {
        unsigned order = (unsigned)rng_below(&s, m.max + 1);
        int64_t idx = hvx_buddy_alloc(&m.b, order);
        if (idx < 0) {
            assert_false(ref_has_free_block(&m, order));
            if (order == 0)
                break;
            continue;
        }
        assert_int_equal((uint64_t)idx % (UINT64_C(1) << order), 0);
        assert_true((uint64_t)idx + (UINT64_C(1) << order) <= 4099);
        assert_int_equal(ref_state(&m, (uint64_t)idx, order), 1);
        ref_mark(&m, (uint64_t)idx, order, 0);
        got++;
    }
    assert_true(got > 10);
    assert_int_equal(m.b.free_pages, 0);
    full_check(&m);
    model_fini(&m);
}

/* ---- refusals ------------------------------------------------------------- */

/* A refused call returns -1 and leaves every byte of the allocator as it
 * was, and so every page's free state. */
#define REFUSED(call)                                                          \
    do {                                                                       \
        assert_int_equal((call), -1);                                          \
        snap_same(&m, &s);                                                     \
    } while (0)

static void test_refusals(void **state)
{
    struct model m;
    model_init(&m, 1000);   /* max order 9; [512, 1024) does not fit */
    struct snap s;

    /* an empty allocator */
    snap_take(&m, &s);
    assert_int_equal(hvx_buddy_alloc(&m.b, 0), -1);
    assert_int_equal(hvx_buddy_take(&m.b, 0, 0), -1);
    snap_same(&m, &s);
    snap_drop(&s);

    /* free set: [0, 256) whole, page 300, [320, 336), [992, 1000) */
    assert_int_equal(hvx_buddy_free(&m.b, 0, 8), 0);
    ref_mark(&m, 0, 8, 1);
    assert_int_equal(hvx_buddy_free(&m.b, 300, 0), 0);
    ref_mark(&m, 300, 0, 1);
    assert_int_equal(hvx_buddy_free(&m.b, 320, 4), 0);
    ref_mark(&m, 320, 4, 1);
    assert_int_equal(hvx_buddy_free(&m.b, 992, 3), 0);
    ref_mark(&m, 992, 3, 1);
    full_check(&m);

    snap_take(&m, &s);
    /* misaligned */
    REFUSED(hvx_buddy_free(&m.b, 257, 1));
    REFUSED(hvx_buddy_free(&m.b, 384 + 64, 7));
    REFUSED(hvx_buddy_take(&m.b, 2, 2));
    /* out of range */
    REFUSED(hvx_buddy_free(&m.b, 1000, 0));
    REFUSED(hvx_buddy_free(&m.b, 512, 9));    /* ends at 1024 */
    REFUSED(hvx_buddy_free(&m.b, 0, 10));     /* above max order */
    REFUSED(hvx_buddy_free(&m.b, 0, 31));
    REFUSED(hvx_buddy_free(&m.b, 0, 64));
    REFUSED(hvx_buddy_free(&m.b, 0, ~0u));
    REFUSED(hvx_buddy_free(&m.b, UINT64_MAX & ~UINT64_C(7), 3));
    REFUSED(hvx_buddy_free(&m.b, UINT64_C(1) << 63, 0));
    REFUSED(hvx_buddy_take(&m.b, 1000, 0));
    REFUSED(hvx_buddy_take(&m.b, 0, 10));
    REFUSED(hvx_buddy_take(&m.b, UINT64_MAX, 0));
    REFUSED(hvx_buddy_alloc(&m.b, 10));
    REFUSED(hvx_buddy_alloc(&m.b, 64));
    /* double free, exactly and inside a larger free block */
    REFUSED(hvx_buddy_free(&m.b, 300, 0));
    REFUSED(hvx_buddy_free(&m.b, 0, 8));
    REFUSED(hvx_buddy_free(&m.b, 128, 7));
    REFUSED(hvx_buddy_free(&m.b, 255, 0));
    REFUSED(hvx_buddy_free(&m.b, 328, 3));
    REFUSED(hvx_buddy_free(&m.b, 999, 0));
    /* a block that contains a free sub-block (or a free larger block) */
    REFUSED(hvx_buddy_free(&m.b, 0, 9));
    REFUSED(hvx_buddy_free(&m.b, 256, 6));    /* holds page 300 */
    REFUSED(hvx_buddy_free(&m.b, 256, 8));    /* 300 and 320.. */
    REFUSED(hvx_buddy_free(&m.b, 320, 5));    /* [320, 336) */
    REFUSED(hvx_buddy_free(&m.b, 996, 2));    /* in [992, 1000) */
    REFUSED(hvx_buddy_free(&m.b, 896, 7));    /* ends past 1000 */
    REFUSED(hvx_buddy_free_range(&m.b, 290, 310));
    REFUSED(hvx_buddy_free_range(&m.b, 336, 1000));
    REFUSED(hvx_buddy_free_range(&m.b, 400, 400));
    REFUSED(hvx_buddy_free_range(&m.b, 400, 1001));
    /* take of a range that is not (wholly) free */
    REFUSED(hvx_buddy_take(&m.b, 256, 0));
    REFUSED(hvx_buddy_take(&m.b, 0, 9));      /* half free */
    REFUSED(hvx_buddy_take(&m.b, 296, 3));    /* one page free */
    REFUSED(hvx_buddy_take(&m.b, 320, 5));
    REFUSED(hvx_buddy_take(&m.b, 512, 8));
    /* alloc larger than any free block */
    REFUSED(hvx_buddy_alloc(&m.b, 9));
    snap_same(&m, &s);
    snap_drop(&s);

    /* and the legitimate neighbours of those refusals do succeed */
    assert_int_equal(hvx_buddy_free(&m.b, 512, 8), 0);
    ref_mark(&m, 512, 8, 1);
    assert_int_equal(hvx_buddy_free(&m.b, 301, 0), 0);
    ref_mark(&m, 301, 0, 1);
    assert_int_equal(hvx_buddy_take(&m.b, 328, 3), 0);
    ref_mark(&m, 328, 3, 0);
    full_check(&m);
    model_fini(&m);
}

static void test_refuses_when_empty_zone(void **state)
{
    struct hvx_buddy b;
    uint64_t word = 0;
    assert_int_equal(hvx_buddy_mem(0), 0);
    assert_int_equal(hvx_buddy_mem((UINT64_C(1) << 36) + 1), 0);
    hvx_buddy_init(&b, 0, &word);
    assert_int_equal(hvx_buddy_free(&b, 0, 0), -1);
    assert_int_equal(hvx_buddy_alloc(&b, 0), -1);
    assert_int_equal(hvx_buddy_take(&b, 0, 0), -1);
    assert_int_equal(hvx_buddy_free_range(&b, 0, 1), -1);
    assert_false(hvx_buddy_is_free(&b, 0));
    uint64_t idx;
    unsigned order;
    assert_int_equal(hvx_buddy_largest(&b, &idx, &order), -1);
    assert_int_equal(hvx_buddy_check(&b), 0);
}

/* ---- largest / foreach ---------------------------------------------------- */

static void test_largest_foreach(void **state)
{
    struct model m;
    model_init(&m, 4099);
    uint64_t idx = 99;
    unsigned order = 99;
    assert_int_equal(hvx_buddy_largest(&m.b, &idx, &order), -1);
    assert_int_equal(idx, 99);
    struct blk v[8];
    struct collect c = {v, 0, 8, 0};
    assert_int_equal(hvx_buddy_foreach_free(&m.b, collect_cb, &c), 0);
    assert_int_equal(c.n, 0);

    static const struct blk put[] = {
        {4098, 0}, {64, 6}, {0, 0}, {4096, 1}, {3072, 10}, {2048, 10}, {512, 6},
    };
    for (size_t i = 0; i < sizeof(put) / sizeof(put[0]); i++) {
        assert_int_equal(hvx_buddy_free(&m.b, put[i].idx, put[i].order), 0);
        ref_mark(&m, put[i].idx, put[i].order, 1);
    }
    /* 2048@10 and 3072@10 are buddies: they merged into 2048@11 */
    static const struct blk want[] = {
        {2048, 11}, {64, 6}, {512, 6}, {4096, 1}, {0, 0}, {4098, 0},
    };
    assert_int_equal(hvx_buddy_largest(&m.b, &idx, &order), 0);
    assert_int_equal(idx, 2048);
    assert_int_equal(order, 11);
    c.n = 0;
    assert_int_equal(hvx_buddy_foreach_free(&m.b, collect_cb, &c), 0);
    assert_int_equal(c.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(v[i].idx, want[i].idx);
        assert_int_equal(v[i].order, want[i].order);
    }
    /* early stop returns the callback's value after exactly that many calls */
    c.n = 0;
    c.stop_at = 3;
    assert_int_equal(hvx_buddy_foreach_free(&m.b, collect_cb, &c), 7);
    assert_int_equal(c.n, 3);
    assert_int_equal(v[2].idx, 512);
    full_check(&m);

    /* with the big block gone the largest is the lowest of the order-6 two */
    assert_int_equal(hvx_buddy_take(&m.b, 2048, 11), 0);
    ref_mark(&m, 2048, 11, 0);
    assert_int_equal(hvx_buddy_largest(&m.b, &idx, &order), 0);
    assert_int_equal(idx, 64);
    assert_int_equal(order, 6);
    full_check(&m);
    model_fini(&m);
}

/* ---- free_range, self-check ----------------------------------------------- */

static void test_free_range(void **state)
{
    struct model m;
    model_init(&m, 4099);
    assert_int_equal(hvx_buddy_free_range(&m.b, 0, 4099), 0);
    for (uint64_t p = 0; p < 4099; p++)
        m.ref[p] = 1;
    m.nfree = 4099;
    assert_int_equal(m.b.free_blocks[12], 1);
    assert_int_equal(m.b.free_blocks[1], 1);
    assert_int_equal(m.b.free_blocks[0], 1);
    full_check(&m);
    model_fini(&m);

    /* arbitrary ranges into a fragmented zone: result is the merged set */
    model_init(&m, 4099);
    uint64_t s = 31;
    for (int i = 0; i < 400; i++) {
        uint64_t lo = rng_below(&s, 4099);
        uint64_t hi = lo + 1 + rng_below(&s, i % 4 == 0 ? 600 : 20);
        if (hi > 4099)
            hi = 4099;
        bool ok = true;
        for (uint64_t p = lo; p < hi; p++)
            ok = ok && !m.ref[p];
        assert_int_equal(hvx_buddy_free_range(&m.b, lo, hi), ok ? 0 : -1);
        if (ok) {
            for (uint64_t p = lo; p < hi; p++)
                m.ref[p] = 1;
            m.nfree += hi - lo;
        } else {
            /* make room again: take back random free pages */
            for (int t = 0; t < 40; t++) {
                uint64_t p = rng_below(&s, 4099);
                assert_int_equal(hvx_buddy_take(&m.b, p, 0), m.ref[p] ? 0 : -1);
                if (m.ref[p]) {
                    m.ref[p] = 0;
                    m.nfree--;
                }
            }
        }
        full_check(&m);
    }
    model_fini(&m);
}

static void test_check_detects_corruption(void **state)
{
    struct model m;
    model_init(&m, 4099);
    assert_int_equal(hvx_buddy_free(&m.b, 0, 5), 0);
    assert_int_equal(hvx_buddy_free(&m.b, 100, 0), 0);
    assert_int_equal(hvx_buddy_check(&m.b), 0);

    /* a sub-block of a free block also marked free */
    m.b.order[0].level[0][0] |= 2;
    assert_int_equal(hvx_buddy_check(&m.b), -1);
    m.b.order[0].level[0][0] &= ~UINT64_C(2);
    assert_int_equal(hvx_buddy_check(&m.b), 0);

    /* a counter off by one */
    m.b.free_blocks[5]++;
    assert_int_equal(hvx_buddy_check(&m.b), -1);
    m.b.free_blocks[5]--;
    m.b.free_pages++;
    assert_int_equal(hvx_buddy_check(&m.b), -1);
    m.b.free_pages--;

    /* a summary bit out of step with its word */
    m.b.order[0].level[1][0] |= 4;
    assert_int_equal(hvx_buddy_check(&m.b), -1);
    m.b.order[0].level[1][0] &= ~UINT64_C(4);

    /* two free buddies not merged (101 free at order 0 beside 100) */
    m.b.order[0].level[0][1] |= UINT64_C(1) << (101 - 64);
    m.b.free_blocks[0]++;
    m.b.free_pages++;
    assert_int_equal(hvx_buddy_check(&m.b), -1);
    m.b.order[0].level[0][1] &= ~(UINT64_C(1) << (101 - 64));
    m.b.free_blocks[0]--;
    m.b.free_pages--;
    assert_int_equal(hvx_buddy_check(&m.b), 0);
    model_fini(&m);
}

/* ---- size ----------------------------------------------------------------- */

static void test_large_zone(void **state)
{
    /* 2^24 pages (64 GiB of 4 KiB pages): 4,261,016 bytes of metadata,
     * 0.254 bytes/page: one bit per page at order 0, half at order 1, ...
     * (2 bits per page in all) plus 1/64 of that for the summary levels.
     * 262144 pages: 0.254; 4099: 0.279, 1000: 0.320 (word rounding);
     * 2^36 pages: 0.254. */
    const uint64_t n = UINT64_C(1) << 24;
    struct model m;
    memset(&m, 0, sizeof(m));
    m.n = n;
    m.memsz = hvx_buddy_mem(n);
    double bpp = (double)m.memsz / (double)n;
    assert_true(bpp > 0.25 && bpp < 0.30);
    double bpp36 = (double)hvx_buddy_mem(UINT64_C(1) << 36) / (double)(UINT64_C(1) << 36);
    assert_true(bpp36 > 0.25 && bpp36 < 0.30);
    /* max order caps at 30: 2^31 pages still fit the layout */
    assert_true(hvx_buddy_mem(UINT64_C(1) << 31) < (UINT64_C(1) << 31) * 3 / 10);
    m.mem = malloc(m.memsz);
    assert_non_null(m.mem);
    struct hvx_buddy *b = &m.b;
    hvx_buddy_init(b, n, m.mem);
    assert_int_equal(b->max_order, 24);

    assert_int_equal(hvx_buddy_free(b, 0, 24), 0);
    uint64_t idx;
    unsigned order;
    assert_int_equal(hvx_buddy_largest(b, &idx, &order), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(order, 24);
    /* take the very last page: one free block at every lower order */
    assert_int_equal(hvx_buddy_take(b, n - 1, 0), 0);
    for (unsigned k = 0; k < 24; k++)
        assert_int_equal(b->free_blocks[k], 1);
    assert_int_equal(b->free_pages, n - 1);
    /* the whole zone holds free sub-blocks, so freeing it must be refused */
    assert_int_equal(hvx_buddy_free(b, 0, 24), -1);
    assert_int_equal(hvx_buddy_free(b, n / 2, 23), -1);
    assert_int_equal(hvx_buddy_free_range(b, 0, n), -1);
    assert_int_equal(hvx_buddy_free(b, n - 1, 0), 0);
    assert_int_equal(b->free_blocks[24], 1);
    assert_int_equal(hvx_buddy_check(b), 0);

    /* carve it all into order-12 blocks, give them back in random order */
    enum { NB = 1 << 12 };
    uint64_t *blocks = malloc(NB * sizeof(*blocks));
    assert_non_null(blocks);
    for (int i = 0; i < NB; i++) {
        int64_t a = hvx_buddy_alloc(b, 12);
        assert_int_equal(a, (int64_t)i << 12);  /* lowest address first */
        blocks[i] = (uint64_t)a;
    }
    assert_int_equal(hvx_buddy_alloc(b, 0), -1);
    assert_int_equal(b->free_pages, 0);
    uint64_t s = 5;
    for (int i = NB - 1; i > 0; i--) {
        int j = (int)rng_below(&s, (uint64_t)i + 1);
        uint64_t t = blocks[i];
        blocks[i] = blocks[j];
        blocks[j] = t;
    }
    for (int i = 0; i < NB; i++) {
        assert_int_equal(hvx_buddy_free(b, blocks[i], 12), 0);
        if (i == NB / 2)
            assert_int_equal(hvx_buddy_check(b), 0);
    }
    assert_int_equal(b->free_blocks[24], 1);
    assert_int_equal(b->free_pages, n);
    assert_int_equal(hvx_buddy_check(b), 0);
    free(blocks);
    free(m.mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_1000),
        cmocka_unit_test(test_random_4099),
        cmocka_unit_test(test_random_65536),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_merge_one_by_one),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refuses_when_empty_zone),
        cmocka_unit_test(test_largest_foreach),
        cmocka_unit_test(test_free_range),
        cmocka_unit_test(test_check_detects_corruption),
        cmocka_unit_test(test_large_zone),
    };
    const char *only = getenv("BUDDY_TEST");    /* e.g. BUDDY_TEST='*random*' */
    if (only != NULL)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
