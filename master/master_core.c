/* Master core; see master_core.h. */
#include "master_core.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "gfn.h"
#include "second_tier.h"

/* Refusal reasons, one log line per node and reason. */
enum refusal {
    REFUSE_NOT_FOR_MASTER,
    REFUSE_REGISTER_STATE,
    REFUSE_REGISTER_IDENTITY,
    REFUSE_STATS_STATE,
    REFUSE_NOT_YET,
    REFUSE_GRANT_ANY,
    REFUSE_LEAVE,
    REFUSE_RECOVERING,
    REFUSE_STATS_UNKNOWN,
    REFUSE_LEAVE_STATE,
    REFUSE_REGISTER_LEAVING,
    REFUSE_UNKNOWN_NODE,
    REFUSE_COUNT
};
_Static_assert(REFUSE_COUNT == MASTER_REFUSALS, "one counter per refusal reason");

const char *master_refusal_name(unsigned r)
{
    static const char *const names[REFUSE_COUNT] = {
        [REFUSE_NOT_FOR_MASTER] = "not_for_master",
        [REFUSE_REGISTER_STATE] = "register_state",
        [REFUSE_REGISTER_IDENTITY] = "register_identity",
        [REFUSE_STATS_STATE] = "statistics_state",
        [REFUSE_NOT_YET] = "not_implemented",
        [REFUSE_GRANT_ANY] = "grant_any",
        [REFUSE_LEAVE] = "leave",
        [REFUSE_RECOVERING] = "recovering",
        [REFUSE_STATS_UNKNOWN] = "statistics_not_member",
        [REFUSE_LEAVE_STATE] = "leave_state",
        [REFUSE_REGISTER_LEAVING] = "register_leaving",
        [REFUSE_UNKNOWN_NODE] = "unknown_node",
    };
    return r < REFUSE_COUNT ? names[r] : "unknown";
}

/* Grant latency buckets, ms: statistics intervals are 10 ms .. 1 h. */
static const uint64_t grant_latency_le[] = {10,   25,   50,   100,   250,  500,
                                            1000, 2500, 5000, 10000, 30000, 60000};

static void mark_heard(struct master_core *m, struct master_node *n)
{
    if (!n->heard) {
        n->heard = true;
        m->unheard--;
    }
}

bool master_core_rebuilding(const struct master_core *m, int64_t now_ms)
{
    int64_t window = (int64_t)m->cfg->timing.failure_timeout_ms +
                     (int64_t)m->cfg->timing.reconnect_max_ms;
    return m->first_ms < 0 || now_ms - m->first_ms < window;
}

static struct master_node *node_by_id(const struct master_core *m, uint32_t id)
{
    if (!vmca_node_valid(id) || m->index[id] == 0)
        return NULL;
    return &m->nodes[m->index[id] - 1];
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t master_node_spoken_for(const struct master_node *n)
{
    return add_sat(n->fwd_recent, n->fwd_older);
}

const struct master_node *master_core_node(const struct master_core *m, uint32_t id)
{
    return node_by_id(m, id);
}

struct vmca_outbox *master_core_outbox(struct master_core *m)
{
    return &m->out;
}

int master_core_init(struct master_core *m, const struct vmca_config *cfg,
                     uint64_t incarnation, vmca_log_fn log, void *log_arg)
{
    *m = (struct master_core){.cfg = cfg, .log = log, .log_arg = log_arg};
    m->tier2 = tier2_find(cfg->policy.second_tier);
    if (!m->tier2) {
        char names[192];
        tier2_names(names, sizeof names);
        vmca_log_to(log, log_arg, VMCA_LOG_ERR, "second tier \"%s\" is not built (built: %s)",
                    cfg->policy.second_tier, names);
        return VMCA_ERR_CONFIG;
    }
    size_t slots = cfg->n_nodes ? cfg->n_nodes : 1;
    m->nodes = calloc(slots, sizeof *m->nodes);
    m->index = calloc((size_t)VMCA_NODE_MAX + 1, sizeof *m->index);
    m->donors = calloc(slots, sizeof *m->donors);
    m->fwd = calloc(slots, sizeof *m->fwd);
    m->ids = calloc(slots, sizeof *m->ids);
    if (m->tier2->state_bytes)
        m->tier2_state = calloc(1, m->tier2->state_bytes);
    if (!m->nodes || !m->index || !m->donors || !m->fwd || !m->ids ||
        (m->tier2->state_bytes && !m->tier2_state)) {
        master_core_free(m);
        return VMCA_ERR_NOMEM;
    }
    for (size_t i = 0; i < cfg->n_nodes; i++) {
        m->nodes[i].cfg = &cfg->nodes[i];
        m->nodes[i].state = VMCA__NODE_STATE__NODE_INACTIVE;
        m->nodes[i].last_stats_ms = -1;
        m->nodes[i].member_since_ms = -1;
        m->nodes[i].census_asked_ms = -1;
        m->index[cfg->nodes[i].id] = (uint16_t)(i + 1);
    }
    for (size_t i = 0; i < cfg->n_nodes; i++)
        m->nodes[i].grant_asked_ms = -1;
    vmca_histo_init(&m->counters.grant_latency_ms, grant_latency_le,
                    sizeof grant_latency_le / sizeof *grant_latency_le);
    vmca_outbox_init(&m->out, cfg->master.node_id, incarnation, cfg->max_frame);
    m->first_ms = -1;
    m->unheard = cfg->n_nodes;
    return VMCA_OK;
}

void master_core_free(struct master_core *m)
{
    free(m->fences);
    m->fences = NULL;
    for (size_t i = 0; m->nodes && i < m->cfg->n_nodes; i++) {
        free(m->nodes[i].owned);
        free(m->nodes[i].lent);
        free(m->nodes[i].vms);
    }
    free(m->nodes);
    free(m->index);
    free(m->donors);
    free(m->fwd);
    free(m->ids);
    free(m->tier2_state);
    vmca_outbox_free(&m->out);
    m->nodes = NULL;
    m->index = NULL;
    m->donors = NULL;
    m->fwd = NULL;
    m->ids = NULL;
    m->tier2_state = NULL;
}

uint64_t master_core_refused_total(const struct master_core *m)
{
    uint64_t n = 0;
    for (unsigned r = 0; r < MASTER_REFUSALS; r++)
        n += m->counters.refused[r];
    return n;
}

static int refuse(struct master_core *m, struct master_node *n, enum refusal why,
                  int err, const char *fmt, const char *what)
{
    uint32_t bit = UINT32_C(1) << why;
    m->counters.refused[why]++;
    if (!(n->refused_logged & bit)) {
        n->refused_logged |= bit;
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_WARN,
                    "refused %s from %s (node %u): %s (logged once)", what,
                    n->cfg->name, n->cfg->id, fmt);
    }
    return err;
}

