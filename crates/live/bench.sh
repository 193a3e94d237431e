#!/usr/bin/env bash
# Live-capture benchmark (docs/live-capture.md). Needs root and iproute2;
# tcpreplay for the tcpreplay rows (apt-get install tcpreplay).
#
# Two namespaces joined by a veth pair: the sender in one (pinned to CPU 0),
# warden's live capture in the other (pinned to CPU 1). Traffic stays on
# that veth pair. Usage: crates/live/bench.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
TAG=wlb$$
S=${TAG}s R=${TAG}r
cleanup() { ip netns del "$S" 2>/dev/null || true; ip netns del "$R" 2>/dev/null || true; rm -f "/tmp/$TAG".*.pcap; }
trap cleanup EXIT
ip netns add "$S"; ip netns add "$R"
ip link add "${TAG}a" netns "$S" type veth peer name "${TAG}b" netns "$R"
ip -n "$S" link set "${TAG}a" up; ip -n "$R" link set "${TAG}b" up

cargo build -q --release -p warden-live --example live_bench
B=target/release/examples/live_bench
send() { ip netns exec "$S" taskset -c 0 "$B" send "${TAG}a" "$SECS" "$1" "$2"; }
recv() { ip netns exec "$R" taskset -c 1 "$B" recv "${TAG}b" "$((SECS + 1))" "$@"; }
rx() { ip netns exec "$R" cat "/sys/class/net/${TAG}b/statistics/rx_packets"; }

for SET in min mixed; do
  echo "=== $SET frames"
  # The veth's own limit: nothing captures; the receiving side only counts.
  a=$(rx); send 0 "$SET"; b=$(rx)
  echo "veth alone: $(( (b - a) / SECS )) frames/s received"
  for MODE in capture pipeline; do
    P=$([ "$MODE" = pipeline ] && echo pipeline || true)
    for RING in $((4 << 20)) $((32 << 20)); do
      echo "--- full speed, $MODE, ring $((RING >> 20)) MiB"
      recv "$RING" $P & sleep 0.5; send 0 "$SET"; wait
    done
    for PPS in 100000 200000 300000 400000 500000 600000 800000 1000000; do
      echo "--- $PPS frames/s, $MODE, ring 4 MiB"
      recv $((4 << 20)) $P & sleep 0.5; send "$PPS" "$SET"; wait
    done
  done
  if command -v tcpreplay >/dev/null; then
    "$B" pcap "/tmp/$TAG.$SET.pcap" 1000000 "$SET"
    echo "--- tcpreplay --topspeed, pipeline, ring 4 MiB"
    ip netns exec "$R" taskset -c 1 "$B" recv "${TAG}b" 15 $((4 << 20)) pipeline & sleep 0.5
    ip netns exec "$S" taskset -c 0 tcpreplay -q -K --topspeed -i "${TAG}a" "/tmp/$TAG.$SET.pcap" 2>&1 | grep -E "Actual|Rated" || true
    wait
  fi
done
