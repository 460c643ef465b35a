/* Slave core; see slave_core.h. */
#include "slave_core.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gfn.h"

int slave_core_init(struct slave_core *s, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *self, uint64_t incarnation,
                    vmca_log_fn log, void *log_arg)
{
    *s = (struct slave_core){
        .cfg = cfg, .self = self, .master = cfg->master.node_id,
        .state = VMCA__NODE_STATE__NODE_INACTIVE, .log = log, .log_arg = log_arg,
    };
    if (vmca_bitmap_init(&s->enabled, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK)
        return VMCA_ERR_NOMEM;
    vmca_outbox_init(&s->out, self->id, incarnation, cfg->max_frame);
    return VMCA_OK;
}

static void hv_sample_free(struct slave_hv_sample *hv)
{
    free(hv->owned);
    free(hv->lent);
    free(hv->vms);
    *hv = (struct slave_hv_sample){0};
}

static void *dup_array(const void *src, size_t n, size_t size, bool *fail)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n * size);
    if (!p)
        *fail = true;
    else
        memcpy(p, src, n * size);
    return p;
}

int slave_core_on_hv_stats(struct slave_core *s, const struct slave_hv_sample *in)
{
    bool fail = false;
    struct slave_hv_sample copy = *in;
    copy.owned = dup_array(in->owned, in->n_owned, sizeof *in->owned, &fail);
    copy.lent = dup_array(in->lent, in->n_lent, sizeof *in->lent, &fail);
    copy.vms = dup_array(in->vms, in->n_vms, sizeof *in->vms, &fail);
    if (fail) {
        hv_sample_free(&copy);
        return VMCA_ERR_NOMEM;
    }
    hv_sample_free(&s->hv);
    s->hv = copy;
    s->hv_up = true;
    return VMCA_OK;
}

void slave_core_on_hv_down(struct slave_core *s)
{
    hv_sample_free(&s->hv);
    s->hv_up = false;
}

void slave_core_free(struct slave_core *s)
{
    hv_sample_free(&s->hv);
    vmca_bitmap_free(&s->enabled);
    vmca_outbox_free(&s->out);
}

bool slave_core_enabled(const struct slave_core *s, uint32_t node)
{
    return vmca_bitmap_test(&s->enabled, node);
}

static void send_to_master(struct slave_core *s, Vmca__Envelope *env)
{
    int rc = vmca_outbox_send(&s->out, s->master, env);
    if (rc != VMCA_OK)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "cannot queue %s: %s",
                    vmca_body_name(env->body_case), vmca_strerror(rc));
}

static void send_register(struct slave_core *s)
{
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = s->self->id;
    reg.local_pages = s->self->tmem_pages;
    reg.location = (uint32_t *)s->self->location;
    reg.n_location = s->self->location_len;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    send_to_master(s, &env);
}

/* HomePages entries for `n` slave_pages, in `store` (pointers in `ptrs`). */
static void home_pages(const struct slave_pages *in, size_t n, Vmca__HomePages *store,
                       Vmca__HomePages **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        vmca__home_pages__init(&store[i]);
        store[i].node = in[i].node;
        store[i].pages = in[i].pages;
        ptrs[i] = &store[i];
    }
}

