# Aggregates vmca-sim --scenario outputs over seeds (scripts/evaluate.sh).
# Input: every stdout line of every run, prefixed with "LABEL<TAB>" (the
# policy as the matrix names it: greedy-remote, tlp-4, tlp+sorted ...).
# Columns are found by the names of the "#run" and "#vm" headers.
# Output, one line per scenario and label (tab-separated):
#   scenario label seeds  fp_min fp_med fp_max  mrt_min mrt_med mrt_max
#   xrt_min xrt_med xrt_max  jain_min jain_med jain_max  conv_med moved_med
#   msgs_med unfinished_max scale wall_ms_med  param
# plus a "tlp-best" line per scenario: the tlp-P with the lowest median failed
# puts (then the lowest median mean run time), its P in the last column.
BEGIN { FS = OFS = "\t" }

$2 == "#run" { for (i = 2; i <= NF; i++) rc[substr($i, i == 2 ? 2 : 1)] = i; next }
$2 == "#vm"  { for (i = 2; i <= NF; i++) vc[substr($i, i == 2 ? 2 : 1)] = i; next }

# Per VM: the run's converge times and unfinished VMs, keyed by the next run row.
$2 == "vm" {
    if ($vc["converge_s"] != "-") { cs += $vc["converge_s"]; cn++ }
    if ($vc["finished"] == 0) unf++
    next
}

$2 == "run" {
    s = $rc["scenario"]; l = $1; k = s SUBSEP l
    if (!(k in n)) { keys[++nk] = k; sc[k] = s; lb[k] = l }
    i = ++n[k]
    v["fp", k, i] = $rc["failed_puts"]
    v["mrt", k, i] = $rc["mean_runtime_s"]
    v["xrt", k, i] = $rc["max_runtime_s"]
    v["jain", k, i] = $rc["jain"]
    v["moved", k, i] = $rc["pages_moved"]
    v["msgs", k, i] = $rc["messages"]
    v["wall", k, i] = $rc["wall_ms"]
    v["conv", k, i] = cn ? cs / cn : -1
    v["unf", k, i] = unf
    scale[k] = $rc["scale"]
    cs = cn = unf = 0
    next
}

# sorted copy of v[m, k, 1..n] into t[1..n]
function sorted(m, k,    c, i, j, x) {
    c = n[k]
    for (i = 1; i <= c; i++) t[i] = v[m, k, i] + 0
    for (i = 2; i <= c; i++) {
        x = t[i]
        for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]
        t[j + 1] = x
    }
    return c
}
function med(m, k,    c) { c = sorted(m, k); return c % 2 ? t[(c + 1) / 2] : (t[c / 2] + t[c / 2 + 1]) / 2 }
function mn(m, k) { sorted(m, k); return t[1] }
function mx(m, k,    c) { c = sorted(m, k); return t[c] }
function triple(m, k) { return mn(m, k) OFS med(m, k) OFS mx(m, k) }
function line(k, label, param) {
    print sc[k], label, n[k], triple("fp", k), triple("mrt", k), triple("xrt", k),
          triple("jain", k), med("conv", k), med("moved", k), med("msgs", k), mx("unf", k),
          scale[k], med("wall", k), param
}

END {
    for (j = 1; j <= nk; j++) {
        k = keys[j]
        line(k, lb[k], "-")
        if (lb[k] ~ /^tlp-[0-9]+$/) {
            s = sc[k]; f = med("fp", k); r = med("mrt", k)
            if (!(s in best) || f < bf[s] || (f == bf[s] && r < br[s])) { best[s] = k; bf[s] = f; br[s] = r }
        }
    }
    for (s in best) { k = best[s]; p = lb[k]; sub(/^tlp-/, "", p); line(k, "tlp-best", p) }
}
