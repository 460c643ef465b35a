/* First-tier policy demand-share; see demand_share.h. No settings: the
 * estimate takes the place of tlp's step P. */
#include "demand_share.h"

#include <stdlib.h>
#include <string.h>

#include "first_tier_policy.h"
#include "vm_targets.h"

__extension__ typedef unsigned __int128 ds_u128;

static const struct ds_vm *history_of(const struct ds_state *st, uint32_t vm)
{
    for (uint32_t i = 0; i < st->n; i++)
        if (st->vm[i].vm == vm)
            return &st->vm[i];
    return NULL;
}

struct ds_vm ds_step(const struct tkm_vm *v, const struct ds_vm *was)
{
    uint64_t f = tkm_vm_short_puts(v), u = v->used;
    uint64_t grew = was && u > was->used ? u - was->used : 0;
    struct ds_vm r = {v->vm, u, 0, u + grew};
    /* Under pressure: it failed puts, or it did before, still puts and is
     * within one pace of its target (a period without a failed put by
     * chance does not end it: its pages would go and come back). A period
     * with no put at all does: an idle VM would keep its pace in its
     * estimate and could be met ahead of its node's VMs that put. (That it
     * made its node ask the master, seed 70059, the core's idle rule in
     * slave_first_tier now stops for every policy.) */
    bool near = was && was->grow && v->puts_total && v->target != VM_TARGET_UNLIMITED &&
                u + was->grow >= v->target;
    if (!f && !near)
        return r;
    /* Its pace: what it added, and what it tried to add and could not;
     * doubled while, given its whole estimate, it still fails. */
    bool got = !was || v->target == VM_TARGET_UNLIMITED || v->target >= was->demand;
    uint64_t grow = was ? (got && f ? 2 * was->grow : was->grow) : 0;
    r.grow = grow > grew + f ? grow : grew + f;
    r.demand = u + r.grow;
    if (v->puts_succ) {
        uint64_t cycle = vm_mul_div(u, v->puts_total, v->puts_succ);
        if (cycle > r.demand)
            r.demand = cycle;
    }
    return r;
}

uint64_t ds_hold(const struct tkm_vm *v, uint64_t demand)
{
    uint64_t h = v->used;
    if (!tkm_vm_short_puts(v) || v->target == VM_TARGET_UNLIMITED || v->target <= h)
        return h;
    uint64_t up_to = demand > h ? demand : h;
    return v->target < up_to ? v->target : up_to;
}

/* For the order of filling: VM indices by deficit / weight, ascending. */
struct ds_key {
    uint64_t deficit;
    uint32_t w;
    uint32_t i;
};

static int by_deficit(const void *a, const void *b)
{
    const struct ds_key *x = a, *y = b;
    ds_u128 l = (ds_u128)x->deficit * y->w, r = (ds_u128)y->deficit * x->w;
    return l < r ? -1 : l > r ? 1 : (x->i > y->i) - (x->i < y->i);
}

void ds_share(const uint64_t *d, const uint64_t *h, const uint32_t *w, size_t n,
              uint64_t owned, uint64_t *t)
{
    /* Every VM keeps what it holds (taking pages a VM uses only makes its
     * puts fail until its reads give them up). */
    uint64_t left = owned, wsum = 0;
    struct ds_key k[DS_MAX_VMS];
    for (size_t i = 0; i < n; i++) {
        t[i] = h[i] < left ? h[i] : left;
        left -= t[i];
        wsum += w[i];
        k[i] = (struct ds_key){d[i] > t[i] ? d[i] - t[i] : 0, w[i], (uint32_t)i};
    }
    /* The free pages meet the smallest shortfalls first: a VM whose demand
     * is met stops failing puts and runs at memory speed (and a finished
     * one gives all its pages back), where pages spread thinly leave every
     * VM short, failing and slow. */
    qsort(k, n, sizeof k[0], by_deficit);
    size_t met = 0;
    while (met < n && k[met].deficit <= left) {
        t[k[met].i] += k[met].deficit;
        left -= k[met].deficit;
        met++;
    }
    /* The shortfalls that cannot be met whole share what is left by
     * weight: given to one, it would not end that one's failures either. */
    uint64_t wshort = 0, share_of = left;
    for (size_t i = met; i < n; i++)
        wshort += k[i].w;
    for (size_t i = met; i < n && wshort; i++) {
        uint64_t give = vm_mul_div(share_of, k[i].w, wshort);
        give = give < k[i].deficit ? give : k[i].deficit;
        t[k[i].i] += give;
        left -= give;
    }
    /* What no demand claims is spread by weight: a VM that starts to grow
     * faster finds room before its first failed put. */
    uint64_t spread = left;
    for (size_t i = 0; i < n && wsum; i++)
        t[i] += vm_mul_div(spread, w[i], wsum);
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct ds_state *st = state;
    struct ds_vm next[DS_MAX_VMS];
    uint64_t d[DS_MAX_VMS], t[DS_MAX_VMS], sum = 0;
    uint32_t w[DS_MAX_VMS];
    uint64_t hold[DS_MAX_VMS];
    size_t n = in->n_vms < DS_MAX_VMS ? in->n_vms : DS_MAX_VMS;
    out->ask = 0;
    if (!n) {
        st->n = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        next[i] = ds_step(&in->vms[i], history_of(st, in->vms[i].vm));
        d[i] = next[i].demand;
        hold[i] = ds_hold(&in->vms[i], d[i]);
        w[i] = ft_vm_settings_of(in, in->vms[i].vm).weight;
        sum += d[i];
    }
    ds_share(d, hold, w, n, in->owned, t);
    for (size_t i = 0; i < in->n_vms; i++) {
        uint64_t ti = i < n ? t[i] : 0; /* past the hypervisor's VMs: none */
        out->targets[i] = (struct vm_target){in->vms[i].vm, ti, false};
        if (out->wanted)
            out->wanted[i] = (struct vm_target){in->vms[i].vm, i < n ? d[i] : 0, false};
    }
    memcpy(st->vm, next, n * sizeof next[0]); /* VMs gone are forgotten */
    st->n = (uint32_t)n;
    out->ask = sum > in->owned ? sum - in->owned : 0;
    out->why = "demand above the pages owned";
}

const struct ft_policy ft_demand_share = {
    .name = "demand-share", .sets_targets = true, .settings = ft_no_settings,
    .parse = ft_parse_none,
    .state_size = sizeof(struct ds_state), .decide = decide,
};
