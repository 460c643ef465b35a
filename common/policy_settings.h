/* How a policy (first tier: slave/policy/, second tier: master/policy/)
 * reads its own settings of the configuration's `policy` group without
 * knowing the file format. The configuration loader (common/config.c)
 * lends the reader, so an error still says "FILE:LINE: policy.NAME: ...".
 * Header only: the policy libraries depend on nothing else. */
#ifndef VMCA_POLICY_SETTINGS_H
#define VMCA_POLICY_SETTINGS_H

#include <stdint.h>

#define POLICY_PAGES_MAX (INT64_C(1) << 36) /* the most pages a setting may give */

struct policy_settings {
    void *ctx;
    /* Integer setting `name` in lo..hi: 1 read into *v, 0 absent (*v left
     * as is), <0 refused (the error is written). */
    int (*get_int)(void *ctx, const char *name, long long lo, long long hi, long long *v);
    /* A string: 1 (*v borrowed until loading ends), 0 absent, <0 refused. */
    int (*get_string)(void *ctx, const char *name, const char **v);
    /* Refuses setting `name` (at its line, else the group's) saying
     * "expected <what>"; returns <0. */
    int (*refuse)(void *ctx, const char *name, const char *what);
};

#endif
