/* The tmem store: clients (VMs), pools, the key -> page hash, and
 * put/get/flush with per-VM targets (thesis Algorithm 7). No allocation on
 * put/get/flush: records live in the zones' chunks, chained from a bucket
 * array that grows only when ownership grows. A put that finds no free page
 * evicts an ephemeral page: one of its VM's oldest put epoch, found by a
 * hand per VM going round its pages in page order. */
#include <string.h>

#include "hvx_int.h"

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
    unsigned ph = HVX_KEY_POOL(key);
    *c = h->clients[(ph >> 4) - 1];
    return &(*c)->pools[ph & 15];
}

static unsigned client_slot_of(uint64_t key)
{
    return (HVX_KEY_POOL(key) >> 4) - 1;
}

static void bit_set(uint64_t *w, unsigned i)
{
    w[i >> 6] |= UINT64_C(1) << (i & 63);
}

static void bit_clear(uint64_t *w, unsigned i)
{
    w[i >> 6] &= ~(UINT64_C(1) << (i & 63));
}

static uint32_t lookup_in(struct hvx *h, uint64_t key, uint32_t index, uint32_t b)
{
    for (uint32_t x = h->buckets[b]; !chain_end(x);) {
        const struct hvx_rec *r = rec_of(h, x);
        if (rec_key(r) == key && rec_index_hi(r) == index >> INDEX_LO_BITS)
            return x;
        x = rec_next(r);
    }
    return HVX_NIL;
}

uint32_t hvx_tmem_lookup(struct hvx *h, uint64_t key, uint32_t index)
{
    return lookup_in(h, key, index, hvx_bucket(key, index, h->bucket_mask));
}

static void hash_insert(struct hvx *h, uint32_t *buckets, uint32_t b, uint32_t handle)
{
    rec_set_next(rec_of(h, handle), chain_end(buckets[b]) ? CHAIN_END | (b & 0xffffffu)
                                                          : buckets[b]);
    buckets[b] = handle;
}

uint32_t hvx_rec_index(struct hvx *h, uint32_t handle)
{
    const struct hvx_rec *r = rec_of(h, handle);
    uint32_t n = rec_next(r);
    while (!chain_end(n))
        n = rec_next(rec_of(h, n));
    return index_in_bucket(rec_key(r), rec_index_hi(r), n);
}

/* Takes `handle` off the chain of bucket b. */
static void hash_unlink(struct hvx *h, uint32_t handle, uint32_t b)
{
    uint32_t next = rec_next(rec_of(h, handle));
    if (h->buckets[b] == handle) {
        h->buckets[b] = chain_end(next) ? HVX_NIL : next;
        return;
    }
    uint32_t x = h->buckets[b];
    while (rec_next(rec_of(h, x)) != handle)
        x = rec_next(rec_of(h, x));
    rec_set_next(rec_of(h, x), next);
}

static uint32_t bucket_of(struct hvx *h, uint32_t handle)
{
    return hvx_bucket(rec_key(rec_of(h, handle)), hvx_rec_index(h, handle), h->bucket_mask);
}

/* Walks the current buckets (each record's bucket gives its index) into
 * the new ones. */
void hvx_tmem_rehash(struct hvx *h, uint32_t *buckets, uint32_t mask)
{
    for (uint32_t b = 0; b <= h->bucket_mask; b++) {
        for (uint32_t x = h->buckets[b]; !chain_end(x);) {
            const struct hvx_rec *r = rec_of(h, x);
            uint32_t next = rec_next(r);
            uint64_t key = rec_key(r);
            hash_insert(h, buckets, hvx_bucket(key, index_in_bucket(key, rec_index_hi(r), b), mask), x);
            x = next;
        }
    }
}

static bool is_ephemeral(struct hvx *h, uint64_t key)
{
    struct hvx_client *c;
    return hvx_tmem_pool_of(h, key, &c)->kind == HVX_POOL_EPHEMERAL;
}

/* The epoch bits of the VM's next ephemeral put. An epoch ends after
 * max(HVX_EPOCH_MIN, half the VM's ephemeral pages) puts, and only once
 * the epoch four back has no page left, so live epochs differ mod 4. */
