/* vmca-run's LD_PRELOAD shim: takes over a program's large anonymous memory
 * (mmaps and malloc blocks of at least VMCA_RUN_THRESHOLD bytes) into one
 * userfaultfd-registered arena, keeps at most VMCA_RUN_BUDGET_PAGES of it
 * resident and puts the rest into the node's tmem over vmca-hv's guest
 * socket (hv-ext/emu/guest_proto.h); docs/run.md has the design. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../hv-ext/emu/guest_proto.h"
#include "../hv-ext/hvx.h"
#include "vmca-run-readahead.h"

/* UFFDIO_MOVE (Linux 6.8) is newer than some distributions' headers; the
 * values are the kernel's ABI. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ULL << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
    __u64 dst;
    __u64 src;
    __u64 len;
    __u64 mode;
    __s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

#define PG 4096u
#define HELLO_PAGE_SIZE_MAX 65536u
/* One fault's round trip to vmca-hv carries the puts of a sweep's victims
 * (slots 0..EVICT_MAX-1) and the gets of a read-ahead run (slots EVICT_MAX
 * on, in page order, so the run is installed with one UFFDIO_COPY). 64 of
 * each: a round trip then costs 1/64 of what it costs per page, and 128
 * slots of 4 KiB are 512 KiB of shared buffer. */
#define EVICT_MAX 64u
#define RA_MAX 64u
#define SLOTS (EVICT_MAX + RA_MAX)
#define OPS_MAX (EVICT_MAX + RA_MAX) /* holes' flushes + puts <= EVICT_MAX */
#define EXIT_CONN 1
#define EXIT_VM_FAILED 3
#define EXIT_INTEGRITY 4


enum page_state { P_FREE = 0, P_UNTOUCHED, P_RESIDENT, P_TMEM, P_DISK };

struct page_meta {
    uint64_t sum;      /* checksum of the content evicted last */
    uint32_t ring;     /* clock slot while resident */
    uint8_t state;     /* enum page_state */
    uint8_t in_tmem;   /* tmem holds a copy (maybe of an older content) */
    uint8_t malloc_block; /* at a block's first page: handed out by malloc, not mmap */
    uint8_t pad;
};

#define NO_SLOT UINT32_MAX

struct counters {
    uint64_t faults, zero_fills, gets, gets_remote, puts, puts_ok, puts_remote,
        puts_failed, disk_writes, disk_reads, verified, flushes, evictions, races, refills,
        readahead, ra_hits, round_trips, resident_max, managed_max, regions, move_busy;
};


static struct {
    bool managed;            /* this process is the one vmca-run started */
    bool file_store;         /* --store file: evictions go to the backing file only */
    _Atomic int ready;       /* 0 not yet, 1 up, -1 init failed */
    pthread_mutex_t init_lock;
    pthread_mutex_t lock;    /* everything below; taken by the handler per fault */
    size_t threshold;
    uint64_t budget;         /* resident pages at most */
    uint32_t vm;
    const char *socket;
    int err_fd;              /* a copy of the program's stderr at start */

    unsigned char *arena;    /* npages pages, registered MISSING */
    uint64_t npages, top;    /* pages handed out at least once lie below top */
    struct page_meta *meta;
    uint32_t *run_len;       /* pages of the block starting at that page */
    uint64_t *used;          /* bitmap: page allocated */
    uint64_t allocated;

    uint32_t *ring;          /* budget slots: page index or NO_SLOT */
    uint8_t *ref;
    uint32_t *free_slots;
    uint64_t n_free_slots, hand, resident;

    unsigned char *staging;  /* EVICT_MAX pages, registered: UFFDIO_MOVE's target */
    struct guest_op ops[OPS_MAX]; /* queued for hv_send */
    unsigned n_ops;
    uint64_t evict_batch;    /* pages a sweep evicts at least */
    struct ra ra;            /* the read-ahead streams */
    unsigned char *slots;    /* shared with vmca-hv */
    int uffd, sock, disk_fd;
    uint8_t pool;
    uint32_t max_batch;
    struct counters c;
    pthread_t handler;
} R = {.init_lock = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
       .uffd = -1, .sock = -1, .disk_fd = -1, .err_fd = 2};

static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);
static pid_t (*real_fork)(void);
static int (*real_madvise)(void *, size_t, int);
/* The allocator underneath for blocks below the threshold: the next one in
 * the search order, glibc's or the program's own (redis links libjemalloc,
 * whose chunks then come from the interposed mmap and are managed too). */
static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void *(*next_memalign)(size_t, size_t);
static size_t (*next_usable)(void *);
static _Atomic int resolving;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(R.err_fd, line, (size_t)n);
    (void)w;
}

static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    say("vmca-run: pid %d vm %" PRIu32 ": %s", (int)getpid(), R.vm, msg);
    _exit(status);
}

static uint64_t page_sum(const unsigned char *p)
{
    uint64_t h = 0x9e3779b97f4a7c15u, w;
    for (unsigned i = 0; i < PG; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
    }
    return h;
}

static bool in_arena(const void *p)
{
    return R.arena && (const unsigned char *)p >= R.arena &&
           (const unsigned char *)p < R.arena + R.npages * PG;
}

/* ---- the guest channel (one op batch at a time, under R.lock) ---- */

/* Sends one batch; its answer is read by hv_collect, in order (several
 * batches may be in flight: the socket keeps their order, vmca-hv answers
 * them in turn). */
