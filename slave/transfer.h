/* Acknowledged ownership transfers (PROTOCOL.md, "what this project adds"
 * 1): a donor keeps the blocks of every Grant it sent "in transit" until
 * the receiver's Grant-Ack, and resends them after reconnects; a receiver
 * remembers, per sender incarnation, the transfer ids it applied so a resend
 * is acknowledged again but never applied twice. Pure bookkeeping. */
#ifndef VMCA_TRANSFER_H
#define VMCA_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gfn.h"

#define XFER_SEEN 1024u   /* applied transfer ids remembered per sender */

struct xfer_out {
    uint64_t xfer;
    uint32_t to;
    uint64_t req;                /* the Grant-Fwd it serves, 0 if none */
    struct vmca_block *blocks;   /* owned */
    size_t n;
    uint64_t pages;
};

enum xfer_seen_state { XFER_NEW = 0, XFER_PENDING = 1, XFER_APPLIED = 2 };

struct xfer_seen_entry {
    uint64_t xfer;
    uint64_t accepted;           /* pages, repeated in a re-sent Grant-Ack */
    uint8_t state;
};

struct xfer_sender {
    uint64_t incarnation;        /* a new life starts a new history */
    struct xfer_seen_entry ring[XFER_SEEN];
    unsigned pos;
};

struct xfer_table {
    struct xfer_out *out;        /* in transit */
    size_t n_out, cap_out;
    uint64_t next_xfer;
    struct xfer_sender *senders; /* by configured node index */
    size_t n_senders;
};

/* n_nodes: configured nodes (senders are indexed 0..n_nodes-1). Returns 0
 * or VMCA_ERR_NOMEM. */
int xfer_init(struct xfer_table *t, size_t n_nodes);
void xfer_free(struct xfer_table *t);

/* Records a new transfer (copies blocks); returns it, or NULL (no memory). */
struct xfer_out *xfer_add(struct xfer_table *t, uint32_t to, uint64_t req,
                          const struct vmca_block *blocks, size_t n);
/* The receiver acknowledged: forget the transfer. false if unknown (or not
 * addressed to `from`). */
bool xfer_acked(struct xfer_table *t, uint64_t xfer, uint32_t from);
/* Forgets every transfer to `to` (it was invalidated); returns how many. */
size_t xfer_drop_to(struct xfer_table *t, uint32_t to);
/* Forgets every transfer (this node's memory was lost). */
void xfer_drop_all(struct xfer_table *t);
/* Pages in transit, all transfers. */
uint64_t xfer_in_transit(const struct xfer_table *t);

/* Receiver side: what is known of (sender index, incarnation, xfer). */
enum xfer_seen_state xfer_seen(struct xfer_table *t, size_t sender, uint64_t incarnation,
                               uint64_t xfer, uint64_t *accepted);
void xfer_mark(struct xfer_table *t, size_t sender, uint64_t incarnation, uint64_t xfer,
               enum xfer_seen_state state, uint64_t accepted);

#endif
