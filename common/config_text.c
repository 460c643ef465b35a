/* libconfig helpers of config_text.h: moved out of config.c so that
 * vmca-sim's scenario loader names settings as the configuration does. */
#include <stdio.h>
#include <string.h>

#include "config_text.h"

void vmca_cfg_verror(char *err, size_t errlen, const char *file, const config_setting_t *s,
                     const char *spath, const char *fmt, va_list ap)
{
    int n = snprintf(err, errlen, "%s:%u: %s: ", file, vmca_cfg_line(s), spath);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

unsigned vmca_cfg_line(const config_setting_t *s)
{
    while (s && config_setting_source_line(s) == 0)
        s = config_setting_parent(s);
    return s ? config_setting_source_line(s) : 1u;
}

const char *vmca_cfg_type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT: return "an integer";
    case CONFIG_TYPE_INT64: return "a 64-bit integer";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "nothing";
    }
}

void vmca_cfg_path_join(char *out, size_t outsz, const char *parent, const char *name)
{
    const char *parts[3] = { parent, parent[0] ? "." : "", name };
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        if (len > outsz - 1 - n)
            len = outsz - 1 - n;
        memcpy(out + n, parts[i], len);
        n += len;
    }
    out[n] = '\0';
}

const config_setting_t *vmca_cfg_unknown(const config_setting_t *g, const char *const *known,
                                         char *list, size_t listsz)
{
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = name && strcmp(name, *k) == 0;
        if (ok)
            continue;
        size_t used = 0;
        list[0] = '\0';
        for (const char *const *k = known; *k && used < listsz; k++) {
            int w = snprintf(list + used, listsz - used, "%s%s", k == known ? "" : ", ", *k);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return s;
    }
    return NULL;
}
