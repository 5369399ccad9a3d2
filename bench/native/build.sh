#!/usr/bin/env bash
# Build the C reference client (bench/native/cpgbench.c) into $1 (default: bench/native/build/cpgbench).
# Needs gcc and libcpg-dev (Debian/Ubuntu: apt-get install libcpg-dev). Rebuilds only when the
# source is newer than the binary. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/build/cpgbench}"
src="$here/cpgbench.c"
if [[ ! -f /usr/include/corosync/cpg.h ]]; then
  echo "build.sh: /usr/include/corosync/cpg.h is missing: install libcpg-dev (apt-get install libcpg-dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
if [[ ! -x "$out" || "$src" -nt "$out" ]]; then
  gcc -O2 -Wall -Wextra -std=c11 -o "$out.tmp" "$src" -lcpg
  mv "$out.tmp" "$out"
fi
echo "$out"
