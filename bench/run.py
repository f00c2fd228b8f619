#!/usr/bin/env python3
"""The benchmark runner: dsmflow read against a bare libpcap read loop (the
floor) and ndpiReader, on the same deterministic capture, in one run.

  bench/run.py [--build DIR] [--work DIR] [--packets N] [--runs R] [--skip-scaling]
  bench/run.py --smoke        a small, quick run (what the test suite does)

Reports median wall time over R runs, packets/s, ns/packet, the ratios
dsmflow/floor and dsmflow/ndpiReader, and peak RSS. The floor is a bare
libpcap read loop; a second, mapped floor walks the file in place as dsmflow
itself does, so that dsmflow's time over it is what classifying costs; then the flow-table
scaling run (1k, 100k, 1M concurrent flows: ns/packet and bytes per flow);
then the steady-state allocation check (valgrind counts heap allocations
over N and 2N packets of the same flows: equal counts mean none per packet).
Times are wall-clock on a noisy machine: compare ratios within one run, and
use valgrind --tool=callgrind to compare two versions of the code.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd):
    """(wall seconds, peak RSS in KiB) of one run of cmd, output discarded.
    GNU time reports the RSS: a child forked from this Python would count
    the interpreter's pages as its own peak."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if res.returncode != 0:
            raise RuntimeError("%s: exit status %d" % (" ".join(cmd), res.returncode))
        return elapsed, int(rss.read().split()[-1])


def measure(cmd, runs):
    results = [timed(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def capture(args, name, packets, concurrent, mean_length=20, train=4):
    path = os.path.join(args.work, "%s-%d-%d-%d-%d.pcap" % (name, packets, concurrent, mean_length, train))
    if not os.path.exists(path):
        sh([os.path.join(args.build, "benchgen"), path, str(packets), str(concurrent), str(mean_length),
            str(train)], stdout=subprocess.DEVNULL)
    with open(path, "rb") as f:   # into the page cache, so that every tool reads memory
        while f.read(1 << 24):
            pass
    return path


def machine():
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%s, %d cores, %.0f GiB, Linux %s" % (cpu, os.cpu_count(), mem, platform.release())


def dsmflow_cmd(args, path):
    return [os.path.join(args.build, "dsmflow"), "read", "-f", "json", "-o", os.devnull, path]


def throughput(args):
    path = capture(args, "mix", args.packets, args.concurrent)
    packets = args.packets
    tools = [("floor (libpcap read loop)", [os.path.join(args.build, "floor"), path]),
             ("floor, mapped (in place)", [os.path.join(args.build, "floor"), "--mapped", path]),
             ("dsmflow read", dsmflow_cmd(args, path))]
    ndpi = shutil.which("ndpiReader")
    if ndpi:
        tools.append(("ndpiReader (nDPI)", [ndpi, "-i", path, "-q", "-v", "0"]))
    print("capture: %s: %d packets, %d concurrent flows, %.0f MiB" %
          (os.path.basename(path), packets, args.concurrent, os.path.getsize(path) / 2**20))
    print("%-28s %9s %12s %9s %9s %10s" % ("tool", "median s", "packets/s", "ns/pkt", "x floor", "peak RSS"))
    times = {}
    for name, cmd in tools:
        seconds, rss = measure(cmd, args.runs)
        times[name] = seconds
        print("%-28s %9.3f %12.0f %9.1f %9.2f %7.1f MiB" %
              (name, seconds, packets / seconds, seconds / packets * 1e9,
               seconds / times["floor (libpcap read loop)"], rss / 1024))
    ratio = times["dsmflow read"] / times["floor (libpcap read loop)"]
    print("dsmflow / floor: %.2f (target 1.25)" % ratio)
    print("dsmflow / mapped floor: %.2f (dsmflow reads a classic pcap file in place: the rest is"
          " classifying)" % (times["dsmflow read"] / times["floor, mapped (in place)"]))
    if ndpi:
        print("ndpiReader / dsmflow: %.1f (dsmflow is %.1fx faster)" %
              (times["ndpiReader (nDPI)"] / times["dsmflow read"], times["ndpiReader (nDPI)"] / times["dsmflow read"]))
    else:
        print("ndpiReader: not installed (apt-get install libndpi-bin), not compared")


def scaling(args):
    """ns/packet and bytes per tracked flow with 1k, 100k and 1M concurrent
    flows that never end, each flow visited in random order (trains of 1:
    the table's worst case)."""
    print("\nflow-table scaling (every flow open to the end, random order)")
    print("%12s %10s %9s %12s %14s" % ("flows", "packets", "ns/pkt", "peak RSS", "bytes/flow"))
    base = None
    for flows in args.scaling:
        packets = max(3 * flows, args.scaling_packets)
        path = capture(args, "scale", packets, flows, 1000000000, 1)
        seconds, rss = measure(dsmflow_cmd(args, path), max(1, args.runs // 2))
        if base is None:
            base = (flows, rss)
            per_flow = "(baseline)"
        else:
            per_flow = "%.0f" % ((rss - base[1]) * 1024 / (flows - base[0]))
        print("%12d %10d %9.1f %8.1f MiB %14s" % (flows, packets, seconds / packets * 1e9, rss / 1024, per_flow))
        if not args.keep:
            os.unlink(path)


def heap_allocations(args, path):
    res = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=no"] + dsmflow_cmd(args, path),
                         capture_output=True, text=True)
    m = re.search(r"total heap usage: ([\d,]+) allocs", res.stderr)
    if not m:
        raise RuntimeError("valgrind gave no heap summary: " + res.stderr[-500:])
    return int(m.group(1).replace(",", ""))


def allocations(args):
    """Steady state: the same flows, twice the packets, the same number of
    heap allocations."""
    if not shutil.which("valgrind"):
        print("\nallocation check: valgrind not installed, skipped")
        return True
    n = args.alloc_packets
    one = heap_allocations(args, capture(args, "steady", n, 2000, 1000000000, 4))
    two = heap_allocations(args, capture(args, "steady", 2 * n, 2000, 1000000000, 4))
    print("\nsteady-state allocations (valgrind, 2000 flows): %d packets: %d allocs; %d packets: %d allocs"
          % (n, one, 2 * n, two))
    ok = one == two
    print("no heap allocation per packet in steady state: %s" % ("yes" if ok else "NO"))
    return ok


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/dsmflow-bench")
    ap.add_argument("--packets", type=int, default=4000000)
    ap.add_argument("--concurrent", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scaling", type=int, nargs="*", default=[1000, 100000, 1000000])
    ap.add_argument("--scaling-packets", type=int, default=2000000)
    ap.add_argument("--alloc-packets", type=int, default=50000)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the scaling captures")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one run: checks the runner works")
    args = ap.parse_args()
    if args.smoke:
        args.packets, args.concurrent, args.runs = 20000, 500, 1
        args.scaling, args.scaling_packets, args.alloc_packets = [100, 2000], 6000, 5000
    os.makedirs(args.work, exist_ok=True)
    print("machine: " + machine())
    print("dsmflow: " + subprocess.run([os.path.join(args.build, "dsmflow"), "--version"],
                                       capture_output=True, text=True).stdout.strip())
    print("command: bench/run.py " + " ".join(sys.argv[1:]))
    throughput(args)
    if not args.skip_scaling:
        scaling(args)
    return 0 if allocations(args) else 1


if __name__ == "__main__":
    sys.exit(main())
