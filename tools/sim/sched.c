/* The scheduler and clock: a seeded xorshift generator, the event heap
 * (time, then scheduling order, so a seed replays exactly), the short trace
 * kept for a violation report, and the violation itself. */
#include "sim.h"

/* ---- randomness, trace, failure ---- */

uint64_t rnd(struct sim *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

uint64_t rnd_range(struct sim *s, uint64_t lo, uint64_t hi)
{
    return lo + rnd(s) % (hi - lo + 1);
}
void trace(struct sim *s, const char *fmt, ...)
{
    char *line = s->trace[s->trace_pos++ % TRACE_LEN];
    int k = snprintf(line, 96, "%8" PRId64 "ms ", s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, (size_t)(96 - k), fmt, ap);
    va_end(ap);
    if (s->print_trace)
        fprintf(stderr, "%s\n", line);
}

/* --trace also shows what the cores log (not kept in the short trace). */
void master_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim *s = arg;
    (void)level;
    if (s->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [master] %s\n", s->now, msg);
}

void slave_log(void *arg, enum vmca_log_level level, const char *msg)
{
    struct sim_node *n = arg;
    (void)level;
    if (n->sim->print_trace)
        fprintf(stderr, "%8" PRId64 "ms   [node %u] %s\n", n->sim->now, n->id, msg);
}
void violation(struct sim *s, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "VIOLATION seed=%" PRIu64 " step=%" PRIu64 " t=%" PRId64 "ms: ", s->seed,
            s->steps, s->now);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nlast events:\n");
    va_end(ap);
    for (unsigned i = 0; i < TRACE_LEN; i++) {
        const char *line = s->trace[(s->trace_pos + i) % TRACE_LEN];
        if (line[0])
            fprintf(stderr, "  %s\n", line);
    }
}

/* ---- event heap ---- */

static bool ev_before(const struct event *x, const struct event *y)
{
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

void push(struct sim *s, struct event e)
{
    if (s->heap_n == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = realloc(s->heap, s->heap_cap * sizeof *s->heap);
        if (!s->heap) {
            fprintf(stderr, "vmca-sim: out of memory\n");
            exit(1);
        }
    }
    e.seq = ++s->seq;
    size_t i = s->heap_n++;
    while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

struct event pop(struct sim *s)
{
    struct event top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n)
            break;
        if (c + 1 < s->heap_n && ev_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n)
        s->heap[i] = last;
    return top;
}

void at(struct sim *s, int64_t when, enum ev_kind kind, uint32_t a)
{
    push(s, (struct event){.at = when, .kind = kind, .a = a});
}
