/* The targets the greedy policies set on a node whose configuration gives
 * per-VM settings (docs/policies.md, "Per-VM settings"): without targets
 * they could not hold a VM to its max_pages or keep another's min_pages. */
#ifndef VMCA_GREEDY_TARGETS_H
#define VMCA_GREEDY_TARGETS_H

#include <stdint.h>

#include "first_tier_policy.h"

/* One target per VM of in (in its vms order) into out: each VM keeps what
 * it uses (up to its max_pages), and the pages of `limit` no VM uses go,
 * by weight and up to each cap, to the VMs whose puts failed in the period
 * (those a greedy hypervisor would have given them to), or to every VM
 * when none failed (or those that did are at their caps). They sum to at most limit when the uses fit in it. */
void greedy_targets(const struct ft_input *in, uint64_t limit, struct vm_target *out);

#endif
