#!/usr/bin/env bash
# Whole-process throughput and peak memory of `warden analyze --json`, beside
# the tools a user would otherwise reach for, on the same captures, pinned to
# one core. The figures go into docs/performance.md.
#
#   scripts/perf.sh                 # everything (about 15 minutes)
#   PERF_DIR=/var/tmp/perf RUNS=10 scripts/perf.sh
#   CAPTURES="min mixed" TOOLS="warden tcpdump" scripts/perf.sh
#
# Environment:
#   PERF_DIR   where captures and results go (default: a new temp dir); captures
#              already there are reused, so a second run skips generation
#   RUNS       timed runs per command under hyperfine (default 5)
#   SLOW_S     a command whose first run takes longer than this many seconds
#              is timed once, not RUNS times (default 20)
#   CORE       the CPU every command is pinned to (default 0)
#   CAPTURES   any of: min mixed random-macs (default all)
#   TOOLS      any of: warden tcpdump tshark tshark-conv nfpcapd argus p0f
#              (default all)
#
# Besides wall time it reports CPU seconds (user + system): on a shared machine
# a wall time well above the CPU time means the core was busy with something
# else, and the run should be repeated.
#
# Needs hyperfine, GNU time, tcpdump, tshark, nfdump, argus-server and p0f
# (Debian packages); run as root it installs those that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

RUNS=${RUNS:-5}
SLOW_S=${SLOW_S:-20}
CORE=${CORE:-0}
CAPTURES=${CAPTURES:-"min mixed random-macs"}
TOOLS=${TOOLS:-"warden tcpdump tshark tshark-conv nfpcapd argus p0f"}
PERF_DIR=${PERF_DIR:-$(mktemp -d /tmp/warden-perf.XXXXXX)}
mkdir -p "$PERF_DIR"
PERF_DIR=$(cd "$PERF_DIR" && pwd)

# --- tools ------------------------------------------------------------------
missing=()
for pair in hyperfine:hyperfine time:/usr/bin/time tcpdump:tcpdump tshark:tshark \
  nfdump:nfpcapd argus-server:argus p0f:p0f; do
  pkg=${pair%%:*} cmd=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "--- installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: missing packages: ${missing[*]} (apt-get install them)" >&2
    exit 1
  fi
fi

# --- build and captures ------------------------------------------------------
echo "--- building (release)"
cargo build --release -q -p warden -p warden-perfgen
warden=$root/target/release/warden
perfgen=$root/target/release/warden-perfgen

gen() { # name, perfgen arguments...
  local name=$1
  shift
  if [ ! -s "$PERF_DIR/$name.pcap" ] || [ ! -s "$PERF_DIR/$name.meta" ]; then
    echo "--- generating $name.pcap"
    "$perfgen" "$@" "$PERF_DIR/$name.pcap" >"$PERF_DIR/$name.meta"
  fi
}
for c in $CAPTURES; do
  case $c in
  min) gen min min-frames ;;
  mixed) gen mixed mixed --sentinel "$root/../shared/data/iot-sentinel" ;;
  random-macs) gen random-macs random-macs ;;
  *) echo "unknown capture $c" >&2 && exit 1 ;;
  esac
done

# --- commands ----------------------------------------------------------------
nfdir=$PERF_DIR/nfpcapd.out
command_for() { # tool, capture file -> the command line (stdout is discarded)
  local f=$2
  case $1 in
  warden) echo "$warden analyze --json $f" ;;
  tcpdump) echo "tcpdump -q -r $f -w /dev/null" ;;
  tshark) echo "tshark -r $f -q" ;;
  tshark-conv) echo "tshark -r $f -q -z conv,ip" ;;
  nfpcapd) echo "nfpcapd -r $f -w $nfdir" ;;
  argus) echo "argus -r $f -w /dev/null" ;;
  p0f) echo "p0f -r $f" ;;
  *) echo "unknown tool $1" >&2 && exit 1 ;;
  esac
}
prepare_for() {
  case $1 in
  # hyperfine -N splits this into words itself: one quoted shell command.
  nfpcapd) echo "bash -c 'rm -rf $nfdir && mkdir -p $nfdir'" ;;
  *) echo "true" ;;
  esac
}

