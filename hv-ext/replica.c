/* Replicated persistent pages (docs/hypervisor.md, "Replication"): a VM
 * with replicas = 2 keeps every persistent page that lives outside this
 * node twice, the second copy (replica) on a home in another failure
 * domain. A replica is an ordinary record whose key has HVX_KEY_REPLICA
 * set, so ownership, the census and the audit see it as any used page.
 * The under-replicated count is kept exact by tmem.c calling
 * hvx_replica_state before and hvx_replica_settle after every change of a
 * record; hvx_repair restores second copies with bounded work per call. */
#include <string.h>

#include "hvx_int.h"

/* Records examined per copy allowed in one hvx_repair call. */
#define REPAIR_SCAN_PER_COPY 64u

bool hvx_same_domain(const struct hvx *h, uint32_t a, uint32_t b)
{
    if (a == b)
        return true;
    if (a == h->self || b == h->self)
        return false; /* this node is a domain of its own */
    const struct hvx_home *ha = hvx_home_find(h, a), *hb = hvx_home_find(h, b);
    if (!ha || !hb || ha->location_len < 2 || ha->location_len != hb->location_len)
        return false; /* no board known: each node its own domain */
    /* The board: the location without the node's own (last) element. */
    return memcmp(ha->location, hb->location,
                  (ha->location_len - 1) * sizeof ha->location[0]) == 0;
}

bool hvx_replica_wanted(const struct hvx_client *c, unsigned pool)
{
    return c->replicas >= 2 && c->pools[pool].kind == HVX_POOL_PERSISTENT;
}

static uint32_t home_of(struct hvx *h, uint32_t x)
{
    return zone_of(h, x)->home;
}

/* Whether the page (base key, index) wants a second copy and lacks one. */
static bool under(struct hvx *h, uint64_t base, uint32_t index)
{
    uint32_t p = hvx_tmem_lookup(h, base, index);
    if (p == HVX_NIL || home_of(h, p) == h->self)
        return false; /* no page, or a local one: one copy is enough */
    uint32_t r = hvx_tmem_lookup(h, base | HVX_KEY_REPLICA, index);
    return r == HVX_NIL || hvx_same_domain(h, home_of(h, p), home_of(h, r));
}

int hvx_replica_state(struct hvx *h, uint64_t key, uint32_t index)
{
    struct hvx_client *c;
    unsigned pool = (unsigned)(key >> 48) & 15u;
    hvx_tmem_pool_of(h, key, &c);
    if (!hvx_replica_wanted(c, pool))
        return -1;
    return under(h, key & ~HVX_KEY_REPLICA, index);
}

void hvx_replica_settle(struct hvx *h, uint64_t key, uint32_t index, int before)
{
    if (before < 0)
        return;
    struct hvx_client *c;
    hvx_tmem_pool_of(h, key, &c);
    if (under(h, key & ~HVX_KEY_REPLICA, index))
        c->under += !before;
    else
        c->under -= (uint64_t)before;
}

/* A free page outside the domain of `home`, closest first (this node's
 * own first: it is a domain of its own). */
static uint32_t alloc_outside(struct hvx *h, uint32_t home, void **page)
{
    for (unsigned k = 0; k < h->n_zones; k++) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        if (z->faulted || z->buddy.free_pages == 0 || zone_stale(h, z) ||
            hvx_same_domain(h, z->home, home))
            continue;
        uint32_t x = hvx_zone_alloc_in(h, z, page);
        if (x != HVX_NIL)
            return x;
    }
    return HVX_NIL;
}

