#!/usr/bin/env bash
# The main job end to end on sample data (the engine issue extends this to a
# full run against the sandbox server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/demo.db"
./build/authbatch --db "$db" import tests/data/sample.csv || true
./build/authbatch --db "$db" status
