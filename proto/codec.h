/* Framing of vMCA messages: a 4-byte big-endian length prefix, then one packed
 * vmca.Envelope (proto/vmca.proto). Decoding checks, in order: length against
 * the maximum frame size, truncation, protobuf well-formedness, version, and
 * that a known body is set; every rejection comes with a precise text. */
#ifndef VMCA_CODEC_H
#define VMCA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmca.pb-c.h"

#define VMCA_PROTO_VERSION 1u
#define VMCA_FRAME_HDR 4u
#define VMCA_DEFAULT_MAX_FRAME (1u << 20)

/* Packs env (with its version set by the caller) into a new buffer holding
 * the length prefix and the body. *out is malloc'ed; the caller frees it.
 * Returns 0, VMCA_ERR_TOOBIG when the body exceeds max_frame, VMCA_ERR_INVAL
 * when no body is set, or VMCA_ERR_NOMEM. */
int vmca_encode(const Vmca__Envelope *env, size_t max_frame, uint8_t **out,
                size_t *out_len);

/* Reads the body length from a 4-byte header. Returns 0, VMCA_ERR_TOOBIG when
 * the length exceeds max_frame, or VMCA_ERR_PROTO for a zero length (an empty
 * frame is never valid). */
int vmca_frame_len(const uint8_t hdr[VMCA_FRAME_HDR], size_t max_frame,
                   size_t *body_len, char *err, size_t errlen);

/* Unpacks one body. On success *out must be released with vmca_envelope_free.
 * Errors: VMCA_ERR_PROTO (not a valid Envelope, or no known body),
 * VMCA_ERR_VERSION (version != VMCA_PROTO_VERSION); err gets the reason. */
int vmca_decode(const uint8_t *body, size_t len, Vmca__Envelope **out,
                char *err, size_t errlen);

/* Decodes the frame at the start of buf (header + body). *consumed gets the
 * frame's total size. Returns VMCA_ERR_AGAIN when buf holds less than one
 * frame header, VMCA_ERR_TRUNCATED when buf ends inside the body (a stream
 * reader treats that as "wait for more"; a datagram as an error), or any
 * error of vmca_frame_len/vmca_decode. *consumed is 0 on every error except
 * those of vmca_decode, where the whole (invalid) frame was present and
 * *consumed is its size. */
int vmca_decode_frame(const uint8_t *buf, size_t len, size_t max_frame,
                      Vmca__Envelope **out, size_t *consumed, char *err,
                      size_t errlen);

void vmca_envelope_free(Vmca__Envelope *env);

/* Short command name for logs ("hello", "grant-any", ...; "none" if unset). */
const char *vmca_body_name(Vmca__Envelope__BodyCase body);

/* Node states are 0 .. VMCA_NODE_STATES - 1; their lower-case names
 * ("inactive", "active", "leaving", "recovery"), by value. */
#define VMCA_NODE_STATES 4
extern const char *const vmca_state_names[VMCA_NODE_STATES];
/* The name of s, "unknown" for a value out of range. */
const char *vmca_state_name(Vmca__NodeState s);

/* A member of the cluster: Active or Leaving (it holds and serves pages). */
static inline bool vmca_state_member(Vmca__NodeState s)
{
    return s == VMCA__NODE_STATE__NODE_ACTIVE || s == VMCA__NODE_STATE__NODE_LEAVING;
}

#endif
