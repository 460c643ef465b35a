/* Start-up pieces every vMCA daemon shares: the --log-level option and the
 * stop signals (SIGTERM/SIGINT end the event loop cleanly; SIGPIPE is
 * ignored because peers may close sockets under us). */
#ifndef VMCA_DAEMON_H
#define VMCA_DAEMON_H

#include <event2/event.h>

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

#endif
