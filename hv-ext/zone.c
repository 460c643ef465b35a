/* Zones and ownership: one buddy allocator per home this node owns pages
 * of, kept in distance order; Grant, Request, Return, Invalidate and the
 * census listing. */
#include <string.h>

#include "hvx_int.h"

static size_t bitmap_bytes(uint64_t bits)
{
    return (size_t)((bits + 63) / 64) * 8;
}

struct hvx_zone *hvx_zone_find(struct hvx *h, uint32_t home)
{
    for (unsigned k = 0; k < h->n_zones; k++)
        if (h->home_by_distance[k] == home)
            return h->zones[h->by_distance[k]];
    return NULL;
}

static void sort_zones(struct hvx *h)
{
    unsigned n = 0;
    for (unsigned s = 0; s < HVX_MAX_ZONES; s++)
        if (h->zones[s])
            h->by_distance[n++] = (uint8_t)s;
    /* Insertion sort: few zones, changes are rare. Ties: lower home id. */
    for (unsigned i = 1; i < n; i++) {
        uint8_t v = h->by_distance[i];
        unsigned j = i;
        while (j > 0) {
            const struct hvx_zone *a = h->zones[h->by_distance[j - 1]], *b = h->zones[v];
            if (a->distance < b->distance || (a->distance == b->distance && a->home < b->home))
                break;
            h->by_distance[j] = h->by_distance[j - 1];
            j--;
        }
        h->by_distance[j] = v;
    }
    for (unsigned i = 0; i < n; i++)
        h->home_by_distance[i] = h->zones[h->by_distance[i]]->home;
    h->n_zones = n;
}

static struct hvx_zone *zone_create(struct hvx *h, uint32_t home)
{
    const struct hvx_home *hm = hvx_home_find(h, home);
    unsigned slot = 0;
    while (slot < HVX_MAX_ZONES && h->zones[slot])
        slot++;
    if (!hm || slot == HVX_MAX_ZONES)
        return NULL;
    struct hvx_zone *z = hvx_alloc(h, sizeof *z);
    if (!z)
        return NULL;
    z->home = home;
    z->slot = slot;
    z->pages = hm->pages;
    z->distance = hvx_distance(h, h->self, home);
    z->generation = home_generation(h, home);
    z->buddy_bytes = hvx_buddy_mem(hm->pages);
    z->buddy_mem = hvx_alloc(h, z->buddy_bytes);
    z->owned = hvx_alloc(h, bitmap_bytes(hm->pages));
    z->n_chunks = (size_t)((hm->pages + REC_CHUNK - 1) >> REC_CHUNK_SHIFT);
    z->chunks = hvx_alloc(h, z->n_chunks * sizeof *z->chunks);
    h->zones[slot] = z;
    if (!z->buddy_mem || !z->owned || !z->chunks) {
        hvx_zone_delete(h, z);
        return NULL;
    }
    hvx_buddy_init(&z->buddy, hm->pages, z->buddy_mem);
    sort_zones(h);
    return z;
}

void hvx_zone_delete(struct hvx *h, struct hvx_zone *z)
{
    for (size_t c = 0; z->chunks && c < z->n_chunks; c++)
        hvx_free(h, z->chunks[c], sizeof *z->chunks[c]);
    hvx_free(h, z->chunks, z->n_chunks * sizeof *z->chunks);
    hvx_free(h, z->owned, bitmap_bytes(z->pages));
    hvx_free(h, z->buddy_mem, z->buddy_bytes);
    h->zones[z->slot] = NULL;
    hvx_free(h, z, sizeof *z);
    sort_zones(h);
}

