/* The emulated global address space: one POSIX shared-memory segment per
 * node plus a control segment with the per-node hardware words (see
 * fabric.h for the model).
 *
 * Control segment "/vmca-<cluster>-ctl":
 *   struct ctl_hdr, then struct ctl_node[max_node + 1] indexed by node id.
 * The first node to start creates it (O_CREAT|O_EXCL), sizes it and writes
 * the header, the magic last with release order; the others open it and
 * wait (bounded) until the magic appears.
 *
 * Open/close serialisation: fabric_close unlinks the control segment when
 * no node is online, which would race with a node that has just opened the
 * segment and is about to publish itself online (it would end up alone in
 * an unlinked segment while the next node creates a new one). Both sides
 * therefore hold flock(LOCK_EX) on the control segment while they change
 * "online" and while the closer decides to unlink; an opener that gets the
 * lock checks that the name still refers to the object it opened, and starts
 * over if not.
 *
 * Restart protocol of a home (fabric_open of a node id whose words may still
 * say online after a crash): online=0, pages=0, unlink the old segment,
 * create the new one, pages=n, generation+1, online=1. A remote node maps a
 * home by reading online+generation, opening and mapping the segment, and
 * reading them again: if the home is still online with the same generation,
 * the mapped object is the one of that generation (the restart clears
 * online before it unlinks, so a mapping of a half-created segment is always
 * detected). */
#include "fabric.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gfn.h"

/* The words are shared between processes: they must be real lock-free
 * atomics, not the library's lock-based fallback. */
#if ATOMIC_INT_LOCK_FREE != 2 || ATOMIC_LLONG_LOCK_FREE != 2 || ATOMIC_LONG_LOCK_FREE != 2
#error "fabric.c needs lock-free 32- and 64-bit atomics"
#endif

#define CTL_MAGIC UINT64_C(0x564d434146414231) /* "VMCAFAB1" */
#define CTL_VERSION 2u
#define CLUSTER_MAX 32u
#define PREFIX_LEN (6u + CLUSTER_MAX + 1u)   /* "/vmca-" cluster NUL */
#define NAME_MAX_LEN (PREFIX_LEN + 8u)       /* + "-n65535" or "-ctl" */
#define INIT_WAIT_NS (2000000000LL) /* wait for another creator: 2 s */
#define INIT_POLL_NS (1000000L)     /* poll every 1 ms */
#define OPEN_ATTEMPTS 100           /* control segment replaced under us */

struct ctl_hdr {
    _Atomic uint64_t magic;   /* CTL_MAGIC once the rest is written */
    uint32_t version;
    uint32_t max_node;
    uint32_t page_size;       /* every node of a cluster uses the same */
    uint32_t entry_size;      /* sizeof(struct ctl_node) */
    uint64_t reserved[5];
};

struct ctl_node {
    _Atomic uint32_t online;
    _Atomic uint32_t fenced;
    _Atomic uint64_t generation;
    _Atomic uint64_t pages;
    _Atomic uint32_t claim_epoch; /* +1 at each restart and each fence */
    uint32_t reserved;
};

_Static_assert(sizeof(struct ctl_hdr) == 64, "control header layout");
_Static_assert(sizeof(struct ctl_node) == 32, "control entry layout");

struct fabric_map {
    unsigned char *base;      /* NULL: not mapped */
    uint64_t pages;           /* whole pages in the mapping */
    uint64_t data_pages;      /* tmem pages (the owner table follows them) */
    uint64_t gen;             /* home generation the mapping belongs to */
};

struct fabric {
    uint32_t self;
    uint32_t max_node;
    uint32_t page_size;
    uint32_t latency_ns;
    uint64_t self_pages;
    char prefix[PREFIX_LEN];     /* "/vmca-<cluster>" */
    char ctl_name[NAME_MAX_LEN];
    char own_name[NAME_MAX_LEN];

    int ctl_fd;               /* kept open for flock */
    dev_t ctl_dev;
    ino_t ctl_ino;
    void *ctl_base;
    size_t ctl_size;
    struct ctl_node *nodes;   /* [max_node + 1] */

