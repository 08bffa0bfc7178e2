#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Install the dependencies, build, fetch the models, migrate the database
# and start `proctorwise serve` on the embedded default (SQLite and files
# under ./data, listening on 127.0.0.1:8000).  Extra arguments go to serve,
# e.g. `./scripts/run.sh --listen 127.0.0.1:9000`.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

data_dir=${PW_DATA_DIR:-data}
./scripts/fetch-models.sh "$data_dir/models"
./build/proctorwise migrate --data-dir "$data_dir"
exec ./build/proctorwise serve --data-dir "$data_dir" "$@"
