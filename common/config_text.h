/* libconfig helpers shared by the cluster configuration loader (config.c)
 * and vmca-sim's scenario loader (tools/sim/scenario.c), so that both name
 * a setting's line, type and path the same way. */
#ifndef VMCA_CONFIG_TEXT_H
#define VMCA_CONFIG_TEXT_H

#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>

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

#endif
