/* libhvx instance: creation, metadata accounting, homes, statistics. */
#include <string.h>

#include "hvx_int.h"

void *hvx_alloc(struct hvx *h, size_t bytes)
{
    void *p = h->env.alloc(h->env.arg, bytes);
    if (p)
        h->meta_bytes += bytes;
    return p;
}

void hvx_free(struct hvx *h, void *p, size_t bytes)
{
    if (!p)
        return;
    h->env.free(h->env.arg, p, bytes);
    h->meta_bytes -= bytes;
}

size_t hvx_home_slot(const struct hvx *h, uint32_t id)
{
    for (size_t i = 0; i < h->n_homes; i++)
        if (h->homes[i].id == id)
            return i;
    return h->n_homes;
}

const struct hvx_home *hvx_home_find(const struct hvx *h, uint32_t id)
{
    size_t i = hvx_home_slot(h, id);
    return i < h->n_homes ? &h->homes[i] : NULL;
}

unsigned hvx_distance(const struct hvx *h, uint32_t a, uint32_t b)
{
    if (a == b)
        return 0;
    const struct hvx_home *ha = hvx_home_find(h, a), *hb = hvx_home_find(h, b);
    if (!ha || !hb)
        return HVX_LOCATION_MAX + 1;
    unsigned common = 0;
    while (common < ha->location_len && common < hb->location_len &&
           ha->location[common] == hb->location[common])
        common++;
    unsigned depth = ha->location_len > hb->location_len ? ha->location_len
                                                         : hb->location_len;
    /* Two nodes are never at distance 0, even with identical paths. */
    return depth > common ? depth - common : 1;
}

struct hvx *hvx_new(const struct hvx_params *p, const struct hvx_env *env)
{
    if (!p || !env || !env->alloc || !env->free || !env->page || !p->homes ||
        p->n_homes == 0 || p->n_homes >= NODE_IDS || p->page_size < 512 ||
        (p->page_size & (p->page_size - 1)))
        return NULL;
    for (size_t i = 0; i < p->n_homes; i++) {
        const struct hvx_home *hm = &p->homes[i];
        if (!vmca_node_valid(hm->id) || hm->pages == 0 || hm->pages > HVX_HOME_PAGES_MAX ||
            hm->location_len > HVX_LOCATION_MAX)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (p->homes[j].id == hm->id)
                return NULL;
    }
    struct hvx *h = env->alloc(env->arg, sizeof *h);
    if (!h)
        return NULL;
    memset(h, 0, sizeof *h);
    h->env = *env;
    h->meta_bytes = sizeof *h;
    h->self = p->self;
    h->page_size = p->page_size;
    h->n_homes = p->n_homes;
    h->homes = hvx_alloc(h, p->n_homes * sizeof *h->homes);
    h->lent_to = hvx_alloc(h, p->n_homes * sizeof *h->lent_to);
    h->enabled = hvx_alloc(h, NODE_IDS / 8);
    h->frozen = hvx_alloc(h, NODE_IDS / 8);
    h->bucket_mask = HVX_BUCKETS_MIN - 1;
    h->buckets = hvx_alloc(h, (h->bucket_mask + 1) * sizeof *h->buckets);
    const struct hvx_home *me = NULL;
    if (h->homes) {
        memcpy(h->homes, p->homes, p->n_homes * sizeof *h->homes);
        me = hvx_home_find(h, p->self);
    }
    if (!me || !h->lent_to || !h->enabled || !h->frozen || !h->buckets)
        goto fail;
    memset(h->buckets, 0xff, (h->bucket_mask + 1) * sizeof *h->buckets);
    h->lent = hvx_alloc(h, ((me->pages + 63) / 64) * 8);
    if (!h->lent)
        goto fail;
    h->enabled[h->self >> 6] |= UINT64_C(1) << (h->self & 63);
    /* All own pages, owned and free, in the largest aligned blocks. */
    for (uint64_t i = 0; i < me->pages;) {
        unsigned order = 0;
        while (order < HVX_BUDDY_MAX_ORDER && !(i & (UINT64_C(1) << order)) &&
               i + (UINT64_C(2) << order) <= me->pages)
            order++;
        if (hvx_zone_add_block(h, h->self, i, order) != HVX_OK)
            goto fail;
        i += UINT64_C(1) << order;
    }
    hvx_grow_buckets(h);
    return h;
fail:
    hvx_destroy(h);
    return NULL;
}

void hvx_destroy(struct hvx *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < HVX_MAX_ZONES; i++)
        if (h->zones[i])
            hvx_zone_delete(h, h->zones[i]);
    for (unsigned i = 0; i < HVX_CLIENTS; i++)
        hvx_free(h, h->clients[i], sizeof *h->clients[i]);
    const struct hvx_home *me = h->homes ? hvx_home_find(h, h->self) : NULL;
    if (me)
        hvx_free(h, h->lent, ((me->pages + 63) / 64) * 8);
    hvx_free(h, h->buckets, (h->bucket_mask + 1) * sizeof *h->buckets);
    hvx_free(h, h->enabled, NODE_IDS / 8);
    hvx_free(h, h->frozen, NODE_IDS / 8);
    hvx_free(h, h->lent_to, h->n_homes * sizeof *h->lent_to);
    hvx_free(h, h->homes, h->n_homes * sizeof *h->homes);
    h->env.free(h->env.arg, h, sizeof *h);
}