static void hv_post(const struct guest_op *ops, unsigned count)
{
    static unsigned char buf[sizeof(struct guest_ops_hdr) +
                             GUEST_MAX_BATCH * sizeof(struct guest_op)];
    struct guest_ops_hdr h = {.magic = GUEST_MAGIC, .type = GUEST_MSG_OPS, .count = count};
    size_t len = sizeof h + (size_t)count * sizeof *ops;
    if (count == 0 || len > sizeof buf)
        die(EXIT_CONN, "internal: batch of %u ops", count);
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, ops, (size_t)count * sizeof *ops);
    R.c.round_trips++;
    ssize_t n;
    do
        n = send(R.sock, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        die(EXIT_CONN, "sending to vmca-hv at %s: %s", R.socket,
            n < 0 ? strerror(errno) : "short send");
}

/* The answer to the oldest batch in flight, which must be ops[0..count). */
static void hv_collect(struct guest_op *ops, unsigned count)
{
    static unsigned char buf[sizeof(struct guest_ops_hdr) +
                             GUEST_MAX_BATCH * sizeof(struct guest_op)];
    size_t len = sizeof(struct guest_ops_hdr) + (size_t)count * sizeof *ops;
    ssize_t n;
    do
        n = recv(R.sock, buf, sizeof buf, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        die(EXIT_CONN, "vmca-hv at %s: %s", R.socket,
            n < 0 ? strerror(errno) : "closed the connection");
    if ((size_t)n != len)
        die(EXIT_CONN, "protocol: reply of %zd bytes to a batch of %zu", n, len);
    for (unsigned i = 0; i < count; i++) {
        struct guest_op r;
        memcpy(&r, buf + sizeof(struct guest_ops_hdr) + (size_t)i * sizeof r, sizeof r);
        if (r.op != ops[i].op || r.index != ops[i].index || r.oid != ops[i].oid ||
            r.slot != ops[i].slot)
            die(EXIT_CONN, "protocol: op %u of a reply does not echo the request", i);
        ops[i].result = r.result;
    }
}

/* One batch out and its answer back (under R.lock, as every use). */
static void hv_exec(struct guest_op *ops, unsigned count)
{
    hv_post(ops, count);
    hv_collect(ops, count);
}

static struct guest_op key_op(uint8_t code, uint64_t idx, uint32_t slot)
{
    /* frontswap's swizzle, as vmca-guest: keys spread over 256 objects. */
    return (struct guest_op){.op = code, .pool = R.pool, .oid = idx & 0xff,
                             .index = (uint32_t)(idx >> 8), .slot = slot};
}

static int hv_connect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(R.socket) >= sizeof sun.sun_path) {
        say("vmca-run: socket path %s is too long", R.socket);
        return -1;
    }
    strcpy(sun.sun_path, R.socket);
    size_t bytes = (size_t)SLOTS * HELLO_PAGE_SIZE_MAX;
    int memfd = memfd_create("vmca-run-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0 || ftruncate(memfd, (off_t)bytes) != 0 ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        say("vmca-run: shared slot buffer: %s", strerror(errno));
        return -1;
    }
    R.slots = real_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (R.slots == MAP_FAILED) {
        say("vmca-run: mmap of the slot buffer: %s", strerror(errno));
        return -1;
    }
    /* After an exec the previous image's connection (same pid, same VM id)
     * may not be closed on vmca-hv's side yet: retry EEXIST for a while. */
    for (int attempt = 0;; attempt++) {
        R.sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (R.sock < 0 || connect(R.sock, (struct sockaddr *)&sun, sizeof sun) != 0) {
            say("vmca-run: cannot reach vmca-hv at %s: %s", R.socket, strerror(errno));
            return -1;
        }
        struct guest_hello h = {.magic = GUEST_MAGIC, .type = GUEST_MSG_HELLO, .vm = R.vm,
                                .slots = SLOTS};
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof h};
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                             .msg_controllen = sizeof ctl.b};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
        struct guest_hello_reply rep;
        ssize_t n = sendmsg(R.sock, &msg, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof h)
            n = recv(R.sock, &rep, sizeof rep, MSG_TRUNC);
        if (n != (ssize_t)sizeof rep || rep.magic != GUEST_MAGIC ||
            rep.type != GUEST_MSG_HELLO) {
            say("vmca-run: hello to vmca-hv at %s failed (%s)", R.socket,
                n < 0 ? strerror(errno) : "bad or no reply");
            return -1;
        }
        if (rep.status == HVX_EEXIST && attempt < 200) {
            close(R.sock);
            usleep(10000);
            continue;
        }
        if (rep.status != 0) {
            say("vmca-run: vmca-hv at %s refused VM %" PRIu32 ": status %d%s", R.socket, R.vm,
                rep.status, rep.status == HVX_EEXIST ? " (another VM uses this id: --vm)" : "");
            return -1;
        }
        if (rep.page_size != PG) {
            say("vmca-run: the cluster's page size is %" PRIu32 ", vmca-run needs %u",
                rep.page_size, PG);
            return -1;
        }
        if (rep.max_batch == 0 || rep.max_batch > GUEST_MAX_BATCH) {
            say("vmca-run: protocol: hello reply max_batch %" PRIu32 " is outside 1..%u",
                rep.max_batch, GUEST_MAX_BATCH);
            return -1;
        }
        R.max_batch = rep.max_batch;
        break;
    }
    close(memfd);
    struct guest_op op = {.op = GUEST_OP_NEW_POOL, .pool = HVX_POOL_PERSISTENT};
    hv_exec(&op, 1);
    if (op.result < 0) {
        say("vmca-run: vmca-hv refused a persistent pool: status %d", op.result);
        return -1;
    }
    R.pool = (uint8_t)op.result;
    return 0;
}

/* ---- the clock over resident pages ---- */

