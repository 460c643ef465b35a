/* The tmem store: clients (VMs), pools, the key -> page hash, and
 * put/get/flush with per-VM targets (thesis Algorithm 7). No allocation on
 * put/get/flush: records live in the zones' chunks, chained from a bucket
 * array that grows only when ownership grows, and linked in age lists (a
 * VM's ephemeral pages, oldest first, are what a put evicts when no page is
 * free). */
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
    unsigned ph = (unsigned)(key >> 48);
    *c = h->clients[(ph >> 4) - 1];
    return &(*c)->pools[ph & 15];
}

static uint32_t lookup(struct hvx *h, uint64_t key, uint32_t index)
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

/* The age list a used record is on: its VM's ephemeral list, or its
 * persistent pool's. */
static struct hvx_list *list_of(struct hvx *h, uint64_t key)
{
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
    return pool->kind == HVX_POOL_EPHEMERAL ? &c->ephemeral : &pool->list;
}

/* Appends record x as the newest of l. */
static void list_append(struct hvx *h, struct hvx_list *l, uint32_t x)
{
    struct hvx_age *a = age_of(h, x);
    a->older = l->newest;
    a->newer = HVX_NIL;
    if (l->newest != HVX_NIL)
        age_of(h, l->newest)->newer = x;
    else
        l->oldest = x;
    l->newest = x;
    l->pages++;
}

/* Points x's neighbours (or the list's ends) at `to` instead of x. */
static void list_relink(struct hvx *h, struct hvx_list *l, const struct hvx_age *a,
                        uint32_t older_to, uint32_t newer_to)
{
    if (a->older != HVX_NIL)
        age_of(h, a->older)->newer = older_to;
    else
        l->oldest = older_to;
    if (a->newer != HVX_NIL)
        age_of(h, a->newer)->older = newer_to;
    else
        l->newest = newer_to;
}

static void list_unlink(struct hvx *h, struct hvx_list *l, uint32_t x)
{
    const struct hvx_age *a = age_of(h, x);
    list_relink(h, l, a, a->newer, a->older);
    l->pages--;
}

void hvx_tmem_remove(struct hvx *h, uint32_t handle)
{
    struct hvx_rec *r = rec_of(h, handle);
    struct hvx_client *c;
    struct hvx_pool *pool = hvx_tmem_pool_of(h, r->key, &c);
    hash_unlink(h, handle);
    list_unlink(h, list_of(h, r->key), handle);
    r->key = 0;
    c->used--;
    pool->pages--;
    struct hvx_zone *z = zone_of(h, handle);
    z->used_pages--;
    hvx_buddy_free(&z->buddy, handle_index(handle), 0);
}

/* The entry moves to another page and keeps its place in its age list. */
void hvx_tmem_move(struct hvx *h, uint32_t from, uint32_t to)
{
    struct hvx_rec *src = rec_of(h, from), *dst = rec_of(h, to);
    struct hvx_list *l = list_of(h, src->key);
    hash_unlink(h, from);
    dst->key = src->key;
    dst->index = src->index;
    *age_of(h, to) = *age_of(h, from);
    list_relink(h, l, age_of(h, to), to, to);
    hash_insert(h, h->buckets, h->bucket_mask, to);
    src->key = 0;
    struct hvx_zone *zf = zone_of(h, from);
    zf->used_pages--;
    zone_of(h, to)->used_pages++;
    hvx_buddy_free(&zf->buddy, handle_index(from), 0);
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
        if (!c || c->ephemeral.oldest == HVX_NIL)
            continue;
        if (c->target != UINT64_MAX && c->used > c->target && c->used - c->target > over_by) {
            over = c;
            over_by = c->used - c->target;
        }
        if (!big || c->ephemeral.pages > big->ephemeral.pages)
            big = c;
    }
    if (over)
        return over;
    if (putter->ephemeral.oldest != HVX_NIL)
        return putter;
    return big;
}

/* Drops the oldest ephemeral page of the victim VM; false when no VM has
 * one. The page is gone: a later get of its key misses. */
