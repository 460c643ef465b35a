/* The master (MM-M) as a pure core: node table and node life cycle
 * (Inactive -> Active on Register; Leaving/Recovery edges come with the
 * leave and recovery flows). Events in (connection up/down, decoded
 * messages, all stamped with the caller's clock in ms), frames out through
 * an outbox. No sockets, clocks or globals: the daemon and the simulator
 * drive the same code. Soft state only: after a restart the table is rebuilt
 * from what the slaves say (Register, or Statistics from an Active node). */
#ifndef VMCA_MASTER_CORE_H
#define VMCA_MASTER_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "histo.h"
#include "log.h"
#include "outbox.h"

struct tier2_policy;
struct tier2_donor;
struct tier2_fwd;

/* Per-VM caps the operator may set on one node (vmcactl mem-set). */
#define MASTER_VM_CAPS 64

/* One VM's figures from its node's last Statistics (for vmcactl vms). */
struct master_vm {
    uint32_t vm;
    uint64_t used;                    /* tmem pages in use */
    uint64_t target;                  /* UINT64_MAX: none set */
    uint64_t puts, failed;            /* of the node's last period */
};

struct master_vm_cap {
    uint32_t vm;
    uint64_t pages;                   /* at least 1 */
};

struct master_node {
    const struct vmca_node_cfg *cfg;  /* points into the configuration */
    Vmca__NodeState state;
    bool connected;
    uint64_t incarnation;             /* from Hello / Register; 0 unknown */
    int64_t last_stats_ms;            /* -1: no Statistics yet */
    uint64_t stats_count;
    uint64_t local_pages;             /* from Register */
    uint64_t total_pages;             /* from the last Statistics */
    uint64_t free_pages;
    /* Pages forwarded to this node as a donor (Grant-Fwd) that its
     * Statistics may not show given yet: "spoken for", taken off its free
     * pages for the second tier. A Statistics that arrives after a
     * Grant-Fwd was sent may have been sampled before the Grant-Fwd reached
     * the donor (they cross); the one after it was sampled an interval
     * later, after the donor queued the Request hypercall (hypercalls run
     * in order), so it shows the grant, or shows that less was free (if
     * the Grant-Fwd and the crossing Statistics take less than an interval
     * together on the network: docs/protocol.md).
     * Hence two buckets moved on by each of its Statistics: fwd_recent
     * (forwarded since its last Statistics) becomes fwd_older, and
     * fwd_older is released. UINT64_MAX: unknown (a restarted master does
     * not know what its predecessor forwarded), i.e. all its pages. */
    uint64_t fwd_recent;
    uint64_t fwd_older;
    uint32_t refused_logged;          /* bit per refusal reason, log once */
    uint64_t refused_inc;             /* ... for this life (from its connection) */
    /* From the last Statistics: */
    uint64_t own_pages;               /* pages of its own home it owns */
    bool holds_foreign;               /* owns pages of another home */
    uint32_t pending;                 /* transfers in transit */
    uint32_t unsettled;               /* its figures may miss page moves */
    bool census_owed;                 /* a census of its home is owed since a recovery */
    bool census_owed_logged;          /* ... and we said so once */
    int64_t census_asked_ms;          /* last census trigger sent; -1 never */
    uint64_t flow_clear;              /* bit f: clear of flow f's node (below) */
    int64_t member_since_ms;          /* became a member of this master's table
                                         (registered or adopted); -1 never */
    bool heard;                       /* reported its state since we started (a
                                         connection alone does not count) */
    bool check_enabled;               /* reconnected: compare its enabled set */
    bool leave_asked;                 /* the operator asked it to leave (LeaveAsk):
                                         asked again on each reconnect while Active */
    uint64_t mem_cap;                 /* Mem-Limit given by the operator, 0 none */
    uint64_t recovered_inc;           /* the incarnation we last recovered */
    uint64_t left_inc;                /* the incarnation whose leave we completed */
    bool recovered;                   /* recovered by this master and not
                                         registered since (its incarnation may
                                         be unknown: a silent member) */
    /* For the audit, from the last Statistics: pages owned per home, and
     * the per-VM targets that are set (sum; targets_set 0: none). */
    struct master_owned {
        uint32_t home;
        uint64_t pages;
    } *owned;
    size_t n_owned, cap_owned;
    uint64_t targets_sum;
    size_t targets_set;
    /* For the operator (vmcactl nodes, vms), from the last Statistics. */
    uint64_t lent_pages;              /* own pages other nodes own */
    uint64_t borrowed_pages;          /* pages of other homes it owns */
    struct master_vm *vms;
    size_t n_vms, cap_vms;
    /* The operator's per-VM caps: sent (VmLimits, the whole set) now and
     * whenever the node registers or reconnects, like mem_cap. */
    struct master_vm_cap vm_caps[MASTER_VM_CAPS];
    size_t n_vm_caps;
    /* For the metrics page, from the last Statistics: own pages lent per
     * borrower (configured nodes only) and the VMs' figures. */
    struct master_owned *lent;
    size_t n_lent, cap_lent;
    /* Grant latency: a Grant-Any of this node was forwarded at
     * grant_asked_ms (-1: none waits) when its Statistics said it owned
     * grant_base_total pages; its first Statistics that say more end it. */
    int64_t grant_asked_ms;
    uint64_t grant_base_total;
};

