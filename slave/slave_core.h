/* A node's memory manager (vmca-slave) as a pure core. Today it registers
 * with the master, keeps the enabled bitmap (homes whose pages it accepts)
 * and reports Statistics every interval; grants, leave and recovery join it
 * with the later flows. Events in, frames out (outbox), time passed in. */
#ifndef VMCA_SLAVE_CORE_H
#define VMCA_SLAVE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"
#include "config.h"
#include "first_tier_policy.h"
#include "log.h"
#include "outbox.h"
#include "pbblocks.h"
#include "tkm_types.h"
#include "transfer.h"

/* Context of a hypercall awaiting its reply. */
struct slave_pending {
    uint64_t id;
    enum tkm_call_kind kind;
    uint32_t peer;          /* request: receiver; grant: sender */
    uint64_t req;           /* request: the Grant-Fwd's req */
    uint64_t peer_inc;      /* grant: sender's incarnation */
    uint64_t xfer;          /* grant: sender's transfer id */
    uint64_t grant_req;     /* grant: the req the transfer served */
    uint64_t round;         /* owned: the census round to answer */
    uint64_t pages;         /* request: pages asked for */
};

/* The census (leak-free recovery, slave_census.c): of this node's home,
 * ask every live peer which of our pages it holds, then take back the
 * rest; and the freezes of other homes whose census we answer. */
struct slave_census {
    uint64_t round;
    bool running;
    uint64_t invalidates_at_start;     /* invalidates when this round began */
    bool finish_waits;                 /* every answer is in, but a Request hypercall
                                          made before the freeze is unanswered */
    int64_t started_ms;
    struct vmca_bitmap waiting;        /* peers that have not answered */
    struct vmca_block *held;
    uint32_t *owners;
    size_t n, cap, cap_owners;         /* held and owners: n entries each */
    /* A census is owed from then on (0: none): the follow-up of one that
     * ended, or one given up. The master asks for it (census_owed). */
    int64_t followup_ms;
    /* Invalidate(x) applied, and how many of them the last census that
     * ran to its end began after: while fewer, a census is owed. */
    uint64_t invalidates, covered;
    int64_t *frozen_until;             /* by node index: census of that home */
    uint64_t *answered;                /* by node index: round of that home we answered */
};

/* Hypercalls awaiting replies (slave_actions.c). */
/* A queue of hypercalls with their payloads in grow-only arenas (no
 * allocation per call once warm); payloads are found by offset until the
 * queue is taken, when the calls' pointers are set. */
struct slave_call_off {
    size_t blocks, owners, targets;   /* SIZE_MAX: none */
};

struct slave_callq {
    struct tkm_call *v;
    struct slave_call_off *off;
    size_t n, cap, cap_off;
    struct vmca_block *blocks;
    size_t n_blocks, cap_blocks;
    uint32_t *owners;
    size_t n_owners, cap_owners;
    struct vm_target *targets;
    size_t n_targets, cap_targets;
};

struct slave_actions {
    struct slave_pending *pend;
    size_t n_pend, cap_pend;
    uint64_t next_hc_id;
};

/* Blocks handed over recently (acknowledged): census answers report them
 * too, so a transfer that completes around a census is seen. */
struct slave_recent {
    struct vmca_block block;
    uint32_t to;
    int64_t acked_ms;
};

/* Grants, Grant-Any and recent handovers (slave_transfers.c); the
 * transfers in transit are s->xfers. */
struct slave_transfers {
    uint64_t next_req;                 /* Grant-Any request ids */
    uint64_t grant_any_req;            /* outstanding Grant-Any, 0 none */
    int64_t grant_any_ms;
    int64_t next_resend_ms;
    struct vmca_bitmap leaving_peers;  /* Force-Return received (until re-enabled) */
    struct slave_recent *recent;
    size_t n_recent, cap_recent;
};

/* Leaving and returning other homes' pages (slave_leave.c). */
struct slave_leave {
    struct vmca_bitmap returning;      /* homes whose pages go back to them */
    struct vmca_bitmap pending;        /* a Return hypercall is in flight */
    struct vmca_bitmap stuck;          /* logged: in-use pages cannot move */
};

/* Surplus returns (slave_leave.c): free pages of other homes this node no
 * longer needs go back to their homes. */
