/* Second-tier policies of the master: given the donors' free pages (from
 * their last Statistics) choose who gives how much to a requester. Pure
 * functions; the master core turns their choice into Grant-Fwd messages. */
#ifndef VMCA_SECOND_TIER_H
#define VMCA_SECOND_TIER_H

#include <stddef.h>
#include <stdint.h>

struct tier2_donor {
    uint32_t id;
    uint64_t free_pages;
};

struct tier2_fwd {
    uint32_t donor;
    uint64_t pages;
};

/* Thesis Algorithm 9 ("sorted"): donors sorted by free pages, descending
 * (ties: lower id first); the whole request goes to the first donor that
 * stays at or above `reserve` after giving it; otherwise each donor in turn
 * gives what it has above the reserve until the request is covered. Sorts
 * `donors` in place. Returns the number of entries written to out (<= cap);
 * their pages sum to at most `pages` (no guarantee of being served). */
size_t tier2_sorted(struct tier2_donor *donors, size_t n, uint64_t pages, uint64_t reserve,
                    struct tier2_fwd *out, size_t cap);

#endif
