/* bench/master_scale: the master core fed one interval of Statistics from
 * 10,000 simulated nodes, then a stream of Grant-Any decisions. Prints the
 * CPU per Statistics message and per decision, the share of one core that
 * 10,000 nodes at 1 Hz cost (target: under 5 %), and, as the baseline
 * measured in the same run, what decoding those frames alone costs.
 *   master_scale [NODES [GRANT_ANYS]]   (default 10000, 20000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "config.h"
#include "master_core.h"
#include "outbox.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One Statistics frame as a slave sends it: its own pages, a few borrowed
 * homes, one VM, and its enabled set (every member) as a bitmap. */
static void make_stats(uint32_t id, uint32_t n, uint8_t *enabled, uint8_t **frame, size_t *len)
{
    Vmca__HomePages hp[3], *hpp[3];
    for (int i = 0; i < 3; i++) {
        vmca__home_pages__init(&hp[i]);
        hp[i].node = i == 0 ? id : 1 + (id + (uint32_t)i * 7) % n;
        hp[i].pages = i == 0 ? 65536 : 1024;
        hpp[i] = &hp[i];
    }
    Vmca__VmStats vm = VMCA__VM_STATS__INIT, *vmp = &vm;
    vm.vm = 1;
    vm.tmem_used = 1000;
    vm.puts_total = 100;
    vm.puts_succ = 100;
    Vmca__Statistics st = VMCA__STATISTICS__INIT;
    st.total_pages = 65536 + 2048;
    st.free_pages = 30000 + id % 1000;
    st.owned = hpp;
    st.n_owned = 3;
    st.vms = &vmp;
    st.n_vms = 1;
    st.enabled_bitmap.data = enabled;
    st.enabled_bitmap.len = n / 8 + 1;
    st.state = VMCA__NODE_STATE__NODE_ACTIVE;
    st.period = 7;
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;
    env.version = VMCA_PROTO_VERSION;
    env.from = id;
    env.seq = 1;
    env.incarnation = 5;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &st;
    if (vmca_encode(&env, 64u << 20, frame, len) != 0) {
        fprintf(stderr, "master_scale: cannot encode\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 10000;
    uint32_t grants = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 20000;
    if (n < 3 || n > 60000) {
        fprintf(stderr, "usage: master_scale [NODES (3..60000) [GRANT_ANYS]]\n");
        return 2;
    }
    struct vmca_config cfg = {0};
    cfg.nodes = calloc(n, sizeof *cfg.nodes);
    uint8_t *enabled = calloc(n / 8 + 1, 1);
    for (uint32_t i = 0; i < n; i++) {
        cfg.nodes[i].id = i + 1;
        snprintf(cfg.nodes[i].name, sizeof cfg.nodes[i].name, "n%u", i + 1);
        cfg.nodes[i].tmem_pages = 65536;
        enabled[(i + 1) / 8] |= (uint8_t)(1u << ((i + 1) % 8));
    }
    cfg.n_nodes = n;
    cfg.max_frame = 64u << 20;
    cfg.master.node_id = 1;
    snprintf(cfg.policy.second_tier, sizeof cfg.policy.second_tier, "sorted");
    cfg.policy.reserve_pages = 1024;
    cfg.timing.stats_interval_ms = 1000;
    cfg.timing.failure_timeout_ms = 5000;
    uint8_t **frames = malloc(n * sizeof *frames);
    size_t *lens = malloc(n * sizeof *lens), bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        make_stats(i + 1, n, enabled, &frames[i], &lens[i]);
        bytes += lens[i];
    }
    struct master_core m;
    if (master_core_init(&m, &cfg, 1, NULL, NULL) != 0) {
        fprintf(stderr, "master_scale: cannot start the master core\n");
        return 1;
    }
    for (uint32_t i = 0; i < n; i++)
        master_core_on_connect(&m, i + 1, 5, 0);

    double best_decode = 1e9, best_master = 1e9;
    for (int round = 0; round < 3; round++) {
        /* Baseline: decoding the interval's frames, nothing else. */
        double t0 = cpu_s();
        for (uint32_t i = 0; i < n; i++) {
            Vmca__Envelope *env;
            size_t used;
            char err[64];
            if (vmca_decode_frame(frames[i], lens[i], cfg.max_frame, &env, &used, err, sizeof err))
                return 1;
            vmca_envelope_free(env);
        }
        double t1 = cpu_s();
        /* The master: decode + core, as the daemon does per frame. */
        for (uint32_t i = 0; i < n; i++) {
            Vmca__Envelope *env;
            size_t used;
            char err[64];
            vmca_decode_frame(frames[i], lens[i], cfg.max_frame, &env, &used, err, sizeof err);
            master_core_on_message(&m, i + 1, env, 1000 * (round + 1));
            vmca_envelope_free(env);
        }
        double t2 = cpu_s();
        size_t k;
        struct vmca_action *act = vmca_outbox_take(&m.out, &k);
        vmca_actions_free(act, k);
        best_decode = t1 - t0 < best_decode ? t1 - t0 : best_decode;
        best_master = t2 - t1 < best_master ? t2 - t1 : best_master;
    }
    /* Grant-Any decisions (sorted second tier over every member). */
    double t3 = cpu_s();
    for (uint32_t g = 0; g < grants; g++) {
        Vmca__GrantAny ga = VMCA__GRANT_ANY__INIT;
        uint32_t who = 1 + g % n;
        ga.node = who;
        ga.pages = 256;
        ga.req = g + 1;
        Vmca__Envelope env = VMCA__ENVELOPE__INIT;
        env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
        env.grant_any = &ga;
        master_core_on_message(&m, who, &env, 5000);
        if (g % 64 == 63) {
            size_t k;
            struct vmca_action *act = vmca_outbox_take(&m.out, &k);
            vmca_actions_free(act, k);
        }
    }
    double per_decision = (cpu_s() - t3) / grants;
    double share = best_master / 1.0; /* one interval of 1 s */
    printf("master_scale: %u nodes, Statistics frames of %.1f KiB on average (enabled set "
           "of %u nodes as a bitmap), best of 3\n", n, (double)bytes / n / 1024.0, n);
    printf("baseline: decoding one interval of Statistics: %.1f ms (%.2f us per frame)\n",
           best_decode * 1e3, best_decode / n * 1e6);
    printf("master: decode + core per interval:           %.1f ms (%.2f us per Statistics)\n",
           best_master * 1e3, best_master / n * 1e6);
    printf("core work beyond decoding: %.2f us per Statistics (ratio master/decode %.2f)\n",
           (best_master - best_decode) / n * 1e6, best_master / best_decode);
    printf("%u nodes at 1 Hz: %.2f %% of one core (target < 5 %%: %s)\n", n, share * 100,
           share < 0.05 ? "PASS" : "MISS");
    printf("Grant-Any decision (sorted over %u donors): %.1f us each\n", n, per_decision * 1e6);
    master_core_free(&m);
    for (uint32_t i = 0; i < n; i++)
        free(frames[i]);
    free(frames);
    free(lens);
    free(enabled);
    free(cfg.nodes);
    return 0;
}