/* ref: the faulting page is referenced; read-ahead pages are not yet (if
 * the program does not use them they are the first to go). */
static void ring_insert(uint64_t idx, bool ref)
{
    if (R.n_free_slots == 0)
        die(EXIT_INTEGRITY, "internal: no clock slot free");
    uint32_t s = R.free_slots[--R.n_free_slots];
    R.ring[s] = (uint32_t)idx;
    R.ref[s] = ref;
    R.meta[idx].ring = s;
    R.meta[idx].state = P_RESIDENT;
    if (++R.resident > R.c.resident_max)
        R.c.resident_max = R.resident;
}

static void ring_remove(uint64_t idx)
{
    uint32_t s = R.meta[idx].ring;
    R.ring[s] = NO_SLOT;
    R.meta[idx].ring = NO_SLOT;
    R.free_slots[R.n_free_slots++] = s;
    R.resident--;
}

static void disk_open(void)
{
    if (R.disk_fd >= 0)
        return;
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vmca-run-disk.XXXXXX", dir && *dir ? dir : "/tmp");
    R.disk_fd = mkostemp(path, O_CLOEXEC);
    if (R.disk_fd < 0)
        die(EXIT_CONN, "backing file %s: %s", path, strerror(errno));
    unlink(path);
}

/* Queues an op for the next hv_send (flushes found during a sweep ride
 * along with its puts). */
static void queue_op(struct guest_op op)
{
    if (R.n_ops == OPS_MAX)
        die(EXIT_CONN, "internal: op queue full");
    R.ops[R.n_ops++] = op;
}

/* Queued ops [from, to) out in batches of at most max_batch, in order;
 * ops_collect with the same range reads their answers. */
static void ops_post(unsigned from, unsigned to)
{
    for (unsigned at = from; at < to; at += R.max_batch)
        hv_post(R.ops + at, to - at < R.max_batch ? to - at : R.max_batch);
}

static void ops_collect(unsigned from, unsigned to)
{
    for (unsigned at = from; at < to; at += R.max_batch)
        hv_collect(R.ops + at, to - at < R.max_batch ? to - at : R.max_batch);
}

/* All queued ops out and back. */
static void hv_send(void)
{
    ops_post(0, R.n_ops);
    ops_collect(0, R.n_ops);
}

/* Chooses a victim by CLOCK (reference bits are set at fault time only:
 * user space sees no access bits), moves it out of the program's address
 * space atomically (UFFDIO_MOVE: another thread touching it now faults and
 * waits for the handler) into staging page k and leaves its content in put
 * slot k. Returns the page, or UINT64_MAX when the victim was a hole (the
 * program dropped it itself: it reads as zeros again). */
static uint64_t evict_one(unsigned k)
{
    unsigned char *stage = R.staging + (size_t)k * PG;
    for (uint64_t steps = 0; steps < 4 * R.budget + 4; steps++) {
        uint64_t s = R.hand;
        R.hand = (R.hand + 1) % R.budget;
        uint32_t idx = R.ring[s];
        if (idx == NO_SLOT)
            continue;
        if (R.ref[s]) {
            R.ref[s] = 0;
            continue;
        }
        struct uffdio_move mv = {.dst = (uintptr_t)stage,
                                 .src = (uintptr_t)(R.arena + (uint64_t)idx * PG), .len = PG};
        if (ioctl(R.uffd, UFFDIO_MOVE, &mv) != 0 || mv.move != PG) {
            if (errno == ENOENT) {
                ring_remove(idx);
                R.meta[idx].state = P_UNTOUCHED;
                if (R.meta[idx].in_tmem) {
                    queue_op(key_op(GUEST_OP_FLUSH_PAGE, idx, 0));
                    R.meta[idx].in_tmem = 0;
                    R.c.flushes++;
                }
                return UINT64_MAX;
            }
            int e = errno; /* the madvise below may change errno */
            if (e == EEXIST) {
                /* The kernel found the staging page (or its page table)
                 * taken: seen once under sort --parallel=2. Nothing moved;
                 * the staging page is dropped again and, as a pinned one,
                 * this victim waits for the next round of the hand. */
                R.c.move_busy++;
                if (real_madvise(stage, PG, MADV_DONTNEED) != 0)
                    die(EXIT_CONN, "madvise of staging page %u: %s", k, strerror(errno));
            }
            if (e == EEXIST || e == EBUSY || e == EAGAIN) { /* pinned: try another */
                R.ref[s] = 1;
                continue;
            }
            die(EXIT_CONN, "UFFDIO_MOVE of page %u: %s", idx, strerror(e));
        }
        ring_remove(idx);
        unsigned char *slot = R.slots + (size_t)k * PG;
        memcpy(slot, stage, PG);
        R.meta[idx].sum = page_sum(slot);
        R.c.evictions++;
        return idx;
    }
    die(EXIT_CONN, "no page could be evicted (all pinned?)");
}

/* Put slot k (page idx's content) to the backing file at the page's offset. */
static void disk_put(uint64_t idx, unsigned k)
{
    disk_open();
    if (pwrite(R.disk_fd, R.slots + (size_t)k * PG, PG, (off_t)(idx * PG)) != (ssize_t)PG)
        die(EXIT_CONN, "writing page %" PRIu64 " to the backing file: %s", idx,
            strerror(errno));
    R.c.disk_writes++;
    R.meta[idx].state = P_DISK;
}

/* Where a victim's put went: tmem, or the backing file when refused (its
 * older tmem copy then flushed: queued for the next hv_send). */
