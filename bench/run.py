#!/usr/bin/env python3
"""The benchmark runner: dsmflow read against the floors (a bare libpcap read
loop, and a walk over the mapped file) and the tools a user would pick for
the job (ndpiReader, softflowd, nfpcapd, argus), on a deterministic
synthetic mix and on a real-traffic mix, in one run.

  bench/run.py [--build DIR] [--work DIR] [--packets N] [--runs R] [--skip-scaling]
               [--baseline DSMFLOW] [--shared DIR]
  bench/run.py --smoke        a small, quick run (what the test suite does)

Reports, per mix, median wall time over R runs (the runs alternate between
the tools), packets/s, ns/packet, the ratios to the mapped floor and to the
libpcap floor, and peak RSS; dsmflow read with one thread and with one per
core, and on the real mix also its pcapng copy (editcap -F pcapng). The
real-traffic mix is every Ethernet capture of --shared (../shared/pcaps)
concatenated 20 times. The mapped floor walks the file in place as dsmflow
itself does, so that dsmflow's time over it is what classifying costs; then the flow-table
scaling run (1k, 100k, 1M and 10M concurrent flows, the table unbounded, one
thread and one per core: ns/packet and bytes per flow);
then the steady-state allocation check (valgrind counts heap allocations
over N and 2N packets of the same flows: equal counts mean none per packet).
Times are wall-clock on a noisy machine: compare ratios within one run, and
use valgrind --tool=callgrind to compare two versions of the code.

With --baseline DSMFLOW (another build of dsmflow, e.g. the last one before
payload inspection: `git worktree add /tmp/base REV` and build it), the cost
of dsmflow over that baseline on three captures: the mix; the short-flow
stress mix (web connections as short as any flow: a ClientHello or request
every few dozen packets); and the real-traffic mix, every Ethernet capture
of --shared (../shared/pcaps) concatenated 20 times. Each as a ratio of
median wall times and, with valgrind, of instruction counts (callgrind,
medians of three, on the same mix at a tenth of the scale: a tenth of the
packets and of the concurrent flows, so that flows start as often per
packet), which vary much less than times. With tshark, the share of packets
that are ClientHellos, HTTP requests and DNS answers in the mix and in the
real-traffic mix, so that the mix can be seen to carry payloads as often as
real traffic does.
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


def capture(args, name, packets, concurrent, mean_length=20, train=4, web_factor=10):
    path = os.path.join(args.work, "%s-%d-%d-%d-%d-%d.pcap" % (name, packets, concurrent, mean_length, train,
                                                             web_factor))
    if not os.path.exists(path):
        sh([os.path.join(args.build, "benchgen"), path, str(packets), str(concurrent), str(mean_length),
            str(train), "0", str(web_factor)], stdout=subprocess.DEVNULL)
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
    return [os.path.join(args.build, "dsmflow"), "read", "--threads", "1", "-f", "json", "-o", os.devnull, path]


def packet_count(path):
    out = subprocess.run(["capinfos", "-T", "-M", "-r", "-c", path], capture_output=True, text=True).stdout
    return int(out.split()[-1])


def peers(args, path):
    """The other tools that read the same file for the same job, as a user
    would run them (Debian's packages): nDPI's reader, and the flow
    exporters softflowd, nfdump's nfpcapd and argus."""
    found = []
    if shutil.which("ndpiReader"):
        found.append(("ndpiReader -q (nDPI)", ["ndpiReader", "-i", path, "-q", "-v", "0"]))
    if shutil.which("softflowd"):
        found.append(("softflowd -r", ["softflowd", "-r", path, "-n", "127.0.0.1:9", "-d"]))
    if shutil.which("nfpcapd"):
        out = os.path.join(args.work, "nfpcapd")
        os.makedirs(out, exist_ok=True)
        found.append(("nfpcapd -r (nfdump)", ["nfpcapd", "-r", path, "-w", out]))
    if shutil.which("argus"):
        found.append(("argus -r", ["argus", "-r", path, "-w", os.devnull]))
    return found


def throughput_on(args, title, path, pcapng=None):
    """Every tool on the same file, the runs alternating between the tools
    (a slow spell of the machine touches them all): median wall time, and
    the ratios to the mapped floor (the physical limit of reading the file)
    and to a bare libpcap loop."""
    packets = packet_count(path)
    threads = os.cpu_count() or 1
    read = [os.path.join(args.build, "dsmflow"), "read", "-f", "json", "-o", os.devnull]
    tools = [("floor (libpcap read loop)", [os.path.join(args.build, "floor"), path]),
             ("floor, mapped (in place)", [os.path.join(args.build, "floor"), "--mapped", path]),
             ("dsmflow read", read + ["--threads", "1", path])]
    if threads > 1:
        tools.append(("dsmflow read --threads %d" % threads, read + ["--threads", str(threads), path]))
    if pcapng:
        tools.append(("dsmflow read, pcapng", read + ["--threads", "1", pcapng]))
        if threads > 1:
            tools.append(("dsmflow read --threads %d, pcapng" % threads,
                          read + ["--threads", str(threads), pcapng]))
    tools += peers(args, path)
    print("\n%s: %s: %d packets, %.0f MiB%s" % (title, os.path.basename(path), packets,
                                               os.path.getsize(path) / 2**20,
                                               " (and as pcapng, editcap -F pcapng)" if pcapng else ""))
    runs = {name: [] for name, _ in tools}
    for _ in range(args.runs):
        for name, cmd in tools:
            runs[name].append(timed(cmd))
    times = {name: statistics.median(r[0] for r in runs[name]) for name in runs}
    mapped, libpcap = times["floor, mapped (in place)"], times["floor (libpcap read loop)"]
    print("%-34s %9s %12s %9s %9s %9s %10s" % ("tool", "median s", "packets/s", "ns/pkt", "x mapped",
                                             "x libpcap", "peak RSS"))
    for name, _ in tools:
        seconds, rss = times[name], max(r[1] for r in runs[name])
        print("%-34s %9.3f %12.0f %9.1f %9.2f %9.2f %7.1f MiB" % (
            name, seconds, packets / seconds, seconds / packets * 1e9, seconds / mapped, seconds / libpcap,
            rss / 1024))
    one = times["dsmflow read"]
    print("dsmflow read / mapped floor: %.2f with one thread" % (one / mapped) +
          ("; %.2f with %d (target 1.25 with 2)" % (times["dsmflow read --threads %d" % threads] / mapped, threads)
           if threads > 1 else ""))
    if pcapng:
        print("pcapng / pcap, dsmflow read: %.2f (target 1.10)" % (times["dsmflow read, pcapng"] / one))
    for name, _ in peers(args, path):
        print("%s / dsmflow read: %.1f" % (name, times[name] / one))
    return times


def throughput(args):
    """The synthetic mix, then the real-traffic mix (every Ethernet capture
    of --shared, concatenated), with its pcapng copy."""
    throughput_on(args, "synthetic mix", capture(args, "mix", args.packets, args.concurrent))
    real = real_mix(args, 2 if args.smoke else 20)
    if not real:
        print("real-traffic mix: no captures at %s (or no mergecap): not measured" % args.shared)
        return
    pcapng = real[:-len(".pcap")] + ".pcapng"
    if not os.path.exists(pcapng) and shutil.which("editcap"):
        sh(["editcap", "-F", "pcapng", real, pcapng])
    for f in (real, pcapng):
        with open(f, "rb") as data:   # into the page cache
            while data.read(1 << 24):
                pass
    throughput_on(args, "real-traffic mix (every Ethernet capture of %s)" % args.shared, real,
                  pcapng if os.path.exists(pcapng) else None)


# ---- against a baseline build ----

def real_mix(args, repeat=20):
    """Every Ethernet capture of --shared and its corpus/ (the public DPI
    test corpus the issue's figures were made on), one after another,
    repeat times."""
    path = os.path.join(args.work, "real-mix-corpus-%d.pcap" % repeat)
    if os.path.exists(path):
        return path
    if repeat != 1 and not real_mix(args, 1):
        return None
    if not shutil.which("mergecap") or not os.path.isdir(args.shared):
        return None
    files = []
    for d in (args.shared, os.path.join(args.shared, "corpus")):
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            full = os.path.join(d, f)
            if f.endswith((".pcap", ".pcapng", ".cap")):
                res = subprocess.run(["capinfos", "-T", "-E", "-r", full], capture_output=True, text=True)
                if res.returncode == 0 and res.stdout.strip().endswith("ether"):
                    files.append(full)
    once = os.path.join(args.work, "real-mix-corpus-1.pcap")
    if not os.path.exists(once):
        sh(["mergecap", "-F", "pcap", "-a", "-w", once] + files)
    if repeat != 1:
        sh(["mergecap", "-F", "pcap", "-a", "-w", path] + [once] * repeat)
    return path


def instructions(cmd, runs=3):
    """Instructions executed (callgrind), the median of runs: nearly the same
    for the same binary and input (the flow and DNS tables' hash seeds are
    random per run, so probe lengths vary a little)."""
    counts = []
    for _ in range(runs):
        res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd,
                             capture_output=True, text=True)
        m = re.search(r"refs:\s+([\d,]+)", res.stderr)
        if m:
            counts.append(int(m.group(1).replace(",", "")))
    return int(statistics.median(counts)) if counts else None


