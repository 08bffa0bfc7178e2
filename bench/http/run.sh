#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# HTTP benchmark: starts proctorwise on a free port of 127.0.0.1 with a
# temporary data directory, registers and logs in one student, then runs wrk
# against GET /healthz (the baseline: routing and response only) and an
# authenticated GET /users/me (JWT verified, one SQLite read) side by side,
# and prints requests/s, p50 and p99 latency, and each figure's ratio to the
# baseline.  Never part of the tests.
#
# usage: bench/http/run.sh [BINARY] [SECONDS] [CONNECTIONS] [THREADS]

set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/proctorwise}
seconds=${2:-10}
connections=${3:-64}
threads=${4:-2}

command -v wrk >/dev/null || { echo "error: wrk not found: apt-get install wrk" >&2; exit 1; }
[ -x "$bin" ] || { echo "error: no binary at $bin: build first" >&2; exit 1; }

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# The users service alone: both routes are served by it, and it needs no
# model weights.
PW_LOG_LEVEL=warn "$bin" serve --service users --listen "127.0.0.1:$port" \
    --data-dir "$data" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT INT TERM

tries=0
until curl -sf "$base/healthz" >/dev/null; do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || { echo "error: server did not start" >&2; exit 1; }
    sleep 0.1
done

curl -sf -X POST "$base/users/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.org","password":"bench passphrase 123","full_name":"Bench"}' >/dev/null
token=$(curl -sf -X POST "$base/users/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.org","password":"bench passphrase 123"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Print "requests/s p50_ms p99_ms" from wrk --latency output.
measure() {
    wrk -t "$threads" -c "$connections" -d "${seconds}s" --latency "$@" |
        awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            return v
        }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%s %s %s\n", rps, p50, p99 }'
}

set -- $(measure "$base/healthz")
h_rps=$1 h_p50=$2 h_p99=$3
set -- $(measure -H "Authorization: Bearer $token" "$base/users/me")
m_rps=$1 m_p50=$2 m_p99=$3

echo "wrk: $threads threads, $connections connections, ${seconds}s each; $(nproc) cores"
printf '%-28s %12s %10s %10s\n' "route" "requests/s" "p50 ms" "p99 ms"
printf '%-28s %12.0f %10.3f %10.3f\n' "GET /healthz (baseline)" "$h_rps" "$h_p50" "$h_p99"
printf '%-28s %12.0f %10.3f %10.3f\n' "GET /users/me (JWT + SQL)" "$m_rps" "$m_p50" "$m_p99"
awk -v a="$m_rps" -v b="$h_rps" -v c="$m_p99" -v d="$h_p99" \
    'BEGIN { printf "ratio /users/me : /healthz   throughput %.2f, p99 %.2f\n", a / b, c / d }'
