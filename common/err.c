/* Text for vmca_err codes. */
#include "err.h"

const char *vmca_strerror(int err)
{
    switch (err) {
    case VMCA_OK: return "success";
    case VMCA_ERR_NOMEM: return "out of memory";
    case VMCA_ERR_INVAL: return "invalid argument";
    case VMCA_ERR_IO: return "I/O error";
    case VMCA_ERR_PROTO: return "malformed message";
    case VMCA_ERR_TOOBIG: return "frame too large";
    case VMCA_ERR_TRUNCATED: return "truncated frame";
    case VMCA_ERR_VERSION: return "unknown protocol version";
    case VMCA_ERR_AUTH: return "authentication failed";
    case VMCA_ERR_STATE: return "not allowed in this state";
    case VMCA_ERR_CONFIG: return "bad configuration";
    case VMCA_ERR_AGAIN: return "try again";
    case VMCA_ERR_EXISTS: return "already exists";
    case VMCA_ERR_NOTFOUND: return "not found";
    }
    return "unknown error";
}
