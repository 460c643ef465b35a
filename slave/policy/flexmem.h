/* The frame the flexmemd policies (SoCC 2017; docs/policies.md) share: a
 * period's per-VM needs (guaranteed floor, cap, demand), the targets being
 * built on them, and how they are finished (spare pages as headroom, the
 * shortfall asked of the master). Each policy keeps a struct flex_work in
 * its state as scratch: nothing is allocated. */
#ifndef VMCA_FLEXMEM_H
#define VMCA_FLEXMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "first_tier_policy.h"
#include "vm_slots.h"

struct flex_need {
    uint64_t floor;             /* min(min_pages, max_pages) */
    uint64_t base;              /* floor, scaled down when the floors pass the pages owned */
    uint64_t cap;               /* max_pages */
    uint64_t demand;            /* used + failed puts of the period, within floor..cap */
    uint32_t weight;
};

struct flex_work {
    size_t n;
    struct flex_need need[FLEX_MAX_VMS];
    uint64_t t[FLEX_MAX_VMS];           /* the targets being built */
    uint64_t w[FLEX_MAX_VMS], room[FLEX_MAX_VMS]; /* for share.h */
    size_t order[FLEX_MAX_VMS];
};

/* What a VM asks for this period: the pages it holds and the puts it was
 * refused (each a page it would have held). */
uint64_t flex_demand(const struct tkm_vm *v);

/* Fills w from in and starts every target at its base. Returns the pages
 * owned above the bases. With more than FLEX_MAX_VMS VMs it gives each
 * its floor (fitted into the pages owned), asks nothing, and returns
 * false: the policy has nothing more to do. */
bool flex_begin(struct flex_work *w, const struct ft_input *in, struct ft_output *out,
                uint64_t *left);

/* Adds up to `left` pages to the targets in proportion to the weights,
 * none above its cap (water-filling). Returns the pages added. */
uint64_t flex_by_weight(struct flex_work *w, uint64_t left);

/* room[i] = what VM i's demand lies above its target (0 if none). */
void flex_room_to_demand(struct flex_work *w);

/* The pages owned the targets leave. */
uint64_t flex_left(const struct flex_work *w, const struct ft_input *in);

/* Writes out->targets, after giving the pages owned the targets leave as
 * headroom by weight when `headroom`. With `asks`: out->wanted (when not
 * NULL) is each target raised to the VM's demand, and out->ask what those
 * pass the pages owned by (else 0). */
void flex_finish(struct flex_work *w, const struct ft_input *in, struct ft_output *out,
                 bool asks, bool headroom);

/* For the policies without settings of their own. */
int flex_parse_none(const struct policy_settings *in, struct ft_params *p);
extern const char *const flex_no_settings[];

#endif