static void send_enable(struct master_core *m, uint32_t to, uint32_t *nodes,
                        size_t n_nodes)
{
    Vmca__EnableNode en = VMCA__ENABLE_NODE__INIT;
    en.nodes = nodes;
    en.n_nodes = n_nodes;
    en.enable = 1;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &en;
    int rc = vmca_outbox_send(&m->out, to, &env);
    if (rc != VMCA_OK)
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_ERR,
                    "cannot queue enable-node for node %u: %s", to, vmca_strerror(rc));
}

/* Queues a message without fields (Leave-Notify, Invalidate-Notify,
 * LeaveAsk, JoinAsk) to `to`. */
static void send_bare(struct master_core *m, uint32_t to, Vmca__Envelope__BodyCase body)
{
    Vmca__LeaveNotify ln = VMCA__LEAVE_NOTIFY__INIT;
    Vmca__InvalidateNotify in = VMCA__INVALIDATE_NOTIFY__INIT;
    Vmca__LeaveAsk la = VMCA__LEAVE_ASK__INIT;
    Vmca__JoinAsk ja = VMCA__JOIN_ASK__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = body;
    switch (body) {
    case VMCA__ENVELOPE__BODY_LEAVE_NOTIFY: env.leave_notify = &ln; break;
    case VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY: env.invalidate_notify = &in; break;
    case VMCA__ENVELOPE__BODY_LEAVE_ASK: env.leave_ask = &la; break;
    case VMCA__ENVELOPE__BODY_JOIN_ASK: env.join_ask = &ja; break;
    default: assert(!"not a message without fields"); return;
    }
    vmca_outbox_send(&m->out, to, &env);
}

/* Thesis join flow: Enable-Node(R,1) to every other Active node, and the
 * whole enabled set (R included) to R. */
static void announce_join(struct master_core *m, struct master_node *r)
{
    uint32_t *set = m->ids;
    size_t n_set = 0;
    uint32_t rid = r->cfg->id;
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        struct master_node *n = &m->nodes[i];
        if (n->state != VMCA__NODE_STATE__NODE_ACTIVE)
            continue;
        set[n_set++] = n->cfg->id;
        if (n != r)
            send_enable(m, n->cfg->id, &rid, 1);
    }
    send_enable(m, rid, set, n_set);
}

static void start_recovery(struct master_core *m, struct master_node *r, int64_t now_ms,
                           const char *why);
static void queue_fence(struct master_core *m, uint32_t node, bool fenced);
static void send_mem_limit(struct master_core *m, const struct master_node *n);
static void send_vm_limits(struct master_core *m, const struct master_node *n);

/* Tells member `to` about r's flow: Force-Return(r) while r leaves,
 * Invalidate(r) while it recovers. */
static void send_flow(struct master_core *m, uint32_t to, const struct master_node *r)
{
    Vmca__ForceReturn fr = VMCA__FORCE_RETURN__INIT;
    Vmca__InvalidateNode inv = VMCA__INVALIDATE_NODE__INIT;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    if (r->state == VMCA__NODE_STATE__NODE_LEAVING) {
        fr.node = r->cfg->id;
        env.body_case = VMCA__ENVELOPE__BODY_FORCE_RETURN;
        env.force_return = &fr;
    } else {
        inv.node = r->cfg->id;
        env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NODE;
        env.invalidate_node = &inv;
    }
    vmca_outbox_send(&m->out, to, &env);
}

/* ... to every other member (Active or Leaving). */
static void broadcast_flow(struct master_core *m, const struct master_node *r)
{
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        const struct master_node *o = &m->nodes[i];
        if (o != r && vmca_state_member(o->state))
            send_flow(m, o->cfg->id, r);
    }
}

/* Flow messages travel once per connection: members that are not clear yet
 * get them again (they are idempotent) on reconnect and now and then. */
static void resend_flows(struct master_core *m, struct master_node *only, int64_t now_ms)
{
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++) {
        struct master_node *r = m->flows[f].node ? node_by_id(m, m->flows[f].node) : NULL;
        if (!r)
            continue;
        m->flows[f].resent_ms = now_ms;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
            struct master_node *o = &m->nodes[i];
            if (o == r || (only && o != only) || ((o->flow_clear >> f) & 1) ||
                !vmca_state_member(o->state))
                continue;
            send_flow(m, o->cfg->id, r);
        }
    }
}

/* A node that becomes a member while flows run (it registered, or a
 * restarted master rebuilt it) takes part in them; the flows wait for its
 * Statistics. */
static void join_flows(struct master_core *m, struct master_node *n)
{
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++) {
        struct master_node *r = m->flows[f].node ? node_by_id(m, m->flows[f].node) : NULL;
        if (!r || r == n)
            continue;
        n->flow_clear &= ~(UINT64_C(1) << f);
        send_flow(m, n->cfg->id, r);
    }
}