static uint64_t epoch_stamp(struct hvx_client *c)
{
    uint64_t len = c->ephemeral / 2 > HVX_EPOCH_MIN ? c->ephemeral / 2 : HVX_EPOCH_MIN;
    if (c->epoch_puts >= len && !c->per_epoch[(c->epoch + 1) & 3]) {
        c->epoch++;
        c->epoch_puts = 0;
    }
    c->epoch_puts++;
    c->per_epoch[c->epoch & 3]++;
    return (uint64_t)(c->epoch & 3) << HVX_KEY_EPOCH_SHIFT;
}

static unsigned epoch_of(uint64_t raw)
{
    return (unsigned)(raw >> HVX_KEY_EPOCH_SHIFT) & 3;
}

void hvx_tmem_insert(struct hvx *h, uint32_t handle, uint64_t key, uint32_t index)
{
    int before = hvx_replica_state(h, key, index);
    struct hvx_rec *r = rec_of(h, handle);
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
    rec_set_raw(r, key | (pool->kind == HVX_POOL_EPHEMERAL ? epoch_stamp(c) : 0));
    rec_set_index_hi(r, index);
    hash_insert(h, h->buckets, hvx_bucket(key, index, h->bucket_mask), handle);
    struct hvx_chunk *ch = chunk_of(h, handle);
    bit_set(pool->kind == HVX_POOL_EPHEMERAL ? ch->eph : ch->pers, c->slot);
    zone_of(h, handle)->used_pages++;
    c->used++;
    c->ephemeral += pool->kind == HVX_POOL_EPHEMERAL;
    c->replica_pages += (key & HVX_KEY_REPLICA) != 0;
    pool->pages++;
    hvx_replica_settle(h, key, index, before);
}

void hvx_tmem_rekey(struct hvx *h, uint32_t x, uint64_t key)
{
    struct hvx_rec *r = rec_of(h, x);
    uint64_t old = rec_key(r);
    uint32_t index = hvx_rec_index(h, x);
    int before = hvx_replica_state(h, key, index);
    struct hvx_client *c;
    hvx_tmem_pool_of(h, key, &c);
    c->replica_pages -= (old & HVX_KEY_REPLICA) != 0;
    c->replica_pages += (key & HVX_KEY_REPLICA) != 0;
    hash_unlink(h, x, hvx_bucket(old, index, h->bucket_mask));
    rec_set_raw(r, key); /* persistent: no epoch bits */
    hash_insert(h, h->buckets, hvx_bucket(key, index, h->bucket_mask), x);
    hvx_replica_settle(h, key, index, before);
}

/* Frees the entry at `handle`, which is on the chain of bucket b. */
static void remove_at(struct hvx *h, uint32_t handle, uint32_t b)
{
    struct hvx_rec *r = rec_of(h, handle);
    uint64_t key = rec_key(r);
    uint32_t index = index_in_bucket(key, rec_index_hi(r), b);
    int before = hvx_replica_state(h, key, index);
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
    hash_unlink(h, handle, b);
    if (pool->kind == HVX_POOL_EPHEMERAL) {
        c->per_epoch[epoch_of(rec_raw(r))]--;
        c->ephemeral--;
    }
    rec_set_raw(r, 0);
    c->used--;
    c->replica_pages -= (key & HVX_KEY_REPLICA) != 0;
    pool->pages--;
    struct hvx_zone *z = zone_of(h, handle);
    z->used_pages--;
    hvx_buddy_free(&z->buddy, handle_index(handle), 0);
    hvx_replica_settle(h, key, index, before);
}

void hvx_tmem_remove(struct hvx *h, uint32_t handle)
{
    remove_at(h, handle, bucket_of(h, handle));
}

/* The entry moves to another page with its epoch: its place in the
 * eviction order is its epoch's, wherever the page is. */
void hvx_tmem_move(struct hvx *h, uint32_t from, uint32_t to)
{
    struct hvx_rec *src = rec_of(h, from), *dst = rec_of(h, to);
    uint64_t raw = rec_raw(src);
    uint32_t index = hvx_rec_index(h, from);
    uint64_t key = rec_key(src);
    int before = hvx_replica_state(h, key, index);
    uint32_t b = hvx_bucket(key, index, h->bucket_mask);
    hash_unlink(h, from, b);
    rec_set_raw(dst, raw);
    rec_set_index_hi(dst, index);
    hash_insert(h, h->buckets, b, to);
    struct hvx_chunk *ch = chunk_of(h, to);
    struct hvx_client *c;
    hvx_tmem_pool_of(h, rec_key(src), &c);
    bit_set(is_ephemeral(h, rec_key(src)) ? ch->eph : ch->pers, c->slot);
    rec_set_raw(src, 0);
    struct hvx_zone *zf = zone_of(h, from);
    zf->used_pages--;
    zone_of(h, to)->used_pages++;
    hvx_buddy_free(&zf->buddy, handle_index(from), 0);
    hvx_replica_settle(h, key, index, before); /* both copies may share a domain now */
}

