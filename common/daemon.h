/* Start-up pieces every vMCA daemon shares: the --log-level option and the
 * stop signals (SIGTERM/SIGINT end the event loop cleanly; SIGPIPE is
 * ignored because peers may close sockets under us). */
#ifndef VMCA_DAEMON_H
#define VMCA_DAEMON_H

#include <event2/event.h>

#include "config.h"
#include "log.h"

/* Parses a --log-level value; on error prints "PROG: --log-level: ..." to
 * stderr and returns -1. */
int vmca_opt_log_level(const char *prog, const char *arg, enum vmca_log_level *out);

struct vmca_stop_signals {
    struct event *term;
    struct event *intr;
    struct event_base *base;
    void (*on_stop)(void *arg);
    void *arg;
};

/* On SIGTERM/SIGINT: on_stop(arg) when given, else end the event loop.
 * Returns 0, or -1 when libevent could not set the handlers up. */
int vmca_stop_signals_install(struct vmca_stop_signals *s, struct event_base *base,
                              void (*on_stop)(void *arg), void *arg);
void vmca_stop_signals_free(struct vmca_stop_signals *s);

/* One process per node identity and role on this machine: takes an
 * flock() on "<config dir>/<cluster>-<node>-<role>.lock" (role: "slave",
 * "hv"), writes this process's pid into it and keeps it for the process's
 * life (the kernel drops it when the process dies, even by SIGKILL; the
 * file stays). Returns 0, or -1 with a reason in err: when another process
 * holds it, "node N of cluster C already has a PROG (pid P, lock FILE)". */
int vmca_node_lock(const struct vmca_config *cfg, const char *node, const char *role,
                   const char *prog, char *err, size_t errlen);

#endif