    unsigned char *own;       /* own segment */
    size_t own_size;
    bool own_created;
    dev_t own_dev;
    ino_t own_ino;
    uint64_t own_gen;         /* 0 until published */

    struct fabric_map *maps;  /* [max_node + 1], remote homes */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A home's segment: its pages, then its owner table (one 32-bit entry per
 * page, zero = the home: a fresh memory is all its own), rounded up to
 * whole pages. */
static uint64_t segment_pages(uint64_t pages, uint32_t page_size)
{
    return pages + (pages * sizeof(uint32_t) + page_size - 1) / page_size;
}

static size_t ctl_size_for(uint32_t max_node)
{
    return sizeof(struct ctl_hdr) + ((size_t)max_node + 1) * sizeof(struct ctl_node);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void spin_ns(uint32_t ns)
{
    if (ns == 0)
        return;
    int64_t end = mono_ns() + ns;
    while (mono_ns() < end)
        ;
}

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Does shared-memory object `name` currently refer to (dev, ino)? */
static bool name_is(const char *name, dev_t dev, ino_t ino)
{
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0)
        return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    close(fd);
    return same;
}

static bool cluster_ok(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n > CLUSTER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool check_params(const struct fabric_params *p, char *err, size_t errlen)
{
    if (p == NULL) {
        set_err(err, errlen, "fabric params: NULL");
        return false;
    }
    if (p->cluster == NULL) {
        set_err(err, errlen, "cluster: missing (NULL)");
        return false;
    }
    if (!cluster_ok(p->cluster)) {
        set_err(err, errlen, "cluster: \"%.40s%s\" must be 1..%u characters of [A-Za-z0-9_-]",
                p->cluster, strlen(p->cluster) > 40 ? "..." : "", CLUSTER_MAX);
        return false;
    }
    if (p->max_node < 1 || p->max_node > VMCA_NODE_MAX) {
        set_err(err, errlen, "max_node: %u not in 1..%u", p->max_node, VMCA_NODE_MAX);
        return false;
    }
    if (p->self < 1 || p->self > p->max_node) {
        set_err(err, errlen, "self: node id %u not in 1..max_node (%u)", p->self, p->max_node);
        return false;
    }
    if (p->page_size < 4096 || (p->page_size & (p->page_size - 1)) != 0) {
        set_err(err, errlen, "page_size: %u is not a power of two >= 4096", p->page_size);
        return false;
    }
    if (p->self_pages < 1) {
        set_err(err, errlen, "self_pages: must be at least 1");
        return false;
    }
    if (p->self_pages > VMCA_GFN_INDEX_MASK + 1) {
        set_err(err, errlen, "self_pages: %llu exceeds the %u-bit page index space",
                (unsigned long long)p->self_pages, VMCA_GFN_INDEX_BITS);
        return false;
    }
    uint64_t limit = (uint64_t)INT64_MAX / p->page_size;
    if ((uint64_t)SIZE_MAX / p->page_size < limit)
        limit = (uint64_t)SIZE_MAX / p->page_size;
    if (p->self_pages > limit) {
        set_err(err, errlen, "self_pages: %llu pages of %u bytes do not fit in a segment",
                (unsigned long long)p->self_pages, p->page_size);
        return false;
    }
    return true;
}

static void ctl_detach(struct fabric *f)
{
    if (f->ctl_base != NULL)
        munmap(f->ctl_base, f->ctl_size);
    if (f->ctl_fd >= 0)
        close(f->ctl_fd);
    f->ctl_base = NULL;
    f->nodes = NULL;
    f->ctl_fd = -1;
}

enum attach_rc { ATTACH_OK, ATTACH_RETRY, ATTACH_FAIL };

/* Creates the control segment, or opens an existing one and waits until its
 * creator has initialised it. On ATTACH_OK f->ctl_* are set; otherwise
 * nothing is left open. */
static enum attach_rc ctl_attach(struct fabric *f, char *err, size_t errlen)
{
    size_t want = ctl_size_for(f->max_node);
    struct stat st;
    int fd = shm_open(f->ctl_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        /* Creator: size (zero-fills every entry), header, magic last. */
        if (ftruncate(fd, (off_t)want) != 0 || fstat(fd, &st) != 0) {
            set_err(err, errlen, "control segment %s: ftruncate: %s", f->ctl_name, strerror(errno));
            goto fail_unlink;
        }
        void *base = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
            set_err(err, errlen, "control segment %s: mmap: %s", f->ctl_name, strerror(errno));
            goto fail_unlink;
        }
        struct ctl_hdr *h = base;
        h->version = CTL_VERSION;
        h->max_node = f->max_node;
        h->page_size = f->page_size;
        h->entry_size = (uint32_t)sizeof(struct ctl_node);
        atomic_store_explicit(&h->magic, CTL_MAGIC, memory_order_release);
        f->ctl_fd = fd;
        f->ctl_base = base;
        f->ctl_size = want;
        f->ctl_dev = st.st_dev;
        f->ctl_ino = st.st_ino;
        f->nodes = (struct ctl_node *)((unsigned char *)base + sizeof(struct ctl_hdr));
        return ATTACH_OK;
    fail_unlink:
        close(fd);
        shm_unlink(f->ctl_name);
        return ATTACH_FAIL;
    }
    if (errno != EEXIST) {
        set_err(err, errlen, "control segment %s: shm_open: %s", f->ctl_name, strerror(errno));
        return ATTACH_FAIL;
    }
    fd = shm_open(f->ctl_name, O_RDWR, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return ATTACH_RETRY; /* the last node closed it meanwhile */
        set_err(err, errlen, "control segment %s: shm_open: %s", f->ctl_name, strerror(errno));
        return ATTACH_FAIL;
    }

    /* Another node created it: wait until it is sized and initialised. */
    int64_t deadline = mono_ns() + INIT_WAIT_NS;
    void *base = NULL;
    size_t size = 0;
    for (;;) {
        if (base == NULL) {
            if (fstat(fd, &st) != 0) {
                set_err(err, errlen, "control segment %s: fstat: %s", f->ctl_name, strerror(errno));
                goto fail;
            }
            if ((size_t)st.st_size >= sizeof(struct ctl_hdr)) {
                size = (size_t)st.st_size;
                base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (base == MAP_FAILED) {
                    base = NULL;
                    set_err(err, errlen, "control segment %s: mmap: %s", f->ctl_name,
                            strerror(errno));
                    goto fail;
                }
            }
        }
        if (base != NULL) {
            uint64_t magic = atomic_load_explicit(&((struct ctl_hdr *)base)->magic,
                                                  memory_order_acquire);
            if (magic == CTL_MAGIC)
                break;
            if (magic != 0) {
                set_err(err, errlen, "control segment %s: bad magic 0x%016llx (not a vMCA fabric)",
                        f->ctl_name, (unsigned long long)magic);
                goto fail;
            }
        }
        if (mono_ns() >= deadline) {
            set_err(err, errlen,
                    "control segment %s: not initialised after %lld ms (creator died? "
                    "remove /dev/shm%s if no node of the cluster runs)",
                    f->ctl_name, (long long)(INIT_WAIT_NS / 1000000), f->ctl_name);
            goto fail;
        }
        nap(INIT_POLL_NS);
    }

    const struct ctl_hdr *h = base;
    if (h->version != CTL_VERSION) {
        set_err(err, errlen, "control segment %s: version %u, this node speaks %u", f->ctl_name,
                h->version, CTL_VERSION);
        goto fail;
    }
    if (h->max_node != f->max_node) {
        set_err(err, errlen, "control segment %s: max_node %u, this node has max_node %u",
                f->ctl_name, h->max_node, f->max_node);
        goto fail;
    }
    if (h->page_size != f->page_size) {
        set_err(err, errlen, "control segment %s: page_size %u, this node has page_size %u",
                f->ctl_name, h->page_size, f->page_size);
        goto fail;
    }
    if (h->entry_size != sizeof(struct ctl_node) || size != want) {
        set_err(err, errlen, "control segment %s: size %zu / entry size %u, expected %zu / %zu",
                f->ctl_name, size, h->entry_size, want, sizeof(struct ctl_node));
        goto fail;
    }
    f->ctl_fd = fd;
    f->ctl_base = base;
    f->ctl_size = size;
    f->ctl_dev = st.st_dev;
    f->ctl_ino = st.st_ino;
    f->nodes = (struct ctl_node *)((unsigned char *)base + sizeof(struct ctl_hdr));
    return ATTACH_OK;
fail:
    if (base != NULL)
        munmap(base, size);
    close(fd);
    return ATTACH_FAIL;
}

