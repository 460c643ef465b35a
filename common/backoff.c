/* Reconnect backoff; see backoff.h. */
#include "backoff.h"

void vmca_backoff_init(struct vmca_backoff *b, uint32_t min_ms, uint32_t max_ms)
{
    b->min_ms = min_ms ? min_ms : 1;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->attempt = 0;
}

uint32_t vmca_backoff_next(struct vmca_backoff *b, uint32_t rnd)
{
    uint64_t d = b->min_ms;
    for (uint32_t i = 0; i < b->attempt && d < b->max_ms; i++)
        d *= 2;
    if (d > b->max_ms)
        d = b->max_ms;
    if (b->attempt < UINT32_MAX)
        b->attempt++;
    uint64_t half = d / 2;
    return (uint32_t)(half + (d - half == 0 ? 0 : rnd % (d - half + 1)));
}

void vmca_backoff_reset(struct vmca_backoff *b)
{
    b->attempt = 0;
}
