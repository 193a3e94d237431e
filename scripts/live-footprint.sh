#!/usr/bin/env bash
# Footprint of the live guard with 250 active devices (docs/guard.md, "Footprint").
#
# Builds a namespace of its own with a veth pair, runs `warden run -i wv0` in it,
# replays a 250-device capture into the other end with tcpreplay, then leaves it
# idle for 30 s. Prints peak and current RSS, CPU seconds during the replay and
# at idle, and warden's own count of kernel drops. Needs root, tcpreplay, nft.
# All traffic stays inside the namespace this script creates.
#
#   scripts/live-footprint.sh [--pps N | --topspeed]     (default --pps 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=("${@:---pps 20000}")
# shellcheck disable=SC2206
RATE=(${RATE[*]})
NS=warden-footprint
WORK=$(mktemp -d)
trap 'ip netns del $NS 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p warden -p warden-perfgen
W=target/release/warden
target/release/warden-perfgen min-frames --frames 1000000 --devices 250 --gap-us 100 "$WORK/250.pcap" >/dev/null

ip netns del $NS 2>/dev/null || true
ip netns add $NS
ip -n $NS link add wv0 type veth peer name wv1
ip -n $NS link set lo up
ip -n $NS link set wv0 up
ip -n $NS link set wv1 up

ip netns exec $NS "$W" run -i wv0 --db "$WORK/state.db" --table wfootprint \
  --router-addr 192.168.1.1 >"$WORK/out" 2>"$WORK/err" &
PID=$!
sleep 2
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
rss() { awk '/VmHWM|VmRSS/ { printf "%s %.1f MiB  ", $1, $2 / 1024 }' "/proc/$PID/status"; echo; }

c0=$(cpu); t0=$(date +%s.%N)
ip netns exec $NS tcpreplay -q -i wv1 "${RATE[@]}" "$WORK/250.pcap" >"$WORK/replay" 2>&1
c1=$(cpu); t1=$(date +%s.%N)
echo "replay ${RATE[*]}: $(secs $((c1 - c0))) s CPU over $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
rss
sleep 30
c2=$(cpu)
echo "idle 30 s: $(secs $((c2 - c1))) s CPU"
rss
kill -INT $PID
wait $PID || true
grep -E "stopping" "$WORK/err"
echo "devices stored: $("$W" device list --db "$WORK/state.db" | tail -n +2 | wc -l)"
