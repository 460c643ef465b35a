/* First-tier policy proportional (flexmemd, SoCC 2017; docs/policies.md):
 * a static split. Each VM gets its guaranteed minimum, and the pages owned
 * above the minimums are shared in proportion to the VMs' weights, none
 * above its max_pages. It looks at no demand, so it never asks the master
 * for pages: a node's VMs live on what the node owns. */
#include "flexmem.h"

struct proportional_state {
    struct flex_work w;
};

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct proportional_state *s = state;
    uint64_t left;
    if (!flex_begin(&s->w, in, out, &left))
        return;
    flex_by_weight(&s->w, left);
    flex_finish(&s->w, in, out, false, false);
}

const struct ft_policy ft_proportional = {
    .name = "proportional", .sets_targets = true, .settings = flex_no_settings,
    .parse = flex_parse_none, .state_size = sizeof(struct proportional_state),
    .decide = decide,
};
