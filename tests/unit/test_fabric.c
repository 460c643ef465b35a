/* The emulated fabric: several struct fabric instances in one process (and,
 * for the creation race, several processes) stand for different nodes of a
 * cluster; each maps the same POSIX shared-memory segments. Every run uses
 * its own cluster names ("ut<pid>...") so parallel runs never collide, and
 * the teardown unlinks whatever a failed test left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fabric.h"
#include "gfn.h"

#define PAGE 4096u
#define MAX_NODE 8u

struct ctx {
    char cluster[32];   /* this test's cluster */
    char other[32];     /* a second cluster, for isolation */
};

static void unlink_cluster(const char *cluster)
{
    char name[96];
    snprintf(name, sizeof(name), "/vmca-%s-ctl", cluster);
    shm_unlink(name);
    for (unsigned n = 0; n <= MAX_NODE + 1; n++) {
        snprintf(name, sizeof(name), "/vmca-%s-n%u", cluster, n);
        shm_unlink(name);
    }
}

static int setup(void **state)
{
    static unsigned seq;
    struct ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    seq++;
    snprintf(c->cluster, sizeof(c->cluster), "ut%ld-%u", (long)getpid(), seq);
    snprintf(c->other, sizeof(c->other), "ut%ld-%ux", (long)getpid(), seq);
    unlink_cluster(c->cluster);
    unlink_cluster(c->other);
    *state = c;
    return 0;
}

/* The 32-character cluster name of test_bad_params. */
static void long_name(const struct ctx *c, char *name, size_t len)
{
    snprintf(name, len, "%s-%0*d", c->cluster, (int)(31 - strlen(c->cluster)), 0);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    char name[64], seg[96];
    long_name(c, name, sizeof(name));
    unlink_cluster(name);
    snprintf(seg, sizeof(seg), "/vmca-%s-n65535", name);
    shm_unlink(seg);
    unlink_cluster(c->cluster);
    unlink_cluster(c->other);
    free(c);
    return 0;
}

static struct fabric_params params(const char *cluster, uint32_t self, uint64_t pages)
{
    return (struct fabric_params){
        .cluster = cluster,
        .self = self,
        .max_node = MAX_NODE,
        .self_pages = pages,
        .page_size = PAGE,
        .remote_latency_ns = 0,
    };
}

static struct fabric *open_node(const char *cluster, uint32_t self, uint64_t pages)
{
    char err[256] = "";
    struct fabric_params p = params(cluster, self, pages);
    struct fabric *f = fabric_open(&p, err, sizeof(err));
    if (f == NULL)
        fail_msg("fabric_open(%s, node %u): %s", cluster, self, err);
    return f;
}

static bool shm_exists(const char *cluster, const char *suffix)
{
    char name[96];
    snprintf(name, sizeof(name), "/vmca-%s-%s", cluster, suffix);
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    assert_int_equal(errno, ENOENT);
    return false;
}

static unsigned char *page_ok(struct fabric *f, uint32_t home, uint64_t index)
{
    int fault = 0;
    unsigned char *p = fabric_page(f, vmca_gfn_make(home, index), &fault);
    if (p == NULL)
        fail_msg("fabric_page(home %u, index %llu): %s", home, (unsigned long long)index,
                 fabric_strerror(fault));
    return p;
}

static int page_fault(struct fabric *f, uint32_t home, uint64_t index)
{
    int fault = 0;
    void *p = fabric_page(f, vmca_gfn_make(home, index), &fault);
    assert_null(p);
    assert_true(fault < 0);
    return fault;
}

