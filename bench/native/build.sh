#!/usr/bin/env bash
# Build the C reference client (bench/native/cpgbench.c) into $1 (default: bench/native/build/cpgbench).
# Needs gcc and libcpg-dev (Debian/Ubuntu: apt-get install gcc libcpg-dev); as root with apt-get,
# installs the missing ones. Rebuilds only when the source is newer than the binary. Prints the
# binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/build/cpgbench}"
src="$here/cpgbench.c"
missing=()
command -v gcc >/dev/null || missing+=(gcc)
[[ -f /usr/include/corosync/cpg.h ]] || missing+=(libcpg-dev)
# As root with apt-get (a fresh machine running `npm test`), install what is missing, the way
# scripts/cluster installs corosync. apt-get's output goes to stderr: stdout is the binary's path.
if ((${#missing[@]})) && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "build.sh: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; } || true
fi
if ! command -v gcc >/dev/null || [[ ! -f /usr/include/corosync/cpg.h ]]; then
  echo "build.sh: needs gcc and /usr/include/corosync/cpg.h: install gcc and libcpg-dev (apt-get install gcc libcpg-dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
if [[ ! -x "$out" || "$src" -nt "$out" ]]; then
  gcc -O2 -Wall -Wextra -std=c11 -o "$out.tmp" "$src" -lcpg
  mv "$out.tmp" "$out"
fi
echo "$out"
