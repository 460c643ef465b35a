/* libhvx: one node's hypervisor extension for vMCA, written so it could be
 * compiled into a hypervisor: freestanding C (no libc I/O, no locks, no
 * globals), no allocation in put/get/flush (memory comes from the embedder
 * through struct hvx_env, and only in set-up, client/pool creation and
 * ownership changes), time never read (none is needed here).
 *
 * What it holds:
 *  - zones: one buddy allocator (buddy.h) per home node from which this node
 *    owns pages, ordered by distance in the hardware tree (own node first);
 *  - ownership: which pages of each home this node owns (bitmap per zone),
 *    which of its own pages are lent, and how many to each borrower;
 *  - the tmem store: clients (VMs), persistent/ephemeral pools, keys
 *    (pool, object id, index) -> page, per-VM targets enforced on put,
 *    ephemeral pages evicted (oldest put epoch first) when a put finds no
 *    free page,
 *    statistics per period.
 * Page data is reached through env->page(gfn), which the embedder backs
 * with the (emulated) global address space and which may fault.
 *
 * Limits (checked at the boundary): a home has at most 2^24 pages, at most
 * HVX_MAX_ZONES homes contribute pages at once, object ids have 48 bits. */
#ifndef HVX_H
#define HVX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVX_MAX_ZONES 255u
#define HVX_HOME_PAGES_MAX (UINT64_C(1) << 24)
/* VMs registered at once: a record key holds (client slot + 1) << 4 | pool
 * in 13 bits (hvx_int.h), and each record chunk a bit per slot. */
#define HVX_MAX_CLIENTS 256u
#define HVX_POOLS_PER_CLIENT 16u
#define HVX_OID_MAX ((UINT64_C(1) << 48) - 1)
#define HVX_LOCATION_MAX 8u

/* Results (negative errno-like values, as Xen's tmem returned). */
#define HVX_OK 0
#define HVX_EPERM (-1)     /* home disabled: its blocks are refused */
#define HVX_ENOENT (-2)    /* no such key / client / pool */
#define HVX_EIO (-5)       /* persistent data lost: the VM has failed */
#define HVX_ENOMEM (-12)   /* at target, or no free page */
#define HVX_EFAULT (-14)   /* the page's memory faulted (home gone) */
#define HVX_EEXIST (-17)   /* already owned / already exists */
#define HVX_EINVAL (-22)   /* malformed argument */
#define HVX_EBUSY (-16)    /* in-use pages still need migrating */

struct hvx;

struct hvx_env {
    /* Zeroed memory for metadata; NULL on failure. Never called from
     * put/get/flush. */
    void *(*alloc)(void *arg, size_t bytes);
    void (*free)(void *arg, void *p, size_t bytes);
    /* Address of page gfn for loads/stores, or NULL and *fault set when
     * the memory cannot be reached (home offline or restarted, or this
     * node fenced). */
    void *(*page)(void *arg, uint64_t gfn, int *fault);
    /* Current memory generation of a home (it changes when the home's
     * memory restarts), or NULL when not tracked. Ownership claims of an
     * earlier generation are void: refused on grant, never given away,
     * dropped from the zones, ignored by the census. */
    uint64_t (*generation)(void *arg, uint32_t home);
    void *arg;
    /* The owner table of a home, kept by the hardware beside the home's
     * memory: one 32-bit entry per page (HVX_OWNER_*), 0 when the home
     * holds it. The hypervisor that gives a block away writes "in transit
     * to the receiver" there before the grant leaves; a receiving
     * hypervisor takes a block only when the table says so, and then
     * writes itself as the holder. So no message alone (a grant or return
     * of blocks whose holder's hypervisor did not give them up) moves
     * ownership, and a census never takes back a page a live holder's
     * hypervisor still holds, whatever the census replies say. NULL with
     * *fault set: the table cannot be reached (home offline or restarted,
     * this node fenced). A NULL callback: no table, nothing is checked. */
    uint32_t *(*owners)(void *arg, uint32_t home, int *fault);
    /* A node's claim epoch (it changes when the node's memory restarts or
     * the node is fenced): a table entry of an earlier epoch of its
     * holder is void. NULL: always 0. */
    uint32_t (*claim_epoch)(void *arg, uint32_t node);
    /* This node holds no claim on `home` (before it takes a first block of
     * the home's current memory): an access may map the home's current
     * memory from now on, where a mapping of an earlier life faults until
     * then. NULL: nothing to do. */
    void (*forget)(void *arg, uint32_t home);
};

/* Owner-table entries: the holder (0 = the home itself; a node id), whether
 * the page is in transit to it (given away, not yet taken), and the low
 * bits of the holder's claim epoch when it was written. */
