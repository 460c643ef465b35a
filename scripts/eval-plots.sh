#!/usr/bin/env bash
# The evaluation's plots (scripts/evaluate.sh): per scenario, the per-VM tmem
# pages and targets over time of its --series run (as the thesis's figures
# show them, in MB), and run time and failed puts per policy as bars with the
# seeds' min-max range. Usage: eval-plots.sh OUT PNG_DIR SCENARIO.conf...
set -euo pipefail
OUT=$1 PNG=$2
shift 2

for f in "$@"; do
    s=$(basename "$f" .conf)
    scale=$(awk -F'\t' -v s="$s" '$1 == s { print $20; exit }' "$OUT/agg.tsv")
    [ -n "$scale" ] || continue
    # time series: per node with VMs, one data file with a block per VM
    ser=$OUT/series/$s.tsv
    if [ -s "$ser" ]; then
        awk -F'\t' -v sc="$scale" -v pre="$OUT/plot/$s.series" '
            /^#/ { next }
            { if (!($2 in nid)) { nid[$2] = ++nn; node[nn] = $2 }
              k = $2 SUBSEP $3
              if (!(k in seen)) { seen[k] = ++nv; vnode[nv] = $2; vname[nv] = $2 "/" $3 }
              row[seen[k]] = row[seen[k]] sprintf("%s %.2f %s\n", $1, $4 * sc / 256,
                  $5 < 0 ? "NaN" : sprintf("%.2f", $5 * sc / 256)) }
            END { for (i = 1; i <= nv; i++) {
                      printf "%s\n\n", row[i] > (pre "." vnode[i] ".dat")
                      names[vnode[i]] = names[vnode[i]] vname[i] " " }
                  for (j = 1; j <= nn; j++) print node[j] "\t" names[node[j]] > (pre ".nodes") }' "$ser"
        nodes=$OUT/plot/$s.series.nodes
        nn=$(wc -l <"$nodes")
        {
            echo "set terminal pngcairo size 1000,$((120 + 260 * nn)) noenhanced font \",10\""
            echo "set output \"$PNG/$s-series.png\""
            echo "set multiplot layout $nn,1 title \"$s: per-VM tmem (solid) and target (dashed), MB; tlp-best run, seed 1\""
            echo "set key outside right top; set grid; set ylabel \"MB\"; set yrange [0:*]"
            i=0
            while IFS=$'\t' read -r nd names; do
                i=$((i + 1))
                [ $i -lt "$nn" ] || echo 'set xlabel "simulated time (s)"'
                dat=$OUT/plot/$s.series.$nd.dat
                k=$(wc -w <<<"$names")
                echo "set title \"$nd\"; titles = \"$names\""
                echo "plot for [i=0:$((k - 1))] \"$dat\" index i using 1:2 with lines lw 2 lc i+1 title word(titles, i+1), \\"
                echo "     for [i=0:$((k - 1))] \"$dat\" index i using 1:3 with lines dt 2 lc i+1 notitle"
            done <"$nodes"
            echo "unset multiplot"
        } | gnuplot
    fi
    # bars: median of the seeds, min-max as error bars
    bars=$OUT/plot/$s.bars.dat
    awk -F'\t' -v s="$s" 'BEGIN { OFS = "\t" } $1 == s { print $2, $8, $7, $9, $5, $4, $6 }' \
        "$OUT/agg.tsv" >"$bars"
    nb=$(wc -l <"$bars")
    [ "$nb" -gt 0 ] || continue
    gnuplot <<EOF
set terminal pngcairo size $((300 + 45 * nb)),640 noenhanced font ",10"
set output "$PNG/$s-bars.png"
set datafile separator "\t"
set multiplot layout 2,1 title "$s: median of the seeds, bars = min-max"
set style fill solid 0.6
set boxwidth 0.7
set grid ytics
set xtics rotate by -40 scale 0
set yrange [0:*]
set ylabel "mean run time (s)"
plot "$bars" using 0:2:xtic(1) with boxes lc rgb "#4472c4" notitle, \
     "" using 0:2:3:4 with yerrorbars lc rgb "black" pt 0 notitle
set ylabel "failed puts (sim. pages)"
plot "$bars" using 0:5:xtic(1) with boxes lc rgb "#c55a11" notitle, \
     "" using 0:5:6:7 with yerrorbars lc rgb "black" pt 0 notitle
unset multiplot
EOF
done