static bool all_bytes(const unsigned char *p, unsigned char v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* --- data path ------------------------------------------------------- */

static void test_remote_read_write(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 16);
    struct fabric *b = open_node(c->cluster, 2, 8);
    assert_true(fabric_online(a, 1));
    assert_true(fabric_online(a, 2));
    assert_int_equal(fabric_pages(a, 1), 16);
    assert_int_equal(fabric_pages(a, 2), 8);
    assert_int_equal(fabric_pages(a, 3), 0);

    /* A writes its own page 3; B reads it remotely. */
    unsigned char *a3 = page_ok(a, 1, 3);
    memset(a3, 0x5a, PAGE);
    a3[0] = 0x11;
    unsigned char *b_a3 = page_ok(b, 1, 3);
    assert_int_equal(b_a3[0], 0x11);
    assert_true(all_bytes(b_a3 + 1, 0x5a, PAGE - 1));
    /* Neighbouring pages are where they should be (offset = index * page). */
    assert_true(page_ok(b, 1, 4) == b_a3 + PAGE);
    assert_true(all_bytes(page_ok(b, 1, 15), 0, PAGE));

    /* B writes into A's page; A sees it: same memory, no copy. */
    b_a3[100] = 0xee;
    assert_int_equal(a3[100], 0xee);
    /* And the other way round on B's last page. */
    unsigned char *b7 = page_ok(b, 2, 7);
    page_ok(a, 2, 7)[PAGE - 1] = 0x42;
    assert_int_equal(b7[PAGE - 1], 0x42);

    /* The mapping is remembered: the same pointer on every access. */
    assert_true(page_ok(b, 1, 3) == b_a3);

    fabric_close(b);
    fabric_close(a);
}

static void test_offline_and_range(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 16);
    struct fabric *b = open_node(c->cluster, 2, 8);

    assert_int_equal(page_fault(a, 3, 0), FABRIC_ERR_OFFLINE);  /* never started */
    assert_false(fabric_online(a, 3));
    assert_int_equal(page_fault(a, 1, 16), FABRIC_ERR_RANGE);   /* own, past the end */
    assert_int_equal(page_fault(a, 2, 8), FABRIC_ERR_RANGE);    /* remote, past the end */
    assert_non_null(page_ok(a, 2, 0));                          /* still fine after */
    assert_int_equal(page_fault(a, MAX_NODE + 1, 0), FABRIC_ERR_RANGE); /* no such node */
    assert_int_equal(page_fault(a, 0, 0), FABRIC_ERR_RANGE);    /* node 0 is "none" */
    int fault = 0;
    assert_null(fabric_page(a, UINT64_C(1) << 60, &fault));     /* above the node bits */
    assert_int_equal(fault, FABRIC_ERR_RANGE);
    /* fault may be NULL. */
    assert_null(fabric_page(a, vmca_gfn_make(4, 0), NULL));

    fabric_close(b);
    fabric_close(a);
}

/* --- generations ----------------------------------------------------- */

static void test_home_restart(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 4);
    struct fabric *b = open_node(c->cluster, 2, 4);
    uint64_t g1 = fabric_generation(a, 2);
    assert_true(g1 >= 1);

    memset(page_ok(b, 2, 1), 0xab, PAGE);
    unsigned char *old = page_ok(a, 2, 1);
    assert_true(all_bytes(old, 0xab, PAGE));

    /* B goes down: the old mapping faults, it does not show the old data. */
    fabric_close(b);
    assert_false(fabric_online(a, 2));
    assert_int_equal(fabric_pages(a, 2), 0);
    assert_int_equal(page_fault(a, 2, 1), FABRIC_ERR_STALE);
    assert_false(shm_exists(c->cluster, "n2"));

    /* B comes back: new generation, still STALE through the old mapping
     * (no automatic remap) until fabric_forget. */
    b = open_node(c->cluster, 2, 4);
    assert_int_equal(fabric_generation(a, 2), g1 + 1);
    assert_true(fabric_online(a, 2));
    assert_int_equal(page_fault(a, 2, 1), FABRIC_ERR_STALE);
    assert_int_equal(page_fault(a, 2, 0), FABRIC_ERR_STALE);
    /* The new life is a new, zero-filled memory. */
    assert_true(all_bytes(page_ok(b, 2, 1), 0, PAGE));

    fabric_forget(a, 2);
    unsigned char *fresh = page_ok(a, 2, 1);
    assert_true(all_bytes(fresh, 0, PAGE));
    fresh[7] = 0x77;
    assert_int_equal(page_ok(b, 2, 1)[7], 0x77);

    /* Forget while the home is down: the next access says OFFLINE. */
    fabric_close(b);
    assert_int_equal(page_fault(a, 2, 1), FABRIC_ERR_STALE);
    fabric_forget(a, 2);
    assert_int_equal(page_fault(a, 2, 1), FABRIC_ERR_OFFLINE);
    /* Forgetting what is not mapped (or no node at all) is harmless. */
    fabric_forget(a, 2);
    fabric_forget(a, 1);
    fabric_forget(a, 0);
    fabric_forget(a, MAX_NODE + 5);
    assert_non_null(page_ok(a, 1, 0));

    fabric_close(a);
}