#define HVX_OWNER_NODE(e) ((e) & 0xffffu)
#define HVX_OWNER_TRANSIT (UINT32_C(1) << 16)
#define HVX_OWNER_EPOCH(e) ((e) >> 17)
#define HVX_OWNER_EPOCH_MASK 0x7fffu

struct hvx_home {
    uint32_t id;                          /* node id, 1..65535 */
    uint64_t pages;                       /* pages of its tmem segment */
    uint32_t location[HVX_LOCATION_MAX];  /* hardware tree path, root first */
    unsigned location_len;
};

struct hvx_params {
    uint32_t self;                 /* this node's id; must be among homes */
    uint32_t page_size;            /* bytes, power of two */
    const struct hvx_home *homes;  /* every node of the cluster */
    size_t n_homes;
};

struct hvx_block {
    uint64_t gfn;   /* first frame; home in the high bits (common/gfn.h) */
    unsigned order; /* 2^order pages */
    uint64_t generation; /* home's memory generation the claim is of; 0 = unknown */
};

/* Creates the instance; this node owns all its own pages, all free, and
 * its own home is enabled. Returns NULL on bad params or no memory. */
struct hvx *hvx_new(const struct hvx_params *p, const struct hvx_env *env);
void hvx_destroy(struct hvx *h);

/* ---- ownership (the TKM hypercalls) ---- */

/* Per-block results of hvx_grant. */
enum hvx_grant_result {
    HVX_GRANT_ACCEPTED = 0,
    HVX_GRANT_BOUNCED = 1,   /* home disabled: send it back to its home */
    HVX_GRANT_REJECTED = 2,  /* malformed, unknown home, already owned, or
                              * not given to this node (owner table) */
};

/* Adds blocks received from node `from`. result[i] says what happened to
 * blocks[i]; a rejected block changes nothing. A block is taken only when
 * its home's owner table says "in transit to this node" in its current
 * claim epoch (whoever sent it), and the table then says "held by this
 * node"; a bounced one becomes "in transit to its home" (it goes back
 * there). Entries change by compare-and-swap. Blocks homed at
 * this node are its own pages coming back (no longer lent). Returns the
 * number of pages accepted, or HVX_ENOMEM when metadata could not be
 * allocated (nothing accepted from that block on). */
int64_t hvx_grant(struct hvx *h, uint32_t from, const struct hvx_block *blocks,
                  size_t n, enum hvx_grant_result *result);

/* Gives away up to n free pages for node `to`, largest blocks first, from
 * the homes closest to `to` (never from a home whose owner table cannot be
 * reached). Writes at most cap blocks to out; returns the number of pages
 * given (<= n). The owner tables say "in transit to `to`" (a block whose
 * entry no longer says we hold it, because we were fenced, is not given);
 * pages homed here become lent to `to`. */
uint64_t hvx_request(struct hvx *h, uint64_t n, uint32_t to, struct hvx_block *out,
                     size_t cap, size_t *n_out);

/* Gives up to n free pages homed at `home` (another node) back to it,
 * largest blocks first, moving no in-use page: the surplus of lent memory
 * this node no longer needs. Writes at most cap blocks to out; returns the
 * pages given. The owner table says "in transit to the home". Nothing
 * while the home is frozen (its census runs), its claims here are of an
 * earlier life, or its table cannot be reached; never this node's own
 * pages. */
uint64_t hvx_give_home(struct hvx *h, uint32_t home, uint64_t n, struct hvx_block *out,
                       size_t cap, size_t *n_out);

/* Returns pages homed at `home`: migrates up to max_migrate in-use pages to
 * free pages of other homes (an ephemeral page that cannot move is dropped),
 * then releases free blocks of that home into out (at most cap; its owner
 * table says "in transit to the home"; none while it cannot be reached). *n_out
 * gets the count. Returns HVX_OK when nothing of `home` is left, HVX_EBUSY
 * when more calls are needed, HVX_ENOMEM when persistent pages cannot move
 * (no free page elsewhere). */
int hvx_return(struct hvx *h, uint32_t home, unsigned max_migrate,
               struct hvx_block *out, size_t cap, size_t *n_out);

/* Drops every page homed at `home`, free or in use. In-use persistent
 * pages whose second copy lives elsewhere keep that copy (replica.c), the
 * others fail their VM; ephemeral ones simply vanish. Returns pages dropped. */
uint64_t hvx_invalidate(struct hvx *h, uint32_t home);

/* Accept (true) or reject pages homed at `home` from now on. */
int hvx_enable(struct hvx *h, uint32_t home, bool enable);
bool hvx_enabled(const struct hvx *h, uint32_t home);

/* Every block of `home` this node owns (free or used), for the census.
 * Calls fn per maximal aligned run; stops when fn returns non-zero. */
