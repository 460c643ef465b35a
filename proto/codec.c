/* Framing of vMCA messages (codec.h): a 4-byte big-endian length prefix, then
 * one packed vmca.Envelope. Decoding checks, in order: the length against the
 * maximum frame size, truncation, protobuf well-formedness, the version, and
 * that a known body is set. Unknown extra fields are accepted (a newer peer may
 * add some); a frame without a known body is not. */
#include "codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"

/* The prefix is 32 bits wide, whatever maximum the caller passes. */
#define VMCA_PREFIX_MAX ((size_t)UINT32_MAX)

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static size_t effective_max(size_t max_frame)
{
    return max_frame < VMCA_PREFIX_MAX ? max_frame : VMCA_PREFIX_MAX;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Command name of a known body case, NULL for NOT_SET or an unknown value. */
static const char *body_name(Vmca__Envelope__BodyCase body)
{
    switch (body) {
    case VMCA__ENVELOPE__BODY_HELLO: return "hello";
    case VMCA__ENVELOPE__BODY_REGISTER_NODE: return "register";
    case VMCA__ENVELOPE__BODY_STATISTICS: return "statistics";
    case VMCA__ENVELOPE__BODY_GRANT_ANY: return "grant-any";
    case VMCA__ENVELOPE__BODY_GRANT_FWD: return "grant-fwd";
    case VMCA__ENVELOPE__BODY_GRANT: return "grant";
    case VMCA__ENVELOPE__BODY_GRANT_ACK: return "grant-ack";
    case VMCA__ENVELOPE__BODY_FORCE_RETURN: return "force-return";
    case VMCA__ENVELOPE__BODY_MEM_LIMIT: return "mem-limit";
    case VMCA__ENVELOPE__BODY_LEAVE_REQ: return "leave-req";
    case VMCA__ENVELOPE__BODY_LEAVE_NOTIFY: return "leave-notify";
    case VMCA__ENVELOPE__BODY_ENABLE_NODE: return "enable-node";
    case VMCA__ENVELOPE__BODY_INVALIDATE: return "invalidate";
    case VMCA__ENVELOPE__BODY_INVALIDATE_NODE: return "invalidate-node";
    case VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY: return "invalidate-notify";
    case VMCA__ENVELOPE__BODY_CENSUS: return "census";
    case VMCA__ENVELOPE__BODY_CENSUS_REPLY: return "census-reply";
    case VMCA__ENVELOPE__BODY_LEAVE_ASK: return "leave-ask";
    case VMCA__ENVELOPE__BODY_JOIN_ASK: return "join-ask";
    case VMCA__ENVELOPE__BODY_VM_LIMITS: return "vm-limits";
    default: break;
    }
    return NULL;
}

int vmca_encode(const Vmca__Envelope *env, size_t max_frame, uint8_t **out,
                size_t *out_len)
{
    size_t body_len, packed;
    uint8_t *buf;

    if (out != NULL)
        *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (env == NULL || out == NULL || out_len == NULL)
        return VMCA_ERR_INVAL;
    /* Every oneof member is a message pointer; protobuf-c silently drops a
     * NULL one, which would put a body-less frame on the wire. */
    if (body_name(env->body_case) == NULL || env->hello == NULL)
        return VMCA_ERR_INVAL;

    body_len = vmca__envelope__get_packed_size(env);
    if (body_len > effective_max(max_frame))
        return VMCA_ERR_TOOBIG;

    buf = malloc(VMCA_FRAME_HDR + body_len);
    if (buf == NULL)
        return VMCA_ERR_NOMEM;
    packed = vmca__envelope__pack(env, buf + VMCA_FRAME_HDR);
    if (packed != body_len) {
        free(buf);
        return VMCA_ERR_INVAL;
    }
    put_be32(buf, (uint32_t)body_len);
    *out = buf;
    *out_len = VMCA_FRAME_HDR + body_len;
    return VMCA_OK;
}

int vmca_frame_len(const uint8_t hdr[VMCA_FRAME_HDR], size_t max_frame,
                   size_t *body_len, char *err, size_t errlen)
{
    uint32_t n;

    if (body_len != NULL)
        *body_len = 0;
    if (hdr == NULL || body_len == NULL) {
        set_err(err, errlen, "no frame header");
        return VMCA_ERR_INVAL;
    }
    n = get_be32(hdr);
    if (n == 0) {
        set_err(err, errlen, "empty frame");
        return VMCA_ERR_PROTO;
    }
    if ((size_t)n > effective_max(max_frame)) {
        set_err(err, errlen, "frame of %lu bytes exceeds maximum %zu",
                (unsigned long)n, effective_max(max_frame));
        return VMCA_ERR_TOOBIG;
    }
    *body_len = n;
    return VMCA_OK;
}

int vmca_decode(const uint8_t *body, size_t len, Vmca__Envelope **out,
                char *err, size_t errlen)
{
    Vmca__Envelope *env;

    if (out == NULL || (body == NULL && len > 0)) {
        if (out != NULL)
            *out = NULL;
        set_err(err, errlen, "no buffer to decode");
        return VMCA_ERR_INVAL;
    }
    *out = NULL;

    env = vmca__envelope__unpack(NULL, len, body);
    if (env == NULL) {
        set_err(err, errlen, "malformed envelope (%zu bytes)", len);
        return VMCA_ERR_PROTO;
    }
    if (env->version != VMCA_PROTO_VERSION) {
        set_err(err, errlen, "unknown protocol version %lu (expected %u)",
                (unsigned long)env->version, VMCA_PROTO_VERSION);
        vmca_envelope_free(env);
        return VMCA_ERR_VERSION;
    }
    /* An unknown oneof field number lands in the unknown fields and leaves
     * the body unset, so this also rejects bodies newer than this build. */
    if (body_name(env->body_case) == NULL || env->hello == NULL) {
        set_err(err, errlen, "no known message body");
        vmca_envelope_free(env);
        return VMCA_ERR_PROTO;
    }
    *out = env;
    return VMCA_OK;
}

int vmca_decode_frame(const uint8_t *buf, size_t len, size_t max_frame,
                      Vmca__Envelope **out, size_t *consumed, char *err,
                      size_t errlen)
{
    size_t body_len;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (consumed != NULL)
        *consumed = 0;
    if (out == NULL || consumed == NULL || (buf == NULL && len > 0)) {
        set_err(err, errlen, "no buffer to decode");
        return VMCA_ERR_INVAL;
    }
    if (len < VMCA_FRAME_HDR) {
        set_err(err, errlen, "incomplete frame header (%zu of %u bytes)", len,
                VMCA_FRAME_HDR);
        return VMCA_ERR_AGAIN;
    }
    rc = vmca_frame_len(buf, max_frame, &body_len, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    if (len - VMCA_FRAME_HDR < body_len) {
        set_err(err, errlen, "truncated frame (%zu of %zu body bytes)",
                len - VMCA_FRAME_HDR, body_len);
        return VMCA_ERR_TRUNCATED;
    }
    /* The whole frame is here: even if it does not decode, the caller may
     * skip exactly this many bytes. */
    *consumed = VMCA_FRAME_HDR + body_len;
    return vmca_decode(buf + VMCA_FRAME_HDR, body_len, out, err, errlen);
}

void vmca_envelope_free(Vmca__Envelope *env)
{
    if (env != NULL)
        vmca__envelope__free_unpacked(env, NULL);
}

_Static_assert(VMCA__NODE_STATE__NODE_INACTIVE == 0 && VMCA__NODE_STATE__NODE_ACTIVE == 1 &&
                   VMCA__NODE_STATE__NODE_LEAVING == 2 && VMCA__NODE_STATE__NODE_RECOVERY == 3,
               "vmca_state_names is indexed by state");
const char *const vmca_state_names[VMCA_NODE_STATES] = {"inactive", "active", "leaving",
                                                         "recovery"};

const char *vmca_state_name(Vmca__NodeState s)
{
    return (unsigned)s < VMCA_NODE_STATES ? vmca_state_names[s] : "unknown";
}

const char *vmca_body_name(Vmca__Envelope__BodyCase body)
{
    const char *name;

    if (body == VMCA__ENVELOPE__BODY__NOT_SET)
        return "none";
    name = body_name(body);
    return name != NULL ? name : "unknown";
}
