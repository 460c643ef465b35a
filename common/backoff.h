/* Capped exponential backoff with jitter, for reconnects. Pure: the caller
 * supplies the random bits, so the simulator can replay it. */
#ifndef VMCA_BACKOFF_H
#define VMCA_BACKOFF_H

#include <stdint.h>

struct vmca_backoff {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t attempt; /* failures since the last success */
};

void vmca_backoff_init(struct vmca_backoff *b, uint32_t min_ms, uint32_t max_ms);
/* Delay before the next attempt: d = min(max, min * 2^attempt), then a value
 * in [d/2, d] picked by `rnd` (any 32 random bits). Counts the attempt. */
uint32_t vmca_backoff_next(struct vmca_backoff *b, uint32_t rnd);
/* A connection succeeded: start again from min. */
void vmca_backoff_reset(struct vmca_backoff *b);

#endif
