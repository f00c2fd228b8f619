#!/usr/bin/env bash
# hardening.sh - the binary carries the hardening the build asks for
# (CMakeLists.txt, DSMFLOW_HARDEN), checked with readelf as hardening-check does:
# a position-independent executable, full RELRO (RELRO + BIND_NOW), the stack
# protector, fortified calls (only where _FORTIFY_SOURCE applies: optimised,
# unsanitised builds), and control-flow protection notes in the objects (on
# x86; the linked binary drops the note when a system crt object lacks it).
# -fstack-clash-protection leaves no mark in the binary to check.
# Usage: hardening.sh DSMFLOW OBJECT FORTIFIED(0|1)
set -u
bin=$1 obj=$2 fortified=$3
fails=0
expect() {	# WHAT COMMAND... : the command's output must be non-empty
	local what=$1
	shift
	if [ -n "$("$@" 2>/dev/null)" ]; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fails=$((fails + 1))
	fi
}
expect "PIE (ELF type DYN, FLAGS_1 PIE)" sh -c "readelf -h '$bin' | grep -E 'Type: +DYN' && readelf -d '$bin' | grep -E 'FLAGS_1.*PIE'"
expect "RELRO segment" sh -c "readelf -lW '$bin' | grep GNU_RELRO"
expect "BIND_NOW (full RELRO)" sh -c "readelf -d '$bin' | grep -E 'BIND_NOW|FLAGS_1.*NOW'"
expect "stack protector (__stack_chk_fail)" sh -c "readelf -sW --dyn-syms '$bin' | grep __stack_chk_fail"
if [ "$fortified" = 1 ]; then
	expect "fortified calls (__*_chk)" sh -c "readelf -sW --dyn-syms '$bin' | grep -E '__(memcpy|snprintf|fprintf|memset)_chk'"
fi
case "$(uname -m)" in
x86_64 | i?86)
	expect "control-flow protection (IBT, SHSTK notes in $(basename "$obj"))" \
		sh -c "readelf -n '$obj' | grep -E 'x86 feature: .*IBT.*SHSTK'"
	;;
esac
[ "$fails" -eq 0 ] || exit 1