static void evict_end(uint64_t idx, unsigned k, int32_t result)
{
    R.c.puts++;
    if (result == 0 || result == 1) {
        R.c.puts_ok++;
        R.c.puts_remote += (uint64_t)result;
        R.meta[idx].state = P_TMEM;
        R.meta[idx].in_tmem = 1;
        return;
    }
    if (result == HVX_EIO)
        die(EXIT_VM_FAILED, "VM failed: put of page %" PRIu64 " returned EIO", idx);
    R.c.puts_failed++;
    if (R.meta[idx].in_tmem) { /* an older copy must never come back */
        queue_op(key_op(GUEST_OP_FLUSH_PAGE, idx, 0));
        R.meta[idx].in_tmem = 0;
        R.c.flushes++;
    }
    disk_put(idx, k);
}

/* Installs len bytes at page idx from src in one UFFDIO_COPY (a range:
 * one syscall for a whole read-ahead run), waking the faulting threads. */
static void uffd_copy(uint64_t idx, const unsigned char *src, uint64_t len)
{
    uint64_t done = 0;
    while (done < len) {
        struct uffdio_copy cp = {.dst = (uintptr_t)(R.arena + idx * PG) + done,
                                 .src = (uintptr_t)src + done, .len = len - done};
        if (ioctl(R.uffd, UFFDIO_COPY, &cp) == 0)
            break;
        if (errno != EAGAIN)
            die(EXIT_CONN, "UFFDIO_COPY of page %" PRIu64 ": %s", idx + done / PG,
                strerror(errno));
        if (cp.copy > 0) /* partly done: go on after what was copied */
            done += (uint64_t)cp.copy;
    }
}

static void check(uint64_t idx, const unsigned char *p, const char *from)
{
    if (page_sum(p) != R.meta[idx].sum)
        die(EXIT_INTEGRITY,
            "integrity: page %" PRIu64 " came back from %s with content other than what was "
            "evicted",
            idx, from);
    R.c.verified++;
}

static bool evicted(uint64_t idx)
{
    return R.meta[idx].state == P_TMEM || R.meta[idx].state == P_DISK;
}

/* The read-ahead run for a fault on evicted page idx, [*lo, *lo + return):
 * as far as the stream's window reaches (vmca-run-readahead.h), evicted
 * pages only, contiguous, the faulting one included. */
static uint64_t ra_run(uint64_t idx, uint64_t *lo)
{
    bool hit;
    struct ra_stream *st = ra_fault(&R.ra, idx, &hit);
    R.c.ra_hits += hit;
    uint64_t a = idx, b = idx + 1;
    while (b - a < st->win && st->dir > 0 && b < R.top && evicted(b))
        b++;
    while (b - a < st->win && st->dir < 0 && a > 0 && evicted(a - 1))
        a--;
    ra_fetched(st, a, b);
    *lo = a;
    return b - a;
}

