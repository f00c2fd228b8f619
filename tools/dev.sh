#!/usr/bin/env bash
# dev.sh - set-up, build and run for a fresh Debian 12 machine (as root).
#
#   tools/dev.sh demo   install what is missing, build, run dsmflow on pcaps/
#   tools/dev.sh test   install what is missing, build with gcc and clang,
#                       each plain and with AddressSanitizer+UBSan, and run
#                       the whole test suite in all four builds
#   tools/dev.sh build  install the build dependencies and build only
#   tools/dev.sh bench [BASELINE_REV]
#                       install what the benchmarks compare with, build
#                       (Release), run bench/run.py and bench/sensor_rates.py;
#                       with a git revision, also build dsmflow as it was
#                       then (in build-baseline/) and report the cost over it
#   tools/dev.sh fuzz [SECONDS]
#                       build the libFuzzer harnesses of tests/fuzz with clang
#                       and run each for SECONDS (default 60)
#
# Builds go to build/ (RelWithDebInfo) and build-asan/; clang's to
# build-clang/ and build-clang-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."

build_packages=(cmake make gcc pkg-config libpcap-dev libnetfilter-queue-dev libmnl-dev uthash-dev
	libcmocka-dev libmicrohttpd-dev libseccomp-dev scdoc)
# tshark/capinfos/dumpcap cross-check packet counts; python3 drives the
# capture and sensor tests; prometheus (with promtool) scrapes the sensors;
# iproute2, iptables, procps (sysctl) and curl build and use the test hosts;
# clang (with its sanitizer runtimes) makes the second pair of builds;
# tcpreplay replays a SYN flood into a live sensor's link; nftables loads
# the audit's firewall proposal into a test NAS; chromium renders its web page.
# valgrind and time (GNU) serve the benchmark's smoke run. The package test
# builds the .deb (dpkg-dev's dpkg-shlibdeps, file), checks it (lintian),
# installs it in a Debian 12 root (debootstrap, cached in
# /var/cache/dsmflow-tests) and boots that with systemd (systemd-container's
# systemd-nspawn); man-db renders the manual page for its test.
test_packages=(tshark python3 prometheus iproute2 iptables procps curl valgrind time clang
	libclang-rt-dev tcpreplay nftables chromium dpkg-dev file lintian debootstrap
	systemd-container man-db)

# ndpiReader, softflowd, nfpcapd and argus are the peers dsmflow is compared
# with; tcpreplay, iperf3 and trafgen (netsniff-ng) drive the live and inline
# rate runs, dumpcap (wireshark-common) captures trafgen's frames for read.
bench_packages=(libndpi-bin softflowd nfdump argus-server tcpreplay iperf3 netsniff-ng wireshark-common
	valgrind time iproute2 iptables procps)

install_missing() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "dev.sh: packages missing and not root: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure_and_build() {	# DIR [cmake args...]
	local dir=$1
	shift
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" -- --no-print-directory
}

run_demo() {
	echo "== build/dsmflow read pcaps/*.pcap   (the project's own sample captures)"
	build/dsmflow read pcaps/*.pcap
}

case "${1:-}" in
demo)
	install_missing "${build_packages[@]}"
	configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSMFLOW_TESTS=OFF -DCMAKE_C_FLAGS=
	run_demo
	;;
build)
	install_missing "${build_packages[@]}"
	configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSMFLOW_TESTS=ON
	;;
test)
	install_missing "${build_packages[@]}" "${test_packages[@]}"
	# gcc and clang each warn about things the other misses, and their
	# sanitizers instrument differently: every build runs the whole suite.
	for cc in gcc clang; do
		suffix=$([ $cc = gcc ] && echo "" || echo "-clang")
		# the gcc build also makes and tests the Debian package
		package=$([ $cc = gcc ] && echo "-DCMAKE_INSTALL_PREFIX=/usr -DDSMFLOW_PACKAGE_TEST=ON" || echo "")
		echo "== build: $cc, plain (warnings as errors)"
		# shellcheck disable=SC2086
		configure_and_build "build$suffix" -DCMAKE_C_COMPILER=$cc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DDSMFLOW_TESTS=ON -DCMAKE_C_FLAGS=-Werror $package
		echo "== build: $cc, AddressSanitizer + UndefinedBehaviorSanitizer"
		configure_and_build "build$suffix-asan" -DCMAKE_C_COMPILER=$cc -DCMAKE_BUILD_TYPE=Debug \
			-DDSMFLOW_SANITIZE=ON -DDSMFLOW_TESTS=ON -DCMAKE_C_FLAGS=-Werror
	done
	# every build's suite runs, whichever failed before it
	failed=()
	for dir in build-asan build-clang-asan build build-clang; do
		echo "== tests: $dir"
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
			ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" || failed+=("$dir")
	done
	if [ ${#failed[@]} -ne 0 ]; then
		echo "dev.sh: tests failed in: ${failed[*]}" >&2
		exit 1
	fi
	echo "== every test passed in all four builds"
	;;
bench)
	install_missing "${build_packages[@]}" "${bench_packages[@]}" python3
	configure_and_build build-release -DCMAKE_BUILD_TYPE=Release -DDSMFLOW_TOOLS=ON
	baseline=()
	if [ -n "${2:-}" ]; then
		rm -rf build-baseline
		git worktree prune
		git worktree add --detach build-baseline/src "$2" >/dev/null
		(cd build-baseline/src && configure_and_build ../build -DCMAKE_BUILD_TYPE=Release -DDSMFLOW_TOOLS=ON -DDSMFLOW_TESTS=OFF)
		baseline=(--baseline build-baseline/build/dsmflow)
	fi
	python3 bench/run.py --build build-release "${baseline[@]}"
	python3 bench/sensor_rates.py --build build-release
	;;
fuzz)
	install_missing "${build_packages[@]}" clang libclang-rt-dev python3
	configure_and_build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDSMFLOW_FUZZ=ON -DDSMFLOW_TESTS=OFF
	python3 tests/fuzz/seeds.py build-fuzz/seeds
	mkdir -p build-fuzz/seeds/threads && cp build-fuzz/seeds/engine/* build-fuzz/seeds/threads/
	for kind in engine threads capture catalog webapi tls dns http nfq output metrics; do
		echo "== fuzz_$kind for ${2:-60} s"
		mkdir -p "build-fuzz/corpus/$kind"
		log="build-fuzz/fuzz_$kind.log"
		if ! build-fuzz/tests/fuzz/fuzz_$kind -max_total_time="${2:-60}" -max_len=8192 \
			-artifact_prefix="build-fuzz/fuzz_$kind-" \
			"build-fuzz/corpus/$kind" "build-fuzz/seeds/$kind" >"$log" 2>&1; then
			grep -E 'ERROR|SUMMARY|in place:|^artifact' "$log" >&2 || tail -20 "$log" >&2
			echo "dev.sh: fuzz_$kind found a problem (input saved as build-fuzz/fuzz_$kind-*; log $log)" >&2
			exit 1
		fi
		grep -E '^Done' "$log"
	done
	;;
*)
	echo "usage: tools/dev.sh demo|test|build|bench|fuzz [SECONDS]" >&2
	exit 2
	;;
esac
