/* First-tier policy greedy-local (POLICIES.md): each VM uses the node's
 * own pages as it goes; it never asks the master for more. On a node with
 * per-VM settings it sets targets (greedy_targets.h) to honour them. */
#include "first_tier_policy.h"
#include "greedy_targets.h"
#include "vm_targets.h"

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    (void)state;
    out->ask = 0;
    if (ft_input_has_vm_settings(in))
        greedy_targets(in, in->owned, out->targets);
}

const struct ft_policy ft_greedy_local = {
    .name = "greedy-local", .targets_with_vm_settings = true, .settings = ft_no_settings,
    .parse = ft_parse_none, .decide = decide,
};
