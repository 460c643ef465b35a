/* Guest workload profiles (workload.h). Each profile is a small state
 * machine driven by wl_next; sizes are simulated pages, and the only sizes
 * stated in real MB (usemem's) are converted with spec->scale. */
#include "workload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Real 4 KiB pages per MB. */
#define PAGES_PER_MB 256u

enum wl_prof { P_USEMEM, P_ANALYTICS, P_GRAPH, P_MEMCACHED, P_CONSTANT, P_FLUX, P_COUNT };

/* usemem */
#define USEMEM_STEP_MB 128u
#define USEMEM_LIMIT_MB 1024u
#define USEMEM_LOOPS 3u
/* analytics: a phase's array as a fraction (num/den) of the footprint. */
#define AN_PHASES 4u
static const unsigned an_num[AN_PHASES] = {1, 1, 3, 1};
static const unsigned an_den[AN_PHASES] = {2, 1, 4, 3};
#define AN_SCANS 3u             /* sequential scans per phase */
#define AN_UPDATE_EVERY 8u      /* later scans write one page in this many */
/* graph */
#define GR_HOT_DEN 5u           /* hot part: 1/5 of the footprint ... */
#define GR_HOT_PCT 80u          /* ... gets 80 % of the traversals */
#define GR_RUN_MAX 8u           /* a vertex's edge list: 1..8 adjacent pages */
#define GR_ITERS 6u             /* iterations, each footprint accesses */
#define GR_WRITE_PCT 10u
/* memcached */
#define MC_ZIPF_S 0.99          /* YCSB's default request skew */
#define MC_REQ_PER_PAGE 8u      /* requests per repeat = 8 * footprint */
#define MC_SET_PCT 10u
/* constant and flux */
#define CF_PASSES 10u           /* constant: accesses = passes * working set */
#define CF_WRITE_PCT 30u
#define FX_LEVELS 5u            /* working set levels lo .. footprint */
#define FX_PERIODS 2u           /* rise-and-fall periods per repeat */
#define FX_PASSES 2u            /* accesses per level = passes * its set */

struct prof_info {
    const char *name;
    unsigned fp_num, fp_den;    /* default footprint = ram * num / den */
    const char *assumes;
};

static const struct prof_info profs[P_COUNT] = {
    [P_USEMEM] = {"usemem", 0, 1,
                  "grows its allocation by 128 MB steps (writes the new step, then reads the "
                  "whole allocation, as vmca-guest's usemem) to 1 GB (footprint_mb overrides), "
                  "then 3 loops of a write pass and a read pass over it; working set = allocation"},
    [P_ANALYTICS] = {"analytics", 3, 1,
                     "footprint 3x RAM; 4 phases whose arrays are 1/2, 1, 3/4 and 1/3 of it, "
                     "each at another offset; a phase scans its array 3 times in order (the "
                     "first writes it, later ones read and write 1 page in 8); working set = "
                     "the phase's array"},
    [P_GRAPH] = {"graph", 5, 2,
                 "footprint 2.5x RAM; loads it in order (writes), then 6 iterations of "
                 "footprint accesses each: runs of 1-8 adjacent pages from a random vertex, "
                 "80 % in a hot fifth, 10 % writes; working set = pages loaded"},
    [P_MEMCACHED] = {"memcached", 2, 1,
                     "footprint 2x RAM of items; loads every item (writes), then 8 requests per "
                     "page: item rank Zipf with exponent 0.99, ranks scattered over pages, 90 % "
                     "gets (reads) and 10 % sets (writes); working set = pages loaded"},
    [P_CONSTANT] = {"constant", 2, 1,
                    "a constant working set = footprint (default 2x RAM): uniform random "
                    "accesses, 30 % writes, 10 accesses per page"},
    [P_FLUX] = {"flux", 2, 1,
                "working set steps from 1/4 of the footprint (default 2x RAM) up to all of it "
                "in 4 steps and back down, 2 periods; each level lasts 2 accesses per page of "
                "it, uniform random, 30 % writes"},
};

enum stage {
    S_GROW,       /* usemem: writing the new step */
    S_VERIFY,     /* usemem: reading the whole allocation */
    S_LOOP_W,     /* usemem: write pass of a loop */
    S_LOOP_R,     /* usemem: read pass of a loop */
    S_SCAN,       /* analytics: scanning the phase's array */
    S_LOAD,       /* graph, memcached: writing every page once */
    S_RUN,        /* graph, memcached, constant, flux: the steady part */
    S_DONE,
};

