#!/usr/bin/env bash
# plain_build.sh - `cmake -S . -B DIR` with no option configures the program
# alone: no cmocka looked for, no test, generator or benchmark target; the
# manual page and the units are part of it. (Configures only: the build
# itself is every other test's.)
# Usage: plain_build.sh SOURCE_DIR
set -u
src=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
if ! cmake -S "$src" -B "$dir" >"$dir/configure.log" 2>&1; then
	echo "FAIL: a plain configure failed:"; tail -20 "$dir/configure.log"; exit 1
fi
targets=$(cmake --build "$dir" --target help 2>/dev/null)
for absent in CMOCKA_LIBRARY; do
	grep -q "^$absent" "$dir/CMakeCache.txt" && { echo "FAIL: a plain configure looked for $absent"; fails=$((fails + 1)); }
done
for absent in test_engine pcapgen benchgen floor nfq_accept; do
	grep -qw "$absent" <<<"$targets" && { echo "FAIL: a plain configure has the target $absent"; fails=$((fails + 1)); }
done
for present in dsmflow manpage; do
	grep -qw "$present" <<<"$targets" || { echo "FAIL: a plain configure lacks the target $present"; fails=$((fails + 1)); }
done
[ -f "$dir/systemd/dsmflow-live@.service" ] || { echo "FAIL: no unit configured"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] && echo "plain_build: the program alone, with its manual page and units"
[ "$fails" -eq 0 ]
