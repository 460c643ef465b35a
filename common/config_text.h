/* libconfig helpers shared by the cluster configuration loader (config.c)
 * and vmca-sim's scenario loader (tools/sim/scenario.c), so that both name
 * a setting's line, type and path the same way. */
#ifndef VMCA_CONFIG_TEXT_H
#define VMCA_CONFIG_TEXT_H

#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* "FILE:LINE: SPATH: message" into err (errlen > 0), at the line of s. */
void vmca_cfg_verror(char *err, size_t errlen, const char *file, const config_setting_t *s,
                     const char *spath, const char *fmt, va_list ap);
/* Line of a setting; one without (the root) reports its parent's, or 1. */
unsigned vmca_cfg_line(const config_setting_t *s);
/* "an integer", "a string", ... for error messages. Static strings. */
const char *vmca_cfg_type_name(const config_setting_t *s);
/* out = parent.name (name alone at the top), truncated to fit. */
void vmca_cfg_path_join(char *out, size_t outsz, const char *parent, const char *name);
/* The first member of group g whose name is not in known (NULL-terminated),
 * or NULL; the known names, ", "-separated, into list (truncated). */
const config_setting_t *vmca_cfg_unknown(const config_setting_t *g, const char *const *known,
                                         char *list, size_t listsz);

/* The whole file at path, NUL-terminated, into *buf (*len bytes before the
 * NUL; the caller frees it): VMCA_CFG_READ_OK, or _IO (errno in *err_no; a
 * directory is EISDIR), _BIG (max bytes or more), _NOMEM. */
enum vmca_cfg_read { VMCA_CFG_READ_OK, VMCA_CFG_READ_IO, VMCA_CFG_READ_BIG, VMCA_CFG_READ_NOMEM };
enum vmca_cfg_read vmca_cfg_read_text(const char *path, size_t max, char **buf, size_t *len,
                                      int *err_no);
/* The line of the first NUL byte in buf[0..len), 0 when there is none
 * (libconfig would not see the text after it). */
unsigned vmca_cfg_nul_line(const char *buf, size_t len);

/* An integer literal libconfig 1.5 silently truncated to 32 bits (it reads
 * plain literals with atoi/strtoul; only an L suffix gives 64 bits). */
struct vmca_cfg_big {
    unsigned line;
    uint32_t truncated;      /* the low 32 bits libconfig kept */
    int index;               /* element index inside [ ], else -1 */
    char name[64];           /* the setting it was assigned to */
    char text[32];
};

struct vmca_cfg_bigs {
    struct vmca_cfg_big *v;
    size_t n;
};

/* The words after "got TEXT" for a refused big literal; its one %s is the
 * literal again (both loaders say the same). */
#define VMCA_CFG_BIG_HINT "too big for a plain integer: libconfig keeps only its low 32 bits unless it is written %sL"

/* What to add to libconfig's syntax error et, "" for most: an array that
 * mixes plain and L integers (as the L fix above can make it) is one. */
const char *vmca_cfg_syntax_hint(const char *et);

/* Records the literals of the file text buf that libconfig will truncate
 * (outside strings and comments, without L, beyond an int), and the line of
 * the first @directive into *include_line (0: none). 0, or -1 out of memory. */
int vmca_cfg_bigs_scan(struct vmca_cfg_bigs *b, const char *buf, size_t len,
                       unsigned *include_line);
/* The literal libconfig truncated to give the INT setting s, or NULL. */
const struct vmca_cfg_big *vmca_cfg_bigs_find(const struct vmca_cfg_bigs *b,
                                              const config_setting_t *s);
void vmca_cfg_bigs_free(struct vmca_cfg_bigs *b);

#endif