static int on_register(struct master_core *m, struct master_node *n,
                       const Vmca__Envelope *env, int64_t now_ms)
{
    const Vmca__Register *reg = env->register_node;
    if (reg->node != n->cfg->id)
        return refuse(m, n, REFUSE_REGISTER_IDENTITY, VMCA_ERR_AUTH,
                      "register names another node", "register");
    if (n->state == VMCA__NODE_STATE__NODE_ACTIVE && n->incarnation == env->incarnation) {
        /* A resend after a reconnect: answer again, change nothing. */
        announce_join(m, n);
        return VMCA_OK;
    }
    if (n->state == VMCA__NODE_STATE__NODE_LEAVING && n->incarnation == env->incarnation)
        /* The table allows Register only from an Inactive node; the same
         * life of a leaving node has no reason to send one. */
        return refuse(m, n, REFUSE_REGISTER_LEAVING, VMCA_ERR_STATE,
                      "node is leaving (this life registered already)", "register");
    if (vmca_state_member(n->state)) {
        /* A new life of a member: it crashed and rebooted. */
        start_recovery(m, n, now_ms, "restarted without leaving");
        return VMCA_OK;
    }
    if (n->state == VMCA__NODE_STATE__NODE_RECOVERY)
        return refuse(m, n, REFUSE_RECOVERING, VMCA_ERR_STATE,
                      "recovery in progress (register again after invalidate-notify)",
                      "register");
    queue_fence(m, n->cfg->id, false); /* a fresh life may use the fabric */
    n->n_owned = 0;                    /* an earlier life's figures, for the audit */
    n->n_lent = n->n_vms = 0;          /* ... and the metrics */
    n->grant_asked_ms = -1;
    n->targets_set = 0;
    n->n_vms = 0;                      /* ... and for the operator */
    n->lent_pages = n->borrowed_pages = 0;
    n->last_stats_ms = -1;
    /* Forwards to an earlier life died with its memory; this master made
     * none to this life (it has not been a donor yet). */
    n->fwd_recent = n->fwd_older = 0;
    n->state = VMCA__NODE_STATE__NODE_ACTIVE;
    n->member_since_ms = now_ms;
    n->recovered = false;
    n->incarnation = env->incarnation;
    n->local_pages = reg->local_pages;
    n->refused_logged = 0;
    n->leave_asked = false; /* a new life: the operator's ask was for the last */
    vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO,
                "node %u (%s) registered: inactive -> active, %llu local pages",
                n->cfg->id, n->cfg->name, (unsigned long long)reg->local_pages);
    announce_join(m, n);
    join_flows(m, n);
    if (n->mem_cap)
        send_mem_limit(m, n);
    if (n->n_vm_caps)
        send_vm_limits(m, n);
    return VMCA_OK;
}

/* Whether a Statistics message lists `node` as enabled (bitmap or list). */
static bool stats_enables(const Vmca__Statistics *st, uint32_t node)
{
    if (st->enabled_bitmap.len)
        return node / 8 < st->enabled_bitmap.len &&
               (st->enabled_bitmap.data[node / 8] >> (node % 8)) & 1u;
    for (size_t i = 0; i < st->n_enabled; i++)
        if (st->enabled[i] == node)
            return true;
    return false;
}

/* Asks home h (or every member home, h NULL) for a census: every member
 * is asked, whatever each home's enabled set says yet. */
static void census_ask(struct master_core *m, struct master_node *h, int64_t now_ms)
{
    uint32_t *members = m->ids;
    size_t nm = 0;
    for (size_t i = 0; i < m->cfg->n_nodes; i++)
        if (vmca_state_member(m->nodes[i].state))
            members[nm++] = m->nodes[i].cfg->id;
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        struct master_node *x = &m->nodes[i];
        /* A leaving home too: its leave completes only with every page back. */
        if ((h && x != h) || !vmca_state_member(x->state))
            continue;
        Vmca__Census c = VMCA__CENSUS__INIT;
        c.home = x->cfg->id;
        c.members = members;
        c.n_members = nm;
        Vmca__Envelope env = VMCA__ENVELOPE__INIT;
        env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
        env.census = &c;
        if (vmca_outbox_send(&m->out, x->cfg->id, &env) == VMCA_OK) {
            x->census_asked_ms = now_ms;
            m->counters.census_asked++;
        }
    }
}

/* A home whose Statistics say it owes a census (a recovery's whose
 * trigger was lost, say with a master crash; one given up; or the
 * follow-up of one) is asked, with every member: the home runs none by
 * itself, since its enabled set lacks leaving nodes. Asked once no
 * recovery is in progress (so every member has applied every
 * Invalidate), and only after a slave would have given a census up (5
 * intervals): asking sooner would restart a census that cannot finish
 * before it ends, and keep the home's pages frozen. */
static void census_owed(struct master_core *m, struct master_node *h, int64_t now_ms)
{
    int64_t patience = 10 * (int64_t)m->cfg->timing.stats_interval_ms;
    if (!h->census_owed || !vmca_state_member(h->state) || m->first_ms < 0 ||
        now_ms - m->first_ms < (int64_t)m->cfg->timing.failure_timeout_ms ||
        (h->census_asked_ms >= 0 && now_ms - h->census_asked_ms < patience))
        return;
    for (size_t i = 0; i < m->cfg->n_nodes; i++)
        if (m->nodes[i].state == VMCA__NODE_STATE__NODE_RECOVERY)
            return;
    vmca_log_to(m->log, m->log_arg, h->census_owed_logged ? VMCA_LOG_DEBUG : VMCA_LOG_INFO,
                "node %u (%s) owes a census (a recovery's, a given-up one or a "
                "follow-up): asking for it",
                h->cfg->id, h->cfg->name);
    h->census_owed_logged = true;
    census_ask(m, h, now_ms);
}

/* Leave complete when every other Active/Leaving node is clear of R and R
 * holds nothing foreign, nothing in transit, and all its own pages. */
static void check_flows(struct master_core *m, int64_t now_ms)
{
    /* A master that just started does not know every member yet: a flow
     * completed now could miss one (it would keep pages of the node). */
    if (m->first_ms < 0 || now_ms - m->first_ms < (int64_t)m->cfg->timing.failure_timeout_ms)
        return;
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++) {
        struct master_node *r = m->flows[f].node ? node_by_id(m, m->flows[f].node) : NULL;
        if (!r || (r->state != VMCA__NODE_STATE__NODE_LEAVING &&
                   r->state != VMCA__NODE_STATE__NODE_RECOVERY))
            continue;
        bool leaving = r->state == VMCA__NODE_STATE__NODE_LEAVING;
        if (leaving && (r->last_stats_ms < m->flows[f].started_ms || r->holds_foreign ||
                        r->pending || r->unsettled || r->own_pages != r->local_pages))
            continue;
        bool all = true;
        for (size_t i = 0; all && i < m->cfg->n_nodes; i++) {
            const struct master_node *n = &m->nodes[i];
            if (n != r && vmca_state_member(n->state))
                all = (n->flow_clear >> f) & 1;
        }
        if (!all)
            continue;
        r->state = VMCA__NODE_STATE__NODE_INACTIVE;
        if (leaving)
            r->left_inc = r->incarnation;
        if (leaving)
            m->counters.leaves_done++;
        else
            m->counters.recoveries_done++;
        m->flows[f].node = 0;
        send_bare(m, r->cfg->id, leaving ? VMCA__ENVELOPE__BODY_LEAVE_NOTIFY
                                         : VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY);
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO, "node %u (%s) %s after %lld ms",
                    r->cfg->id, r->cfg->name,
                    leaving ? "left: leaving -> inactive" : "recovered: recovery -> inactive",
                    (long long)(now_ms - m->flows[f].started_ms));
        /* After a recovery every home takes a census, so pages the failed
         * node owned (or had in transit) come back to their homes. */
        if (!leaving)
            census_ask(m, NULL, now_ms);
    }
}

