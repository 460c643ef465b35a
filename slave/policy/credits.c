/* The credit scheme; see credits.h. */
#include "credits.h"

#include "share.h"
#include "vm_targets.h"

#define PPM 1000000u

const char *const credits_settings[] = {"flexmem_credit_percent", NULL};

int credits_parse(const struct policy_settings *in, struct ft_params *p)
{
    long long percent = 5;
    if (in->get_int(in->ctx, "flexmem_credit_percent", 0, 100, &percent) < 0)
        return -1;
    p->flexmem.credit_percent = (uint32_t)percent;
    return 0;
}

uint32_t credits_period_ms(const struct ft_input *in)
{
    return in->period_ms ? in->period_ms : 1000;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Parts per million of a balance kept after `percent` % a second is taken
 * for ms milliseconds: compounded per whole second, in proportion for the
 * part of a second left. */
static uint64_t kept_ppm(uint32_t percent, uint32_t ms)
{
    uint64_t keep = PPM;
    for (uint32_t s = 0; s < ms / 1000 && keep; s++)
        keep = keep * (100 - percent) / 100;
    return keep - keep * percent * (ms % 1000) / 100000;
}

void credits_period(struct credits *c, const struct ft_input *in, uint32_t percent)
{
    uint64_t back = vm_slots_sync(&c->vms, in->vms, in->n_vms);
    uint32_t ms = credits_period_ms(in);
    uint64_t keep = kept_ppm(percent, ms);
    for (size_t i = 0; i < c->vms.n; i++) {
        struct vm_slot *s = &c->vms.slot[i];
        struct ft_vm_settings v = ft_vm_settings_of(in, s->vm);
        c->basis[i] = v.min_pages ? v.min_pages : 1;
        c->room[i] = UINT64_MAX;
        c->back[i] = 0;
        if (s->fresh)
            s->value = add_sat(s->value, c->basis[i] * CREDIT_SECONDS * 1000u);
        uint64_t floor = vm_floor(&v);
        uint64_t above = in->vms[i].used > floor ? in->vms[i].used - floor : 0;
        uint64_t rent = above * ms;
        uint64_t paid = rent < s->value ? rent : s->value;
        s->value -= paid;
        uint64_t taken = s->value - vm_mul_div(s->value, keep, PPM);
        s->value -= taken;
        back = add_sat(back, add_sat(paid, taken));
    }
    share_add(back, c->vms.n, c->basis, c->room, c->back, 0);
    for (size_t i = 0; i < c->vms.n; i++)
        c->vms.slot[i].value = add_sat(c->vms.slot[i].value, c->back[i]);
}

void credits_limit(const struct credits *c, const struct ft_input *in, uint64_t *room)
{
    for (size_t i = 0; i < c->vms.n; i++) {
        uint64_t affordable = c->vms.slot[i].value / credits_period_ms(in);
        if (room[i] > affordable)
            room[i] = affordable;
    }
}
