/* Second tier "topology": the donors closest to the requester in the
 * hardware tree first (same board before same rack before the rest), ties
 * by free pages (descending) then id; it gives as sorted does. Pages lent
 * nearby cross fewer switches on every remote get and put. */
#include "second_tier.h"

#include <stdlib.h>

unsigned tier2_distance(const uint32_t *a, unsigned alen, const uint32_t *b, unsigned blen)
{
    unsigned common = 0;
    while (common < alen && common < blen && a[common] == b[common])
        common++;
    return (alen > blen ? alen : blen) - common;
}

/* qsort has no context argument: the distance to the requester is folded
 * into a key computed before sorting. */
struct keyed {
    unsigned distance;
    struct tier2_donor d;
};

static int by_distance(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    if (x->d.free_pages != y->d.free_pages)
        return x->d.free_pages > y->d.free_pages ? -1 : 1;
    return x->d.id < y->d.id ? -1 : x->d.id > y->d.id;
}

/* The order is kept in state (one struct keyed per node the master knows,
 * VMCA_MAX_NODES of them at most): decide allocates nothing. */
#define TOPOLOGY_MAX 4096

static size_t topology_decide(const struct tier2_request *rq, const void *params, void *state,
                              struct tier2_fwd *out, size_t cap)
{
    (void)params;
    struct keyed *k = state;
    size_t n = rq->n_donors < TOPOLOGY_MAX ? rq->n_donors : TOPOLOGY_MAX;
    for (size_t i = 0; i < n; i++)
        k[i] = (struct keyed){tier2_distance(rq->location, rq->location_len,
                                             rq->donors[i].location, rq->donors[i].location_len),
                              rq->donors[i]};
    qsort(k, n, sizeof *k, by_distance);
    for (size_t i = 0; i < n; i++)
        rq->donors[i] = k[i].d;
    return tier2_give_in_order(rq->donors, n, rq->pages, rq->reserve, out, cap);
}

const struct tier2_policy tier2_topology = {
    .name = "topology",
    .state_bytes = TOPOLOGY_MAX * sizeof(struct keyed),
    .decide = topology_decide,
};
