/* How the sorted policy (thesis Algorithm 9) gives once donors are in
 * order, shared by every second tier that differs from it only in the
 * order: one donor for the whole request if one can, else several. */
#include "second_tier.h"

static uint64_t spare(const struct tier2_donor *d, uint64_t reserve)
{
    return d->free_pages > reserve ? d->free_pages - reserve : 0;
}

size_t tier2_give_in_order(const struct tier2_donor *donors, size_t n, uint64_t pages,
                           uint64_t reserve, struct tier2_fwd *out, size_t cap)
{
    if (n == 0 || cap == 0 || pages == 0)
        return 0;
    /* One donor, if one can: fewer Grant-Fwds and fewer homes to track. */
    for (size_t i = 0; i < n; i++)
        if (spare(&donors[i], reserve) >= pages) {
            out[0] = (struct tier2_fwd){donors[i].id, pages};
            return 1;
        }
    size_t k = 0;
    for (size_t i = 0; i < n && pages && k < cap; i++) {
        uint64_t s = spare(&donors[i], reserve);
        if (s == 0)
            continue;
        uint64_t give = s < pages ? s : pages;
        out[k++] = (struct tier2_fwd){donors[i].id, give};
        pages -= give;
    }
    return k;
}
