/* First-tier policy greedy-remote (POLICIES.md): when a VM's puts failed
 * in the last period, ask the master for a batch of pages (grant_batch);
 * the slave core keeps one request outstanding at a time. On a node with
 * per-VM settings it sets targets (greedy_targets.h) to honour them, and
 * the ones it wants with the batch come (so the core raises them then). */
#include "first_tier_policy.h"
#include "greedy_targets.h"
#include "vm_targets.h"

static int parse(const struct policy_settings *in, struct ft_params *p)
{
    long long batch = 1000;
    if (in->get_int(in->ctx, "grant_batch", 1, POLICY_PAGES_MAX, &batch) < 0)
        return -1;
    p->greedy_remote.batch = (uint64_t)batch;
    return 0;
}

static void decide(const struct ft_params *p, void *state, const struct ft_input *in,
                   struct ft_output *out)
{
    (void)state;
    bool failed = false;
    for (size_t i = 0; i < in->n_vms; i++)
        failed |= ft_vm_short(&in->vms[i]);
    out->ask = failed ? p->greedy_remote.batch : 0;
    out->why = "puts failed";
    if (!ft_input_has_vm_settings(in))
        return;
    greedy_targets(in, in->owned, out->targets);
    if (out->wanted && out->ask)
        greedy_targets(in, in->owned + out->ask, out->wanted);
}

static const char *const settings[] = {"grant_batch", NULL};

const struct ft_policy ft_greedy_remote = {
    .name = "greedy-remote", .targets_with_vm_settings = true, .settings = settings,
    .parse = parse, .decide = decide,
};
