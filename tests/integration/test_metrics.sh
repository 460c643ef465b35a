#!/usr/bin/env bash
# The metrics pages with real daemons and a real Prometheus server: a
# 4-node cluster with master.metrics_port and every nodes.[i].metrics_port
# set, a guest under pressure on node2 so that grants happen, then
# Prometheus (Debian's package, on loopback, scraping every second) must
# see every target up; the figures it scraped must match vmca-tkm's and
# vmcactl's; and every page must pass `promtool check metrics` with no
# lint problem. Without the prometheus binary the test fails (promtool and
# the figures read directly are checked first).
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed (scripts/install-deps.sh)"

make_cluster 4
sed -i 's/tmem_pages = 2048;/tmem_pages = 256;/; s/tmem_pages = 3072;/tmem_pages = 4096;/' "$CONF"
echo 'policy = { first_tier = "greedy-remote"; reserve_pages = 512; grant_batch = 1024; };' >> "$CONF"
cluster_ports=" ${PORTS[*]} "
# Five metrics pages and Prometheus itself, on ports the cluster does not use.
while :; do
    pick_ports 6
    clash=0
    for p in "${PORTS[@]}"; do [[ $cluster_ports == *" $p "* ]] && clash=1; done
    [ $clash -eq 0 ] && break
done
MASTER_METRICS=${PORTS[0]}
declare -A METRICS_OF=()
for i in 1 2 3 4; do
    METRICS_OF[node$i]=${PORTS[$i]}
    sed -i "s/\(name = \"node$i\"; address = \"127.0.0.1\"; port = [0-9]*;\)/\1 metrics_port = ${PORTS[$i]};/" "$CONF"
done
PROM_PORT=${PORTS[5]}
sed -i "s/admin_socket = \"admin.sock\";/admin_socket = \"admin.sock\"; metrics_port = $MASTER_METRICS;/" "$CONF"
grep -c metrics_port "$CONF" | grep -qx 5 || fail "the configuration did not get its metrics ports"

start_master
for n in node1 node2 node3 node4; do start_node $n; done
wait_until 20 "4 nodes active" all_active 4

page() { curl -sf "http://127.0.0.1:$1/metrics"; }

# An unknown path is not served; the page is text format 0.0.4.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MASTER_METRICS/other")
[ "$code" = 404 ] || fail "GET /other answered $code, not 404"
ctype=$(curl -sf -o /dev/null -w '%{content_type}' "http://127.0.0.1:$MASTER_METRICS/metrics")
[[ $ctype == "text/plain; version=0.0.4"* ]] || fail "Content-Type is '$ctype'"

# Pressure on node2 (256 pages of tmem): 16 MiB working set for 6 s.
echo "16 6" > "$T/phases"
"$GUEST_BIN" --socket "$T/$CLUSTER-node2-guest.sock" --vm 1 --ram 1 \
    --workload "phases:$T/phases" --seed 7 > "$T/guest.out" 2> "$T/guest.log" &
guest=$!
PIDS+=($guest)
wait_until 30 "node2 owning pages of another home" owns_remote node2
# While the guest runs, its VM has figures on node2's page and the master's.
# (The slave's page shows the VMs of its last sample: wait for the one
# after the guest connected.)
wait_until 10 "node2's page showing vmca_slave_vm_used_pages for vm 1" \
    sh -c "curl -sf http://127.0.0.1:${METRICS_OF[node2]}/metrics | grep -q '^vmca_slave_vm_used_pages{node=\"node2\",vm=\"1\"} '"
wait_until 10 "the master's page showing node2's VM" \
    sh -c "curl -sf http://127.0.0.1:$MASTER_METRICS/metrics | grep -q '^vmca_vm_used_pages{node=\"node2\",vm=\"1\"} '"
wait $guest || fail "the guest failed: $(cat "$T/guest.log")"
grep -q 'mismatches=0' "$T/guest.out" || fail "the guest saw wrong data"

