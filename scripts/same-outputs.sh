#!/usr/bin/env bash
# Proves that a change kept kalipso's outputs byte-identical: runs two builds on every input of
# the corpus (../shared/testdata, or $KALIPSO_CORPUS) and of the project's testdata/, with
# `--no-ui --json --dump-redis --output` (and once more with threat intelligence, a whitelist and
# a home network), and compares every file they write plus stdout and stderr.
#
#   scripts/same-outputs.sh OLD_BINARY NEW_BINARY
#
# Exit 0 when every output is identical; otherwise lists the differing ones and exits 1.
set -uo pipefail
old=${1:?usage: same-outputs.sh OLD_BINARY NEW_BINARY}
new=${2:?usage: same-outputs.sh OLD_BINARY NEW_BINARY}
top=$(cd "$(dirname "$0")/.." && pwd)
corpus=${KALIPSO_CORPUS:-$top/../shared/testdata}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Inputs: every readable file, and every folder that directly holds Zeek logs or captures.
mapfile -t inputs < <(
  {
    find "$corpus" "$top/testdata" -type f \( -name '*.log' -o -name '*.log.gz' -o -name '*.labeled' \
      -o -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' -o -name '*.trace' -o -name '*.json' \)
    find "$corpus" "$top/testdata" -type f \( -name 'conn*.log*' -o -name '*.pcap' \) -printf '%h\n'
  } | sort -u
)
extra_sets=("" "--ti $corpus/slips/ti --whitelist $corpus/slips/whitelist/whitelist.conf --home-net 10.0.0.0/8,192.168.0.0/16 --tw-width 600")

run() { # binary dir input extra...
  local bin=$1 dir=$2 input=$3; shift 3
  mkdir -p "$dir/alerts"
  # relative names would differ between the two output folders: run from inside each
  (cd "$dir" && "$bin" analyze --no-ui --threads 2 --json report.json --dump-redis dump.json \
     --output alerts "$@" "$input" >stdout.txt 2>stderr.txt; echo "exit $?" >>stdout.txt)
}

differ=0; count=0
for input in "${inputs[@]}"; do
  for s in "${!extra_sets[@]}"; do
    # shellcheck disable=SC2086
    read -r -a extra <<<"${extra_sets[$s]}"
    a="$work/old"; b="$work/new"; rm -rf "$a" "$b"
    run "$old" "$a" "$input" "${extra[@]}"
    run "$new" "$b" "$input" "${extra[@]}"
    count=$((count + 1))
    if ! diff -r -q "$a" "$b" >/dev/null; then
      differ=$((differ + 1))
      echo "DIFFERS: $input ${extra_sets[$s]}"
      diff -r -q "$a" "$b" | sed 's/^/  /'
    fi
  done
done
echo "$count runs over ${#inputs[@]} inputs, $differ differing"
[ "$differ" -eq 0 ]
