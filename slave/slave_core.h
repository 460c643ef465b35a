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
#include "log.h"
#include "outbox.h"

/* Pages per node (owned per home, or lent per borrower). */
struct slave_pages {
    uint32_t node;
    uint64_t pages;
};

struct slave_vm {
    uint32_t vm;
    uint64_t used, target, puts_total, puts_succ, gets, flushes;
};

/* A statistics sample of the node's hypervisor (TKM). Arrays are borrowed
 * by slave_core_on_hv_stats, which copies them. */
struct slave_hv_sample {
    uint64_t total_pages;      /* owned, all homes */
    uint64_t free_pages;
    struct slave_pages *owned;
    size_t n_owned;
    struct slave_pages *lent;
    size_t n_lent;
    struct slave_vm *vms;
    size_t n_vms;
};

struct slave_core {
    const struct vmca_config *cfg;     /* borrowed */
    const struct vmca_node_cfg *self;  /* points into cfg */
    uint32_t master;                   /* master's node id */
    Vmca__NodeState state;             /* own view of its state */
    bool master_up;
    struct vmca_bitmap enabled;        /* by node id */
    int64_t next_stats_ms;
    uint64_t period;                   /* Statistics sent */
    struct slave_hv_sample hv;         /* last sample; owned copies */
    bool hv_up;                        /* a sample arrived since the last outage */
    struct vmca_outbox out;
    vmca_log_fn log;
    void *log_arg;
};

/* `self` must be a node of cfg. Returns 0 or VMCA_ERR_NOMEM. */
int slave_core_init(struct slave_core *s, const struct vmca_config *cfg,
                    const struct vmca_node_cfg *self, uint64_t incarnation,
                    vmca_log_fn log, void *log_arg);
void slave_core_free(struct slave_core *s);

/* Connection to the master ready (after Hello) / lost. On up, an Inactive
 * node sends Register; an Active one re-sends Statistics at once so a
 * restarted master rebuilds its table. */
void slave_core_on_master_up(struct slave_core *s, int64_t now_ms);
void slave_core_on_master_down(struct slave_core *s, int64_t now_ms);

/* A message from node `from` (its TLS identity). Returns 0 or a vmca_err
 * when refused (state unchanged, logged). */
int slave_core_on_message(struct slave_core *s, uint32_t from,
                          const Vmca__Envelope *env, int64_t now_ms);

/* Timer: sends Statistics when due. Call at least every stats interval. */
void slave_core_on_tick(struct slave_core *s, int64_t now_ms);

bool slave_core_enabled(const struct slave_core *s, uint32_t node);

/* The hypervisor pushed statistics: the next Statistics report them.
 * Returns 0 or VMCA_ERR_NOMEM (the previous sample is kept). */
int slave_core_on_hv_stats(struct slave_core *s, const struct slave_hv_sample *in);
/* The hypervisor is unreachable: Statistics report nothing owned. */
void slave_core_on_hv_down(struct slave_core *s);

#endif