# promtool on every page: no error and no lint problem.
for port in "$MASTER_METRICS" "${METRICS_OF[@]}"; do
    page "$port" > "$T/page-$port.txt" || fail "no metrics page on port $port"
    promtool check metrics < "$T/page-$port.txt" > "$T/promtool-$port.txt" 2>&1 ||
        fail "promtool check metrics (port $port): $(cat "$T/promtool-$port.txt")"
    [ ! -s "$T/promtool-$port.txt" ] || fail "promtool lint (port $port): $(cat "$T/promtool-$port.txt")"
done
pass "promtool check metrics: the master's page and 4 slaves' pages are clean"

# ---- a real Prometheus server on loopback ----
command -v prometheus >/dev/null || fail "the prometheus server is not installed (scripts/install-deps.sh)"
{
    echo "global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }"
    echo "scrape_configs:"
    echo "  - job_name: vmca-master"
    echo "    static_configs: [ { targets: [ '127.0.0.1:$MASTER_METRICS' ] } ]"
    echo "  - job_name: vmca-slave"
    echo "    static_configs:"
    echo "      - targets: [ $(for n in node1 node2 node3 node4; do printf "'127.0.0.1:%s', " "${METRICS_OF[$n]}"; done | sed 's/, $//') ]"
} > "$T/prometheus.yml"
promtool check config "$T/prometheus.yml" > "$T/promtool-config.txt" 2>&1 ||
    fail "promtool check config: $(cat "$T/promtool-config.txt")"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >> "$T/prometheus.log" 2>&1 &
PIDS+=($!)

# query PROMQL: prints "labels-as-json value" per series of the instant
# query's result (sorted), fails on an error answer.
query() {
    curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        python3 -c '
import json, sys
doc = json.load(sys.stdin)
if doc.get("status") != "success":
    sys.exit(1)
rows = []
for r in doc["data"]["result"]:
    m = {k: v for k, v in r["metric"].items() if k not in ("instance", "job", "__name__")}
    rows.append("%s %s" % (json.dumps(m, sort_keys=True), r["value"][1]))
print("\n".join(sorted(rows)))'
}
# scalar PROMQL: the value of a query with one series.
scalar() { query "$1" | awk 'NR == 1 { v = $NF } END { if (NR != 1) exit 1; print v }'; }

all_up() { [ "$(query 'up == 1' | wc -l)" = 5 ] && [ "$(query 'up' | wc -l)" = 5 ]; }
wait_until 60 "Prometheus reporting all 5 targets up" all_up
pass "Prometheus (127.0.0.1:$PROM_PORT) scrapes the master and 4 slaves: all up"

# At rest, every home's pages are owned exactly once (the hypervisors say so).
declare -A HOME_PAGES=([1]=1024 [2]=256 [3]=4096 [4]=4096)  # as configured above
wait_until 30 "ownership audit balanced at rest" hv_audit 1:1024 2:256 3:4096 4:4096
ctl_audit 15 > /dev/null

# What Prometheus has scraped equals what vmca-tkm reads from the
# hypervisors now (surplus returns may still move pages: wait until the
# scrape catches up with a reading, each time reading both again).
tkm_homes() {
    for n in node1 node2 node3 node4; do
        tkm --node "$n" stats | awk -v n="$n" '/^owned_home/ && $3 > 0 {
            printf "{\"home\": \"node%s\", \"node\": \"%s\"} %s\n", $2, n, $3 }'
    done | sort
}
homes_match() {
    tkm_homes > "$T/homes.tkm"
    query 'vmca_slave_home_pages > 0' > "$T/homes.prom"
    [ -s "$T/homes.tkm" ] && cmp -s "$T/homes.tkm" "$T/homes.prom"
}
end=$((SECONDS + 30))
until homes_match; do
    [ $SECONDS -lt $end ] || fail "vmca_slave_home_pages in Prometheus never matched vmca-tkm's owned_home in 30 s: vmca-tkm $(cat "$T/homes.tkm"), Prometheus $(cat "$T/homes.prom")"
    sleep 0.2
done
for h in 1 2 3 4; do
    pages=${HOME_PAGES[$h]}
    got=$(scalar "sum(vmca_slave_home_pages{home=\"node$h\"})")
    [ "$got" = "$pages" ] || fail "the slaves' pages of home node$h sum to $got, not $pages"
    got=$(scalar "vmca_home_pages{home=\"node$h\"}")
    [ "$got" = "$pages" ] || fail "vmca_home_pages of node$h is $got, not $pages"
