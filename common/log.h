/* Logging for the daemons and tools: one voice, the node name in every line,
 * to stderr (default) or syslog. Process-wide state, so only shells use it;
 * pure cores report through a callback their shell points here. */
#ifndef VMCA_LOG_H
#define VMCA_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum vmca_log_level {
    VMCA_LOG_ERR = 0,
    VMCA_LOG_WARN = 1,
    VMCA_LOG_INFO = 2,
    VMCA_LOG_DEBUG = 3,
};

/* Sets the program name, the node name (may be NULL until known), the
 * destination and the most verbose level printed. Safe to call again. */
void vmca_log_init(const char *prog, const char *node, bool use_syslog,
                   enum vmca_log_level level);
void vmca_log_set_node(const char *node);
void vmca_log_set_level(enum vmca_log_level level);

/* "err", "warn", "info", "debug" -> level; returns 0 or VMCA_ERR_INVAL. */
int vmca_log_level_parse(const char *name, enum vmca_log_level *out);

void vmca_log(enum vmca_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vmca_vlog(enum vmca_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* How pure cores log: through a function their driver supplies, so a core
 * has no global state. vmca_log_to formats and calls it (NULL fn: dropped). */
typedef void (*vmca_log_fn)(void *arg, enum vmca_log_level level, const char *msg);
void vmca_log_to(vmca_log_fn fn, void *arg, enum vmca_log_level level,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A vmca_log_fn that writes through vmca_log (arg unused). */
void vmca_log_sink(void *arg, enum vmca_log_level level, const char *msg);

#define log_err(...) vmca_log(VMCA_LOG_ERR, __VA_ARGS__)
#define log_warn(...) vmca_log(VMCA_LOG_WARN, __VA_ARGS__)
#define log_info(...) vmca_log(VMCA_LOG_INFO, __VA_ARGS__)
#define log_debug(...) vmca_log(VMCA_LOG_DEBUG, __VA_ARGS__)

#endif
