/* Per-VM target arithmetic; see vm_targets.h. */
#include "vm_targets.h"

#include "first_tier_policy.h"

uint64_t vm_mul_div(uint64_t a, uint64_t b, uint64_t c)
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
        t[i].pages = vm_mul_div(t[i].pages, limit, sum); /* floors: the sum stays <= limit */
}

uint64_t vm_floor(const struct ft_vm_settings *v)
{
    return v->min_pages < v->max_pages ? v->min_pages : v->max_pages;
}

const struct vm_target *targets_find(const struct vm_target *t, size_t n, uint32_t vm)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].vm == vm)
            return &t[i];
    return NULL;
}

void targets_bound(struct vm_target *t, size_t n, const struct ft_input *in, uint64_t limit)
{
    uint64_t floors = 0, above = 0;
    for (size_t i = 0; i < n; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, t[i].vm);
        uint64_t floor = vm_floor(&v);
        if (t[i].pages > v.max_pages)
            t[i].pages = v.max_pages;
        if (t[i].pages < floor)
            t[i].pages = floor;
        floors += floor;
        above += t[i].pages - floor;
    }
    if (floors + above <= limit)
        return;
    uint64_t room = floors < limit ? limit - floors : 0;
    for (size_t i = 0; i < n; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, t[i].vm);
        uint64_t floor = vm_floor(&v);
        uint64_t extra = t[i].pages - floor;
        /* floors first; what is left over is shared in proportion */
        t[i].pages = room ? floor + vm_mul_div(extra, room, above)
                          : floors ? vm_mul_div(floor, limit, floors) : 0;
    }
}
