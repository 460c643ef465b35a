/* libconfig helpers of config_text.h: moved out of config.c so that
 * vmca-sim's scenario loader names settings as the configuration does. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ------------------------------------------------------------- the file */

enum vmca_cfg_read vmca_cfg_read_text(const char *path, size_t max, char **out, size_t *lenp,
                                      int *err_no)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err_no = errno;
        return VMCA_CFG_READ_IO;
    }
    struct stat st;
    int bad = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (bad) {
        *err_no = bad;
        close(fd);
        return VMCA_CFG_READ_IO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    enum vmca_cfg_read rc = buf ? VMCA_CFG_READ_OK : VMCA_CFG_READ_NOMEM;
    while (rc == VMCA_CFG_READ_OK) {
        if (len + 1 >= cap) {
            char *nb = cap >= max ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                rc = cap >= max ? VMCA_CFG_READ_BIG : VMCA_CFG_READ_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *err_no = errno;
            rc = VMCA_CFG_READ_IO;
        } else if (r == 0) {
            break;
        } else {
            len += (size_t)r;
        }
    }
    close(fd);
    if (rc != VMCA_CFG_READ_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *lenp = len;
    return VMCA_CFG_READ_OK;
}

const char *vmca_cfg_syntax_hint(const char *et)
{
    return et && strcmp(et, "mismatched element type in array") == 0
               ? " (the integers of an array must all be plain or all end in L)"
               : "";
}

unsigned vmca_cfg_nul_line(const char *buf, size_t len)
{
    const char *nul = memchr(buf, '\0', len);
    if (!nul)
        return 0;
    unsigned line = 1;
    for (const char *p = buf; p < nul; p++)
        line += *p == '\n';
    return line;
}

/* ---------------------------------------- 32-bit truncation detection */


static int is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '*' || c == '@';
}

static int is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '*';
}

static int is_float_char(char c)
{
    return isdigit((unsigned char)c) || c == '.' || c == 'e' || c == 'E' ||
           c == '+' || c == '-';
}

static int add_big(struct vmca_cfg_bigs *x, unsigned line, uint32_t truncated, int index,
                   const char *name, size_t name_len, const char *text, size_t len)
{
    struct vmca_cfg_big *nb = realloc(x->v, (x->n + 1) * sizeof(*nb));
    if (!nb)
        return -1;
    x->v = nb;
    struct vmca_cfg_big *b = &x->v[x->n++];
    b->line = line;
    b->truncated = truncated;
    b->index = index;
    if (name_len >= sizeof(b->name))
        name_len = sizeof(b->name) - 1;
    memcpy(b->name, name, name_len);
    b->name[name_len] = '\0';
    if (len >= sizeof(b->text))
        len = sizeof(b->text) - 1;
    memcpy(b->text, text, len);
    b->text[len] = '\0';
    return 0;
}

/* Finds integer literals (outside strings and comments) without an L suffix
 * that do not fit an int: libconfig 1.5 keeps only their low 32 bits. Each is
 * recorded with its line, the name of the setting it is assigned to and its
 * index in an array, so the setting can be matched later. Also notes the
 * line of the first @directive (@include), which we refuse: one file holds
 * the whole configuration. */
