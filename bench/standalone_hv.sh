# Sourced by the benchmarks that need one vmca-hv and no master: a private
# directory ($dir), a one-node configuration ($dir/c.conf, node n1 with
# POOL tmem pages), the hypervisor started ($hv_pid, guest socket
# $dir/$cluster-n1-guest.sock) and a trap that stops it and cleans up.
# Needs $build and $POOL.
dir=$(mktemp -d /tmp/vmca-bench.XXXXXX)
cluster=bench$$
hv_pid=
cleanup() {
    [ -n "$hv_pid" ] && kill "$hv_pid" 2>/dev/null && wait "$hv_pid" 2>/dev/null
    rm -rf "$dir"
    rm -f /dev/shm/vmca-$cluster-*
}
trap cleanup EXIT
cat > "$dir/c.conf" <<CONF
cluster = "$cluster";
master = { node = "n1"; port = 1; };
nodes = ( { id = 1; name = "n1"; address = "127.0.0.1"; port = 2; tmem_pages = ${POOL}L; } );
CONF
"$build/hv-ext/vmca-hv" --config "$dir/c.conf" --node n1 --log-level warn 2> "$dir/hv.log" &
hv_pid=$!
for _ in $(seq 50); do [ -S "$dir/$cluster-n1-guest.sock" ] && break; sleep 0.1; done
