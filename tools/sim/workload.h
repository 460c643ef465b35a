/* Guest workload profiles for vmca-sim --scenario (docs/testing.md,
 * "Scenario files"; vmca-sim --list profiles). A workload is a
 * deterministic stream of page accesses over 0..wl_footprint()-1, in
 * simulated pages (one simulated page = scale real 4 KiB pages). Pure C11:
 * no libhvx, no globals, no clocks; every random choice comes from the
 * spec's seed. */
#ifndef VMCA_SIM_WORKLOAD_H
#define VMCA_SIM_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest footprint a workload accepts, in simulated pages. */
#define WL_MAX_PAGES (UINT64_C(1) << 26)
/* Largest scale (real 4 KiB pages per simulated page). */
#define WL_MAX_SCALE 4096u

struct wl_spec {
    const char *profile;      /* wl_profile_names() */
    uint64_t ram_pages;       /* the VM's RAM, in simulated pages */
    uint64_t footprint_pages; /* 0: the profile's default, from ram_pages */
    unsigned repeats;         /* >= 1 */
    uint64_t seed;            /* the run's seed mixed with node and VM id */
    uint32_t scale;           /* real 4 KiB pages per simulated page: power of
                               * two, 1..WL_MAX_SCALE (usemem's 128 MB steps) */
};

struct wl;

/* NULL with a precise message in err for an unknown profile or bad size. */
struct wl *wl_new(const struct wl_spec *spec, char *err, size_t errlen);
void wl_free(struct wl *w);
/* The next page access: page in 0..wl_footprint()-1, *write when it dirties
 * the page. false: the work is done (every repeat). Deterministic. */
bool wl_next(struct wl *w, uint64_t *page, bool *write);
uint64_t wl_footprint(const struct wl *w);
/* Pages it is using now (its working set): changes mark demand changes. */
uint64_t wl_working_set(const struct wl *w);
/* ", "-separated names; and one line on what a profile assumes, or NULL. */
const char *wl_profile_names(void);
const char *wl_assumes(const char *profile);

#endif
