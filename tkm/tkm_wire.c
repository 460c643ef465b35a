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

int tkm_recv_to_hv(int fd, Vmca__TkmToHv **out, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    int rc = recv_datagram(fd, &buf, &len, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    *out = vmca__tkm_to_hv__unpack(NULL, len, buf);
    free(buf);
    if (!*out || (*out)->call_case == VMCA__TKM_TO_HV__CALL__NOT_SET) {
        snprintf(err, errlen, "malformed TKM call (%zu bytes)", len);
        if (*out)
            vmca__tkm_to_hv__free_unpacked(*out, NULL);
        *out = NULL;
        return VMCA_ERR_PROTO;
    }
    return VMCA_OK;
}

int tkm_recv_from_hv(int fd, Vmca__TkmFromHv **out, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    int rc = recv_datagram(fd, &buf, &len, err, errlen);
    if (rc != VMCA_OK)
        return rc;
    *out = vmca__tkm_from_hv__unpack(NULL, len, buf);
    free(buf);
    if (!*out || (*out)->msg_case == VMCA__TKM_FROM_HV__MSG__NOT_SET) {
        snprintf(err, errlen, "malformed TKM message (%zu bytes)", len);
        if (*out)
            vmca__tkm_from_hv__free_unpacked(*out, NULL);
        *out = NULL;
        return VMCA_ERR_PROTO;
    }
    return VMCA_OK;
}
