/* rogue_guest: a test-only abusive VM for tests/integration/test_guest_abuse.sh.
 * It speaks the guest channel (hv-ext/emu/guest_proto.h) to vmca-hv the way
 * a hostile guest could, and prints one line saying what vmca-hv did:
 *   rogue_guest SOCKET MODE [ARG]
 * MODE: shrink (unsealed memfd, shrunk after the hello, then put/get),
 * regular FILE (a regular file as the buffer, truncated after the hello),
 * writeseal (a memfd sealed against writing), fds (a hello with three
 * descriptors), extra-fd (a good hello, then a batch carrying a descriptor),
 * bad-ops (slot, pool and op out of range, then a batch over the limit),
 * noread (batches without ever reading a reply), flood N (N connections at
 * once, held until vmca-hv closed every one it refuses; ARG2 = how many).
 * Exit 0 when vmca-hv answered as the protocol says, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../hv-ext/emu/guest_proto.h"
#include "../../hv-ext/hvx.h"

#define SLOTS 4u
#define BUF_BYTES (SLOTS * 65536u)

static const char *sock_path;

static int connect_hv(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        fprintf(stderr, "rogue_guest: cannot connect to %s: %s\n", sock_path, strerror(errno));
        exit(1);
    }
    return fd;
}

/* Sends `len` bytes with `nfds` descriptors attached; -1 on error. */
static ssize_t send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

/* Hello with the descriptors given; returns the reply's status, or 1 when
 * vmca-hv closed the connection without a reply. */
static int hello(int fd, uint32_t vm, const int *fds, size_t nfds)
{
    struct guest_hello h = {GUEST_MAGIC, GUEST_MSG_HELLO, vm, SLOTS};
    if (send_fds(fd, &h, sizeof h, fds, nfds) != (ssize_t)sizeof h) {
        fprintf(stderr, "rogue_guest: hello: %s\n", strerror(errno));
        exit(1);
    }
    struct guest_hello_reply r;
    ssize_t n = recv(fd, &r, sizeof r, 0);
    if (n != (ssize_t)sizeof r)
        return 1;
    return r.status;
}