static void ctl_lock(struct fabric *f)
{
    while (flock(f->ctl_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
}

static void ctl_unlock(struct fabric *f)
{
    flock(f->ctl_fd, LOCK_UN);
}

/* Attaches the control segment and returns with its lock held, the name
 * verified to still refer to the attached object. */
static bool ctl_attach_locked(struct fabric *f, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        enum attach_rc rc = ctl_attach(f, err, errlen);
        if (rc == ATTACH_FAIL)
            return false;
        if (rc == ATTACH_OK) {
            ctl_lock(f);
            if (name_is(f->ctl_name, f->ctl_dev, f->ctl_ino))
                return true;
            /* Unlinked (and maybe recreated) by the last node closing. */
            ctl_unlock(f);
            ctl_detach(f);
        }
        nap(INIT_POLL_NS);
    }
    set_err(err, errlen, "control segment %s: replaced %d times while opening; giving up",
            f->ctl_name, OPEN_ATTEMPTS);
    return false;
}

static bool any_online(const struct fabric *f)
{
    for (uint32_t n = 1; n <= f->max_node; n++)
        if (atomic_load_explicit(&f->nodes[n].online, memory_order_acquire))
            return true;
    return false;
}

static void unmap_remotes(struct fabric *f)
{
    if (f->maps == NULL)
        return;
    for (uint32_t n = 0; n <= f->max_node; n++) {
        if (f->maps[n].base != NULL)
            munmap(f->maps[n].base, (size_t)(f->maps[n].pages * f->page_size));
        f->maps[n] = (struct fabric_map){0};
    }
}

/* Tears down whatever fabric_open got to. Called with the control lock held
 * when the control segment is attached. */
static void teardown(struct fabric *f)
{
    unmap_remotes(f);
    if (f->nodes != NULL) {
        struct ctl_node *me = &f->nodes[f->self];
        /* A newer life of this node id (a restart while this instance was
         * considered dead) owns the words and the segment name now. */
        bool current = f->own_gen != 0 &&
                       atomic_load_explicit(&me->generation, memory_order_acquire) == f->own_gen;
        if (current) {
            atomic_store_explicit(&me->online, 0, memory_order_release);
            atomic_store_explicit(&me->pages, 0, memory_order_release);
        }
    }
    if (f->own != NULL)
        munmap(f->own, f->own_size);
    f->own = NULL;
    if (f->own_created && name_is(f->own_name, f->own_dev, f->own_ino))
        shm_unlink(f->own_name);
    f->own_created = false;
    if (f->nodes != NULL) {
        if (!any_online(f) && name_is(f->ctl_name, f->ctl_dev, f->ctl_ino))
            shm_unlink(f->ctl_name);
        ctl_unlock(f);
    }
    ctl_detach(f);
    free(f->maps);
    free(f);
}

/* Creates this node's segment afresh and publishes it; control lock held. */
static bool own_create(struct fabric *f, char *err, size_t errlen)
{
    struct ctl_node *me = &f->nodes[f->self];
    /* The node is down while its memory is replaced (a leftover of a crash
     * may still say online). */
    atomic_store_explicit(&me->online, 0, memory_order_seq_cst);
    atomic_store_explicit(&me->pages, 0, memory_order_release);

    if (shm_unlink(f->own_name) != 0 && errno != ENOENT) {
        set_err(err, errlen, "segment %s: shm_unlink of the old one: %s", f->own_name,
                strerror(errno));
        return false;
    }
    int fd = shm_open(f->own_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        set_err(err, errlen, "segment %s: shm_open: %s", f->own_name, strerror(errno));
        return false;
    }
    f->own_created = true;
    struct stat st;
    f->own_size = (size_t)(segment_pages(f->self_pages, f->page_size) * f->page_size);
    if (ftruncate(fd, (off_t)f->own_size) != 0 || fstat(fd, &st) != 0) {
        set_err(err, errlen, "segment %s: ftruncate to %zu bytes: %s", f->own_name, f->own_size,
                strerror(errno));
        close(fd);
        return false;
    }
    f->own_dev = st.st_dev;
    f->own_ino = st.st_ino;
    void *base = mmap(NULL, f->own_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int saved = errno;
    close(fd);
    if (base == MAP_FAILED) {
        set_err(err, errlen, "segment %s: mmap of %zu bytes: %s", f->own_name, f->own_size,
                strerror(saved));
        return false;
    }
    f->own = base;

    atomic_store_explicit(&me->pages, f->self_pages, memory_order_release);
    atomic_fetch_add_explicit(&me->claim_epoch, 1, memory_order_acq_rel);
    f->own_gen = atomic_fetch_add_explicit(&me->generation, 1, memory_order_acq_rel) + 1;
    atomic_store_explicit(&me->online, 1, memory_order_release);
    return true;
}

struct fabric *fabric_open(const struct fabric_params *p, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (!check_params(p, err, errlen))
        return NULL;
    struct fabric *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        set_err(err, errlen, "fabric: out of memory");
        return NULL;
    }
    f->self = p->self;
    f->max_node = p->max_node;
    f->page_size = p->page_size;
    f->latency_ns = p->remote_latency_ns;
    f->self_pages = p->self_pages;
    f->ctl_fd = -1;
    snprintf(f->prefix, sizeof(f->prefix), "/vmca-%s", p->cluster);
    snprintf(f->ctl_name, sizeof(f->ctl_name), "%s-ctl", f->prefix);
    snprintf(f->own_name, sizeof(f->own_name), "%s-n%u", f->prefix, p->self);
    f->maps = calloc((size_t)f->max_node + 1, sizeof(*f->maps));
    if (f->maps == NULL) {
        set_err(err, errlen, "fabric: out of memory for %u mapping entries", f->max_node + 1);
        free(f);
        return NULL;
    }
    if (!ctl_attach_locked(f, err, errlen)) {
        free(f->maps);
        free(f);
        return NULL;
    }
    if (!own_create(f, err, errlen)) {
        teardown(f);
        return NULL;
    }
    ctl_unlock(f);
    return f;
}

void fabric_close(struct fabric *f)
{
    if (f == NULL)
        return;
    ctl_lock(f);
    teardown(f);
}

static void *fault_out(int *fault, int code)
{
    if (fault != NULL)
        *fault = code;
    return NULL;
}

/* Maps `home`'s current segment into f->maps[home]; 0 or a FABRIC_ERR_*. */
static int map_home(struct fabric *f, uint32_t home)
{
    struct ctl_node *w = &f->nodes[home];
    if (!atomic_load_explicit(&w->online, memory_order_acquire))
        return FABRIC_ERR_OFFLINE;
    uint64_t gen = atomic_load_explicit(&w->generation, memory_order_acquire);
    uint64_t data_pages = atomic_load_explicit(&w->pages, memory_order_acquire);

    char name[NAME_MAX_LEN];
    snprintf(name, sizeof(name), "%s-n%u", f->prefix, home);
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0)
        return errno == ENOENT ? FABRIC_ERR_OFFLINE : FABRIC_ERR_SYS;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return FABRIC_ERR_SYS;
    }
    uint64_t pages = (uint64_t)st.st_size / f->page_size;
    if (pages == 0 || data_pages == 0 || pages != segment_pages(data_pages, f->page_size)) {
        /* Being created right now (a restart clears online first, so the
         * re-check below would say so as well). */
        close(fd);
        return FABRIC_ERR_OFFLINE;
    }
    size_t len = (size_t)(pages * f->page_size);
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return FABRIC_ERR_SYS;

    /* The object mapped belongs to generation `gen` only if the home is
     * still online in that generation. */
    bool online = atomic_load_explicit(&w->online, memory_order_acquire) != 0;
    uint64_t gen2 = atomic_load_explicit(&w->generation, memory_order_acquire);
    if (!online || gen2 != gen) {
        munmap(base, len);
        return FABRIC_ERR_STALE;
    }
    f->maps[home] = (struct fabric_map){.base = base, .pages = pages, .data_pages = data_pages,
                                        .gen = gen};
    return 0;
}

