/* The hypervisor side of TKM: checks each call of the memory manager,
 * applies it to libhvx and answers, and builds the statistics sample. One
 * implementation for vmca-hv (behind its socket) and for the `inproc`
 * backend (the simulator, unit tests): what differs is the environment. */
#ifndef VMCA_HV_TKM_H
#define VMCA_HV_TKM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvx.h"
#include "log.h"
#include "tkm_ops.h"

/* What the dispatcher asks of the node around libhvx. */
struct hv_tkm_env {
    void *arg;
    bool (*fenced)(void *arg);                /* the master fenced this node */
    uint64_t (*generation)(void *arg);        /* this node's memory generation */
    void (*set_remote)(void *arg, bool open); /* own memory open to remote access */
    void (*forget)(void *arg, uint32_t home); /* home's next life is mapped afresh */
    vmca_log_fn log;                          /* NULL: quiet */
};

struct hv_tkm_params {
    uint32_t self;
    const uint32_t *nodes;   /* every node of the cluster (copied) */
    size_t n_nodes;
    size_t max_blocks;       /* in one call or reply (TKM_MAX_BLOCKS) */
    size_t max_vms;          /* in a sample (HVX_MAX_CLIENTS) */
};

/* Where the dispatcher's answers go (borrowed for the call only). */
struct hv_tkm_answers {
    void (*reply)(void *arg, const struct tkm_reply *r);
    void (*sample)(void *arg, const struct tkm_hv_stats *s); /* Stats-Now's, after its reply */
};

struct hv_tkm;

/* A dispatcher over h (borrowed); answers go to out with out_arg. Scratch
 * is sized here: no allocation per call. NULL when out of memory. */
struct hv_tkm *hv_tkm_new(struct hvx *h, const struct hv_tkm_params *p,
                          const struct hv_tkm_env *env, const struct hv_tkm_answers *out,
                          void *out_arg);
void hv_tkm_free(struct hv_tkm *d);

/* The ops (be = the dispatcher): each answers once, before returning, with
 * arrays and error text valid until the next call. Made by a memory
 * manager in the same process, with its events as the answers, this is
 * backend `inproc`. */
extern const struct tkm_ops hv_tkm_ops;
struct tkm_backend hv_tkm_backend(struct hv_tkm *d);

/* The statistics sample; period_end starts a new period first (the per-VM
 * counters reset). Arrays are the dispatcher's, valid until the next
 * sample. Periods count from 1. */
void hv_tkm_sample(struct hv_tkm *d, bool period_end, struct tkm_hv_stats *out);

/* The memory manager's channel closed: its censuses died with it, so no
 * home stays frozen (a manager that comes back freezes again). */
void hv_tkm_manager_gone(struct hv_tkm *d);

#endif
