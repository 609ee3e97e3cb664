#!/usr/bin/env bash
# Installs the Debian packages authbatch needs to build and test, if missing.
# Usage: scripts/deps.sh [extra-package ...]
# Runs apt-get directly as root, through sudo otherwise.
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libuv1-dev libcurl4-openssl-dev libjansson-dev libssl-dev
      libsqlite3-dev libpq-dev libcsv-dev libcmocka-dev libmicrohttpd-dev
      sqlite3 curl jq openssl ca-certificates procps python3 "$@")

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
