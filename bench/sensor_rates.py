#!/usr/bin/env python3
"""Live and inline rates, in network namespaces of its own (root).

  bench/sensor_rates.py [--build DIR] [--seconds S] [--rounds R]

1. `dsmflow live`: tcpreplay sends a bench capture into one end of a veth at
   increasing rates; dsmflow captures on the other end. Reports the highest
   rate at which it saw every packet with no kernel drop.
2. `dsmflow queue`: an iperf3 TCP stream between two namespaces, through
   iptables NFQUEUE rules, first with the minimal accept-all consumer
   bench/nfq_accept, then with dsmflow queue, and with no rule at all.
   The consumers alternate for R rounds; reports each run, the medians
   and dsmflow's median against the minimal one's.
3. What the default snapshot length (4096 bytes, so that payload evidence
   fits) costs against 512: dsmflow live's CPU time for the same tcpreplay
   at top speed with -s 512 and with the default, and dsmflow queue with
   --copy-range 512 as a third consumer in the rounds of 2.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TAG = "dsmb%d" % os.getpid()
A, B = TAG + "a", TAG + "b"


def sh(*cmd, ns=None, **kw):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=True, capture_output=True, text=True, **kw)


def setup():
    for ns in (A, B):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "va", "netns", A, "type", "veth", "peer", "name", "vb", "netns", B)
    sh("ip", "addr", "add", "10.88.0.1/24", "dev", "va", ns=A)
    sh("ip", "addr", "add", "10.88.0.2/24", "dev", "vb", ns=B)
    for ns, dev in ((A, "va"), (B, "vb")):
        sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev, ns=ns)
        sh("ip", "link", "set", dev, "up", ns=ns)


def teardown(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in (A, B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def live_rates(args, procs):
    capture = os.path.join(args.work, "replay.pcap")
    if not os.path.exists(capture):
        subprocess.run([os.path.join(args.build, "benchgen"), capture, str(args.replay_packets), "2000"],
                       check=True, capture_output=True)
    print("live: tcpreplay of %d packets into a veth, dsmflow live on its peer" % args.replay_packets)
    print("%12s %12s %10s %10s %9s" % ("asked pps", "sent pps", "sent", "seen", "dropped"))
    best = None
    for rate in args.rates:
        out = tempfile.NamedTemporaryFile("w+", suffix=".json")
        err = tempfile.NamedTemporaryFile("w+")
        dsm = subprocess.Popen(["ip", "netns", "exec", B, os.path.join(args.build, "dsmflow"), "live",
                                "-i", "vb", "-f", "json", "-B", "65536"], stdout=out, stderr=err)
        procs.append(dsm)
        time.sleep(1)
        speed = ["--topspeed"] if rate == 0 else ["--pps=%d" % rate]
        res = sh("tcpreplay", "-i", "va", *speed, capture, ns=A)
        sent = int(res.stdout.split("Actual: ")[1].split(" packets")[0])
        sent_pps = float(res.stdout.split("Rated: ")[1].split(" pps")[0].split(",")[-1])
        time.sleep(1)
        dsm.send_signal(signal.SIGINT)
        dsm.wait(timeout=60)
        out.seek(0)
        err.seek(0)
        report = json.load(out)
        health = err.read()
        dropped = int(health.split("received, ")[1].split(" dropped by the kernel")[0])
        seen = report["totals"]["packets"]
        print("%12s %12.0f %10d %10d %9d" % (rate or "topspeed", sent_pps, sent, seen, dropped))
        if seen == sent and dropped == 0:
            best = sent_pps
        else:
            break
    print("highest rate with every packet seen and none dropped: %s pps" % ("%.0f" % best if best else "none"))


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_snaplen_cost(args, procs):
    capture = os.path.join(args.work, "replay.pcap")
    print("\nlive: dsmflow's CPU time for five tcpreplays at top speed, by snapshot length")
    for snap in ([], ["-s", "512"], [], ["-s", "512"]):
        dsm = subprocess.Popen(["ip", "netns", "exec", B, os.path.join(args.build, "dsmflow"), "live",
                                "-i", "vb", "-f", "json", "-o", os.devnull, "-B", "65536", "-Z", "root"]
                               + snap, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(dsm)
        time.sleep(1)
        before = cpu_seconds(dsm.pid)
        sh("tcpreplay", "-i", "va", "--topspeed", "--loop=5", capture, ns=A)
        time.sleep(0.5)
        used = cpu_seconds(dsm.pid) - before
        dsm.send_signal(signal.SIGINT)
        dsm.wait(timeout=60)
        print("  -s %-5s %6.2f s of CPU for %d packets (%.0f ns a packet)" %
              (snap[1] if snap else "4096", used, 5 * args.replay_packets, used / (5 * args.replay_packets) * 1e9))


def iperf(seconds):
    res = sh("iperf3", "-c", "10.88.0.2", "-t", str(seconds), "-J", ns=A)
    return json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]


def iperf_through(args, procs, cmd):
    """iperf3's throughput with cmd consuming the queue."""
    consumer = subprocess.Popen(["ip", "netns", "exec", B] + cmd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    procs.append(consumer)
    time.sleep(1)
    bps = iperf(args.seconds)
    consumer.send_signal(signal.SIGINT)
    consumer.wait(timeout=30)
    return bps


def queue_rates(args, procs):
    """The two consumers take turns, round after round, so that the
    machine's drift hits both alike; the medians are compared."""
    server = subprocess.Popen(["ip", "netns", "exec", B, "iperf3", "-s"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    procs.append(server)
    time.sleep(1)
    results = {"no NFQUEUE rule": [iperf(args.seconds)]}
    for rule in (["-I", "INPUT", "-i", "vb"], ["-I", "OUTPUT", "-o", "vb"]):
        sh("iptables", *rule, "-j", "NFQUEUE", "--queue-num", "5", "--queue-bypass", ns=B)
    consumers = (("bench/nfq_accept (minimal)", [os.path.join(args.build, "nfq_accept"), "5"]),
                 ("dsmflow queue", [os.path.join(args.build, "dsmflow"), "queue", "--queue", "5",
                                    "-f", "json", "-o", os.devnull]),
                 ("dsmflow queue --copy-range 512", [os.path.join(args.build, "dsmflow"), "queue",
                                                     "--queue", "5", "--copy-range", "512", "-f", "json",
                                                     "-o", os.devnull]))
    for _ in range(args.rounds):
        for name, cmd in consumers:
            results.setdefault(name, []).append(iperf_through(args, procs, cmd))
    print("\nqueue: iperf3 TCP, %d s a run, %d rounds, through iptables NFQUEUE rules on the server's veth"
          % (args.seconds, args.rounds))
    print("%-30s %14s   %s" % ("consumer", "median", "each run, Gbit/s"))
    for name, runs in results.items():
        print("%-30s %8.2f Gbit/s   %s" % (name, statistics.median(runs) / 1e9,
                                            " ".join("%.2f" % (r / 1e9) for r in runs)))
    ratio = statistics.median(results["dsmflow queue"]) / statistics.median(results["bench/nfq_accept (minimal)"])
    print("dsmflow queue / minimal consumer (medians): %.2f" % ratio)
    print("copy range 4096 / 512 (dsmflow, medians): %.2f" % (
        statistics.median(results["dsmflow queue"]) / statistics.median(results["dsmflow queue --copy-range 512"])))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/dsmflow-bench")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="queue runs of each consumer, alternating")
    ap.add_argument("--replay-packets", type=int, default=300000)
    ap.add_argument("--rates", type=int, nargs="*", default=[50000, 100000, 200000, 400000, 800000, 0])
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        return 1
    os.makedirs(args.work, exist_ok=True)
    procs = []
    try:
        setup()
        live_rates(args, procs)
        live_snaplen_cost(args, procs)
        queue_rates(args, procs)
    finally:
        teardown(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
