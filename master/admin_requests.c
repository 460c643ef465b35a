/* Admin requests; see admin_requests.h. Every node-taking request names
 * the node by name or id; a name not configured is answered with the names
 * that are. */
#include "admin_requests.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "err.h"

#define ADMIN_WORDS 6 /* a request's words, at most */
#define ADMIN_KNOWN_MAX 200 /* bytes of known node names in an error */

struct request {
    int argc;
    char argv[ADMIN_WORDS][VMCA_NAME_MAX];
};

static const char known_requests[] =
    "status, nodes, vms, stats, audit, mem-limit, mem-set, leave, join";

/* Splits line into words; false when a word is too long or there are too
 * many. */
static bool split(const char *line, struct request *r)
{
    r->argc = 0;
    for (const char *p = line;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            return true;
        size_t len = strcspn(p, " ");
        if (r->argc == ADMIN_WORDS || len >= VMCA_NAME_MAX)
            return false;
        memcpy(r->argv[r->argc], p, len);
        r->argv[r->argc++][len] = '\0';
        p += len;
    }
}

/* A decimal number of at most `max` (no sign, no spaces). */
static bool number(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9') /* "-1" would wrap to a huge value */
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end || n > max)
        return false;
    *v = n;
    return true;
}

/* The node named (by name or id), or NULL after an error line listing the
 * configured names. */
static const struct vmca_node_cfg *find_node(const struct vmca_config *cfg, const char *name,
                                             struct evbuffer *out)
{
    const struct vmca_node_cfg *n = vmca_config_node_by_name(cfg, name);
    uint64_t id;
    if (!n && number(name, VMCA_NODE_MAX, &id))
        n = vmca_config_node_by_id(cfg, (uint32_t)id);
    if (n)
        return n;
    char known[ADMIN_KNOWN_MAX + 32] = "";
    size_t len = 0, i;
    for (i = 0; i < cfg->n_nodes && len < ADMIN_KNOWN_MAX; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                cfg->nodes[i].name);
    if (i < cfg->n_nodes)
        snprintf(known + len, sizeof known - len, ", ... (%zu nodes)", cfg->n_nodes);
    evbuffer_add_printf(out, "error no-node no node '%s' in the configuration (known: %s)\n",
                        name, known);
    return NULL;
}

/* The error line for a refusal of the core (rc, reason in why). */
static void refused(struct evbuffer *out, int rc, const char *why)
{
    const char *cls = rc == VMCA_ERR_STATE      ? "state"
                      : rc == VMCA_ERR_NOTFOUND ? "no-slave"
                      : rc == VMCA_ERR_INVAL    ? "range"
                                                : "internal";
    evbuffer_add_printf(out, "error %s %s\n", cls, why);
}

static long long stats_age(const struct master_node *n, int64_t now_ms)
{
    return n->last_stats_ms < 0 ? -1 : (long long)(now_ms - n->last_stats_ms);
}

static void req_status(struct master_core *m, const struct vmca_config *cfg, int64_t now_ms,
                       struct evbuffer *out)
{
    evbuffer_add_printf(out, "cluster %s master %s nodes %zu\n", cfg->cluster, cfg->master.node,
                        cfg->n_nodes);
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        const struct master_node *n = &m->nodes[i];
        evbuffer_add_printf(out, "node %u %s %s %lld %d %llu %llu %llu\n", n->cfg->id,
                            n->cfg->name, vmca_state_name(n->state), stats_age(n, now_ms),
                            n->connected ? 1 : 0, (unsigned long long)n->stats_count,
                            (unsigned long long)n->free_pages,
                            (unsigned long long)n->total_pages);
    }
    evbuffer_add_printf(out, "end\n");
}

/* Per node: what it may hold of its own (capacity) and what its last
 * Statistics said it owns, has free, lent and borrowed. */
static void req_nodes(struct master_core *m, const struct vmca_config *cfg, int64_t now_ms,
                      struct evbuffer *out)
{
    evbuffer_add_printf(out, "nodes %zu page_size %u\n", cfg->n_nodes, cfg->page_size);
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        const struct master_node *n = &m->nodes[i];
        evbuffer_add_printf(out, "node %u %s %s %d %llu %llu %llu %llu %llu %lld\n", n->cfg->id,
                            n->cfg->name, vmca_state_name(n->state), n->connected ? 1 : 0,
                            (unsigned long long)n->cfg->tmem_pages,
                            (unsigned long long)n->total_pages,
                            (unsigned long long)n->free_pages,
                            (unsigned long long)n->lent_pages,
                            (unsigned long long)n->borrowed_pages, stats_age(n, now_ms));
    }
    evbuffer_add_printf(out, "end\n");
}

