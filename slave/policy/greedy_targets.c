/* Greedy policies' targets under per-VM settings; see greedy_targets.h. */
#include "greedy_targets.h"

#include "vm_targets.h"

struct greedy_share {
    const struct ft_input *in;
    bool failed_only;
};

static struct share_rule rule(const void *arg, size_t i)
{
    const struct greedy_share *g = arg;
    struct share_rule r = share_by_settings(g->in, i);
    if (g->failed_only && !ft_vm_short(&g->in->vms[i]))
        r.weight = 0;
    return r;
}

void greedy_targets(const struct ft_input *in, uint64_t limit, struct vm_target *out)
{
    struct greedy_share g = {in, false};
    uint64_t used = 0;
    for (size_t i = 0; i < in->n_vms; i++) {
        uint64_t cap = ft_vm_settings_of(in, in->vms[i].vm).max_pages;
        uint64_t keep = in->vms[i].used < cap ? in->vms[i].used : cap;
        out[i] = (struct vm_target){in->vms[i].vm, keep, false};
        used += keep;
        g.failed_only |= ft_vm_short(&in->vms[i]);
    }
    uint64_t left = used < limit ? targets_share(out, in->n_vms, limit - used, rule, &g) : 0;
    if (left && g.failed_only) { /* the failing VMs are at their caps: the others */
        g.failed_only = false;
        targets_share(out, in->n_vms, left, rule, &g);
    }
}
