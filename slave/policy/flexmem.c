/* The flexmemd policies' shared frame; see flexmem.h. */
#include "flexmem.h"

#include "share.h"
#include "vm_targets.h"

const char *const flex_no_settings[] = {NULL};

int flex_parse_none(const struct policy_settings *in, struct ft_params *p)
{
    (void)in;
    (void)p;
    return 0;
}

uint64_t flex_demand(const struct tkm_vm *v)
{
    uint64_t failed = tkm_vm_short_puts(v);
    return v->used > UINT64_MAX - failed ? UINT64_MAX : v->used + failed;
}

bool flex_begin(struct flex_work *w, const struct ft_input *in, struct ft_output *out,
                uint64_t *left)
{
    bool fits = in->n_vms <= FLEX_MAX_VMS;
    size_t n = fits ? in->n_vms : 0;
    uint64_t floors = 0;
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, in->vms[i].vm);
        struct flex_need *d = &w->need[i];
        d->floor = vm_floor(&v);
        d->cap = v.max_pages;
        d->weight = v.weight;
        uint64_t demand = flex_demand(&in->vms[i]);
        d->demand = demand < d->floor ? d->floor : demand > d->cap ? d->cap : demand;
        floors += d->floor;
    }
    for (size_t i = 0; i < n; i++) {
        struct flex_need *d = &w->need[i];
        d->base = floors > in->owned ? vm_mul_div(d->floor, in->owned, floors) : d->floor;
        w->t[i] = d->base;
    }
    *left = floors < in->owned ? in->owned - floors : 0;
    if (fits)
        return true;
    /* Beyond the state's tables: the floors alone, fitted. */
    for (size_t i = 0; i < in->n_vms; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, in->vms[i].vm);
        out->targets[i] = (struct vm_target){in->vms[i].vm, vm_floor(&v), false};
    }
    targets_fit(out->targets, in->n_vms, in->owned);
    out->ask = 0;
    return false;
}

uint64_t flex_by_weight(struct flex_work *w, uint64_t left)
{
    for (size_t i = 0; i < w->n; i++) {
        w->w[i] = w->need[i].weight;
        w->room[i] = w->need[i].cap > w->t[i] ? w->need[i].cap - w->t[i] : 0;
    }
    return share_add(left, w->n, w->w, w->room, w->t, 0);
}

void flex_room_to_demand(struct flex_work *w)
{
    for (size_t i = 0; i < w->n; i++)
        w->room[i] = w->need[i].demand > w->t[i] ? w->need[i].demand - w->t[i] : 0;
}

uint64_t flex_left(const struct flex_work *w, const struct ft_input *in)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < w->n; i++)
        sum += w->t[i];
    return sum < in->owned ? in->owned - sum : 0;
}

void flex_finish(struct flex_work *w, const struct ft_input *in, struct ft_output *out,
                 bool asks, bool headroom)
{
    if (headroom)
        flex_by_weight(w, flex_left(w, in));
    uint64_t wanted = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t want = w->t[i] > w->need[i].demand ? w->t[i] : w->need[i].demand;
        out->targets[i] = (struct vm_target){in->vms[i].vm, w->t[i], false};
        if (asks && out->wanted)
            out->wanted[i] = (struct vm_target){in->vms[i].vm, want, false};
        wanted += want;
    }
    out->ask = asks && wanted > in->owned ? wanted - in->owned : 0;
    out->why = "demand above the pages owned";
}
