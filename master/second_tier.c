/* Second-tier policies; see second_tier.h. */
#include "second_tier.h"

#include <stdlib.h>

static int by_free_desc(const void *a, const void *b)
{
    const struct tier2_donor *x = a, *y = b;
    if (x->free_pages != y->free_pages)
        return x->free_pages > y->free_pages ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

size_t tier2_sorted(struct tier2_donor *donors, size_t n, uint64_t pages, uint64_t reserve,
                    struct tier2_fwd *out, size_t cap)
{
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
