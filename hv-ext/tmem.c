/* The tmem store: clients (VMs), pools, the key -> page hash, and
 * put/get/flush with per-VM targets (thesis Algorithm 7). No allocation on
 * put/get/flush: records live in the zones' chunks, chained from a bucket
 * array that grows only when ownership grows. */
#include <string.h>

#include "hvx_int.h"

static uint32_t hash_key(uint64_t key, uint32_t index, uint32_t mask)
{
    uint64_t x = key ^ ((uint64_t)index * UINT64_C(0x9E3779B97F4A7C15));
    x ^= x >> 31;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 29;
    return (uint32_t)x & mask;
}

static struct hvx_client *client_find(struct hvx *h, uint32_t vm, unsigned *slot)
{
    for (unsigned i = 0; i < h->clients_hi; i++) {
        struct hvx_client *c = h->clients[i];
        if (c && c->vm == vm) {
            if (slot)
                *slot = i;
            return c;
        }
    }
    return NULL;
}

/* key = pool handle << 48 | oid; pool handle = (client slot + 1) << 4 | pool,
 * so a used record's key is never 0. */
static uint64_t make_key(unsigned slot, unsigned pool, uint64_t oid)
{
    return ((uint64_t)(((slot + 1) << 4) | pool) << 48) | oid;
}

struct hvx_pool *hvx_tmem_pool_of(struct hvx *h, uint64_t key, struct hvx_client **c)
{
    unsigned ph = (unsigned)(key >> 48) & 0x7fffu; /* a replica's key too */
    *c = h->clients[(ph >> 4) - 1];
    return &(*c)->pools[ph & 15];
}

uint32_t hvx_tmem_lookup(struct hvx *h, uint64_t key, uint32_t index)
{
    for (uint32_t x = h->buckets[hash_key(key, index, h->bucket_mask)]; x != HVX_NIL;) {
        struct hvx_rec *r = rec_of(h, x);
        if (r->key == key && r->index == index)
            return x;
        x = r->next;
    }
    return HVX_NIL;
}

static void hash_insert(struct hvx *h, uint32_t *buckets, uint32_t mask, uint32_t handle)
{
    struct hvx_rec *r = rec_of(h, handle);
    uint32_t *head = &buckets[hash_key(r->key, r->index, mask)];
    r->next = *head;
    *head = handle;
}

static void hash_unlink(struct hvx *h, uint32_t handle)
{
    struct hvx_rec *r = rec_of(h, handle);
    uint32_t *link = &h->buckets[hash_key(r->key, r->index, h->bucket_mask)];
    while (*link != handle)
        link = &rec_of(h, *link)->next;
    *link = r->next;
}

void hvx_tmem_rehash(struct hvx *h, uint32_t *buckets, uint32_t mask)
{
    for (unsigned k = 0; k < h->n_zones; k++) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        for (size_t c = 0; c < z->n_chunks && z->used_pages; c++) {
            if (!z->chunks[c])
                continue;
            for (uint32_t i = 0; i < REC_CHUNK; i++)
                if (z->chunks[c][i].key)
                    hash_insert(h, buckets, mask,
                                ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) |
                                    (uint32_t)((c << REC_CHUNK_SHIFT) + i));
        }
    }
}

void hvx_tmem_insert(struct hvx *h, uint32_t x, uint64_t key, uint32_t index)
{
    int before = hvx_replica_state(h, key, index);
    struct hvx_rec *r = rec_of(h, x);
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
    r->key = key;
    r->index = index;
    hash_insert(h, h->buckets, h->bucket_mask, x);
    zone_of(h, x)->used_pages++;
    c->used++;
    c->replica_pages += (key & HVX_REPLICA_BIT) != 0;
    pool->pages++;
    hvx_replica_settle(h, key, index, before);
}

void hvx_tmem_rekey(struct hvx *h, uint32_t x, uint64_t key)
{
    struct hvx_rec *r = rec_of(h, x);
    int before = hvx_replica_state(h, key, r->index);
    struct hvx_client *c;
    hvx_tmem_pool_of(h, key, &c);
    c->replica_pages -= (r->key & HVX_REPLICA_BIT) != 0;
    c->replica_pages += (key & HVX_REPLICA_BIT) != 0;
    hash_unlink(h, x);
    r->key = key;
    hash_insert(h, h->buckets, h->bucket_mask, x);
    hvx_replica_settle(h, key, r->index, before);
}