/* Starts (or, after a master restart, resumes) a flow for node r. */
static int start_flow(struct master_core *m, struct master_node *r, int64_t now_ms)
{
    unsigned f, free_slot = MASTER_MAX_FLOWS;
    for (f = 0; f < MASTER_MAX_FLOWS; f++) {
        if (m->flows[f].node == r->cfg->id)
            return (int)f;
        if (!m->flows[f].node && free_slot == MASTER_MAX_FLOWS)
            free_slot = f;
    }
    if (free_slot == MASTER_MAX_FLOWS)
        return -1;
    m->flows[free_slot] = (struct master_flow){r->cfg->id, now_ms, now_ms};
    for (size_t i = 0; i < m->cfg->n_nodes; i++)
        m->nodes[i].flow_clear &= ~(UINT64_C(1) << free_slot);
    return (int)free_slot;
}

static void queue_fence(struct master_core *m, uint32_t node, bool fenced)
{
    if (m->n_fences == m->cap_fences) {
        size_t cap = m->cap_fences ? m->cap_fences * 2 : 8;
        struct master_fence *v = realloc(m->fences, cap * sizeof *v);
        if (!v) {
            vmca_log_to(m->log, m->log_arg, VMCA_LOG_ERR, "out of memory queueing a fence");
            return;
        }
        m->fences = v;
        m->cap_fences = cap;
    }
    m->fences[m->n_fences++] = (struct master_fence){node, fenced};
}

struct master_fence *master_core_take_fences(struct master_core *m, size_t *n)
{
    struct master_fence *v = m->fences;
    *n = m->n_fences;
    m->fences = NULL;
    m->n_fences = m->cap_fences = 0;
    return v;
}

/* Recovery of R (crashed, rebooted, or declared failed): R -> Recovery,
 * Invalidate(R) to every other member; Invalidate-Notify to R once all of
 * them show R disabled and none of its pages (check_flows). */
static void start_recovery(struct master_core *m, struct master_node *r, int64_t now_ms,
                           const char *why)
{
    if (start_flow(m, r, now_ms) < 0) {
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_ERR,
                    "cannot recover node %u now: too many flows in progress", r->cfg->id);
        return;
    }
    if (r->state != VMCA__NODE_STATE__NODE_RECOVERY) {
        m->counters.recoveries++;
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_WARN, "node %u (%s) %s: %s -> recovery",
                    r->cfg->id, r->cfg->name, why, vmca_state_name(r->state));
    }
    r->state = VMCA__NODE_STATE__NODE_RECOVERY;
    r->recovered_inc = r->incarnation;
    r->recovered = true;
    broadcast_flow(m, r);
    check_flows(m, now_ms);
}

void master_core_on_tick(struct master_core *m, int64_t now_ms)
{
    if (m->first_ms < 0)
        m->first_ms = now_ms;
    if (!m->rebuilt && !master_core_rebuilding(m, now_ms)) {
        m->rebuilt = true;
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO,
                    "table rebuild window over after %lld ms: nodes join by Register only",
                    (long long)(now_ms - m->first_ms));
    }
    check_flows(m, now_ms);
    int64_t every = 5 * (int64_t)m->cfg->timing.stats_interval_ms;
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++)
        if (m->flows[f].node && now_ms - m->flows[f].resent_ms >= every) {
            resend_flows(m, NULL, now_ms);
            break;
        }
    int64_t timeout = m->cfg->timing.failure_timeout_ms;
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        struct master_node *n = &m->nodes[i];
        if (!vmca_state_member(n->state))
            continue;
        /* A member's Statistics are its proof of life: a slave sends them
         * only while it and its hypervisor run (slave_core.h), so an open
         * connection alone says nothing (the slave may be stopped, or its
         * hypervisor down or hung). */
        int64_t last = n->last_stats_ms > n->member_since_ms ? n->last_stats_ms
                                                             : n->member_since_ms;
        if (last < 0 || now_ms - last < timeout)
            continue;
        /* Fence first: a node that is only cut off or hung must not touch
         * pages that get new owners. */
        queue_fence(m, n->cfg->id, true);
        start_recovery(m, n, now_ms,
                       n->connected ? "failed (connection open, but no statistics)"
                                    : "failed (no connection, no statistics)");
    }
}

/* Leave-Req: R -> Leaving, Force-Return(R) to every other member. A
 * Leaving node re-sends it after a master restart: the flow resumes. */
static int on_leave_req(struct master_core *m, struct master_node *n, const Vmca__Envelope *env,
                        int64_t now_ms)
{
    if (n->state == VMCA__NODE_STATE__NODE_RECOVERY)
        return refuse(m, n, REFUSE_LEAVE, VMCA_ERR_STATE, "node is recovering", "leave-req");
    if (n->state == VMCA__NODE_STATE__NODE_INACTIVE) {
        /* Only a Leaving node re-sending its Leave-Req to a restarted master
         * may start from Inactive here: within the rebuild window, and not
         * a life this master recovered. */
        if (n->left_inc && env->incarnation == n->left_inc) {
            /* Its leave is over; the Leave-Notify was lost (a dropped
             * connection): say it again, change nothing. */
            send_bare(m, n->cfg->id, VMCA__ENVELOPE__BODY_LEAVE_NOTIFY);
            return VMCA_OK;
        }
        if (n->recovered)
            return refuse(m, n, REFUSE_LEAVE_STATE, VMCA_ERR_STATE,
                          "this life of the node was recovered: it must register anew",
                          "leave-req");
        if (!master_core_rebuilding(m, now_ms))
            return refuse(m, n, REFUSE_LEAVE_STATE, VMCA_ERR_STATE,
                          "node is not a member (inactive; the rebuild window is over)",
                          "leave-req");
        n->incarnation = env->incarnation;  /* a restarted master learns it here */
        if (!n->local_pages)
            n->local_pages = n->cfg->tmem_pages;
    }
    if (start_flow(m, n, now_ms) < 0)
        return refuse(m, n, REFUSE_LEAVE, VMCA_ERR_STATE, "too many flows in progress",
                      "leave-req");
    if (!n->incarnation)
        n->incarnation = env->incarnation; /* adopted silently: its life is known now */
    if (n->state != VMCA__NODE_STATE__NODE_LEAVING) {
        m->counters.leaves++;
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO, "node %u (%s) leaving: %s -> leaving",
                    n->cfg->id, n->cfg->name, vmca_state_name(n->state));
    }
    if (n->state == VMCA__NODE_STATE__NODE_INACTIVE)
        n->member_since_ms = now_ms;
    n->state = VMCA__NODE_STATE__NODE_LEAVING;
    broadcast_flow(m, n);
    check_flows(m, now_ms);
    return VMCA_OK;
}