struct slave_surplus {
    uint32_t quiet;                    /* periods in a row with no failed put and no
                                          Grant-Any outstanding (capped) */
    uint32_t quiet_needed;             /* before a round: the setting, doubled
                                          each time the node asked again soon after
                                          giving back */
    uint32_t since_given;              /* periods since a round gave pages; UINT32_MAX
                                          none since the last ask */
    uint32_t in_flight;                /* Surplus hypercalls not answered yet */
    uint64_t given;                    /* pages given back so far (logs, tests) */
};

/* First tier (slave_targets.c): the policy, the targets last sent to the
 * hypervisor, and the pages this node owns by the last sample and the
 * hypercalls since. Target arrays hold `cap` entries (grown with the VMs
 * a sample reports, never per period). */
struct slave_first_tier {
    const struct ft_policy *policy;    /* from the registry, by cfg's name */
    bool sets_targets;                 /* ft_policy_sets_targets for this node */
    void *state;                       /* the policy's, state_size bytes */
    struct vm_target *targets, *next;  /* in force; the policy's scratch */
    size_t n_targets, cap, cap_next;
    /* The last period's targets before fitting (what was asked for), one
     * per target in force while n_wanted == n_targets. */
    struct vm_target *wanted;
    size_t n_wanted, cap_wanted;
    bool sample_fresh;                 /* policy not yet run on hv */
    bool limits_stale;                 /* the hypervisor refused the last Mem-Limit */
    uint64_t owned_now;
    uint32_t unsettled;                /* page-moving replies since the sample */
    uint64_t mem_cap;                  /* master's Mem-Limit: pages for our VMs, 0 none */
    /* The master's per-VM caps (VmLimits) over the configured settings
     * (slave_vmcaps.c): vm_caps of them, settings valid while non-zero. */
    size_t vm_caps;
    struct ft_vm_settings *settings;
    size_t n_settings, cap_settings;
    uint64_t requesting;               /* pages of Request hypercalls not answered yet */
};

/* Space the hypervisor's sample and the Statistics are built in, grown
 * with what a sample reports (slave_report.c). */
struct slave_report_room {
    struct tkm_sample spare;           /* the sample before the last one */
    size_t cap_owned, cap_lent, cap_vms;       /* of hv */
    size_t spare_owned, spare_lent, spare_vms; /* of spare */
    Vmca__HomePages *hp, **hpp;
    Vmca__VmStats *vs, **vsp;
    size_t cap_hp, cap_hpp, cap_vs, cap_vsp;
    uint8_t *bits;                     /* enabled bitmap, up to the top node id */
    size_t nbits_bytes;
};

/* Why a slave refuses a message (slave_refused), counted per reason. */
enum slave_refusal {
    SLAVE_REFUSE_SENDER,               /* not a sender allowed for that message */
    SLAVE_REFUSE_STATE,                /* not in a state that allows it */
    SLAVE_REFUSE_INVALID,              /* its contents are not valid */
    SLAVE_REFUSE_UNHANDLED,            /* a message this slave does not handle */
    SLAVE_REFUSE_BLOCKS,               /* a grant's blocks the hypervisor rejected */
    SLAVE_REFUSALS
};
/* Snake-case name of reason r ("sender", "state", ...). */
const char *slave_refusal_name(unsigned r);

/* What the slave counts for its metrics page: plain counters bumped by the
 * core, read by the shell (slave/slave_metrics.c). Resends are not
 * counted again. */
struct slave_counters {
    uint64_t grant_any, grant_any_pages;       /* Grant-Any sent, pages asked */
    uint64_t grant_fwd, grant_fwd_pages;       /* Grant-Fwd taken (Request hypercalls) */
    uint64_t grants_sent, grant_pages_sent, grant_blocks_sent;  /* transfers started */
    uint64_t grants_received, grant_pages_received,             /* transfers applied */
        grant_blocks_received;
    uint64_t grant_blocks_bounced, grant_blocks_rejected;        /* ... blocks not taken */
    uint64_t refused[SLAVE_REFUSALS];
    uint64_t census_rounds;                    /* censuses of our home started */
    uint64_t census_replies;                   /* answers sent to homes' censuses */
    uint64_t surplus_returns;                  /* surplus rounds that sent pages home
                                                  (pages: surplus.given) */
};

