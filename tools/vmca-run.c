/* vmca-run: runs an unmodified program with its large anonymous memory
 * managed by vMCA. Checks the command line and that the node's vmca-hv
 * answers, then execs the program with the preload shim
 * (vmca-run-preload.c) that does the work; docs/run.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

#define EXIT_USAGE 2
#define PRELOAD_NAME "libvmca-run-preload.so"
/* Default VM ids: above those the emulated guests and tests pick by hand. */
#define VM_PID_BASE 1000000u

static const char usage[] =
    "usage: vmca-run --config FILE --node NAME [--vm ID] --local-mib N\n"
    "                [--threshold-kib K] -- PROGRAM [ARGS...]\n"
    "       vmca-run --store file --local-mib N [--threshold-kib K] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM with at most N MiB of its large anonymous memory (mmaps and\n"
    "malloc blocks of at least K KiB, default 1024) resident; the rest goes to\n"
    "the node's tmem as a persistent pool, or to a local backing file when tmem\n"
    "refuses it, and comes back on the next access (docs/run.md).\n"
    "\n"
    "  -c, --config FILE       cluster configuration\n"
    "  -n, --node NAME         the node whose vmca-hv serves the program\n"
    "  -v, --vm ID             VM id on the node (default 1000000 + pid)\n"
    "  -l, --local-mib N       resident budget of the managed memory, MiB (>= 1)\n"
    "      --threshold-kib K   smallest mapping or block managed, KiB (>= 4)\n"
    "      --store WHERE       where evicted pages go: tmem (default: the node's\n"
    "                          tmem, the file when refused) or file (only the\n"
    "                          local backing file in $TMPDIR, no vmca-hv: the disk\n"
    "                          baseline; --config/--node/--vm not allowed)\n"
    "  -h, --help              this text\n"
    "  -V, --version           print the version\n"
    "\n"
    "At exit the program prints one line 'vmca-run: pid=.. faults=.. puts=..'\n"
    "on stderr. exit status: the program's; 2 bad usage, 1 vmca-hv unreachable or\n"
    "refusing, 127 PROGRAM not found; while running, 3 the VM failed (tmem lost\n"
    "its data), 4 a page came back other than it was evicted.\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vmca-run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(EXIT_USAGE);
}