/* A crash: the old vmca-hv never closes; the new one opens the same node id.
 * The old instance closed afterwards (here: freeing the test's resources)
 * must not take the new life down. */
static void test_crash_restart(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 4);
    struct fabric *b_old = open_node(c->cluster, 2, 4);
    uint64_t g = fabric_generation(a, 2);
    page_ok(b_old, 2, 0)[0] = 0x99;
    assert_int_equal(page_ok(a, 2, 0)[0], 0x99);

    struct fabric *b_new = open_node(c->cluster, 2, 4);
    assert_int_equal(fabric_generation(a, 2), g + 1);
    assert_int_equal(page_fault(a, 2, 0), FABRIC_ERR_STALE);
    page_ok(b_new, 2, 0)[1] = 0x31;

    fabric_close(b_old);
    assert_true(fabric_online(a, 2));
    assert_int_equal(fabric_pages(a, 2), 4);
    assert_true(shm_exists(c->cluster, "n2"));
    fabric_forget(a, 2);
    unsigned char *p = page_ok(a, 2, 0);
    assert_int_equal(p[0], 0);      /* the old life's data is gone */
    assert_int_equal(p[1], 0x31);   /* the new life's data is there */

    fabric_close(b_new);
    fabric_close(a);
}

static void test_generation_and_cleanup(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 2);
    uint64_t ga = fabric_generation(a, 1);
    assert_int_equal(ga, 1);
    assert_int_equal(fabric_generation(a, 3), 0);
    uint64_t last = 0;
    for (int i = 0; i < 4; i++) {
        struct fabric *b = open_node(c->cluster, 3, 2);
        uint64_t g = fabric_generation(a, 3);
        assert_int_equal(g, fabric_generation(b, 3));
        if (last != 0)
            assert_int_equal(g, last + 1);
        last = g;
        fabric_close(b);
        assert_false(fabric_online(a, 3));
        assert_int_equal(fabric_generation(a, 3), last); /* kept across the down time */
    }
    assert_true(shm_exists(c->cluster, "ctl"));   /* A is still online */
    assert_true(shm_exists(c->cluster, "n1"));
    assert_false(shm_exists(c->cluster, "n3"));
    fabric_close(a);
    assert_false(shm_exists(c->cluster, "ctl"));  /* last node gone */
    assert_false(shm_exists(c->cluster, "n1"));

    /* A new cluster life starts from scratch. */
    a = open_node(c->cluster, 1, 2);
    assert_int_equal(fabric_generation(a, 1), 1);
    assert_int_equal(fabric_generation(a, 3), 0);
    fabric_close(a);
    fabric_close(NULL);
}

static void test_clusters_isolated(void **state)
{
    struct ctx *c = *state;
    struct fabric *a1 = open_node(c->cluster, 1, 2);
    struct fabric *x2 = open_node(c->other, 2, 2);
    struct fabric *x1 = open_node(c->other, 1, 2);
    page_ok(x1, 1, 0)[0] = 0xcc;

    /* Cluster "other" has nodes 1 and 2; this cluster only node 1. */
    assert_false(fabric_online(a1, 2));
    assert_int_equal(page_fault(a1, 2, 0), FABRIC_ERR_OFFLINE);
    assert_int_equal(page_ok(a1, 1, 0)[0], 0);          /* own memory, not other's */
    assert_int_equal(page_ok(x2, 1, 0)[0], 0xcc);
    assert_int_equal(fabric_generation(a1, 1), 1);
    assert_int_equal(fabric_generation(x1, 1), 1);
    fabric_fence(x2, 1, true);
    assert_false(fabric_is_fenced(a1, 1));
    assert_non_null(page_ok(a1, 1, 0));

    fabric_close(a1);
    assert_false(shm_exists(c->cluster, "ctl"));
    assert_true(shm_exists(c->other, "ctl"));
    fabric_close(x1);
    fabric_close(x2);
    assert_false(shm_exists(c->other, "ctl"));
}

/* --- fencing --------------------------------------------------------- */

