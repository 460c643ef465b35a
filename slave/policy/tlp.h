/* First-tier policy tlp (thesis Algorithm 8): per-VM targets that grow
 * when puts fail and shrink when unused, fitted into the pages owned; the
 * shortfall is asked of the master (thesis Eq. 6.1/6.2). */
#ifndef VMCA_TLP_H
#define VMCA_TLP_H

#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

struct tlp_params {
    unsigned percent;           /* P: 1..100 */
    uint64_t threshold;         /* pages of slack before a target shrinks */
    uint64_t node_pages;        /* the node's own tmem pages (P % of these) */
};

/* prev: the targets of the last period (any order); vms: this period, one
 * entry per VM now present. Writes one target per VM into out (same order
 * as vms), before fitting. A VM's target starts at its target in prev; a
 * VM seen for the first time at the hypervisor's target if one is set,
 * else (and one whose target in prev is provisional) at its use. A VM
 * whose puts failed then takes, when it has less, an equal share (among
 * such VMs) of the `owned` pages the others' targets leave, and P % of the
 * node's pages more (Algorithm 8 grows by the step alone: a VM under
 * pressure would reach its node's free pages only after up to 1/P
 * periods); one with more than `threshold` unused pages of target gives
 * P % of its target back. */
void tlp_wanted(const struct vm_target *prev, size_t n_prev, const struct tkm_vm *vms,
                size_t n_vms, const struct tlp_params *p, uint64_t owned,
                struct vm_target *out);

/* tlp_wanted, then (thesis Eq. 6.1/6.2): when the targets sum above
 * `owned`, *ask is the difference and the targets are scaled to fit; else
 * *ask is 0. */
void tlp_targets(const struct vm_target *prev, size_t n_prev, const struct tkm_vm *vms,
                 size_t n_vms, const struct tlp_params *p, uint64_t owned,
                 struct vm_target *out, uint64_t *ask);

#endif
