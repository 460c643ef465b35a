/* Cluster configuration: one libconfig file shared by every node (see
 * config/demo.conf and docs/configuration.md). Loading validates everything
 * before any daemon starts; each error names file, line and setting and says
 * what was expected. Relative paths in the file are taken relative to the
 * directory holding the file. */
#ifndef VMCA_CONFIG_H
#define VMCA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "first_tier_policy.h"

#define VMCA_NAME_MAX 64          /* node and cluster names, incl. NUL */
#define VMCA_PATH_MAX 512
#define VMCA_LOCATION_MAX 8       /* depth of the hardware tree */
#define VMCA_MAX_NODES 4096       /* nodes in one configuration */
#define VMCA_NODE_VMS_MAX 4096    /* entries in one node's vms list */
#define VMCA_STATS_INTERVAL_MS_DEFAULT 1000 /* timing.stats_interval_ms */

struct vmca_node_cfg {
    uint32_t id;                        /* 1..VMCA_NODE_MAX, unique */
    char name[VMCA_NAME_MAX];           /* unique; = certificate CN */
    char address[64];                   /* IPv4/IPv6 literal or host name */
    uint16_t port;                      /* peer (slave) listening port */
    uint16_t metrics_port;              /* its slave's metrics page; 0 off */
    char metrics_address[64];           /* where metrics pages of this node listen:
                                           its address when a loopback literal,
                                           else 127.0.0.1 */
    char cert[VMCA_PATH_MAX];           /* absolute after loading */
    char key[VMCA_PATH_MAX];
    uint64_t tmem_pages;                /* pages of this node's tmem */
    uint32_t location[VMCA_LOCATION_MAX]; /* hardware tree path, root first */
    unsigned location_len;
    struct ft_vm_settings *vms;         /* per-VM settings (nodes.[i].vms), owned */
    uint8_t *vm_replicas;               /* per vms[] entry: its replicas, 0 = the
                                           cluster's; owned */
    size_t n_vms;
};

struct vmca_master_cfg {
    char node[VMCA_NAME_MAX];           /* node the master runs on */
    uint32_t node_id;                   /* resolved from `node` */
    uint16_t port;                      /* master's TLS port */
    uint16_t metrics_port;              /* master's metrics page (on its node's
                                           metrics_address); 0 off */
    char admin_socket[VMCA_PATH_MAX];   /* Unix socket for vmcactl */
};

struct vmca_policy_cfg {
    char first_tier[32];                /* a name in the first-tier registry */
    char second_tier[32];               /* a built second tier (master/policy) */
    uint64_t reserve_pages;             /* donor reserve R */
    struct ft_params first_tier_params; /* parsed by each first-tier policy */
    uint64_t second_tier_params[8];     /* its own settings, as it parsed them */
    uint32_t surplus_quiet_periods;     /* quiet periods before free pages of other
                                           homes go back; 0: never */
};

struct vmca_timing_cfg {
    uint32_t stats_interval_ms;         /* Statistics period */
    uint32_t failure_timeout_ms;        /* no connection + no stats -> failed */
    uint32_t reconnect_min_ms;          /* backoff start */
    uint32_t reconnect_max_ms;          /* backoff cap */
    uint32_t hello_timeout_ms;          /* a connection must say Hello by then */
};

struct vmca_config {
    char path[VMCA_PATH_MAX];           /* file it was loaded from */
    char cluster[VMCA_NAME_MAX];        /* names shm segments etc. */
    uint32_t page_size;                 /* power of two, 4096 by default */
    uint32_t max_frame;                 /* bytes; default 1 MiB */
    unsigned replicas;                  /* copies of remote persistent pages, 1|2 */
    char ca[VMCA_PATH_MAX];             /* cluster CA certificate */
    struct vmca_master_cfg master;
    struct vmca_node_cfg *nodes;        /* owned; n_nodes entries */
    size_t n_nodes;
    struct vmca_policy_cfg policy;
    struct vmca_timing_cfg timing;
    char certs_dir[VMCA_PATH_MAX];      /* default home of ca/cert/key files */
};

/* Loads and validates `path` into *cfg. On failure returns VMCA_ERR_CONFIG
 * (or VMCA_ERR_NOMEM), writes one line "FILE:LINE: ..." naming the setting
 * into err, and leaves *cfg zeroed (nothing to free). `check_files` != 0 also
 * requires the CA, certificate and key files to exist and be readable. */
int vmca_config_load(const char *path, int check_files, struct vmca_config *cfg,
                     char *err, size_t errlen);
/* The copies the hypervisor keeps of VM `vm`'s remote persistent pages on
 * `node` (NULL: none of its own): its nodes.[i].vms entry's `replicas`,
 * else the cluster's (1 when unset). */
unsigned vmca_config_replicas(const struct vmca_config *cfg, const struct vmca_node_cfg *node,
                              uint32_t vm);
void vmca_config_free(struct vmca_config *cfg);

/* Lookups; NULL when absent. */
const struct vmca_node_cfg *vmca_config_node_by_name(const struct vmca_config *cfg,
                                                     const char *name);
const struct vmca_node_cfg *vmca_config_node_by_id(const struct vmca_config *cfg,
                                                   uint32_t id);

/* Tmem pages of every configured node together. */
uint64_t vmca_config_total_pages(const struct vmca_config *cfg);

/* Path of a node-local socket: "<dir of the config file>/<cluster>-<node>-
 * <kind>.sock" (kind: "guest", "tkm"). Returns 0, or VMCA_ERR_INVAL when it
 * would not fit a Unix socket address (108 bytes). */
int vmca_config_socket_path(const struct vmca_config *cfg, const char *node,
                            const char *kind, char *out, size_t outlen);

/* Path of another node-local run-time file: "<dir of the config file>/
 * <cluster>-<node>-<name>" (e.g. the lock files "slave.lock", "hv.lock").
 * Returns 0, or VMCA_ERR_INVAL when it does not fit in outlen. */
int vmca_config_node_file(const struct vmca_config *cfg, const char *node, const char *name,
                          char *out, size_t outlen);

#endif
