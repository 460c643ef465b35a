/* bench_run_faults MIB PASSES [WARM [ORDER]]: the workload of
 * bench/run_faults.sh. Writes a MIB MiB malloc block (managed when run
 * under vmca-run), reads one word per page WARM times untimed (remote
 * grants arrive meanwhile), then PASSES times timed, checking each, in
 * ascending page order (ORDER "seq", the default) or in a fixed scattered
 * order ("random": page p * 1000003 mod pages, a prime step, so every page
 * once per pass and no two neighbours in a row); prints the timed passes' page
 * rate beside the rate of a raw 4 KiB page copy between two small
 * (unmanaged) buffers measured in the same process. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_clock.h"

#define PAGE 4096u

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5 ||
        (argc == 5 && strcmp(argv[4], "seq") != 0 && strcmp(argv[4], "random") != 0)) {
        fprintf(stderr, "usage: bench_run_faults MIB PASSES [WARM [seq|random]]\n");
        return 2;
    }
    uint64_t mib = strtoull(argv[1], NULL, 10), passes = strtoull(argv[2], NULL, 10);
    uint64_t warm = argc >= 4 ? strtoull(argv[3], NULL, 10) : 0;
    uint64_t step = argc == 5 && strcmp(argv[4], "random") == 0 ? 1000003 : 1;
    uint64_t pages = mib * 256;
    if (pages == 0 || passes == 0) {
        fprintf(stderr, "bench_run_faults: MIB and PASSES must be > 0\n");
        return 2;
    }
    /* Baseline: 4 KiB copies between two 256 KiB buffers (below any
     * threshold vmca-run manages, so plain memory). */
    unsigned char *a = malloc(256 << 10), *b = malloc(256 << 10);
    if (!a || !b)
        return 1;
    memset(a, 1, 256 << 10);
    memset(b, 2, 256 << 10);
    uint64_t copies = 0;
    double t0 = bench_now_s(), t;
    do {
        for (unsigned i = 0; i < 64; i++, copies++)
            memcpy(b + (copies % 64) * PAGE, a + ((copies * 7) % 64) * PAGE, PAGE);
        a[copies % (256 << 10)] ^= b[(copies * 3) % (256 << 10)];
        t = bench_now_s();
    } while (t - t0 < 0.5);
    double raw = (double)copies / (t - t0);

    uint64_t *buf = malloc(pages * PAGE);
    if (!buf) {
        fprintf(stderr, "bench_run_faults: malloc of %" PRIu64 " MiB failed\n", mib);
        return 1;
    }
    for (uint64_t p = 0; p < pages; p++)
        buf[p * (PAGE / 8)] = p * 0x9e3779b97f4a7c15u;
    for (uint64_t k = 0; k < warm + passes; k++) {
        if (k == warm)
            t0 = bench_now_s();
        for (uint64_t q = 0; q < pages; q++) {
            uint64_t p = q * step % pages; /* step prime, larger than pages */
            if (buf[p * (PAGE / 8)] != p * 0x9e3779b97f4a7c15u) {
                fprintf(stderr, "bench_run_faults: page %" PRIu64 " holds wrong data\n", p);
                return 1;
            }
        }
    }
    t = bench_now_s();
    printf("pages_per_s=%.0f raw_copy_pages_per_s=%.0f pages=%" PRIu64 " passes=%" PRIu64
           " seconds=%.3f sink=%u\n",
           (double)(pages * passes) / (t - t0), raw, pages, passes, t - t0, a[5] + b[7]);
    free(buf);
    free(a);
    free(b);
    return 0;
}
