/* bench/master_tls: the master's CPU with N slaves over real mutual TLS at
 * 1 Hz. This process opens N connections to a running vmca-master, each
 * with its own node certificate; each registers and then sends Statistics
 * every second. Over a window it reads the master's CPU time from /proc
 * and prints it as a share of one core, next to this process's own CPU
 * for the other end of the same connections (the baseline).
 *   master_tls CONFIG MASTER_PID [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "tls.h"
#include "bench_clock.h"

struct fake {
    struct bench *b;
    const struct vmca_node_cfg *node;
    struct vmca_conn *c;
    struct vmca_outbox out;
    bool ready;
};

struct bench {
    struct vmca_config cfg;
    struct event_base *base;
    struct fake *f;
    size_t n, ready;
    uint8_t *bitmap;
    size_t bitmap_len;
};

static const char *expect_master(void *arg, uint32_t node, int role)
{
    struct fake *f = arg;
    const struct vmca_node_cfg *m = vmca_config_node_by_id(&f->b->cfg, f->b->cfg.master.node_id);
    return role == VMCA__ROLE__ROLE_MASTER && node == m->id ? m->name : NULL;
}

static void flush(struct fake *f)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(&f->out, &n);
    for (size_t i = 0; i < n && f->ready; i++)
        vmca_conn_send_frame(f->c, act[i].frame, act[i].len);
    vmca_actions_free(act, n);
}

static void on_ready(struct vmca_conn *c, void *arg)
{
    struct fake *f = arg;
    f->ready = true;
    f->b->ready++;
    Vmca__Register reg = VMCA__REGISTER__INIT;
    reg.node = f->node->id;
    reg.local_pages = f->node->tmem_pages;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &reg;
    vmca_outbox_send(&f->out, f->b->cfg.master.node_id, &env);
    flush(f);
}

static void on_frame(struct vmca_conn *c, const Vmca__Envelope *env, void *arg) {}

static void on_close(struct vmca_conn *c, const char *why, void *arg)
{
    struct fake *f = arg;
    fprintf(stderr, "master_tls: node %u lost: %s\n", f->node->id, why);
    f->ready = false;
    f->c = NULL;
}

static const struct vmca_conn_cbs cbs = {expect_master, on_ready, on_frame, on_close};

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        struct fake *f = &b->f[i];
        if (!f->ready)
            continue;
        Vmca__HomePages own = VMCA__HOME_PAGES__INIT, *ownp = &own;
        own.node = f->node->id;
        own.pages = f->node->tmem_pages;
        Vmca__Statistics st = VMCA__STATISTICS__INIT;
        st.total_pages = f->node->tmem_pages;
        st.free_pages = f->node->tmem_pages;
        st.owned = &ownp;
        st.n_owned = 1;
        st.enabled_bitmap.data = b->bitmap;
        st.enabled_bitmap.len = b->bitmap_len;
        st.state = VMCA__NODE_STATE__NODE_ACTIVE;
        Vmca__Envelope env = VMCA__ENVELOPE__INIT;
        env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
        env.statistics = &st;
        vmca_outbox_send(&f->out, b->cfg.master.node_id, &env);
        flush(f);
    }
}

static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp || !fgets(buf, sizeof buf, fp)) {
        if (fp)
            fclose(fp);
        return -1;
    }
    fclose(fp);
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: master_tls CONFIG MASTER_PID [SECONDS]\n");
        return 2;
    }
    static struct bench b;
    char err[1024];
    vmca_log_init("master_tls", NULL, false, VMCA_LOG_ERR);
    if (vmca_config_load(argv[1], 1, &b.cfg, err, sizeof err)) {
        fprintf(stderr, "master_tls: %s\n", err);
        return 2;
    }
    pid_t master = (pid_t)atoi(argv[2]);
    int seconds = argc > 3 ? atoi(argv[3]) : 10;
    b.base = event_base_new();
    b.n = b.cfg.n_nodes - 1; /* every node but the master's */
    b.f = calloc(b.n, sizeof *b.f);
    uint32_t max_id = 0;
    for (size_t i = 0; i < b.cfg.n_nodes; i++)
        max_id = b.cfg.nodes[i].id > max_id ? b.cfg.nodes[i].id : max_id;
    b.bitmap_len = max_id / 8 + 1;
    b.bitmap = calloc(b.bitmap_len, 1);
    for (size_t i = 0; i < b.cfg.n_nodes; i++)
        b.bitmap[b.cfg.nodes[i].id / 8] |= (uint8_t)(1u << (b.cfg.nodes[i].id % 8));
    const struct vmca_node_cfg *mnode = vmca_config_node_by_id(&b.cfg, b.cfg.master.node_id);
    size_t k = 0;
    for (size_t i = 0; i < b.cfg.n_nodes; i++) {
        const struct vmca_node_cfg *nc = &b.cfg.nodes[i];
        if (nc == mnode)
            continue;
        SSL_CTX *tls = vmca_tls_ctx_new(b.cfg.ca, nc->cert, nc->key, err, sizeof err);
        if (!tls) {
            fprintf(stderr, "master_tls: %s\n", err);
            return 1;
        }
        struct fake *f = &b.f[k++];
        f->b = &b;
        f->node = nc;
        struct vmca_conn_params p = {.base = b.base, .tls = tls, .max_frame = b.cfg.max_frame,
                                     .self = nc->id, .incarnation = 1,
                                     .role = VMCA__ROLE__ROLE_SLAVE, .hello_timeout_ms = 20000,
                                     .out_limit = 1 << 20};
        vmca_outbox_init(&f->out, nc->id, 1, b.cfg.max_frame);
        f->c = vmca_conn_connect(&p, &cbs, f, mnode->address, b.cfg.master.port);
    }
    /* Connect everyone, then measure a window of 1 Hz Statistics. */
    double t_end = bench_now_s() + 60;
    while (b.ready < b.n && bench_now_s() < t_end)
        event_base_loop(b.base, EVLOOP_ONCE);
    if (b.ready < b.n) {
        fprintf(stderr, "master_tls: only %zu of %zu slaves connected\n", b.ready, b.n);
        return 1;
    }
    struct event *t = event_new(b.base, -1, EV_PERSIST, tick, &b);
    struct timeval one = {1, 0};
    event_add(t, &one);
    tick(-1, 0, &b);
    double m0 = proc_cpu_s(master), s0 = proc_cpu_s(getpid()), w0 = bench_now_s();
    struct timeval win = {seconds, 0};
    event_base_loopexit(b.base, &win);
    event_base_dispatch(b.base);
    double m1 = proc_cpu_s(master), s1 = proc_cpu_s(getpid()), w1 = bench_now_s();
    double wall = w1 - w0;
    printf("master_tls: %zu slaves over mutual TLS, Statistics at 1 Hz, %.1f s window\n",
           b.n, wall);
    printf("baseline: this process (the %zu slave ends): %.2f %% of one core\n", b.n,
           (s1 - s0) / wall * 100);
    printf("vmca-master: %.2f %% of one core (%.1f us per Statistics)\n",
           (m1 - m0) / wall * 100, (m1 - m0) / (wall * (double)b.n) * 1e6);
    return 0;
}