static void serve_fault(uint64_t addr)
{
    if (!in_arena((void *)addr))
        die(EXIT_CONN, "internal: fault at %#" PRIx64 " outside the arena", addr);
    uint64_t idx = (addr - (uintptr_t)R.arena) / PG;
    struct page_meta *m = &R.meta[idx];
    static const unsigned char zero[PG];
    if (m->state == P_RESIDENT) {
        /* Either two threads faulted on one page (it is there: EEXIST, wake
         * the other; read-ahead may have installed it meanwhile), or the
         * program dropped the page itself (MADV_DONTNEED/MADV_FREE, as
         * jemalloc purges) and touched it again: Linux says it reads as
         * zeros. */
        struct uffdio_copy cp = {.dst = (uintptr_t)(R.arena + idx * PG),
                                 .src = (uintptr_t)zero, .len = PG};
        if (ioctl(R.uffd, UFFDIO_COPY, &cp) == 0) {
            R.c.zero_fills++;
            R.c.refills++;
            return;
        }
        if (errno != EEXIST && errno != EAGAIN)
            die(EXIT_CONN, "UFFDIO_COPY of dropped page %" PRIu64 ": %s", idx, strerror(errno));
        struct uffdio_range r = {.start = (uintptr_t)(R.arena + idx * PG), .len = PG};
        if (ioctl(R.uffd, UFFDIO_WAKE, &r) != 0)
            die(EXIT_CONN, "UFFDIO_WAKE: %s", strerror(errno));
        R.c.races++;
        return;
    }
    if (m->state == P_FREE)
        die(EXIT_INTEGRITY, "access to managed memory at %p that is not allocated (freed or "
            "unmapped)", (void *)addr);
    R.c.faults++;
    /* The run to install: the page, and when it was evicted, the evicted
     * pages right after it, as far as the stream's window reaches. */
    uint64_t lo = idx, run = 1;
    if (evicted(idx)) {
        run = ra_run(idx, &lo);
        R.c.readahead += run - 1;
    }
    /* Room for the run: when the budget is short, one sweep evicts at least
     * evict_batch pages (one round trip for all their puts), so the next
     * faults find free slots and cost only their gets. */
    R.n_ops = 0;
    uint64_t victims[EVICT_MAX];
    unsigned nv = 0;
    if (R.resident + run > R.budget) {
        uint64_t goal = R.budget - run;
        if (R.resident - goal < R.evict_batch)
            goal = R.resident > R.evict_batch ? R.resident - R.evict_batch : 0;
        while (R.resident > goal) {
            uint64_t v = evict_one(nv);
            if (v != UINT64_MAX)
                victims[nv++] = v;
        }
        if (nv && real_madvise(R.staging, (size_t)nv * PG, MADV_DONTNEED) != 0)
            die(EXIT_CONN, "madvise of the staging pages: %s", strerror(errno));
    }
    unsigned char *in = R.slots + (size_t)EVICT_MAX * PG; /* the run's slots */
    /* Ops [0, first_get): the sweep's (holes' flushes, then the puts);
     * [first_get, n_ops): the run's gets. The gets go first and their
     * answer is awaited alone: the program runs again while vmca-hv stores
     * the victims (their answer is read after the install). */
    unsigned first_get = 0;
    if (R.file_store) { /* the disk baseline: no tmem at all */
        for (unsigned k = 0; k < nv; k++)
            disk_put(victims[k], k);
    } else {
        for (unsigned k = 0; k < nv; k++)
            queue_op(key_op(GUEST_OP_PUT, victims[k], k));
        first_get = R.n_ops;
        for (uint64_t j = 0; j < run; j++)
            if (R.meta[lo + j].state == P_TMEM)
                queue_op(key_op(GUEST_OP_GET, lo + j, EVICT_MAX + (uint32_t)j));
        ops_post(first_get, R.n_ops);
        ops_post(0, first_get);
        ops_collect(first_get, R.n_ops);
    }
    /* The run's pages, before the victims' states change (a victim cannot
     * be in the run: the run was not resident). */
    unsigned g = first_get;
    for (uint64_t j = 0; j < run; j++) {
        uint64_t p = lo + j;
        if (R.meta[p].state == P_TMEM) {
            int32_t r = R.ops[g++].result;
            if (r == HVX_EIO)
                die(EXIT_VM_FAILED, "VM failed: get of page %" PRIu64 " returned EIO "
                    "(persistent data lost)", p);
            if (r != 0 && r != 1)
                die(EXIT_INTEGRITY, "get of page %" PRIu64 " returned %d: tmem lost a "
                    "persistent page without failing the VM", p, r);
            R.c.gets++;
            R.c.gets_remote += (uint64_t)r;
            check(p, in + j * PG, "tmem");
        } else if (R.meta[p].state == P_DISK) {
            uint64_t k = 1; /* adjacent file pages: one pread */
            while (j + k < run && R.meta[p + k].state == P_DISK)
                k++;
            if (pread(R.disk_fd, in + j * PG, k * PG, (off_t)(p * PG)) != (ssize_t)(k * PG))
                die(EXIT_CONN, "reading pages %" PRIu64 "+%" PRIu64 " from the backing "
                    "file: %s", p, k, strerror(errno));
            for (uint64_t q = 0; q < k; q++) {
                R.c.disk_reads++;
                check(p + q, in + (j + q) * PG, "the backing file");
            }
            j += k - 1;
        }
    }
    if (m->state == P_UNTOUCHED) {
        R.c.zero_fills++;
        uffd_copy(idx, zero, PG);
    } else {
        uffd_copy(lo, in, run * PG);
    }
    for (uint64_t j = 0; j < run; j++)
        ring_insert(lo + j, lo + j == idx);
    if (!R.file_store && first_get) {
        ops_collect(0, first_get);
        int32_t put_result[EVICT_MAX];
        for (unsigned k = 0; k < nv; k++) /* the puts follow the holes' flushes */
            put_result[k] = R.ops[first_get - nv + k].result;
        R.n_ops = 0; /* failed puts queue their flushes anew */
        for (unsigned k = 0; k < nv; k++)
            evict_end(victims[k], k, put_result[k]);
        if (R.n_ops)
            hv_send();
    }
}

static void *handler_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd pfd = {.fd = R.uffd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            die(EXIT_CONN, "poll on the userfaultfd: %s", strerror(errno));
        }
        struct uffd_msg msgs[16];
        ssize_t n = read(R.uffd, msgs, sizeof msgs);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            die(EXIT_CONN, "reading the userfaultfd: %s", strerror(errno));
        }
        pthread_mutex_lock(&R.lock);
        for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
            if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
                die(EXIT_CONN, "unexpected userfaultfd event %u", msgs[i].event);
            serve_fault(msgs[i].arg.pagefault.address & ~(uint64_t)(PG - 1));
        }
        pthread_mutex_unlock(&R.lock);
    }
    return NULL;
}

/* ---- start-up ---- */

static void *map_meta(size_t bytes)
{
    void *p = real_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        die(EXIT_CONN, "mmap of %zu bytes of metadata: %s", bytes, strerror(errno));
    return p;
}

static void uffd_register(void *p, size_t len)
{
    struct uffdio_register reg = {.range = {.start = (uintptr_t)p, .len = len},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(R.uffd, UFFDIO_REGISTER, &reg) != 0)
        die(EXIT_CONN, "UFFDIO_REGISTER: %s", strerror(errno));
}

static uint64_t env_num(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        die(2, "environment %s='%s' is not a whole number", name, s);
    return v;
}