/* The VM whose ephemeral page goes when a put of `putter` finds no free
 * page (docs/hypervisor.md, "Eviction"): the VM furthest above its target
 * first; else the putter itself; else the VM with the most ephemeral
 * pages. Ties: the lower client slot. NULL: nothing can be evicted. The
 * scan is over clients (at most HVX_CLIENTS), never over pages. */
static struct hvx_client *victim_of(struct hvx *h, struct hvx_client *putter)
{
    struct hvx_client *over = NULL, *big = NULL;
    uint64_t over_by = 0;
    for (unsigned i = 0; i < h->clients_hi; i++) {
        struct hvx_client *c = h->clients[i];
        if (!c || !c->ephemeral)
            continue;
        if (c->target != UINT64_MAX && c->used > c->target && c->used - c->target > over_by) {
            over = c;
            over_by = c->used - c->target;
        }
        if (!big || c->ephemeral > big->ephemeral)
            big = c;
    }
    if (over)
        return over;
    if (putter->ephemeral)
        return putter;
    return big;
}

/* Whether the record with raw key k is an ephemeral one of client c. */
static bool ephemeral_of(const struct hvx_client *c, uint64_t k)
{
    return k && client_slot_of(k) == c->slot &&
           c->pools[HVX_KEY_POOL(k) & 15].kind == HVX_POOL_EPHEMERAL;
}

/* The residue of the VM's oldest epoch that has a page. */
static unsigned oldest_epoch(const struct hvx_client *c)
{
    for (unsigned d = 3; d > 0; d--)
        if (c->per_epoch[(c->epoch - d) & 3])
            return (c->epoch - d) & 3;
    return c->epoch & 3;
}

/* An ephemeral page of the VM's oldest epoch: the first its hand meets
 * going on in page order (zone slot, then page index), skipping chunks
 * without the VM's ephemeral bit. The epoch has a page, so one round finds
 * it. */
static uint32_t epoch_victim(struct hvx *h, struct hvx_client *c)
{
    unsigned zs = c->hand >> HANDLE_ZONE_SHIFT, wraps = 0, want = oldest_epoch(c);
    uint64_t i = handle_index(c->hand);
    while (wraps < 2) {
        if (zs >= HVX_MAX_ZONES) {
            zs = 0;
            i = 0;
            wraps++;
            continue;
        }
        struct hvx_zone *z = h->zones[zs];
        if (!z || (i >> REC_CHUNK_SHIFT) >= z->n_chunks) {
            zs++;
            i = 0;
            continue;
        }
        struct hvx_chunk *ch = z->chunks[i >> REC_CHUNK_SHIFT];
        uint64_t base = i & ~(uint64_t)(REC_CHUNK - 1);
        if (ch && bit_test(ch->eph, c->slot)) {
            bool any = false;
            for (uint64_t j = i - base; j < REC_CHUNK; j++) {
                uint64_t k = rec_raw(&ch->rec[j]);
                if (!ephemeral_of(c, k))
                    continue;
                any = true;
                if (epoch_of(k) != want)
                    continue;
                uint32_t x = (uint32_t)zs << HANDLE_ZONE_SHIFT | (uint32_t)(base + j);
                c->hand = x + 1; /* past the end of a zone: the next slot's start */
                return x;
            }
            if (!any && i == base)
                bit_clear(ch->eph, c->slot); /* none left here */
        }
        i = base + REC_CHUNK;
    }
    return HVX_NIL;
}

/* Drops one ephemeral page of the victim VM (epoch_victim); false when no
 * VM has one. The page is gone: a later get of its key misses. */