int hvx_replica_put_new(struct hvx *h, struct hvx_client *c, uint64_t key, uint32_t index,
                        const void *src)
{
    void *p, *q = NULL;
    if (c->used >= c->target)
        return HVX_ENOMEM;
    uint32_t x = hvx_zone_alloc_page(h, NULL, &p), y = HVX_NIL;
    if (x == HVX_NIL)
        return HVX_ENOMEM;
    bool remote = home_of(h, x) != h->self;
    /* Both copies or nothing: a page that cannot have its second copy is
     * refused (the guest keeps it, as for any failed put), so every stored
     * page is whole until a home fails. The closest page first: when it is
     * remote no own page is free, so a pair exists only if some page lies
     * outside its domain. */
    if (remote && (c->used + 2 > c->target ||
                   (y = alloc_outside(h, home_of(h, x), &q)) == HVX_NIL)) {
        hvx_buddy_free(&zone_of(h, x)->buddy, handle_index(x), 0);
        return HVX_ENOMEM;
    }
    memcpy(p, src, h->page_size);
    hvx_tmem_insert(h, x, key, index);
    if (remote) {
        memcpy(q, src, h->page_size);
        hvx_tmem_insert(h, y, key | HVX_KEY_REPLICA, index);
    }
    c->puts_succ++;
    return remote;
}

/* The page's other copy of record x, or HVX_NIL. */
static uint32_t other_copy(struct hvx *h, uint32_t x)
{
    return hvx_tmem_lookup(h, rec_key(rec_of(h, x)) ^ HVX_KEY_REPLICA, hvx_rec_index(h, x));
}

uint32_t hvx_replica_nearest(struct hvx *h, uint32_t x)
{
    uint32_t y = other_copy(h, x);
    if (y == HVX_NIL || zone_of(h, y)->faulted)
        return x;
    return zone_of(h, y)->distance < zone_of(h, x)->distance || zone_of(h, x)->faulted ? y : x;
}

uint32_t hvx_replica_drop(struct hvx *h, uint32_t x)
{
    uint64_t key = rec_key(rec_of(h, x));
    uint32_t y = other_copy(h, x);
    hvx_tmem_remove(h, x);
    if (y != HVX_NIL && (key & HVX_KEY_REPLICA) == 0)
        hvx_tmem_rekey(h, y, key); /* the replica is the page now */
    return y;
}

void hvx_replica_write(struct hvx *h, uint32_t x, const void *src)
{
    uint32_t y = other_copy(h, x);
    int fault = 0;
    void *q = y == HVX_NIL ? NULL : h->env.page(h->env.arg, handle_gfn(h, y), &fault);
    if (q)
        memcpy(q, src, h->page_size);
    else if (y != HVX_NIL)
        hvx_tmem_remove(h, y); /* its home is gone: the page is under-replicated */
}

/* Calls fn on every used record (a scan: set-up and checkers only). */
static void for_each_record(struct hvx *h, void (*fn)(struct hvx *, uint32_t, void *), void *arg)
{
    for (unsigned k = 0; k < h->n_zones; k++) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        for (size_t ch = 0; ch < z->n_chunks && z->used_pages; ch++)
            for (uint32_t i = 0; z->chunks[ch] && i < REC_CHUNK; i++)
                if (rec_key(&z->chunks[ch]->rec[i]))
                    fn(h, (uint32_t)z->slot << HANDLE_ZONE_SHIFT |
                              (uint32_t)((ch << REC_CHUNK_SHIFT) + i), arg);
    }
}

/* Counts into its client's `under` a primary of the client `*arg` (the
 * client bits of its keys) that is under-replicated. */
static void count_under(struct hvx *h, uint32_t x, void *arg)
{
    uint64_t mine = *(const uint64_t *)arg, key = rec_key(rec_of(h, x));
    struct hvx_client *c;
    hvx_tmem_pool_of(h, key, &c);
    if (!(key & HVX_KEY_REPLICA) && (key & (UINT64_C(0x1ff) << 52)) == mine &&
        hvx_replica_state(h, key, hvx_rec_index(h, x)) == 1)
        c->under++;
}

struct recount {
    uint64_t replicas, under;
};

static void recount_one(struct hvx *h, uint32_t x, void *arg)
{
    struct recount *n = arg;
    uint64_t key = rec_key(rec_of(h, x));
    if (key & HVX_KEY_REPLICA)
        n->replicas++;
    else if (hvx_replica_state(h, key, hvx_rec_index(h, x)) == 1)
        n->under++;
}

