/* Second-tier policies of the master and their registry: given a Grant-Any
 * and the donors' free pages (from their last Statistics), choose who gives
 * how much. Each policy is one file here behind struct tier2_policy; the
 * master core and common/config.c find it by name. No dependencies beyond
 * libc: vmca_common links this library. */
#ifndef VMCA_SECOND_TIER_H
#define VMCA_SECOND_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy_settings.h"

#define TIER2_DEFAULT "sorted"                /* policy.second_tier when absent */
#define TIER2_RESERVE_DEFAULT 1024            /* policy.reserve_pages when absent */
#define TIER2_PARAMS_BYTES 64                 /* room for a policy's own parameters */

/* A donor the master core found eligible: another Active, connected node
 * that has sent Statistics (so its state is implied). */
struct tier2_donor {
    uint32_t id;
    uint64_t free_pages;                      /* its last Statistics' free pages less
                                                 what is spoken for (forwarded, not yet
                                                 shown: master_core.h, fwd_recent) */
    const uint32_t *location;                 /* its path in the hardware tree, root
                                                 first (the configuration's: borrowed) */
    unsigned location_len;                    /* 0..VMCA_LOCATION_MAX; 0: not given */
};

struct tier2_fwd {
    uint32_t donor;
    uint64_t pages;
};

/* One Grant-Any as a policy sees it. The donors are the core's scratch
 * space: a policy may reorder them. */
struct tier2_request {
    uint32_t requester;
    uint64_t pages;                           /* 1..2^36 */
    uint64_t reserve;                         /* policy.reserve_pages: R */
    struct tier2_donor *donors;
    size_t n_donors;
    const uint32_t *location;                 /* the requester's path, as the donors' */
    unsigned location_len;
};

struct tier2_policy {
    const char *name;                         /* the policy.second_tier value */
    /* Settings of the policy group it reads besides second_tier and
     * reserve_pages (NULL-terminated), or NULL. */
    const char *const *settings;
    /* Reads and checks them into params (TIER2_PARAMS_BYTES, zeroed;
     * defaults where absent). Returns 0 or <0 (error written). NULL: none. */
    int (*parse)(const struct policy_settings *s, void *params);
    /* Bytes of state the master core keeps for it, zeroed at start. */
    size_t state_bytes;
    /* The choice: at most cap forwards written to out, pages summing to at
     * most rq->pages (no guarantee of being served), none taking a donor
     * below rq->reserve (the core clamps any that would, and drops any to
     * a node that is not among rq->donors). Deterministic: a function of
     * its arguments only. Returns the number written. */
    size_t (*decide)(const struct tier2_request *rq, const void *params, void *state,
                     struct tier2_fwd *out, size_t cap);
};

/* The built policy named `name`, or NULL. */
const struct tier2_policy *tier2_find(const char *name);

/* The built names, ", "-separated ("sorted, topology, two-choices"), into
 * out (truncated). */
void tier2_names(char *out, size_t outsz);

/* The i-th built policy (registry order), or NULL past the last: for
 * whoever must go through them all (tests, the list above). */
const struct tier2_policy *tier2_at(size_t i);

/* How the sorted policy gives, for every policy that orders donors and
 * gives the same way: the whole request from the first donor in the order
 * of `donors` that stays at or above `reserve` after giving it; failing
 * that, each donor in turn gives what it has above the reserve until the
 * request is covered. At most cap forwards to out; returns how many. */
size_t tier2_give_in_order(const struct tier2_donor *donors, size_t n, uint64_t pages,
                           uint64_t reserve, struct tier2_fwd *out, size_t cap);

/* How far apart two nodes are in the hardware tree (topology.c): the
 * longer path's length less the prefix the two paths share. With paths
 * (rack, board, node): same board 1, same rack 2, nothing shared 3; two
 * paths not given, 0. */
unsigned tier2_distance(const uint32_t *a, unsigned alen, const uint32_t *b, unsigned blen);

/* Every setting a second tier reads (second_tier, reserve_pages, then the
 * policies' own), for the policy group's unknown-setting check: up to cap
 * written to out; returns how many there are. */
size_t tier2_setting_names(const char **out, size_t cap);

/* The second-tier part of the policy group: policy.second_tier (default
 * TIER2_DEFAULT; a name that is not built is refused with the built names),
 * policy.reserve_pages (0..2^36, default TIER2_RESERVE_DEFAULT) and the
 * chosen policy's own settings into params (TIER2_PARAMS_BYTES). Returns 0
 * or <0 (error written by s). */
int tier2_configure(const struct policy_settings *s, char *name, size_t namesz,
                    uint64_t *reserve, void *params);

#endif
