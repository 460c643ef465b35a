/* The TKM interface in plain C types: the calls a node's memory manager
 * makes of its hypervisor, their replies, and the hypervisor's statistics
 * sample. The slave core speaks only these; each backend (emu: vmca-hv's
 * socket; inproc: libhvx in the same process) translates them. */
#ifndef VMCA_TKM_TYPES_H
#define VMCA_TKM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gfn.h"

#define VM_TARGET_UNLIMITED UINT64_MAX
#define TKM_MAX_BLOCKS 8192u     /* blocks in one call or reply */

struct vm_target {
    uint32_t vm;
    uint64_t pages;
    bool provisional;           /* a stopgap set between periods, not the policy's */
};

/* Calls a memory manager makes of its hypervisor (TKM); the answer comes
 * back as a tkm_reply with the call's id. */
enum tkm_call_kind {
    TKM_CALL_REQUEST = 1,   /* node = receiver, pages */
    TKM_CALL_GRANT = 2,     /* node = sender, blocks */
    TKM_CALL_ENABLE = 3,    /* node = home, enable */
    TKM_CALL_RETURN = 4,    /* node = home, pages = most in-use pages to move */
    TKM_CALL_INVALIDATE = 5,/* node = home: drop every page of it */
    TKM_CALL_OWNED = 6,     /* node = home: blocks of it owned here */
    TKM_CALL_RECLAIM = 7,   /* blocks held by owners[]: census result */
    TKM_CALL_FREEZE = 8,    /* node = home, enable = frozen */
    TKM_CALL_MEM_LIMIT = 9, /* targets: per-VM targets (Mem-Limit) */
    TKM_CALL_SURPLUS = 10,  /* node = home, pages = most free pages of it to give back */
};

struct tkm_call {
    uint64_t id;            /* unique, from 1; echoed in the reply */
    enum tkm_call_kind kind;
    uint32_t node;
    uint64_t pages;
    bool enable;
    struct vmca_block *blocks;   /* borrowed: the queue's (slave_core.h) */
    size_t n_blocks;
    uint32_t *owners;            /* reclaim: one per block; borrowed likewise */
    struct vm_target *targets;   /* mem-limit; borrowed likewise */
    size_t n_targets;
};

/* Grant results per block, as the hypervisor reports them. */
#define TKM_GRANT_ACCEPTED 0
#define TKM_GRANT_BOUNCED 1
#define TKM_GRANT_REJECTED 2

struct tkm_reply {
    uint64_t id;
    int status;                       /* 0 or a negative hypervisor error */
    uint64_t pages;
    const struct vmca_block *blocks;  /* request: the blocks given */
    size_t n_blocks;
    const int *results;               /* grant: one TKM_GRANT_* per block */
    size_t n_results;
    bool done;                        /* return: nothing of the home left */
    const char *error;                /* why, when status != 0; may be NULL */
};

/* Pages per node (owned per home, or lent per borrower). */
struct tkm_pages {
    uint32_t node;
    uint64_t pages;
};

struct tkm_vm {
    uint32_t vm;
    uint64_t used, target, puts_total, puts_succ, gets, flushes;
    uint64_t puts_evicting;    /* of puts_succ: made room by evicting an ephemeral page */
};

/* The puts of VM v that failed in the period. */
static inline uint64_t tkm_vm_failed_puts(const struct tkm_vm *v)
{
    return v->puts_total > v->puts_succ ? v->puts_total - v->puts_succ : 0;
}

/* The puts of VM v that found no room in the period: failed, or made room
 * by evicting an ephemeral page (the node had no free page). The policies'
 * sign of pressure: with eviction an ephemeral put under pressure does not
 * fail, and more pages would have kept what it evicted. */
static inline uint64_t tkm_vm_short_puts(const struct tkm_vm *v)
{
    return tkm_vm_failed_puts(v) + v->puts_evicting;
}

/* A statistics sample of the node's hypervisor (TKM). Arrays are borrowed
 * by slave_core_on_hv_stats, which copies them. */
struct tkm_sample {
    uint64_t generation;       /* the node's memory generation (fabric) */
    bool fenced;               /* the master fenced this node: it was declared failed */
    uint64_t total_pages;      /* owned, all homes */
    uint64_t free_pages;
    struct tkm_pages *owned;
    size_t n_owned;
    struct tkm_pages *lent;
    size_t n_lent;
    struct tkm_vm *vms;
    size_t n_vms;
    /* The hypervisor's period (its counters reset at each); a sample of
     * the same period again (pushed when a VM connects) runs no policy.
     * 0: unknown, every sample is a new period. */
    uint64_t period;
};

/* A sample as the hypervisor pushes it: with the figures only operators
 * read (vmca-tkm), which the memory manager's backends do not deliver. */
struct tkm_hv_stats {
    struct tkm_sample sample;
    uint64_t used_pages;       /* of sample.total_pages, in use */
    uint64_t metadata_bytes;   /* the hypervisor's own */
    const uint32_t *failed_vms;  /* VMs that lost persistent data */
    size_t n_failed_vms;
};


#endif