struct slave_core {
    const struct vmca_config *cfg;     /* borrowed */
    const struct vmca_node_cfg *self;  /* points into cfg */
    uint32_t master;                   /* master's node id */
    Vmca__NodeState state;             /* own view of its state */
    bool master_up;
    struct vmca_bitmap enabled;        /* by node id */
    struct vmca_bitmap invalidated;    /* homes whose memory is gone (until re-enabled) */
    struct vmca_outbox out;
    vmca_log_fn log;
    void *log_arg;
    uint32_t *refused_logged;          /* by node index: message types refused and logged */
    struct vmca_pb_blocks pb_frame;    /* the blocks of the frame being built */
    struct vmca_block *scratch;        /* slave_scratch_blocks */
    size_t cap_scratch;
    /* Hypercalls to make (slave_actions.c), taken by the shell: one queue
     * fills while the other is the batch last taken. */
    struct slave_callq calls[2];
    unsigned calls_filling;
    /* Membership (slave_membership.c). */
    bool left;                         /* Leave-Notify received */
    bool left_clean;                   /* ... and all own pages were back */
    bool stay;                         /* the operator asked the leave (LeaveAsk):
                                          stay running, Inactive, after it */
    uint64_t hv_generation;            /* of the memory we registered with */
    bool recovered;                    /* this memory went through recovery */
    bool reclaim_own;                  /* take back own pages before registering */
    bool earlier_life;                 /* a dead manager of this memory left pages out */
    uint64_t register_after_hc;        /* register once this hypercall (a reclaim) is
                                          answered; UINT64_MAX: redo it when the
                                          hypervisor is back */
    /* Report (slave_report.c). */
    int64_t next_stats_ms;
    uint64_t period;                   /* Statistics sent */
    struct tkm_sample hv;              /* last sample; owned copies */
    uint64_t hv_period;                /* of the last sample */
    bool hv_up;                        /* a sample arrived since the last outage */
    /* Hypervisor liveness: the node's Statistics vouch for its hypervisor,
     * so they stop while it is down or silent (slave_core_hv_silence_ms). */
    bool hv_news;                      /* a sample arrived since the last tick */
    int64_t hv_heard_ms;               /* last sample (stamped at the tick after
                                          it) or hypercall reply; -1 none */
    bool hv_silent_logged;             /* stopped vouching (said once) */
    struct slave_report_room room;
    struct slave_actions act;
    struct xfer_table xfers;
    struct slave_transfers tr;
    struct slave_leave leave;
    struct slave_surplus surplus;
    struct slave_census census;
    struct slave_first_tier ft;
    struct slave_counters counters;
};

/* `self` must be a node of cfg. Returns 0, VMCA_ERR_NOMEM, or VMCA_ERR_INVAL when
 * cfg names a first-tier policy that is not built. */
int slave_core_init(struct slave_core *s, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *self, uint64_t incarnation,
                    vmca_log_fn log, void *log_arg);
void slave_core_free(struct slave_core *s);

/* Connection to the master ready (after Hello) / lost. On up, an Active
 * node re-sends Statistics at once so a restarted master rebuilds its
 * table; an Inactive one joins once its hypervisor has reported: with
 * Register, or with Invalidate first when its memory is not the first
 * generation of this node (an earlier life may still have pages out:
 * members drop them before we register again). */
void slave_core_on_master_up(struct slave_core *s, int64_t now_ms);
void slave_core_on_master_down(struct slave_core *s, int64_t now_ms);

/* A message from node `from` (its TLS identity) on a connection whose
 * peer said it is the master (from_master) or a peer slave. Commands only
 * the master gives are refused on peer connections and vice versa.
 * Returns 0 or a vmca_err when refused (state unchanged, logged). */
int slave_core_on_message(struct slave_core *s, uint32_t from, bool from_master,
                          const Vmca__Envelope *env, int64_t now_ms);

/* How long the hypervisor may say nothing (no statistics sample, no
 * hypercall reply) before the slave stops vouching for the node: half the
 * failure timeout, but at least two statistics intervals (the hypervisor
 * pushes a sample every interval). */
int64_t slave_core_hv_silence_ms(const struct vmca_config *cfg);

