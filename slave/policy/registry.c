/* The first-tier registry: every built policy by name. Adding one is its
 * file and one line in FIRST_TIERS. */
#include <stdio.h>
#include <string.h>

#include "first_tier_policy.h"
#include "names.h"

/* One line per policy: the thesis's, SmarTmem's, flexmemd's, qmemman, ours. */
#define FIRST_TIERS(X) \
    X(greedy_local) X(greedy_remote) X(tlp) \
    X(static) X(reconf_static) X(smart_alloc) \
    X(proportional) X(fcfs) X(demand_prop) X(direct_assign) X(auction) X(round_robin) \
    X(qmemman) \
    X(demand_share)

#define DECLARE(p) extern const struct ft_policy ft_##p;
#define ENTRY(p) &ft_##p,
FIRST_TIERS(DECLARE)
static const struct ft_policy *const registry[] = {FIRST_TIERS(ENTRY) NULL};

const struct ft_policy *const *ft_policies(void)
{
    return registry;
}

const struct ft_policy *ft_policy_find(const char *name)
{
    for (const struct ft_policy *const *p = registry; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return NULL;
}

void ft_policy_names(char *out, size_t outsz)
{
    size_t used = 0;
    if (outsz)
        out[0] = '\0';
    for (const struct ft_policy *const *p = registry; *p; p++)
        used = vmca_names_add(out, outsz, used, (*p)->name);
}

bool ft_setting_known(const char *name)
{
    for (const struct ft_policy *const *p = registry; *p; p++)
        for (const char *const *s = (*p)->settings; *s; s++)
            if (strcmp(*s, name) == 0)
                return true;
    return false;
}

int ft_params_parse(const struct policy_settings *in, struct ft_params *p)
{
    for (const struct ft_policy *const *q = registry; *q; q++)
        if ((*q)->parse(in, p) != 0)
            return -1;
    return 0;
}

struct ft_vm_settings ft_vm_settings_of(const struct ft_input *in, uint32_t vm)
{
    for (size_t i = 0; in->vm_settings && i < in->n_vm_settings; i++)
        if (in->vm_settings[i].vm == vm)
            return in->vm_settings[i];
    return FT_VM_DEFAULTS(vm);
}

bool ft_policy_sets_targets(const struct ft_policy *p, size_t n_vm_settings)
{
    return p->sets_targets || (p->targets_with_vm_settings && n_vm_settings);
}

const char *const ft_no_settings[] = {NULL};

int ft_parse_none(const struct policy_settings *in, struct ft_params *p)
{
    (void)in;
    (void)p;
    return 0;
}
