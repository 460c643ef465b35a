/* One value per VM that a policy keeps across periods (credits, an
 * arrival number), realigned each period with the VMs of the sample so
 * that slot i is vms[i]'s: a VM that came gets a fresh slot, the slots of
 * those that went are dropped (their values summed for the caller). Fixed
 * size: it lives in a policy's state. */
#ifndef VMCA_VM_SLOTS_H
#define VMCA_VM_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

/* The most VMs the policies keep state for: above what a sample of the
 * emulated hypervisor carries (HVX_MAX_CLIENTS, 256, hv-ext/hvx.h, which
 * this leaf library cannot include). */
#define FLEX_MAX_VMS 1024u

struct vm_slot {
    uint32_t vm;
    bool fresh;                 /* the VM is new this period (value 0) */
    uint64_t value;
};

struct vm_slots {
    size_t n;
    struct vm_slot slot[FLEX_MAX_VMS];
    struct vm_slot was[FLEX_MAX_VMS];  /* the last period's, while realigning */
};

/* Realigns s with vms[0..n_vms-1] (n_vms <= FLEX_MAX_VMS): slot[i] is
 * vms[i]'s, with its value when it had a slot, else fresh. Returns the
 * sum of the values of the VMs no longer in vms (saturating). */
uint64_t vm_slots_sync(struct vm_slots *s, const struct tkm_vm *vms, size_t n_vms);

#endif
