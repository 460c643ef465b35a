/* Arithmetic on per-VM targets shared by the policies and the slave core:
 * their sum, the proportional fit under a limit (thesis Eq. 6.2), lookup. */
#ifndef VMCA_VM_TARGETS_H
#define VMCA_VM_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

/* Scales targets in place so that they sum to at most `limit`, each in
 * proportion (Eq. 6.2); does nothing when they already fit. */
void targets_fit(struct vm_target *t, size_t n, uint64_t limit);

uint64_t targets_sum(const struct vm_target *t, size_t n);

/* VM vm's entry in t, or NULL. */
const struct vm_target *targets_find(const struct vm_target *t, size_t n, uint32_t vm);

/* How VM i takes part in a share: its weight (0: takes nothing) and the
 * most its target may reach. */
struct share_rule {
    uint64_t weight;
    uint64_t cap;
};
typedef struct share_rule (*share_rule_fn)(const void *arg, size_t i);

/* Adds `pages` to the targets t (n VMs) in proportion to each VM's weight,
 * none above its cap: what a capped VM cannot take goes to the others in
 * proportion (water-filling). rule(arg, i) gives VM i's weight and cap.
 * Returns the pages left over (every VM with a weight at its cap). */
uint64_t targets_share(struct vm_target *t, size_t n, uint64_t pages, share_rule_fn rule,
                       const void *arg);

struct ft_input;
struct ft_vm_settings;

/* a * b / c, exact (products of page counts can pass 2^64); c > 0. */
uint64_t vm_mul_div(uint64_t a, uint64_t b, uint64_t c);

/* The pages a VM's settings guarantee it: min(min_pages, max_pages). */
uint64_t vm_floor(const struct ft_vm_settings *v);

/* share_rule_fn over a struct ft_input (t in its vms order): each VM's
 * configured weight and max_pages. */
struct share_rule share_by_settings(const void *in, size_t i);

/* Whether node's configuration gives any VM a setting (nodes.[i].vms). */
bool ft_input_has_vm_settings(const struct ft_input *in);

/* The per-VM settings (first_tier_policy.h, struct ft_vm_settings) applied
 * to a policy's targets t (one per VM of in, in in->vms order), so that
 * every policy honours them the same way: each target is capped at its
 * max_pages and raised to its floor, min(min_pages, max_pages); then, when
 * the targets sum above `limit`, what lies above the floors shrinks in
 * proportion (Eq. 6.2 on the excess), and the floors themselves only when
 * they alone pass the limit. The slave core calls it after every policy. */
void targets_bound(struct vm_target *t, size_t n, const struct ft_input *in, uint64_t limit);

/* What the caps would take from targets t (a policy's wanted ones, one
 * per VM of in->vms in that order, before targets_bound) goes to the VMs
 * below their caps whose puts failed, in proportion to their targets, up
 * to their caps: a policy that shares pages among VMs under
 * pressure without knowing the caps gives a capped VM more than it may
 * take, and that room would be neither used nor asked for. */
void targets_pass_on(struct vm_target *t, size_t n, const struct ft_input *in);

#endif
