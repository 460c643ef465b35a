/* vmca-faultproxy: a TCP relay with injectable faults, for scripts/vmca-chaos.
 * It listens on one address, and for every connection it accepts opens one
 * to the target and relays the bytes both ways unchanged (TLS stays end to
 * end: the proxy never looks into them). Faults, read from a control file
 * at start and again at each SIGHUP: a delay added to every chunk read
 * (chunks leave in the order they came, so bytes are never reordered) and a
 * throttle, a cap on the bytes relayed (both directions of every connection
 * together) per accounting window. Every throttled window with traffic is
 * printed with its bytes and its cap, so a test can check the cap held. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <inttypes.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "vmca-faultproxy-core.h"

static const char usage[] =
    "usage: vmca-faultproxy --listen ADDR:PORT --to ADDR:PORT [--listen ... --to ...]\n"
    "                       [options]\n"
    "Relays every TCP connection accepted on ADDR:PORT to the target (the\n"
    "i-th --listen to the i-th --to, at most 64 pairs: one link's relays), bytes\n"
    "unchanged both ways (TLS stays end to end), with faults read from the\n"
    "control file at start and at every SIGHUP:\n"
    "  delay_ms N      0..60000: every chunk read waits N ms before it is\n"
    "                  relayed (chunks keep their order)\n"
    "  throttle_bps N  0 (off) or 1..1000000000: at most N * W / 1000 bytes\n"
    "                  (at least 1) relayed per window of W ms, both\n"
    "                  directions of every connection of every pair together\n"
    "one setting a line, '#' comments; a setting not given is 0. A bad file\n"
    "is refused with its line and the faults stay as they were.\n"
    "Prints to stdout: the settings when they change ('t=MS settings ...'),\n"
    "every throttled window with traffic ('t=MS window START_MS bytes N cap\n"
    "C'), connections opened and closed, and at SIGUSR1 and at exit a\n"
    "'stats ...' line of its counters. SIGTERM/SIGINT: exit.\n"
    "\n"
    "  -l, --listen ADDR:PORT  where to listen (numeric IPv4, or [IPv6]:PORT)\n"
    "  -t, --to ADDR:PORT      the target of the connections of the --listen\n"
    "                          of the same rank\n"
    "  -c, --control FILE      the faults (default: none, a plain relay)\n"
    "  -w, --window-ms W       the throttle's accounting window, 10..10000 ms\n"
    "                          (default 100)\n"
    "  -h, --help              this text\n"
    "  -V, --version           print the version\n"
    "\n"
    "Exit status: 0 stopped by a signal; 1 cannot listen, or the control\n"
    "file is bad at start; 2 a bad command line.\n";

#define QUEUE_HIGH (1u << 20) /* bytes held per direction before reading stops */

struct pair;

/* One direction of a connection: chunks read from src, waiting for dst. */
struct dir {
    struct pair *p;
    struct bufferevent *src, *dst;
    struct fp_queue q;
    struct event *timer;
    bool src_eof;
    uint64_t bytes;
};

#define MAX_LINKS 64

struct endpoint {
    const char *s; /* as given */
    struct sockaddr_storage sa;
    int len;
};

/* One --listen and its --to. */
struct relay {
    struct proxy *px;
    struct endpoint listen, to;
    struct evconnlistener *l;
};

struct proxy {
    struct event_base *base;
    struct pair *pairs;    /* open connections, freed at exit */
    const char *control;
    struct fp_faults f;
    struct fp_throttle th; /* one budget for every pair: the link's */
    struct fp_holds holds;
    int64_t t0_ms;
    uint64_t conns, open, bytes;
};

