/* libhvx internals shared by hvx.c (instance, statistics), zone.c (zones
 * and ownership) and tmem.c (the store). Not part of the API. */
#ifndef HVX_INT_H
#define HVX_INT_H

#include <string.h>

#include "buddy.h"
#include "gfn.h"
#include "hvx.h"

#define HVX_NIL UINT32_MAX
#define REC_CHUNK_SHIFT 9u                 /* 512 records per chunk */
#define REC_CHUNK (1u << REC_CHUNK_SHIFT)
#define HANDLE_ZONE_SHIFT 24u              /* handle = zone slot << 24 | index */
#define NODE_IDS (UINT32_C(1) << 16)
#define HVX_CLIENTS HVX_MAX_CLIENTS
_Static_assert(((HVX_CLIENTS + 1) << 4) - 1 <= 0x1fffu && HVX_CLIENTS % 64 == 0,
               "client slots must fit the 13-bit pool handle of a key and whole bitmap words");

/* A record's 64-bit key is the exact identity of its entry with the index:
 * pool handle << 48 | object id, pool handle = (client slot + 1) << 4 | pool
 * (13 bits: bits 48-60). Bit 63 marks a replica copy (hv-ext/replica.c),
 * part of the identity; bits 61-62 are record flags, never part of it. */
#define HVX_KEY_REPLICA (UINT64_C(1) << 63)
#define HVX_KEY_EPOCH_SHIFT 61            /* an ephemeral record's put epoch, mod 4 */
#define HVX_KEY_FLAGS (UINT64_C(3) << HVX_KEY_EPOCH_SHIFT)
#define HVX_EPOCH_MIN 16u                 /* puts in an epoch, at least */
#define HVX_KEY_POOL(k) ((unsigned)((k) >> 48) & 0x1fffu)

/* The hash never has fewer than 2^16 buckets, so a record need not store
 * the low 16 bits of its index: they follow from its bucket (see
 * hvx_bucket). The end of a chain is not HVX_NIL but CHAIN_END | the
 * bucket's low 24 bits, so a record found by handle (eviction, walks)
 * knows its bucket and with it its whole index. Handles are below
 * CHAIN_END: zone slots are < 255. */
#define HVX_BUCKETS_MIN (UINT32_C(1) << 16)
#define INDEX_LO_BITS 16u
#define CHAIN_END UINT32_C(0xff000000)

/* One record per owned page, 14 bytes (unaligned: read through the
 * accessors): key (8), hash chain link (4: next handle or CHAIN_END | bucket),
 * index >> 16 (2). Key 0: the page holds no tmem entry (free, or owned but
 * unused). */
struct hvx_rec {
    unsigned char b[14];
};

/* A chunk: REC_CHUNK records and, per client slot, whether the chunk may
 * hold an ephemeral / a persistent record of that client (set on insert,
 * cleared by a walk that scanned the whole chunk and found none). Walks
 * and the eviction hands visit only the chunks with their client's bit. */
struct hvx_chunk {
    struct hvx_rec rec[REC_CHUNK];
    uint64_t eph[HVX_CLIENTS / 64];
    uint64_t pers[HVX_CLIENTS / 64];
};

static inline uint64_t rec_raw(const struct hvx_rec *r)
{
    uint64_t k;
    memcpy(&k, r->b, 8);
    return k;
}

/* The identity key (flags cleared); 0 for a free record. */
static inline uint64_t rec_key(const struct hvx_rec *r)
{
    return rec_raw(r) & ~HVX_KEY_FLAGS;
}

static inline void rec_set_raw(struct hvx_rec *r, uint64_t k)
{
    memcpy(r->b, &k, 8);
}

static inline uint32_t rec_next(const struct hvx_rec *r)
{
    uint32_t n;
    memcpy(&n, r->b + 8, 4);
    return n;
}

static inline void rec_set_next(struct hvx_rec *r, uint32_t n)
{
    memcpy(r->b + 8, &n, 4);
}

static inline uint32_t rec_index_hi(const struct hvx_rec *r)
{
    uint16_t v;
    memcpy(&v, r->b + 12, 2);
    return v;
}

static inline void rec_set_index_hi(struct hvx_rec *r, uint32_t index)
{
    uint16_t v = (uint16_t)(index >> INDEX_LO_BITS);
    memcpy(r->b + 12, &v, 2);
}