static uint64_t cap_of(const struct master_node *n, uint32_t vm)
{
    for (size_t i = 0; i < n->n_vm_caps; i++)
        if (n->vm_caps[i].vm == vm)
            return n->vm_caps[i].pages;
    return 0;
}

/* Every VM of one node (only, or every node when NULL): its last
 * figures, then the caps of VMs it does not report. */
static void req_vms(struct master_core *m, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *only, struct evbuffer *out)
{
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        const struct master_node *n = &m->nodes[i];
        if (only && n->cfg != only)
            continue;
        bool member = vmca_state_member(n->state); /* figures of a node out are old */
        for (size_t v = 0; member && v < n->n_vms; v++) {
            const struct master_vm *x = &n->vms[v];
            evbuffer_add_printf(out, "vm %u %s %u %lld %llu %llu %llu %llu\n", n->cfg->id,
                                n->cfg->name, x->vm,
                                x->target == UINT64_MAX ? -1 : (long long)x->target,
                                (unsigned long long)x->used, (unsigned long long)x->puts,
                                (unsigned long long)x->failed,
                                (unsigned long long)cap_of(n, x->vm));
        }
        for (size_t c = 0; c < n->n_vm_caps; c++) {
            bool shown = false;
            for (size_t v = 0; member && v < n->n_vms && !shown; v++)
                shown = n->vms[v].vm == n->vm_caps[c].vm;
            if (!shown)
                evbuffer_add_printf(out, "cap %u %s %u %llu\n", n->cfg->id, n->cfg->name,
                                    n->vm_caps[c].vm, (unsigned long long)n->vm_caps[c].pages);
        }
    }
    evbuffer_add_printf(out, "end\n");
}

/* The cluster's totals over its members, and the master's counters. */
static void req_stats(struct master_core *m, const struct vmca_config *cfg,
                      struct evbuffer *out)
{
    uint64_t capacity = 0, owned = 0, free_pages = 0, lent = 0, borrowed = 0;
    size_t members = 0, active = 0, flows = 0;
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        const struct master_node *n = &m->nodes[i];
        if (!vmca_state_member(n->state))
            continue;
        members++;
        active += n->state == VMCA__NODE_STATE__NODE_ACTIVE;
        capacity += n->cfg->tmem_pages;
        owned += n->total_pages;
        free_pages += n->free_pages;
        lent += n->lent_pages;
        borrowed += n->borrowed_pages;
    }
    for (size_t f = 0; f < MASTER_MAX_FLOWS; f++)
        flows += m->flows[f].node != 0;
    uint64_t refused = master_core_refused_total(m);
    evbuffer_add_printf(out, "stats nodes %zu members %zu active %zu flows %zu capacity %llu "
                        "owned %llu free %llu lent %llu borrowed %llu grants_forwarded %llu "
                        "pages_forwarded %llu refused %llu page_size %u\nend\n",
                        cfg->n_nodes, members, active, flows, (unsigned long long)capacity,
                        (unsigned long long)owned, (unsigned long long)free_pages,
                        (unsigned long long)lent, (unsigned long long)borrowed,
                        (unsigned long long)m->counters.grant_fwd,
                        (unsigned long long)m->counters.grant_fwd_pages,
                        (unsigned long long)refused, cfg->page_size);
}