/* The current mapping of remote `home` (mapped on first use), or NULL with
 * *fault: the checks of a remote page access. */
static struct fabric_map *remote_map(struct fabric *f, uint32_t home, int *fault)
{
    if (atomic_load_explicit(&f->nodes[f->self].fenced, memory_order_acquire))
        return fault_out(fault, FABRIC_ERR_FENCED);
    struct fabric_map *m = &f->maps[home];
    if (m->base == NULL) {
        int rc = map_home(f, home);
        if (rc != 0)
            return fault_out(fault, rc);
    } else {
        struct ctl_node *w = &f->nodes[home];
        if (!atomic_load_explicit(&w->online, memory_order_acquire) ||
            atomic_load_explicit(&w->generation, memory_order_acquire) != m->gen)
            return fault_out(fault, FABRIC_ERR_STALE);
    }
    return m;
}

void *fabric_page(struct fabric *f, uint64_t gfn, int *fault)
{
    if (f == NULL || !vmca_gfn_valid(gfn))
        return fault_out(fault, FABRIC_ERR_RANGE);
    uint32_t home = vmca_gfn_home(gfn);
    uint64_t index = vmca_gfn_index(gfn);
    if (home > f->max_node)
        return fault_out(fault, FABRIC_ERR_RANGE);

    if (home == f->self) {
        /* Fencing cuts a node's remote accesses only; its own memory stays
         * reachable. */
        if (index >= f->self_pages)
            return fault_out(fault, FABRIC_ERR_RANGE);
        return f->own + index * f->page_size;
    }

    spin_ns(f->latency_ns);
    struct fabric_map *m = remote_map(f, home, fault);
    if (m == NULL)
        return NULL;
    if (index >= m->data_pages)
        return fault_out(fault, FABRIC_ERR_RANGE);
    return m->base + index * f->page_size;
}

