/* stderr/syslog logger; see log.h. Lines look like
 *   2026-11-23T10:00:00.123Z vmca-master[node0] info: text */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "err.h"

static char log_prog[32] = "vmca";
static char log_node[64] = "-";
static bool log_syslog;
static enum vmca_log_level log_level = VMCA_LOG_INFO;

static const char *const level_names[] = {"err", "warn", "info", "debug"};

void vmca_log_init(const char *prog, const char *node, bool use_syslog,
                   enum vmca_log_level level)
{
    snprintf(log_prog, sizeof log_prog, "%s", prog ? prog : "vmca");
    vmca_log_set_node(node);
    if (log_syslog && !use_syslog)
        closelog();
    log_syslog = use_syslog;
    log_level = level;
    if (use_syslog)
        openlog(log_prog, LOG_PID, LOG_DAEMON);
}

void vmca_log_set_node(const char *node)
{
    snprintf(log_node, sizeof log_node, "%s", node ? node : "-");
}

void vmca_log_set_level(enum vmca_log_level level)
{
    log_level = level;
}

int vmca_log_level_parse(const char *name, enum vmca_log_level *out)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum vmca_log_level)i;
            return VMCA_OK;
        }
    }
    return VMCA_ERR_INVAL;
}

void vmca_vlog(enum vmca_log_level level, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (log_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "[%s] %s", log_node, msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s[%s] %s: %s\n", when, ts.tv_nsec / 1000000L,
            log_prog, log_node, level_names[level], msg);
}

void vmca_log(enum vmca_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmca_vlog(level, fmt, ap);
    va_end(ap);
}

void vmca_log_to(vmca_log_fn fn, void *arg, enum vmca_log_level level,
                 const char *fmt, ...)
{
    if (!fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(arg, level, msg);
}

void vmca_log_sink(void *arg, enum vmca_log_level level, const char *msg)
{
    vmca_log(level, "%s", msg);
}
