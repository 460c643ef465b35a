/* First-tier policy demand-share; see demand_share.h. No settings: the
 * estimate takes the place of tlp's step P. */
#include "demand_share.h"

#include <string.h>

#include "first_tier_policy.h"

__extension__ typedef unsigned __int128 ds_u128;

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    return c ? (uint64_t)((ds_u128)a * b / c) : 0;
}

static const struct ds_vm *history_of(const struct ds_state *st, uint32_t vm)
{
    for (uint32_t i = 0; i < st->n; i++)
        if (st->vm[i].vm == vm)
            return &st->vm[i];
    return NULL;
}

static uint64_t failed_of(const struct tkm_vm *v)
{
    return v->puts_total > v->puts_succ ? v->puts_total - v->puts_succ : 0;
}

struct ds_vm ds_step(const struct tkm_vm *v, const struct ds_vm *was)
{
    uint64_t f = failed_of(v), u = v->used;
    struct ds_vm r = {v->vm, u, 0, 0, u};
    if (!f) {
        r.demand += was && u > was->used ? u - was->used : 0;
        return r;
    }
    /* Given its whole demand and still failing: the pace is higher. */
    bool got = !was || v->target == VM_TARGET_UNLIMITED || v->target >= was->demand;
    uint64_t grow = was ? (got ? 2 * was->grow : was->grow) : 0;
    r.grow = grow > f ? grow : f;
    r.failed_run = (was ? was->failed_run : 0) + f;
    r.demand = u + r.failed_run + r.grow;
    if (v->puts_succ) {
        uint64_t cycle = mul_div(u, v->puts_total, v->puts_succ);
        if (cycle < r.demand)
            r.demand = cycle;
    }
    if (r.demand < u + f)
        r.demand = u + f;
    return r;
}

void ds_share(const uint64_t *d, const uint32_t *w, size_t n, uint64_t owned, uint64_t *t)
{
    uint64_t sum = 0, wsum = 0;
    ds_u128 wd = 0;
    for (size_t i = 0; i < n; i++) {
        sum += d[i];
        wsum += w[i];
        wd += (ds_u128)w[i] * d[i];
    }
    if (sum <= owned) {
        /* Pages no demand claims stay usable: a VM that starts growing
         * faster finds room before its first failed put. */
        uint64_t left = owned - sum;
        for (size_t i = 0; i < n; i++)
            t[i] = d[i] + mul_div(left, w[i], wsum);
        return;
    }
    /* The same share of every demand (Jain's index over the demand met
     * is 1 when the estimate is right): t_i = owned * w_i d_i / sum w d. */
    for (size_t i = 0; i < n; i++)
        t[i] = wd ? (uint64_t)((ds_u128)owned * w[i] * d[i] / wd) : 0;
}

static int parse(const struct policy_settings *in, struct ft_params *p)
{
    (void)in;
    (void)p;
    return 0;
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct ds_state *st = state;
    struct ds_vm next[DS_MAX_VMS];
    uint64_t d[DS_MAX_VMS], t[DS_MAX_VMS], sum = 0;
    uint32_t w[DS_MAX_VMS];
    size_t n = in->n_vms < DS_MAX_VMS ? in->n_vms : DS_MAX_VMS;
    out->ask = 0;
    if (!n) {
        st->n = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        next[i] = ds_step(&in->vms[i], history_of(st, in->vms[i].vm));
        d[i] = next[i].demand;
        w[i] = ft_vm_settings_of(in, in->vms[i].vm).weight;
        sum += d[i];
    }
    ds_share(d, w, n, in->owned, t);
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

static const char *const settings[] = {NULL};

const struct ft_policy ft_demand_share = {
    .name = "demand-share", .sets_targets = true, .settings = settings, .parse = parse,
    .state_size = sizeof(struct ds_state), .decide = decide,
};