int hvx_enable(struct hvx *h, uint32_t home, bool enable)
{
    if (!hvx_home_find(h, home) || (home == h->self && !enable))
        return HVX_EINVAL;
    if (enable) {
        h->enabled[home >> 6] |= UINT64_C(1) << (home & 63);
        struct hvx_zone *z = hvx_zone_find(h, home);
        if (z)
            z->faulted = false;
    } else {
        h->enabled[home >> 6] &= ~(UINT64_C(1) << (home & 63));
    }
    return HVX_OK;
}

int hvx_freeze(struct hvx *h, uint32_t home, bool frozen)
{
    if (!hvx_home_find(h, home))
        return HVX_EINVAL;
    if (frozen)
        h->frozen[home >> 6] |= UINT64_C(1) << (home & 63);
    else
        h->frozen[home >> 6] &= ~(UINT64_C(1) << (home & 63));
    return HVX_OK;
}

bool hvx_frozen(const struct hvx *h, uint32_t home)
{
    return vmca_node_valid(home) && bit_test(h->frozen, home);
}

bool hvx_enabled(const struct hvx *h, uint32_t home)
{
    return vmca_node_valid(home) && bit_test(h->enabled, home);
}

uint64_t hvx_owned_pages(const struct hvx *h)
{
    uint64_t pages = 0;
    for (unsigned k = 0; k < h->n_zones; k++)
        pages += h->zones[h->by_distance[k]]->owned_pages;
    return pages;
}

uint64_t hvx_owned_of(const struct hvx *h, uint32_t home)
{
    const struct hvx_zone *z = hvx_zone_find((struct hvx *)h, home);
    return z ? z->owned_pages : 0;
}

const uint64_t *hvx_owned_bitmap(const struct hvx *h, uint32_t home, uint64_t *pages,
                                 uint64_t *generation)
{
    const struct hvx_zone *z = hvx_zone_find((struct hvx *)h, home);
    if (!z)
        return NULL;
    *pages = z->pages;
    *generation = z->generation;
    return z->owned;
}

uint64_t hvx_targets_sum(const struct hvx *h, size_t *n_set)
{
    uint64_t sum = 0;
    *n_set = 0;
    for (unsigned i = 0; i < h->clients_hi; i++) {
        const struct hvx_client *c = h->clients[i];
        if (c && c->target != UINT64_MAX) {
            sum += c->target;
            (*n_set)++;
        }
    }
    return sum;
}

void hvx_stats(struct hvx *h, struct hvx_node_stats *st, struct hvx_home_pages *owned,
               size_t cap_owned, struct hvx_home_pages *lent, size_t cap_lent,
               struct hvx_vm_stats *vms, size_t cap_vms, bool reset_period)
{
    memset(st, 0, sizeof *st);
    hvx_purge_stale(h); /* claims of a restarted home's earlier life are void */
    for (unsigned k = 0; k < h->n_zones; k++) {
        const struct hvx_zone *z = h->zones[h->by_distance[k]];
        st->owned_pages += z->owned_pages;
        st->free_pages += z->buddy.free_pages;
        st->used_pages += z->used_pages;
        if (st->n_homes < cap_owned)
            owned[st->n_homes++] = (struct hvx_home_pages){z->home, z->owned_pages};
    }
    for (size_t i = 0; i < h->n_homes; i++)
        if (h->lent_to[i] && st->n_lent < cap_lent)
            lent[st->n_lent++] = (struct hvx_home_pages){h->homes[i].id, h->lent_to[i]};
    for (unsigned i = 0; i < h->clients_hi; i++) {
        struct hvx_client *c = h->clients[i];
        if (!c)
            continue;
        if (st->n_vms < cap_vms)
            vms[st->n_vms++] = (struct hvx_vm_stats){
                .vm = c->vm, .failed = c->failed, .tmem_used = c->used,
                .mm_target = c->target, .puts_total = c->puts_total,
                .puts_succ = c->puts_succ, .gets_total = c->gets_total,
                .gets_succ = c->gets_succ, .flushes = c->flushes,
                .evictions = c->evicted, .ephemeral = c->ephemeral,
                .puts_evicting = c->puts_evicting,
                .replicas = c->replicas ? c->replicas : 1u,
                .replica_pages = c->replica_pages, .under_replicated = c->under};
        st->replica_pages += c->replica_pages;
        st->under_replicated += c->under;
        if (reset_period)
            c->puts_total = c->puts_succ = c->gets_total = c->gets_succ = c->flushes =
                c->evicted = c->puts_evicting = 0;
    }
    st->metadata_bytes = h->meta_bytes;
}

void hvx_metadata(const struct hvx *h, struct hvx_meta *m)
{
    *m = (struct hvx_meta){.record_bytes = sizeof(struct hvx_rec),
                           .chunk_bytes = sizeof(struct hvx_chunk)};
    for (unsigned k = 0; k < h->n_zones; k++) {
        const struct hvx_zone *z = h->zones[h->by_distance[k]];
        for (size_t c = 0; c < z->n_chunks; c++)
            if (z->chunks[c])
                m->records += sizeof(struct hvx_chunk);
        m->zone_maps += sizeof *z + z->buddy_bytes + ((z->pages + 63) / 64) * 8 +
                        z->n_chunks * sizeof *z->chunks;
    }
    m->buckets = (uint64_t)(h->bucket_mask + 1) * sizeof *h->buckets;
    m->rest = h->meta_bytes - m->records - m->buckets - m->zone_maps;
}

uint64_t hvx_walked(const struct hvx *h)
{
    return h->walked;
}
