/* vmca-faultproxy's faults, no I/O: see vmca-faultproxy-core.h. */
#include "vmca-faultproxy-core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the control file ---- */

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

int fp_parse_control(const char *text, struct fp_faults *out, char *err, size_t errlen)
{
    struct fp_faults f = {0, 0};
    unsigned no = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[256], key[64], val[64], extra[2];
        no++;
        if (len >= sizeof line) {
            snprintf(err, errlen, "%u: line longer than %zu bytes", no, sizeof line - 1);
            return -1;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += nl ? len + 1 : len;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int n = sscanf(line, "%63s %63s %1s", key, val, extra);
        if (n <= 0)
            continue;
        if (n != 2) {
            snprintf(err, errlen, "%u: expected 'SETTING NUMBER', got '%s'", no, line);
            return -1;
        }
        if (strcmp(key, "delay_ms") == 0) {
            if (!parse_u32(val, FP_MAX_DELAY_MS, &f.delay_ms)) {
                snprintf(err, errlen, "%u: delay_ms: expected 0..%u, got '%s'", no,
                         FP_MAX_DELAY_MS, val);
                return -1;
            }
        } else if (strcmp(key, "throttle_bps") == 0) {
            if (!parse_u32(val, FP_MAX_BPS, &f.throttle_bps)) {
                snprintf(err, errlen, "%u: throttle_bps: expected 0 (off) or 1..%u, got '%s'",
                         no, FP_MAX_BPS, val);
                return -1;
            }
        } else {
            snprintf(err, errlen, "%u: unknown setting '%s' (expected delay_ms or throttle_bps)",
                     no, key);
            return -1;
        }
    }
    *out = f;
    return 0;
}

/* ---- the throttle ---- */

static uint64_t cap_of(uint32_t bps, uint32_t window_ms)
{
    if (!bps)
        return 0;
    uint64_t c = (uint64_t)bps * window_ms / 1000;
    return c ? c : 1;
}

void fp_throttle_init(struct fp_throttle *t, uint32_t window_ms, uint32_t bps, int64_t now_ms)
{
    *t = (struct fp_throttle){.window_ms = window_ms, .bps = bps};
    t->cur = (struct fp_window){.start_ms = now_ms, .cap = cap_of(bps, window_ms)};
}

bool fp_throttle_restart(struct fp_throttle *t, uint32_t bps, int64_t now_ms,
                         struct fp_window *done)
{
    bool report = t->cur.bytes && t->cur.cap;
    *done = t->cur;
    if (report) {
        t->windows++;
        if (t->cur.bytes > t->cur.cap)
            t->windows_over++;
        if (t->cur.bytes > t->max_bytes)
            t->max_bytes = t->cur.bytes;
    }
    t->bps = bps;
    t->cur = (struct fp_window){.start_ms = now_ms, .cap = cap_of(bps, t->window_ms)};
    return report;
}

uint64_t fp_throttle_allow(struct fp_throttle *t, int64_t now_ms, struct fp_window *done,
                           bool *ended)
{
    *ended = false;
    if (now_ms >= fp_throttle_next_ms(t))
        *ended = fp_throttle_restart(t, t->bps, now_ms, done);
    if (!t->cur.cap)
        return UINT64_MAX;
    return t->cur.cap > t->cur.bytes ? t->cur.cap - t->cur.bytes : 0;
}

void fp_throttle_take(struct fp_throttle *t, uint64_t n) { t->cur.bytes += n; }

int64_t fp_throttle_next_ms(const struct fp_throttle *t)
{
    return t->cur.start_ms + t->window_ms;
}

/* ---- the delay queue ---- */

struct fp_chunk {
    struct fp_chunk *next;
    int64_t arrived_ms, due_ms;
    bool delayed;
    size_t len, off;
    unsigned char data[];
};

int fp_queue_push(struct fp_queue *q, const void *data, size_t len, int64_t now_ms,
                  uint32_t delay_ms)
{
    struct fp_chunk *c = malloc(sizeof *c + len);
    if (!c)
        return -1;
    *c = (struct fp_chunk){.arrived_ms = now_ms, .due_ms = now_ms + delay_ms,
                           .delayed = delay_ms > 0, .len = len};
    memcpy(c->data, data, len);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->queued += len;
    return 0;
}

size_t fp_queue_due(const struct fp_queue *q, int64_t now_ms, const unsigned char **data,
                    int64_t *due_ms)
{
    const struct fp_chunk *c = q->head;
    *due_ms = c ? c->due_ms : -1;
    if (!c || now_ms < c->due_ms)
        return 0;
    *data = c->data + c->off;
    return c->len - c->off;
}

void fp_queue_consume(struct fp_queue *q, size_t n, int64_t now_ms, struct fp_holds *h)
{
    struct fp_chunk *c = q->head;
    if (!c || !n)
        return;
    if (n > c->len - c->off)
        n = c->len - c->off;
    c->off += n;
    q->queued -= n;
    if (c->off < c->len)
        return;
    int64_t hold = now_ms - c->arrived_ms;
    h->chunks++;
    if (c->delayed) {
        h->delayed++;
        if (h->min_ms < 0 || hold < h->min_ms)
            h->min_ms = hold;
        if (hold > h->max_ms)
            h->max_ms = hold;
    }
    q->head = c->next;
    if (!q->head)
        q->tail = NULL;
    free(c);
}

void fp_queue_clear(struct fp_queue *q)
{
    while (q->head) {
        struct fp_chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    *q = (struct fp_queue){0};
}
