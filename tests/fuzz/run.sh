#!/bin/sh
# run.sh -- `make fuzz`: each target of tests/fuzz/ under libFuzzer for
# SECONDS, from its seeds and whatever corpus earlier runs grew.
# Usage: sh tests/fuzz/run.sh BUILD SECONDS
set -eu
B=${1:-build-fuzz}
SECS=${2:-60}
CORPUS=$B/corpus
"$B/fuzz-seeds" "$CORPUS"
failed=
for dir in "$CORPUS"/*/; do
	t=$(basename "$dir")
	mkdir -p "$B/crashes/$t"
	echo "fuzz: $t for ${SECS}s"
	if ! RG_FUZZ_TARGET=$t "$B/fuzz" -max_total_time="$SECS" \
	    -print_final_stats=1 -artifact_prefix="$B/crashes/$t/" "$dir" \
	    > "$B/fuzz-$t.log" 2>&1; then
		echo "fuzz: $t FAILED (input in $B/crashes/$t/, log $B/fuzz-$t.log)"
		tail -n 30 "$B/fuzz-$t.log"
		failed="$failed $t"
	else
		grep -E '^stat::number_of_executed_units|cov:' "$B/fuzz-$t.log" | tail -n 2
	fi
done
[ -z "$failed" ] || { echo "fuzz: failed:$failed"; exit 1; }
echo "fuzz: every target ran ${SECS}s without a failure"
