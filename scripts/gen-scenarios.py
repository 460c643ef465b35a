#!/usr/bin/env python3
"""Writes N random scenario files (vmca-sim --scenario format, docs/testing.md)
for make evaluate's held-out check: mixes nobody tuned a policy on.

usage: gen-scenarios.py N SEED OUTDIR

Each file has 1-4 nodes of 384-1536 MB tmem (the master on one of them), 1-4
VMs per node (0-4 on the master of a multi-node cluster) of 256-1024 MB RAM,
profiles drawn from the six, footprints 1.5-2.5x RAM (usemem: its own 1 GB),
start times 0-120 s; scale 64 and the latencies of the repo's scenarios. The
same N and SEED give the same files."""
import os
import random
import sys

PROFILES = ["usemem", "analytics", "graph", "memcached", "constant", "flux"]


def scenario(k, rng):
    n_nodes = rng.choice([1, 1, 2, 3, 4])
    master = rng.randrange(n_nodes)
    nodes = []
    for i in range(n_nodes):
        vms = []
        n_vms = rng.choice([0, 1, 2, 3, 4]) if i == master and n_nodes > 1 else rng.choice([1, 2, 3, 4])
        for j in range(n_vms):
            profile = rng.choice(PROFILES)
            ram = rng.choice([256, 512, 768, 1024])
            fp = "" if profile == "usemem" else " footprint_mb = %d;" % int(ram * rng.choice([1.5, 2.0, 2.5]))
            start = rng.choice([0, 0, 10, 30, 60, 120])
            vms.append('{ id = %d; ram_mb = %d; profile = "%s";%s start_s = %d.0; }'
                       % (j + 1, ram, profile, fp, start))
        nodes.append('  { name = "node%d"; tmem_mb = %d; location = [0, %d];%s vms = ( %s ); }'
                     % (i + 1, rng.choice([384, 512, 768, 1024, 1536]), i,
                        " master = true;" if i == master else "", ", ".join(vms)))
    return "\n".join([
        'name = "rand-%d";' % k,
        'title = "random mix %d";' % k,
        'source = "gen-scenarios.py: a random mix for the held-out check (no source models it)";',
        "scale = 64;", "period_ms = 1000;", "duration_s = 1800;",
        "latency = { cpu_us = 20.0; local_us = 5.0; remote_us = 50.0; disk_us = 2000.0; };",
        "nodes = (", ",\n".join(nodes), ");", ""])


def main():
    if len(sys.argv) != 4 or not sys.argv[1].isdigit() or not sys.argv[2].isdigit():
        sys.exit("usage: gen-scenarios.py N SEED OUTDIR (N and SEED: non-negative integers)")
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    for k in range(n):
        with open(os.path.join(out, "rand-%d.conf" % k), "w") as f:
            f.write(scenario(k, random.Random(seed * 1000003 + k)))


main()
