#!/usr/bin/env bash
# Whole-process figures on the realistic conn.logs (`kalipso generate --realistic`): median of
# 5 runs of `kalipso analyze --no-ui`, wall time, lines per second, peak RSS (/usr/bin/time -v)
# and bytes of peak memory per line. The logs are generated once into DIR.
#
#   scripts/bench-realistic.sh [KALIPSO_BINARY] [DIR] [LINES...]
set -euo pipefail
bin=$(realpath "${1:-target/release/kalipso}")
dir=${2:-/tmp/kalipso-bench}
shift $(( $# > 2 ? 2 : $# ))
sizes=("${@:-1000000 5000000 10000000}")
read -r -a sizes <<<"${sizes[*]}"
mkdir -p "$dir"
printf '%-10s %10s %12s %12s %10s\n' lines "median s" "lines/s" "peak MB" "B/line"
for n in "${sizes[@]}"; do
  log="$dir/realistic-$n.log"
  [ -s "$log" ] || "$bin" generate --realistic --lines "$n" --out "$log"
  cat "$log" >/dev/null # warm the page cache
  runs=()
  peaks=()
  for _ in 1 2 3 4 5; do
    /usr/bin/time -o "$dir/time.txt" -f '%e %M' "$bin" analyze --no-ui "$log" >/dev/null 2>&1 || true
    out=$(tail -1 "$dir/time.txt")
    runs+=("${out% *}")
    peaks+=("${out#* }")
  done
  median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)
  peak=$(printf '%s\n' "${peaks[@]}" | sort -n | sed -n 3p)
  awk -v n="$n" -v t="$median" -v p="$peak" \
    'BEGIN { printf "%-10d %10.2f %12.0f %12.0f %10.0f\n", n, t, n / t, p / 1024, p * 1024 / n }'
done
