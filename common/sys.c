/* Clocks and randomness for the shells; see sys.h. */
#include "sys.h"

#include <sys/random.h>
#include <time.h>

int64_t vmca_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t vmca_new_incarnation(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t inc = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return inc ? inc : 1;
}

uint32_t vmca_random_u32(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec * 2654435761u;
    }
    return r;
}