uint32_t *fabric_owners(struct fabric *f, uint32_t home, int *fault)
{
    if (f == NULL || home == 0 || home > f->max_node)
        return fault_out(fault, FABRIC_ERR_RANGE);
    if (home == f->self)
        return (uint32_t *)(void *)(f->own + f->self_pages * f->page_size);
    struct fabric_map *m = remote_map(f, home, fault);
    return m ? (uint32_t *)(void *)(m->base + m->data_pages * f->page_size) : NULL;
}

void fabric_set_remote(struct fabric *f, bool on)
{
    struct ctl_node *me = &f->nodes[f->self];
    /* Only the current life of this node id may change its word. */
    if (atomic_load_explicit(&me->generation, memory_order_acquire) == f->own_gen)
        atomic_store_explicit(&me->online, on ? 1u : 0u, memory_order_release);
}

void fabric_forget_stale(struct fabric *f, uint32_t home)
{
    if (f == NULL || home > f->max_node || f->maps[home].base == NULL)
        return;
    if (f->maps[home].gen != atomic_load_explicit(&f->nodes[home].generation,
                                                  memory_order_acquire))
        fabric_forget(f, home);
}

void fabric_forget(struct fabric *f, uint32_t home)
{
    if (f == NULL || home > f->max_node || f->maps[home].base == NULL)
        return;
    munmap(f->maps[home].base, (size_t)(f->maps[home].pages * f->page_size));
    f->maps[home] = (struct fabric_map){0};
}

