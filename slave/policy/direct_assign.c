/* First-tier policy direct-assign (flexmemd, SoCC 2017; docs/policies.md):
 * each VM's target is set directly to its demand (at least its minimum),
 * and nothing more: no headroom, so a VM's target follows what it uses and
 * asks for, period by period. When the demands above the minimums pass the
 * pages owned, the smallest requests are served whole first (the most VMs
 * get all they asked for; ties in the sample's order), the largest gets
 * what is left. The shortfall is asked of the master. */
#include "flexmem.h"
#include "share.h"

struct direct_assign_state {
    struct flex_work w;
};

static bool smaller(const void *ctx, size_t i, size_t j)
{
    const struct flex_work *w = ctx;
    return w->room[i] < w->room[j];
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct direct_assign_state *s = state;
    struct flex_work *w = &s->w;
    uint64_t left;
    if (!flex_begin(w, in, out, &left))
        return;
    flex_room_to_demand(w);
    share_sort(w->order, w->n, smaller, w);
    share_in_order(left, w->n, w->order, w->room, w->t);
    flex_finish(w, in, out, true, false);
}

const struct ft_policy ft_direct_assign = {
    .name = "direct-assign", .sets_targets = true, .settings = flex_no_settings,
    .parse = flex_parse_none, .state_size = sizeof(struct direct_assign_state),
    .decide = decide,
};