static int memfd(unsigned flags, int seals)
{
    int fd = memfd_create("rogue-slots", MFD_CLOEXEC | flags);
    if (fd < 0 || ftruncate(fd, BUF_BYTES) != 0 ||
        (seals && fcntl(fd, F_ADD_SEALS, seals) != 0)) {
        fprintf(stderr, "rogue_guest: memfd: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

struct batch {
    struct guest_ops_hdr hdr;
    struct guest_op ops[GUEST_MAX_BATCH + 1];
};

/* Sends a batch of n ops (with a descriptor when fd_along >= 0) and reads
 * the reply into *b; returns the reply's length, 0 on a close, -1 on error. */
static ssize_t run_batch(int fd, struct batch *b, uint32_t n, int fd_along)
{
    b->hdr = (struct guest_ops_hdr){GUEST_MAGIC, GUEST_MSG_OPS, n, 0};
    size_t len = sizeof b->hdr + n * sizeof b->ops[0];
    if (send_fds(fd, b, len, &fd_along, fd_along >= 0) != (ssize_t)len)
        return -1;
    return recv(fd, b, sizeof *b, 0);
}

static struct guest_op op(uint8_t code, uint8_t pool, uint32_t index, uint32_t slot)
{
    return (struct guest_op){.op = code, .pool = pool, .index = index, .oid = 1, .slot = slot};
}

/* A put and a get through the buffer vmca-hv mapped (after the buffer was
 * taken away): against an unfixed vmca-hv this is its SIGBUS. */
static void touch_buffer(int fd)
{
    struct batch b;
    b.ops[0] = op(GUEST_OP_NEW_POOL, HVX_POOL_PERSISTENT, 0, 0);
    b.ops[1] = op(GUEST_OP_PUT, 0, 0, 0);
    b.ops[2] = op(GUEST_OP_GET, 0, 0, 1);
    ssize_t n = run_batch(fd, &b, 3, -1);
    printf("after the shrink vmca-hv %s\n", n > 0 ? "answered" : "closed the connection");
}

/* Expects the hello to be refused; if vmca-hv took it, takes the buffer away
 * and touches it (what crashed vmca-hv). */
static int expect_refused(const char *what, int sock, int status, int buf_fd, int (*shrink)(int))
{
    if (status < 0 || status == 1) {
        printf("%s: hello refused (status %d)\n", what, status);
        return 0;
    }
    printf("%s: hello ACCEPTED\n", what);
    if (shrink) {
        if (shrink(buf_fd) != 0)
            printf("%s: could not shrink the buffer: %s\n", what, strerror(errno));
        touch_buffer(sock);
    }
    return 1;
}

static int shrink_fd(int fd)
{
    return ftruncate(fd, 0);
}

static int check(int cond, const char *what)
{
    printf("%s: %s\n", what, cond ? "ok" : "WRONG");
    return cond ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rogue_guest SOCKET MODE [ARG...]\n");
        return 2;
    }
    sock_path = argv[1];
    const char *mode = argv[2];
    uint32_t vm = 9000;
    if (strcmp(mode, "shrink") == 0) {
        int sock = connect_hv(), buf = memfd(0, 0);
        return expect_refused("unsealed memfd", sock, hello(sock, vm, &buf, 1), buf, shrink_fd);
    }
    if (strcmp(mode, "regular") == 0 && argc == 4) {
        int sock = connect_hv();
        int buf = open(argv[3], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (buf < 0 || ftruncate(buf, BUF_BYTES) != 0) {
            fprintf(stderr, "rogue_guest: %s: %s\n", argv[3], strerror(errno));
            return 1;
        }
        return expect_refused("regular file", sock, hello(sock, vm, &buf, 1), buf, shrink_fd);
    }
    if (strcmp(mode, "writeseal") == 0) {
        int sock = connect_hv();
        int buf = memfd(MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_SEAL | F_SEAL_WRITE);
        return expect_refused("write-sealed memfd", sock, hello(sock, vm, &buf, 1), buf, NULL);
    }
    if (strcmp(mode, "fds") == 0) {
        int sock = connect_hv();
        int fds[3] = {memfd(MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_SEAL),
                      memfd(0, 0), memfd(0, 0)};
        return expect_refused("three descriptors", sock, hello(sock, vm, fds, 3), fds[1],
                              shrink_fd);
    }
    if (strcmp(mode, "flood") == 0 && argc == 5) {
        long n = atol(argv[3]), refused = atol(argv[4]);
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        struct pollfd *p = calloc((size_t)n, sizeof *p);
        if (!p)
            return 1;
        for (long i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = connect_hv(), .events = POLLIN};
        long closed = 0;
        while (closed < refused) {
            if (poll(p, (nfds_t)n, 30000) <= 0)
                break;
            for (long i = 0; i < n; i++)
                if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP))) {
                    close(p[i].fd);
                    p[i].fd = -1;
                    closed++;
                }
        }
        printf("flood: %ld of %ld connections closed by vmca-hv\n", closed, n);
        for (long i = 0; i < n; i++)
            if (p[i].fd >= 0)
                close(p[i].fd);
        free(p);
        return closed == refused ? 0 : 1;
    }
    int sock = connect_hv();
    int buf = memfd(MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_SEAL);
    if (hello(sock, vm, &buf, 1) != 0) {
        printf("a sealed buffer was refused\n");
        return 1;
    }
    static struct batch b;
    if (strcmp(mode, "extra-fd") == 0) {
        b.ops[0] = op(GUEST_OP_NEW_POOL, HVX_POOL_PERSISTENT, 0, 0);
        b.ops[1] = op(GUEST_OP_PUT, 0, 7, 0);
        ssize_t n = run_batch(sock, &b, 2, memfd(0, 0));
        return check(n == (ssize_t)(sizeof b.hdr + 2 * sizeof b.ops[0]) && b.ops[0].result == 0 &&
                         b.ops[1].result >= 0,
                     "a batch carrying a descriptor answered as usual");
    }
    if (strcmp(mode, "bad-ops") == 0) {
        b.ops[0] = op(GUEST_OP_NEW_POOL, HVX_POOL_PERSISTENT, 0, 0);
        b.ops[1] = op(GUEST_OP_PUT, 0, 1, SLOTS);        /* slot past the buffer */
        b.ops[2] = op(GUEST_OP_GET, 0, 1, UINT32_MAX);
        b.ops[3] = op(GUEST_OP_PUT, 200, 1, 0);          /* no such pool */
        b.ops[4] = op(GUEST_OP_DESTROY_POOL, 255, 0, 0);
        b.ops[5] = op(99, 0, 0, 0);                      /* no such op */
        b.ops[6] = op(GUEST_OP_NEW_POOL, 77, 0, 0);      /* no such pool kind */
        ssize_t n = run_batch(sock, &b, 7, -1);
        int bad = check(n == (ssize_t)(sizeof b.hdr + 7 * sizeof b.ops[0]), "bad ops answered");
        for (int i = 1; i < 7 && n > 0; i++)
            bad |= check(b.ops[i].result < 0, "a bad op refused");
        /* count over GUEST_MAX_BATCH: a framing error, the connection goes */
        n = run_batch(sock, &b, GUEST_MAX_BATCH + 1, -1);
        bad |= check(n <= 0, "an oversized batch closed the connection");
        return bad;
    }
    if (strcmp(mode, "noread") == 0) {
        b.ops[0] = op(GUEST_OP_FLUSH_OBJECT, 0, 0, 0);
        b.hdr = (struct guest_ops_hdr){GUEST_MAGIC, GUEST_MSG_OPS, GUEST_MAX_BATCH, 0};
        size_t len = sizeof b.hdr + GUEST_MAX_BATCH * sizeof b.ops[0];
        for (unsigned long sent = 0;; sent++)
            if (send(sock, &b, len, MSG_NOSIGNAL) != (ssize_t)len) {
                /* vmca-hv closed us: EPIPE or ECONNRESET */
                printf("vmca-hv closed a guest that does not read, after %lu batches: %s\n",
                       sent, strerror(errno));
                return 0;
            }
    }
    fprintf(stderr, "rogue_guest: unknown mode '%s'\n", mode);
    return 2;
}
