/* The registry of second-tier policies (see second_tier.h): the one list of
 * what is built, and the reading of the policy group's second-tier part.
 * Adding a policy: its file here and one line in TIER2_BUILT. */
#include "second_tier.h"

#include <stdio.h>
#include <string.h>

#include "names.h"

#define TIER2_BUILT(X) \
    X(tier2_sorted)    \
    X(tier2_topology)  \
    X(tier2_two_choices)

#define DECLARE(sym) extern const struct tier2_policy sym;
TIER2_BUILT(DECLARE)
#undef DECLARE

#define ENTRY(sym) &sym,
static const struct tier2_policy *const built[] = { TIER2_BUILT(ENTRY) };
#undef ENTRY

#define N_BUILT (sizeof built / sizeof built[0])

const struct tier2_policy *tier2_find(const char *name)
{
    for (size_t i = 0; i < N_BUILT; i++)
        if (strcmp(built[i]->name, name) == 0)
            return built[i];
    return NULL;
}

const struct tier2_policy *tier2_at(size_t i)
{
    return i < N_BUILT ? built[i] : NULL;
}

void tier2_names(char *out, size_t outsz)
{
    size_t used = 0;
    if (outsz)
        out[0] = '\0';
    for (size_t i = 0; i < N_BUILT; i++)
        used = vmca_names_add(out, outsz, used, built[i]->name);
}

size_t tier2_setting_names(const char **out, size_t cap)
{
    size_t n = 0;
    static const char *const common[] = { "second_tier", "reserve_pages", NULL };
    for (const char *const *s = common; *s; s++, n++)
        if (n < cap)
            out[n] = *s;
    for (size_t i = 0; i < N_BUILT; i++)
        for (const char *const *s = built[i]->settings; s && *s; s++, n++)
            if (n < cap)
                out[n] = *s;
    return n;
}

int tier2_configure(const struct policy_settings *s, char *name, size_t namesz,
                    uint64_t *reserve, void *params)
{
    const char *v = TIER2_DEFAULT;
    if (s->get_string(s->ctx, "second_tier", &v) < 0)
        return -1;
    const struct tier2_policy *p = tier2_find(v);
    if (!p) {
        char names[192], what[320];
        tier2_names(names, sizeof names);
        snprintf(what, sizeof what, "one of %s (the second-tier policies built), got \"%s\"",
                 names, v);
        return s->refuse(s->ctx, "second_tier", what);
    }
    snprintf(name, namesz, "%s", p->name);
    long long r = TIER2_RESERVE_DEFAULT;
    if (s->get_int(s->ctx, "reserve_pages", 0, POLICY_PAGES_MAX, &r) < 0)
        return -1;
    *reserve = (uint64_t)r;
    /* Every built policy checks its own settings, as the first tier's do:
     * a bad value is an error whichever policy is chosen. */
    for (size_t i = 0; i < N_BUILT; i++) {
        uint64_t scratch[TIER2_PARAMS_BYTES / 8];
        void *into = built[i] == p ? params : scratch;
        memset(into, 0, TIER2_PARAMS_BYTES);
        if (built[i]->parse && built[i]->parse(s, into) < 0)
            return -1;
    }
    return 0;
}
