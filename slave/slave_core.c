/* Slave core; see slave_core.h. */
#include "slave_core.h"

#include <stdlib.h>

#include "err.h"
#include "gfn.h"

int slave_core_init(struct slave_core *s, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *self, uint64_t incarnation,
                    vmca_log_fn log, void *log_arg)
{
    *s = (struct slave_core){
        .cfg = cfg, .self = self, .master = cfg->master.node_id,
        .state = VMCA__NODE_STATE__NODE_INACTIVE, .log = log, .log_arg = log_arg,
        .hv = {.total_pages = self->tmem_pages, .free_pages = self->tmem_pages},
    };
    if (vmca_bitmap_init(&s->enabled, (size_t)VMCA_NODE_MAX + 1) != VMCA_OK)
        return VMCA_ERR_NOMEM;
    vmca_outbox_init(&s->out, self->id, incarnation, cfg->max_frame);
    return VMCA_OK;
}

void slave_core_free(struct slave_core *s)
{
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

static void send_statistics(struct slave_core *s)
{
    size_t n_enabled = vmca_bitmap_count(&s->enabled);
    uint32_t *enabled = malloc((n_enabled ? n_enabled : 1) * sizeof *enabled);
    if (!enabled) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory building statistics");
        return;
    }
    size_t k = 0;
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        enabled[k++] = (uint32_t)b;
    Vmca__HomePages own = VMCA__HOME_PAGES__INIT;
    own.node = s->self->id;
    own.pages = s->hv.total_pages;
    Vmca__HomePages *owned[] = {&own};
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.total_pages = s->hv.total_pages;
    st.free_pages = s->hv.free_pages;
    st.owned = owned;
    st.n_owned = 1;
    st.enabled = enabled;
    st.n_enabled = k;
    st.state = s->state;
    st.period = ++s->period;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    send_to_master(s, &env);
    free(enabled);
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