struct pair {
    struct proxy *px;
    struct pair *prev, *next;
    uint64_t id;
    struct dir up, down;   /* up: client -> target; down: target -> client */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rel(const struct proxy *px, int64_t t) { return t - px->t0_ms; }

static void report_window(const struct proxy *px, const struct fp_window *w)
{
    printf("t=%" PRId64 " window %" PRId64 " bytes %" PRIu64 " cap %" PRIu64 "\n",
           rel(px, now_ms()), rel(px, w->start_ms), w->bytes, w->cap);
}

/* Reads the control file into *f; on error says which line and why and
 * leaves *f. */
static bool read_control(const char *path, struct fp_faults *f)
{
    static char text[65536];
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "vmca-faultproxy: %s: cannot read: %s\n", path, strerror(errno));
        return false;
    }
    size_t n = fread(text, 1, sizeof text - 1, fp);
    bool bad = ferror(fp) || !feof(fp);
    fclose(fp);
    if (bad) {
        fprintf(stderr, "vmca-faultproxy: %s: read error, or longer than %zu bytes\n", path,
                sizeof text - 1);
        return false;
    }
    text[n] = '\0';
    char err[512];
    if (fp_parse_control(text, f, err, sizeof err)) {
        fprintf(stderr, "vmca-faultproxy: %s:%s\n", path, err);
        return false;
    }
    return true;
}

static void apply_control(struct proxy *px)
{
    struct fp_faults f = px->f;
    if (!read_control(px->control, &f)) {
        fprintf(stderr, "vmca-faultproxy: the faults stay delay_ms=%u throttle_bps=%u\n",
                px->f.delay_ms, px->f.throttle_bps);
        return;
    }
    px->f = f;
    int64_t now = now_ms();
    struct fp_window done;
    if (fp_throttle_restart(&px->th, f.throttle_bps, now, &done))
        report_window(px, &done);
    printf("t=%" PRId64 " settings delay_ms=%u throttle_bps=%u\n", rel(px, now), f.delay_ms,
           f.throttle_bps);
}

/* ---- relaying ---- */

static void pair_free(struct pair *p, const char *why);
static void pump(struct dir *d);

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static void wake_in(struct dir *d, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(d->timer, &tv);
}

/* Moves due chunks to dst, as far as the throttle and dst allow; closes
 * the pair once src ended and everything it sent is out. */
static void pump(struct dir *d)
{
    struct proxy *px = d->p->px;
    struct evbuffer *out = bufferevent_get_output(d->dst);
    int64_t now = now_ms(), due;
    const unsigned char *data;
    size_t n;
    while ((n = fp_queue_due(&d->q, now, &data, &due)) > 0) {
        if (evbuffer_get_length(out) >= QUEUE_HIGH)
            break; /* the write callback pumps again */
        struct fp_window done;
        bool ended;
        uint64_t allow = fp_throttle_allow(&px->th, now, &done, &ended);
        if (ended)
            report_window(px, &done);
        if (!allow) {
            wake_in(d, fp_throttle_next_ms(&px->th) - now);
            break;
        }
        if (n > allow)
            n = (size_t)allow;
        if (evbuffer_add(out, data, n) < 0) {
            pair_free(d->p, "out of memory");
            return;
        }
        fp_throttle_take(&px->th, n);
        fp_queue_consume(&d->q, n, now, &px->holds);
        d->bytes += n;
        px->bytes += n;
    }
    if (!n && due >= 0)
        wake_in(d, due - now); /* the head is not due yet */
    if (d->q.queued < QUEUE_HIGH && !d->src_eof)
        bufferevent_enable(d->src, EV_READ);
    if (d->src_eof && !d->q.head && evbuffer_get_length(out) == 0)
        pair_free(d->p, "closed by peer");
}

static struct dir *dir_from(struct pair *p, struct bufferevent *src)
{
    return src == p->up.src ? &p->up : &p->down;
}