results=$PERF_DIR/results.tsv
printf 'capture\tframes\tbytes\ttool\truns\tmean_s\tstddev_s\tmin_s\tcpu_s\tpps\tpeak_rss_kb\n' >"$results"

echo "--- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; pinned to CPU $CORE"
for c in $CAPTURES; do
  f=$PERF_DIR/$c.pcap
  frames=$(sed -n 's/.* frames=\([0-9]*\).*/\1/p' "$PERF_DIR/$c.meta")
  bytes=$(stat -c %s "$f")
  echo "--- $c.pcap: $frames frames, $bytes bytes"
  cat "$f" >/dev/null # into the page cache
  cat "$f" >/dev/null
  for t in $TOOLS; do
    cmd=$(command_for "$t" "$f")
    prep=$(prepare_for "$t")
    # One run under GNU time: peak RSS, and whether the tool is slow.
    eval "$prep"
    /usr/bin/time -f '%e %M %U %S' -o "$PERF_DIR/time.out" taskset -c "$CORE" $cmd >/dev/null 2>"$PERF_DIR/$c.$t.stderr" || {
      echo "    $t failed (see $PERF_DIR/$c.$t.stderr)"
      continue
    }
    read -r first_s rss_kb user_s sys_s <"$PERF_DIR/time.out"
    if awk -v s="$first_s" -v lim="$SLOW_S" 'BEGIN { exit !(s > lim) }'; then
      runs=1 mean=$first_s sd=0 min=$first_s
      cpu=$(awk -v u="$user_s" -v s="$sys_s" 'BEGIN { print u + s }')
    else
      runs=$RUNS
      hyperfine -N --style none --warmup 1 --runs "$RUNS" --output null \
        --prepare "$prep" --export-json "$PERF_DIR/$c.$t.json" \
        "taskset -c $CORE $cmd" >/dev/null 2>&1 || {
        echo "    $t failed under hyperfine"
        continue
      }
      read -r mean sd min cpu < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["mean"], r["stddev"] or 0, r["min"], r["user"] + r["system"])' "$PERF_DIR/$c.$t.json")
    fi
    pps=$(awk -v n="$frames" -v s="$mean" 'BEGIN { printf "%.0f", n / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\n' "$c" "$frames" "$bytes" "$t" "$runs" \
      "$mean" "$sd" "$min" "$cpu" "$pps" "$rss_kb" >>"$results"
    printf '    %-12s %8.3f s (±%.3f, %d runs, %.3f s CPU) %12s pps %9s KB peak RSS\n' "$t" "$mean" "$sd" \
      "$runs" "$cpu" "$(printf "%'d" "$pps")" "$rss_kb"
  done
done

# --- verdicts ----------------------------------------------------------------
python3 - "$results" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
get = lambda c, t: next((r for r in rows if r["capture"] == c and r["tool"] == t), None)
print("\n| capture | tool | runs | seconds (mean ± sd) | CPU seconds | packets/s | peak RSS |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['capture']} | {r['tool']} | {r['runs']} | {float(r['mean_s']):.3f} ± {float(r['stddev_s']):.3f}"
          f" | {float(r['cpu_s']):.3f} | {int(r['pps']):,} | {int(r['peak_rss_kb']) / 1024:.1f} MiB |")
w = get("min", "warden")
if w:
    mpps = int(w["pps"]) / 1e6
    print(f"\nmin-size frames: warden {mpps:.2f} Mpps on one core (target >= 5): {'PASS' if mpps >= 5 else 'FAIL'}")
w, t = get("mixed", "warden"), get("mixed", "tcpdump")
if w and t:
    ratio = float(w["mean_s"]) / float(t["mean_s"])
    print(f"mixed: warden takes {ratio:.2f}x tcpdump's time (target <= 2): {'PASS' if ratio <= 2 else 'FAIL'}")
for c in ("min", "mixed", "random-macs"):
    w = get(c, "warden")
    if not w:
        continue
    others = [(r["tool"], float(r["mean_s"]) / float(w["mean_s"])) for r in rows
              if r["capture"] == c and r["tool"] not in ("warden", "tcpdump", "tshark")]
    if others:
        print(f"{c}: peers take " + ", ".join(f"{t} {x:.1f}x" for t, x in others) + " warden's time")
EOF
echo "--- results: $results"
