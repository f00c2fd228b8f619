#!/usr/bin/env bash
# banned.sh - src/ uses none of the calls the house style bans (curl's list):
# unbounded string calls, atoi and the scanf family (no error report), and
# assert (an abort, often on packet data, compiled out under NDEBUG).
# Usage: banned.sh SOURCE_DIR
set -u
found=$(grep -nE '\b(strcat|strcpy|sprintf|vsprintf|gets|atoi|atol|atoll|scanf|fscanf|sscanf|vscanf|vsscanf|assert)[[:space:]]*\(' \
	"$1"/src/*.c "$1"/src/*.h "$1"/include/dsmflow/*.h | grep -vE '\b(snprintf|vsnprintf|_Static_assert)\(')
if [ -n "$found" ]; then
	echo "FAIL: banned calls in src/:"
	echo "$found"
	exit 1
fi
echo "banned: none of strcat strcpy sprintf gets atoi scanf assert in src/"
