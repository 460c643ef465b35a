/* The action queue of a pure protocol core: the core appends encoded frames
 * addressed to node ids; its driver (daemon shell or simulator) drains them.
 * Frames are encoded by the core so the simulator exercises the codec too. */
#ifndef VMCA_OUTBOX_H
#define VMCA_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* The connection an action goes on, decided by the core that queued it:
 * the one to node `to` (a peer slave's; the master's to each node), or a
 * slave's connection to its master. */
enum vmca_link { VMCA_LINK_NODE = 0, VMCA_LINK_MASTER = 1 };

struct vmca_action {
    uint32_t to;     /* destination node id */
    enum vmca_link link;
    uint8_t *frame;  /* length prefix + body; owned by the outbox until taken */
    size_t len;
    int body;        /* Vmca__Envelope__BodyCase, for logs and tests */
};

struct vmca_outbox {
    uint32_t self;          /* node id put in Envelope.from */
    uint64_t incarnation;   /* put in Envelope.incarnation */
    size_t max_frame;
    uint64_t seq;           /* last sequence number used */
    struct vmca_action *v;
    size_t n, cap;
};

void vmca_outbox_init(struct vmca_outbox *o, uint32_t self, uint64_t incarnation,
                      size_t max_frame);
/* Frees queued frames and the queue. */
void vmca_outbox_free(struct vmca_outbox *o);

/* Fills env's version/from/seq/incarnation, encodes it and queues it for
 * `to` on `link`. env's body must be set. Returns 0 or a vmca_err (nothing
 * queued). */
int vmca_outbox_send_on(struct vmca_outbox *o, enum vmca_link link, uint32_t to,
                        Vmca__Envelope *env);
/* vmca_outbox_send_on with VMCA_LINK_NODE. */
int vmca_outbox_send(struct vmca_outbox *o, uint32_t to, Vmca__Envelope *env);

/* Hands the queued actions to the caller, who frees each frame with free()
 * and the array with free(); the outbox is empty afterwards. */
struct vmca_action *vmca_outbox_take(struct vmca_outbox *o, size_t *n);

/* Frees the frames and array returned by vmca_outbox_take. */
void vmca_actions_free(struct vmca_action *v, size_t n);

#endif
