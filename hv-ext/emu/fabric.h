/* The emulated global address space ("fabric"). Real UNIMEM/CXL hardware
 * gives every node load/store access to every node's memory; here each
 * node's tmem pages live in one POSIX shared-memory segment that every
 * node's vmca-hv maps, followed by the home's owner table (which node may
 * hold each page: written by the hypervisor that gives a block away, read
 * by the one that takes it). A small control segment holds, per node id, the
 * words the hardware features of the paper need:
 *   online      the home's segment exists and it accepts remote access
 *               (remote access is off until the home comes up);
 *   generation  bumped every time the home (re)creates its segment: an
 *               access through a mapping of an older generation faults,
 *               so a page of a rebooted node is never read as if valid;
 *   fenced      set while a node is fenced: its remote accesses fault;
 *   claim_epoch bumped at each restart and each fence: owner-table
 *               entries of an earlier epoch of their holder are void.
 * Segment names carry the cluster name ("/vmca-<cluster>-ctl",
 * "/vmca-<cluster>-n<id>") so two clusters on one machine never collide.
 * An optional busy-wait latency emulates remote access cost. */
#ifndef VMCA_FABRIC_H
#define VMCA_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fabric;

/* Access faults (negative errno-style values, returned by fabric_page). */
#define FABRIC_ERR_OFFLINE  (-1)  /* home has no segment / not online */
#define FABRIC_ERR_STALE    (-2)  /* home's generation changed since mapping */
#define FABRIC_ERR_FENCED   (-3)  /* the accessing node is fenced */
#define FABRIC_ERR_RANGE    (-4)  /* gfn outside the home's segment */
#define FABRIC_ERR_SYS      (-5)  /* shm_open/mmap failed */

struct fabric_params {
    const char *cluster;      /* [A-Za-z0-9_-]{1,32} */
    uint32_t self;            /* this node's id, 1..max_node */
    uint32_t max_node;        /* largest node id of the cluster (<= 65535) */
    uint64_t self_pages;      /* pages in this node's segment */
    uint32_t page_size;       /* bytes, power of two */
    uint32_t remote_latency_ns; /* busy-wait per remote page access, 0 = none */
};

/* Maps (creating if needed) the control segment, then creates this node's
 * segment afresh (an old one of the same name is unlinked first: a restart
 * is a new memory), zero-filled, bumps its generation and sets it online.
 * Returns NULL with a reason in err. */
struct fabric *fabric_open(const struct fabric_params *p, char *err, size_t errlen);

/* Clean shutdown: marks this node offline, unmaps everything, unlinks its
 * own segment, and unlinks the control segment when no node is online. */
void fabric_close(struct fabric *f);

/* Pointer to the first byte of page `gfn` (home in the gfn's high bits, see
 * common/gfn.h) or NULL with *fault set to a FABRIC_ERR_*. A remote home's
 * segment is mapped on first access and remembered with its generation;
 * after the home's generation changes every access faults with
 * FABRIC_ERR_STALE until fabric_forget(home) is called (the hypervisor does
 * that once it has invalidated every page of the old life). A remote access
 * busy-waits remote_latency_ns first. */
void *fabric_page(struct fabric *f, uint64_t gfn, int *fault);

/* The owner table of `home` (hvx.h, struct hvx_env.owners): one 32-bit
 * entry per page in the home's memory after its pages, 0 = the home.
 * The same checks as a page access (a remote home: online, the mapped
 * generation, this node not fenced); NULL with *fault set otherwise. */
uint32_t *fabric_owners(struct fabric *f, uint32_t home, int *fault);

/* Opens (on) or closes (off) this node's memory to remote access: the
 * hardware keeps it closed from boot until the node has joined. */
void fabric_set_remote(struct fabric *f, bool on);

/* Drops the mapping of `home` so the next access maps its current segment. */
void fabric_forget(struct fabric *f, uint32_t home);
/* The same, only when the mapping is of an earlier generation. */
void fabric_forget_stale(struct fabric *f, uint32_t home);

/* Fencing (what the master asks for before reusing a failed node's pages).
 * Fencing also ends the node's claim epoch. */
void fabric_fence(struct fabric *f, uint32_t node, bool fenced);
bool fabric_is_fenced(const struct fabric *f, uint32_t node);
/* A node's claim epoch: it changes at every restart of the node's memory
 * and every fence, so an owner-table entry naming the node in an earlier
 * epoch is void (the node dropped those claims, or died with them). */
uint32_t fabric_claim_epoch(const struct fabric *f, uint32_t node);

uint64_t fabric_generation(const struct fabric *f, uint32_t node);
bool fabric_online(const struct fabric *f, uint32_t node);
/* Pages in `home`'s segment (0 when it has none). */
uint64_t fabric_pages(const struct fabric *f, uint32_t home);

/* For a process that is not a node (the master): sets or clears `node`'s
 * fenced word in cluster's existing control segment. Returns 0, or -1 with
 * a reason in err (no control segment: no node of the cluster is up; a
 * segment of another shape). Nothing is created. */
int fabric_fence_node(const char *cluster, uint32_t node, bool fenced, char *err,
                      size_t errlen);

/* Fault name for logs. */
const char *fabric_strerror(int fault);

#endif
