/* First-tier policies (POLICIES.md) behind one interface, and the registry
 * that maps a `policy.first_tier` name to one. A policy is a pure function of
 * one period's statistics, the pages the node owns and its own state; it
 * parses and validates its own settings of the `policy` group. */
#ifndef VMCA_FIRST_TIER_POLICY_H
#define VMCA_FIRST_TIER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy_settings.h"
#include "tkm_types.h"

/* Every built policy's settings (each parsed by its policy, whichever is
 * chosen, so a file may carry settings of several). A policy with settings
 * adds its member here. */
struct ft_params {
    struct {
        uint32_t percent;       /* tlp_percent: P of thesis Algorithm 8, 1..100 */
        uint64_t threshold;     /* tlp_threshold: pages */
    } tlp;
    struct {
        uint64_t batch;         /* grant_batch: pages asked for at a time */
    } greedy_remote;
    struct {
        uint32_t credit_percent; /* flexmem_credit_percent: of every balance, a second, 0..100 */
    } flexmem;
    struct {
        uint32_t ratio_percent; /* qmemman_ratio_percent: preference = demand x this / 100 */
        uint64_t min_pages;     /* qmemman_min_pages: the least preference */
    } qmemman;
};


/* A VM's own settings (configuration: nodes.[i].vms, by VM id), honoured
 * by every policy (the slave core's targets_bound, vm_targets.h): a target
 * is never above max_pages, and never below min(min_pages, max_pages) (a
 * reservation, used or not) while the pages owned cover the minimums;
 * weight is each VM's part where a policy splits pages. A VM with no entry
 * has the defaults (FT_VM_DEFAULTS). */
struct ft_vm_settings {
    uint32_t vm;
    uint64_t min_pages;         /* guaranteed minimum, default 0 */
    uint64_t max_pages;         /* cap, default VM_TARGET_UNLIMITED */
    uint32_t weight;            /* 1..FT_WEIGHT_MAX, default 1 */
};
#define FT_WEIGHT_MAX 1000
#define FT_VM_DEFAULTS(id) ((struct ft_vm_settings){(id), 0, VM_TARGET_UNLIMITED, 1})

/* VM vm's settings in in (the defaults when it has no entry). */
struct ft_input;
struct ft_vm_settings ft_vm_settings_of(const struct ft_input *in, uint32_t vm);

/* One period as a policy sees it. */
struct ft_input {
    const struct tkm_vm *vms;          /* this period's per-VM figures */
    size_t n_vms;
    const struct vm_target *targets;   /* the targets in force (any order) */
    size_t n_targets;
    uint64_t owned;                    /* what the targets may sum to */
    uint64_t node_pages;               /* the node's own tmem pages */
    const struct ft_vm_settings *vm_settings; /* per-VM settings (any order), or NULL */
    size_t n_vm_settings;
    uint32_t period_ms;                /* the statistics period (timing.stats_interval_ms) */
};

struct ft_output {
    struct vm_target *targets;  /* caller's room for n_vms; one per VM, in vms order,
                                   written by a policy that sets targets */
    /* Caller's room for n_vms, or NULL: the targets before they were fitted
     * into the pages owned (what `ask` is for), written by a policy that
     * asks for its targets' shortfall. When the pages come, the core raises
     * the targets toward these (no period is lost refilling them). */
    struct vm_target *wanted;
    uint64_t ask;               /* pages to ask the master for (Grant-Any), 0 none */
    const char *why;            /* logged with the Grant-Any */
};

struct ft_policy {
    const char *name;
    bool sets_targets;                 /* per-VM targets (Mem-Limit) */
    /* Sets them too, but only on a node whose configuration gives per-VM
     * settings (the greedy policies: with none, their VMs stay unlimited). */
    bool targets_with_vm_settings;
    const char *const *settings;       /* NULL-terminated names it reads */
    /* Writes its defaults into p, then reads its settings. 0 or -1. */
    int (*parse)(const struct policy_settings *in, struct ft_params *p);
    size_t state_size;                 /* its own state: zeroed at start, kept */
    void (*decide)(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out);
};

/* Whether p sets per-VM targets on a node whose configuration gives
 * n_vm_settings per-VM settings (what the slave core asks, once). */
bool ft_policy_sets_targets(const struct ft_policy *p, size_t n_vm_settings);

/* For a policy with no settings of its own: an empty list, and a parse
 * that reads nothing. */
extern const char *const ft_no_settings[];
int ft_parse_none(const struct policy_settings *in, struct ft_params *p);

/* Whether VM v's puts found no room in the period (tkm_vm_short_puts:
 * failed, or evicted an ephemeral page to succeed). */
static inline bool ft_vm_short(const struct tkm_vm *v)
{
    return tkm_vm_short_puts(v) > 0;
}

/* The policy built under `name`, or NULL. */
const struct ft_policy *ft_policy_find(const char *name);
/* Every built policy, NULL-terminated, in registry order. */
const struct ft_policy *const *ft_policies(void);
/* "greedy-local, greedy-remote, tlp" into out (truncated to fit). */
void ft_policy_names(char *out, size_t outsz);
/* Whether `name` is a setting of some built policy. */
bool ft_setting_known(const char *name);
/* Defaults and settings of every built policy. 0 or -1 (error written). */
int ft_params_parse(const struct policy_settings *in, struct ft_params *p);

#endif