static struct dir *dir_to(struct pair *p, struct bufferevent *dst)
{
    return dst == p->up.dst ? &p->up : &p->down;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct dir *d = dir_from(arg, bev);
    struct proxy *px = d->p->px;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (!len)
        return;
    const unsigned char *data = evbuffer_pullup(in, -1);
    bool first = !d->q.head;
    if (!data || fp_queue_push(&d->q, data, len, now_ms(), px->f.delay_ms)) {
        pair_free(d->p, "out of memory");
        return;
    }
    evbuffer_drain(in, len);
    if (d->q.queued >= QUEUE_HIGH)
        bufferevent_disable(bev, EV_READ);
    if (first)
        pump(d);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    pump(dir_to(arg, bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct pair *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        bufferevent_enable(p->up.src, EV_READ); /* the client's bytes may go now */
        bufferevent_enable(p->down.src, EV_READ);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        char why[160];
        snprintf(why, sizeof why, "%s: %s", bev == p->up.src ? "client" : "target",
                 evutil_socket_error_to_string(err));
        pair_free(p, why);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        struct dir *d = dir_from(p, bev);
        d->src_eof = true;
        bufferevent_disable(bev, EV_READ);
        pump(d);
    }
}

static void dir_clear(struct dir *d)
{
    fp_queue_clear(&d->q);
    if (d->timer)
        event_free(d->timer);
}

static void pair_free(struct pair *p, const char *why)
{
    struct proxy *px = p->px;
    printf("t=%" PRId64 " conn %" PRIu64 " closed (%s): up %" PRIu64 " bytes, down %" PRIu64
           " bytes\n", rel(px, now_ms()), p->id, why, p->up.bytes, p->down.bytes);
    dir_clear(&p->up);
    dir_clear(&p->down);
    if (p->up.src)
        bufferevent_free(p->up.src);
    if (p->down.src)
        bufferevent_free(p->down.src);
    px->open--;
    if (p->prev)
        p->prev->next = p->next;
    else
        px->pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct relay *r = arg;
    struct proxy *px = r->px;
    struct pair *p = calloc(1, sizeof *p);
    if (!p) {
        evutil_closesocket(fd);
        return;
    }
    p->px = px;
    p->next = px->pairs;
    if (p->next)
        p->next->prev = p;
    px->pairs = p;
    p->id = ++px->conns;
    px->open++;
    struct bufferevent *a = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *b = bufferevent_socket_new(px->base, -1, BEV_OPT_CLOSE_ON_FREE);
    p->up = (struct dir){.p = p, .src = a, .dst = b};
    p->down = (struct dir){.p = p, .src = b, .dst = a};
    p->up.timer = evtimer_new(px->base, on_timer, &p->up);
    p->down.timer = evtimer_new(px->base, on_timer, &p->down);
    if (!a || !b || !p->up.timer || !p->down.timer) {
        if (!a)
            evutil_closesocket(fd);
        pair_free(p, "out of memory");
        return;
    }
    bufferevent_setcb(a, on_read, on_write, on_event, p);
    bufferevent_setcb(b, on_read, on_write, on_event, p);
    bufferevent_disable(a, EV_READ); /* until the target answers */
    printf("t=%" PRId64 " conn %" PRIu64 " open on %s to %s\n", rel(px, now_ms()), p->id,
           r->listen.s, r->to.s);
    if (bufferevent_socket_connect(b, (struct sockaddr *)&r->to.sa, r->to.len) < 0)
        pair_free(p, "cannot connect to the target");
}

static void print_stats(struct proxy *px)
{
    const struct fp_holds *h = &px->holds;
    printf("t=%" PRId64 " stats conns=%" PRIu64 " open=%" PRIu64 " bytes=%" PRIu64
           " chunks=%" PRIu64 " delayed_chunks=%" PRIu64 " min_hold_ms=%" PRId64
           " max_hold_ms=%" PRId64 " windows=%" PRIu64 " windows_over_cap=%" PRIu64
           " max_window_bytes=%" PRIu64 "\n",
           rel(px, now_ms()), px->conns, px->open, px->bytes, h->chunks, h->delayed, h->min_ms,
           h->max_ms, px->th.windows, px->th.windows_over, px->th.max_bytes);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct proxy *px = arg;
    if (sig == SIGHUP && px->control) {
        apply_control(px);
    } else if (sig == SIGUSR1) {
        print_stats(px);
    } else if (sig == SIGTERM || sig == SIGINT) {
        struct fp_window done; /* the last window, to report and count */
        if (fp_throttle_restart(&px->th, px->f.throttle_bps, now_ms(), &done))
            report_window(px, &done);
        print_stats(px);
        event_base_loopbreak(px->base);
    }
}

/* --window-ms: 10..10000. */
static bool parse_ms(const char *s, uint32_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < 10 || v > 10000)
        return false;
    *out = (uint32_t)v;
    return true;
}

