/* First-tier policy qmemman: QubesOS's memory balancer (qmemman) adapted
 * to tmem pages. A VM's preference is its demand (the pages it uses plus
 * the puts that failed in the period, so pressure shows) times
 * qmemman_ratio_percent, at least qmemman_min_pages, at most its
 * max_pages. When the preferences fit in the pages owned, each VM gets its
 * preference and the surplus is shared in proportion to preference (times
 * weight). When they do not, donors (VMs whose target is above their
 * preference) are squeezed to it, the others keep what they have, and
 * what is left is shared among these in proportion to preference (times
 * weight), none above its preference; the master is asked for the
 * shortfall of the preferences, and `wanted` holds them so the targets
 * rise as soon as pages come. Unlike Qubes it rebalances every period: a
 * target is a number sent to the hypervisor, not memory a guest must
 * balloon out, so small changes cost nothing. */
#include "first_tier_policy.h"
#include "vm_targets.h"

static const char *const settings[] = {"qmemman_ratio_percent", "qmemman_min_pages", NULL};

static int parse(const struct policy_settings *in, struct ft_params *p)
{
    long long ratio = 130, min = 256;
    if (in->get_int(in->ctx, "qmemman_ratio_percent", 100, 1000, &ratio) < 0 ||
        in->get_int(in->ctx, "qmemman_min_pages", 0, POLICY_PAGES_MAX, &min) < 0)
        return -1;
    p->qmemman.ratio_percent = (uint32_t)ratio;
    p->qmemman.min_pages = (uint64_t)min;
    return 0;
}

/* VM i's preference. */
static uint64_t preference(const struct ft_params *p, const struct ft_input *in, size_t i)
{
    const struct tkm_vm *v = &in->vms[i];
    uint64_t failed = tkm_vm_short_puts(v);
    uint64_t demand = v->used + failed;
    if (demand > POLICY_PAGES_MAX)
        demand = POLICY_PAGES_MAX; /* keeps the products below 2^64 */
    uint64_t pref = demand * p->qmemman.ratio_percent / 100;
    if (pref < p->qmemman.min_pages)
        pref = p->qmemman.min_pages;
    uint64_t cap = ft_vm_settings_of(in, v->vm).max_pages;
    return pref < cap ? pref : cap;
}

struct balance {
    const struct ft_params *p;
    const struct ft_input *in;
    bool to_pref;               /* cap at the preference, not max_pages */
};

/* Shares go in proportion to preference times weight. */
static struct share_rule rule(const void *arg, size_t i)
{
    const struct balance *b = arg;
    struct share_rule r = share_by_settings(b->in, i);
    uint64_t pref = preference(b->p, b->in, i);
    r.weight *= pref;
    if (b->to_pref)
        r.cap = pref;
    return r;
}

/* What VM i has now: its target in force, else (new, or a stopgap) its use. */
static uint64_t current(const struct ft_input *in, size_t i)
{
    const struct vm_target *t = targets_find(in->targets, in->n_targets, in->vms[i].vm);
    return t && !t->provisional ? t->pages : in->vms[i].used;
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)state;
    uint64_t total = 0;
    for (size_t i = 0; i < in->n_vms; i++) {
        uint64_t pref = preference(p, in, i);
        out->targets[i] = (struct vm_target){in->vms[i].vm, pref, false};
        total += pref;
    }
    if (out->wanted) /* the preferences: what the core raises toward when pages come */
        for (size_t i = 0; i < in->n_vms; i++)
            out->wanted[i] = out->targets[i];
    out->ask = total > in->owned ? total - in->owned : 0;
    out->why = "preferences above the pages owned";
    struct balance b = {p, in, false};
    if (total <= in->owned) {
        targets_share(out->targets, in->n_vms, in->owned - total, rule, &b);
        return;
    }
    /* Donors down to their preference, the others keep what they have;
     * what that leaves goes to the latter, up to their preferences. */
    uint64_t kept = 0;
    for (size_t i = 0; i < in->n_vms; i++) {
        uint64_t now = current(in, i);
        if (now < out->targets[i].pages)
            out->targets[i].pages = now;
        kept += out->targets[i].pages;
    }
    b.to_pref = true;
    if (kept < in->owned)
        targets_share(out->targets, in->n_vms, in->owned - kept, rule, &b);
    targets_fit(out->targets, in->n_vms, in->owned);
}

const struct ft_policy ft_qmemman = {
    .name = "qmemman", .sets_targets = true, .settings = settings, .parse = parse,
    .decide = decide,
};
