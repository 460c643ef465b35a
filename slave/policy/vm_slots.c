/* Per-VM values across periods; see vm_slots.h. */
#include "vm_slots.h"

#include <assert.h>
#include <string.h>

uint64_t vm_slots_sync(struct vm_slots *s, const struct tkm_vm *vms, size_t n_vms)
{
    assert(n_vms <= FLEX_MAX_VMS);
    size_t n_was = s->n;
    memcpy(s->was, s->slot, n_was * sizeof *s->was);
    for (size_t j = 0; j < n_was; j++)
        s->was[j].fresh = true; /* here: not claimed yet */
    for (size_t i = 0; i < n_vms; i++) {
        s->slot[i] = (struct vm_slot){vms[i].vm, true, 0};
        for (size_t j = 0; j < n_was; j++) {
            if (s->was[j].fresh && s->was[j].vm == vms[i].vm) {
                s->slot[i].fresh = false;
                s->slot[i].value = s->was[j].value;
                s->was[j].fresh = false;
                break;
            }
        }
    }
    s->n = n_vms;
    uint64_t gone = 0;
    for (size_t j = 0; j < n_was; j++)
        if (s->was[j].fresh)
            gone = s->was[j].value > UINT64_MAX - gone ? UINT64_MAX : gone + s->was[j].value;
    return gone;
}
