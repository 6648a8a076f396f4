#!/bin/sh
# profile.sh -- where the gateway's time goes under the closed-loop mix of
# `make bench`: a fresh demo gateway (sandbox on: perf samples it from
# outside), tests/bench/loadgen driving it over loopback, `perf record` on
# the front and the keeper (cpu-clock: it works in VMs without hardware
# counters) and, where strace exists, the keeper's system calls counted.
# Prints the reports; tests/bench/results/profile.md is read from them.
# Usage: BUILD=build sh tests/bench/profile.sh   (about 30 s)
set -eu

BUILD=${BUILD:-build}
LG=$BUILD/loadgen
SECS=${PROFILE_SECONDS:-5}
command -v perf > /dev/null || { echo "profile.sh: perf missing (apt-get install linux-perf)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/recgate-profile.XXXXXX)
GW_PID=
LG_PID=
cleanup() {
	[ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null && wait "$LG_PID" 2>/dev/null
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir -p "$TMP/p"
DEMO=$TMP/p/demo
"$BUILD/recgatectl" init --demo "$DEMO" > /dev/null
"$BUILD/recgated" -c "$DEMO/recgate.conf" --listen 127.0.0.1:0 > "$TMP/gw.out" 2> "$TMP/gw.err" &
GW_PID=$!
PORT=
i=0
while [ $i -lt 100 ] && [ -z "$PORT" ]; do
	PORT=$(sed -n 's|^recgated: listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/gw.out")
	[ -n "$PORT" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$PORT" ] || { cat "$TMP/gw.err" >&2; exit 1; }
sleep 0.5
KEEPER=
FRONT=
for c in $(ps -o pid= --ppid "$GW_PID"); do
	if ls -l "/proc/$c/fd" 2>/dev/null | grep -q 'recgate\.db$'; then KEEPER=$c; else FRONT=$c; fi
done
echo "monitor $GW_PID front $FRONT keeper $KEEPER port $PORT"

"$LG" closed --port "$PORT" --dir "$DEMO" --pid "$GW_PID" --conns 64 \
    --seconds $((SECS * 2 + 6)) --seed 32 --pool 150000 \
    --mix submit=50,read_own=15,read_uncond=15,read_grant=10,changes=10 \
    --label profile > "$TMP/load.json" 2> "$TMP/load.err" &
LG_PID=$!
i=0 # the pool is signed first: wait for the timed phase, then warm up
while [ $i -lt 600 ] && ! grep -q 'timed phase starts' "$TMP/load.err"; do
	sleep 0.1
	i=$((i + 1))
done
sleep 1
perf record -q -e cpu-clock -F 1999 --call-graph dwarf,16384 -o "$TMP/perf.data" \
    -p "$KEEPER,$FRONT" -- sleep "$SECS" > /dev/null 2>&1
if command -v strace > /dev/null; then
	timeout "$SECS" strace -qq -c -S calls -p "$KEEPER" -o "$TMP/strace.txt" || true
fi
wait "$LG_PID" || true
LG_PID=

echo "== load during the profile"
cat "$TMP/load.json"
echo "== samples by process and library"
perf report -i "$TMP/perf.data" --stdio --no-children --sort pid,dso -g none 2>/dev/null |
    grep '%' | head -n 20
echo "== inclusive time (children) by function, recgate's own and the libraries' entry points"
perf report -i "$TMP/perf.data" --stdio --children --sort sym -g none 2>/dev/null |
    grep '%' | grep -v '\] 0x0000' | head -n 120
echo "== self time by function"
perf report -i "$TMP/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
    grep '%' | head -n 40
echo "== each sample charged to the innermost recgate function (rg_*) on its stack, by the library it was in"
# perf script prints each sample's stack, innermost frame first; a blank
# line ends it. Library internals have no symbols: their callers name them.
perf script -i "$TMP/perf.data" -F comm,pid,ip,sym,dso 2>/dev/null | awk '
	function flush() {
		if (n > 0) {
			key = sprintf("%-28s %s", lib, fn == "" ? "(no rg_ frame)" : fn)
			count[key]++
			total++
		}
		n = 0; fn = ""; lib = ""
	}
	/^[[:space:]]*$/ { flush(); next }
	/^[^[:space:]]/ { flush(); next }
	{
		n++
		d = $NF; gsub(/[()]/, "", d); sub(/.*\//, "", d)
		if (n == 1) lib = d
		if (fn == "" && $2 ~ /^rg_/) { f = $2; sub(/\+0x.*/, "", f); fn = f }
	}
	END {
		flush()
		for (k in count) printf "%6.2f%%  %s\n", 100 * count[k] / total, k
	}' | sort -rn | head -n 60
echo "== the gateway's messages"
cat "$TMP/gw.err" "$TMP/load.err"
if [ -s "$TMP/strace.txt" ]; then
	echo "== the keeper's system calls over ${SECS}s (strace -c, slows it down)"
	cat "$TMP/strace.txt"
fi
