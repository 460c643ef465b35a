/* The cost of one first-tier decision beside the statistics period it
 * runs once in: every policy the registry has (so later ones are measured
 * too), on a node with 1, 16 and 256 VMs, a quarter of them failing puts
 * and an eighth with per-VM settings. The baseline, measured in the same
 * run, is copying the sample once (what the core does with every sample);
 * the target is a decision below 0.1 % of the default period. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "first_tier_policy.h"
#include "bench_clock.h"

#define REPEATS 5
#define TARGET_PERCENT 0.1
#define NODE_PAGES 262144u /* 1 GiB of 4 KiB pages, the thesis's tmem per node */

static void die(const char *what)
{
    fprintf(stderr, "bench_policy_cost: %s\n", what);
    exit(1);
}

static int no_setting(void *ctx, const char *name, long long lo, long long hi, long long *v)
{
    (void)ctx, (void)name, (void)lo, (void)hi, (void)v;
    return 0;
}

struct sample {
    struct tkm_vm *vms;
    struct vm_target *targets, *out, *wanted;
    struct ft_vm_settings *settings;
    size_t n, n_settings;
    struct ft_input in;
};

/* n VMs sharing the node's pages unevenly, their targets in force a
 * little above their use; every 4th failing puts, every 8th configured. */
static void make_sample(struct sample *s, size_t n)
{
    s->n = n;
    s->vms = calloc(n, sizeof *s->vms);
    s->targets = calloc(n, sizeof *s->targets);
    s->out = calloc(n, sizeof *s->out);
    s->wanted = calloc(n, sizeof *s->wanted);
    s->settings = calloc(n, sizeof *s->settings);
    if (!s->vms || !s->targets || !s->out || !s->wanted || !s->settings)
        die("out of memory");
    uint64_t each = NODE_PAGES / n;
    s->n_settings = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t used = each / 2 + (each / 2) * (i % 5) / 5;
        bool failing = i % 4 == 0;
        s->vms[i] = (struct tkm_vm){(uint32_t)(i + 1), used, used + each / 8, 1000,
                                    failing ? 700 : 1000, 200, 10, 0};
        s->targets[i] = (struct vm_target){(uint32_t)(i + 1), used + each / 8, false};
        if (i % 8 == 0)
            s->settings[s->n_settings++] =
                (struct ft_vm_settings){(uint32_t)(i + 1), each / 4, each * 2, 2};
    }
    s->in = (struct ft_input){s->vms, n, s->targets, n, NODE_PAGES, NODE_PAGES, s->settings,
                              s->n_settings, VMCA_STATS_INTERVAL_MS_DEFAULT};
}

static void free_sample(struct sample *s)
{
    free(s->vms);
    free(s->targets);
    free(s->out);
    free(s->wanted);
    free(s->settings);
}

/* Iterations that take about 20 ms for a call of cost ns. */
static long iterations(double ns)
{
    long it = (long)(2e7 / (ns > 1 ? ns : 1));
    return it < 10 ? 10 : it;
}

/* ns of one decide(), best of REPEATS. */
static double time_decide(const struct ft_policy *p, const struct ft_params *prm, void *state,
                          struct sample *s)
{
    struct ft_output out = {s->out, s->wanted, 0, NULL};
    double t0 = bench_now_ns();
    p->decide(prm, state, &s->in, &out);
    long it = iterations(bench_now_ns() - t0);
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        t0 = bench_now_ns();
        for (long i = 0; i < it; i++) {
            p->decide(prm, state, &s->in, &out);
            __asm__ volatile("" : : "r"(s->out) : "memory");
        }
        double t = (bench_now_ns() - t0) / (double)it;
        best = t < best ? t : best;
    }
    return best;
}

/* ns to copy the sample once (its per-VM figures and targets). */
static double time_copy(struct sample *s)
{
    struct tkm_vm *vms = malloc(s->n * sizeof *vms);
    struct vm_target *t = malloc(s->n * sizeof *t);
    if (!vms || !t)
        die("out of memory");
    long it = iterations(10.0 * (double)s->n);
    double best = 1e300;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < it; i++) {
            memcpy(vms, s->vms, s->n * sizeof *vms);
            memcpy(t, s->targets, s->n * sizeof *t);
            __asm__ volatile("" : : "r"(vms), "r"(t) : "memory");
        }
        double d = (bench_now_ns() - t0) / (double)it;
        best = d < best ? d : best;
    }
    free(vms);
    free(t);
    return best;
}

int main(void)
{
    struct policy_settings none = {NULL, no_setting, NULL, NULL};
    struct ft_params prm;
    if (ft_params_parse(&none, &prm) != 0)
        die("default settings refused");
    static const size_t sizes[] = {1, 16, 256};
    double period_ns = VMCA_STATS_INTERVAL_MS_DEFAULT * 1e6;
    printf("one decide() per statistics period (%u ms); baseline: copying the sample once\n",
           (unsigned)VMCA_STATS_INTERVAL_MS_DEFAULT);
    printf("%-14s %5s %12s %12s %12s %9s\n", "policy", "VMs", "decide ns", "% of period",
           "copy ns", "ratio");
    int over = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct sample s;
        make_sample(&s, sizes[k]);
        double copy = time_copy(&s);
        for (const struct ft_policy *const *p = ft_policies(); *p; p++) {
            void *state = calloc(1, (*p)->state_size ? (*p)->state_size : 1);
            if (!state)
                die("out of memory");
            double ns = time_decide(*p, &prm, state, &s);
            double pct = 100.0 * ns / period_ns;
            over |= pct >= TARGET_PERCENT;
            printf("%-14s %5zu %12.0f %12.5f %12.1f %9.1f\n", (*p)->name, sizes[k], ns, pct,
                   copy, ns / copy);
            free(state);
        }
        free_sample(&s);
    }
    printf("target: below %.1f %% of the period: %s\n", TARGET_PERCENT,
           over ? "MISSED by at least one policy" : "met by every policy");
    return 0;
}