static void start(void)
{
    R.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (R.uffd < 0 && errno == EPERM)
        R.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (R.uffd < 0)
        die(EXIT_CONN, "userfaultfd: %s (vm.unprivileged_userfaultfd?)", strerror(errno));
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
    if (ioctl(R.uffd, UFFDIO_API, &api) != 0)
        die(EXIT_CONN, "userfaultfd without UFFDIO_MOVE (Linux >= 6.8 needed): %s",
            strerror(errno));
    uint64_t arena_mib = env_num("VMCA_RUN_ARENA_MIB", 4096);
    R.npages = arena_mib * (1u << 20) / PG;
    R.arena = map_meta(R.npages * PG);
    real_madvise(R.arena, R.npages * PG, MADV_NOHUGEPAGE);
    /* Named, so that /proc/PID/smaps shows its pieces (the program's
     * madvise may split it) as [anon:vmca-run-arena]; best effort. */
    prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)R.arena, R.npages * PG,
          (unsigned long)"vmca-run-arena");
    uffd_register(R.arena, R.npages * PG);
    R.staging = map_meta((size_t)EVICT_MAX * PG);
    uffd_register(R.staging, (size_t)EVICT_MAX * PG);
    /* A sweep leaves at most 1/16 of the budget unused until faults fill
     * it; a read-ahead run is at most 1/8 of it, so a wasted one pushes
     * out at most that many pages of the program's. */
    R.evict_batch = R.budget / 16 < 1 ? 1 : R.budget / 16 > EVICT_MAX ? EVICT_MAX : R.budget / 16;
    R.ra.max = R.budget / 8 < 1 ? 1 : R.budget / 8 > RA_MAX ? RA_MAX : (uint32_t)(R.budget / 8);
    R.meta = map_meta(R.npages * sizeof *R.meta);
    R.run_len = map_meta(R.npages * sizeof *R.run_len);
    R.used = map_meta((R.npages + 63) / 64 * 8);
    R.ring = map_meta(R.budget * sizeof *R.ring);
    R.ref = map_meta(R.budget);
    R.free_slots = map_meta(R.budget * sizeof *R.free_slots);
    for (uint64_t s = 0; s < R.budget; s++) {
        R.ring[s] = NO_SLOT;
        R.free_slots[s] = (uint32_t)(R.budget - 1 - s);
    }
    R.n_free_slots = R.budget;
    if (R.file_store)
        R.slots = map_meta(SLOTS * PG); /* the staging copies, private */
    else if (hv_connect() != 0)
        _exit(EXIT_CONN);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&R.handler, NULL, handler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        die(EXIT_CONN, "fault handler thread: %s", strerror(e));
}

/* True once the arena is up (started on the first large allocation). */
static bool ensure_started(void)
{
    int st = atomic_load(&R.ready);
    if (st != 0)
        return st > 0;
    /* start() itself allocates (pthread_create): an allocator underneath
     * that mmaps a large chunk for it (jemalloc) gets plain memory. */
    static __thread bool starting;
    if (!R.managed || starting)
        return false;
    pthread_mutex_lock(&R.init_lock);
    if (atomic_load(&R.ready) == 0) {
        starting = true;
        start();
        starting = false;
        atomic_store(&R.ready, 1);
    }
    pthread_mutex_unlock(&R.init_lock);
    return true;
}

/* dlsym may allocate before the allocator underneath is known: those few
 * blocks come from here and are never freed (8-byte size header each). */
static _Alignas(16) unsigned char boot[64 << 10];
static _Atomic size_t boot_used;

static bool in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static void *boot_alloc(size_t n)
{
    size_t need = (n + 16 + 15) & ~(size_t)15;
    size_t at = atomic_fetch_add(&boot_used, need);
    if (at + need > sizeof boot)
        return NULL;
    memcpy(boot + at, &n, sizeof n);
    return boot + at + 16; /* zeroed: static storage */
}

static size_t boot_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - 16, sizeof n);
    return n;
}

/* The functions underneath. Called by every wrapper that needs one, not
 * only by the constructor: other libraries' constructors (libjemalloc's,
 * libsystemd's) may run before ours and already allocate or mmap. Plain
 * stores of the same values, so two threads racing here are harmless. */
static void resolve(void)
{
    if (next_usable)
        return;
    atomic_fetch_add(&resolving, 1);
    real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    real_mremap = (void *(*)(void *, size_t, size_t, int, ...))dlsym(RTLD_NEXT, "mremap");
    real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    real_madvise = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    next_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    size_t (*usable)(void *) = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
    if (!real_mmap || !real_munmap || !real_mremap || !real_fork || !real_madvise || !next_malloc ||
        !next_free || !next_calloc || !next_realloc || !next_memalign || !usable)
        die(EXIT_CONN, "dlsym of the next mmap/munmap/mremap/madvise/fork/malloc family failed");
    next_usable = usable; /* last: it says all are set */
    atomic_fetch_sub(&resolving, 1);
}

/* True while resolve() runs (its dlsym's allocations go to boot). */
static bool bootstrapping(void)
{
    if (next_usable)
        return false;
    if (atomic_load(&resolving))
        return true;
    resolve();
    return false;
}

__attribute__((constructor)) static void preload_init(void)
{
    resolve();
    const char *pid = getenv("VMCA_RUN_PID");
    const char *sock = getenv("VMCA_RUN_SOCKET");
    const char *store = getenv("VMCA_RUN_STORE");
    bool file_store = store && strcmp(store, "file") == 0;
    /* Only the process vmca-run started (and the images it execs) is
     * managed; children it forks before managing anything run plain. */
    if (!pid || (!sock && !file_store) || strtol(pid, NULL, 10) != (long)getpid())
        return;
    /* A copy: programs that set their process title (redis) overwrite the
     * environment strings in place. */
    static char sock_path[sizeof(struct sockaddr_un) + 1];
    snprintf(sock_path, sizeof sock_path, "%s", sock ? sock : "(none: --store file)");
    R.socket = sock_path;
    R.file_store = file_store;
    R.vm = (uint32_t)env_num("VMCA_RUN_VM", 0);
    R.budget = env_num("VMCA_RUN_BUDGET_PAGES", 0);
    R.threshold = env_num("VMCA_RUN_THRESHOLD", 1u << 20);
    if (R.budget == 0 || R.threshold < PG)
        die(2, "VMCA_RUN_BUDGET_PAGES must be > 0 and VMCA_RUN_THRESHOLD >= %u", PG);
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
    if (fd >= 0)
        R.err_fd = fd;
    R.managed = true;
}

