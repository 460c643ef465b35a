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

/* Where a VM's target starts this period: its own, the hypervisor's (a
 * restarted slave's, or another manager's), or its use (new, or its target
 * was only a stopgap). */
static uint64_t start_of(const struct vm_target *was, const struct tkm_vm *v)
{
    if (!starts_anew(was, v))
        return was ? was->pages : v->target;
    return v->used;
}

void tlp_wanted(const struct vm_target *prev, size_t n_prev, const struct tkm_vm *vms,
                size_t n_vms, const struct tlp_params *p, uint64_t owned,
                struct vm_target *out)
{
    uint64_t step = p->node_pages * p->percent / 100;
    if (!step)
        step = 1;
    /* The owned pages the targets of the VMs without failed puts leave are
     * shared by those under pressure, each keeping more if it has it:
     * from their targets alone, P % steps would be the only way up, and a
     * VM under pressure on a large node would take up to 1/P periods to
     * use its own node's free pages, let alone ask for remote ones. */
    uint64_t claimed = 0;
    size_t pressed = 0;
    for (size_t i = 0; i < n_vms; i++) {
        if (ft_vm_short(&vms[i]))
            pressed++;
        else
            claimed += start_of(targets_find(prev, n_prev, vms[i].vm), &vms[i]);
    }
    uint64_t share = pressed && claimed < owned ? (owned - claimed) / pressed : 0;
    for (size_t i = 0; i < n_vms; i++) {
        const struct tkm_vm *v = &vms[i];
        uint64_t t = start_of(targets_find(prev, n_prev, v->vm), v);
        if (ft_vm_short(v)) {
            t = (t > share ? t : share) + step;
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
