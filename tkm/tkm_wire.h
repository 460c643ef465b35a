/* Messages of the TKM channel (proto/tkm.proto) over a Unix SOCK_SEQPACKET
 * socket: one packed message per datagram, at most TKM_MAX_MSG bytes. */
#ifndef VMCA_TKM_WIRE_H
#define VMCA_TKM_WIRE_H

#include <stddef.h>

#include "tkm.pb-c.h"
#include "tkm_types.h"

#define TKM_MAX_MSG (256u * 1024u)

/* Returns 0, VMCA_ERR_AGAIN (non-blocking socket full), VMCA_ERR_TOOBIG or
 * VMCA_ERR_IO. */
int tkm_send_to_hv(int fd, const Vmca__TkmToHv *m);
int tkm_send_from_hv(int fd, const Vmca__TkmFromHv *m);

/* Reads one datagram. Returns 0 with *out set (free with the matching
 * vmca__..._free_unpacked), VMCA_ERR_AGAIN when nothing is waiting,
 * VMCA_ERR_IO on EOF or error, VMCA_ERR_PROTO when malformed or without a
 * known body; err gets the reason. */
int tkm_recv_to_hv(int fd, Vmca__TkmToHv **out, char *err, size_t errlen);
int tkm_recv_from_hv(int fd, Vmca__TkmFromHv **out, char *err, size_t errlen);

#endif
