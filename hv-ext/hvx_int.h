/* libhvx internals shared by hvx.c (instance, statistics), zone.c (zones
 * and ownership) and tmem.c (the store). Not part of the API. */
#ifndef HVX_INT_H
#define HVX_INT_H

#include "buddy.h"
#include "gfn.h"
#include "hvx.h"

#define HVX_NIL UINT32_MAX
#define REC_CHUNK_SHIFT 9u                 /* 512 records per chunk */
#define REC_CHUNK (1u << REC_CHUNK_SHIFT)
#define HANDLE_ZONE_SHIFT 24u              /* handle = zone slot << 24 | index */
#define NODE_IDS (UINT32_C(1) << 16)

/* One record per owned page, 16 bytes. key == 0: the page holds no tmem
 * entry (free, or owned but unused). key = pool handle << 48 | object id. */
/* A replica (second copy) of a persistent page: an ordinary record whose
 * key is the page's with this bit set (pool handles use 13 bits). */
#define HVX_REPLICA_BIT (UINT64_C(1) << 63)

struct hvx_rec {
    uint64_t key;
    uint32_t index;
    uint32_t next;      /* hash chain: next handle or HVX_NIL */
};

struct hvx_zone {
    uint32_t home;
    unsigned slot;                /* index in hvx.zones, handle bits */
    uint64_t pages;               /* the home's page count */
    unsigned distance;            /* from this node */
    uint64_t generation;          /* home's memory generation of these claims */
    bool faulted;                 /* an access faulted: allocate elsewhere */
    struct hvx_buddy buddy;
    void *buddy_mem;
    size_t buddy_bytes;
    uint64_t *owned;              /* bitmap over the home's pages */
    struct hvx_rec **chunks;      /* pages >> REC_CHUNK_SHIFT (rounded up) */
    size_t n_chunks;
    uint64_t owned_pages;
    uint64_t used_pages;
};

struct hvx_pool {
    bool in_use;
    uint8_t kind;                 /* HVX_POOL_PERSISTENT / _EPHEMERAL */
    uint64_t pages;
};

struct hvx_client {
    bool failed;
    uint32_t vm;
    uint64_t used;
    uint64_t target;
    uint64_t puts_total, puts_succ, gets_total, gets_succ, flushes;
    uint8_t replicas;             /* 0 or 1: one copy; 2: replica.c */
    uint64_t replica_pages;       /* records with HVX_REPLICA_BIT */
    uint64_t under;               /* under-replicated pages (replica.c) */
    struct hvx_pool pools[HVX_POOLS_PER_CLIENT];
};

#define HVX_CLIENTS 256u

struct hvx {
    struct hvx_env env;
    uint32_t self;
    uint32_t page_size;
    struct hvx_home *homes;
    size_t n_homes;
    uint64_t *lent_to;            /* per homes[] entry: own pages lent to it */
    uint64_t *lent;               /* bitmap over own pages: lent out */
    uint64_t *enabled;            /* bitmap over node ids */
    uint64_t *frozen;             /* bitmap over node ids: census running */
    struct hvx_zone *zones[HVX_MAX_ZONES]; /* allocated on first block */
    uint8_t by_distance[HVX_MAX_ZONES]; /* zone slots, closest first */
    uint32_t home_by_distance[HVX_MAX_ZONES]; /* their homes: lookups scan this */
    unsigned n_zones;
    uint32_t *buckets;            /* hash heads (handles) */
    uint32_t bucket_mask;
    struct hvx_client *clients[HVX_CLIENTS]; /* allocated on registration */
    unsigned clients_hi;                     /* no client at this slot or above */
    uint64_t meta_bytes;
    unsigned repair_slot;         /* hvx_repair's cursor: zone slot, page */
    uint64_t repair_idx;
};

/* hvx.c */
void *hvx_alloc(struct hvx *h, size_t bytes);
void hvx_free(struct hvx *h, void *p, size_t bytes);
const struct hvx_home *hvx_home_find(const struct hvx *h, uint32_t id);
size_t hvx_home_slot(const struct hvx *h, uint32_t id);   /* n_homes if absent */

