/* The master's metrics page; see master_metrics.h and docs/metrics.md. */
#include "master_metrics.h"

#include <stdio.h>

/* Name of a configured node by id ("7" when not configured: not kept). */
static const char *node_name(const struct master_core *m, uint32_t id, char *buf, size_t len)
{
    const struct master_node *n = master_core_node(m, id);
    if (n)
        return n->cfg->name;
    snprintf(buf, len, "%u", id);
    return buf;
}

static void node_table(const struct master_core *m, struct vmca_prom *out)
{
    size_t nn = m->cfg->n_nodes;
    vmca_prom_family(out, "vmca_node_state", "gauge",
                     "1 for the state the master holds each configured node in, 0 for the "
                     "others");
    for (size_t i = 0; i < nn; i++) {
        struct vmca_prom_label l[] = {{"node", m->nodes[i].cfg->name}};
        vmca_prom_stateset(out, "vmca_node_state", l, 1, "state", vmca_state_names,
                           VMCA_NODE_STATES, (size_t)m->nodes[i].state);
    }
    vmca_prom_family(out, "vmca_node_connected", "gauge",
                     "1 while the node's slave has a connection to the master");
    for (size_t i = 0; i < nn; i++) {
        struct vmca_prom_label l[] = {{"node", m->nodes[i].cfg->name}};
        vmca_prom_u64(out, "vmca_node_connected", l, 1, m->nodes[i].connected);
    }
    vmca_prom_family(out, "vmca_node_statistics_total", "counter",
                     "Statistics messages the master accepted from the node since it started");
    for (size_t i = 0; i < nn; i++) {
        struct vmca_prom_label l[] = {{"node", m->nodes[i].cfg->name}};
        vmca_prom_u64(out, "vmca_node_statistics_total", l, 1, m->nodes[i].stats_count);
    }
}

/* Figures of each node's last Statistics (nodes that sent none this life
 * have no sample). */
static void node_pages(const struct master_core *m, struct vmca_prom *out)
{
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"vmca_node_owned_pages", "Pages the node owns, of every home, by its last Statistics"},
        {"vmca_node_free_pages", "Free pages among those the node owns, by its last Statistics"},
        {"vmca_node_lent_pages", "Pages of the node's own home that other nodes own, by its "
                                 "last Statistics"},
        {"vmca_node_borrowed_pages", "Pages of other homes the node owns, by its last "
                                     "Statistics"},
    };
    for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
        vmca_prom_family(out, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
            const struct master_node *n = &m->nodes[i];
            if (n->last_stats_ms < 0)
                continue;
            uint64_t v = f == 0 ? n->total_pages : f == 1 ? n->free_pages : 0;
            for (size_t k = 0; f == 2 && k < n->n_lent; k++)
                v += n->lent[k].pages;
            for (size_t k = 0; f == 3 && k < n->n_owned; k++)
                if (n->owned[k].home != n->cfg->id)
                    v += n->owned[k].pages;
            struct vmca_prom_label l[] = {{"node", n->cfg->name}};
            vmca_prom_u64(out, fam[f].name, l, 1, v);
        }
    }
    char buf[16];
    vmca_prom_family(out, "vmca_node_home_pages", "gauge",
                     "Pages of home `home` the node owns, by its last Statistics");
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        const struct master_node *n = &m->nodes[i];
        for (size_t k = 0; n->last_stats_ms >= 0 && k < n->n_owned; k++) {
            struct vmca_prom_label l[] = {{"node", n->cfg->name},
                                          {"home", node_name(m, n->owned[k].home, buf,
                                                             sizeof buf)}};
            vmca_prom_u64(out, "vmca_node_home_pages", l, 2, n->owned[k].pages);
        }
    }
}

/* Per home: its configured pages, and what the members' last Statistics
 * say they own of it (equal at rest: the audit's balance). */
static void homes(const struct master_core *m, struct vmca_prom *out)
{
    vmca_prom_family(out, "vmca_home_pages", "gauge",
                     "Pages of the home's tmem, from the configuration (tmem_pages)");
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        struct vmca_prom_label l[] = {{"home", m->nodes[i].cfg->name}};
        vmca_prom_u64(out, "vmca_home_pages", l, 1, m->nodes[i].cfg->tmem_pages);
    }
    vmca_prom_family(out, "vmca_home_owned_pages", "gauge",
                     "Pages of the home that member nodes own, summed over their last "
                     "Statistics (equals vmca_home_pages at rest)");
    for (size_t h = 0; h < m->cfg->n_nodes; h++) {
        uint64_t sum = 0;
        uint32_t id = m->nodes[h].cfg->id;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
            const struct master_node *x = &m->nodes[i];
            if (!vmca_state_member(x->state) || x->last_stats_ms < 0)
                continue;
            for (size_t k = 0; k < x->n_owned; k++)
                if (x->owned[k].home == id)
                    sum += x->owned[k].pages;
        }
        struct vmca_prom_label l[] = {{"home", m->nodes[h].cfg->name}};
        vmca_prom_u64(out, "vmca_home_owned_pages", l, 1, sum);
    }
}

