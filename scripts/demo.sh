#!/usr/bin/env bash
# The main job end to end, with no vendor account: builds authbatch and the
# qys-sandbox server (a faithful local stand-in for the vendor endpoint, with
# the same signature checks), imports the sample companies, runs at a visible
# rate, then prints the summary, `status`, the failed companies and what the
# run showed. The results stay in demo/ inside the checkout (ignored by git,
# replaced by the next demo): the database and an HTML report, in English and
# in Simplified Chinese; their paths are the last lines printed.
# Usage: scripts/demo.sh   (as root or through sudo for the package install)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target authbatch qys-sandbox >/dev/null

out=$PWD/demo
rm -rf "$out"
mkdir -p "$out"
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
export AUTHBATCH_DB="$out/demo.db"
rate=40 fault_5xx=0.1 fault_429=0.03 retry_after=1

mkfifo "$work/sbx"
./build/qys-sandbox --port 0 --latency-ms 150 --jitter-ms 100 \
    --fault-5xx "$fault_5xx" --fault-429 "$fault_429" \
    --retry-after "$retry_after" >"$work/sbx" 2>"$work/sbx.log" &
sbx_pid=$!
read -r line <"$work/sbx"
url=${line#listening on }
echo "== sandbox listening on $url (10% HTTP 5xx, 3% HTTP 429 injected)"

# A few hundred companies: the six sample rows plus generated ones.
cp tests/data/sample.csv "$out/companies.csv"
for i in $(seq 1 194); do
    printf '示例企业%03d有限公司,,,申请人%03d,139%08d,MOBILE,,,\n' "$i" "$i" "$i"
done >>"$out/companies.csv"
total=$(($(wc -l <"$out/companies.csv") - 1))

echo "== import"
./build/authbatch import "$out/companies.csv"
echo "== run (rate $rate/s, 8 in flight)"
set +e
./build/authbatch run --base-url "$url" --rate "$rate" --concurrency 8 \
    --retry-base-ms 200 --retry-max-ms 2000
status=$?
set -e
echo "== exit status $status (1: some companies failed, as planned: see below)"
echo "== status"
./build/authbatch status
echo "== failed companies"
./build/authbatch report --status failed --format text |
    sed -n '/^companies with status failed/,$p' | tail -n +2

./build/authbatch report --format html --lang en -o "$out/report.html"
./build/authbatch report --format html --lang zh-CN -o "$out/report.zh-CN.html"

# What the run showed, from its row in the runs table.
./build/authbatch status --json >"$work/status.json"
read -r secs reqs throttled retried issued authed failed < <(jq -r \
    '.last_run | [.duration_s, .attempts, .throttled, .retried, .issued,
                  .already_authed, .failed] | map(tostring) | join(" ")' \
    "$work/status.json")
floor=$(awk -v n="$reqs" -v r="$rate" 'BEGIN { printf "%.1f", n / r }')
cat <<EOF
== what the run showed
- $total companies: $issued tickets issued, $authed already authenticated, $failed failed.
  The failure is planned: the sandbox refuses the sample row marked [INVALID]
  with code 1005, as the vendor refuses bad input.
- $reqs requests took $(printf '%.1f' "$secs") s; at --rate $rate they alone would take $floor s.
  The rest is the injected throttling: $throttled answers were HTTP 429 with a
  Retry-After of $retry_after s. Each pauses all sending for the Retry-After,
  and the limiter takes the throttling as a sign of the vendor's unpublished
  limit: it lowers its rate to what was accepted, then probes upward again.
  That is how authbatch stays under a limit it cannot see, at the cost of
  seconds (the demo's throttles are random, not a real limit).
- $retried requests were retries: the HTTP 5xx answers (10% injected) asked
  again with backoff. Every company ended with an answer; nothing was lost.
Open the reports in a browser (the second one is in Simplified Chinese), or
look at the database: ./build/authbatch --db demo/demo.db status
EOF
echo "database:    $out/demo.db"
echo "HTML report: $out/report.html (Chinese: $out/report.zh-CN.html)"
