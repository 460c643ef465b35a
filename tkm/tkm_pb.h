/* The one conversion between the TKM interface's plain C types (tkm_ops.h)
 * and the TKM channel's protobuf messages (proto/tkm.proto), for both ends:
 * the manager encodes calls and decodes replies and samples, vmca-hv
 * decodes calls and encodes replies and samples. Arrays live in a struct
 * tkm_pb, grown to the largest message seen (not per call once warm), and
 * what a function fills is valid until the same function's next use. */
#ifndef VMCA_TKM_PB_H
#define VMCA_TKM_PB_H

#include "tkm.pb-c.h"
#include "tkm_ops.h"

struct tkm_pb;

struct tkm_pb *tkm_pb_new(void);   /* NULL when out of memory */
void tkm_pb_free(struct tkm_pb *pb);

/* ---- manager side ---- */

/* Ops that encode each call (be = struct tkm_pb_sender) and hand it to
 * send, which returns 0 or a vmca_err; VMCA_ERR_NOMEM when it cannot be
 * encoded. */
struct tkm_pb_sender {
    struct tkm_pb *pb;
    int (*send)(void *arg, Vmca__TkmToHv *m);
    void *arg;
};
extern const struct tkm_ops tkm_pb_call_ops;

/* Return 0 or VMCA_ERR_NOMEM. out's arrays and error text point into pb
 * and into the message. */
int tkm_pb_reply_decode(struct tkm_pb *pb, const Vmca__TkmReply *in, struct tkm_reply *out);
int tkm_pb_sample_decode(struct tkm_pb *pb, const Vmca__TkmStats *in, struct tkm_sample *out);

/* ---- hypervisor side ---- */

/* Decodes call m onto b's ops. Returns what the op returns, VMCA_ERR_NOMEM,
 * or VMCA_ERR_PROTO for a message that is no call of the ops (Manage). */
int tkm_pb_call_apply(struct tkm_pb *pb, const Vmca__TkmToHv *m, const struct tkm_backend *b);

/* Fill out (initialised here) from the plain answer; 0 or VMCA_ERR_NOMEM. */
int tkm_pb_reply_encode(struct tkm_pb *pb, const struct tkm_reply *in, Vmca__TkmReply *out);
int tkm_pb_sample_encode(struct tkm_pb *pb, const struct tkm_hv_stats *in, Vmca__TkmStats *out);

#endif
