/* Buddy allocator cost beside the copy it enables: a 4 KiB memcpy to and
 * from random pages of a pool as large as the zone is the baseline; the
 * allocator's order-0 alloc+free pair should cost well under a tenth of it.
 * Usage: bench_buddy [npages] (default 262144 = 1 GiB of 4 KiB pages). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "buddy.h"
#include "bench_clock.h"

#define PAGE 4096u
#define REPEATS 5
#define TARGET 0.10

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rng(void)
{
    /* xorshift64*: a few ns, the same in every measured loop */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_buddy: %s\n", what);
    exit(1);
}

/* Baseline: copy a page out to a random page of the pool and back in from
 * another random page; ns per 4 KiB copy. */
static double bench_memcpy(unsigned char *pool, uint64_t npages, long iters)
{
    static unsigned char buf[PAGE] __attribute__((aligned(64)));
    uint64_t *idx = malloc((size_t)iters * 2 * sizeof(*idx));
    if (idx == NULL)
        die("out of memory");
    for (long i = 0; i < iters * 2; i++)
        idx[i] = rng() % npages;
    memset(buf, 0x5a, sizeof(buf));
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        memcpy(pool + idx[2 * i] * PAGE, buf, PAGE);
        memcpy(buf, pool + idx[2 * i + 1] * PAGE, PAGE);
        __asm__ volatile("" : : "r"(buf) : "memory");
    }
    double t = bench_now_ns() - t0;
    free(idx);
    return t / (double)(iters * 2);
}

/* Fragmented steady state: everything allocated at order 0, then a random
 * half freed (so the free set is a scatter of small blocks). Returns the
 * allocated pages in `used` (count in *nused). */
static void fragment(struct hvx_buddy *b, uint64_t npages, uint64_t *used,
                     uint64_t *nused)
{
    if (hvx_buddy_free_range(b, 0, npages) != 0)
        die("free_range failed");
    for (uint64_t i = 0; i < npages; i++) {
        int64_t p = hvx_buddy_alloc(b, 0);
        if (p < 0)
            die("alloc failed while filling");
        used[i] = (uint64_t)p;
    }
    for (uint64_t i = npages - 1; i > 0; i--) {
        uint64_t j = rng() % (i + 1), t = used[i];
        used[i] = used[j];
        used[j] = t;
    }
    uint64_t half = npages / 2;
    for (uint64_t i = half; i < npages; i++)
        if (hvx_buddy_free(b, used[i], 0) != 0)
            die("free failed while fragmenting");
    *nused = half;
}

/* Order-0 pairs: allocate one page, free a random page in use (not the one
 * just taken, which would keep the same few words hot). ns per pair. */
static double bench_pairs(struct hvx_buddy *b, uint64_t *used, uint64_t nused,
                          long iters)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        int64_t p = hvx_buddy_alloc(b, 0);
        uint64_t j = ((rng() >> 32) * nused) >> 32;   /* no division */
        if (p < 0 || hvx_buddy_free(b, used[j], 0) != 0)
            die("pair failed");
        used[j] = (uint64_t)p;
    }
    return (bench_now_ns() - t0) / (double)iters;
}

/* The same pair on one page: the best case (everything in L1). */
static double bench_pairs_hot(struct hvx_buddy *b, long iters)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        int64_t p = hvx_buddy_alloc(b, 0);
        if (p < 0 || hvx_buddy_free(b, (uint64_t)p, 0) != 0)
            die("hot pair failed");
    }
    return (bench_now_ns() - t0) / (double)iters;
}

struct held {
    uint64_t idx;
    unsigned order;
};

/* Mixed orders 0..9 over a working set of up to `cap` blocks: each op
 * allocates a random order or frees a random held block. ns per op. */
