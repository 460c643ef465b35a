/* First-tier policy: tlp (thesis Algorithm 8) and the Eq. 6.2 scaling. */
#include "first_tier.h"

/* a * b / c, exact (products of page counts can pass 2^64). */
static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)((u128)a * b / c);
}

uint64_t targets_sum(const struct vm_target *t, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += t[i].pages;
    return sum;
}

void targets_fit(struct vm_target *t, size_t n, uint64_t limit)
{
    uint64_t sum = targets_sum(t, n);
    if (sum <= limit)
        return;
    for (size_t i = 0; i < n; i++)
        t[i].pages = mul_div(t[i].pages, limit, sum); /* floors: the sum stays <= limit */
}

const struct vm_target *targets_find(const struct vm_target *t, size_t n, uint32_t vm)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].vm == vm)
            return &t[i];
    return NULL;
}

void tlp_targets(const struct vm_target *prev, size_t n_prev, const struct vm_period *vms,
                 size_t n_vms, const struct tlp_params *p, uint64_t owned,
                 struct vm_target *out, uint64_t *ask)
{
    uint64_t step = p->node_pages * p->percent / 100;
    if (!step)
        step = 1;
    for (size_t i = 0; i < n_vms; i++) {
        const struct vm_period *v = &vms[i];
        const struct vm_target *was = targets_find(prev, n_prev, v->vm);
        uint64_t t;
        if (was && !was->provisional)
            t = was->pages;
        else if (!was && v->hv_target != VM_TARGET_UNLIMITED)
            t = v->hv_target; /* a restarted slave's, or another manager's */
        else
            t = v->used;      /* new, or its target was only a stopgap */
        if (v->puts_total > v->puts_succ) {
            t += step;
        } else if (t > v->used && t - v->used > p->threshold) {
            uint64_t give = t * p->percent / 100;
            t -= give ? give : 1;
        }
        out[i] = (struct vm_target){v->vm, t, false};
    }
    uint64_t sum = targets_sum(out, n_vms);
    *ask = sum > owned ? sum - owned : 0;
    targets_fit(out, n_vms, owned);
}