void hvx_tmem_remove(struct hvx *h, uint32_t handle)
{
    struct hvx_rec *r = rec_of(h, handle);
    uint64_t key = r->key;
    int before = hvx_replica_state(h, key, r->index);
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, r->key, &c);
    hash_unlink(h, handle);
    r->key = 0;
    c->used--;
    c->replica_pages -= (key & HVX_REPLICA_BIT) != 0;
    pool->pages--;
    struct hvx_zone *z = zone_of(h, handle);
    z->used_pages--;
    hvx_buddy_free(&z->buddy, handle_index(handle), 0);
    hvx_replica_settle(h, key, r->index, before);
}

void hvx_tmem_move(struct hvx *h, uint32_t from, uint32_t to)
{
    struct hvx_rec *src = rec_of(h, from), *dst = rec_of(h, to);
    int before = hvx_replica_state(h, src->key, src->index);
    hash_unlink(h, from);
    dst->key = src->key;
    dst->index = src->index;
    hash_insert(h, h->buckets, h->bucket_mask, to);
    src->key = 0;
    struct hvx_zone *zf = zone_of(h, from);
    zf->used_pages--;
    zone_of(h, to)->used_pages++;
    hvx_buddy_free(&zf->buddy, handle_index(from), 0);
    hvx_replica_settle(h, dst->key, dst->index, before); /* both copies may share a domain now */
}

bool hvx_client_known(struct hvx *h, uint32_t vm)
{
    return client_find(h, vm, NULL) != NULL;
}

bool hvx_client_failed(struct hvx *h, uint32_t vm)
{
    struct hvx_client *c = client_find(h, vm, NULL);
    return c && c->failed;
}

int hvx_client_new(struct hvx *h, uint32_t vm)
{
    if (client_find(h, vm, NULL))
        return HVX_EEXIST;
    for (unsigned i = 0; i < HVX_CLIENTS; i++) {
        if (h->clients[i])
            continue;
        struct hvx_client *c = hvx_alloc(h, sizeof *c);
        if (!c)
            return HVX_ENOMEM;
        c->vm = vm;
        c->target = UINT64_MAX;
        h->clients[i] = c;
        if (i >= h->clients_hi)
            h->clients_hi = i + 1;
        return HVX_OK;
    }
    return HVX_ENOMEM;
}

/* Removes every entry whose key matches (key & mask) == want. */
static uint64_t remove_matching(struct hvx *h, uint64_t want, uint64_t mask)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < h->n_zones; k++) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        for (size_t ch = 0; ch < z->n_chunks && z->used_pages; ch++) {
            if (!z->chunks[ch])
                continue;
            for (uint32_t i = 0; i < REC_CHUNK; i++) {
                uint64_t key = z->chunks[ch][i].key;
                if (key && (key & mask) == want) {
                    hvx_tmem_remove(h, ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) |
                                           (uint32_t)((ch << REC_CHUNK_SHIFT) + i));
                    n += !(key & HVX_REPLICA_BIT); /* pages, not copies */
                }
            }
        }
    }
    return n;
}

int hvx_client_destroy(struct hvx *h, uint32_t vm)
{
    unsigned slot;
    struct hvx_client *c = client_find(h, vm, &slot);
    if (!c)
        return HVX_ENOENT;
    remove_matching(h, (uint64_t)(slot + 1) << 52, UINT64_C(0x7ff) << 52); /* replicas too */
    h->clients[slot] = NULL;
    hvx_free(h, c, sizeof *c);
    return HVX_OK;
}

int hvx_set_target(struct hvx *h, uint32_t vm, uint64_t pages)
{
    struct hvx_client *c = client_find(h, vm, NULL);
    if (!c)
        return HVX_ENOENT;
    c->target = pages;
    return HVX_OK;
}

int hvx_pool_new(struct hvx *h, uint32_t vm, unsigned kind)
{
    struct hvx_client *c = client_find(h, vm, NULL);
    if (!c)
        return HVX_ENOENT;
    if (kind != HVX_POOL_PERSISTENT && kind != HVX_POOL_EPHEMERAL)
        return HVX_EINVAL;
    for (unsigned p = 0; p < HVX_POOLS_PER_CLIENT; p++) {
        if (!c->pools[p].in_use) {
            c->pools[p] = (struct hvx_pool){.in_use = true, .kind = (uint8_t)kind};
            return (int)p;
        }
    }
    return HVX_ENOMEM;
}

int hvx_pool_destroy(struct hvx *h, uint32_t vm, unsigned pool)
{
    unsigned slot;
    struct hvx_client *c = client_find(h, vm, &slot);
    if (!c || pool >= HVX_POOLS_PER_CLIENT || !c->pools[pool].in_use)
        return HVX_ENOENT;
    remove_matching(h, make_key(slot, pool, 0), UINT64_C(0x7fff) << 48);
    c->pools[pool].in_use = false;
    return HVX_OK;
}