static double bench_mixed(struct hvx_buddy *b, struct held *set, unsigned cap,
                          long iters, long *failed)
{
    unsigned n = 0;
    while (n < cap / 2) {
        unsigned o = (unsigned)(rng() % 10);
        int64_t p = hvx_buddy_alloc(b, o);
        if (p < 0)
            break;
        set[n].idx = (uint64_t)p;
        set[n].order = o;
        n++;
    }
    long fails = 0;
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        uint64_t r = rng();
        if (((r & 1) && n < cap) || n == 0) {
            unsigned o = (unsigned)((r >> 1) % 10);
            int64_t p = hvx_buddy_alloc(b, o);
            if (p < 0) {
                fails++;
                continue;
            }
            set[n].idx = (uint64_t)p;
            set[n].order = o;
            n++;
        } else {
            unsigned j = (unsigned)((r >> 1) % n);
            if (hvx_buddy_free(b, set[j].idx, set[j].order) != 0)
                die("mixed free failed");
            set[j] = set[--n];
        }
    }
    double t = bench_now_ns() - t0;
    while (n > 0) {
        n--;
        if (hvx_buddy_free(b, set[n].idx, set[n].order) != 0)
            die("mixed drain failed");
    }
    *failed = fails;
    return t / (double)iters;
}

int main(int argc, char **argv)
{
    uint64_t npages = 262144;
    if (argc > 1) {
        char *end;
        unsigned long long v = strtoull(argv[1], &end, 0);
        if (*end != '\0' || v < 1024 || v > (1ull << 26))
            die("npages must be 1024..67108864");
        npages = v;
    }

    size_t memsz = hvx_buddy_mem(npages);
    void *mem = malloc(memsz);
    uint64_t *used = malloc(npages * sizeof(*used));
    unsigned cap = 1024;
    struct held *set = malloc(cap * sizeof(*set));
    size_t poolsz = (size_t)npages * PAGE;
    unsigned char *pool = mmap(NULL, poolsz, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == NULL || used == NULL || set == NULL || pool == MAP_FAILED)
        die("out of memory");
    memset(pool, 1, poolsz);    /* fault every page in before timing */

    printf("buddy: pool %llu pages, metadata %.3f bytes/page (%zu bytes)\n",
           (unsigned long long)npages, (double)memsz / (double)npages, memsz);

    double copy = 1e30, pair = 1e30, hot = 1e30, mixed = 1e30;
    long fails = 0;
    for (int rep = 0; rep < REPEATS; rep++) {
        double t = bench_memcpy(pool, npages, 200000);
        if (t < copy)
            copy = t;

        struct hvx_buddy b;
        hvx_buddy_init(&b, npages, mem);
        uint64_t nused;
        fragment(&b, npages, used, &nused);
        t = bench_pairs(&b, used, nused, 2000000);
        if (t < pair)
            pair = t;
        t = bench_pairs_hot(&b, 2000000);
        if (t < hot)
            hot = t;
        if (hvx_buddy_check(&b) != 0)
            die("invariants broken after pairs");

        hvx_buddy_init(&b, npages, mem);
        if (hvx_buddy_free_range(&b, 0, npages) != 0)
            die("free_range failed");
        long f;
        t = bench_mixed(&b, set, cap, 2000000, &f);
        if (t < mixed) {
            mixed = t;
            fails = f;
        }
        if (hvx_buddy_check(&b) != 0 || b.free_pages != npages)
            die("invariants broken after mixed");
    }

    double ratio = pair / copy;
    printf("baseline memcpy 4 KiB (random pages): %8.1f ns\n", copy);
    printf("order-0 alloc+free pair (fragmented): %8.1f ns  ratio %.3f of memcpy "
           "(target < %.2f: %s)\n", pair, ratio, TARGET, ratio < TARGET ? "PASS" : "MISS");
    printf("order-0 alloc+free same page (hot):   %8.1f ns\n", hot);
    printf("mixed orders 0..9 op (set <= %u):    %8.1f ns  (%ld allocs refused)\n",
           cap, mixed, fails);
    printf("best of %d runs each\n", REPEATS);

    munmap(pool, poolsz);
    free(set);
    free(used);
    free(mem);
    return 0;
}
