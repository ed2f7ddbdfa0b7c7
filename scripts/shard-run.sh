#!/usr/bin/env bash
# Runs N `kalipso analyze --shard K/N` workers over the same input into one Redis, with no
# coordinator: xargs starts them (at most $PARALLEL at once), each writes its report and
# messages to $LOGDIR/worker-K-of-N.log and says one line when it starts and when it ends, and
# the script reports which failed, with the command that re-runs one alone. Re-running a
# worker is safe: it writes the same keys and values again.
#
#   scripts/shard-run.sh N redis://HOST:PORT/DB PATH... [-- MORE KALIPSO OPTIONS]
#   scripts/shard-run.sh --only K N redis://HOST:PORT/DB PATH... [-- ...]   # one worker again
#
# Environment: KALIPSO (the binary; default: kalipso on PATH, else target/release/kalipso),
# PARALLEL (workers at once; default N), LOGDIR (default ./shard-logs). The databases should be
# empty before the first run (`redis-cli -n DB flushdb` and DB+1; on a Redis Cluster
# `redis-cli --cluster call HOST:PORT FLUSHALL`); workers never empty them. The URL may name
# any node of a cluster (database 0): each worker learns the slot map from it and writes every
# key to the master that holds it.
# To spread workers over machines, run `--only K` on each (ssh, a Kubernetes indexed Job, a
# Slurm array: K is the index), with the same input and settings everywhere.
set -uo pipefail
only=""
if [ "${1:-}" = "--only" ]; then
  only=${2:?--only takes a worker number}
  shift 2
fi
n=${1:?usage: shard-run.sh [--only K] N redis://HOST:PORT/DB PATH... [-- OPTIONS]}
url=${2:?usage: shard-run.sh [--only K] N redis://HOST:PORT/DB PATH... [-- OPTIONS]}
shift 2
paths=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  paths+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
more=("$@")
[ ${#paths[@]} -gt 0 ] || { echo "shard-run: no input PATH given" >&2; exit 2; }
case $n in '' | *[!0-9]* | 0) echo "shard-run: N must be a positive number, not '$n'" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${KALIPSO:-$(command -v kalipso || echo "$top/target/release/kalipso")}
logdir=${LOGDIR:-shard-logs}
mkdir -p "$logdir"

# one worker: its lines on stdout, its output in its log; exit code 0 when it succeeded
worker() {
  local k=$1 started log code
  log="$logdir/worker-$k-of-$n.log"
  started=$(date +%s.%N)
  echo "worker $k/$n: started (log $log)"
  "$bin" analyze "${paths[@]}" --shard "$k/$n" --redis "$url" --no-ui --quiet "${more[@]}" >"$log" 2>&1
  code=$?
  local secs
  secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  # kalipso says "wrote … into URL" once the store is in Redis (exit code 2 then means that
  # some input was skipped, which every worker reads alike)
  if { [ $code -eq 0 ] || [ $code -eq 2 ]; } && grep -q "^kalipso: wrote .* into " "$log"; then
    rm -f "$log.failed"
    echo "worker $k/$n: done in $secs s (exit $code)"
    return 0
  fi
  touch "$log.failed"
  echo "worker $k/$n: FAILED in $secs s (exit $code): $(tail -1 "$log")"
  return 1
}
export -f worker
export n url bin logdir
# arrays cannot be exported: hand them over quoted
export PATHS_Q MORE_Q
PATHS_Q=$(printf '%q ' "${paths[@]}")
MORE_Q=""
[ ${#more[@]} -gt 0 ] && MORE_Q=$(printf '%q ' "${more[@]}")

if [ -n "$only" ]; then
  workers=("$only")
else
  mapfile -t workers < <(seq 1 "$n")
fi
printf '%s\n' "${workers[@]}" | xargs -P "${PARALLEL:-$n}" -I{} bash -c '
  eval "paths=($PATHS_Q)"; eval "more=($MORE_Q)"
  worker "$1"' _ {}
failed=""
for k in "${workers[@]}"; do
  [ -e "$logdir/worker-$k-of-$n.log.failed" ] && failed="$failed $k"
done
if [ -n "$failed" ]; then
  for k in $failed; do
    printf 'shard-run: worker %s/%s failed; re-run it alone with:\n  %q --only %s %s %q %s' \
      "$k" "$n" "$0" "$k" "$n" "$url" "$PATHS_Q" >&2
    [ ${#more[@]} -gt 0 ] && printf -- '-- %s' "$MORE_Q" >&2
    echo >&2
  done
  exit 1
fi
echo "shard-run: ${#workers[@]} worker(s) of $n done into $url"
