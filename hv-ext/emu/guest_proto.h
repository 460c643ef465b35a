/* The guest channel: emulated VMs (vmca-guest) <-> the emulated hypervisor
 * (vmca-hv), a Unix SOCK_SEQPACKET socket, one connection per VM.
 *
 * 1. The guest sends struct guest_hello with, as SCM_RIGHTS ancillary data,
 *    exactly one file descriptor: its page buffer, a memfd (memfd_create
 *    with MFD_ALLOW_SEALING) of at least `slots` * page_size bytes, sealed
 *    with F_SEAL_SHRINK and F_SEAL_SEAL and not against writing, so that
 *    the guest cannot take the hypervisor's mapping away. Page data never
 *    crosses the socket; ops name a slot of that buffer. Descriptors on
 *    any other message are closed unread.
 * 2. vmca-hv answers struct guest_hello_reply (status 0, or a negative
 *    HVX_E* value and then it closes the connection: HVX_EINVAL for a bad
 *    hello or buffer — its log says which —, HVX_EEXIST for a VM id in use,
 *    HVX_ENOMEM when no VM fits).
 * 3. Then any number of batches: struct guest_ops_hdr followed by `count`
 *    struct guest_op (count <= max_batch); vmca-hv executes them in order
 *    and answers with the same bytes, `result` filled in.
 * A message that breaks this framing closes the connection; an op with a
 * bad argument just gets a negative result. A guest that does not read its
 * replies is closed when its socket is full (vmca-hv never blocks on one
 * guest), and connections beyond HVX_MAX_CLIENTS are closed at accept. Closing the connection destroys
 * the VM's tmem state. All fields are in host byte order (same machine). */
#ifndef VMCA_GUEST_PROTO_H
#define VMCA_GUEST_PROTO_H

#include <stdint.h>

#define GUEST_MAGIC 0x564d4341u        /* "VMCA" */
#define GUEST_MSG_HELLO 1u
#define GUEST_MSG_OPS 2u
#define GUEST_MAX_BATCH 256u
#define GUEST_MAX_SLOTS 65536u

struct guest_hello {
    uint32_t magic;
    uint32_t type;        /* GUEST_MSG_HELLO */
    uint32_t vm;          /* VM id, unique on the node */
    uint32_t slots;       /* pages in the shared buffer, 1..GUEST_MAX_SLOTS */
};

struct guest_hello_reply {
    uint32_t magic;
    uint32_t type;        /* GUEST_MSG_HELLO */
    int32_t status;       /* 0 or HVX_E* (hv-ext/hvx.h) */
    uint32_t page_size;
    uint32_t max_batch;
    uint32_t node;        /* node id of this hypervisor */
};

enum guest_op_code {
    GUEST_OP_NEW_POOL = 1,     /* pool = kind (hvx.h HVX_POOL_*); result = pool id */
    GUEST_OP_DESTROY_POOL = 2,
    GUEST_OP_PUT = 3,          /* slot -> tmem; result 0 local, 1 remote, or HVX_E* */
    GUEST_OP_GET = 4,          /* tmem -> slot; result 0 local, 1 remote, or HVX_E* */
    GUEST_OP_FLUSH_PAGE = 5,
    GUEST_OP_FLUSH_OBJECT = 6, /* result = pages flushed or HVX_E* */
};

struct guest_op {
    uint8_t op;           /* enum guest_op_code */
    uint8_t pool;
    uint16_t reserved;    /* 0 */
    uint32_t index;
    uint64_t oid;
    uint32_t slot;
    int32_t result;       /* filled in by vmca-hv */
};

struct guest_ops_hdr {
    uint32_t magic;
    uint32_t type;        /* GUEST_MSG_OPS */
    uint32_t count;
    uint32_t reserved;
};

_Static_assert(sizeof(struct guest_op) == 24, "guest_op is part of the ABI");

#endif
