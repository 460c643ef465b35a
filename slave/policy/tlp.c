/* First-tier policy tlp; see tlp.h. Its settings: tlp_percent and
 * tlp_threshold. */
#include "tlp.h"

#include <string.h>

#include "first_tier_policy.h"
#include "vm_targets.h"

/* A VM with no target of its own yet: new, or its target was a stopgap. */
static bool starts_anew(const struct vm_target *was, const struct tkm_vm *v)
{
    return was ? was->provisional : v->target == VM_TARGET_UNLIMITED;
}

void tlp_wanted(const struct vm_target *prev, size_t n_prev, const struct tkm_vm *vms,
                size_t n_vms, const struct tlp_params *p, uint64_t owned,
                struct vm_target *out)
{
    uint64_t step = p->node_pages * p->percent / 100;
    if (!step)
        step = 1;
    /* The pages the other VMs' targets (or, starting anew without
     * demand, their use) leave are shared by those starting anew whose
     * puts failed: from their use alone, P % steps would be the only way
     * up, and a large node would take 1/P periods to let a VM under
     * pressure use its own free pages, let alone ask for remote ones. */
    uint64_t claimed = 0;
    size_t fresh = 0;
    for (size_t i = 0; i < n_vms; i++) {
        const struct tkm_vm *v = &vms[i];
        const struct vm_target *was = targets_find(prev, n_prev, v->vm);
        if (!starts_anew(was, v))
            claimed += was ? was->pages : v->target;
        else if (v->puts_total > v->puts_succ)
            fresh++;
        else
            claimed += v->used;
    }
    uint64_t share = fresh && claimed < owned ? (owned - claimed) / fresh : 0;
    for (size_t i = 0; i < n_vms; i++) {
        const struct tkm_vm *v = &vms[i];
        const struct vm_target *was = targets_find(prev, n_prev, v->vm);
        uint64_t t;
        if (!starts_anew(was, v))
            t = was ? was->pages : v->target; /* a restarted slave's, or another manager's */
        else if (v->puts_total > v->puts_succ && v->used < share)
            t = share;     /* new (or a stopgap's) under pressure */
        else
            t = v->used;   /* new, or its target was only a stopgap */
        if (v->puts_total > v->puts_succ) {
            t += step;
        } else if (t > v->used && t - v->used > p->threshold) {
            uint64_t give = t * p->percent / 100;
            t -= give ? give : 1;
        }
        out[i] = (struct vm_target){v->vm, t, false};
    }
}

void tlp_targets(const struct vm_target *prev, size_t n_prev, const struct tkm_vm *vms,
                 size_t n_vms, const struct tlp_params *p, uint64_t owned,
                 struct vm_target *out, uint64_t *ask)
{
    tlp_wanted(prev, n_prev, vms, n_vms, p, owned, out);
    uint64_t sum = targets_sum(out, n_vms);
    *ask = sum > owned ? sum - owned : 0;
    targets_fit(out, n_vms, owned);
}

static int parse(const struct policy_settings *in, struct ft_params *p)
{
    long long percent = 2, threshold = 256;
    if (in->get_int(in->ctx, "tlp_percent", 1, 100, &percent) < 0 ||
        in->get_int(in->ctx, "tlp_threshold", 0, POLICY_PAGES_MAX, &threshold) < 0)
        return -1;
    p->tlp.percent = (uint32_t)percent;
    p->tlp.threshold = (uint64_t)threshold;
    return 0;
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)state;
    struct tlp_params tp = {p->tlp.percent, p->tlp.threshold, in->node_pages};
    struct vm_target *w = out->wanted ? out->wanted : out->targets;
    tlp_wanted(in->targets, in->n_targets, in->vms, in->n_vms, &tp, in->owned, w);
    uint64_t sum = targets_sum(w, in->n_vms);
    out->ask = sum > in->owned ? sum - in->owned : 0;
    if (w != out->targets)
        memcpy(out->targets, w, in->n_vms * sizeof *w);
    targets_fit(out->targets, in->n_vms, in->owned); /* Eq. 6.2 */
    out->why = "targets above the pages owned";
}

static const char *const settings[] = {"tlp_percent", "tlp_threshold", NULL};

const struct ft_policy ft_tlp = {
    .name = "tlp", .sets_targets = true, .settings = settings, .parse = parse,
    .decide = decide,
};