def payload_shares(path):
    """Per mille of packets that are ClientHellos, HTTP requests, DNS answers."""
    out = subprocess.run(["tshark", "-n", "-r", path, "-d", "tcp.port==5000,http", "-T", "fields",
                          "-e", "tls.handshake.type", "-e", "http.request", "-e", "dns.flags.response"],
                         capture_output=True, text=True).stdout.splitlines()
    hello = sum(1 for l in out if l.split("\t")[0].split(",")[0] == "1")
    request = sum(1 for l in out if l.split("\t")[1:2] == ["1"])
    answer = sum(1 for l in out if l.split("\t")[2:3] == ["1"])
    n = max(1, len(out))
    return "ClientHellos %.2f, HTTP requests %.2f, DNS answers %.2f per 1000 packets" % (
        1000 * hello / n, 1000 * request / n, 1000 * answer / n)


def against_baseline(args):
    """dsmflow's cost over the baseline build, on the mix, the short-flow
    stress mix and the real-traffic mix."""
    small, few = args.packets // 10, max(1, args.concurrent // 10)
    cases = [("mix", capture(args, "mix", args.packets, args.concurrent),
              capture(args, "mix", small, few)),
             ("short-flow stress mix", capture(args, "short", args.packets, args.concurrent, web_factor=1),
              capture(args, "short", small, few, web_factor=1))]
    real = real_mix(args)
    if real:
        cases.append(("real-traffic mix (shared/pcaps x20)", real, real))
    print("\nagainst the baseline %s (target: at most 1.10)" % args.baseline)
    print("%-38s %10s %10s %7s %16s %16s %7s" % ("capture", "base s", "dsmflow s", "ratio", "base instr",
                                                 "dsmflow instr", "ratio"))
    for name, path, path_small in cases:
        ours = [os.path.join(args.build, "dsmflow"), "read", "--threads", "1", "-f", "json", "-o", os.devnull]
        theirs = [args.baseline, "read", "-f", "json", "-o", os.devnull]
        t_base, _ = measure(theirs + [path], args.runs)
        t_ours, _ = measure(ours + [path], args.runs)
        i_base = i_ours = None
        if shutil.which("valgrind") and not args.smoke:
            i_base, i_ours = instructions(theirs + [path_small]), instructions(ours + [path_small])
        print("%-38s %10.3f %10.3f %7.2f %16s %16s %7s" % (
            name, t_base, t_ours, t_ours / t_base, "{:,}".format(i_base) if i_base else "-",
            "{:,}".format(i_ours) if i_ours else "-", "%.2f" % (i_ours / i_base) if i_base else "-"))
    if shutil.which("tshark") and not args.smoke:
        print("payloads in the mix: " + payload_shares(cases[0][2]))
        print("payloads in the short-flow stress mix: " + payload_shares(cases[1][2]))
        if real:
            print("payloads in the real-traffic mix: " + payload_shares(real_mix(args, 1)))


