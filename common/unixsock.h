/* Local Unix sockets of a node: the master's admin socket, vmca-hv's guest
 * and TKM sockets. Listening sockets are created mode 0600 (only their
 * owner may connect); a stale socket file of a dead process is replaced,
 * a live one never taken over. */
#ifndef VMCA_UNIXSOCK_H
#define VMCA_UNIXSOCK_H

#include <stddef.h>

/* Listening socket of `type` (SOCK_STREAM or SOCK_SEQPACKET), non-blocking,
 * close-on-exec. Returns the fd, or -1 with a reason in err. */
int vmca_unix_listen(const char *path, int type, char *err, size_t errlen);

/* Connected (blocking) socket, or -1 with a reason in err. */
int vmca_unix_connect(const char *path, int type, char *err, size_t errlen);

/* Accepts only peers running as root or as this process's user. */
int vmca_unix_peer_allowed(int fd);

#endif