static void vms(const struct master_core *m, struct vmca_prom *out)
{
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"vmca_vm_target_pages", "The VM's tmem target (pages) in force, by its node's last "
                                 "Statistics; absent while none is set"},
        {"vmca_vm_used_pages", "Tmem pages the VM uses, by its node's last Statistics"},
        {"vmca_vm_failed_puts", "Puts of the VM that failed in the hypervisor's last period, "
                                "by its node's last Statistics"},
    };
    char vm[16];
    for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
        vmca_prom_family(out, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
            const struct master_node *n = &m->nodes[i];
            for (size_t k = 0; n->last_stats_ms >= 0 && k < n->n_vms; k++) {
                const struct master_vm *v = &n->vms[k];
                if (f == 0 && v->target == UINT64_MAX)
                    continue;
                snprintf(vm, sizeof vm, "%u", v->vm);
                struct vmca_prom_label l[] = {{"node", n->cfg->name}, {"vm", vm}};
                vmca_prom_u64(out, fam[f].name, l, 2,
                              f == 0 ? v->target : f == 1 ? v->used : v->failed);
            }
        }
    }
}

#define F(field, name, help) VMCA_PROM_FIELD(struct master_counters, field, name, help)
static const struct vmca_prom_field grant_fields[] = {
    F(grant_any, "vmca_master_grant_any_total", "Grant-Any requests the master accepted"),
    F(grant_any_pages, "vmca_master_grant_any_pages_total",
      "Pages the accepted Grant-Any requests asked for"),
    F(grant_fwd, "vmca_master_grant_fwd_total", "Grant-Fwd messages sent to donors"),
    F(grant_fwd_pages, "vmca_master_grant_fwd_pages_total",
      "Pages the Grant-Fwd messages asked donors to give"),
    F(grant_unserved, "vmca_master_grant_unserved_total",
      "Accepted Grant-Any requests no donor could serve (nothing forwarded)"),
    F(grant_unseen, "vmca_master_grant_unseen_total",
      "Forwarded Grant-Any requests whose requester's Statistics showed no more pages owned "
      "within timing.failure_timeout_ms"),
};
static const struct vmca_prom_field flow_fields[] = {
    F(census_asked, "vmca_master_census_requests_total",
      "Census triggers the master sent to homes (after recoveries, or owed)"),
    F(recoveries, "vmca_master_recoveries_total", "Recovery flows the master started"),
    F(recoveries_done, "vmca_master_recoveries_completed_total",
      "Recovery flows completed (Invalidate-Notify sent)"),
    F(leaves, "vmca_master_leaves_total", "Leave flows the master started"),
    F(leaves_done, "vmca_master_leaves_completed_total",
      "Leave flows completed (Leave-Notify sent)"),
};
#undef F

static void counters(const struct master_core *m, struct vmca_prom *out)
{
    const struct master_counters *c = &m->counters;
    vmca_prom_counters(out, grant_fields, sizeof grant_fields / sizeof *grant_fields, c, NULL, 0);
    vmca_prom_family(out, "vmca_master_grant_latency_seconds", "histogram",
                     "Seconds from a Grant-Any the master forwarded to the first Statistics of "
                     "the requester that show more pages owned than its last Statistics before "
                     "the request (measured at the master: includes up to one statistics "
                     "interval of reporting delay)");
    vmca_prom_histogram(out, "vmca_master_grant_latency_seconds", NULL, 0, &c->grant_latency_ms,
                        3);
    vmca_prom_family(out, "vmca_master_refused_messages_total", "counter",
                     "Messages from slaves the master refused, by reason");
    for (unsigned r = 0; r < MASTER_REFUSALS; r++) {
        struct vmca_prom_label l[] = {{"reason", master_refusal_name(r)}};
        vmca_prom_u64(out, "vmca_master_refused_messages_total", l, 1, c->refused[r]);
    }
    vmca_prom_counters(out, flow_fields, sizeof flow_fields / sizeof *flow_fields, c, NULL, 0);
}

void master_metrics_write(const struct master_core *m, struct vmca_prom *out)
{
    node_table(m, out);
    node_pages(m, out);
    homes(m, out);
    vms(m, out);
    counters(m, out);
}
