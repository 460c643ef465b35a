/* Arithmetic on per-VM targets shared by the policies and the slave core:
 * their sum, the proportional fit under a limit (thesis Eq. 6.2), lookup. */
#ifndef VMCA_VM_TARGETS_H
#define VMCA_VM_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

/* Scales targets in place so that they sum to at most `limit`, each in
 * proportion (Eq. 6.2); does nothing when they already fit. */
void targets_fit(struct vm_target *t, size_t n, uint64_t limit);

uint64_t targets_sum(const struct vm_target *t, size_t n);

/* VM vm's entry in t, or NULL. */
const struct vm_target *targets_find(const struct vm_target *t, size_t n, uint32_t vm);

#endif