/* HomePages entries of configured nodes into a grow-only array (at most
 * one entry per configured node; others are not kept). False when out of
 * memory (*n is 0 then). */
static bool keep_pages(struct master_core *m, struct master_owned **v, size_t *n, size_t *cap,
                       Vmca__HomePages **in, size_t n_in)
{
    size_t want = n_in < m->cfg->n_nodes ? n_in : m->cfg->n_nodes;
    *n = 0;
    if (want > *cap) {
        struct master_owned *nv = realloc(*v, want * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = want;
    }
    for (size_t i = 0; i < n_in && *n < want; i++)
        if (node_by_id(m, in[i]->node))
            (*v)[(*n)++] = (struct master_owned){in[i]->node, in[i]->pages};
    return true;
}

/* The VMs' figures of the last Statistics (the hypervisor counts puts per
 * period), for the metrics page and vmcactl vms. */
static bool keep_vms(struct master_node *n, const Vmca__Statistics *st)
{
    n->n_vms = 0;
    if (st->n_vms > n->cap_vms) {
        struct master_vm *v = realloc(n->vms, st->n_vms * sizeof *v);
        if (!v)
            return false;
        n->vms = v;
        n->cap_vms = st->n_vms;
    }
    for (size_t i = 0; i < st->n_vms; i++) {
        const Vmca__VmStats *x = st->vms[i];
        n->vms[n->n_vms++] = (struct master_vm){
            x->vm, x->tmem_used, x->mm_target, x->puts_total,
            x->puts_total > x->puts_succ ? x->puts_total - x->puts_succ : 0};
    }
    return true;
}

/* Pages owned per configured home and the targets set, as the audit needs
 * them; pages lent and the VMs' figures for the metrics page. */
static void keep_for_audit(struct master_core *m, struct master_node *n,
                           const Vmca__Statistics *st)
{
    /* Out of memory: the audit then sees this node hold nothing: unbalanced. */
    if (!keep_pages(m, &n->owned, &n->n_owned, &n->cap_owned, st->owned, st->n_owned) ||
        !keep_pages(m, &n->lent, &n->n_lent, &n->cap_lent, st->lent, st->n_lent) ||
        !keep_vms(n, st))
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_ERR, "out of memory keeping statistics");
    n->targets_sum = 0;
    n->targets_set = 0;
    for (size_t i = 0; i < st->n_vms; i++)
        if (st->vms[i]->mm_target != UINT64_MAX) {
            n->targets_sum += st->vms[i]->mm_target;
            n->targets_set++;
        }
}

static void send_vm_limits(struct master_core *m, const struct master_node *n)
{
    Vmca__VmCap caps[MASTER_VM_CAPS], *cp[MASTER_VM_CAPS];
    for (size_t i = 0; i < n->n_vm_caps; i++) {
        caps[i] = (Vmca__VmCap)VMCA__VM_CAP__INIT;
        caps[i].vm = n->vm_caps[i].vm;
        caps[i].pages = n->vm_caps[i].pages;
        cp[i] = &caps[i];
    }
    Vmca__VmLimits vl = VMCA__VM_LIMITS__INIT;
    vl.caps = cp;
    vl.n_caps = n->n_vm_caps;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_VM_LIMITS;
    env.vm_limits = &vl;
    vmca_outbox_send(&m->out, n->cfg->id, &env);
}

/* The node for an operator's command, or NULL with the reason in err. */
static struct master_node *operator_node(struct master_core *m, uint32_t node, char *err,
                                         size_t errlen)
{
    struct master_node *n = node_by_id(m, node);
    if (!n)
        snprintf(err, errlen, "no node %u in the configuration", node);
    return n;
}

/* Refuses (VMCA_ERR_STATE, reason in err) unless n is in state `want`. */
static int operator_state(const struct master_node *n, Vmca__NodeState want, char *err,
                          size_t errlen)
{
    if (n->state == want)
        return VMCA_OK;
    snprintf(err, errlen, "node %u (%s) is %s, not %s", n->cfg->id, n->cfg->name,
             vmca_state_name(n->state), vmca_state_name(want));
    return VMCA_ERR_STATE;
}

/* A cap of `pages` on node (*n), which must be Active and no more than
 * the cluster has (VMCA_ERR_INVAL / VMCA_ERR_STATE, reason in err). */
static int operator_cap(struct master_core *m, uint32_t node, uint64_t pages,
                        struct master_node **n, char *err, size_t errlen)
{
    if (!(*n = operator_node(m, node, err, errlen)))
        return VMCA_ERR_INVAL;
    if (pages > vmca_config_total_pages(m->cfg)) {
        snprintf(err, errlen, "%llu pages is more than the cluster's %llu",
                 (unsigned long long)pages, (unsigned long long)vmca_config_total_pages(m->cfg));
        return VMCA_ERR_INVAL;
    }
    return operator_state(*n, VMCA__NODE_STATE__NODE_ACTIVE, err, errlen);
}