/* Whether any page of [idx, idx + n) is set in bitmap w. */
static bool range_any(const uint64_t *w, uint64_t idx, uint64_t n)
{
    while (n) {
        unsigned off = (unsigned)(idx & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << off;
        if (w[idx >> 6] & mask)
            return true;
        idx += take;
        n -= take;
    }
    return false;
}

/* Whether any page of [idx, idx + n) is clear in bitmap w. */
static bool range_any_clear(const uint64_t *w, uint64_t idx, uint64_t n)
{
    while (n) {
        unsigned off = (unsigned)(idx & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << off;
        if ((w[idx >> 6] & mask) != mask)
            return true;
        idx += take;
        n -= take;
    }
    return false;
}

static void range_set(uint64_t *w, uint64_t idx, uint64_t n, bool on)
{
    while (n) {
        unsigned off = (unsigned)(idx & 63);
        uint64_t take = 64 - off < n ? 64 - off : n;
        uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << off;
        if (on)
            w[idx >> 6] |= mask;
        else
            w[idx >> 6] &= ~mask;
        idx += take;
        n -= take;
    }
}

/* Grows the hash table so chains stay short (about 4 pages per bucket). */
void hvx_grow_buckets(struct hvx *h)
{
    uint64_t owned = 0;
    for (unsigned k = 0; k < h->n_zones; k++)
        owned += h->zones[h->by_distance[k]]->owned_pages;
    uint64_t want = h->bucket_mask + 1;
    while (want * 4 < owned && want < (UINT64_C(1) << 30))
        want *= 2;
    if (want == h->bucket_mask + 1)
        return;
    uint32_t *nb = hvx_alloc(h, want * sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    memset(nb, 0xff, want * sizeof *nb);
    hvx_tmem_rehash(h, nb, (uint32_t)(want - 1));
    hvx_free(h, h->buckets, (h->bucket_mask + 1) * sizeof *h->buckets);
    h->buckets = nb;
    h->bucket_mask = (uint32_t)(want - 1);
}

int hvx_zone_add_block(struct hvx *h, uint32_t home, uint64_t idx, unsigned order)
{
    struct hvx_zone *z = hvx_zone_find(h, home);
    if (!z && !(z = zone_create(h, home)))
        return HVX_ENOMEM;
    uint64_t n = UINT64_C(1) << order;
    for (uint64_t c = idx >> REC_CHUNK_SHIFT; c <= (idx + n - 1) >> REC_CHUNK_SHIFT; c++) {
        if (z->chunks[c])
            continue;
        z->chunks[c] = hvx_alloc(h, sizeof *z->chunks[c]);
        if (!z->chunks[c]) {
            if (z->owned_pages == 0 && home != h->self)
                hvx_zone_delete(h, z);
            return HVX_ENOMEM;
        }
    }
    range_set(z->owned, idx, n, true);
    z->owned_pages += n;
    hvx_buddy_free(&z->buddy, idx, order);
    return HVX_OK;
}

/* The owner tables (hvx.h, struct hvx_env): `kept` is false when the
 * embedder keeps none (nothing is checked then); else NULL means the table
 * cannot be reached now. */
struct owner_view {
    bool kept;
    uint32_t *table;
};

static struct owner_view owner_view(struct hvx *h, uint32_t home)
{
    struct owner_view v = {h->env.owners != NULL, NULL};
    int fault = 0;
    if (v.kept)
        v.table = h->env.owners(h->env.arg, home, &fault);
    return v;
}

static uint32_t claim_epoch(struct hvx *h, uint32_t node)
{
    return h->env.claim_epoch ? h->env.claim_epoch(h->env.arg, node) & HVX_OWNER_EPOCH_MASK : 0;
}

/* The entry saying `node` holds (or, in transit, is being given) a page of
 * `home`, in `node`'s claim epoch `epoch`. The home's own entries carry no
 * epoch: its memory's restart makes a new table. */
static uint32_t entry_of(uint32_t home, uint32_t node, bool transit, uint32_t epoch)
{
    uint32_t e = transit ? HVX_OWNER_TRANSIT : 0;
    if (node != home)
        e |= node | (epoch & HVX_OWNER_EPOCH_MASK) << 17;
    return e;
}

/* Whether the entry no longer stands for a page its holder's hypervisor
 * holds: the home's own, in transit (not taken yet: taking it later fails
 * the check), or of an earlier epoch of its holder. */
static bool owner_void(struct hvx *h, uint32_t e)
{
    uint32_t node = HVX_OWNER_NODE(e);
    return node == 0 || (e & HVX_OWNER_TRANSIT) || HVX_OWNER_EPOCH(e) != claim_epoch(h, node);
}

/* Moves every entry of [idx, idx + n) from `from` to `to`, or none (false).
 * The table is shared with other nodes' hypervisors, which change it
 * concurrently (a receiver taking a block, the home's census taking pages
 * back): each entry is swapped atomically, so exactly one of them wins. */
static bool owners_swap(const struct owner_view *v, uint64_t idx, uint64_t n, uint32_t from,
                        uint32_t to)
{
    if (!v->kept)
        return true;
    if (!v->table)
        return false;
    for (uint64_t i = idx; i < idx + n; i++) {
        uint32_t want = from;
        if (!__atomic_compare_exchange_n(&v->table[i], &want, to, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            while (i-- > idx) /* ours since a moment: give them back */
                __atomic_store_n(&v->table[i], from, __ATOMIC_RELEASE);
            return false;
        }
    }
    return true;
}

/* A table that must be written before pages leave: kept but unreachable. */
static bool owners_unreachable(const struct owner_view *v)
{
    return v->kept && !v->table;
}

int64_t hvx_grant(struct hvx *h, uint32_t from, const struct hvx_block *blocks,
                  size_t n, enum hvx_grant_result *result)
{
    int64_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hvx_block *b = &blocks[i];
        uint32_t home = vmca_gfn_home(b->gfn);
        uint64_t idx = vmca_gfn_index(b->gfn);
        const struct hvx_home *hm = hvx_home_find(h, home);
        result[i] = HVX_GRANT_REJECTED;
        if (!hm || !vmca_block_valid(b->gfn, b->order, hm->pages) ||
            b->order > HVX_BUDDY_MAX_ORDER)
            continue;
        uint64_t size = UINT64_C(1) << b->order;
        uint64_t gen = home_generation(h, home);
        if (home != h->self && b->generation && gen && b->generation != gen)
            continue; /* a claim of the home's earlier life: void */
        struct hvx_zone *z = hvx_zone_find(h, home);
        if (z && zone_stale(h, z)) {
            hvx_invalidate(h, home); /* our own claims there are void too */
            z = NULL;
        }
        if (!z && home != h->self && h->env.forget)
            h->env.forget(h->env.arg, home); /* no claim of an earlier life is left */
        if (z && range_any(z->owned, idx, size))
            continue; /* duplicate: some page is already ours */
        /* Only what was given to us: the holder's hypervisor wrote "in
         * transit to us" in the home's table when it let the block go. One
         * epoch for both entries: a fence meanwhile voids what we write. */
        struct owner_view ov = owner_view(h, home);
        uint32_t epoch = claim_epoch(h, h->self);
        uint32_t given = entry_of(home, h->self, true, epoch);
        if (!hvx_enabled(h, home)) {
            if (owners_swap(&ov, idx, size, given, HVX_OWNER_TRANSIT)) /* back home */
                result[i] = HVX_GRANT_BOUNCED;
            continue;
        }
        uint32_t held = entry_of(home, h->self, false, epoch);
        if (!owners_swap(&ov, idx, size, given, held))
            continue;
        if (hvx_zone_add_block(h, home, idx, b->order) != HVX_OK) {
            owners_swap(&ov, idx, size, held, given); /* not taken after all */
            for (; i < n; i++)
                result[i] = HVX_GRANT_REJECTED;
            hvx_grow_buckets(h);
            return accepted ? accepted : HVX_ENOMEM;
        }
        result[i] = HVX_GRANT_ACCEPTED;
        accepted += (int64_t)size;
        if (home == h->self) {
            range_set(h->lent, idx, size, false);
            size_t slot = hvx_home_slot(h, from);
            if (slot < h->n_homes)
                h->lent_to[slot] -= h->lent_to[slot] < size ? h->lent_to[slot] : size;
        }
    }
    hvx_grow_buckets(h);
    return accepted;
}

/* Takes block (idx, order) of zone z (taken from its buddy allocator) out
 * of this node's ownership: the home's table (ov) says "in transit to
 * `to`" from now on. False when the table no longer says we hold it (our
 * claims were voided: we were fenced): the block goes back to the buddy
 * allocator, nothing changes. */
static bool release_block(struct hvx *h, struct hvx_zone *z, uint64_t idx, unsigned order,
                          uint32_t to, const struct owner_view *ov)
{
    uint64_t size = UINT64_C(1) << order;
    uint32_t mine = entry_of(z->home, h->self, false, claim_epoch(h, h->self));
    if (!owners_swap(ov, idx, size, mine, entry_of(z->home, to, true, claim_epoch(h, to)))) {
        hvx_buddy_free(&z->buddy, idx, order);
        return false;
    }
    range_set(z->owned, idx, size, false);
    z->owned_pages -= size;
    if (z->home == h->self && to != h->self) {
        range_set(h->lent, idx, size, true);
        size_t slot = hvx_home_slot(h, to);
        if (slot < h->n_homes)
            h->lent_to[slot] += size;
    }
    return true;
}

static unsigned floor_log2(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

/* Gives up to n free pages of zone z for node `to`, largest blocks first,
 * appending to out (at most cap in all). Returns the pages given; none
 * when the home's owner table cannot be reached (the receiver could not
 * check the transfer). */
static uint64_t give_free(struct hvx *h, struct hvx_zone *z, uint64_t n, uint32_t to,
                          struct hvx_block *out, size_t cap, size_t *n_out)
{
    struct owner_view ov = owner_view(h, z->home);
    if (owners_unreachable(&ov))
        return 0;
    uint64_t given = 0;
    while (given < n && *n_out < cap && z->buddy.free_pages) {
        uint64_t idx;
        unsigned ord;
        hvx_buddy_largest(&z->buddy, &idx, &ord);
        uint64_t want = n - given;
        if ((UINT64_C(1) << ord) > want) {
            ord = floor_log2(want);
            int64_t got = hvx_buddy_alloc(&z->buddy, ord);
            idx = (uint64_t)got; /* cannot fail: a larger block is free */
        } else {
            hvx_buddy_take(&z->buddy, idx, ord);
        }
        if (!release_block(h, z, idx, ord, to, &ov))
            break; /* not ours to give any more */
        out[(*n_out)++] = (struct hvx_block){vmca_gfn_make(z->home, idx), ord, z->generation};
        given += UINT64_C(1) << ord;
    }
    return given;
}

uint64_t hvx_request(struct hvx *h, uint64_t n, uint32_t to, struct hvx_block *out,
                     size_t cap, size_t *n_out)
{
    *n_out = 0;
    uint64_t given = 0;
    /* Zones in order of their home's distance to the receiver. */
    uint8_t order[HVX_MAX_ZONES];
    unsigned nz = h->n_zones;
    memcpy(order, h->by_distance, nz);
    for (unsigned i = 1; i < nz; i++) {
        uint8_t v = order[i];
        unsigned dv = hvx_distance(h, h->zones[v]->home, to), j = i;
        while (j > 0 && hvx_distance(h, h->zones[order[j - 1]]->home, to) > dv) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (unsigned k = 0; k < nz && given < n && *n_out < cap; k++) {
        struct hvx_zone *z = h->zones[order[k]];
        if (bit_test(h->frozen, z->home) || zone_stale(h, z))
            continue; /* its home is taking a census / an earlier life's claims */
        given += give_free(h, z, n - given, to, out, cap, n_out);
    }
    /* A foreign zone with nothing left is dropped (its memory comes back). */
    for (unsigned k = 0; k < nz; k++) {
        struct hvx_zone *z = h->zones[order[k]];
        if (z && z->home != h->self && z->owned_pages == 0)
            hvx_zone_delete(h, z);
    }
    return given;
}

uint64_t hvx_give_home(struct hvx *h, uint32_t home, uint64_t n, struct hvx_block *out,
                       size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (home == h->self)
        return 0; /* never this node's own pages: they are not lent memory */
    struct hvx_zone *z = hvx_zone_find(h, home);
    if (!z || bit_test(h->frozen, home) || zone_stale(h, z))
        return 0; /* nothing here / its census runs / an earlier life's claims */
    uint64_t given = give_free(h, z, n, home, out, cap, n_out);
    if (z->owned_pages == 0)
        hvx_zone_delete(h, z); /* its memory comes back, as after a request */
    return given;
}

uint32_t hvx_zone_alloc_in(struct hvx *h, struct hvx_zone *z, void **page)
{
    int64_t idx = hvx_buddy_alloc(&z->buddy, 0);
    int fault = 0;
    void *p = h->env.page(h->env.arg, vmca_gfn_make(z->home, (uint64_t)idx), &fault);
    if (!p) {
        /* The home's memory is gone: stop allocating there. */
        hvx_buddy_free(&z->buddy, (uint64_t)idx, 0);
        z->faulted = true;
        return HVX_NIL;
    }
    *page = p;
    return ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) | (uint32_t)idx;
}

uint32_t hvx_zone_alloc_page(struct hvx *h, const struct hvx_zone *avoid, void **page)
{
    for (unsigned k = 0; k < h->n_zones; k++) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        if (z == avoid || z->faulted || z->buddy.free_pages == 0)
            continue;
        uint32_t x = hvx_zone_alloc_in(h, z, page);
        if (x != HVX_NIL)
            return x;
    }
    return HVX_NIL;
}

int hvx_return(struct hvx *h, uint32_t home, unsigned max_migrate,
               struct hvx_block *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (home == h->self)
        return HVX_EINVAL;
    struct hvx_zone *z = hvx_zone_find(h, home);
    if (!z)
        return HVX_OK;
    bool stuck = false;
    /* Move in-use pages elsewhere, a bounded number per call. */
    for (uint64_t i = 0; i < z->pages && z->used_pages && max_migrate; i++) {
        if (!bit_test(z->owned, i) || hvx_buddy_is_free(&z->buddy, i))
            continue;
        uint32_t from = ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) | (uint32_t)i;
        uint64_t key = rec_key(rec_of(h, from));
        if (!key)
            continue;
        void *dst;
        uint32_t to = hvx_zone_alloc_page(h, z, &dst);
        int fault = 0;
        void *src = h->env.page(h->env.arg, handle_gfn(h, from), &fault);
        struct hvx_client *c;
        struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
        if (to == HVX_NIL || !src) {
            if (to != HVX_NIL)
                hvx_buddy_free(&zone_of(h, to)->buddy, handle_index(to), 0);
            if (src && pool->kind == HVX_POOL_PERSISTENT) {
                stuck = true; /* nowhere to put it: try again later */
                break;
            }
            /* Lost unless the page has a second copy (replica.c). */
            if (hvx_replica_drop(h, from) == HVX_NIL && !src &&
                pool->kind == HVX_POOL_PERSISTENT)
                c->failed = true;
        } else {
            memcpy(dst, src, h->page_size);
            hvx_tmem_move(h, from, to);
        }
        max_migrate--;
    }
    /* Release what is free, largest blocks first. */
    struct owner_view ov = owner_view(h, home);
    while (*n_out < cap && z->buddy.free_pages && !owners_unreachable(&ov)) {
        uint64_t idx;
        unsigned ord;
        hvx_buddy_largest(&z->buddy, &idx, &ord);
        hvx_buddy_take(&z->buddy, idx, ord);
        if (!release_block(h, z, idx, ord, home, &ov))
            break;
        out[(*n_out)++] = (struct hvx_block){vmca_gfn_make(home, idx), ord, z->generation};
    }
    if (z->owned_pages == 0) {
        hvx_zone_delete(h, z);
        return HVX_OK;
    }
    return stuck ? HVX_ENOMEM : HVX_EBUSY;
}

uint64_t hvx_invalidate(struct hvx *h, uint32_t home)
{
    struct hvx_zone *z = home == h->self ? NULL : hvx_zone_find(h, home);
    if (!z)
        return 0;
    uint64_t dropped = z->owned_pages;
    /* Say so in the home's table where it can be reached (else the home's
     * memory is a new one, or we are fenced: our entries are void anyway). */
    struct owner_view ov = zone_stale(h, z) ? (struct owner_view){false, NULL}
                                            : owner_view(h, home);
    uint32_t mine = entry_of(home, h->self, false, claim_epoch(h, h->self));
    for (uint64_t i = 0; ov.table && i < z->pages; i++)
        if (bit_test(z->owned, i))
            owners_swap(&ov, i, 1, mine, 0);
    for (uint64_t i = 0; i < z->pages && z->used_pages; i++) {
        if (!bit_test(z->owned, i))
            continue;
        uint32_t handle = ((uint32_t)z->slot << HANDLE_ZONE_SHIFT) | (uint32_t)i;
        uint64_t key = rec_key(rec_of(h, handle));
        if (!key)
            continue;
        struct hvx_client *c;
        struct hvx_pool *pool = hvx_tmem_pool_of(h, key, &c);
        /* Lost unless the page has a second copy elsewhere (replica.c). */
        if (hvx_replica_drop(h, handle) == HVX_NIL && pool->kind == HVX_POOL_PERSISTENT)
            c->failed = true;
    }
    hvx_zone_delete(h, z);
    return dropped;
}

int hvx_owned_blocks(const struct hvx *h, uint32_t home,
                     int (*fn)(void *arg, struct hvx_block b), void *arg)
{
    const struct hvx_zone *z = hvx_zone_find((struct hvx *)h, home);
    if (!z)
        return 0;
    for (uint64_t i = 0; i < z->pages;) {
        if (!bit_test(z->owned, i)) {
            uint64_t rest = z->owned[i >> 6] >> (i & 63);
            i = rest ? i + 1 : (i | 63) + 1; /* a word with nothing more: skip it */
            continue;
        }
        /* Grow while the buddy half is owned too (the first half is). */
        unsigned ord = 0;
        while (ord < HVX_BUDDY_MAX_ORDER && !(i & (UINT64_C(1) << ord)) &&
               i + (UINT64_C(2) << ord) <= z->pages &&
               !range_any_clear(z->owned, i + (UINT64_C(1) << ord), UINT64_C(1) << ord))
            ord++;
        int rc = fn(arg, (struct hvx_block){vmca_gfn_make(home, i), ord, z->generation});
        if (rc)
            return rc;
        i += UINT64_C(1) << ord;
    }
    return 0;
}

int64_t hvx_reclaim(struct hvx *h, const struct hvx_block *held, const uint32_t *owners,
                    size_t n)
{
    struct hvx_zone *z = hvx_zone_find(h, h->self);
    uint64_t pages = z->pages;
    size_t bytes = bitmap_bytes(pages);
    uint64_t *mark = hvx_alloc(h, bytes);
    if (!mark)
        return HVX_ENOMEM;
    /* Validate everything first: a bad census changes nothing. */
    for (size_t i = 0; i < n; i++) {
        if (vmca_gfn_home(held[i].gfn) != h->self ||
            !vmca_block_valid(held[i].gfn, held[i].order, pages)) {
            hvx_free(h, mark, bytes);
            return HVX_EINVAL;
        }
    }
    /* Held pages, each counted once, and only when not back here. */
    for (size_t i = 0; i < h->n_homes; i++)
        h->lent_to[i] = 0;
    uint64_t my_gen = home_generation(h, h->self);
    struct owner_view ov = owner_view(h, h->self);
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = vmca_gfn_index(held[i].gfn), size = UINT64_C(1) << held[i].order;
        size_t slot = hvx_home_slot(h, owners[i]);
        if (held[i].generation && my_gen && held[i].generation != my_gen)
            continue; /* a claim on an earlier life of our memory: void */
        for (uint64_t p = idx; p < idx + size; p++) {
            if (bit_test(mark, p) || bit_test(z->owned, p))
                continue;
            mark[p >> 6] |= UINT64_C(1) << (p & 63);
            if (slot < h->n_homes)
                h->lent_to[slot]++;
        }
    }
    int64_t taken = 0;
    /* A page whose table entry says a live holder's hypervisor has it is
     * never taken, whatever the census replies said. */
    for (uint64_t i = 0; ov.table && i < pages; i++) {
        if (bit_test(z->owned, i) || bit_test(mark, i))
            continue;
        /* A void entry becomes the home's, atomically: a receiver taking
         * the page at this moment either wins (it is held) or fails. */
        uint32_t e = __atomic_load_n(&ov.table[i], __ATOMIC_ACQUIRE);
        while (owner_void(h, e) && !__atomic_compare_exchange_n(&ov.table[i], &e, 0, false,
                                                                __ATOMIC_ACQ_REL,
                                                                __ATOMIC_ACQUIRE))
            ; /* e now holds the entry it changed to: look again */
        if (owner_void(h, e))
            continue;
        mark[i >> 6] |= UINT64_C(1) << (i & 63);
        size_t slot = hvx_home_slot(h, HVX_OWNER_NODE(e));
        if (slot < h->n_homes)
            h->lent_to[slot]++;
    }
    for (uint64_t i = 0; i < pages;) {
        if (bit_test(z->owned, i) || bit_test(mark, i)) {
            i++;
            continue;
        }
        unsigned ord = 0; /* largest aligned run of unclaimed pages from i */
        while (ord < HVX_BUDDY_MAX_ORDER && !(i & (UINT64_C(1) << ord)) &&
               i + (UINT64_C(2) << ord) <= pages &&
               !range_any(z->owned, i, UINT64_C(2) << ord) &&
               !range_any(mark, i, UINT64_C(2) << ord))
            ord++;
        if (hvx_zone_add_block(h, h->self, i, ord) != HVX_OK) {
            hvx_free(h, mark, bytes);
            return HVX_ENOMEM;
        }
        taken += (int64_t)(UINT64_C(1) << ord);
        i += UINT64_C(1) << ord;
    }
    /* What is lent is what the census says. */
    memcpy(h->lent, mark, bytes);
    hvx_free(h, mark, bytes);
    return taken;
}

uint64_t hvx_purge_stale(struct hvx *h)
{
    uint64_t dropped = 0;
    for (unsigned k = 0; k < h->n_zones;) {
        struct hvx_zone *z = h->zones[h->by_distance[k]];
        if (zone_stale(h, z)) {
            dropped += hvx_invalidate(h, z->home); /* reorders by_distance */
            k = 0;
        } else {
            k++;
        }
    }
    return dropped;
}
