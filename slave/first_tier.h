/* First-tier policy (POLICIES.md): per-VM targets from one period's
 * hypervisor statistics. Pure functions: the slave core keeps the targets
 * between periods, sends them to its hypervisor (Mem-Limit) and asks the
 * master for what the targets need beyond the pages the node owns
 * (thesis Eq. 6.1/6.2). */
#ifndef VMCA_FIRST_TIER_H
#define VMCA_FIRST_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

/* One VM's figures for the period that just ended. */
struct vm_period {
    uint32_t vm;
    uint64_t used;              /* tmem pages it holds */
    uint64_t hv_target;         /* target the hypervisor applies now */
    uint64_t puts_total, puts_succ;
};

struct tlp_params {
    unsigned percent;           /* P: 1..100 */
    uint64_t threshold;         /* pages of slack before a target shrinks */
    uint64_t node_pages;        /* the node's own tmem pages (P % of these) */
};

/* tlp (thesis Algorithm 8). prev: the targets of the last period (any
 * order); vms: this period, one entry per VM now present. Writes one target
 * per VM into out (same order as vms): a VM whose puts failed gets P % of
 * the node's pages more; one with more than `threshold` unused pages of
 * target gives P % of its target back; a VM seen for the first time starts
 * at the hypervisor's target if one is set, else at its use, and one whose
 * target in prev is provisional starts at its use. Then, when the
 * targets sum above `owned`, *ask is the difference and the targets are
 * scaled to fit (Eq. 6.2); else *ask is 0. */
void tlp_targets(const struct vm_target *prev, size_t n_prev, const struct vm_period *vms,
                 size_t n_vms, const struct tlp_params *p, uint64_t owned,
                 struct vm_target *out, uint64_t *ask);

/* Scales targets in place so that they sum to at most `limit`, each in
 * proportion (Eq. 6.2); does nothing when they already fit. */
void targets_fit(struct vm_target *t, size_t n, uint64_t limit);

uint64_t targets_sum(const struct vm_target *t, size_t n);

/* VM vm's entry in t, or NULL. */
const struct vm_target *targets_find(const struct vm_target *t, size_t n, uint32_t vm);

#endif