__attribute__((destructor)) static void preload_fini(void)
{
    if (atomic_load(&R.ready) <= 0)
        return;
    /* Not torn down: a later destructor may still touch managed memory.
     * The kernel closes the connection at exit, and vmca-hv then destroys
     * the VM and its pool. */
    pthread_mutex_lock(&R.lock);
    struct counters c = R.c;
    pthread_mutex_unlock(&R.lock);
    say("vmca-run: pid=%d vm=%" PRIu32 " budget_pages=%" PRIu64 " faults=%" PRIu64
        " zero_fills=%" PRIu64 " evictions=%" PRIu64 " puts=%" PRIu64 " puts_ok=%" PRIu64
        " puts_remote=%" PRIu64 " puts_failed=%" PRIu64 " gets=%" PRIu64
        " gets_remote=%" PRIu64 " disk_writes=%" PRIu64 " disk_reads=%" PRIu64
        " verified=%" PRIu64 " flushes=%" PRIu64 " races=%" PRIu64 " refills=%" PRIu64
        " readahead=%" PRIu64 " ra_hits=%" PRIu64 " round_trips=%" PRIu64 " resident_max=%" PRIu64
        " managed_max=%" PRIu64 " regions=%" PRIu64 " move_busy=%" PRIu64,
        (int)getpid(), R.vm, R.budget, c.faults, c.zero_fills, c.evictions, c.puts, c.puts_ok,
        c.puts_remote, c.puts_failed, c.gets, c.gets_remote, c.disk_writes, c.disk_reads,
        c.verified, c.flushes, c.races, c.refills, c.readahead, c.ra_hits, c.round_trips,
        c.resident_max, c.managed_max, c.regions, c.move_busy);
}

/* ---- the arena's page allocator (first fit over a bitmap) ---- */

static bool used_at(uint64_t i) { return R.used[i / 64] >> (i % 64) & 1; }

static void *arena_alloc(size_t bytes, bool from_malloc)
{
    uint64_t n = (bytes + PG - 1) / PG;
    if (n == 0 || n > UINT32_MAX)
        return NULL;
    pthread_mutex_lock(&R.lock);
    uint64_t start = UINT64_MAX, run = 0;
    for (uint64_t i = 0; i < R.top && start == UINT64_MAX;) {
        if (i % 64 == 0 && R.used[i / 64] == UINT64_MAX) {
            run = 0;
            i += 64;
            continue;
        }
        run = used_at(i) ? 0 : run + 1;
        i++;
        if (run == n)
            start = i - n;
    }
    if (start == UINT64_MAX) {
        uint64_t from = R.top - run; /* a free tail below top extends */
        if (from + n > R.npages) {
            pthread_mutex_unlock(&R.lock);
            return NULL;
        }
        start = from;
        R.top = from + n;
    }
    for (uint64_t i = start; i < start + n; i++) {
        R.used[i / 64] |= UINT64_C(1) << (i % 64);
        R.meta[i] = (struct page_meta){.state = P_UNTOUCHED, .ring = NO_SLOT};
    }
    R.run_len[start] = (uint32_t)n;
    R.meta[start].malloc_block = from_malloc;
    R.allocated += n;
    if (R.allocated > R.c.managed_max)
        R.c.managed_max = R.allocated;
    R.c.regions++;
    pthread_mutex_unlock(&R.lock);
    return R.arena + start * PG;
}

/* Drops pages [idx, idx + n) under R.lock: out of the clock and the address
 * space, their tmem copies flushed (in batches: a large free would
 * otherwise cost one round trip per page); allocated pages become
 * P_UNTOUCHED (they read as zeros again) or, when release, P_FREE. */
static void drop_pages(uint64_t idx, uint64_t n, bool release)
{
    struct guest_op ops[GUEST_MAX_BATCH];
    unsigned k = 0, max = R.max_batch < GUEST_MAX_BATCH ? R.max_batch : GUEST_MAX_BATCH;
    for (uint64_t i = idx; i < idx + n; i++) {
        if (!used_at(i))
            continue;
        if (R.meta[i].state == P_RESIDENT)
            ring_remove(i);
        if (R.meta[i].in_tmem) {
            ops[k++] = key_op(GUEST_OP_FLUSH_PAGE, i, 0);
            R.meta[i].in_tmem = 0;
            R.c.flushes++;
            if (k == max) {
                hv_exec(ops, k);
                k = 0;
            }
        }
        R.meta[i].state = release ? P_FREE : P_UNTOUCHED;
        if (release) {
            R.used[i / 64] &= ~(UINT64_C(1) << (i % 64));
            R.allocated--;
        }
    }
    if (k)
        hv_exec(ops, k);
    if (real_madvise(R.arena + idx * PG, n * PG, MADV_DONTNEED) != 0)
        die(EXIT_CONN, "madvise(MADV_DONTNEED) of arena pages: %s", strerror(errno));
}

static void arena_release(uint64_t idx, uint64_t n)
{
    pthread_mutex_lock(&R.lock);
    drop_pages(idx, n, true);
    R.run_len[idx] = 0;
    pthread_mutex_unlock(&R.lock);
}

static size_t block_bytes(const void *p)
{
    uint64_t idx = (uint64_t)((const unsigned char *)p - R.arena) / PG;
    return (size_t)R.run_len[idx] * PG;
}

static void arena_free(void *p)
{
    uint64_t idx = (uint64_t)((unsigned char *)p - R.arena) / PG;
    arena_release(idx, R.run_len[idx]);
}

/* ---- interposed allocator ---- */