/* Reasons the master refuses a message, counted in master_counters. */
#define MASTER_REFUSALS 12
/* Snake-case name of reason r < MASTER_REFUSALS ("register_state", ...). */
const char *master_refusal_name(unsigned r);
struct master_core;
/* Every message refused so far, whatever the reason. */
uint64_t master_core_refused_total(const struct master_core *m);

/* What the master counts for its metrics page: plain counters bumped by
 * the core, read by the shell (master/master_metrics.c). */
struct master_counters {
    uint64_t grant_any;               /* Grant-Any received and accepted */
    uint64_t grant_any_pages;         /* ... pages they asked for */
    uint64_t grant_fwd;               /* Grant-Fwd sent to donors */
    uint64_t grant_fwd_pages;         /* ... pages they forwarded */
    uint64_t grant_unserved;          /* accepted Grant-Any that found no donor */
    uint64_t grant_unseen;            /* forwarded, and the requester's Statistics did
                                         not show more pages within failure_timeout_ms */
    struct vmca_histo grant_latency_ms; /* forwarded Grant-Any -> requester's first
                                           Statistics that show more pages owned */
    uint64_t refused[MASTER_REFUSALS];
    uint64_t census_asked;            /* Census triggers sent to homes */
    uint64_t recoveries;              /* recovery flows started */
    uint64_t recoveries_done;         /* ... completed (Invalidate-Notify) */
    uint64_t leaves;                  /* leave flows started */
    uint64_t leaves_done;             /* ... completed (Leave-Notify) */
};

/* Fencing through the fabric (the shell carries it out): a node declared
 * failed is fenced before its pages are reused; a fresh registration
 * lifts the fence. */
struct master_fence {
    uint32_t node;
    bool fenced;
};

/* A leave or a recovery in progress: the master waits until every
 * other node's Statistics, sent after the flow began, show `node` disabled,
 * none of its pages held and nothing in transit. */
#define MASTER_MAX_FLOWS 64
struct master_flow {
    uint32_t node;                    /* 0: slot free */
    int64_t started_ms;
    int64_t resent_ms;                /* last re-send to members not yet clear */
};

struct master_core {
    const struct vmca_config *cfg;    /* borrowed; outlives the core */
    struct master_node *nodes;        /* one per configured node, config order */
    uint16_t *index;                  /* node id -> index + 1 (0: unknown) */
    struct vmca_outbox out;
    vmca_log_fn log;
    void *log_arg;
    struct master_flow flows[MASTER_MAX_FLOWS];
    size_t unheard;                   /* nodes not heard of since we started */
    bool rebuilt;                     /* the rebuild window is over (logged) */
    int64_t first_ms;                 /* first event seen (-1 none): members
                                         get a failure timeout to report
                                         before any flow completes */
    struct master_fence *fences;      /* fencing actions for the shell */
    size_t n_fences, cap_fences;
    const struct tier2_policy *tier2; /* policy.second_tier (master/policy) */
    void *tier2_state;                /* its own state, NULL when it keeps none */
    /* Scratch space sized to the node table at init: no event allocates. */
    struct tier2_donor *donors;       /* a Grant-Any's eligible donors */
    struct tier2_fwd *fwd;            /* ... and the policy's choice */
    uint32_t *ids;                    /* node ids for one message being built */
    struct master_counters counters;
};

