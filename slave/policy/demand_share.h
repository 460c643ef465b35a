/* First-tier policy demand-share (vMCA's own, docs/policies.md): each VM's
 * demand for tmem pages is estimated from one period's figures, with no
 * step size to tune; the pages owned meet the smallest shortfalls first and
 * the rest is shared; what the demands need beyond them is asked of the
 * master at once.
 *
 * The estimate, per VM: one not under pressure wants what it uses plus
 * what it grew by in the period, so it can go on at that pace. One under
 * pressure (it failed puts, or did and is still within one pace of its
 * target) wants what it uses plus its pace: what it added and what it
 * failed to add, doubled each period it fails again although it had been
 * given its whole estimate (the pace it would put at without failing is
 * not visible, as a failed put costs a disk write: doubling finds it in a
 * few periods, as a congestion window does); and at least u * p / s (u
 * pages held, p puts, s of them succeeded): the pages it evicts and reads
 * back cycle through tmem, so the share of its puts that succeed is the
 * share of its overflow that tmem holds. */
#ifndef VMCA_DEMAND_SHARE_H
#define VMCA_DEMAND_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

#define DS_MAX_VMS 1024u        /* VMs with a history (FLEX_MAX_VMS: above HVX_MAX_CLIENTS) */

struct ds_vm {
    uint32_t vm;
    uint64_t used;              /* at the last period */
    uint64_t grow;              /* its pace while under pressure, 0 when not */
    uint64_t demand;            /* its estimate */
};

/* The policy's state: the last period's figures of each VM. */
struct ds_state {
    uint32_t n;
    struct ds_vm vm[DS_MAX_VMS];
};

/* One VM's record this period (its demand in .demand) from its figures
 * (v->target: the target it had) and its last record (NULL: none). */
struct ds_vm ds_step(const struct tkm_vm *v, const struct ds_vm *was);

/* The pages VM v (its figures, its estimate `demand`) holds on to this
 * period: what it uses; and, when its puts found no room (failed, or
 * evicted: tkm_vm_short_puts), the target it had too, up to its
 * estimate. A VM under pressure that read back more than it put
 * in a period uses less than its target by chance; were the gap handed on,
 * it would fail puts to win back pages it needs (the pages would go, one
 * period at a time, to VMs that merely asked first). */
uint64_t ds_hold(const struct tkm_vm *v, uint64_t demand);

/* Targets for demands d[] (one per VM, holding h[] (ds_hold), weights
 * w[]) within `owned` pages: each keeps what it holds; the free pages meet
 * whole the smallest shortfalls (by weight) first, as many as they can;
 * the shortfalls they cannot meet whole share what is left by weight; and
 * what then remains is spread over every VM by weight. */
void ds_share(const uint64_t *d, const uint64_t *h, const uint32_t *w, size_t n,
              uint64_t owned, uint64_t *t);

#endif
