/* Second tier "two-choices" (Infiniswap's power of two choices): two
 * donors drawn at random among those with pages above the reserve, the one
 * with more free pages gives what it can; drawn again for what is left.
 * Load spreads over the donors without the master ranking them all, and no
 * donor is every requester's first choice. The draws come from a generator
 * kept in the policy's state, seeded from the first requester: the same
 * requests give the same choices (the simulator replays). */
#include "second_tier.h"

#include <stdbool.h>

struct two_choices_state {
    bool seeded;
    uint64_t x;                               /* splitmix64 state */
};

/* splitmix64 (Steele, Lea, Flood): a full-period 64-bit generator whose
 * every state, 0 included, gives a well-mixed output. */
static uint64_t next(struct two_choices_state *st)
{
    uint64_t z = (st->x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* 0..n-1 (n >= 1); the modulo's bias is below n / 2^64. */
static size_t draw(struct two_choices_state *st, size_t n)
{
    return (size_t)(next(st) % n);
}

static bool richer(const struct tier2_donor *a, const struct tier2_donor *b)
{
    return a->free_pages != b->free_pages ? a->free_pages > b->free_pages : a->id < b->id;
}

static size_t two_choices_decide(const struct tier2_request *rq, const void *params,
                                 void *state, struct tier2_fwd *out, size_t cap)
{
    (void)params;
    struct two_choices_state *st = state;
    struct tier2_donor *d = rq->donors;
    uint64_t pages = rq->pages, reserve = rq->reserve;
    if (!st->seeded) {
        st->seeded = true;
        st->x = rq->requester;
    }
    /* Candidates: donors[0..n) are those above the reserve not drawn yet. */
    size_t n = 0;
    for (size_t i = 0; i < rq->n_donors; i++)
        if (d[i].free_pages > reserve) {
            struct tier2_donor t = d[n];
            d[n++] = d[i];
            d[i] = t;
        }
    size_t k = 0;
    while (pages && n && k < cap) {
        size_t a = draw(st, n), pick = a;
        if (n > 1) {
            size_t b = draw(st, n - 1);
            b += b >= a; /* a second, different candidate */
            pick = richer(&d[a], &d[b]) ? a : b;
        }
        uint64_t spare = d[pick].free_pages - reserve;
        uint64_t give = spare < pages ? spare : pages;
        out[k++] = (struct tier2_fwd){d[pick].id, give};
        pages -= give;
        struct tier2_donor t = d[pick]; /* drawn: out of the candidates */
        d[pick] = d[--n];
        d[n] = t;
    }
    return k;
}

const struct tier2_policy tier2_two_choices = {
    .name = "two-choices",
    .state_bytes = sizeof(struct two_choices_state),
    .decide = two_choices_decide,
};
