/* The cluster audit from the master's table; see audit.h. */
#include "audit.h"

#include <stdlib.h>

#include "err.h"

const char *audit_verdict_name(enum audit_verdict v)
{
    switch (v) {
    case AUDIT_BALANCED: return "balanced";
    case AUDIT_UNBALANCED: return "unbalanced";
    default: return "not-at-rest";
    }
}

const char *audit_down_name(enum audit_down_why why)
{
    switch (why) {
    case AUDIT_DOWN_RECOVERY: return "recovery";
    case AUDIT_DOWN_SILENT: return "silent";
    default: return "disconnected";
    }
}

void audit_report_free(struct audit_report *r)
{
    free(r->homes);
    free(r->targets);
    free(r->down);
    r->homes = NULL;
    r->targets = NULL;
    r->down = NULL;
}

int audit_run(const struct master_core *m, int64_t now_ms, struct audit_report *r)
{
    size_t n = m->cfg->n_nodes;
    int64_t stale = 2 * (int64_t)m->cfg->timing.stats_interval_ms;
    *r = (struct audit_report){0};
    r->homes = calloc(n ? n : 1, sizeof *r->homes);
    r->targets = calloc(n ? n : 1, sizeof *r->targets);
    r->down = calloc(n ? n : 1, sizeof *r->down);
    size_t *slot = calloc(n ? n : 1, sizeof *slot); /* node index -> homes[] + 1 */
    if (!r->homes || !r->targets || !r->down || !slot) {
        free(slot);
        audit_report_free(r);
        return VMCA_ERR_NOMEM;
    }
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++)
        r->flows += m->flows[f].node != 0;
    for (size_t i = 0; i < n; i++) {
        const struct master_node *x = &m->nodes[i];
        int64_t age = x->last_stats_ms < 0 ? -1 : now_ms - x->last_stats_ms;
        if (x->state == VMCA__NODE_STATE__NODE_RECOVERY)
            r->down[r->n_down++] = (struct audit_down){x->cfg->id, AUDIT_DOWN_RECOVERY, age};
        if (!vmca_state_member(x->state))
            continue;
        slot[i] = ++r->n_homes;
        r->homes[slot[i] - 1] = (struct audit_home){x->cfg->id, 0, x->local_pages};
        if (!x->connected || x->last_stats_ms < 0 || age > stale) {
            r->unreported++;
            r->down[r->n_down++] = (struct audit_down){
                x->cfg->id, x->connected ? AUDIT_DOWN_SILENT : AUDIT_DOWN_DISCONNECTED, age};
        }
        r->pending += (uint64_t)x->pending + x->unsettled; /* moves not in its figures too */
        if (x->targets_set)
            r->targets[r->n_targets++] = (struct audit_targets){x->cfg->id, x->targets_sum,
                                                                x->total_pages};
    }
    for (size_t i = 0; i < n; i++) {
        const struct master_node *x = &m->nodes[i];
        if (!vmca_state_member(x->state))
            continue;
        for (size_t k = 0; k < x->n_owned; k++) {
            const struct master_node *h = master_core_node(m, x->owned[k].home);
            size_t hi = (size_t)(h - m->nodes);
            if (!slot[hi]) { /* a home that is not a member: held pages are wrong */
                slot[hi] = ++r->n_homes;
                r->homes[slot[hi] - 1] = (struct audit_home){h->cfg->id, 0, 0};
            }
            r->homes[slot[hi] - 1].owned += x->owned[k].pages;
        }
    }
    free(slot);
    bool ok = true;
    for (size_t i = 0; i < r->n_homes; i++)
        ok &= r->homes[i].owned == r->homes[i].pages;
    for (size_t i = 0; i < r->n_targets; i++)
        ok &= r->targets[i].sum <= r->targets[i].owned;
    if (r->flows || r->pending || r->unreported || r->n_down)
        r->verdict = AUDIT_NOT_AT_REST;
    else
        r->verdict = ok ? AUDIT_BALANCED : AUDIT_UNBALANCED;
    return VMCA_OK;
}