struct wl {
    enum wl_prof prof;
    uint64_t fp;
    unsigned repeats, rep;
    uint64_t rng;
    uint64_t ws;
    enum stage stage;
    uint64_t i, end;           /* position in the current pass, and its end */
    uint64_t left;             /* accesses left in the current run / level */
    unsigned k;                /* loop, phase, scan, iteration or level index */
    unsigned sub;              /* analytics: scan within the phase */
    uint64_t step;             /* usemem: step in pages */
    uint64_t base;             /* analytics: array offset; graph: run position */
    unsigned run;              /* graph: pages left in the current run */
    uint64_t hot;              /* graph: hot part */
    uint64_t mul;              /* memcached: rank -> page multiplier */
    /* memcached: Zipf rejection-inversion constants */
    double z_h1, z_hn, z_s;
};

static uint64_t rnd(struct wl *w)
{
    uint64_t z = (w->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rnd_below(struct wl *w, uint64_t n)
{
    return n ? rnd(w) % n : 0;
}

static bool pct(struct wl *w, unsigned p)
{
    return rnd(w) % 100u < p;
}

static double unit(struct wl *w)
{
    return (double)(rnd(w) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- Zipf over ranks 1..n by rejection-inversion (Hoermann and Derflinger,
 * 1996): H is an antiderivative of h(x) = x^-s, sampled through its inverse. */

static double zh(double x, double s)
{
    return exp(-s * log(x));
}

static double zH(double x, double s)
{
    double lx = log(x), t = (1.0 - s) * lx;
    return fabs(t) > 1e-8 ? expm1(t) / (1.0 - s) : lx * (1.0 + t / 2.0);
}

static double zHinv(double y, double s)
{
    double t = y * (1.0 - s);
    if (t <= -1.0)
        t = -1.0 + 1e-12;
    return fabs(t) > 1e-8 ? exp(log1p(t) / (1.0 - s)) : exp(y * (1.0 - t / 2.0));
}

static void zipf_init(struct wl *w, uint64_t n)
{
    double s = MC_ZIPF_S;
    w->z_h1 = zH(1.5, s) - 1.0;
    w->z_hn = zH((double)n + 0.5, s);
    w->z_s = 2.0 - zHinv(zH(2.5, s) - zh(2.0, s), s);
}

static uint64_t zipf_rank(struct wl *w)
{
    double s = MC_ZIPF_S;
    for (;;) {
        double u = w->z_hn + unit(w) * (w->z_h1 - w->z_hn);
        double x = zHinv(u, s);
        double kd = floor(x + 0.5);
        if (kd < 1.0)
            kd = 1.0;
        else if (kd > (double)w->fp)
            kd = (double)w->fp;
        if (kd - x <= w->z_s || u >= zH(kd + 0.5, s) - zh(kd, s))
            return (uint64_t)kd;
    }
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* ---- construction ---- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int prof_find(const char *name)
{
    for (int p = 0; p < P_COUNT; p++)
        if (name && strcmp(name, profs[p].name) == 0)
            return p;
    return -1;
}

/* Puts the workload at the start of a repeat. */
static void start_repeat(struct wl *w)
{
    w->i = 0;
    w->k = 0;
    w->sub = 0;
    w->run = 0;
    switch (w->prof) {
    case P_USEMEM:
        w->stage = S_GROW;
        w->end = w->step < w->fp ? w->step : w->fp;
        w->ws = w->end;
        break;
    case P_ANALYTICS:
        w->stage = S_SCAN;
        w->base = 0;
        w->end = w->fp * an_num[0] / an_den[0];
        w->ws = w->end;
        break;
    case P_GRAPH:
    case P_MEMCACHED:
        w->stage = S_LOAD;
        w->end = w->fp;
        w->ws = 0;
        break;
    case P_CONSTANT:
        w->stage = S_RUN;
        w->ws = w->fp;
        w->left = (uint64_t)CF_PASSES * w->fp;
        break;
    case P_FLUX:
        w->stage = S_RUN;
        w->ws = w->fp / 4;
        w->left = (uint64_t)FX_PASSES * w->ws;
        break;
    case P_COUNT:
        break;
    }
}

const char *wl_profile_names(void)
{
    return "usemem, analytics, graph, memcached, constant, flux";
}

const char *wl_assumes(const char *profile)
{
    int p = prof_find(profile);
    return p < 0 ? NULL : profs[p].assumes;
}

struct wl *wl_new(const struct wl_spec *spec, char *err, size_t errlen)
{
    if (!spec || !spec->profile) {
        errf(err, errlen, "workload: no profile given (expected one of %s)", wl_profile_names());
        return NULL;
    }
    int p = prof_find(spec->profile);
    if (p < 0) {
        errf(err, errlen, "workload: unknown profile '%s' (expected one of %s)", spec->profile,
             wl_profile_names());
        return NULL;
    }
    const char *name = profs[p].name;
    if (spec->scale == 0 || spec->scale > WL_MAX_SCALE || (spec->scale & (spec->scale - 1))) {
        errf(err, errlen, "workload %s: scale %u is not a power of two from 1 to %u", name,
             spec->scale, WL_MAX_SCALE);
        return NULL;
    }
    if (spec->ram_pages == 0 || spec->ram_pages > WL_MAX_PAGES) {
        errf(err, errlen, "workload %s: ram_pages %llu is not from 1 to %llu", name,
             (unsigned long long)spec->ram_pages, (unsigned long long)WL_MAX_PAGES);
        return NULL;
    }
    if (spec->repeats == 0) {
        errf(err, errlen, "workload %s: repeats must be at least 1", name);
        return NULL;
    }
    uint64_t fp = spec->footprint_pages;
    if (fp == 0)
        fp = p == P_USEMEM ? (uint64_t)USEMEM_LIMIT_MB * PAGES_PER_MB / spec->scale
                           : spec->ram_pages * profs[p].fp_num / profs[p].fp_den;
    if (fp < 8 || fp > WL_MAX_PAGES) {
        errf(err, errlen,
             "workload %s: footprint of %llu pages is not from 8 to %llu (ram_pages %llu, "
             "scale %u)",
             name, (unsigned long long)fp, (unsigned long long)WL_MAX_PAGES,
             (unsigned long long)spec->ram_pages, spec->scale);
        return NULL;
    }
    struct wl *w = calloc(1, sizeof *w);
    if (!w) {
        errf(err, errlen, "workload %s: out of memory", name);
        return NULL;
    }
    w->prof = (enum wl_prof)p;
    w->fp = fp;
    w->repeats = spec->repeats;
    w->rng = spec->seed ^ UINT64_C(0x5eed0f3a9c1b2d47);
    w->step = (uint64_t)USEMEM_STEP_MB * PAGES_PER_MB / spec->scale;
    w->hot = fp / GR_HOT_DEN;
    if (p == P_MEMCACHED) {
        zipf_init(w, fp);
        uint64_t m = (uint64_t)((double)fp * 0.6180339887) + 1;
        while (gcd(m, fp) != 1)
            m++;
        w->mul = m;
    }
    start_repeat(w);
    return w;
}

void wl_free(struct wl *w)
{
    free(w);
}

uint64_t wl_footprint(const struct wl *w)
{
    return w->fp;
}

uint64_t wl_working_set(const struct wl *w)
{
    return w->ws;
}

/* ---- the profiles' next access; false: this repeat's work is done ---- */

static bool next_usemem(struct wl *w, uint64_t *page, bool *write)
{
    for (;;) {
        switch (w->stage) {
        case S_GROW:
            if (w->i < w->end) {
                *page = w->i++;
                *write = true;
                return true;
            }
            w->stage = S_VERIFY;
            w->i = 0;
            break;
        case S_VERIFY:
            if (w->i < w->end) {
                *page = w->i++;
                *write = false;
                return true;
            }
            if (w->end >= w->fp) {
                w->stage = S_LOOP_W;
                w->i = 0;
                w->k = 0;
            } else {
                w->i = w->end;
                w->end = w->fp - w->end > w->step ? w->end + w->step : w->fp;
                w->ws = w->end;
                w->stage = S_GROW;
            }
            break;
        case S_LOOP_W:
        case S_LOOP_R:
            if (w->k >= USEMEM_LOOPS)
                return false;
            if (w->i < w->fp) {
                *page = w->i++;
                *write = w->stage == S_LOOP_W;
                return true;
            }
            w->i = 0;
            if (w->stage == S_LOOP_R)
                w->k++;
            w->stage = w->stage == S_LOOP_W ? S_LOOP_R : S_LOOP_W;
            break;
        default:
            return false;
        }
    }
}

static bool next_analytics(struct wl *w, uint64_t *page, bool *write)
{
    while (w->i >= w->end) {
        w->i = 0;
        if (++w->sub < AN_SCANS)
            continue;
        w->sub = 0;
        if (++w->k >= AN_PHASES)
            return false;
        w->base = w->fp * w->k / AN_PHASES;
        w->end = w->fp * an_num[w->k] / an_den[w->k];
        w->ws = w->end;
    }
    *page = (w->base + w->i) % w->fp;
    *write = w->sub == 0 || w->i % AN_UPDATE_EVERY == 0;
    w->i++;
    return true;
}

/* graph and memcached start by writing every page once. */
static bool next_load(struct wl *w, uint64_t *page, bool *write)
{
    *page = w->i++;
    *write = true;
    w->ws = w->i;
    if (w->i >= w->fp) {
        w->stage = S_RUN;
        w->left = w->prof == P_GRAPH ? (uint64_t)GR_ITERS * w->fp
                                     : (uint64_t)MC_REQ_PER_PAGE * w->fp;
    }
    return true;
}

static bool next_graph(struct wl *w, uint64_t *page, bool *write)
{
    if (w->left == 0)
        return false;
    w->left--;
    if (w->run == 0) {
        w->run = 1 + (unsigned)rnd_below(w, GR_RUN_MAX);
        w->base = pct(w, GR_HOT_PCT) ? rnd_below(w, w->hot)
                                     : w->hot + rnd_below(w, w->fp - w->hot);
    }
    *page = w->base;
    w->base = (w->base + 1) % w->fp;
    w->run--;
    *write = pct(w, GR_WRITE_PCT);
    return true;
}

static bool next_memcached(struct wl *w, uint64_t *page, bool *write)
{
    if (w->left == 0)
        return false;
    w->left--;
    uint64_t rank = zipf_rank(w) - 1;
    /* mul < fp, so rank * mul fits 64 bits for fp <= 2^26 */
    *page = rank * w->mul % w->fp;
    *write = pct(w, MC_SET_PCT);
    return true;
}

static bool next_uniform(struct wl *w, uint64_t *page, bool *write)
{
    if (w->prof == P_FLUX && w->left == 0) {
        /* levels 0..FX_LEVELS-1 up then back down: 2 * (FX_LEVELS - 1) per period */
        unsigned per = 2u * (FX_LEVELS - 1u);
        if (++w->k >= FX_PERIODS * per)
            return false;
        unsigned pos = w->k % per;
        unsigned lvl = pos < FX_LEVELS ? pos : per - pos;
        uint64_t lo = w->fp / 4;
        w->ws = lo + (w->fp - lo) * lvl / (FX_LEVELS - 1u);
        w->left = (uint64_t)FX_PASSES * w->ws;
    }
    if (w->left == 0)
        return false;
    w->left--;
    *page = rnd_below(w, w->ws);
    *write = pct(w, CF_WRITE_PCT);
    return true;
}

static bool next_one(struct wl *w, uint64_t *page, bool *write)
{
    if (w->stage == S_LOAD)
        return next_load(w, page, write);
    switch (w->prof) {
    case P_USEMEM: return next_usemem(w, page, write);
    case P_ANALYTICS: return next_analytics(w, page, write);
    case P_GRAPH: return next_graph(w, page, write);
    case P_MEMCACHED: return next_memcached(w, page, write);
    case P_CONSTANT:
    case P_FLUX: return next_uniform(w, page, write);
    case P_COUNT: break;
    }
    return false;
}

bool wl_next(struct wl *w, uint64_t *page, bool *write)
{
    while (w->stage != S_DONE) {
        if (next_one(w, page, write))
            return true;
        if (++w->rep >= w->repeats) {
            w->stage = S_DONE;
            break;
        }
        start_repeat(w);
    }
    return false;
}