static bool evict_one(struct hvx *h, struct hvx_client *putter)
{
    struct hvx_client *c = victim_of(h, putter);
    uint32_t x = c ? epoch_victim(h, c) : HVX_NIL;
    if (x == HVX_NIL)
        return false;
    hvx_tmem_remove(h, x);
    c->evicted++;
    c->evicted_all++;
    return true;
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
        c->slot = i;
        c->target = UINT64_MAX;
        h->clients[i] = c;
        if (i >= h->clients_hi)
            h->clients_hi = i + 1;
        return HVX_OK;
    }
    return HVX_ENOMEM;
}

/* Removes every record of client c of the given kind (ephemeral or not)
 * whose key (flags and the replica bit cleared) matches (key & mask) ==
 * want, visiting only the chunks with c's bit for that kind. */
static uint64_t remove_matching(struct hvx *h, struct hvx_client *c, bool ephemeral,
                                uint64_t want, uint64_t mask)
{
    uint64_t n = 0;
    mask &= ~(HVX_KEY_FLAGS | HVX_KEY_REPLICA);
    for (unsigned zs = 0; zs < HVX_MAX_ZONES; zs++) {
        struct hvx_zone *z = h->zones[zs];
        for (size_t ci = 0; z && ci < z->n_chunks; ci++) {
            struct hvx_chunk *ch = z->chunks[ci];
            uint64_t *bits = ch ? (ephemeral ? ch->eph : ch->pers) : NULL;
            if (!bits || !bit_test(bits, c->slot))
                continue;
            bool left = false;
            for (uint32_t j = 0; j < REC_CHUNK; j++) {
                uint64_t k = rec_raw(&ch->rec[j]);
                if (!k)
                    continue;
                h->walked++;
                if (client_slot_of(k) != c->slot || ephemeral_of(c, k) != ephemeral)
                    continue;
                if ((k & mask) == want) {
                    hvx_tmem_remove(h, (uint32_t)zs << HANDLE_ZONE_SHIFT |
                                           (uint32_t)((ci << REC_CHUNK_SHIFT) + j));
                    n += !(k & HVX_KEY_REPLICA); /* pages, not copies */
                } else {
                    left = true;
                }
            }
            if (!left)
                bit_clear(bits, c->slot);
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
    remove_matching(h, c, true, 0, 0);
    remove_matching(h, c, false, 0, 0);
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
    remove_matching(h, c, c->pools[pool].kind == HVX_POOL_EPHEMERAL, make_key(slot, pool, 0),
                    UINT64_C(0xffff) << 48);
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
        /* A put again is the page's newest use: it joins the current epoch. */
        if (c->pools[pool].kind == HVX_POOL_EPHEMERAL) {
            struct hvx_rec *r = rec_of(h, x);
            c->per_epoch[epoch_of(rec_raw(r))]--;
            rec_set_raw(r, key | epoch_stamp(c));
        }
        c->puts_succ++;
        return zone_of(h, x)->home != h->self;
    }
    if (hvx_replica_wanted(c, pool))
        return hvx_replica_put_new(h, c, key, index, src);
    if (c->used >= c->target)
        return HVX_ENOMEM;
    void *p;
    x = hvx_zone_alloc_page(h, NULL, &p);
    /* No free page: ephemeral pages make room, one at a time (a page freed
     * on a home that has faulted is no use: the loop goes on). */
    bool evicted = false;
    while (x == HVX_NIL && evict_one(h, c)) {
        evicted = true;
        x = hvx_zone_alloc_page(h, NULL, &p);
    }
    if (x == HVX_NIL)
        return HVX_ENOMEM;
    memcpy(p, src, h->page_size);
    hvx_tmem_insert(h, x, key, index);
    c->puts_succ++;
    c->puts_evicting += evicted; /* the policies read it as pressure */
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
    uint32_t b = hvx_bucket(key, index, h->bucket_mask);
    uint32_t x = lookup_in(h, key, index, b);
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
        remove_at(h, x, b);
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
    uint32_t b = hvx_bucket(key, index, h->bucket_mask);
    uint32_t x = lookup_in(h, key, index, b);
    if (x == HVX_NIL)
        return HVX_ENOENT;
    uint32_t second = hvx_tmem_lookup(h, key | HVX_KEY_REPLICA, index);
    remove_at(h, x, b);
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
    /* Only the chunks holding the VM's records of the pool's kind. */
    return (int64_t)remove_matching(h, c, c->pools[pool].kind == HVX_POOL_EPHEMERAL, key,
                                    ~UINT64_C(0));
}