int hvx_owned_blocks(const struct hvx *h, uint32_t home,
                     int (*fn)(void *arg, struct hvx_block b), void *arg);

/* While a census of `home` runs its pages must not circulate: Request
 * never gives pages of a frozen home. */
int hvx_freeze(struct hvx *h, uint32_t home, bool frozen);
bool hvx_frozen(const struct hvx *h, uint32_t home);

/* Census result for this node's own home: `held` are the blocks of its
 * pages that live nodes reported owning or having in transit, owners[i]
 * the node holding held[i] (a block may be reported twice, by a sender and
 * its receiver, or be back here already: both are fine). Every own page
 * neither owned here nor held, and whose owner-table entry is void (the
 * home's, in transit, or of an earlier claim epoch of its holder), is taken
 * back: it belonged to a failed node, and its entry becomes the home's, so
 * a late grant of it is refused. A page the table says a live holder holds
 * is never taken, whatever the census said. The lent figures are set from
 * the census and the table. Returns the pages taken back,
 * or HVX_EINVAL (a held block is not of this home or malformed: nothing
 * changes), or HVX_ENOMEM. */
int64_t hvx_reclaim(struct hvx *h, const struct hvx_block *held, const uint32_t *owners,
                    size_t n);

/* ---- tmem (the guests' hypercalls) ---- */

#define HVX_POOL_PERSISTENT 1u   /* frontswap-like: gets must succeed */
#define HVX_POOL_EPHEMERAL 0u    /* cleancache-like: may be dropped */

/* Registers VM `vm`; returns HVX_OK or HVX_EEXIST / HVX_ENOMEM / HVX_EINVAL.
 * A new client has no target (unlimited) until hvx_set_target. */
int hvx_client_new(struct hvx *h, uint32_t vm);
/* Whether VM `vm` is registered / has lost persistent data. */
bool hvx_client_known(struct hvx *h, uint32_t vm);
bool hvx_client_failed(struct hvx *h, uint32_t vm);
/* Frees every page of the VM and forgets it. */
int hvx_client_destroy(struct hvx *h, uint32_t vm);
/* Per-VM target in pages (Mem-Limit); UINT64_MAX = unlimited. */
int hvx_set_target(struct hvx *h, uint32_t vm, uint64_t pages);

/* Creates a pool; returns its id (0..HVX_POOLS_PER_CLIENT-1) or an error. */
int hvx_pool_new(struct hvx *h, uint32_t vm, unsigned kind);
int hvx_pool_destroy(struct hvx *h, uint32_t vm, unsigned pool);

/* put: copies page_size bytes from src. Replaces an existing entry of the
 * key in place (an ephemeral entry moves to its VM's current put epoch).
 * Returns 0 when the page is local, 1 when it lives on another node (remote
 * access cost), HVX_ENOMEM at target, or when no page is free and no
 * ephemeral page of any VM can be evicted. Eviction (either pool kind may
 * cause it; only ephemeral pages go) takes from the VM furthest above its
 * target; when no VM with ephemeral pages is above its target, the putting
 * VM itself; else the VM holding the most ephemeral pages (ties: the VM
 * registered in the lower slot). Within the VM it takes a page of its
 * oldest put epoch (a run of at least 16 puts and at least half its
 * ephemeral pages), the first its hand meets in page order: no page of an
 * older epoch survives an evicted page of a younger one (docs/hypervisor.md,
 * "Eviction"). An evicted page is gone: a later get of its key misses. */
int hvx_put(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid, uint32_t index,
            const void *src);
/* get: copies the page to dst; returns 0 (local page) or 1 (remote page) as
 * put does. A persistent get keeps the page (Linux
 * frontswap's default, non-exclusive); an ephemeral get removes it (Xen's
 * cleancache semantics). HVX_ENOENT on a miss; HVX_EIO when a persistent
 * page was lost (the VM has failed). */
int hvx_get(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid, uint32_t index,
            void *dst);
int hvx_flush_page(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid,
                   uint32_t index);
/* Removes every page of the object; returns pages flushed or an error.
 * Reads only the chunks of 512 records that hold the VM's records of the
 * pool's kind (ephemeral or persistent), not every record. */
int64_t hvx_flush_object(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid);

/* ---- replicated persistent pages (replica.c, docs/hypervisor.md) ---- */

/* Copies kept of each persistent page of VM `vm` that lives outside this
 * node: 1 (default) or 2. With 2, a put of such a page places a second copy
 * on a home in another failure domain (another board of the hardware tree:
 * a home's location without its last element; this node is a domain of its
 * own, and a node without a board in its location is one too), or fails
 * with HVX_ENOMEM, changing nothing, when no page for it is free (such a
 * put evicts no ephemeral page: an evicted page may not be in the domain
 * the second copy needs). HVX_EINVAL
 * for any other count, HVX_ENOENT for an unknown VM. */