static void test_fencing(void **state)
{
    struct ctx *c = *state;
    struct fabric *a = open_node(c->cluster, 1, 4);
    struct fabric *b = open_node(c->cluster, 2, 4);
    struct fabric *m = open_node(c->cluster, 3, 4);   /* "master" node */
    unsigned char *mapped = page_ok(a, 2, 0);
    mapped[0] = 1;

    fabric_fence(m, 1, true);
    assert_true(fabric_is_fenced(a, 1));
    assert_true(fabric_is_fenced(b, 1));
    assert_false(fabric_is_fenced(a, 2));
    /* A's remote accesses fault, whether already mapped or not. */
    assert_int_equal(page_fault(a, 2, 0), FABRIC_ERR_FENCED);
    assert_int_equal(page_fault(a, 3, 0), FABRIC_ERR_FENCED);
    /* Its own pages stay reachable, and others still reach A's memory. */
    page_ok(a, 1, 2)[0] = 0x21;
    assert_int_equal(page_ok(b, 1, 2)[0], 0x21);
    assert_int_equal(page_ok(m, 2, 0)[0], 1);

    fabric_fence(m, 1, false);
    assert_false(fabric_is_fenced(a, 1));
    assert_true(page_ok(a, 2, 0) == mapped);
    assert_non_null(page_ok(a, 3, 0));

    /* The fence word survives the fenced node's restart. */
    fabric_fence(m, 2, true);
    fabric_close(b);
    b = open_node(c->cluster, 2, 4);
    assert_true(fabric_is_fenced(b, 2));
    assert_int_equal(page_fault(b, 1, 0), FABRIC_ERR_FENCED);
    fabric_fence(m, 2, false);
    assert_non_null(page_ok(b, 1, 0));

    /* Out-of-range ids are ignored. */
    fabric_fence(m, 0, true);
    fabric_fence(m, MAX_NODE + 1, true);
    assert_false(fabric_is_fenced(m, 0));
    assert_false(fabric_is_fenced(m, MAX_NODE + 1));

    fabric_close(m);
    fabric_close(b);
    fabric_close(a);
}

/* --- latency --------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void test_remote_latency(void **state)
{
    struct ctx *c = *state;
    char err[256];
    struct fabric_params p = params(c->cluster, 1, 4);
    p.remote_latency_ns = 200000; /* 0.2 ms */
    struct fabric *a = fabric_open(&p, err, sizeof(err));
    assert_non_null(a);
    struct fabric *b = open_node(c->cluster, 2, 4);
    page_ok(a, 2, 0); /* first mapping outside the measurement */

    int64_t t0 = now_ns();
    for (int i = 0; i < 20; i++)
        page_ok(a, 2, (uint64_t)i % 4);
    int64_t dt = now_ns() - t0;
    /* Lower bound only: a loaded machine can only make it slower. */
    assert_true(dt >= 4000000);

    /* Local accesses do not pay it (no upper bound asserted, just used). */
    for (int i = 0; i < 20; i++)
        page_ok(a, 1, 0);

    fabric_close(b);
    fabric_close(a);
}

/* --- parameters and control segment -------------------------------- */

static void expect_bad(const struct fabric_params *p, const char *word)
{
    char err[256] = "";
    struct fabric *f = fabric_open(p, err, sizeof(err));
    if (f != NULL) {
        fabric_close(f);
        fail_msg("fabric_open accepted params that should name \"%s\"", word);
    }
    if (strstr(err, word) == NULL)
        fail_msg("error \"%s\" does not name \"%s\"", err, word);
}

