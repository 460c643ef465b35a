/* Slave core, report: the hypervisor's last statistics sample and its
 * liveness, and the Statistics that vouch for the node at the master. */
#include "slave_internal.h"

int slave_report_init(struct slave_core *s)
{
    uint32_t max_id = 0;
    for (size_t i = 0; i < s->cfg->n_nodes; i++)
        if (s->cfg->nodes[i].id > max_id)
            max_id = s->cfg->nodes[i].id;
    s->room.nbits_bytes = max_id / 8 + 1;
    s->room.bits = calloc(s->room.nbits_bytes, 1);
    return s->room.bits ? VMCA_OK : VMCA_ERR_NOMEM;
}

void slave_report_free(struct slave_core *s)
{
    struct slave_report_room *r = &s->room;
    free(s->hv.owned);
    free(s->hv.lent);
    free(s->hv.vms);
    free(r->spare.owned);
    free(r->spare.lent);
    free(r->spare.vms);
    free(r->hp);
    free(r->hpp);
    free(r->vs);
    free(r->vsp);
    free(r->bits);
    s->hv = (struct tkm_sample){0};
    *r = (struct slave_report_room){0};
}

void slave_sample_clear(struct slave_core *s)
{
    struct tkm_sample *hv = &s->hv;
    *hv = (struct tkm_sample){.owned = hv->owned, .lent = hv->lent, .vms = hv->vms};
}

/* A sample of the same period (pushed when a VM connected) arrived before
 * the policy ran on the one that ended the period: the policy must still
 * see that period's counts, not the few since. */
static void keep_period_counts(struct tkm_sample *now, const struct tkm_sample *ended)
{
    for (size_t v = 0; v < now->n_vms; v++)
        for (size_t e = 0; e < ended->n_vms; e++)
            if (ended->vms[e].vm == now->vms[v].vm) {
                now->vms[v].puts_total = ended->vms[e].puts_total;
                now->vms[v].puts_succ = ended->vms[e].puts_succ;
                now->vms[v].gets = ended->vms[e].gets;
                now->vms[v].flushes = ended->vms[e].flushes;
                now->vms[v].puts_evicting = ended->vms[e].puts_evicting;
                break;
            }
}

int slave_sample_take(struct slave_core *s, const struct tkm_sample *in, bool keep_counts)
{
    struct slave_report_room *r = &s->room;
    struct tkm_sample *sp = &r->spare;
    if (!VMCA_ROOM(sp->owned, r->spare_owned, in->n_owned) ||
        !VMCA_ROOM(sp->lent, r->spare_lent, in->n_lent) ||
        !VMCA_ROOM(sp->vms, r->spare_vms, in->n_vms))
        return VMCA_ERR_NOMEM;
    struct tkm_sample copy = *in;
    copy.owned = sp->owned;
    copy.lent = sp->lent;
    copy.vms = sp->vms;
    if (in->n_owned)
        memcpy(copy.owned, in->owned, in->n_owned * sizeof *in->owned);
    if (in->n_lent)
        memcpy(copy.lent, in->lent, in->n_lent * sizeof *in->lent);
    if (in->n_vms)
        memcpy(copy.vms, in->vms, in->n_vms * sizeof *in->vms);
    if (keep_counts)
        keep_period_counts(&copy, &s->hv);
    /* The sample before becomes the spare, its space kept. */
    *sp = s->hv;
    size_t t;
    t = r->cap_owned, r->cap_owned = r->spare_owned, r->spare_owned = t;
    t = r->cap_lent, r->cap_lent = r->spare_lent, r->spare_lent = t;
    t = r->cap_vms, r->cap_vms = r->spare_vms, r->spare_vms = t;
    s->hv = copy;
    return VMCA_OK;
}

/* HomePages entries for `n` tkm_pages, in `store` (pointers in `ptrs`). */
static void home_pages(const struct tkm_pages *in, size_t n, Vmca__HomePages *store,
                       Vmca__HomePages **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        vmca__home_pages__init(&store[i]);
        store[i].node = in[i].node;
        store[i].pages = in[i].pages;
        ptrs[i] = &store[i];
    }
}

int64_t slave_core_hv_silence_ms(const struct vmca_config *cfg)
{
    int64_t half = (int64_t)cfg->timing.failure_timeout_ms / 2;
    int64_t two = 2 * (int64_t)cfg->timing.stats_interval_ms;
    return half > two ? half : two;
}

/* Whether the hypervisor answers, so that our Statistics may vouch for the
 * node: it is connected and has said something recently. */
static bool hv_answers(const struct slave_core *s, int64_t now_ms)
{
    return s->hv_up &&
           (s->hv_news || (s->hv_heard_ms >= 0 &&
                           now_ms - s->hv_heard_ms <= slave_core_hv_silence_ms(s->cfg)));
}

static void send_statistics(struct slave_core *s, int64_t now_ms)
{
    const struct tkm_sample *hv = &s->hv;
    struct slave_report_room *r = &s->room;
    size_t n_pages = hv->n_owned + hv->n_lent;
    if (!VMCA_ROOM(r->hp, r->cap_hp, n_pages) ||
        !VMCA_ROOM(r->hpp, r->cap_hpp, n_pages) ||
        !VMCA_ROOM(r->vs, r->cap_vs, hv->n_vms) ||
        !VMCA_ROOM(r->vsp, r->cap_vsp, hv->n_vms)) {
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_ERR, "out of memory building statistics");
        return;
    }
    Vmca__HomePages *hp = r->hp, **hpp = r->hpp;
    Vmca__VmStats *vs = r->vs, **vsp = r->vsp;
    /* The enabled set as bytes, up to the highest configured node id. */
    size_t nbytes = r->nbits_bytes, max_id = nbytes * 8 - 1;
    uint8_t *bits = r->bits;
    memset(bits, 0, nbytes);
    for (size_t b = vmca_bitmap_next_set(&s->enabled, 0); b <= max_id && b < s->enabled.nbits;
         b = vmca_bitmap_next_set(&s->enabled, b + 1))
        bits[b / 8] |= (uint8_t)(1u << (b % 8));
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
        vs[i].puts_evicting = hv->vms[i].puts_evicting;
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
    st.enabled_bitmap.data = bits;
    st.enabled_bitmap.len = nbytes;
    st.state = s->state;
    st.pending_transfers = (uint32_t)s->xfers.n_out;
    st.unsettled = s->ft.unsettled;
    st.census_owed = slave_census_owed(s, now_ms);
    st.period = ++s->period;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    slave_send_to_master(s, &env);
}

/* Statistics, if the hypervisor answers; else none (said once per
 * silence): the master must not count a node whose hypervisor is down or
 * hung as alive. */
void slave_vouch_statistics(struct slave_core *s, int64_t now_ms)
{
    if (!hv_answers(s, now_ms)) {
        if (!s->hv_silent_logged && s->hv_up)
            vmca_log_to(s->log, s->log_arg, VMCA_LOG_WARN,
                        "hypervisor silent for %lld ms: no statistics to the master until it "
                        "answers (the master declares this node failed)",
                        (long long)(now_ms - s->hv_heard_ms));
        s->hv_silent_logged = true;
        return;
    }
    if (s->hv_silent_logged)
        vmca_log_to(s->log, s->log_arg, VMCA_LOG_INFO,
                    "hypervisor answers again: statistics resume");
    s->hv_silent_logged = false;
    send_statistics(s, now_ms);
}
