/* First-tier policy fcfs (flexmemd, SoCC 2017; docs/policies.md): first
 * come, first served. Every VM gets its minimum; the pages owned above the
 * minimums serve the demand of the VMs asking for more (demand above the
 * minimum) in the order their requests came, each in full before the next.
 * A request lasts while the demand stays above the minimum: a VM whose
 * demand falls back to it leaves the queue, and comes back at its end.
 * Requests that come in the same period queue in the sample's VM order.
 * Pages no VM demands are headroom, by weight; the shortfall is asked of
 * the master. */
#include "flexmem.h"
#include "share.h"

struct fcfs_state {
    struct vm_slots arrival;    /* value: the request's number, 0 none */
    uint64_t next;              /* the last number given */
    struct flex_work w;
};

static uint64_t place(const struct vm_slots *a, size_t i)
{
    return a->slot[i].value ? a->slot[i].value : UINT64_MAX;
}

static bool earlier(const void *ctx, size_t i, size_t j)
{
    return place(ctx, i) < place(ctx, j);
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct fcfs_state *s = state;
    struct flex_work *w = &s->w;
    uint64_t left;
    if (!flex_begin(w, in, out, &left))
        return;
    vm_slots_sync(&s->arrival, in->vms, w->n);
    for (size_t i = 0; i < w->n; i++) {
        uint64_t *number = &s->arrival.slot[i].value;
        if (w->need[i].demand <= w->need[i].floor)
            *number = 0;
        else if (!*number)
            *number = ++s->next;
    }
    share_sort(w->order, w->n, earlier, &s->arrival);
    flex_room_to_demand(w);
    share_in_order(left, w->n, w->order, w->room, w->t);
    flex_finish(w, in, out, true, true);
}

const struct ft_policy ft_fcfs = {
    .name = "fcfs", .sets_targets = true, .settings = flex_no_settings,
    .parse = flex_parse_none, .state_size = sizeof(struct fcfs_state), .decide = decide,
};
