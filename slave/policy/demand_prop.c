/* First-tier policy demand-prop (flexmemd, SoCC 2017; docs/policies.md):
 * demand-driven with a fair floor. Each VM first gets the smaller of its
 * demand and its fair share (what proportional would give it), and never
 * less than its minimum; the pages owned that leaves go to the VMs whose
 * demand is not met, in proportion to what is unmet. Pages no VM demands
 * are headroom, by weight. The shortfall of demand is asked of the master. */
#include "flexmem.h"
#include "share.h"

struct demand_prop_state {
    struct flex_work w;
};

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct demand_prop_state *s = state;
    struct flex_work *w = &s->w;
    uint64_t left;
    if (!flex_begin(w, in, out, &left))
        return;
    flex_by_weight(w, left); /* the fair shares */
    for (size_t i = 0; i < w->n; i++) {
        uint64_t d = w->need[i].demand, fair = w->t[i];
        uint64_t served = d < fair ? d : fair;
        w->t[i] = served > w->need[i].base ? served : w->need[i].base;
    }
    flex_room_to_demand(w);
    for (size_t i = 0; i < w->n; i++)
        w->w[i] = w->room[i]; /* in proportion to the unmet demand */
    share_add(flex_left(w, in), w->n, w->w, w->room, w->t, 0);
    flex_finish(w, in, out, true, true);
}

const struct ft_policy ft_demand_prop = {
    .name = "demand-prop", .sets_targets = true, .settings = flex_no_settings,
    .parse = flex_parse_none, .state_size = sizeof(struct demand_prop_state),
    .decide = decide,
};