static uint64_t opt_num(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
    uint64_t v = 0;
    bool ok = arg && *arg;
    for (const char *p = arg; ok && *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - d) / 10)
            ok = false;
        else
            v = v * 10 + d;
    }
    if (!ok || v < min || v > max)
        usage_error("%s: expected a whole number from %" PRIu64 " to %" PRIu64 ", got '%s'",
                    opt, min, max, arg ? arg : "");
    return v;
}

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"node", required_argument, NULL, 'n'},
    {"vm", required_argument, NULL, 'v'},
    {"local-mib", required_argument, NULL, 'l'},
    {"threshold-kib", required_argument, NULL, 't'},
    {"store", required_argument, NULL, 's'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* vmca-hv answers on its guest socket (the hello itself is the shim's). */
static int probe(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

/* The node exists in the configuration and its vmca-hv answers; its guest
 * socket and the cluster's page size out. Exits 2 on a bad configuration or
 * node; returns -1 (said why) when vmca-hv is unreachable. */
static int check_node(const char *config, const char *node, char *sock, size_t cap,
                      uint32_t *page_size)
{
    struct vmca_config cfg;
    char err[1024];
    if (vmca_config_load(config, 0, &cfg, err, sizeof err) != VMCA_OK)
        usage_error("%s", err);
    int bad = !vmca_config_node_by_name(&cfg, node) ||
              vmca_config_socket_path(&cfg, node, "guest", sock, cap);
    *page_size = cfg.page_size;
    vmca_config_free(&cfg);
    if (bad)
        usage_error("--node: no node named '%s' in %s (or its socket path is too long)", node,
                    config);
    if (probe(sock) != 0) {
        fprintf(stderr, "vmca-run: no hypervisor on node %s: cannot reach vmca-hv at %s: %s\n",
                node, sock, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *node = NULL;
    bool have_vm = false, have_budget = false, file_store = false;
    uint64_t vm = 0, mib = 0, threshold_kib = 1024;
    opterr = 0;
    int ch;
    /* '+': options stop at PROGRAM, whose own options are its business. */
    while ((ch = getopt_long(argc, argv, "+:c:n:v:l:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'n':
            node = optarg;
            break;
        case 'v':
            vm = opt_num("--vm", optarg, 0, UINT32_MAX);
            have_vm = true;
            break;
        case 'l':
            mib = opt_num("--local-mib", optarg, 1, UINT64_C(1) << 20);
            have_budget = true;
            break;
        case 't':
            threshold_kib = opt_num("--threshold-kib", optarg, 4, UINT64_C(1) << 30);
            break;
        case 's':
            if (strcmp(optarg, "tmem") != 0 && strcmp(optarg, "file") != 0)
                usage_error("--store: expected 'tmem' or 'file', got '%s'", optarg);
            file_store = strcmp(optarg, "file") == 0;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            puts("vmca-run " VMCA_VERSION);
            return 0;
        case ':':
            usage_error("option %s needs an argument", argv[optind - 1]);
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (file_store && (config || node || have_vm))
        usage_error("--store file uses no node: --config, --node and --vm are not allowed");
    if (!file_store && (!config || !node))
        usage_error("--config FILE and --node NAME are required");
    if (!have_budget)
        usage_error("--local-mib N is required");
    if (optind >= argc)
        usage_error("no PROGRAM to run (give it after --)");
    char sock[VMCA_PATH_MAX] = "";
    uint32_t page_size = 4096;
    if (!file_store && check_node(config, node, sock, sizeof sock, &page_size) != 0)
        return 1;
    if (page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
        fprintf(stderr, "vmca-run: the %s page size is %" PRIu32
                        ", this machine's %ld: not supported\n",
                file_store ? "shim's" : "cluster's", page_size, sysconf(_SC_PAGESIZE));
        return 1;
    }

    char self[PATH_MAX], lib[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "vmca-run: /proc/self/exe: %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    /* The shim beside this program (the build tree), else where make
     * install puts it (<prefix>/lib/vmca/ beside <prefix>/bin/). */
    const char *dir = dirname(self);
    snprintf(lib, sizeof lib, "%s/%s", dir, PRELOAD_NAME);
    if (access(lib, R_OK) != 0)
        snprintf(lib, sizeof lib, "%s/../lib/vmca/%s", dir, PRELOAD_NAME);
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "vmca-run: the shim %s is missing: %s (looked beside %s too)\n", lib,
                strerror(errno), dir);
        return 1;
    }
    const char *prev = getenv("LD_PRELOAD");
    char *preload;
    if (asprintf(&preload, "%s%s%s", lib, prev && *prev ? ":" : "", prev ? prev : "") < 0)
        return 1;
    char num[32];
    int ok = setenv("LD_PRELOAD", preload, 1) == 0 &&
             (file_store ? unsetenv("VMCA_RUN_SOCKET") == 0 && setenv("VMCA_RUN_STORE", "file", 1) == 0
                         : setenv("VMCA_RUN_SOCKET", sock, 1) == 0 && unsetenv("VMCA_RUN_STORE") == 0);
    snprintf(num, sizeof num, "%ld", (long)getpid());
    ok = ok && setenv("VMCA_RUN_PID", num, 1) == 0;
    snprintf(num, sizeof num, "%" PRIu64, have_vm ? vm : VM_PID_BASE + (uint64_t)getpid());
    ok = ok && setenv("VMCA_RUN_VM", num, 1) == 0;
    snprintf(num, sizeof num, "%" PRIu64, mib * ((UINT64_C(1) << 20) / page_size));
    ok = ok && setenv("VMCA_RUN_BUDGET_PAGES", num, 1) == 0;
    snprintf(num, sizeof num, "%" PRIu64, threshold_kib * 1024);
    ok = ok && setenv("VMCA_RUN_THRESHOLD", num, 1) == 0;
    if (!ok) {
        fprintf(stderr, "vmca-run: setenv: %s\n", strerror(errno));
        return 1;
    }
    free(preload);
    execvp(argv[optind], argv + optind);
    fprintf(stderr, "vmca-run: cannot run %s: %s\n", argv[optind], strerror(errno));
    return 127;
}