int vmca_cfg_bigs_scan(struct vmca_cfg_bigs *x, const char *buf, size_t len, unsigned *include_line)
{
    unsigned line = 1;
    size_t i = 0;
    const char *ident = "", *name = "";
    size_t ident_len = 0, name_len = 0;
    int in_array = 0, index = 0;
    while (i < len) {
        char c = buf[i];
        if (c == '\n') {
            line++;
            i++;
        } else if (c == '#' || (c == '/' && i + 1 < len && buf[i + 1] == '/')) {
            while (i < len && buf[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < len && buf[i + 1] == '*') {
            i += 2;
            while (i < len && !(buf[i] == '*' && i + 1 < len && buf[i + 1] == '/')) {
                if (buf[i] == '\n')
                    line++;
                i++;
            }
            i = i + 2 < len ? i + 2 : len;
        } else if (c == '"') {
            i++;
            while (i < len && buf[i] != '"') {
                if (buf[i] == '\\' && i + 1 < len)
                    i++;
                if (buf[i] == '\n')
                    line++;
                i++;
            }
            i++;
        } else if (is_ident_start(c)) {
            ident = buf + i++;
            while (i < len && is_ident_char(buf[i]))
                i++;
            ident_len = (size_t)(buf + i - ident);
            if (ident_len == 8 && memcmp(ident, "@include", 8) == 0 && !*include_line)
                *include_line = line;
        } else if (c == '=' || c == ':') {
            name = ident;
            name_len = ident_len;
            i++;
        } else if (c == '[' || c == ']' || (c == ',' && in_array)) {
            index = c == ',' ? index + 1 : 0;
            in_array = c != ']';
            i++;
        } else if (c == '.' && i + 1 < len && isdigit((unsigned char)buf[i + 1])) {
            while (i < len && is_float_char(buf[i]))
                i++;
        } else if (isdigit((unsigned char)c) ||
                   ((c == '-' || c == '+') && i + 1 < len &&
                    isdigit((unsigned char)buf[i + 1]))) {
            size_t start = i;
            int neg = c == '-';
            if (c == '-' || c == '+')
                i++;
            int hex = buf[i] == '0' && i + 2 < len && (buf[i + 1] == 'x' || buf[i + 1] == 'X') &&
                      isxdigit((unsigned char)buf[i + 2]);
            /* value saturated like strtol/strtoul would */
            unsigned long long v = 0;
            int sat = 0;
            if (hex) {
                i += 2;
                for (; i < len && isxdigit((unsigned char)buf[i]); i++) {
                    char d = buf[i];
                    unsigned dv = isdigit((unsigned char)d) ? (unsigned)(d - '0')
                                                            : (unsigned)(tolower((unsigned char)d) - 'a' + 10);
                    if (v > (ULLONG_MAX - dv) / 16)
                        sat = 1;
                    else
                        v = v * 16 + dv;
                }
            } else {
                for (; i < len && isdigit((unsigned char)buf[i]); i++) {
                    unsigned dv = (unsigned)(buf[i] - '0');
                    if (v > (ULLONG_MAX - dv) / 10)
                        sat = 1;
                    else
                        v = v * 10 + dv;
                }
            }
            if (i < len && buf[i] == 'L') {
                while (i < len && buf[i] == 'L')
                    i++;
                continue;
            }
            if (!hex && i < len && (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E')) {
                while (i < len && is_float_char(buf[i]))
                    i++;
                continue;
            }
            uint32_t kept;
            int big;
            if (hex) {
                /* strtoul: saturates at ULONG_MAX, a leading '-' negates */
                if (sat)
                    v = ULLONG_MAX;
                big = v > (unsigned long long)INT_MAX;
                kept = (uint32_t)(neg ? 0u - v : v);
            } else {
                /* strtol: saturates at LLONG_MIN/LLONG_MAX (64-bit long) */
                unsigned long long lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
                if (sat || v > lim)
                    v = lim;
                big = neg ? v > (unsigned long long)INT_MAX + 1 : v > (unsigned long long)INT_MAX;
                kept = (uint32_t)(neg ? 0u - v : v);
            }
            if (big && add_big(x, line, kept, in_array ? index : -1, name, name_len,
                               buf + start, i - start) != 0)
                return -1;
        } else {
            i++;
        }
    }
    return 0;
}

/* The literal libconfig truncated to give the INT setting s, if any. */
/* The line of the setting after s in the file (its next sibling, or its
 * parent's, ...), UINT_MAX at the end: a literal of s lies before it. */
static unsigned line_after(const config_setting_t *s)
{
    for (; s; s = config_setting_parent(s)) {
        const config_setting_t *p = config_setting_parent(s);
        if (!p)
            break;
        const config_setting_t *n = config_setting_get_elem(p, (unsigned)config_setting_index(s) + 1);
        if (n)
            return vmca_cfg_line(n);
    }
    return UINT_MAX;
}

const struct vmca_cfg_big *vmca_cfg_bigs_find(const struct vmca_cfg_bigs *x, const config_setting_t *s)
{
    unsigned line = vmca_cfg_line(s), after = line_after(s);
    uint32_t kept = (uint32_t)config_setting_get_int(s);
    const char *name = config_setting_name(s);
    int index = -1;
    if (!name) { /* an element: its aggregate's name */
        const config_setting_t *p = config_setting_parent(s);
        name = p ? config_setting_name(p) : NULL;
        if (p && config_setting_type(p) == CONFIG_TYPE_ARRAY)
            index = config_setting_index(s);
    }
    if (!name)
        name = "";
    const struct vmca_cfg_big *best = NULL;
    for (size_t i = 0; i < x->n; i++) {
        const struct vmca_cfg_big *b = &x->v[i];
        /* the value may sit on a later line than its name, not past the
         * next setting (a same-named setting further on is another one) */
        if (b->truncated == kept && b->line >= line && (b->line == line || b->line < after) &&
            strcmp(b->name, name) == 0 &&
            (index < 0 || b->index < 0 || b->index == index) &&
            (!best || b->line < best->line))
            best = b;
    }
    return best;
}

void vmca_cfg_bigs_free(struct vmca_cfg_bigs *b)
{
    free(b->v);
    b->v = NULL;
    b->n = 0;
}
