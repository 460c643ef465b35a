/* First-tier policy greedy-local (POLICIES.md): each VM uses the node's
 * own pages as it goes; it never asks the master for more. */
#include "first_tier_policy.h"

static const char *const settings[] = {NULL};

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
    (void)state;
    (void)in;
    out->ask = 0;
}

const struct ft_policy ft_greedy_local = {
    .name = "greedy-local", .settings = settings, .parse = parse, .decide = decide,
};