/* zone.c */
struct hvx_zone *hvx_zone_find(struct hvx *h, uint32_t home);
int hvx_zone_add_block(struct hvx *h, uint32_t home, uint64_t idx, unsigned order);
void hvx_zone_delete(struct hvx *h, struct hvx_zone *z);
/* Grows the hash table so chains stay about 4 long (called when ownership grows). */
void hvx_grow_buckets(struct hvx *h);
/* Allocates one page from the closest zone that has one, skipping `avoid`
 * (NULL: none). Returns its handle or HVX_NIL; *page gets its address. */
uint32_t hvx_zone_alloc_page(struct hvx *h, const struct hvx_zone *avoid, void **page);
/* One page of zone z (it has a free one); HVX_NIL and z marked faulted
 * when its memory cannot be reached. */
uint32_t hvx_zone_alloc_in(struct hvx *h, struct hvx_zone *z, void **page);

static inline struct hvx_zone *zone_of(struct hvx *h, uint32_t handle)
{
    return h->zones[handle >> HANDLE_ZONE_SHIFT];
}

static inline uint64_t handle_index(uint32_t handle)
{
    return handle & ((UINT32_C(1) << HANDLE_ZONE_SHIFT) - 1);
}

static inline struct hvx_rec *rec_of(struct hvx *h, uint32_t handle)
{
    uint64_t i = handle_index(handle);
    return &zone_of(h, handle)->chunks[i >> REC_CHUNK_SHIFT][i & (REC_CHUNK - 1)];
}

static inline uint64_t handle_gfn(struct hvx *h, uint32_t handle)
{
    return vmca_gfn_make(zone_of(h, handle)->home, handle_index(handle));
}

static inline bool bit_test(const uint64_t *w, uint64_t i)
{
    return (w[i >> 6] >> (i & 63)) & 1u;
}

/* The home's current memory generation (0: not tracked). */
static inline uint64_t home_generation(struct hvx *h, uint32_t home)
{
    return h->env.generation ? h->env.generation(h->env.arg, home) : 0;
}

/* A zone whose claims are of an earlier life of its home. */
static inline bool zone_stale(struct hvx *h, const struct hvx_zone *z)
{
    return z->home != h->self && z->generation &&
           home_generation(h, z->home) != z->generation;
}

/* Drops every zone of an earlier generation; returns pages dropped. */
uint64_t hvx_purge_stale(struct hvx *h);

/* tmem.c */
void hvx_tmem_remove(struct hvx *h, uint32_t handle);    /* entry -> free page */
void hvx_tmem_move(struct hvx *h, uint32_t from, uint32_t to);
void hvx_tmem_rehash(struct hvx *h, uint32_t *buckets, uint32_t mask);
struct hvx_pool *hvx_tmem_pool_of(struct hvx *h, uint64_t key, struct hvx_client **c);
uint32_t hvx_tmem_lookup(struct hvx *h, uint64_t key, uint32_t index);
/* A used record for the key at free page x (taken from its buddy). */
void hvx_tmem_insert(struct hvx *h, uint32_t x, uint64_t key, uint32_t index);
/* Gives record x another key (a replica becoming the page's only copy). */
void hvx_tmem_rekey(struct hvx *h, uint32_t x, uint64_t key);

/* replica.c: the hooks tmem.c and zone.c call. */
/* -1 when the key's page is not tracked (one copy wanted), else whether it
 * is under-replicated now; hvx_replica_settle adds the change since. */
int hvx_replica_state(struct hvx *h, uint64_t key, uint32_t index);
void hvx_replica_settle(struct hvx *h, uint64_t key, uint32_t index, int before);
/* Whether puts of this client's pool keep two copies. */
bool hvx_replica_wanted(const struct hvx_client *c, unsigned pool);
/* A new page of a replicated pool: both copies or nothing. */
int hvx_replica_put_new(struct hvx *h, struct hvx_client *c, uint64_t key, uint32_t index,
                        const void *src);
/* The copy of the page of record x to read first (the nearer one). */
uint32_t hvx_replica_nearest(struct hvx *h, uint32_t x);
/* Record x's page is lost: removes it; returns the page's other copy (now
 * its only one) or HVX_NIL when none is left. */
uint32_t hvx_replica_drop(struct hvx *h, uint32_t x);
/* Writes src to the second copy of the page of primary record x, if any
 * (a copy that faults is dropped). */
void hvx_replica_write(struct hvx *h, uint32_t x, const void *src);

#endif