int master_core_vm_cap(struct master_core *m, uint32_t node, uint32_t vm, uint64_t pages,
                       char *err, size_t errlen)
{
    struct master_node *n;
    int rc = operator_cap(m, node, pages, &n, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    size_t i = 0;
    while (i < n->n_vm_caps && n->vm_caps[i].vm != vm)
        i++;
    if (i == n->n_vm_caps && pages && n->n_vm_caps == MASTER_VM_CAPS) {
        snprintf(err, errlen, "node %u (%s) has %d VM caps already (lift one first)", node,
                 n->cfg->name, MASTER_VM_CAPS);
        return VMCA_ERR_INVAL;
    }
    if (pages)
        n->vm_caps[i] = (struct master_vm_cap){vm, pages};
    else if (i < n->n_vm_caps)
        n->vm_caps[i] = n->vm_caps[n->n_vm_caps - 1];
    if (pages && i == n->n_vm_caps)
        n->n_vm_caps++;
    else if (!pages && i < n->n_vm_caps)
        n->n_vm_caps--;
    send_vm_limits(m, n);
    vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO, "mem-set for VM %u of node %u (%s): %llu "
                "pages%s", vm, node, n->cfg->name, (unsigned long long)pages,
                pages ? "" : " (no cap)");
    return VMCA_OK;
}

/* An operator's command to the node itself: LeaveAsk to an Active node,
 * JoinAsk to an Inactive one, over its connection. */
static int operator_ask(struct master_core *m, uint32_t node, bool leave, char *err,
                        size_t errlen)
{
    struct master_node *n = operator_node(m, node, err, errlen);
    if (!n)
        return VMCA_ERR_INVAL;
    int rc = operator_state(n, leave ? VMCA__NODE_STATE__NODE_ACTIVE
                                     : VMCA__NODE_STATE__NODE_INACTIVE, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    if (!n->connected && leave) {
        snprintf(err, errlen, "node %u (%s) is not connected: nothing can tell it to leave",
                 node, n->cfg->name);
        return VMCA_ERR_STATE;
    }
    if (!n->connected) {
        snprintf(err, errlen, "no vmca-slave of node %u (%s) is connected to the master: start "
                 "one on its machine (vmca-slave --config FILE --node %s); vmcactl cannot "
                 "start a process on another machine", node, n->cfg->name, n->cfg->name);
        return VMCA_ERR_NOTFOUND;
    }
    send_bare(m, n->cfg->id, leave ? VMCA__ENVELOPE__BODY_LEAVE_ASK : VMCA__ENVELOPE__BODY_JOIN_ASK);
    n->leave_asked = leave;
    vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO, "operator: asking node %u (%s) to %s",
                n->cfg->id, n->cfg->name, leave ? "leave" : "join");
    return VMCA_OK;
}

int master_core_ask_leave(struct master_core *m, uint32_t node, char *err, size_t errlen)
{
    return operator_ask(m, node, true, err, errlen);
}

int master_core_ask_join(struct master_core *m, uint32_t node, char *err, size_t errlen)
{
    return operator_ask(m, node, false, err, errlen);
}

/* A forwarded Grant-Any of n is seen once n's Statistics show more pages
 * owned than when it asked; given up after failure_timeout_ms. */
static void grant_seen(struct master_core *m, struct master_node *n, int64_t now_ms)
{
    if (n->grant_asked_ms < 0)
        return;
    if (n->total_pages > n->grant_base_total) {
        vmca_histo_observe(&m->counters.grant_latency_ms,
                           (uint64_t)(now_ms - n->grant_asked_ms));
        n->grant_asked_ms = -1;
    } else if (now_ms - n->grant_asked_ms > (int64_t)m->cfg->timing.failure_timeout_ms) {
        m->counters.grant_unseen++;
        n->grant_asked_ms = -1;
    }
}

static void send_mem_limit(struct master_core *m, const struct master_node *n)
{
    Vmca__MemLimit ml = VMCA__MEM_LIMIT__INIT;
    ml.pages = n->mem_cap;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    env.mem_limit = &ml;
    vmca_outbox_send(&m->out, n->cfg->id, &env);
}

int master_core_mem_limit(struct master_core *m, uint32_t node, uint64_t pages, char *err,
                          size_t errlen)
{
    struct master_node *n;
    int rc = operator_cap(m, node, pages, &n, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    n->mem_cap = pages;
    send_mem_limit(m, n);
    vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO, "mem-limit for node %u (%s): %llu pages%s",
                node, n->cfg->name, (unsigned long long)pages, pages ? "" : " (no cap)");
    return VMCA_OK;
}

/* An Enable-Node sent while a node's connection was down is lost with it:
 * the first Statistics after a reconnect show which Active members it has
 * not enabled, and it is told again (Enable-Node is idempotent). */
static void enable_missing(struct master_core *m, struct master_node *n,
                           const Vmca__Statistics *st)
{
    uint32_t *miss = m->ids;
    size_t k = 0;
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        const struct master_node *x = &m->nodes[i];
        if (x != n && x->state == VMCA__NODE_STATE__NODE_ACTIVE &&
            !stats_enables(st, x->cfg->id))
            miss[k++] = x->cfg->id;
    }
    if (k) {
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO,
                    "node %u had not enabled %zu active member(s): enable-node again",
                    n->cfg->id, k);
        send_enable(m, n->cfg->id, miss, k);
    }
}

