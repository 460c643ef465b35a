/* The faults of vmca-faultproxy with no socket and no clock: the control
 * file's settings, the throttle's accounting windows and a direction's
 * queue of delayed chunks. The shell passes every time in (ms, monotonic)
 * and moves the bytes; what may move when is decided here. */
#ifndef VMCA_FAULTPROXY_CORE_H
#define VMCA_FAULTPROXY_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_MAX_DELAY_MS 60000u
#define FP_MAX_BPS 1000000000u

struct fp_faults {
    uint32_t delay_ms;     /* added to every chunk read */
    uint32_t throttle_bps; /* 0: off */
};

/* Parses a control file's text ("delay_ms N", "throttle_bps N", one a
 * line, '#' comments; a setting not given is 0). On error returns -1,
 * writes "LINE: what was wrong" to err and leaves *out as it was. */
int fp_parse_control(const char *text, struct fp_faults *out, char *err, size_t errlen);

/* A window of the throttle: bytes relayed in [start_ms, start_ms + W). */
struct fp_window {
    int64_t start_ms;
    uint64_t bytes;
    uint64_t cap;      /* 0: not throttled */
};

struct fp_throttle {
    uint32_t window_ms;
    uint32_t bps;
    struct fp_window cur;
    uint64_t windows;      /* throttled windows that relayed something */
    uint64_t windows_over; /* ... more than their cap (never, unless broken) */
    uint64_t max_bytes;    /* the most any of them relayed */
};

void fp_throttle_init(struct fp_throttle *t, uint32_t window_ms, uint32_t bps, int64_t now_ms);
/* Starts a new window at now with the cap of bps (a change of settings:
 * no window mixes two caps). Returns true with *done the window that ended
 * when it was throttled and relayed something (to report). */
bool fp_throttle_restart(struct fp_throttle *t, uint32_t bps, int64_t now_ms,
                         struct fp_window *done);
/* How many bytes may be relayed at now (UINT64_MAX: no throttle). Rolls
 * the window when its time is over; *ended says whether *done is one to
 * report, as for fp_throttle_restart. */
uint64_t fp_throttle_allow(struct fp_throttle *t, int64_t now_ms, struct fp_window *done,
                           bool *ended);
/* n bytes were relayed (at most what fp_throttle_allow allowed). */
void fp_throttle_take(struct fp_throttle *t, uint64_t n);
/* When the current window ends (the next allowance). */
int64_t fp_throttle_next_ms(const struct fp_throttle *t);

/* A direction's chunks, in the order read; each leaves only after the one
 * before it, so a shorter delay set later never reorders bytes. */
struct fp_chunk;
struct fp_queue {
    struct fp_chunk *head, *tail;
    size_t queued; /* bytes */
};

struct fp_holds {
    uint64_t chunks, delayed;   /* chunks relayed; those read with a delay */
    int64_t min_ms, max_ms;     /* hold of a delayed chunk: read to last byte out; -1 none */
};

/* Copies len bytes read at now, due at now + delay_ms. -1: out of memory. */
int fp_queue_push(struct fp_queue *q, const void *data, size_t len, int64_t now_ms,
                  uint32_t delay_ms);
/* The head's bytes not yet relayed, if due at now: returns their count and
 * sets *data; 0 when the queue is empty (*due_ms = -1) or the head is not
 * due yet (*due_ms = when it is). */
size_t fp_queue_due(const struct fp_queue *q, int64_t now_ms, const unsigned char **data,
                    int64_t *due_ms);
/* n of the head's bytes were relayed at now; a chunk whose last byte went
 * is counted in *h and freed. */
void fp_queue_consume(struct fp_queue *q, size_t n, int64_t now_ms, struct fp_holds *h);
void fp_queue_clear(struct fp_queue *q);

#endif
