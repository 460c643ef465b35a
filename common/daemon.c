/* Shared daemon start-up; see daemon.h. */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>

#include "err.h"

int vmca_opt_log_level(const char *prog, const char *arg, enum vmca_log_level *out)
{
    if (vmca_log_level_parse(arg, out) == VMCA_OK)
        return 0;
    fprintf(stderr, "%s: --log-level: unknown level '%s' (expected err, warn, info or debug)\n",
            prog, arg);
    return -1;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct vmca_stop_signals *s = arg;
    log_info("signal %d: shutting down", (int)sig);
    if (s->on_stop)
        s->on_stop(s->arg);
    else
        event_base_loopbreak(s->base);
}

int vmca_stop_signals_install(struct vmca_stop_signals *s, struct event_base *base,
                              void (*on_stop_cb)(void *arg), void *arg)
{
    signal(SIGPIPE, SIG_IGN);
    s->base = base;
    s->on_stop = on_stop_cb;
    s->arg = arg;
    s->term = evsignal_new(base, SIGTERM, on_stop, s);
    s->intr = evsignal_new(base, SIGINT, on_stop, s);
    if (!s->term || !s->intr || event_add(s->term, NULL) || event_add(s->intr, NULL)) {
        vmca_stop_signals_free(s);
        return -1;
    }
    return 0;
}

void vmca_stop_signals_free(struct vmca_stop_signals *s)
{
    if (s->term)
        event_free(s->term);
    if (s->intr)
        event_free(s->intr);
    s->term = s->intr = NULL;
}