static void req_audit(struct master_core *m, int64_t now_ms, struct evbuffer *out)
{
    struct audit_report r;
    if (audit_run(m, now_ms, &r) != VMCA_OK) {
        evbuffer_add_printf(out, "error internal out of memory\n");
        return;
    }
    evbuffer_add_printf(out, "audit %s flows %zu pending %llu unreported %zu\n",
                        audit_verdict_name(r.verdict), r.flows, (unsigned long long)r.pending,
                        r.unreported);
    for (size_t i = 0; i < r.n_homes; i++)
        evbuffer_add_printf(out, "home %u %llu %llu\n", r.homes[i].home,
                            (unsigned long long)r.homes[i].owned,
                            (unsigned long long)r.homes[i].pages);
    for (size_t i = 0; i < r.n_down; i++)
        evbuffer_add_printf(out, "down %u %s %s %lld\n", r.down[i].node,
                            master_core_node(m, r.down[i].node)->cfg->name,
                            audit_down_name(r.down[i].why), (long long)r.down[i].silent_ms);
    for (size_t i = 0; i < r.n_targets; i++)
        evbuffer_add_printf(out, "targets %u %llu %llu\n", r.targets[i].node,
                            (unsigned long long)r.targets[i].sum,
                            (unsigned long long)r.targets[i].owned);
    evbuffer_add_printf(out, "end\n");
    audit_report_free(&r);
}

/* What each request takes after its name: words at least and at most, and
 * the usage shown when they do not fit. */
struct request_kind {
    const char *name;
    int min, max;
    const char *usage;
};

static const struct request_kind kinds[] = {
    {"status", 0, 0, "status"},
    {"nodes", 0, 0, "nodes"},
    {"vms", 0, 1, "vms [NODE]"},
    {"stats", 0, 0, "stats"},
    {"audit", 0, 0, "audit"},
    {"mem-limit", 2, 2, "mem-limit NODE PAGES (PAGES a number, 0 lifts the cap)"},
    {"mem-set", 3, 3, "mem-set NODE VM PAGES (VM and PAGES numbers, 0 lifts the cap)"},
    {"leave", 1, 1, "leave NODE"},
    {"join", 1, 1, "join NODE"},
};

void admin_request(struct master_core *m, const struct vmca_config *cfg, const char *line,
                   int64_t now_ms, struct evbuffer *out)
{
    struct request r;
    if (!split(line, &r) || r.argc == 0) {
        evbuffer_add_printf(out, "error usage unknown request '%.64s' (known: %s)\n", line,
                            known_requests);
        return;
    }
    const struct request_kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !k; i++)
        if (strcmp(r.argv[0], kinds[i].name) == 0)
            k = &kinds[i];
    if (!k) {
        evbuffer_add_printf(out, "error usage unknown request '%.64s' (known: %s)\n", line,
                            known_requests);
        return;
    }
    if (r.argc - 1 < k->min || r.argc - 1 > k->max) {
        evbuffer_add_printf(out, "error usage usage: %s\n", k->usage);
        return;
    }
    const struct vmca_node_cfg *node = NULL;
    if (r.argc > 1 && !(node = find_node(cfg, r.argv[1], out)))
        return;
    uint64_t vm = 0, pages = 0;
    const char *num = strcmp(k->name, "mem-limit") == 0 ? r.argv[2]
                      : strcmp(k->name, "mem-set") == 0 ? r.argv[3] : NULL;
    if ((num && !number(num, UINT64_MAX, &pages)) ||
        (strcmp(k->name, "mem-set") == 0 && !number(r.argv[2], UINT32_MAX, &vm))) {
        evbuffer_add_printf(out, "error usage usage: %s\n", k->usage);
        return;
    }
    char err[320];
    int rc = VMCA_OK;
    if (strcmp(k->name, "status") == 0)
        req_status(m, cfg, now_ms, out);
    else if (strcmp(k->name, "nodes") == 0)
        req_nodes(m, cfg, now_ms, out);
    else if (strcmp(k->name, "vms") == 0)
        req_vms(m, cfg, node, out);
    else if (strcmp(k->name, "stats") == 0)
        req_stats(m, cfg, out);
    else if (strcmp(k->name, "audit") == 0)
        req_audit(m, now_ms, out);
    else if (strcmp(k->name, "mem-limit") == 0)
        rc = master_core_mem_limit(m, node->id, pages, err, sizeof err);
    else if (strcmp(k->name, "mem-set") == 0)
        rc = master_core_vm_cap(m, node->id, (uint32_t)vm, pages, err, sizeof err);
    else if (strcmp(k->name, "leave") == 0)
        rc = master_core_ask_leave(m, node->id, err, sizeof err);
    else
        rc = master_core_ask_join(m, node->id, err, sizeof err);
    if (rc != VMCA_OK)
        refused(out, rc, err);
    else if (r.argc > 1 && strcmp(k->name, "vms") != 0)
        evbuffer_add_printf(out, "ok\n");
}
