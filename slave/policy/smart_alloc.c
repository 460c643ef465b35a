/* First-tier policy smart-alloc (SmarTmem Algorithm 4): tlp's rule
 * (tlp_wanted, with tlp's settings tlp_percent and tlp_threshold) within
 * the node's own pages: the targets are fitted into the pages owned
 * (Eq. 6.2) and the master is never asked. */
#include "first_tier_policy.h"
#include "tlp.h"
#include "vm_targets.h"

/* tlp's settings, which tlp parses (so parse reads nothing). */
static const char *const settings[] = {"tlp_percent", "tlp_threshold", NULL};

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)state;
    struct tlp_params tp = {p->tlp.percent, p->tlp.threshold, in->node_pages};
    tlp_wanted(in->targets, in->n_targets, in->vms, in->n_vms, &tp, in->owned, out->targets);
    targets_fit(out->targets, in->n_vms, in->owned);
    out->ask = 0;
}

const struct ft_policy ft_smart_alloc = {
    .name = "smart-alloc", .sets_targets = true, .settings = settings, .parse = ft_parse_none,
    .decide = decide,
};