void hvx_replica_recount(struct hvx *h, uint64_t *replica_pages, uint64_t *under)
{
    struct recount n = {0, 0};
    for_each_record(h, recount_one, &n);
    *replica_pages = n.replicas;
    *under = n.under;
}

int hvx_set_replicas(struct hvx *h, uint32_t vm, unsigned replicas)
{
    if (replicas != 1 && replicas != 2)
        return HVX_EINVAL;
    struct hvx_client *c = NULL;
    unsigned slot = 0;
    while (slot < h->clients_hi && !(h->clients[slot] && h->clients[slot]->vm == vm))
        slot++;
    if (slot == h->clients_hi)
        return HVX_ENOENT;
    c = h->clients[slot];
    if (c->replicas == replicas || (replicas == 1 && c->replicas < 2)) {
        c->replicas = (uint8_t)replicas;
        return HVX_OK;
    }
    c->replicas = (uint8_t)replicas;
    /* Rare (VM set-up): recount the VM's pages. Second copies kept after a
     * change to 1 stay until flushed; they are counted replica pages. */
    c->under = 0;
    uint64_t mine = (uint64_t)(slot + 1) << 52; /* as in the keys (tmem.c) */
    for_each_record(h, count_under, &mine);
    return HVX_OK;
}

/* Gives the page of primary record x a second copy outside its domain
 * (replacing one inside it): 1. 0 when no page is free for it; -1 when x
 * itself faulted (dropped: its other copy, if any, is the page now). */
static int repair_one(struct hvx *h, uint32_t x)
{
    uint64_t key = rec_key(rec_of(h, x));
    uint32_t index = hvx_rec_index(h, x);
    int fault = 0;
    const void *src = h->env.page(h->env.arg, handle_gfn(h, x), &fault);
    if (!src) {
        if (hvx_replica_drop(h, x) == HVX_NIL) {
            struct hvx_client *c;
            hvx_tmem_pool_of(h, key, &c);
            c->failed = true; /* no copy left: as any persistent loss */
        }
        return -1;
    }
    void *q;
    uint32_t y = alloc_outside(h, home_of(h, x), &q);
    if (y == HVX_NIL)
        return 0;
    memcpy(q, src, h->page_size);
    uint32_t old = hvx_tmem_lookup(h, key | HVX_KEY_REPLICA, index);
    if (old != HVX_NIL)
        hvx_tmem_remove(h, old); /* in the primary's domain: no use */
    hvx_tmem_insert(h, y, key | HVX_KEY_REPLICA, index);
    return 1;
}

uint64_t hvx_repair(struct hvx *h, unsigned max_copies)
{
    uint64_t want = 0;
    for (unsigned i = 0; i < h->clients_hi; i++)
        if (h->clients[i])
            want += h->clients[i]->under;
    uint64_t copies = 0, budget = (uint64_t)max_copies * REPAIR_SCAN_PER_COPY;
    /* Resume at the cursor; each zone slot is scanned page by page. */
    for (unsigned turns = 0; want && copies < max_copies && budget && turns <= HVX_MAX_ZONES;) {
        struct hvx_zone *z = h->repair_slot < HVX_MAX_ZONES ? h->zones[h->repair_slot] : NULL;
        if (!z || h->repair_idx >= z->pages || !z->used_pages) {
            h->repair_slot = (h->repair_slot + 1) % HVX_MAX_ZONES;
            h->repair_idx = 0;
            turns++;
            continue;
        }
        uint64_t i = h->repair_idx++;
        budget--;
        const struct hvx_chunk *ch = z->chunks[i >> REC_CHUNK_SHIFT];
        uint64_t key = ch ? rec_key(&ch->rec[i & (REC_CHUNK - 1)]) : 0;
        uint32_t x = ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) | (uint32_t)i;
        if (!key || (key & HVX_KEY_REPLICA) ||
            hvx_replica_state(h, key, hvx_rec_index(h, x)) != 1)
            continue;
        int rc = repair_one(h, x); /* 0: nothing free outside its domain now */
        copies += rc > 0;
        want -= rc > 0;
    }
    return copies;
}