done
# The master's view from the Statistics: the same sums, and per node the
# figures vmcactl status shows.
master_homes() {
    for h in 1 2 3 4; do
        [ "$(scalar "vmca_home_owned_pages{home=\"node$h\"}")" = "$(scalar "vmca_home_pages{home=\"node$h\"}")" ] || return 1
    done
}
wait_until 30 "the master's vmca_home_owned_pages equal to each home's pages" master_homes
node_figures_match() {
    local n
    for n in node1 node2 node3 node4; do
        [ "$(scalar "vmca_node_owned_pages{node=\"$n\"}")" = "$(node_field "$n" total_pages)" ] || return 1
        [ "$(scalar "vmca_node_free_pages{node=\"$n\"}")" = "$(node_field "$n" free_pages)" ] || return 1
        [ "$(scalar "vmca_node_state{node=\"$n\",state=\"$(node_field "$n" state)\"}")" = 1 ] || return 1
    done
}
wait_until 30 "vmca_node_owned/free_pages and vmca_node_state equal to vmcactl status" node_figures_match
[ "$(scalar 'sum(vmca_node_state)')" = 4 ] || fail "vmca_node_state is 1 for $(scalar 'sum(vmca_node_state)') states of 4 nodes"
pass "pages per home and per node in Prometheus equal vmca-tkm's and vmcactl's"

# Grants: node2 asked and got pages; what the slaves sent and took adds up
# to what the master received and forwarded (nothing is lost here).
grants_add_up() {
    local ga fwd
    ga=$(scalar 'vmca_master_grant_any_total + on() vmca_master_refused_messages_total{reason="grant_any"}')
    [ "$(scalar 'sum(vmca_slave_grant_any_total)')" = "$ga" ] || return 1
    fwd=$(scalar 'vmca_master_grant_fwd_total')
    [ "$(scalar 'sum(vmca_slave_grant_fwd_total) + sum(vmca_slave_refused_messages_total{reason=~"state|invalid"})')" -ge "$fwd" ] || return 1
    [ "$(scalar 'sum(vmca_slave_grant_fwd_total)')" -le "$fwd" ]
}
[ "$(scalar 'vmca_slave_grant_any_total{node="node2"}')" -gt 0 ] || fail "node2 sent no Grant-Any"
[ "$(scalar 'vmca_master_grant_fwd_total')" -gt 0 ] || fail "the master forwarded no grant"
[ "$(scalar 'vmca_slave_grant_received_pages_total{node="node2"}')" -gt 0 ] || fail "node2 received no granted pages"
wait_until 15 "Grant-Any and Grant-Fwd counts of the slaves adding up to the master's" grants_add_up
# Every block a peer sent was taken by its receiver, bounced home (sent
# again, so counted again) or rejected (at rest, no transfer in transit).
[ "$(scalar 'sum(vmca_slave_transfers_in_transit)')" = 0 ] || fail "transfers still in transit at rest"
blocks_match() {
    local sent taken
    sent=$(scalar 'sum(vmca_slave_grant_sent_blocks_total)')
    taken=$(scalar 'sum(vmca_slave_grant_received_blocks_total) + sum(vmca_slave_grant_bounced_blocks_total) + sum(vmca_slave_grant_rejected_blocks_total)')
    [ "$sent" -gt 0 ] && [ "$sent" = "$taken" ]
}
wait_until 15 "grant blocks sent equal to blocks accepted, bounced or rejected" blocks_match
count=$(scalar 'vmca_master_grant_latency_seconds_count')
[ "$count" -gt 0 ] || fail "the grant latency histogram saw no grant"
inf=$(scalar 'vmca_master_grant_latency_seconds_bucket{le="+Inf"}')
[ "$inf" = "$count" ] || fail "the +Inf bucket ($inf) is not the count ($count)"
pass "grants: $(scalar 'vmca_master_grant_any_total') Grant-Any, $(scalar 'vmca_master_grant_fwd_total') Grant-Fwd, $count latencies observed"
