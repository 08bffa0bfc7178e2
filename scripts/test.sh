#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The whole test suite, as CI runs it:
#   0. install the Debian packages (scripts/install-deps.sh);
#   1. fetch and verify the model weights the vision tests need;
#   2. install the npm packages of the API and browser (e2e) tests;
#   3. build and run unit, API and browser tests (build/);
#   4. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/);
#   5. build the libFuzzer targets with clang and run each over its seed
#      corpus plus a bounded number of new inputs (build-fuzz/).
# Set PW_TEST_QUICK=1 to skip steps 4 and 5 while developing.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

./scripts/install-deps.sh

PW_MODEL_DIR=${PW_MODEL_DIR:-$root/data/models}
export PW_MODEL_DIR
./scripts/fetch-models.sh "$PW_MODEL_DIR"

(cd tests/api && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

step() {
    printf '\n==> %s\n' "$*"
}

step "build and test (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${PW_TEST_QUICK:-0}" = 1 ]; then
    exit 0
fi

step "build and test with AddressSanitizer + UBSan (build-asan/)"
# Debug keeps assert() on; -O1 keeps whole-network vision tests fast
# enough under the sanitizers.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
    -DSANITIZE=address,undefined >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"

step "build and smoke-run the fuzz targets (build-fuzz/)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFUZZ=ON -DSANITIZE=address,undefined >/dev/null
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure -L fuzz
