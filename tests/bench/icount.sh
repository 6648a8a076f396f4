#!/bin/sh
# icount.sh -- instructions per exchange in the keeper and the front, under
# callgrind: a count that does not move with the other work on the machine,
# unlike the wall clock of `make bench`. A fresh demo gateway (sandbox = off:
# valgrind cannot run inside the seccomp filter) is warmed up with one
# loadgen run, then loadgen sends exactly N signed requests of the bench mix
# (closed loop, a fixed pool, no time limit). A GET /healthz before and
# after marks the interval: callgrind dumps the keeper's counts (and starts
# afresh) each time it enters rg_healthz, so the keeper's second dump holds
# exactly the measured requests. The front is counted over its whole life,
# per request it carried. Traffic goes to 127.0.0.1 only.
# Usage: BUILD=build N=2000 CONNS=16 sh tests/bench/icount.sh
# Prints one line per process/thread (Ir, Ir per exchange) and keeps the
# callgrind files in $OUT (default a temp dir) for callgrind_annotate.
set -eu

BUILD=${BUILD:-build}
N=${N:-2000}
CONNS=${CONNS:-16}
MIX=${MIX:-submit=50,read_own=15,read_uncond=15,read_grant=10,changes=10}
LG=$BUILD/loadgen
for t in valgrind callgrind_control curl; do
	command -v $t > /dev/null || { echo "icount.sh: $t missing" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/recgate-icount.XXXXXX)
OUT=${OUT:-$TMP/cg}
mkdir -p "$OUT"
GW_PID=
cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	rm -rf "$TMP/p"
}
trap cleanup EXIT INT TERM

mkdir -p "$TMP/p"
DEMO=$TMP/p/demo
"$BUILD/recgatectl" init --demo "$DEMO" > /dev/null
echo "sandbox = off" >> "$DEMO/recgate.conf"
valgrind -q --tool=callgrind --separate-threads=yes \
    --dump-before=rg_healthz \
    --callgrind-out-file="$OUT/cg.%p" \
    "$BUILD/recgated" -c "$DEMO/recgate.conf" --listen 127.0.0.1:0 \
    > "$TMP/gw.out" 2> "$TMP/gw.err" &
GW_PID=$!
PORT=
i=0
while [ $i -lt 600 ] && [ -z "$PORT" ]; do
	PORT=$(sed -n 's|^recgated: listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/gw.out")
	[ -n "$PORT" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$PORT" ] || { cat "$TMP/gw.err" >&2; exit 1; }
KEEPER=
FRONT=
for c in $(ps -o pid= --ppid "$GW_PID"); do
	if ls -l "/proc/$c/fd" 2>/dev/null | grep -q 'recgate\.db$'; then KEEPER=$c; else FRONT=$c; fi
done
health() { curl -s "http://127.0.0.1:$PORT/healthz"; }
field() { echo "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

load() { # pool size
	"$LG" closed --port "$PORT" --dir "$DEMO" --conns "$CONNS" --seconds 600 \
	    --seed 8 --pool "$1" --mix "$MIX" --label icount > "$TMP/load.json" \
	    2> "$TMP/load.err" || { cat "$TMP/load.err" >&2; exit 1; }
}
load 300
H0=$(health)
load "$N"
H1=$(health)
kill "$GW_PID"
wait "$GW_PID" || true
GW_PID=
EX=$(( $(field audit_size "$H1") - $(field audit_size "$H0") ))
BATCHES=$(( $(field batches "$H1") - $(field batches "$H0") ))
REQS=$(field requests "$H1")
echo "exchanges $EX (audit entries), batches $BATCHES, conns $CONNS, mix $MIX"
sed -n 's/.*"ok":\([0-9]*\).*"errors_status":\([0-9]*\).*/loadgen: ok \1, errors \2/p' "$TMP/load.json"
irof() { sed -n 's/^summary: \([0-9]*\).*/\1/p' "$1"; }
# The keeper's dump 2 is the measured interval, of its main thread.
for f in "$OUT"/cg."$KEEPER".2-*; do
	ir=$(irof "$f")
	echo "keeper $(basename "$f"): Ir $ir, per exchange $((ir / EX))"
done
# The keeper's other threads are dumped once, at the end: their whole
# life, per signed request the keeper took in that life. Each is named by
# the function it runs. Valgrind runs one thread at a time, so the share
# of verifications the keeper's thread takes itself (preverify.c) is far
# larger here than natively: compare the sum, not the split.
AUDIT=$(field audit_size "$H1")
for f in "$OUT"/cg."$KEEPER"-0[2-9]; do
	[ -f "$f" ] || continue
	ir=$(irof "$f")
	what=thread
	grep -q 'rg_pv_main' "$f" && what="verification helper"
	grep -q 'rg_finisher_main' "$f" && what="finisher (sync, receipts)"
	grep -q 'rg_ckpt_main' "$f" && what="background checkpointer"
	echo "keeper $what $(basename "$f") (whole life, $AUDIT entries): Ir $ir, per entry $((ir / AUDIT))"
done
for f in "$OUT"/cg."$FRONT"-*; do
	ir=$(irof "$f")
	echo "front $(basename "$f") (whole life, $REQS requests): Ir $ir, per request $((ir / REQS))"
done
echo "files: $OUT"
