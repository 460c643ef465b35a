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

uint64_t targets_share(struct vm_target *t, size_t n, uint64_t pages, share_rule_fn rule,
                       const void *arg)
{
    uint64_t left = pages;
    while (left) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            struct share_rule r = rule(arg, i);
            if (r.weight && t[i].pages < r.cap)
                total += r.weight;
        }
        if (!total)
            break;
        /* A VM whose room is within its share of this round ends at its
         * cap (it would there in the end too: the others' level only
         * rises as capped VMs drop out); the rest is shared again. */
        uint64_t given = 0;
        for (size_t i = 0; i < n; i++) {
            struct share_rule r = rule(arg, i);
            if (!r.weight || t[i].pages >= r.cap)
                continue;
            uint64_t room = r.cap - t[i].pages;
            if (room <= vm_mul_div(left, r.weight, total)) {
                t[i].pages = r.cap;
                given += room;
            }
        }
        if (given) {
            left -= given;
            continue;
        }
        /* Nobody reaches its cap: each takes its share, the pages the
         * floors leave go one each (every VM has room for one more). */
        for (size_t i = 0; i < n; i++) {
            struct share_rule r = rule(arg, i);
            if (!r.weight || t[i].pages >= r.cap)
                continue;
            uint64_t share = vm_mul_div(left, r.weight, total);
            t[i].pages += share;
            given += share;
        }
        left -= given;
        for (size_t i = 0; i < n && left; i++) {
            struct share_rule r = rule(arg, i);
            if (r.weight && t[i].pages < r.cap) {
                t[i].pages++;
                left--;
            }
        }
        break;
    }
    return left;
}

struct share_rule share_by_settings(const void *arg, size_t i)
{
    const struct ft_input *in = arg;
    struct ft_vm_settings v = ft_vm_settings_of(in, in->vms[i].vm);
    return (struct share_rule){v.weight, v.max_pages};
}

bool ft_input_has_vm_settings(const struct ft_input *in)
{
    return in->vm_settings && in->n_vm_settings;
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

void targets_pass_on(struct vm_target *t, size_t n, const struct ft_input *in)
{
    uint64_t freed = 0, open = 0;
    for (size_t i = 0; i < n; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, t[i].vm);
        if (t[i].pages > v.max_pages)
            freed += t[i].pages - v.max_pages;
        else if (i < in->n_vms && ft_vm_short(&in->vms[i]) && t[i].pages < v.max_pages)
            open += t[i].pages;
    }
    for (size_t i = 0; freed && open && i < n; i++) {
        struct ft_vm_settings v = ft_vm_settings_of(in, t[i].vm);
        if (i >= in->n_vms || !ft_vm_short(&in->vms[i]) || t[i].pages >= v.max_pages)
            continue;
        uint64_t more = vm_mul_div(freed, t[i].pages, open), room = v.max_pages - t[i].pages;
        t[i].pages += more < room ? more : room;
    }
}
