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
    (void)params, (void)state;
    if (rq->n_donors == 0)
        return 0;
    qsort(rq->donors, rq->n_donors, sizeof *rq->donors, by_free_desc);
    return tier2_give_in_order(rq->donors, rq->n_donors, rq->pages, rq->reserve, out, cap);
}

const struct tier2_policy tier2_sorted = {
    .name = "sorted",
    .decide = sorted_decide,
};