static inline bool chain_end(uint32_t link)
{
    return link >= CHAIN_END;
}

static inline uint32_t key_mix(uint64_t key)
{
    uint64_t x = key;
    x ^= x >> 31;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 29;
    return (uint32_t)x ^ (uint32_t)(x >> 32);
}

/* The bucket of (key, index): index ^ a mix of the key and of index >> 16,
 * so the low 16 bits of the index are the bucket's low 16 bits ^ mixes of
 * what the record stores (key, index >> 16), and indices that differ only
 * above bit 16 still spread. */
static inline uint32_t hvx_bucket(uint64_t key, uint32_t index, uint32_t mask)
{
    uint32_t hi = index >> INDEX_LO_BITS;
    return (key_mix(key) ^ index ^ (hi * UINT32_C(0x9E3779B1))) & mask;
}

/* The whole index of a record of `key` in a bucket whose low bits are b. */
static inline uint32_t index_in_bucket(uint64_t key, uint32_t hi, uint32_t b)
{
    uint32_t lo = (b ^ key_mix(key) ^ (hi * UINT32_C(0x9E3779B1))) & 0xffffu;
    return hi << INDEX_LO_BITS | lo;
}

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
    struct hvx_chunk **chunks;    /* pages >> REC_CHUNK_SHIFT (rounded up) */
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
    unsigned slot;                /* in hvx.clients: the key's and chunks' bits */
    uint32_t vm;
    uint64_t used;
    uint64_t target;
    uint64_t puts_total, puts_succ, gets_total, gets_succ, flushes;
    uint64_t evicted;             /* this period: its ephemeral pages evicted */
    uint64_t puts_evicting;       /* this period: puts that evicted to find a page */
    uint64_t evicted_all;         /* since registration */
    uint64_t ephemeral;           /* its ephemeral pages now */
    /* Eviction (docs/hypervisor.md): put epochs, the live ones distinct mod 4. */
    uint32_t epoch, epoch_puts;   /* the current one, puts into it so far */
    uint64_t per_epoch[4];        /* its ephemeral pages by epoch mod 4 */
    uint32_t hand;                /* the next handle its hand looks at */
    uint8_t replicas;             /* 0 or 1: one copy; 2: replica.c */
    uint64_t replica_pages;       /* records with HVX_KEY_REPLICA */
    uint64_t under;               /* under-replicated pages (replica.c) */
    struct hvx_pool pools[HVX_POOLS_PER_CLIENT];
};

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
    uint64_t walked;              /* used records visited by walks (test hook) */
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

static inline struct hvx_chunk *chunk_of(struct hvx *h, uint32_t handle)
{
    return zone_of(h, handle)->chunks[handle_index(handle) >> REC_CHUNK_SHIFT];
}

static inline struct hvx_rec *rec_of(struct hvx *h, uint32_t handle)
{
    return &chunk_of(h, handle)->rec[handle_index(handle) & (REC_CHUNK - 1)];
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

/* tmem.c (also for hv-ext/replica.c: records of any key, bit 63 included) */
/* The handle of the record of (key, index), or HVX_NIL. key: no flags. */
uint32_t hvx_tmem_lookup(struct hvx *h, uint64_t key, uint32_t index);
/* Makes the allocated page `handle` the entry (key, index): record, hash,
 * chunk bits, and the zone's, client's and pool's counts; an ephemeral
 * entry joins its VM's current epoch. */
void hvx_tmem_insert(struct hvx *h, uint32_t handle, uint64_t key, uint32_t index);
void hvx_tmem_remove(struct hvx *h, uint32_t handle);    /* entry -> free page */
void hvx_tmem_move(struct hvx *h, uint32_t from, uint32_t to);
void hvx_tmem_rehash(struct hvx *h, uint32_t *buckets, uint32_t mask);
struct hvx_pool *hvx_tmem_pool_of(struct hvx *h, uint64_t key, struct hvx_client **c);
/* The whole index of a used record found by handle (follows its chain). */
uint32_t hvx_rec_index(struct hvx *h, uint32_t handle);
/* Gives persistent record x another key (a replica becoming the page's only
 * copy). */
void hvx_tmem_rekey(struct hvx *h, uint32_t x, uint64_t key);

/* replica.c: the hooks tmem.c and zone.c call. Keys: no flags. */
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
