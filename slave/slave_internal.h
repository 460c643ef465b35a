/* What the slave core's files share (not for users of the core): each
 * concern's entry points for the others. Every file is one concern of
 * struct slave_core; see the opening comment of each. */
#ifndef VMCA_SLAVE_INTERNAL_H
#define VMCA_SLAVE_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gfn.h"
#include "pbblocks.h"
#include "room.h"
#include "slave_core.h"
#include "vm_targets.h"

/* slave_core.c */
/* Counts a refused message by reason and logs it once per sender and
 * message type. */
void slave_refused(struct slave_core *s, uint32_t from, int body, enum slave_refusal why,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t slave_node_index(const struct slave_core *s, uint32_t node);
bool slave_peer_active(const struct slave_core *s, uint32_t node);
/* Whether the master's command `what` (message type body) names a
 * configured node other than this one; else refused (logged once). */
bool slave_other_node(struct slave_core *s, uint32_t node, int body, const char *what);
/* Room for n blocks built while handling one event (not kept past it:
 * nothing that uses it calls another user); grown only when short. NULL
 * when out of memory. */
struct vmca_block *slave_scratch_blocks(struct slave_core *s, size_t n);

/* slave_actions.c */
void slave_send_to_master(struct slave_core *s, Vmca__Envelope *env);
void slave_queue_hcall(struct slave_core *s, enum tkm_call_kind kind, uint32_t node,
                        uint64_t pages, bool enable, const struct vmca_block *blocks,
                        size_t n_blocks);
void slave_expect_reply(struct slave_core *s, struct slave_pending p);
void slave_hcall_owners(struct slave_core *s, const uint32_t *owners, size_t n);
/* The last queued hypercall (a Mem-Limit) carries targets (copied): false
 * when out of memory. */
bool slave_hcall_targets(struct slave_core *s, const struct vm_target *t, size_t n);
void slave_hcall_drop_last(struct slave_core *s);
size_t slave_hcalls_queued(const struct slave_core *s);
void slave_calls_free(struct slave_core *s);

/* slave_membership.c */
void slave_send_register(struct slave_core *s);
int slave_on_enable(struct slave_core *s, const Vmca__EnableNode *en, int64_t now_ms);
int slave_on_invalidate_node(struct slave_core *s, const Vmca__InvalidateNode *in);
int slave_on_invalidate_notify(struct slave_core *s);
/* JoinAsk (the operator's vmcactl join): a node that left registers again. */
int slave_on_join_ask(struct slave_core *s);

/* slave_report.c */
/* Statistics scratch sized from cfg. 0 or VMCA_ERR_NOMEM. */
int slave_report_init(struct slave_core *s);
void slave_report_free(struct slave_core *s);
/* Copies `in` into s->hv in space kept from sample to sample; with
 * keep_counts the per-VM counts of the last sample stay (same period).
 * 0, or VMCA_ERR_NOMEM (s->hv unchanged). */
int slave_sample_take(struct slave_core *s, const struct tkm_sample *in, bool keep_counts);
/* No sample (the hypervisor is down); the space is kept. */
void slave_sample_clear(struct slave_core *s);
void slave_vouch_statistics(struct slave_core *s, int64_t now_ms);

/* slave_transfers.c */
void slave_send_grant(struct slave_core *s, const struct xfer_out *x);
void slave_transfer(struct slave_core *s, uint32_t to, uint64_t req,
                     const struct vmca_block *blocks, size_t n);
int slave_on_grant_fwd(struct slave_core *s, const Vmca__GrantFwd *gf);
int slave_on_grant(struct slave_core *s, uint32_t from, uint64_t inc, const Vmca__Grant *g,
                    int64_t now_ms);
int slave_on_grant_ack(struct slave_core *s, uint32_t from, const Vmca__GrantAck *ack,
                        int64_t now_ms);
void slave_reply_request(struct slave_core *s, const struct slave_pending *p,
                          const struct tkm_reply *r);
void slave_reply_grant(struct slave_core *s, const struct slave_pending *p,
                        const struct tkm_reply *r);
void slave_ask_pages(struct slave_core *s, uint64_t pages, int64_t now_ms, const char *why);

/* slave_leave.c */
void slave_send_leave_req(struct slave_core *s);
void slave_reply_return(struct slave_core *s, const struct slave_pending *p,
                         const struct tkm_reply *r, int64_t now_ms);
void slave_run_returns(struct slave_core *s);
int slave_on_force_return(struct slave_core *s, const Vmca__ForceReturn *fr);
int slave_on_leave_notify(struct slave_core *s);
/* LeaveAsk (the operator's vmcactl leave): leave, then stay Inactive. */
int slave_on_leave_ask(struct slave_core *s, int64_t now_ms);
/* The quiet periods before surplus goes home (policy.surplus_quiet_periods)
 * double, up to 16 times the setting, when the node asks again within this
 * many periods of giving back, and return to the setting after as many
 * periods without asking. */
#define SLAVE_SURPLUS_SOON 16u
/* The slack kept above the need: a sixteenth of the node's own pages, or
 * an eighth of the need when larger. */
#define SLAVE_SURPLUS_SLACK_DIV 16u
#define SLAVE_SURPLUS_SLACK_NEED_DIV 8u
/* At most this share of the pages owned (at least of the node's own)
 * goes home per period. */
#define SLAVE_SURPLUS_STEP_DIV 4u
void slave_give_surplus(struct slave_core *s);
void slave_reply_surplus(struct slave_core *s, const struct slave_pending *p,
                          const struct tkm_reply *r);

/* slave_census.c */
void slave_freeze_home(struct slave_core *s, uint32_t home, int64_t until_ms);
void slave_census_add(struct slave_core *s, struct vmca_block b, uint32_t owner);
void slave_send_census(struct slave_core *s, uint32_t to, uint32_t home, uint64_t round,
                        const struct vmca_block *blocks, size_t n, bool reply);
void slave_census_end(struct slave_core *s);
void slave_census_finish(struct slave_core *s);
int slave_on_census(struct slave_core *s, uint32_t from, bool from_master,
                     const Vmca__Census *c, int64_t now_ms);
void slave_reply_owned(struct slave_core *s, const struct slave_pending *p,
                        const struct tkm_reply *r);
int slave_on_census_reply(struct slave_core *s, uint32_t from, const Vmca__CensusReply *cr);
void slave_census_tick(struct slave_core *s, int64_t now_ms);
bool slave_census_owed(const struct slave_core *s, int64_t now_ms);
void slave_census_paid(struct slave_core *s);

/* slave_targets.c */
void slave_adopt_targets(struct slave_core *s);
void slave_target_new_vms(struct slave_core *s);
void slave_forget_gone_vms(struct slave_core *s);
void slave_send_limits(struct slave_core *s);
uint64_t slave_targets_limit(const struct slave_core *s);
void slave_fit_targets(struct slave_core *s, uint64_t limit);
void slave_owned_changed(struct slave_core *s, const struct slave_pending *p,
                          const struct tkm_reply *r);
void slave_first_tier(struct slave_core *s, int64_t now_ms);
int slave_on_mem_limit(struct slave_core *s, const Vmca__MemLimit *ml);

/* slave_vmcaps.c */
/* The per-VM settings the policies see: the configuration's, with the
 * master's VM caps on top while any are set (n: their count). */
const struct ft_vm_settings *slave_vm_settings(const struct slave_core *s, size_t *n);
/* VM vm's cap in those settings (VM_TARGET_UNLIMITED: none). */
uint64_t slave_vm_max(const struct slave_core *s, uint32_t vm);
/* VmLimits from the master: the whole set of caps (refused whole when a
 * cap is 0, above the cluster's pages, or a VM is named twice). */
int slave_on_vm_limits(struct slave_core *s, const Vmca__VmLimits *vl);
/* The master connection is gone: the caps go with it. */
void slave_drop_vm_caps(struct slave_core *s);

#endif