void fabric_fence(struct fabric *f, uint32_t node, bool fenced)
{
    if (f == NULL || node < 1 || node > f->max_node)
        return;
    if (fenced) /* its claims up to now are void (owner tables) */
        atomic_fetch_add_explicit(&f->nodes[node].claim_epoch, 1, memory_order_acq_rel);
    atomic_store_explicit(&f->nodes[node].fenced, fenced ? 1u : 0u, memory_order_seq_cst);
}

uint32_t fabric_claim_epoch(const struct fabric *f, uint32_t node)
{
    if (f == NULL || node == 0 || node > f->max_node)
        return 0;
    return atomic_load_explicit(&f->nodes[node].claim_epoch, memory_order_acquire);
}

bool fabric_is_fenced(const struct fabric *f, uint32_t node)
{
    if (f == NULL || node < 1 || node > f->max_node)
        return false;
    return atomic_load_explicit(&f->nodes[node].fenced, memory_order_acquire) != 0;
}

uint64_t fabric_generation(const struct fabric *f, uint32_t node)
{
    if (f == NULL || node < 1 || node > f->max_node)
        return 0;
    return atomic_load_explicit(&f->nodes[node].generation, memory_order_acquire);
}

bool fabric_online(const struct fabric *f, uint32_t node)
{
    if (f == NULL || node < 1 || node > f->max_node)
        return false;
    return atomic_load_explicit(&f->nodes[node].online, memory_order_acquire) != 0;
}

