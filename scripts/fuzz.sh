#!/usr/bin/env bash
# Fuzz warden's decoders with cargo-fuzz (libFuzzer). See docs/fuzzing.md.
#
#   scripts/fuzz.sh                  every target for 60 s
#   scripts/fuzz.sh --seconds 20     the short CI run
#   scripts/fuzz.sh --target dns_message --seconds 600
#
# Installs cargo-fuzz if missing, writes seed corpora from the real captures
# (../shared/data/iot-sentinel), builds the targets once, then runs each
# target for the given time. Exits non-zero if any target finds a
# crash, panic, timeout or out-of-memory, after printing the path of the
# input that caused it.
# Works on the stable toolchain: cargo-fuzz needs nightly flags, which
# RUSTC_BOOTSTRAP=1 allows.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(decode_frame capture_file identify_payload dns_message pipeline_frames model_parse feed_envelope mud_import mud_signature report_parse)
seconds=60
targets=()
sanitizer=none
data=../shared/data/iot-sentinel
seed=1
# Pinned so a CI run today and next year fuzz with the same tool.
cargo_fuzz_version=0.13.2

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  --seconds N        time per target (default $seconds)
  --target NAME      run only this target (repeatable): ${ALL_TARGETS[*]}
  --sanitizer S      none (default) or address; see docs/fuzzing.md
  --data DIR         captures to seed from (default $data)
  --no-seed          keep the corpora as they are
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --target) targets+=("${2:?--target needs a value}"); shift 2 ;;
    --target=*) targets+=("${1#*=}"); shift ;;
    --sanitizer) sanitizer="${2:?--sanitizer needs a value}"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    --data) data="${2:?--data needs a value}"; shift 2 ;;
    --data=*) data="${1#*=}"; shift ;;
    --no-seed) seed=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*|0) echo "error: --seconds wants a positive whole number" >&2; exit 2 ;; esac
case "$sanitizer" in none|address) ;; *) echo "error: --sanitizer is none or address" >&2; exit 2 ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "error: no target $t (${ALL_TARGETS[*]})" >&2; exit 2; }
done

export RUSTC_BOOTSTRAP=1
started=$(date +%s)
# Section headers carry the seconds since the start, to see where time goes.
section() { echo "--- [$(( $(date +%s) - started ))s] $*"; }

section "tools"
# libfuzzer-sys compiles libFuzzer from C++ source.
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null && ! command -v clang++ >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq g++
  else
    echo "error: a C++ compiler (g++ or clang++) is needed to build libFuzzer" >&2
    exit 1
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
cargo fuzz --version

if [ "$seed" = 1 ]; then
  section "seed corpora from $data"
  if [ ! -d "$data" ]; then
    echo "error: $data is missing (use --data DIR, or --no-seed to fuzz from empty corpora)" >&2
    exit 1
  fi
  # A plain debug build (the fuzz build's instrumented code only links into
  # libFuzzer targets): it reads a few MB, and builds faster than release.
  CARGO_PROFILE_DEV_DEBUG=0 cargo run -q --manifest-path fuzz/Cargo.toml --example seed_corpus -- "$data" fuzz/corpus
fi

section "build (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"

logs=fuzz/artifacts/logs
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  section "$t: ${seconds}s"
  log="$logs/$t.log"
  mkdir -p "fuzz/corpus/$t"
  set +e
  cargo fuzz run -s "$sanitizer" "$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  # The last status line: "#N DONE cov: C ft: F corp: K/S ... exec/s: E ...".
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$status")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed+=("$t")
    grep -E 'panicked at|^SUMMARY|ERROR: libFuzzer' "$log" | head -n 5 || true
    grep -E 'Test unit written to' "$log" | sed 's/.*Test unit written to /artifact: /' || true
    echo "log: $log"
    echo "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer $t <artifact>"
  fi
  line=$(printf '%-18s runs %-10s exec/s %-7s cov %-6s ft %-7s corpus %-6s %s' \
    "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")
  echo "$line"
  summary+=("$line")
done

section "summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "error: fuzzing found problems in: ${failed[*]} (artifacts under fuzz/artifacts/, logs under $logs/)" >&2
  exit 1
fi