static int on_statistics(struct master_core *m, struct master_node *n,
                         const Vmca__Envelope *env, int64_t now_ms)
{
    const Vmca__Statistics *st = env->statistics;
    bool rebuilding = master_core_rebuilding(m, now_ms);
    if (n->state == VMCA__NODE_STATE__NODE_INACTIVE) {
        if (st->state != VMCA__NODE_STATE__NODE_ACTIVE &&
            st->state != VMCA__NODE_STATE__NODE_LEAVING)
            return refuse(m, n, REFUSE_STATS_STATE, VMCA_ERR_STATE,
                          "node is not registered", "statistics");
        if (st->state == VMCA__NODE_STATE__NODE_LEAVING && n->left_inc &&
            env->incarnation == n->left_inc)
            return VMCA_OK; /* its leave is over: its Leave-Req gets Leave-Notify again */
        if (n->recovered) {
            /* A node we recovered (declared failed while it was alive, e.g.
             * partitioned) still believes it is a member: tell it. */
            send_bare(m, n->cfg->id, VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY);
            return refuse(m, n, REFUSE_STATS_STATE, VMCA_ERR_STATE,
                          "this life of the node was recovered: it must register anew",
                          "statistics");
        }
        /* A node's own word on its state is taken only while a restarted
         * master rebuilds its table; after that, a node this master does
         * not hold as a member is not one (it registers, or it is a node
         * that claims what it has no right to: nothing changes). */
        if (!rebuilding)
            return refuse(m, n, REFUSE_STATS_UNKNOWN, VMCA_ERR_STATE,
                          "node is not a member (inactive; the rebuild window is over)",
                          "statistics");
        if (st->state == VMCA__NODE_STATE__NODE_LEAVING)
            return VMCA_OK; /* its Leave-Req (re-sent after our restart) follows */
        /* Master restart: an Active node tells us so; adopt it. */
        n->state = VMCA__NODE_STATE__NODE_ACTIVE;
        n->member_since_ms = now_ms;
        n->incarnation = env->incarnation;
        n->local_pages = n->cfg->tmem_pages;
        /* Our predecessor may have just forwarded to it, and these figures
         * may predate that: not a donor until its next Statistics. */
        n->fwd_recent = UINT64_MAX;
        vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO,
                    "node %u (%s) is active by its own statistics: table rebuilt",
                    n->cfg->id, n->cfg->name);
        announce_join(m, n); /* members that registered meanwhile learn of it */
        join_flows(m, n);
    }
    /* After a master restart, members still list nodes we have not heard
     * from: they are members too (silent ones), so failure detection runs.
     * Only while rebuilding: later, a member's word cannot make another
     * node a member. */
    for (size_t i = 0; rebuilding && m->unheard && i < m->cfg->n_nodes; i++) {
        struct master_node *x = &m->nodes[i];
        if (x != n && !x->heard && x->state == VMCA__NODE_STATE__NODE_INACTIVE &&
            stats_enables(st, x->cfg->id)) {
            mark_heard(m, x);
            x->state = VMCA__NODE_STATE__NODE_ACTIVE;
            x->local_pages = x->cfg->tmem_pages;
            x->member_since_ms = now_ms;
            x->fwd_recent = UINT64_MAX; /* as above: from its second Statistics */
            vmca_log_to(m->log, m->log_arg, VMCA_LOG_INFO,
                        "node %u (%s) is a member by node %u's statistics but silent: "
                        "active until it reports or times out", x->cfg->id, x->cfg->name,
                        n->cfg->id);
            announce_join(m, x);
            join_flows(m, x);
        }
    }
    if (!n->incarnation && vmca_state_member(n->state))
        n->incarnation = env->incarnation; /* adopted silently: its life is known now */
    if (n->check_enabled && n->state == VMCA__NODE_STATE__NODE_ACTIVE) {
        n->check_enabled = false;
        enable_missing(m, n, st);
        /* A slave drops its cap when it loses the master: tell it again. */
        if (n->mem_cap)
            send_mem_limit(m, n);
        if (n->n_vm_caps)
            send_vm_limits(m, n);
    }
    n->last_stats_ms = now_ms;
    n->stats_count++;
    n->total_pages = st->total_pages;
    n->free_pages = st->free_pages;
    grant_seen(m, n, now_ms);
    /* What was forwarded before the previous Statistics is in these
     * figures; what was forwarded since may not be (see fwd_recent). A
     * Grant-Fwd the donor served only in part, or never got (its
     * connection dropped), is released the same way: these figures are
     * then what it really has free. A silent donor releases nothing but is
     * no donor either (not connected, or failed after failure_timeout). */
    n->fwd_older = n->fwd_recent;
    n->fwd_recent = 0;
    n->pending = st->pending_transfers;
    n->unsettled = st->unsettled;
    n->census_owed = st->census_owed;
    if (!n->census_owed)
        n->census_owed_logged = false;
    n->own_pages = 0;
    n->holds_foreign = false;
    n->borrowed_pages = 0;
    for (size_t i = 0; i < st->n_owned; i++) {
        if (st->owned[i]->node == n->cfg->id)
            n->own_pages = st->owned[i]->pages;
        else if (st->owned[i]->pages) {
            n->holds_foreign = true;
            n->borrowed_pages = add_sat(n->borrowed_pages, st->owned[i]->pages);
        }
    }
    n->lent_pages = 0;
    for (size_t i = 0; i < st->n_lent; i++)
        n->lent_pages = add_sat(n->lent_pages, st->lent[i]->pages);
    keep_for_audit(m, n, st);
    for (unsigned f = 0; f < MASTER_MAX_FLOWS; f++) {
        uint32_t r = m->flows[f].node;
        if (!r || r == n->cfg->id)
            continue;
        bool clear = st->pending_transfers == 0 && st->unsettled == 0 && !stats_enables(st, r);
        for (size_t i = 0; clear && i < st->n_owned; i++)
            clear = st->owned[i]->node != r || st->owned[i]->pages == 0;
        if (clear)
            n->flow_clear |= UINT64_C(1) << f;
        else
            n->flow_clear &= ~(UINT64_C(1) << f);
    }
    check_flows(m, now_ms);
    census_owed(m, n, now_ms);
    return VMCA_OK;
}

/* Whether d may give to requester r: another Active node (not Leaving,
 * Recovering, or fenced: a fenced node is in Recovery until it registers
 * anew), connected, that has sent Statistics (so its figures are this
 * life's). */
static bool donor_eligible(const struct master_node *r, const struct master_node *d)
{
    return d != r && d->state == VMCA__NODE_STATE__NODE_ACTIVE && d->connected &&
           d->last_stats_ms >= 0;
}

/* d's free pages as the second tier sees them: reported minus spoken for. */
static uint64_t donor_free(const struct master_node *d)
{
    uint64_t spoken = master_node_spoken_for(d);
    return d->free_pages > spoken ? d->free_pages - spoken : 0;
}

/* Grant-Any(n, x): the second tier picks donors among the other Active
 * nodes; each gets a Grant-Fwd. A donor's free pages as the policy sees
 * them are its last reported ones minus what is spoken for, so a burst of
 * requests, or one that crosses the donor's Statistics, does not promise
 * the same pages twice and the reserve holds. */
