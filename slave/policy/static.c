/* First-tier policy static (SmarTmem Algorithm 2): the pages owned split
 * among the VMs in proportion to their weights (equally by default),
 * whatever they use; a VM's share above its max_pages goes to the others. */
#include "first_tier_policy.h"
#include "vm_targets.h"

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    (void)state;
    for (size_t i = 0; i < in->n_vms; i++)
        out->targets[i] = (struct vm_target){in->vms[i].vm, 0, false};
    targets_share(out->targets, in->n_vms, in->owned, share_by_settings, in);
    out->ask = 0;
}

const struct ft_policy ft_static = {
    .name = "static", .sets_targets = true, .settings = ft_no_settings, .parse = ft_parse_none,
    .decide = decide,
};
