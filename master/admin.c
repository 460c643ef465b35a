/* Admin Unix socket; see admin.h. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"
#include "unixsock.h"

#define ADMIN_LINE_MAX 256

struct vmca_admin {
    struct evconnlistener *lst;
    char path[108];
    vmca_admin_handler handler;
    void *arg;
};

static void client_done(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    bufferevent_free(bev);
}

static void client_read(struct bufferevent *bev, void *arg)
{
    struct vmca_admin *a = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > ADMIN_LINE_MAX)
            bufferevent_free(bev);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(bev);
    if (len > ADMIN_LINE_MAX)
        evbuffer_add_printf(out, "error request line longer than %d bytes\n", ADMIN_LINE_MAX);
    else
        a->handler(a->arg, line, out);
    free(line);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, client_done, client_event, a);
}

static void on_accept(struct evconnlistener *lst, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct vmca_admin *a = arg;
    if (!vmca_unix_peer_allowed(fd)) {
        log_warn("admin: refused a client running as another user");
        close(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(lst), fd,
                                                     BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return;
    }
    struct timeval tmo = {5, 0};
    bufferevent_set_timeouts(bev, &tmo, &tmo);
    bufferevent_setcb(bev, client_read, NULL, client_event, a);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct vmca_admin *vmca_admin_open(struct event_base *base, const char *path,
                                   vmca_admin_handler handler, void *arg,
                                   char *err, size_t errlen)
{
    int fd = vmca_unix_listen(path, SOCK_STREAM, err, errlen);
    if (fd < 0)
        return NULL;
    struct vmca_admin *a = calloc(1, sizeof *a);
    if (!a) {
        close(fd);
        unlink(path);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(a->path, sizeof a->path, "%s", path);
    a->handler = handler;
    a->arg = arg;
    a->lst = evconnlistener_new(base, on_accept, a, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!a->lst) {
        snprintf(err, errlen, "cannot listen on admin socket %s", path);
        close(fd);
        unlink(path);
        free(a);
        return NULL;
    }
    return a;
}

void vmca_admin_close(struct vmca_admin *a)
{
    if (!a)
        return;
    evconnlistener_free(a->lst);
    unlink(a->path);
    free(a);
}
