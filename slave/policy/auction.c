/* First-tier policy auction (flexmemd, SoCC 2017; docs/policies.md), with
 * the credit scheme of credits.h. Every VM gets its minimum; the pages
 * owned above the minimums are auctioned among the VMs whose demand passes
 * their minimum. A VM bids per page what its credits spread over the pages
 * it wants (balance / unmet demand); the highest bid is served first, as
 * far as its demand and its credits (a whole period's rent) go, then the
 * next. Pages no bidder could pay for then go, in the same order, to the
 * demand still unmet (the auction wastes no page), and pages no VM demands
 * are headroom, by weight. Rent is paid on the pages used above the
 * minimum, at the flat price of credits.h. The shortfall is asked of the
 * master. */
#include "credits.h"
#include "flexmem.h"
#include "share.h"

struct auction_state {
    struct credits credits;
    struct flex_work w;
    uint64_t want[FLEX_MAX_VMS];        /* unmet demand above the minimum */
};

/* Whether VM i bids more per page than VM j: balance_i / want_i >
 * balance_j / want_j, exactly. A VM that wants nothing bids last. */
static bool bids_more(const void *ctx, size_t i, size_t j)
{
    __extension__ typedef unsigned __int128 u128;
    const struct auction_state *s = ctx;
    if (!s->want[i] || !s->want[j])
        return s->want[i] && !s->want[j];
    return (u128)s->credits.vms.slot[i].value * s->want[j] >
           (u128)s->credits.vms.slot[j].value * s->want[i];
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    struct auction_state *s = state;
    struct flex_work *w = &s->w;
    uint64_t left;
    if (!flex_begin(w, in, out, &left))
        return;
    credits_period(&s->credits, in, p->flexmem.credit_percent);
    flex_room_to_demand(w);
    for (size_t i = 0; i < w->n; i++)
        s->want[i] = w->room[i];
    share_sort(w->order, w->n, bids_more, s);
    credits_limit(&s->credits, in, w->room);
    share_in_order(left, w->n, w->order, w->room, w->t);
    flex_room_to_demand(w);
    share_in_order(flex_left(w, in), w->n, w->order, w->room, w->t);
    flex_finish(w, in, out, true, true);
}

const struct ft_policy ft_auction = {
    .name = "auction", .sets_targets = true, .settings = credits_settings,
    .parse = credits_parse, .state_size = sizeof(struct auction_state), .decide = decide,
};
