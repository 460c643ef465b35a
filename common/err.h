/* Error codes shared by every vMCA component. Functions return 0 (VMCA_OK) or a
 * negative vmca_err; they never return errno values directly. */
#ifndef VMCA_ERR_H
#define VMCA_ERR_H

enum vmca_err {
    VMCA_OK = 0,
    VMCA_ERR_NOMEM = -1,     /* allocation failed */
    VMCA_ERR_INVAL = -2,     /* bad argument or bad input value */
    VMCA_ERR_IO = -3,        /* system call or file failure */
    VMCA_ERR_PROTO = -4,     /* malformed message */
    VMCA_ERR_TOOBIG = -5,    /* frame over the maximum size */
    VMCA_ERR_TRUNCATED = -6, /* frame shorter than its length prefix says */
    VMCA_ERR_VERSION = -7,   /* unknown protocol version */
    VMCA_ERR_AUTH = -8,      /* identity does not match what was claimed */
    VMCA_ERR_STATE = -9,     /* message not allowed in the sender's state */
    VMCA_ERR_CONFIG = -10,   /* configuration rejected */
    VMCA_ERR_AGAIN = -11,    /* not enough data yet; call again later */
    VMCA_ERR_EXISTS = -12,   /* already present */
    VMCA_ERR_NOTFOUND = -13, /* no such node, block or entry */
};

/* Static, never-NULL description of a vmca_err (unknown codes included). */
const char *vmca_strerror(int err);

#endif
