/* First-tier policy demand-share (vMCA's own, docs/policies.md): each VM's
 * demand for tmem pages is estimated from one period's figures, with no
 * step size to tune, and when the pages owned do not cover every demand
 * each VM gets the same share of its demand (by weight); the shortfall is
 * asked of the master.
 *
 * The estimate, per VM: one that failed no put wants what it uses plus
 * what it grew by in the period, so it can go on at that pace. One that
 * failed f puts wants what it uses, plus every put failed since its
 * pressure began (the pages it sent to disk, at most), plus its growth:
 * f, doubled each period it failed again although it had been given its
 * whole demand (the pace it would put at without failing is unknown, so
 * it is found by doubling, as a congestion window is). When some puts
 * succeeded, the estimate is capped at u * p / s (u pages held, p puts,
 * s of them succeeded): the pages it evicts and reads back cycle through
 * tmem, so the share of its puts that succeed is the share of its
 * overflow that tmem holds. */
#ifndef VMCA_DEMAND_SHARE_H
#define VMCA_DEMAND_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tkm_types.h"

#define DS_MAX_VMS 1024u        /* VMs with a history (the hypervisor's HVX_MAX_CLIENTS) */

struct ds_vm {
    uint32_t vm;
    uint64_t used;              /* at the last period */
    uint64_t failed_run;        /* puts failed since its pressure began, 0 none */
    uint64_t grow;              /* the growth it was allowed, while failing */
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

/* Targets for demands d[] (one per VM, weights w[]) within `owned` pages:
 * each demand met, and what is left split by weight; or, when the demands
 * pass `owned`, each VM the same share of its demand (by weight). */
void ds_share(const uint64_t *d, const uint32_t *w, size_t n, uint64_t owned, uint64_t *t);

#endif
