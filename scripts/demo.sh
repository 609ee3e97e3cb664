#!/usr/bin/env bash
# The main job end to end, with no vendor account: builds authbatch and the
# qys-sandbox server (a faithful local stand-in for the vendor endpoint, with
# the same signature checks), imports the sample companies, runs at a visible
# rate, then prints the summary, `status` and a short report.
# Usage: scripts/demo.sh   (as root or through sudo for the package install)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target authbatch qys-sandbox >/dev/null

work=$(mktemp -d)
sbx_pid=
cleanup() {
    [ -n "$sbx_pid" ] && kill "$sbx_pid" 2>/dev/null && wait "$sbx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Demo credentials, shared with the sandbox through the environment: never
# on a command line.
export QYS_ACCESS_TOKEN=demo-token QYS_ACCESS_SECRET=demo-secret
export AUTHBATCH_DB="$work/demo.db"

mkfifo "$work/sbx"
./build/qys-sandbox --port 0 --latency-ms 150 --jitter-ms 100 \
    --fault-5xx 0.1 --fault-429 0.03 >"$work/sbx" 2>"$work/sbx.log" &
sbx_pid=$!
read -r line <"$work/sbx"
url=${line#listening on }
echo "== sandbox listening on $url (10% HTTP 5xx, 3% HTTP 429 injected)"

# A few hundred companies: the six sample rows plus generated ones.
cp tests/data/sample.csv "$work/companies.csv"
for i in $(seq 1 194); do
    printf '示例企业%03d有限公司,,,申请人%03d,139%08d,MOBILE,,,\n' "$i" "$i" "$i"
done >>"$work/companies.csv"

echo "== import"
./build/authbatch import "$work/companies.csv"
echo "== run (rate 40/s, 8 in flight)"
set +e
./build/authbatch run --base-url "$url" --rate 40 --concurrency 8 \
    --retry-base-ms 200 --retry-max-ms 2000
status=$?
set -e
echo "== exit status $status (1: some companies failed, as planned: see below)"
echo "== status"
./build/authbatch status
echo "== failed companies"
./build/authbatch report --status failed --format text | tail -n 12
echo "== done; a full HTML report: authbatch --db DB report --format html -o report.html"
