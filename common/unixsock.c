/* Unix socket helpers; see unixsock.h. */
#define _GNU_SOURCE /* struct ucred */
#include "unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sun, const char *path, char *err, size_t errlen)
{
    *sun = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun->sun_path) {
        snprintf(err, errlen, "socket path %s is longer than %zu bytes", path,
                 sizeof sun->sun_path - 1);
        return -1;
    }
    strcpy(sun->sun_path, path);
    return 0;
}

int vmca_unix_connect(const char *path, int type, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    if (fill_addr(&sun, path, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int vmca_unix_listen(const char *path, int type, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    if (fill_addr(&sun, path, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* A socket file that still answers belongs to a live process. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
        snprintf(err, errlen, "another process already serves %s", path);
        close(fd);
        return -1;
    }
    close(fd);
    unlink(path);
    fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(077);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int vmca_unix_peer_allowed(int fd)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 &&
           (cred.uid == 0 || cred.uid == geteuid());
}