static int bad(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "vmca-faultproxy: %s: expected %s, got '%s'\n", opt, want, val);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"to", required_argument, NULL, 't'},
        {"control", required_argument, NULL, 'c'}, {"window-ms", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct proxy px = {.holds = {.min_ms = -1, .max_ms = -1}};
    uint32_t window_ms = 100;
    struct relay rl[MAX_LINKS];
    size_t n_listen = 0, n_to = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "l:t:c:w:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
        case 't': {
            const char *name = opt == 'l' ? "--listen" : "--to";
            size_t *n = opt == 'l' ? &n_listen : &n_to;
            if (*n == MAX_LINKS)
                return bad(name, optarg, "at most 64 of them");
            struct endpoint *e = opt == 'l' ? &rl[*n].listen : &rl[*n].to;
            *e = (struct endpoint){.s = optarg, .len = sizeof e->sa};
            if (evutil_parse_sockaddr_port(optarg, (struct sockaddr *)&e->sa, &e->len) ||
                !strchr(optarg, ':'))
                return bad(name, optarg, "ADDR:PORT (numeric IPv4, or [IPv6]:PORT)");
            (*n)++;
            break;
        }
        case 'c': px.control = optarg; break;
        case 'w':
            if (!parse_ms(optarg, &window_ms))
                return bad("--window-ms", optarg, "milliseconds in 10..10000");
            break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': puts("vmca-faultproxy " VMCA_VERSION); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmca-faultproxy: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!n_listen || !n_to) {
        fprintf(stderr, "vmca-faultproxy: --listen and --to are required\n%s", usage);
        return 2;
    }
    if (n_listen != n_to) {
        fprintf(stderr, "vmca-faultproxy: %zu --listen but %zu --to: give them in pairs\n",
                n_listen, n_to);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    px.t0_ms = now_ms();
    if (px.control && !read_control(px.control, &px.f))
        return 1;
    fp_throttle_init(&px.th, window_ms, px.f.throttle_bps, px.t0_ms);
    px.base = event_base_new();
    if (!px.base) {
        fprintf(stderr, "vmca-faultproxy: cannot make the event loop\n");
        return 1;
    }
    for (size_t i = 0; i < n_listen; i++) {
        rl[i].px = &px;
        rl[i].l = evconnlistener_new_bind(px.base, on_accept, &rl[i],
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                          (struct sockaddr *)&rl[i].listen.sa, rl[i].listen.len);
        if (!rl[i].l) {
            fprintf(stderr, "vmca-faultproxy: --listen %s: %s\n", rl[i].listen.s,
                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
            while (i--)
                evconnlistener_free(rl[i].l);
            event_base_free(px.base);
            return 1;
        }
    }
    int sigs[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT};
    struct event *sev[4];
    for (int i = 0; i < 4; i++) {
        sev[i] = evsignal_new(px.base, sigs[i], on_signal, &px);
        event_add(sev[i], NULL);
    }
    for (size_t i = 0; i < n_listen; i++)
        printf("t=0 listening on %s, relaying to %s\n", rl[i].listen.s, rl[i].to.s);
    printf("t=0 window %u ms\n", window_ms);
    printf("t=0 settings delay_ms=%u throttle_bps=%u\n", px.f.delay_ms, px.f.throttle_bps);
    event_base_dispatch(px.base);
    while (px.pairs)
        pair_free(px.pairs, "the proxy stops");
    for (int i = 0; i < 4; i++)
        event_free(sev[i]);
    for (size_t i = 0; i < n_listen; i++)
        evconnlistener_free(rl[i].l);
    event_base_free(px.base);
    return 0;
}
