/* flexmemd's credit scheme (SoCC 2017), adapted to tmem pages, for the
 * auction and round-robin policies: a VM starts with credits in proportion
 * to its guaranteed minimum, pays rent for the pages it uses above that
 * minimum, and what it pays goes back to every VM in proportion to their
 * minimums, as does `percent` % of every balance each second (so hoarded
 * credits drift back toward the minimums). A credit is one page held for
 * one millisecond above the minimum. */
#ifndef VMCA_CREDITS_H
#define VMCA_CREDITS_H

#include <stdint.h>

#include "first_tier_policy.h"
#include "vm_slots.h"

/* A new VM's credits: its minimum's rent for this many seconds. At the
 * default 5 % a second the redistribution alone then pays, at the
 * equilibrium, for as many pages above its minimum as its minimum
 * (20 s x 5 % = 1 page per page of minimum). */
#define CREDIT_SECONDS 20u

struct credits {
    struct vm_slots vms;        /* value: the VM's balance, in page-milliseconds */
    uint64_t basis[FLEX_MAX_VMS], room[FLEX_MAX_VMS], back[FLEX_MAX_VMS]; /* scratch */
};

/* flexmem_credit_percent, 0..100, default 5. 0 or -1. */
int credits_parse(const struct policy_settings *in, struct ft_params *p);

/* The settings of a policy that uses credits (NULL-terminated). */
extern const char *const credits_settings[];

/* The milliseconds of one period (in->period_ms; 1000 when unknown, 0). */
uint32_t credits_period_ms(const struct ft_input *in);

/* One period of the scheme, before the policy decides: c is realigned
 * with in->vms (in->n_vms <= FLEX_MAX_VMS); a new VM gets its minimum x
 * CREDIT_SECONDS of credits, a gone VM's balance is shared out; each VM
 * pays the rent of the pages it used above its minimum over the period
 * (as far as its balance goes); then `percent` % a second of every
 * balance is taken, compounded over the period, and all that was paid,
 * taken or left by gone VMs goes back in proportion to the minimums
 * (a minimum of 0 counting as 1). Credits are neither made nor lost but
 * by new VMs. */
void credits_period(struct credits *c, const struct ft_input *in, uint32_t percent);

/* Lowers each room[i] (in->vms order, after credits_period) to the pages
 * VM i can pay a whole period's rent for. */
void credits_limit(const struct credits *c, const struct ft_input *in, uint64_t *room);

#endif