/* Common argument checks of the page operations. */
static int resolve(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid,
                   struct hvx_client **c, uint64_t *key)
{
    unsigned slot;
    *c = client_find(h, vm, &slot);
    if (!*c || pool >= HVX_POOLS_PER_CLIENT || !(*c)->pools[pool].in_use)
        return HVX_ENOENT;
    if (oid > HVX_OID_MAX)
        return HVX_EINVAL;
    if ((*c)->failed)
        return HVX_EIO;
    *key = make_key(slot, pool, oid);
    return HVX_OK;
}

/* The page of an entry faulted and it has no other copy (hvx_replica_drop
 * removed it): a persistent loss fails the VM. */
static int entry_lost(struct hvx_client *c, unsigned pool)
{
    if (c->pools[pool].kind == HVX_POOL_PERSISTENT) {
        c->failed = true;
        return HVX_EIO;
    }
    return HVX_ENOENT;
}

int hvx_put(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid, uint32_t index,
            const void *src)
{
    struct hvx_client *c;
    uint64_t key;
    int rc = resolve(h, vm, pool, oid, &c, &key);
    if (rc != HVX_OK)
        return rc;
    c->puts_total++;
    uint32_t x = hvx_tmem_lookup(h, key, index);
    int fault = 0;
    if (x != HVX_NIL) {
        void *p;
        while (!(p = h->env.page(h->env.arg, handle_gfn(h, x), &fault)))
            if ((x = hvx_replica_drop(h, x)) == HVX_NIL) /* else: the other copy */
                return entry_lost(c, pool);
        memcpy(p, src, h->page_size);
        hvx_replica_write(h, x, src);
        c->puts_succ++;
        return zone_of(h, x)->home != h->self;
    }
    if (hvx_replica_wanted(c, pool))
        return hvx_replica_put_new(h, c, key, index, src);
    if (c->used >= c->target)
        return HVX_ENOMEM;
    void *p;
    x = hvx_zone_alloc_page(h, NULL, &p);
    if (x == HVX_NIL)
        return HVX_ENOMEM;
    memcpy(p, src, h->page_size);
    hvx_tmem_insert(h, x, key, index);
    c->puts_succ++;
    return zone_of(h, x)->home != h->self;
}

int hvx_get(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid, uint32_t index,
            void *dst)
{
    struct hvx_client *c;
    uint64_t key;
    int rc = resolve(h, vm, pool, oid, &c, &key);
    if (rc != HVX_OK)
        return rc;
    c->gets_total++;
    uint32_t x = hvx_tmem_lookup(h, key, index);
    if (x == HVX_NIL)
        return HVX_ENOENT;
    x = hvx_replica_nearest(h, x);
    int fault = 0;
    const void *p;
    while (!(p = h->env.page(h->env.arg, handle_gfn(h, x), &fault)))
        if ((x = hvx_replica_drop(h, x)) == HVX_NIL) /* else: the other copy */
            return entry_lost(c, pool);
    memcpy(dst, p, h->page_size);
    int remote = zone_of(h, x)->home != h->self;
    if (c->pools[pool].kind == HVX_POOL_EPHEMERAL)
        hvx_tmem_remove(h, x);
    c->gets_succ++;
    return remote;
}

int hvx_flush_page(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid,
                   uint32_t index)
{
    struct hvx_client *c;
    uint64_t key;
    int rc = resolve(h, vm, pool, oid, &c, &key);
    if (rc != HVX_OK)
        return rc;
    c->flushes++;
    uint32_t x = hvx_tmem_lookup(h, key, index);
    if (x == HVX_NIL)
        return HVX_ENOENT;
    uint32_t second = hvx_tmem_lookup(h, key | HVX_REPLICA_BIT, index);
    hvx_tmem_remove(h, x);
    if (second != HVX_NIL)
        hvx_tmem_remove(h, second);
    return HVX_OK;
}

int64_t hvx_flush_object(struct hvx *h, uint32_t vm, unsigned pool, uint64_t oid)
{
    struct hvx_client *c;
    uint64_t key;
    int rc = resolve(h, vm, pool, oid, &c, &key);
    if (rc != HVX_OK)
        return rc;
    c->flushes++;
    /* A scan of the records: flush-object is rare next to put/get. */
    return (int64_t)remove_matching(h, key, ~HVX_REPLICA_BIT); /* with the replicas */
}
