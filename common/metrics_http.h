/* A daemon's metrics page: an evhttp server on a local address that answers
 * GET (and HEAD) /metrics with the text the daemon's fill function writes
 * (Prometheus text format, prom.h), 404 for any other path. The daemon's
 * shell owns it; the fill function reads the core, it does no I/O. */
#ifndef VMCA_METRICS_HTTP_H
#define VMCA_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "prom.h"

struct vmca_metrics_http;

/* Writes the page into out (empty, initialised); called per request. */
typedef void (*vmca_metrics_fill)(void *arg, struct vmca_prom *out);

/* Listens on address:port (a literal). NULL with the reason in err
 * ("cannot listen on 127.0.0.1:9100: Address already in use"). */
struct vmca_metrics_http *vmca_metrics_http_open(struct event_base *base, const char *address,
                                                 uint16_t port, vmca_metrics_fill fill,
                                                 void *arg, char *err, size_t errlen);
void vmca_metrics_http_close(struct vmca_metrics_http *m);

#endif