static int on_grant_any(struct master_core *m, struct master_node *n, const Vmca__GrantAny *ga,
                        int64_t now_ms)
{
    if (n->state != VMCA__NODE_STATE__NODE_ACTIVE)
        return refuse(m, n, REFUSE_GRANT_ANY, VMCA_ERR_STATE, "node is not active", "grant-any");
    if (ga->node != n->cfg->id || ga->pages == 0 || ga->pages > VMCA_GFN_INDEX_MASK)
        return refuse(m, n, REFUSE_GRANT_ANY, VMCA_ERR_PROTO,
                      "must name the sender and ask for 1..2^36 pages", "grant-any");
    m->counters.grant_any++;
    m->counters.grant_any_pages += ga->pages;
    size_t nd = 0;
    struct tier2_donor *donors = m->donors;
    struct tier2_fwd *fwd = m->fwd;
    for (size_t i = 0; i < m->cfg->n_nodes; i++) {
        const struct master_node *d = &m->nodes[i];
        if (donor_eligible(n, d))
            donors[nd++] = (struct tier2_donor){d->cfg->id, donor_free(d), d->cfg->location,
                                                d->cfg->location_len};
    }
    struct tier2_request rq = {n->cfg->id, ga->pages, m->cfg->policy.reserve_pages, donors, nd,
                               n->cfg->location, n->cfg->location_len};
    size_t nf = m->tier2->decide(&rq, m->cfg->policy.second_tier_params, m->tier2_state, fwd,
                                 m->cfg->n_nodes);
    uint64_t promised = 0, reserve = m->cfg->policy.reserve_pages;
    size_t sent = 0;
    for (size_t i = 0; i < nf; i++) {
        /* Whatever a policy chose, no donor that is not one, and none below
         * the reserve counting what is spoken for (this request's earlier
         * forwards to it included): a policy cannot break what docs promise. */
        struct master_node *d = node_by_id(m, fwd[i].donor);
        if (!d || !donor_eligible(n, d))
            continue;
        uint64_t free = donor_free(d), spare = free > reserve ? free - reserve : 0;
        uint64_t pages = fwd[i].pages < spare ? fwd[i].pages : spare;
        if (pages == 0)
            continue;
        Vmca__GrantFwd gf = VMCA__GRANT_FWD__INIT;
        gf.donor = fwd[i].donor;
        gf.requester = n->cfg->id;
        gf.pages = pages;
        gf.req = ga->req;
        Vmca__Envelope env = VMCA__ENVELOPE__INIT;
        env.body_case = VMCA__ENVELOPE__BODY_GRANT_FWD;
        env.grant_fwd = &gf;
        if (vmca_outbox_send(&m->out, fwd[i].donor, &env) != VMCA_OK)
            continue;
        d->fwd_recent = add_sat(d->fwd_recent, pages);
        promised += pages;
        sent++;
        m->counters.grant_fwd++;
        m->counters.grant_fwd_pages += pages;
    }
    if (!sent) {
        m->counters.grant_unserved++;
    } else if (n->grant_asked_ms < 0) { /* a repeated ask waits from the first */
        n->grant_asked_ms = now_ms;
        n->grant_base_total = n->total_pages;
    }
    vmca_log_to(m->log, m->log_arg, VMCA_LOG_DEBUG, /* per request: debug */
                "grant-any %llu from node %u (req %llu): forwarded %llu pages to %zu donor(s)",
                (unsigned long long)ga->pages, n->cfg->id, (unsigned long long)ga->req,
                (unsigned long long)promised, sent);
    return VMCA_OK;
}

int master_core_on_message(struct master_core *m, uint32_t node,
                           const Vmca__Envelope *env, int64_t now_ms)
{
    if (m->first_ms < 0)
        m->first_ms = now_ms;
    struct master_node *n = node_by_id(m, node);
    if (!n) {
        m->counters.refused[REFUSE_UNKNOWN_NODE]++;
        return VMCA_ERR_AUTH; /* the shell only admits configured nodes */
    }
    mark_heard(m, n);
    const char *what = vmca_body_name(env->body_case);
    switch (env->body_case) {
    case VMCA__ENVELOPE__BODY_REGISTER_NODE:
        return on_register(m, n, env, now_ms);
    case VMCA__ENVELOPE__BODY_STATISTICS:
        return on_statistics(m, n, env, now_ms);
    case VMCA__ENVELOPE__BODY_GRANT_ANY:
        return on_grant_any(m, n, env->grant_any, now_ms);
    case VMCA__ENVELOPE__BODY_LEAVE_REQ:
        return on_leave_req(m, n, env, now_ms);
    case VMCA__ENVELOPE__BODY_INVALIDATE:
        if (n->state == VMCA__NODE_STATE__NODE_INACTIVE && !n->incarnation)
            n->local_pages = n->cfg->tmem_pages; /* a restarted master meets it */
        start_recovery(m, n, now_ms, "reports a crash");
        return VMCA_OK;
    case VMCA__ENVELOPE__BODY_CENSUS_REPLY:
        return refuse(m, n, REFUSE_NOT_YET, VMCA_ERR_STATE,
                      "this flow is not implemented by this master yet", what);
    default:
        return refuse(m, n, REFUSE_NOT_FOR_MASTER, VMCA_ERR_PROTO,
                      "not a message a slave sends to the master", what);
    }
}

void master_core_on_connect(struct master_core *m, uint32_t node,
                            uint64_t incarnation, int64_t now_ms)
{
    struct master_node *n = node_by_id(m, node);
    if (m->first_ms < 0)
        m->first_ms = now_ms;
    if (!n)
        return;
    /* Not heard yet: a connection says nothing of the node's state, and a
     * node that other members list but that stays silent must still be
     * adopted as a member (failure detection, census). */
    n->connected = true;
    n->check_enabled = true;
    resend_flows(m, n, now_ms);
    /* A LeaveAsk lost with a dropped connection is asked again: the
     * operator's vmcactl leave is waiting for it. */
    if (n->leave_asked && n->state == VMCA__NODE_STATE__NODE_ACTIVE)
        send_bare(m, n->cfg->id, VMCA__ENVELOPE__BODY_LEAVE_ASK);
    if (n->refused_inc != incarnation) {
        n->refused_inc = incarnation;
        n->refused_logged = 0; /* a new life gets its own log lines */
    }
}

void master_core_on_disconnect(struct master_core *m, uint32_t node, int64_t now_ms)
{
    struct master_node *n = node_by_id(m, node);
    (void)now_ms; /* liveness counts Statistics, not connections */
    if (n)
        n->connected = false;
}