static bool evict_one(struct hvx *h, struct hvx_client *putter)
{
    struct hvx_client *c = victim_of(h, putter);
    if (!c)
        return false;
    hvx_tmem_remove(h, c->ephemeral.oldest);
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
        c->target = UINT64_MAX;
        c->ephemeral = (struct hvx_list){HVX_NIL, HVX_NIL, 0};
        for (unsigned p = 0; p < HVX_POOLS_PER_CLIENT; p++)
            c->pools[p].list = c->ephemeral;
        h->clients[i] = c;
        if (i >= h->clients_hi)
            h->clients_hi = i + 1;
        return HVX_OK;
    }
    return HVX_ENOMEM;
}

/* Removes every entry of list l whose key matches (key & mask) == want,
 * visiting only the records on l. */
static uint64_t remove_matching(struct hvx *h, struct hvx_list *l, uint64_t want,
                                uint64_t mask)
{
    uint64_t n = 0;
    for (uint32_t x = l->oldest; x != HVX_NIL;) {
        struct hvx_rec *r = rec_of(h, x);
        uint32_t next = age_of(h, x)->newer; /* read before x may be freed */
        h->walked++;
        if ((r->key & mask) == want) {
            hvx_tmem_remove(h, x);
            n++;
        }
        x = next;
    }
    return n;
}

/* The list holding the pages of the client's pool `pool`. */
static struct hvx_list *pool_list(struct hvx_client *c, unsigned pool)
{
    return c->pools[pool].kind == HVX_POOL_EPHEMERAL ? &c->ephemeral : &c->pools[pool].list;
}

int hvx_client_destroy(struct hvx *h, uint32_t vm)
{
    unsigned slot;
    struct hvx_client *c = client_find(h, vm, &slot);
    if (!c)
        return HVX_ENOENT;
    remove_matching(h, &c->ephemeral, 0, 0);
    for (unsigned p = 0; p < HVX_POOLS_PER_CLIENT; p++)
        remove_matching(h, &c->pools[p].list, 0, 0);
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
            c->pools[p] = (struct hvx_pool){.in_use = true, .kind = (uint8_t)kind,
                                            .list = {HVX_NIL, HVX_NIL, 0}};
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
    remove_matching(h, pool_list(c, pool), make_key(slot, pool, 0), UINT64_C(0xffff) << 48);
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

/* The page of an entry faulted: drop it; a persistent loss fails the VM. */
static int entry_lost(struct hvx *h, struct hvx_client *c, unsigned pool, uint32_t x)
{
    hvx_tmem_remove(h, x);
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
    uint32_t x = lookup(h, key, index);
    int fault = 0;
    if (x != HVX_NIL) {
        void *p = h->env.page(h->env.arg, handle_gfn(h, x), &fault);
        if (!p)
            return entry_lost(h, c, pool, x);
        memcpy(p, src, h->page_size);
        /* A put again is the page's newest use: it goes last in its list. */
        struct hvx_list *l = list_of(h, key);
        list_unlink(h, l, x);
        list_append(h, l, x);
        c->puts_succ++;
        return zone_of(h, x)->home != h->self;
    }
    if (c->used >= c->target)
        return HVX_ENOMEM;
    void *p;
    x = hvx_zone_alloc_page(h, NULL, &p);
    /* No free page: ephemeral pages make room, one at a time (a page freed
     * on a home that has faulted is no use: the loop goes on). */
    while (x == HVX_NIL && evict_one(h, c))
        x = hvx_zone_alloc_page(h, NULL, &p);
    if (x == HVX_NIL)
        return HVX_ENOMEM;
    memcpy(p, src, h->page_size);
    struct hvx_rec *r = rec_of(h, x);
    r->key = key;
    r->index = index;
    hash_insert(h, h->buckets, h->bucket_mask, x);
    list_append(h, list_of(h, key), x);
    zone_of(h, x)->used_pages++;
    c->used++;
    c->pools[pool].pages++;
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
    uint32_t x = lookup(h, key, index);
    if (x == HVX_NIL)
        return HVX_ENOENT;
    int fault = 0;
    const void *p = h->env.page(h->env.arg, handle_gfn(h, x), &fault);
    if (!p)
        return entry_lost(h, c, pool, x);
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
    uint32_t x = lookup(h, key, index);
    if (x == HVX_NIL)
        return HVX_ENOENT;
    hvx_tmem_remove(h, x);
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
    /* The pool's list (a persistent pool's own, or the VM's ephemeral one):
     * never the records of other VMs or of the VM's persistent pools. */
    return (int64_t)remove_matching(h, pool_list(c, pool), key, ~UINT64_C(0));
}
