/* Shared daemon start-up; see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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

int vmca_node_lock(const struct vmca_config *cfg, const char *node, const char *role,
                   const char *prog, char *err, size_t errlen)
{
    char path[VMCA_PATH_MAX], name[32];
    snprintf(name, sizeof name, "%s.lock", role);
    if (vmca_config_node_file(cfg, node, name, path, sizeof path) != VMCA_OK) {
        snprintf(err, errlen, "the lock file path of node %s is too long", node);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24] = "";
        ssize_t n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : -1;
        close(fd);
        if (e != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
            return -1;
        }
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen, "node %s of cluster %s already has a %s (pid %s, lock %s)", node,
                 cfg->cluster, prog, pid[0] ? pid : "unknown", path);
        return -1;
    }
    char line[24];
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        snprintf(err, errlen, "cannot write the lock file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0; /* fd stays open: the lock lives as long as the process */
}
