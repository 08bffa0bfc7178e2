#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Install the Debian 12 packages ProctorWise builds, runs and tests with.
# Idempotent: apt-get skips what is already installed.  Runs apt-get through
# sudo when not root.

set -eu

packages="
    build-essential cmake pkg-config clang libclang-rt-14-dev
    libmicrohttpd-dev libwslay-dev libjansson-dev libsodium-dev libjwt-dev
    libsqlite3-dev sqlite3 libturbojpeg0-dev libxnnpack-dev
    libpthreadpool-dev libcurl4-openssl-dev libcmocka-dev
    ca-certificates chromium
"

# Node.js runs the API tests and fetches the model weights with npm.  Keep
# an installed Node.js (it may come from another source than Debian).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages="$packages nodejs npm"
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
else
    sudo="sudo"
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "installing:$missing"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi
