/* Second tier "sorted" (thesis Algorithm 9): donors by free pages,
 * descending (ties: lower id first); the whole request goes to the first
 * donor that stays at or above the reserve after giving it; otherwise each
 * donor in turn gives what it has above the reserve until it is covered. */
#include "second_tier.h"

#include <stdlib.h>

static int by_free_desc(const void *a, const void *b)
{
    const struct tier2_donor *x = a, *y = b;
    if (x->free_pages != y->free_pages)
        return x->free_pages > y->free_pages ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static size_t sorted_decide(const struct tier2_request *rq, const void *params, void *state,
                            struct tier2_fwd *out, size_t cap)
{
    struct tier2_donor *donors = rq->donors;
    size_t n = rq->n_donors;
    uint64_t pages = rq->pages, reserve = rq->reserve;
    if (n == 0 || cap == 0 || pages == 0)
        return 0;
    qsort(donors, n, sizeof *donors, by_free_desc);
    if (donors[0].free_pages >= reserve && donors[0].free_pages - reserve >= pages) {
        out[0] = (struct tier2_fwd){donors[0].id, pages};
        return 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n && pages && k < cap; i++) {
        if (donors[i].free_pages <= reserve)
            break; /* sorted: nobody after this one can spare anything */
        uint64_t spare = donors[i].free_pages - reserve;
        uint64_t give = spare < pages ? spare : pages;
        out[k++] = (struct tier2_fwd){donors[i].id, give};
        pages -= give;
    }
    return k;
}

const struct tier2_policy tier2_sorted = {
    .name = "sorted",
    .decide = sorted_decide,
};