static void test_bad_params(void **state)
{
    struct ctx *c = *state;
    struct fabric_params p;

    expect_bad(NULL, "params");
    p = params(NULL, 1, 4);
    expect_bad(&p, "cluster");
    p = params("", 1, 4);
    expect_bad(&p, "cluster");
    p = params("a/b", 1, 4);
    expect_bad(&p, "cluster");
    p = params("a.b", 1, 4);
    expect_bad(&p, "cluster");
    p = params("123456789012345678901234567890123", 1, 4);  /* 33 characters */
    expect_bad(&p, "cluster");
    p = params(c->cluster, 0, 4);
    expect_bad(&p, "self");
    p = params(c->cluster, MAX_NODE + 1, 4);
    expect_bad(&p, "self");
    p = params(c->cluster, 1, 4);
    p.max_node = 65536;
    expect_bad(&p, "max_node");
    p.max_node = 0;
    expect_bad(&p, "max_node");
    p = params(c->cluster, 1, 4);
    p.page_size = 0;
    expect_bad(&p, "page_size");
    p.page_size = 2048;
    expect_bad(&p, "page_size");
    p.page_size = 6000;
    expect_bad(&p, "page_size");
    p = params(c->cluster, 1, 0);
    expect_bad(&p, "self_pages");
    p = params(c->cluster, 1, (VMCA_GFN_INDEX_MASK + 2));
    expect_bad(&p, "self_pages");
    p = params(c->cluster, 1, 4);
    p.page_size = 1u << 31;
    p.self_pages = UINT64_C(1) << 36;     /* 2^67 bytes */
    expect_bad(&p, "self_pages");
    /* Nothing was created by the rejected calls. */
    assert_false(shm_exists(c->cluster, "ctl"));
    assert_false(shm_exists(c->cluster, "n1"));

    /* Boundaries that are fine: 32-character name, max_node 65535. */
    char name[64];
    long_name(c, name, sizeof(name));
    assert_int_equal(strlen(name), 32);
    p = params(name, 65535, 1);
    p.max_node = 65535;
    char err[256] = "";
    struct fabric *f = fabric_open(&p, err, sizeof(err));
    if (f == NULL)
        fail_msg("%s", err);
    assert_non_null(page_ok(f, 65535, 0));
    assert_int_equal(page_fault(f, 1, 0), FABRIC_ERR_OFFLINE);
    fabric_close(f);
    assert_false(shm_exists(name, "ctl"));

    /* A NULL/empty error buffer is allowed. */
    p = params(c->cluster, 0, 4);
    assert_null(fabric_open(&p, NULL, 0));
}

