/* Transfer bookkeeping; see transfer.h. */
#include "transfer.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int xfer_init(struct xfer_table *t, size_t n_nodes)
{
    *t = (struct xfer_table){.next_xfer = 1, .n_senders = n_nodes};
    t->senders = calloc(n_nodes ? n_nodes : 1, sizeof *t->senders);
    return t->senders ? VMCA_OK : VMCA_ERR_NOMEM;
}

void xfer_free(struct xfer_table *t)
{
    for (size_t i = 0; i < t->n_out; i++)
        free(t->out[i].blocks);
    free(t->out);
    free(t->senders);
    *t = (struct xfer_table){0};
}

struct xfer_out *xfer_add(struct xfer_table *t, uint32_t to, uint64_t req,
                          const struct vmca_block *blocks, size_t n)
{
    if (t->n_out == t->cap_out) {
        size_t cap = t->cap_out ? t->cap_out * 2 : 8;
        struct xfer_out *v = realloc(t->out, cap * sizeof *v);
        if (!v)
            return NULL;
        t->out = v;
        t->cap_out = cap;
    }
    struct vmca_block *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return NULL;
    memcpy(copy, blocks, n * sizeof *copy);
    struct xfer_out *x = &t->out[t->n_out++];
    *x = (struct xfer_out){t->next_xfer++, to, req, copy, n, vmca_blocks_pages(blocks, n)};
    return x;
}

bool xfer_acked(struct xfer_table *t, uint64_t xfer, uint32_t from)
{
    for (size_t i = 0; i < t->n_out; i++) {
        if (t->out[i].xfer != xfer || t->out[i].to != from)
            continue;
        free(t->out[i].blocks);
        t->out[i] = t->out[--t->n_out];
        return true;
    }
    return false;
}

size_t xfer_drop_to(struct xfer_table *t, uint32_t to)
{
    size_t dropped = 0;
    for (size_t i = 0; i < t->n_out;) {
        if (t->out[i].to == to) {
            free(t->out[i].blocks);
            t->out[i] = t->out[--t->n_out];
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

void xfer_drop_all(struct xfer_table *t)
{
    for (size_t i = 0; i < t->n_out; i++)
        free(t->out[i].blocks);
    t->n_out = 0;
}

uint64_t xfer_in_transit(const struct xfer_table *t)
{
    uint64_t pages = 0;
    for (size_t i = 0; i < t->n_out; i++)
        pages += t->out[i].pages;
    return pages;
}

static struct xfer_sender *sender_of(struct xfer_table *t, size_t sender, uint64_t incarnation)
{
    if (sender >= t->n_senders)
        return NULL;
    struct xfer_sender *s = &t->senders[sender];
    if (s->incarnation != incarnation) {
        memset(s, 0, sizeof *s);
        s->incarnation = incarnation;
    }
    return s;
}

enum xfer_seen_state xfer_seen(struct xfer_table *t, size_t sender, uint64_t incarnation,
                               uint64_t xfer, uint64_t *accepted)
{
    struct xfer_sender *s = sender_of(t, sender, incarnation);
    for (unsigned i = 0; s && i < XFER_SEEN; i++) {
        if (s->ring[i].state != XFER_NEW && s->ring[i].xfer == xfer) {
            if (accepted)
                *accepted = s->ring[i].accepted;
            return (enum xfer_seen_state)s->ring[i].state;
        }
    }
    return XFER_NEW;
}

void xfer_mark(struct xfer_table *t, size_t sender, uint64_t incarnation, uint64_t xfer,
               enum xfer_seen_state state, uint64_t accepted)
{
    struct xfer_sender *s = sender_of(t, sender, incarnation);
    if (!s)
        return;
    for (unsigned i = 0; i < XFER_SEEN; i++) {
        if (s->ring[i].state != XFER_NEW && s->ring[i].xfer == xfer) {
            s->ring[i].state = (uint8_t)state;
            s->ring[i].accepted = accepted;
            return;
        }
    }
    s->ring[s->pos] = (struct xfer_seen_entry){xfer, accepted, (uint8_t)state};
    s->pos = (s->pos + 1) % XFER_SEEN;
}