def scaling(args):
    """ns/packet and bytes per tracked flow with 1k up to 10M concurrent flows
    that never end, each flow visited in random order (trains of 1: the
    table's worst case), the flow table unbounded (--max-memory 0), with
    one thread and with one per core."""
    threads = os.cpu_count() or 1
    counts = [1] + ([threads] if threads > 1 else [])
    print("\nflow-table scaling (every flow open to the end, random order, --max-memory 0)")
    print("%12s %10s %8s %9s %12s %14s" % ("flows", "packets", "threads", "ns/pkt", "peak RSS", "bytes/flow"))
    base = {}
    for flows in args.scaling:
        packets = max(3 * flows, args.scaling_packets)
        path = capture(args, "scale", packets, flows, 1000000000, 1)
        for n in counts:
            cmd = [os.path.join(args.build, "dsmflow"), "read", "--threads", str(n), "--max-memory", "0",
                   "-f", "json", "-o", os.devnull, path]
            seconds, rss = measure(cmd, max(1, args.runs // 2))
            if n not in base:
                base[n] = (flows, rss)
                per_flow = "(baseline)"
            else:
                per_flow = "%.0f" % ((rss - base[n][1]) * 1024 / (flows - base[n][0]))
            print("%12d %10d %8d %9.1f %8.1f MiB %14s" % (flows, packets, n, seconds / packets * 1e9, rss / 1024,
                                                         per_flow))
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
    ap.add_argument("--scaling", type=int, nargs="*", default=[1000, 100000, 1000000, 10000000])
    ap.add_argument("--scaling-packets", type=int, default=2000000)
    ap.add_argument("--alloc-packets", type=int, default=50000)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true", help="no floor and ndpiReader comparison")
    ap.add_argument("--keep", action="store_true", help="keep the scaling captures")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one run: checks the runner works")
    ap.add_argument("--baseline", help="another dsmflow binary to compare with (cost ratios)")
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "pcaps"),
                    help="third-party captures for the real-traffic mix")
    args = ap.parse_args()
    if args.smoke:
        args.packets, args.concurrent, args.runs = 20000, 500, 1
        args.scaling, args.scaling_packets, args.alloc_packets = [100, 2000], 6000, 5000
    os.makedirs(args.work, exist_ok=True)
    print("machine: " + machine())
    print("dsmflow: " + subprocess.run([os.path.join(args.build, "dsmflow"), "--version"],
                                       capture_output=True, text=True).stdout.strip())
    print("command: bench/run.py " + " ".join(sys.argv[1:]))
    if not args.skip_throughput:
        throughput(args)
    if args.baseline:
        against_baseline(args)
    if not args.skip_scaling:
        scaling(args)
    return 0 if allocations(args) else 1


if __name__ == "__main__":
    sys.exit(main())
