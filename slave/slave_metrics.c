/* A slave's metrics page; see slave_metrics.h and docs/metrics.md. Every
 * series carries node="<this node>" so the master's and the slaves' pages
 * join on it. */
#include "slave_metrics.h"

#include <stddef.h>
#include <stdio.h>

static const char *peer_name(const struct slave_core *s, uint32_t id, char *buf, size_t len)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_id(s->cfg, id);
    if (n)
        return n->name;
    snprintf(buf, len, "%u", id);
    return buf;
}

static void sample(const struct slave_core *s, struct vmca_prom *out)
{
    const struct tkm_sample *hv = slave_core_sample(s);
    const char *self = s->self->name;
    struct vmca_prom_label node[] = {{"node", self}};
    char buf[16];
    bool up = slave_core_hv_up(s);
    vmca_prom_one(out, "vmca_slave_hypervisor_up", "gauge",
                  "1 while the node's hypervisor is connected and has sent a sample", node, 1,
                  up);
    if (up) {
        vmca_prom_one(out, "vmca_slave_owned_pages", "gauge",
                      "Pages the node owns, of every home, by the hypervisor's last sample",
                      node, 1, hv->total_pages);
        vmca_prom_one(out, "vmca_slave_free_pages", "gauge",
                      "Free pages among those the node owns, by the hypervisor's last sample",
                      node, 1, hv->free_pages);
        vmca_prom_one(out, "vmca_slave_replica_pages", "gauge",
                      "Second copies of the node's VMs' replicated pages (replicas = 2), by the "
                      "hypervisor's last sample", node, 1, hv->replica_pages);
        vmca_prom_one(out, "vmca_slave_under_replicated_pages", "gauge",
                      "Replicated pages of the node's VMs lacking their second copy, by the "
                      "hypervisor's last sample", node, 1, hv->under_replicated);
    }
    vmca_prom_family(out, "vmca_slave_home_pages", "gauge",
                     "Pages of home `home` the node owns, by the hypervisor's last sample");
    for (size_t i = 0; i < hv->n_owned; i++) {
        struct vmca_prom_label l[] = {{"node", self},
                                      {"home", peer_name(s, hv->owned[i].node, buf, sizeof buf)}};
        vmca_prom_u64(out, "vmca_slave_home_pages", l, 2, hv->owned[i].pages);
    }
    vmca_prom_family(out, "vmca_slave_lent_pages", "gauge",
                     "Pages of the node's own home that node `borrower` owns, by the "
                     "hypervisor's last sample");
    for (size_t i = 0; i < hv->n_lent; i++) {
        struct vmca_prom_label l[] = {
            {"node", self}, {"borrower", peer_name(s, hv->lent[i].node, buf, sizeof buf)}};
        vmca_prom_u64(out, "vmca_slave_lent_pages", l, 2, hv->lent[i].pages);
    }
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"vmca_slave_vm_target_pages", "The VM's tmem target (pages) in force, by the "
                                       "hypervisor's last sample; absent while none is set"},
        {"vmca_slave_vm_used_pages", "Tmem pages the VM uses, by the hypervisor's last sample"},
        {"vmca_slave_vm_failed_puts", "Puts of the VM that failed in the hypervisor's last "
                                      "period"},
    };
    for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
        vmca_prom_family(out, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < hv->n_vms; i++) {
            const struct tkm_vm *v = &hv->vms[i];
            if (f == 0 && v->target == VM_TARGET_UNLIMITED)
                continue;
            snprintf(buf, sizeof buf, "%u", v->vm);
            struct vmca_prom_label l[] = {{"node", self}, {"vm", buf}};
            uint64_t failed = tkm_vm_failed_puts(v);
            vmca_prom_u64(out, fam[f].name, l, 2,
                          f == 0 ? v->target : f == 1 ? v->used : failed);
        }
    }
}

static void counters(const struct slave_core *s, struct vmca_prom *out)
{
    const struct slave_counters *c = slave_core_counters(s);
    struct vmca_prom_label node[] = {{"node", s->self->name}};
    static const struct vmca_prom_field fam[] = {
#define C(field, name, help) VMCA_PROM_FIELD(struct slave_counters, field, name, help)
        C(grant_any, "vmca_slave_grant_any_total", "Grant-Any requests sent to the master"),
        C(grant_any_pages, "vmca_slave_grant_any_pages_total",
          "Pages the Grant-Any requests asked for"),
        C(grant_fwd, "vmca_slave_grant_fwd_total",
          "Grant-Fwd messages taken as a donor (a Request hypercall each)"),
        C(grant_fwd_pages, "vmca_slave_grant_fwd_pages_total",
          "Pages the Grant-Fwd messages taken asked for"),
        C(grants_sent, "vmca_slave_grants_sent_total",
          "Grant transfers started to peers (donations, bounces, returns, surplus)"),
        C(grant_pages_sent, "vmca_slave_grant_sent_pages_total", "Pages of the grants sent"),
        C(grant_blocks_sent, "vmca_slave_grant_sent_blocks_total", "Blocks of the grants sent"),
        C(grants_received, "vmca_slave_grants_received_total",
          "Grant transfers from peers the hypervisor applied"),
        C(grant_pages_received, "vmca_slave_grant_received_pages_total",
          "Pages the applied grants gave this node"),
        C(grant_blocks_received, "vmca_slave_grant_received_blocks_total",
          "Blocks of the applied grants the hypervisor accepted"),
        C(grant_blocks_bounced, "vmca_slave_grant_bounced_blocks_total",
          "Blocks of the applied grants that bounced (their home is not enabled here) and "
          "go back to their home"),
        C(grant_blocks_rejected, "vmca_slave_grant_rejected_blocks_total",
          "Blocks of the applied grants the hypervisor rejected"),
        C(census_rounds, "vmca_slave_census_rounds_total", "Censuses of this node's home started"),
        C(census_replies, "vmca_slave_census_replies_total",
          "Answers sent to other homes' censuses (amendments included)"),
        C(surplus_returns, "vmca_slave_surplus_returns_total",
          "Surplus rounds that sent free pages of another home back to it"),
#undef C
    };
    vmca_prom_counters(out, fam, sizeof fam / sizeof *fam, c, node, 1);
    vmca_prom_one(out, "vmca_slave_surplus_pages_total", "counter",
                  "Free pages of other homes sent back to them as surplus", node, 1,
                  slave_core_surplus_given(s));
    vmca_prom_one(out, "vmca_slave_transfers_in_transit", "gauge",
                  "Grant transfers sent and not yet acknowledged", node, 1,
                  slave_core_transfers(s)->n_out);
    vmca_prom_family(out, "vmca_slave_refused_messages_total", "counter",
                     "Messages the slave refused, by reason");
    for (unsigned r = 0; r < SLAVE_REFUSALS; r++) {
        struct vmca_prom_label l[] = {{"node", s->self->name}, {"reason", slave_refusal_name(r)}};
        vmca_prom_u64(out, "vmca_slave_refused_messages_total", l, 2, c->refused[r]);
    }
}

void slave_metrics_write(const struct slave_core *s, struct vmca_prom *out)
{
    struct vmca_prom_label node[] = {{"node", s->self->name}};
    vmca_prom_family(out, "vmca_slave_state", "gauge",
                     "1 for the state the node is in by its own view, 0 for the others");
    vmca_prom_stateset(out, "vmca_slave_state", node, 1, "state", vmca_state_names,
                       VMCA_NODE_STATES, (size_t)slave_core_state(s));
    sample(s, out);
    counters(s, out);
}
