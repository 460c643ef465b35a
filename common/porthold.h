/* Who holds a TCP port this machine listens on, for the error a daemon
 * prints when its configured port is in use: another vMCA process (a
 * second copy, or a node's port given to another node) or something else.
 * Read from /proc: the listening socket's inode, then the process whose
 * file descriptors include it. */
#ifndef VMCA_PORTHOLD_H
#define VMCA_PORTHOLD_H

#include <stddef.h>
#include <stdint.h>

/* "another vMCA process holds it (vmca-slave, pid 812)", "vmca-master is not
 * the holder: nc (pid 77) holds it", or "the holder is not visible here"
 * into out. */
void vmca_port_holder(uint16_t port, char *out, size_t outlen);

/* A listen error as a daemon logs it: err, and when it says the port is in
 * use, ": " and its holder (vmca_port_holder). */
void vmca_port_listen_error(uint16_t port, const char *err, char *out, size_t outlen);

#endif