/* Timer: sends Statistics when due. Call at least every stats interval.
 * Statistics are the node's proof of life at the master, so none are sent
 * while the hypervisor is down or has said nothing for
 * slave_core_hv_silence_ms: the master then declares the node failed and
 * fences it (a hypervisor that comes back finds itself fenced, or a new
 * memory generation, and the node rejoins as a new life). */
void slave_core_on_tick(struct slave_core *s, int64_t now_ms);

bool slave_core_enabled(const struct slave_core *s, uint32_t node);

/* ---- what a driver or a checker reads (vmca-sim's invariants, tests):
 * the core's fields are its own. ---- */

Vmca__NodeState slave_core_state(const struct slave_core *s);
/* The action queue its driver drains (vmca_outbox_take); a driver may also
 * queue a frame in the node's name (the simulator's Byzantine member). */
struct vmca_outbox *slave_core_outbox(struct slave_core *s);
/* Transfers this node has in transit (sent, not yet acknowledged). */
const struct xfer_table *slave_core_transfers(const struct slave_core *s);

/* The census of this node's home. */
struct slave_census_view {
    uint64_t round;        /* the last round started, 0 none */
    bool running;
    bool retry_due;        /* a census is still owed: given up, or its follow-up */
};
void slave_core_census_view(const struct slave_core *s, struct slave_census_view *v);
/* Whether the running census still waits for `peer`'s answer. */
bool slave_core_census_waits_for(const struct slave_core *s, uint32_t peer);

/* A sample arrived since the hypervisor's last outage. */
bool slave_core_hv_up(const struct slave_core *s);
/* Pages of `home` are being given back to it (a leave or Force-Return). */
bool slave_core_returning(const struct slave_core *s, uint32_t home);
/* Pages of other homes given back as surplus so far. */
uint64_t slave_core_surplus_given(const struct slave_core *s);
/* The core's counters, and the hypervisor's last sample (no VMs nor
 * pages while it is down), for the metrics page. */
const struct slave_counters *slave_core_counters(const struct slave_core *s);
const struct tkm_sample *slave_core_sample(const struct slave_core *s);
/* Leave-Notify received; *clean (when not NULL): with all own pages back. */
bool slave_core_left(const struct slave_core *s, bool *clean);
/* Whether the shell should stop: it left, and not at the operator's word
 * (LeaveAsk: it stays Inactive until JoinAsk or a stop signal). */
bool slave_core_done(const struct slave_core *s);

/* The hypervisor pushed statistics: the next Statistics report them (the
 * sample counts as the hypervisor's sign of life from the next tick's
 * time).
 * Returns 0 or VMCA_ERR_NOMEM (the previous sample is kept). */
int slave_core_on_hv_stats(struct slave_core *s, const struct tkm_sample *in);
/* The hypervisor is unreachable (its process is gone: its memory with
 * it): no Statistics until it is back. */
void slave_core_on_hv_down(struct slave_core *s);
/* The hypervisor (re)connected: it is told the enabled homes again. */
void slave_core_on_hv_up(struct slave_core *s);
/* Answer to hypercall r->id. */
void slave_core_on_hv_reply(struct slave_core *s, const struct tkm_reply *r,
                            int64_t now_ms);
/* A connection to peer `peer` is ready: transfers in transit to it are
 * sent again. */
void slave_core_on_peer_up(struct slave_core *s, uint32_t peer, int64_t now_ms);

/* Shutdown asked (SIGTERM): an Active node starts the leave flow (Leave-Req,
 * returns every foreign page to its home) and may exit once s->left; a node
 * that is not a member (it never became Active, or left at the operator's
 * word) may exit at once (returns true). */
bool slave_core_leave(struct slave_core *s, int64_t now_ms);

/* What a leave still waits for, in words for the operator ("the master's
 * Leave-Notify; 120 pages of 2 other homes held; 300 own pages lent out"),
 * from the last sample. */
void slave_core_leave_progress(const struct slave_core *s, char *out, size_t outlen);

/* Hands the queued hypercalls to the caller: the array and what it points
 * to are the core's, valid until the next take (calls queued meanwhile, by
 * replies to these, go into the next batch). */
struct tkm_call *slave_core_take_hcalls(struct slave_core *s, size_t *n);
/* Whether hypercalls are queued (not taken yet). */
bool slave_core_hcalls_pending(const struct slave_core *s);

#endif
