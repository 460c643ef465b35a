/* Slave core, the operator's per-VM caps (VmLimits from the master,
 * vmcactl mem-set): kept as a copy of the configured per-VM settings with
 * each cap on top as that VM's max_pages, which is what every policy sees
 * (targets_bound honours it). Soft state, like Mem-Limit: dropped when the
 * master connection goes, sent again by the master on reconnect. */
#include "slave_internal.h"

const struct ft_vm_settings *slave_vm_settings(const struct slave_core *s, size_t *n)
{
    if (!s->ft.vm_caps) {
        *n = s->self->n_vms;
        return s->self->vms;
    }
    *n = s->ft.n_settings;
    return s->ft.settings;
}

uint64_t slave_vm_max(const struct slave_core *s, uint32_t vm)
{
    size_t n;
    const struct ft_vm_settings *set = slave_vm_settings(s, &n);
    for (size_t i = 0; i < n; i++)
        if (set[i].vm == vm)
            return set[i].max_pages;
    return VM_TARGET_UNLIMITED;
}

void slave_drop_vm_caps(struct slave_core *s)
{
    s->ft.vm_caps = 0;
}

/* Targets (in force, and those the last period wanted) above their VM's
 * cap come down to it now; the next period's policy run keeps them there. */
static void apply_caps(struct slave_core *s)
{
    struct slave_first_tier *ft = &s->ft;
    bool lowered = false;
    for (size_t i = 0; i < ft->n_targets; i++) {
        uint64_t max = slave_vm_max(s, ft->targets[i].vm);
        if (ft->targets[i].pages > max) {
            ft->targets[i].pages = max;
            lowered = true;
        }
    }
    for (size_t i = 0; i < ft->n_wanted; i++) {
        uint64_t max = slave_vm_max(s, ft->wanted[i].vm);
        if (ft->wanted[i].pages > max)
            ft->wanted[i].pages = max;
    }
    if (lowered)
        slave_send_limits(s);
}

int slave_on_vm_limits(struct slave_core *s, const Vmca__VmLimits *vl)
{
    const int body = VMCA__ENVELOPE__BODY_VM_LIMITS;
    if (s->state != VMCA__NODE_STATE__NODE_ACTIVE) {
        slave_refused(s, s->master, body, SLAVE_REFUSE_STATE, "refused vm-limits: not active");
        return VMCA_ERR_STATE;
    }
    uint64_t total = vmca_config_total_pages(s->cfg);
    for (size_t i = 0; i < vl->n_caps; i++) {
        const Vmca__VmCap *c = vl->caps[i];
        bool twice = false;
        for (size_t j = 0; j < i && !twice; j++)
            twice = vl->caps[j]->vm == c->vm;
        if (c->pages == 0 || c->pages > total || twice) {
            slave_refused(s, s->master, body, SLAVE_REFUSE_INVALID,
                          "refused vm-limits: VM %u %s", c->vm,
                          twice ? "named twice" : "capped at 0 pages or at more than the cluster has");
            return VMCA_ERR_INVAL;
        }
    }
    struct slave_first_tier *ft = &s->ft;
    size_t n_cfg = s->self->n_vms;
    if (!VMCA_ROOM(ft->settings, ft->cap_settings, n_cfg + vl->n_caps)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory keeping vm-limits");
        return VMCA_ERR_NOMEM;
    }
    if (n_cfg)
        memcpy(ft->settings, s->self->vms, n_cfg * sizeof *ft->settings);
    ft->n_settings = n_cfg;
    for (size_t i = 0; i < vl->n_caps; i++) {
        const Vmca__VmCap *c = vl->caps[i];
        size_t k = 0;
        while (k < ft->n_settings && ft->settings[k].vm != c->vm)
            k++;
        if (k == ft->n_settings)
            ft->settings[ft->n_settings++] = FT_VM_DEFAULTS(c->vm);
        if (c->pages < ft->settings[k].max_pages)
            ft->settings[k].max_pages = c->pages;
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "vm-limits: VM %u at most %llu pages",
                    c->vm, (unsigned long long)c->pages);
    }
    ft->vm_caps = vl->n_caps;
    if (!vl->n_caps)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO, "vm-limits: no VM capped");
    else if (!ft->policy->sets_targets)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "vm-limits: policy %s sets no per-VM targets, so they are not enforced",
                    ft->policy->name);
    apply_caps(s);
    return VMCA_OK;
}