/* Returns 0, VMCA_ERR_NOMEM, or VMCA_ERR_CONFIG when policy.second_tier is
 * not a built second tier (logged). `incarnation` is the master's own. */
int master_core_init(struct master_core *m, const struct vmca_config *cfg,
                     uint64_t incarnation, vmca_log_fn log, void *log_arg);
void master_core_free(struct master_core *m);

/* A slave's connection passed Hello (identity already checked). */
void master_core_on_connect(struct master_core *m, uint32_t node,
                            uint64_t incarnation, int64_t now_ms);
void master_core_on_disconnect(struct master_core *m, uint32_t node, int64_t now_ms);

/* One message from `node` (the TLS identity of its connection). Returns 0
 * when accepted, or VMCA_ERR_STATE / VMCA_ERR_AUTH / VMCA_ERR_PROTO when
 * refused; a refused message changes no state and is logged once per node
 * and reason. */
int master_core_on_message(struct master_core *m, uint32_t node,
                           const Vmca__Envelope *env, int64_t now_ms);

/* Timer: failure detection. A member (Active or Leaving) whose Statistics
 * have not arrived for timing.failure_timeout_ms (counted from its last
 * Statistics, or from when it became a member of this table) is fenced and
 * recovered (Invalidate to all), whether or not its connection is open: a
 * hung slave, or one whose hypervisor is down or hung (it stops sending
 * Statistics then), is failed. Call at least every few hundred ms. */
void master_core_on_tick(struct master_core *m, int64_t now_ms);

/* The operator caps the pages `node` keeps for its own VMs (0 lifts the
 * cap): Mem-Limit now, and again whenever the node registers or
 * reconnects (the cap lives here, in soft state: a restarted master has
 * none). Returns 0, or VMCA_ERR_INVAL (no such node) / VMCA_ERR_STATE (not
 * Active) with the reason in err. */
int master_core_mem_limit(struct master_core *m, uint32_t node, uint64_t pages, char *err,
                          size_t errlen);

/* The operator caps VM `vm` of `node` at `pages` (0 lifts it): the node
 * gets its whole set of caps (VmLimits) now, and again whenever it
 * registers or reconnects. Returns 0, or VMCA_ERR_INVAL (no such node,
 * more pages than the cluster has, MASTER_VM_CAPS caps set already) /
 * VMCA_ERR_STATE (not Active) with the reason in err; nothing changes
 * then. */
int master_core_vm_cap(struct master_core *m, uint32_t node, uint32_t vm, uint64_t pages,
                       char *err, size_t errlen);

/* The operator asks `node` to leave (LeaveAsk): the node answers with
 * Leave-Req and the leave flow runs as for a stop signal, but the slave
 * stays running, Inactive, after Leave-Notify. Returns 0, or
 * VMCA_ERR_INVAL (no such node) / VMCA_ERR_STATE (not Active, or not
 * connected) with the reason in err. */
int master_core_ask_leave(struct master_core *m, uint32_t node, char *err, size_t errlen);

/* The operator asks an Inactive `node` to register (JoinAsk). Returns 0,
 * VMCA_ERR_INVAL (no such node), VMCA_ERR_STATE (not Inactive) or
 * VMCA_ERR_NOTFOUND (no slave of it is connected: nothing can tell it),
 * with the reason in err. */
int master_core_ask_join(struct master_core *m, uint32_t node, char *err, size_t errlen);

/* Whether the master is still rebuilding its table after its start: the
 * first timing.failure_timeout_ms + timing.reconnect_max_ms (every live
 * slave reconnects within the reconnect cap and reports at once). Only
 * then is a node adopted from its own Statistics or Leave-Req, or from
 * members' Statistics listing it as enabled. */
bool master_core_rebuilding(const struct master_core *m, int64_t now_ms);

/* Hands the queued fencing actions to the caller (free() the array). */
struct master_fence *master_core_take_fences(struct master_core *m, size_t *n);

/* What of n's free pages the second tier may not hand out again (see
 * fwd_recent): forwarded and not yet shown by its Statistics. Saturates. */
uint64_t master_node_spoken_for(const struct master_node *n);

/* Node table entry for id, or NULL. */
const struct master_node *master_core_node(const struct master_core *m, uint32_t id);
/* The action queue its driver drains (vmca_outbox_take). */
struct vmca_outbox *master_core_outbox(struct master_core *m);

#endif
