#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, starting from its seed corpus in
# Fuzz/Corpus/<name>/ (the target's name without "Fuzz", lower-cased), and prints executions
# per target. A crash, a leak, a timeout or an out-of-memory input fails the run; the input is
# kept as Fuzz/crashes/<target>-... to reproduce it with `BIN_DIR/<target> FILE`.
# Usage: scripts/fuzz.sh BIN_DIR [SECONDS] [TARGET ...]
set -uo pipefail
bin=${1:?usage: scripts/fuzz.sh BIN_DIR [SECONDS] [TARGET ...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 0 ]; then targets=("$@"); else
  targets=(); for d in "$root"/Fuzz/Sources/Fuzz*/; do targets+=("$(basename "$d")"); done
fi
mkdir -p "$root/Fuzz/crashes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
summary=()
for target in "${targets[@]}"; do
  name=$(echo "${target#Fuzz}" | tr '[:upper:]' '[:lower:]')
  corpus="$work/$name"
  mkdir -p "$corpus"
  [ -d "$root/Fuzz/Corpus/$name" ] && cp "$root/Fuzz/Corpus/$name"/* "$corpus"/ 2>/dev/null
  log="$work/$name.log"
  echo "== $target: $seconds s from $(ls "$corpus" | wc -l) seed inputs"
  "$bin/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$root/Fuzz/crashes/$target-" -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  if [ $status -ne 0 ]; then
    failed=1
    grep -E 'ERROR|==[0-9]+==|Fatal error|artifact_prefix|Test unit written' "$log" | head -20
    summary+=("$target: FAILED (status $status) after ${runs:-?} executions; input kept in Fuzz/crashes/")
  else
    summary+=("$target: ${runs:-?} executions (${rate:-?}/s), ${cov:-?} coverage points, no crash")
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $failed