int hvx_set_replicas(struct hvx *h, uint32_t vm, unsigned replicas);
/* Restores the second copy of under-replicated pages (a home of one copy
 * failed, or a migration put both copies in one domain), at most max_copies
 * page copies and a bounded scan per call, resuming where the last call
 * stopped. Returns the copies made. Called periodically by the embedder. */
uint64_t hvx_repair(struct hvx *h, unsigned max_copies);
/* Recounts, by a scan of every record (for checkers, not hot paths), the
 * second copies held and the under-replicated pages, all VMs; they must
 * equal hvx_stats' replica_pages and under_replicated. */
void hvx_replica_recount(struct hvx *h, uint64_t *replica_pages, uint64_t *under);
/* Whether homes a and b are in one failure domain (see hvx_set_replicas). */
bool hvx_same_domain(const struct hvx *h, uint32_t a, uint32_t b);

/* ---- statistics ---- */

struct hvx_vm_stats {
    uint32_t vm;
    bool failed;             /* lost persistent data */
    uint64_t tmem_used;      /* pages held now */
    uint64_t mm_target;      /* UINT64_MAX = unlimited */
    uint64_t puts_total, puts_succ, gets_total, gets_succ, flushes; /* this period */
    uint64_t evictions;      /* this period: its ephemeral pages evicted */
    uint64_t puts_evicting;  /* this period: of puts_succ, those that evicted to find a page */
    uint64_t ephemeral;      /* of tmem_used, ephemeral pages (evictable) */
    unsigned replicas;          /* hvx_set_replicas */
    uint64_t replica_pages;     /* second copies held (in tmem_used too) */
    uint64_t under_replicated;  /* pages that want a second copy and lack one */
};

struct hvx_home_pages {
    uint32_t node;
    uint64_t pages;
};

struct hvx_node_stats {
    uint64_t owned_pages;    /* all homes */
    uint64_t free_pages;
    uint64_t used_pages;
    uint64_t metadata_bytes; /* everything hvx allocated */
    uint64_t replica_pages;  /* second copies, all VMs (in used_pages too) */
    uint64_t under_replicated; /* all VMs */
    size_t n_homes;          /* entries written to owned[] */
    size_t n_lent;           /* entries written to lent[] */
    size_t n_vms;            /* entries written to vms[] */
};

/* Fills st and up to cap_* entries of the arrays (pages owned per home,
 * own pages lent per borrower, per-VM figures). reset_period: zero the
 * per-period counters afterwards (once per statistics interval). */
void hvx_stats(struct hvx *h, struct hvx_node_stats *st, struct hvx_home_pages *owned,
               size_t cap_owned, struct hvx_home_pages *lent, size_t cap_lent,
               struct hvx_vm_stats *vms, size_t cap_vms, bool reset_period);

/* Read-only peeks (no purge, no reset, unlike hvx_stats): pages owned
 * here over all homes, or of one home, and the sum of the per-VM targets that are set
 * (*n_set of them; unlimited ones are not counted). */
uint64_t hvx_owned_pages(const struct hvx *h);
uint64_t hvx_owned_of(const struct hvx *h, uint32_t home);
uint64_t hvx_targets_sum(const struct hvx *h, size_t *n_set);
/* The ownership bitmap of `home` here (bit i of word i / 64: page i), with
 * its page count and the home generation of the claims; NULL when this
 * node holds no zone of that home. Valid until the next call that changes
 * ownership; for checkers that compare nodes a word at a time. */
const uint64_t *hvx_owned_bitmap(const struct hvx *h, uint32_t home, uint64_t *pages,
                                 uint64_t *generation);

/* Metadata by part, in bytes (their sum is hvx_node_stats.metadata_bytes):
 * page records (14-byte records in chunks of 512 pages, with two bits per
 * client slot), the hash buckets (at least 2^16),
 * the zones' maps (buddy bitmaps, ownership bitmap, chunk table, zone
 * header) and the rest (instance, homes, node bitmaps, clients). */
struct hvx_meta {
    uint64_t records, buckets, zone_maps, rest;
    uint64_t record_bytes;   /* sizeof one page record (14) */
    uint64_t chunk_bytes;    /* one chunk: 512 records and two bits per client slot */
};
void hvx_metadata(const struct hvx *h, struct hvx_meta *m);

/* Test hook: used records read so far by flush-object, destroy-pool and
 * client-destroy (each reads only the chunks holding its VM's records of
 * the kind it removes). */
uint64_t hvx_walked(const struct hvx *h);

/* Distance between two homes in the hardware tree: 0 for the same node,
 * else the number of tree levels below their lowest common parent. */
unsigned hvx_distance(const struct hvx *h, uint32_t a, uint32_t b);

#endif
