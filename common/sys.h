/* System services the daemon shells use and the cores never see: clocks,
 * randomness, incarnation numbers. */
#ifndef VMCA_SYS_H
#define VMCA_SYS_H

#include <stdint.h>

/* Monotonic milliseconds (CLOCK_MONOTONIC); what shells pass cores as now. */
int64_t vmca_now_ms(void);
/* A new incarnation: wall-clock ns at start, never 0 (PROTOCOL.md). */
uint64_t vmca_new_incarnation(void);
/* 32 random bits from getrandom(); jitter only, not for secrets. */
uint32_t vmca_random_u32(void);

#endif
