/* TKM datagrams; see tkm_wire.h. */
#include "tkm_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"

static int send_packed(int fd, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len > TKM_MAX_MSG)
        return VMCA_ERR_TOOBIG;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return VMCA_ERR_NOMEM;
    protobuf_c_message_pack(m, buf);
    ssize_t n;
    do {
        n = send(fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    free(buf);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? VMCA_ERR_AGAIN : VMCA_ERR_IO;
    return (size_t)n == len ? VMCA_OK : VMCA_ERR_IO;
}

int tkm_send_to_hv(int fd, const Vmca__TkmToHv *m)
{
    return send_packed(fd, &m->base);
}

int tkm_send_from_hv(int fd, const Vmca__TkmFromHv *m)
{
    return send_packed(fd, &m->base);
}

/* Reads one datagram into a malloc'ed buffer; MSG_TRUNC reveals oversize. */
static int recv_datagram(int fd, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    *buf = malloc(TKM_MAX_MSG + 1);
    if (!*buf)
        return VMCA_ERR_NOMEM;
    ssize_t n;
    do {
        n = recv(fd, *buf, TKM_MAX_MSG + 1, MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        free(*buf);
        return VMCA_ERR_AGAIN;
    }
    if (n <= 0) {
        snprintf(err, errlen, "%s", n == 0 ? "peer closed the channel" : strerror(errno));
        free(*buf);
        return VMCA_ERR_IO;
    }
    if ((size_t)n > TKM_MAX_MSG) {
        snprintf(err, errlen, "message of %zd bytes exceeds maximum %u", n, TKM_MAX_MSG);
        free(*buf);
        return VMCA_ERR_PROTO;
    }
    *len = (size_t)n;
    return VMCA_OK;
}

/* Reads and unpacks one message of type `desc`; `body_set` says whether its
 * oneof holds a known call or message. */
static int recv_message(int fd, const ProtobufCMessageDescriptor *desc,
                        int (*body_set)(const ProtobufCMessage *), const char *what,
                        ProtobufCMessage **out, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    int rc = recv_datagram(fd, &buf, &len, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf);
    free(buf);
    if (!m || !body_set(m)) {
        snprintf(err, errlen, "malformed %s (%zu bytes)", what, len);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
        return VMCA_ERR_PROTO;
    }
    *out = m;
    return VMCA_OK;
}

static int call_set(const ProtobufCMessage *m)
{
    return ((const Vmca__TkmToHv *)m)->call_case != VMCA__TKM_TO_HV__CALL__NOT_SET;
}

static int msg_set(const ProtobufCMessage *m)
{
    return ((const Vmca__TkmFromHv *)m)->msg_case != VMCA__TKM_FROM_HV__MSG__NOT_SET;
}

int tkm_recv_to_hv(int fd, Vmca__TkmToHv **out, char *err, size_t errlen)
{
    return recv_message(fd, &vmca__tkm_to_hv__descriptor, call_set, "TKM call",
                        (ProtobufCMessage **)out, err, errlen);
}

int tkm_recv_from_hv(int fd, Vmca__TkmFromHv **out, char *err, size_t errlen)
{
    return recv_message(fd, &vmca__tkm_from_hv__descriptor, msg_set, "TKM message",
                        (ProtobufCMessage **)out, err, errlen);
}