static void send_statistics(struct slave_core *s)
{
    const struct slave_hv_sample *hv = &s->hv;
    size_t n_enabled = vmca_bitmap_count(&s->enabled);
    size_t n_pages = hv->n_owned + hv->n_lent;
    uint32_t *enabled = malloc((n_enabled ? n_enabled : 1) * sizeof *enabled);
    Vmca__HomePages *hp = malloc((n_pages ? n_pages : 1) * sizeof *hp);
    Vmca__HomePages **hpp = malloc((n_pages ? n_pages : 1) * sizeof *hpp);
    Vmca__VmStats *vs = malloc((hv->n_vms ? hv->n_vms : 1) * sizeof *vs);
    Vmca__VmStats **vsp = malloc((hv->n_vms ? hv->n_vms : 1) * sizeof *vsp);
    if (!enabled || !hp || !hpp || !vs || !vsp) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory building statistics");
        goto out;
    }
    size_t k = 0;
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        enabled[k++] = (uint32_t)b;
    home_pages(hv->owned, hv->n_owned, hp, hpp);
    home_pages(hv->lent, hv->n_lent, hp + hv->n_owned, hpp + hv->n_owned);
    for (size_t i = 0; i < hv->n_vms; i++) {
        vmca__vm_stats__init(&vs[i]);
        vs[i].vm = hv->vms[i].vm;
        vs[i].tmem_used = hv->vms[i].used;
        vs[i].mm_target = hv->vms[i].target;
        vs[i].puts_total = hv->vms[i].puts_total;
        vs[i].puts_succ = hv->vms[i].puts_succ;
        vs[i].gets = hv->vms[i].gets;
        vs[i].flushes = hv->vms[i].flushes;
        vsp[i] = &vs[i];
    }
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.total_pages = hv->total_pages;
    st.free_pages = hv->free_pages;
    st.owned = hpp;
    st.n_owned = hv->n_owned;
    st.lent = hpp + hv->n_owned;
    st.n_lent = hv->n_lent;
    st.vms = vsp;
    st.n_vms = hv->n_vms;
    st.enabled = enabled;
    st.n_enabled = k;
    st.state = s->state;
    st.period = ++s->period;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    send_to_master(s, &env);
out:
    free(enabled);
    free(hp);
    free(hpp);
    free(vs);
    free(vsp);
}

void slave_core_on_master_up(struct slave_core *s, int64_t now_ms)
{
    s->master_up = true;
    if (s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
        send_register(s);
    } else {
        send_statistics(s);
        s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
    }
}

void slave_core_on_master_down(struct slave_core *s, int64_t now_ms)
{
    s->master_up = false;
}

static int on_enable(struct slave_core *s, const Vmca__EnableNode *en, int64_t now_ms)
{
    for (size_t i = 0; i < en->n_nodes; i++) {
        if (!vmca_node_valid(en->nodes[i]) || !vmca_config_node_by_id(s->cfg, en->nodes[i])) {
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                        "refused enable-node: node %u is not in the configuration",
                        en->nodes[i]);
            return VMCA_ERR_INVAL;
        }
    }
    for (size_t i = 0; i < en->n_nodes; i++) {
        uint32_t x = en->nodes[i];
        if (en->enable)
            vmca_bitmap_set(&s->enabled, x);
        else
            vmca_bitmap_clear(&s->enabled, x);
        if (x == s->self->id && en->enable && s->state == VMCA__NODE_STATE__NODE_INACTIVE) {
            s->state = VMCA__NODE_STATE__NODE_ACTIVE;
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                        "registered: now active, %zu nodes enabled",
                        vmca_bitmap_count(&s->enabled));
            send_statistics(s);
            s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
        }
    }
    return VMCA_OK;
}

int slave_core_on_message(struct slave_core *s, uint32_t from,
                          const Vmca__Envelope *env, int64_t now_ms)
{
    if (from != s->master) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "refused %s from node %u: peer messages are not served yet",
                    vmca_body_name(env->body_case), from);
        return VMCA_ERR_STATE;
    }
    switch (env->body_case) {
    case VMCA__ENVELOPE__BODY_ENABLE_NODE:
        return on_enable(s, env->enable_node, now_ms);
    default:
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                    "refused %s from the master: not handled by this slave yet",
                    vmca_body_name(env->body_case));
        return VMCA_ERR_STATE;
    }
}

void slave_core_on_tick(struct slave_core *s, int64_t now_ms)
{
    if (!s->master_up || s->state == VMCA__NODE_STATE__NODE_INACTIVE)
        return;
    if (now_ms < s->next_stats_ms)
        return;
    send_statistics(s);
    s->next_stats_ms = now_ms + s->cfg->timing.stats_interval_ms;
}