uint64_t fabric_pages(const struct fabric *f, uint32_t home)
{
    if (f == NULL || home < 1 || home > f->max_node)
        return 0;
    return atomic_load_explicit(&f->nodes[home].pages, memory_order_acquire);
}

int fabric_fence_node(const char *cluster, uint32_t node, bool fenced, char *err,
                      size_t errlen)
{
    if (!cluster_ok(cluster)) {
        set_err(err, errlen, "fence: bad cluster name");
        return -1;
    }
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "/vmca-%s-ctl", cluster);
    int fd = shm_open(name, O_RDWR, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct ctl_hdr)) {
        set_err(err, errlen, "fence: control segment %s: %s", name,
                fd < 0 ? strerror(errno) : "too small");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        set_err(err, errlen, "fence: control segment %s: mmap: %s", name, strerror(errno));
        return -1;
    }
    struct ctl_hdr *h = base;
    int rc = -1;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != CTL_MAGIC ||
        h->entry_size != sizeof(struct ctl_node) ||
        (size_t)st.st_size < ctl_size_for(h->max_node)) {
        set_err(err, errlen, "fence: control segment %s is not a vMCA fabric", name);
    } else if (node == 0 || node > h->max_node) {
        set_err(err, errlen, "fence: node %u is not in 1..%u", node, h->max_node);
    } else {
        struct ctl_node *nodes = (struct ctl_node *)(h + 1);
        if (fenced) /* its claims up to now are void (owner tables) */
            atomic_fetch_add_explicit(&nodes[node].claim_epoch, 1, memory_order_acq_rel);
        atomic_store_explicit(&nodes[node].fenced, fenced ? 1u : 0u, memory_order_release);
        rc = 0;
    }
    munmap(base, (size_t)st.st_size);
    return rc;
}

const char *fabric_strerror(int fault)
{
    switch (fault) {
    case 0: return "ok";
    case FABRIC_ERR_OFFLINE: return "home offline";
    case FABRIC_ERR_STALE: return "stale mapping (home restarted)";
    case FABRIC_ERR_FENCED: return "node fenced";
    case FABRIC_ERR_RANGE: return "gfn out of range";
    case FABRIC_ERR_SYS: return "shared memory system error";
    default: return "unknown fabric fault";
    }
}
