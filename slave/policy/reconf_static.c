/* First-tier policy reconf-static (SmarTmem Algorithm 3): static, but the
 * split is among the VMs that have ever failed a put, the only ones that
 * showed they need tmem. A VM that never failed keeps what it uses (its
 * target is its use, so its next put past it fails and it joins the split:
 * that failed put is how a VM announces demand under Algorithm 3); the
 * failed ones share, by weight, the pages owned those uses leave. A VM the
 * hypervisor no longer reports is forgotten. */
#include <string.h>

#include "first_tier_policy.h"
#include "vm_targets.h"

/* VMs remembered as having failed; one failing beyond these counts as
 * failed in the periods its puts fail only (a node has far fewer VMs). */
#define RECONF_FAILED_MAX 4096

struct reconf_state {
    uint32_t n;
    uint32_t vm[RECONF_FAILED_MAX];
};

static bool remembered(const struct reconf_state *st, uint32_t vm)
{
    for (uint32_t i = 0; i < st->n; i++)
        if (st->vm[i] == vm)
            return true;
    return false;
}

static bool present(const struct ft_input *in, uint32_t vm)
{
    for (size_t i = 0; i < in->n_vms; i++)
        if (in->vms[i].vm == vm)
            return true;
    return false;
}

struct reconf_share {
    const struct ft_input *in;
    const struct reconf_state *st;
};

static bool has_failed(const struct reconf_share *r, size_t i)
{
    return ft_vm_short(&r->in->vms[i]) || remembered(r->st, r->in->vms[i].vm);
}

static struct share_rule rule(const void *arg, size_t i)
{
    const struct reconf_share *r = arg;
    struct share_rule s = share_by_settings(r->in, i);
    if (!has_failed(r, i))
        s.weight = 0;
    return s;
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)p;
    struct reconf_state *st = state;
    uint32_t k = 0;
    for (uint32_t i = 0; i < st->n; i++) /* the gone are forgotten */
        if (present(in, st->vm[i]))
            st->vm[k++] = st->vm[i];
    st->n = k;
    for (size_t i = 0; i < in->n_vms; i++)
        if (ft_vm_short(&in->vms[i]) && !remembered(st, in->vms[i].vm) &&
            st->n < RECONF_FAILED_MAX)
            st->vm[st->n++] = in->vms[i].vm;
    struct reconf_share r = {in, st};
    uint64_t kept = 0;
    for (size_t i = 0; i < in->n_vms; i++) {
        uint64_t t = has_failed(&r, i) ? 0 : in->vms[i].used;
        out->targets[i] = (struct vm_target){in->vms[i].vm, t, false};
        kept += t;
    }
    if (kept < in->owned)
        targets_share(out->targets, in->n_vms, in->owned - kept, rule, &r);
    targets_fit(out->targets, in->n_vms, in->owned);
    out->ask = 0;
}

const struct ft_policy ft_reconf_static = {
    .name = "reconf-static", .sets_targets = true, .settings = ft_no_settings,
    .parse = ft_parse_none, .state_size = sizeof(struct reconf_state), .decide = decide,
};
