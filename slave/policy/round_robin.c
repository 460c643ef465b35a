/* First-tier policy round-robin (flexmemd, SoCC 2017; docs/policies.md),
 * with the credit scheme of credits.h. Every VM gets its minimum; the pages
 * owned above the minimums are handed out in turns, an equal part at a
 * time, to the VMs whose demand is not met, each as far as its credits (a
 * whole period's rent) go. Handing out pages in equal turns until a VM is
 * full is the water level of max-min fairness, so it is computed as one
 * (share_add): the pages the division leaves (fewer than the VMs) go one
 * each in turn from a VM that moves on by one every period. Pages no VM
 * could pay for then go round the same way to the demand still unmet, and
 * pages no VM demands are headroom, by weight. The shortfall is asked of
 * the master. */
#include "credits.h"
#include "flexmem.h"
#include "share.h"

struct round_robin_state {
    struct credits credits;
    struct flex_work w;
    uint64_t turn;              /* periods decided: where the turns start */
};

/* One round of equal turns of up to `left` pages into w->room. */
static void turns(struct flex_work *w, uint64_t left, size_t start)
{
    for (size_t i = 0; i < w->n; i++)
        w->w[i] = 1;
    share_add(left, w->n, w->w, w->room, w->t, start);
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    struct round_robin_state *s = state;
    struct flex_work *w = &s->w;
    uint64_t left;
    if (!flex_begin(w, in, out, &left))
        return;
    credits_period(&s->credits, in, p->flexmem.credit_percent);
    size_t start = w->n ? (size_t)(s->turn++ % w->n) : 0;
    flex_room_to_demand(w);
    credits_limit(&s->credits, in, w->room);
    turns(w, left, start);
    flex_room_to_demand(w);
    turns(w, flex_left(w, in), start);
    flex_finish(w, in, out, true, true);
}

const struct ft_policy ft_round_robin = {
    .name = "round-robin", .sets_targets = true, .settings = credits_settings,
    .parse = credits_parse, .state_size = sizeof(struct round_robin_state),
    .decide = decide,
};