static void test_ctl_mismatch(void **state)
{
    struct ctx *c = *state;
    char err[256] = "";
    char ctl[96];
    snprintf(ctl, sizeof(ctl), "/vmca-%s-ctl", c->cluster);
    struct fabric *a = open_node(c->cluster, 1, 4);

    struct fabric_params p = params(c->cluster, 2, 4);
    p.max_node = MAX_NODE * 2;
    assert_null(fabric_open(&p, err, sizeof(err)));
    assert_non_null(strstr(err, ctl));
    assert_non_null(strstr(err, "max_node"));

    p = params(c->cluster, 2, 4);
    p.page_size = 2 * PAGE;
    assert_null(fabric_open(&p, err, sizeof(err)));
    assert_non_null(strstr(err, ctl));
    assert_non_null(strstr(err, "page_size"));

    /* The rejected nodes did not disturb the cluster. */
    assert_true(fabric_online(a, 1));
    assert_false(fabric_online(a, 2));
    assert_false(shm_exists(c->cluster, "n2"));
    fabric_close(a);
    assert_false(shm_exists(c->cluster, "ctl"));

    /* Something else under the control segment's name. */
    int fd = shm_open(ctl, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    static const char junk[] = "not a fabric";
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    p = params(c->cluster, 1, 4);
    assert_null(fabric_open(&p, err, sizeof(err)));
    assert_non_null(strstr(err, ctl));
    assert_non_null(strstr(err, "magic"));
    assert_false(shm_exists(c->cluster, "n1"));
    shm_unlink(ctl);
}

/* A creator that died before initialising: the others give up after a
 * bounded wait (about 2 s) with a message naming the segment. */
static void test_ctl_uninitialised(void **state)
{
    struct ctx *c = *state;
    char err[256] = "";
    char ctl[96];
    snprintf(ctl, sizeof(ctl), "/vmca-%s-ctl", c->cluster);
    int fd = shm_open(ctl, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    struct fabric_params p = params(c->cluster, 1, 4);
    int64_t t0 = now_ns();
    assert_null(fabric_open(&p, err, sizeof(err)));
    assert_true(now_ns() - t0 >= 1000000000LL);
    assert_non_null(strstr(err, ctl));
    assert_non_null(strstr(err, "not initialised"));
    shm_unlink(ctl);
}

/* --- several processes at once -------------------------------------- */

/* Children never use cmocka's asserts (a failure would longjmp into the
 * child's copy of the test runner); they exit with a code instead. */
/* Waits for one byte; a child whose parent failed an assertion (and so
 * never sends it) gives up after 30 s instead of lingering. */
static void sync_read(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;
    while ((rc = poll(&pfd, 1, 30000)) < 0 && errno == EINTR)
        ;
    char ch;
    if (rc <= 0 || read(fd, &ch, 1) != 1)
        _exit(31);
}

/* The parent's side: a child that died never answers; fail the test. */
static void parent_read(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;
    while ((rc = poll(&pfd, 1, 30000)) < 0 && errno == EINTR)
        ;
    char ch;
    if (rc <= 0 || read(fd, &ch, 1) != 1)
        fail_msg("no word from a child process within 30 s");
}

static void sync_write(int fd, int n)
{
    for (int i = 0; i < n; i++)
        while (write(fd, "x", 1) < 0 && errno == EINTR)
            ;
}

enum { PROCS = 6 };

static int child_concurrent(const char *cluster, uint32_t self, int go, int ready, int check,
                            int done, int quit)
{
    sync_read(go);
    char err[256];
    struct fabric_params p = params(cluster, self, 4);
    struct fabric *f = fabric_open(&p, err, sizeof(err));
    if (f == NULL) {
        fprintf(stderr, "node %u: %s\n", self, err);
        return 10;
    }
    int fault;
    unsigned char *own = fabric_page(f, vmca_gfn_make(self, 0), &fault);
    if (own == NULL)
        return 11;
    own[0] = (unsigned char)self;
    sync_write(ready, 1);
    sync_read(check);
    int rc = 0;
    for (uint32_t n = 1; n <= PROCS; n++) {
        if (!fabric_online(f, n) || fabric_generation(f, n) != 1) {
            rc = 12;
            break;
        }
        unsigned char *pg = fabric_page(f, vmca_gfn_make(n, 0), &fault);
        if (pg == NULL || pg[0] != n) {
            rc = 13;
            break;
        }
    }
    sync_write(done, 1);
    sync_read(quit);
    fabric_close(f);
    return rc;
}

/* Nodes start at the same moment (race for creating the control segment)
 * and stop at the same moment (race for removing it). */
static void test_concurrent_start(void **state)
{
    struct ctx *c = *state;
    for (int round = 0; round < 3; round++) {
        int go[2], ready[2], check[2], done[2], quit[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(check), 0);
        assert_int_equal(pipe(done), 0);
        assert_int_equal(pipe(quit), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0)
                _exit(child_concurrent(c->cluster, (uint32_t)i + 1, go[0], ready[1], check[0],
                                       done[1], quit[0]));
        }
        sync_write(go[1], PROCS);
        for (int i = 0; i < PROCS; i++)
            parent_read(ready[0]);
        sync_write(check[1], PROCS);
        for (int i = 0; i < PROCS; i++)
            parent_read(done[0]);
        sync_write(quit[1], PROCS);
        for (int i = 0; i < PROCS; i++) {
            int st;
            assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        }
        int fds[] = {go[0], go[1], ready[0], ready[1], check[0], check[1],
                     done[0], done[1], quit[0], quit[1]};
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
            close(fds[i]);
        assert_false(shm_exists(c->cluster, "ctl"));
        for (int n = 1; n <= PROCS; n++) {
            char s[16];
            snprintf(s, sizeof(s), "n%d", n);
            assert_false(shm_exists(c->cluster, s));
        }
    }
}

/* A barrier for forked children in MAP_SHARED memory; a child that waits
 * too long (a sibling died) exits with 30. */
struct barrier {
    _Atomic int count;
    _Atomic int phase;
    int n;
};

static void barrier_wait(struct barrier *b)
{
    int ph = atomic_load(&b->phase);
    if (atomic_fetch_add(&b->count, 1) == b->n - 1) {
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->phase, 1);
        return;
    }
    int64_t deadline = now_ns() + 30000000000LL;
    while (atomic_load(&b->phase) == ph) {
        if (now_ns() > deadline)
            _exit(30);
        sched_yield();
    }
}

enum { STRESS_PROCS = 4, STRESS_ROUNDS = 300 };

static int child_stress(const char *cluster, uint32_t self, struct barrier *b)
{
    for (int k = 0; k < STRESS_ROUNDS; k++) {
        char err[256];
        struct fabric_params p = params(cluster, self, 1);
        struct fabric *f = fabric_open(&p, err, sizeof(err));
        if (f == NULL) {
            fprintf(stderr, "node %u: %s\n", self, err);
            return 20;
        }
        /* Everybody of this round is open: all must be in one control
         * segment, none left behind in one the last closer removed. */
        barrier_wait(b);
        for (uint32_t n = 1; n <= STRESS_PROCS; n++) {
            if (!fabric_online(f, n)) {
                fprintf(stderr, "node %u round %d: node %u not online\n", self, k, n);
                return 21;
            }
        }
        barrier_wait(b);
        /* No barrier after the close: the fast ones reopen while the slow
         * ones are still closing (maybe as the last node). */
        fabric_close(f);
    }
    return 0;
}

