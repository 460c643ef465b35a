/* Helpers for core tests: load the demo configuration, build envelopes,
 * and decode what a core queued in its outbox. */
#ifndef VMCA_TEST_CORE_UTIL_H
#define VMCA_TEST_CORE_UTIL_H

#include <stdlib.h>

#include "config.h"
#include "err.h"
#include "outbox.h"

struct sent {
    uint32_t to;
    Vmca__Envelope *env;
};

static inline void load_demo(struct vmca_config *cfg)
{
    char err[1024];
    int rc = vmca_config_load(VMCA_SOURCE_DIR "/config/demo.conf", 0, cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("demo.conf: %s", err);
}

/* Decodes every queued frame (the outbox is emptied). Returns the count. */
static inline size_t take_sent(struct vmca_outbox *o, struct sent *out, size_t max)
{
    size_t n;
    struct vmca_action *act = vmca_outbox_take(o, &n);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        size_t used;
        char err[256];
        out[i].to = act[i].to;
        assert_int_equal(vmca_decode_frame(act[i].frame, act[i].len, o->max_frame,
                                           &out[i].env, &used, err, sizeof err), 0);
        assert_int_equal(used, act[i].len);
        assert_int_equal(out[i].env->from, o->self);
        assert_true(out[i].env->incarnation == o->incarnation);
    }
    vmca_actions_free(act, n);
    return n;
}

static inline void free_sent(struct sent *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vmca_envelope_free(s[i].env);
}

#endif
