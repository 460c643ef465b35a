/* The metrics page over evhttp; see metrics_http.h. */
#include "metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

struct vmca_metrics_http {
    struct evhttp *http;
    vmca_metrics_fill fill;
    void *arg;
};

static void on_request(struct evhttp_request *req, void *arg)
{
    struct vmca_metrics_http *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || strcmp(path, "/metrics") != 0) {
        evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served here");
        return;
    }
    struct vmca_prom page;
    vmca_prom_init(&page);
    m->fill(m->arg, &page);
    if (vmca_prom_failed(&page)) {
        vmca_prom_free(&page);
        evhttp_send_error(req, HTTP_INTERNAL, "cannot build the metrics page");
        return;
    }
    struct evbuffer *body = evbuffer_new();
    if (!body) {
        vmca_prom_free(&page);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    if (page.len)
        evbuffer_add(body, page.buf, page.len);
    vmca_prom_free(&page);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      VMCA_PROM_CONTENT_TYPE);
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

struct vmca_metrics_http *vmca_metrics_http_open(struct event_base *base, const char *address,
                                                 uint16_t port, vmca_metrics_fill fill,
                                                 void *arg, char *err, size_t errlen)
{
    struct vmca_metrics_http *m = calloc(1, sizeof *m);
    if (!m || !(m->http = evhttp_new(base))) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->fill = fill;
    m->arg = arg;
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(m->http, 10);
    evhttp_set_gencb(m->http, on_request, m);
    errno = 0;
    if (!evhttp_bind_socket_with_handle(m->http, address, port)) {
        snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", strchr(address, ':') ? "[" : "",
                 address, strchr(address, ':') ? "]" : "", port,
                 errno ? strerror(errno) : "cannot bind");
        evhttp_free(m->http);
        free(m);
        return NULL;
    }
    return m;
}

void vmca_metrics_http_close(struct vmca_metrics_http *m)
{
    if (!m)
        return;
    evhttp_free(m->http);
    free(m);
}