/* Opens racing closes (the last node removing the control segment while
 * another joins it): every node must end up in the one live control
 * segment, and the end state is clean. */
static void test_open_close_stress(void **state)
{
    struct ctx *c = *state;
    struct barrier *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(b != MAP_FAILED);
    b->n = STRESS_PROCS;
    pid_t pids[STRESS_PROCS];
    for (int i = 0; i < STRESS_PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(child_stress(c->cluster, (uint32_t)i + 1, b));
    }
    int failed = 0;
    for (int i = 0; i < STRESS_PROCS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    munmap(b, sizeof(*b));
    assert_int_equal(failed, 0);
    assert_false(shm_exists(c->cluster, "ctl"));
}

/* The deterministic version of the race above. The fabric serialises
 * joining and the last close with flock on the control segment; a helper
 * process holds that lock while node 2 joins (it has opened the segment and
 * waits for the lock), then removes the segment as a last closer would.
 * Node 2 must notice and start a fresh control segment instead of living
 * alone in the removed one: node 3, joining later, must see it. */
static void test_join_while_last_closes(void **state)
{
    struct ctx *c = *state;
    char ctl[96];
    snprintf(ctl, sizeof(ctl), "/vmca-%s-ctl", c->cluster);
    struct fabric *l = open_node(c->cluster, 1, 1);

    int locked[2], unlink_now[2], opened[2], quit[2];
    assert_int_equal(pipe(locked), 0);
    assert_int_equal(pipe(unlink_now), 0);
    assert_int_equal(pipe(opened), 0);
    assert_int_equal(pipe(quit), 0);

    pid_t holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        int fd = shm_open(ctl, O_RDWR, 0);
        if (fd < 0 || flock(fd, LOCK_EX) != 0)
            _exit(41);
        sync_write(locked[1], 1);
        sync_read(unlink_now[0]);
        shm_unlink(ctl);
        flock(fd, LOCK_UN);
        _exit(0);
    }
    parent_read(locked[0]);

    pid_t joiner = fork();
    assert_true(joiner >= 0);
    if (joiner == 0) {
        char err[256];
        struct fabric_params p = params(c->cluster, 2, 1);
        struct fabric *f = fabric_open(&p, err, sizeof(err));
        if (f == NULL) {
            fprintf(stderr, "node 2: %s\n", err);
            _exit(42);
        }
        sync_write(opened[1], 1);
        sync_read(quit[0]);
        fabric_close(f);
        _exit(0);
    }
    nap_ms(200); /* let node 2 reach the lock (if it is slower, it simply
                  * finds no segment and creates one: the test still holds) */
    sync_write(unlink_now[1], 1);
    parent_read(opened[0]);

    struct fabric *n3 = open_node(c->cluster, 3, 1);
    assert_true(fabric_online(n3, 2));
    assert_true(fabric_online(n3, 3));
    assert_false(fabric_online(n3, 1)); /* node 1 is in the removed segment */

    /* Node 1 closing as the last node of its (removed) control segment
     * must not remove the live one that has the same name now. */
    fabric_close(l);
    assert_true(shm_exists(c->cluster, "ctl"));

    sync_write(quit[1], 1);
    int st;
    assert_int_equal(waitpid(holder, &st, 0), holder);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(waitpid(joiner, &st, 0), joiner);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(shm_exists(c->cluster, "ctl")); /* node 3 still online */
    fabric_close(n3);
    assert_false(shm_exists(c->cluster, "ctl"));
    int fds[] = {locked[0], locked[1], unlink_now[0], unlink_now[1],
                 opened[0], opened[1], quit[0], quit[1]};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        close(fds[i]);
}

static void test_strerror(void **state)
{
    int codes[] = {FABRIC_ERR_OFFLINE, FABRIC_ERR_STALE, FABRIC_ERR_FENCED, FABRIC_ERR_RANGE,
                   FABRIC_ERR_SYS};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = fabric_strerror(codes[i]);
        assert_non_null(s);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, fabric_strerror(codes[j]));
    }
    assert_non_null(fabric_strerror(-99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remote_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_and_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_and_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clusters_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_uninitialised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_close_stress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_while_last_closes, setup, teardown),
        cmocka_unit_test(test_strerror),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