/* A block our malloc handed out. Other pointers into the arena belong to
 * the allocator underneath (jemalloc carves its objects out of chunks it
 * mmapped, which are arena pages too). */
static bool malloc_block(const void *p)
{
    if (!in_arena(p))
        return false;
    uint64_t off = (uint64_t)((const unsigned char *)p - R.arena);
    return off % PG == 0 && R.run_len[off / PG] != 0 && R.meta[off / PG].malloc_block;
}

static bool big(size_t n) { return n >= R.threshold && R.managed && ensure_started(); }

void *malloc(size_t n)
{
    if (bootstrapping())
        return boot_alloc(n);
    if (big(n)) {
        void *p = arena_alloc(n, true);
        if (!p)
            errno = ENOMEM;
        return p;
    }
    return next_malloc(n);
}

void free(void *p)
{
    if (malloc_block(p))
        arena_free(p);
    else if (p && !in_boot(p)) {
        resolve();
        next_free(p);
    }
}

void *calloc(size_t k, size_t n)
{
    size_t bytes;
    if (__builtin_mul_overflow(k, n, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (bootstrapping())
        return boot_alloc(bytes);
    if (big(bytes))
        return malloc(bytes); /* fresh arena pages read as zeros */
    return next_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (bootstrapping() || in_boot(p)) { /* moves out of boot, never back */
        void *q = malloc(n);
        if (q && in_boot(p))
            memcpy(q, p, boot_size(p) < n ? boot_size(p) : n);
        return q;
    }
    bool ours = malloc_block(p);
    if (!ours && !big(n))
        return next_realloc(p, n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    size_t old = ours ? block_bytes(p) : next_usable(p);
    if (ours && n <= old && big(n))
        return p;
    void *q = malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    if (bootstrapping())
        return align <= 16 && (*out = boot_alloc(n)) ? 0 : ENOMEM;
    if (align <= PG && big(n)) {
        void *p = arena_alloc(n, true);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    void *p = next_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t n)
{
    if (bootstrapping())
        return align <= 16 ? boot_alloc(n) : NULL;
    if (align <= PG && big(n))
        return malloc(n);
    return next_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

void *reallocarray(void *p, size_t k, size_t n)
{
    size_t bytes;
    if (__builtin_mul_overflow(k, n, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

size_t malloc_usable_size(void *p)
{
    if (malloc_block(p))
        return block_bytes(p);
    if (in_boot(p))
        return boot_size(p);
    resolve();
    return p ? next_usable(p) : 0;
}

/* ---- interposed mappings ---- */

static bool managed_mapping(void *addr, size_t len, int prot, int flags, int fd)
{
    return addr == NULL && fd == -1 && prot == (PROT_READ | PROT_WRITE) &&
           (flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED | MAP_FIXED | MAP_GROWSDOWN |
                     MAP_STACK | MAP_HUGETLB)) == (MAP_ANONYMOUS | MAP_PRIVATE) &&
           big(len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    resolve();
    if (managed_mapping(addr, len, prot, flags, fd)) {
        void *p = arena_alloc(len, false);
        if (!p) {
            errno = ENOMEM;
            return MAP_FAILED;
        }
        return p;
    }
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return mmap(addr, len, prot, flags, fd, (off_t)off);
}

int munmap(void *addr, size_t len)
{
    resolve();
    if (!in_arena(addr))
        return real_munmap(addr, len);
    uint64_t off = (uint64_t)((unsigned char *)addr - R.arena);
    if (off % PG || len == 0 || off + len > R.npages * PG) {
        errno = EINVAL;
        return -1;
    }
    uint64_t idx = off / PG, n = (len + PG - 1) / PG;
    arena_release(idx, n);
    return 0;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    resolve();
    if (!in_arena(old)) {
        va_list ap;
        va_start(ap, flags);
        void *na = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
        va_end(ap);
        return real_mremap(old, old_len, new_len, flags, na);
    }
    if (!(flags & MREMAP_MAYMOVE) || (flags & ~MREMAP_MAYMOVE)) {
        errno = ENOMEM; /* cannot grow in place inside the arena */
        return MAP_FAILED;
    }
    void *p = arena_alloc(new_len, false);
    if (!p) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    memcpy(p, old, old_len < new_len ? old_len : new_len);
    munmap(old, old_len);
    return p;
}

/* The program drops arena pages itself (jemalloc purges with MADV_DONTNEED
 * and MADV_FREE and then counts on zeros): they must not come back from tmem
 * or the file with their old content. Both are made MADV_DONTNEED (zeros are
 * allowed after MADV_FREE too); the pages read as never touched again. */
int madvise(void *addr, size_t len, int advice)
{
    resolve();
    if (!in_arena(addr) || (advice != MADV_DONTNEED && advice != MADV_FREE))
        return real_madvise(addr, len, advice);
    uint64_t off = (uint64_t)((unsigned char *)addr - R.arena);
    if (off % PG || off + len > R.npages * PG) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&R.lock);
    drop_pages(off / PG, (len + PG - 1) / PG, false);
    pthread_mutex_unlock(&R.lock);
    return 0;
}

/* A child would see the managed pages that are not resident as zeros (the
 * userfaultfd registration does not follow it): refuse rather than let it
 * read data nobody wrote. */
pid_t fork(void)
{
    resolve();
    if (atomic_load(&R.ready) > 0) {
        say("vmca-run: fork refused: pid %d has memory managed by vmca-run, which a child "
            "cannot share (docs/run.md)", (int)getpid());
        errno = ENOSYS;
        return -1;
    }
    pid_t pid = real_fork();
    if (pid == 0)
        R.managed = false; /* the child is another VM id's business: unmanaged */
    return pid;
}
