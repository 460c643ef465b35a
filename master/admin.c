/* Admin Unix socket; see admin.h. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"

#define ADMIN_LINE_MAX 256

struct vmca_admin {
    struct evconnlistener *lst;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
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
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
        (cred.uid != 0 && cred.uid != geteuid())) {
        log_warn("admin: refused client with uid %d", (int)cred.uid);
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
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "admin socket path %s is too long", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "admin socket: %s", strerror(errno));
        return NULL;
    }
    /* A socket file that still answers belongs to a live master. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
        snprintf(err, errlen, "another master already serves %s", path);
        close(fd);
        return NULL;
    }
    close(fd);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(077);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0) {
        snprintf(err, errlen, "cannot bind admin socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
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
    a->lst = evconnlistener_new(base, on_accept, a, LEV_OPT_CLOSE_ON_FREE, 16, fd);
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
