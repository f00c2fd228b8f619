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
4. Per-packet cost at the generator's limit (issue 13): trafgen sends
   64-byte UDP from 256 addresses and 256 source ports (65,536 flows, 256
   address pairs for the workers to share) as fast as one core lets it.
   `dsmflow live --workers 1` and `--workers 2` on the veth's peer: packets
   seen, dropped, and dsmflow's CPU time (user + system) per packet, against
   `dsmflow read` of the same traffic captured to a file. Then the same
   traffic through an iptables NFQUEUE rule: the minimal consumer on one
   queue, dsmflow on one queue, dsmflow on two (--queue-balance): packets
   per second and CPU time per packet.

  --only live|queue|packets  runs one part (default: all)
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


TRAFGEN_FLOWS = """{
  eth(da=%s),
  ipv4(da=10.88.0.2, sa=10.88.1.0, sa[3]=drnd(), ttl=64),
  udp(sp=drnd(1024, 1279), dp=4000),
  fill(0x00, 18)
}
"""


def mac_of(ns, dev):
    return json.loads(sh("ip", "-j", "link", "show", dev, ns=ns).stdout)[0]["address"]


def trafgen(args, count):
    """Sends count 64-byte frames from A as fast as one core lets trafgen;
    returns (packets sent, seconds)."""
    conf = os.path.join(args.work, "flows.trafgen")
    with open(conf, "w") as f:
        f.write(TRAFGEN_FLOWS % mac_of(B, "vb"))
    start = time.monotonic()
    res = sh("trafgen", "-o", "va", "-i", conf, "-n", str(count), "-P", "1", "-E", "7", ns=A)
    seconds = time.monotonic() - start
    sent = count
    for line in (res.stdout + res.stderr).splitlines():
        if "packets outgoing" in line:
            sent = int(line.split()[0])
    return sent, seconds


def trafgen_into(args, consumer, settle):
    """trafgen's frames while consumer (started a moment ago) takes them:
    (frames sent, seconds, the consumer's CPU seconds), the consumer stopped
    after settle seconds more."""
    time.sleep(1.5)
    before = cpu_seconds(consumer.pid)     # (ip netns exec execs the command)
    sent, seconds = trafgen(args, args.trafgen_packets)
    time.sleep(settle)
    used = cpu_seconds(consumer.pid) - before
    consumer.send_signal(signal.SIGINT)
    consumer.wait(timeout=60)
    return sent, seconds, used


def usage_of_children(cmd):
    """Runs cmd; its CPU seconds (user + system) and its output."""
    before = os.times()
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system), res


def live_packet_costs(args, procs):
    pcap = os.path.join(args.work, "trafgen.pcap")
    print("\nlive: trafgen, %d 64-byte UDP frames (65,536 flows over 256 address pairs) at the "
          "generator's limit" % args.trafgen_packets)
    # the same traffic, captured to a file, read by dsmflow: the floor of the engine's work
    dump = subprocess.Popen(["ip", "netns", "exec", B, "dumpcap", "-q", "-i", "vb", "-P", "-w", pcap,
                             "-B", "256", "-f", "udp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(dump)
    time.sleep(1.5)
    trafgen(args, args.trafgen_packets)
    time.sleep(1)
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=30)
    rows = []
    for run in range(args.rounds):
        cpu, res = usage_of_children([os.path.join(args.build, "dsmflow"), "read", "--threads", "1", "-f",
                                      "json", pcap])
        packets = json.loads(res.stdout)["totals"]["packets"]
        rows.append(("read --threads 1 (the capture of it)", packets, 0, packets, cpu))
        for workers in (1, 2):
            out = tempfile.NamedTemporaryFile("w+", suffix=".json")
            err = tempfile.NamedTemporaryFile("w+")
            dsm = subprocess.Popen(["ip", "netns", "exec", B, os.path.join(args.build, "dsmflow"), "live",
                                    "-i", "vb", "-f", "json", "-Z", "root", "--workers", str(workers)],
                                   stdout=out, stderr=err)
            procs.append(dsm)
            sent, seconds, used = trafgen_into(args, dsm, 1)
            out.seek(0)
            err.seek(0)
            health = err.read()
            dropped = int(health.split("received, ")[1].split(" dropped by the kernel")[0])
            seen = json.load(out)["totals"]["packets"]
            rows.append(("live --workers %d" % workers, sent, dropped, seen, used, sent / seconds))
    print("%-38s %10s %9s %10s %10s %12s" % ("", "sent", "dropped", "counted", "ns CPU/pkt", "sent pps"))
    by_name = {}
    for row in rows:
        name, sent, dropped, seen, used = row[:5]
        by_name.setdefault(name, []).append(used / seen * 1e9 if seen else float("nan"))
        print("%-38s %10d %9d %10d %10.0f %12s" % (name, sent, dropped, seen, used / seen * 1e9 if seen else 0,
                                                 "%.0f" % row[5] if len(row) > 5 else "-"))
    floor = statistics.median(by_name["read --threads 1 (the capture of it)"])
    for workers in (1, 2):
        cost = statistics.median(by_name["live --workers %d" % workers])
        print("live --workers %d: %.0f ns CPU a packet (median), %.2fx read's %.0f" % (workers, cost, cost / floor, floor))


def queue_packet_rates(args, procs):
    """64-byte UDP through an INPUT NFQUEUE rule: packets each consumer
    took a second, and its CPU time a packet."""
    sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", ns=B)
    sh("sysctl", "-qw", "net.ipv4.conf.vb.rp_filter=0", ns=B)
    dsmflow = os.path.join(args.build, "dsmflow")
    setups = (("bench/nfq_accept, one queue", ["--queue-num", "5"], [os.path.join(args.build, "nfq_accept"), "5"]),
              ("dsmflow queue, one queue", ["--queue-num", "5"],
               [dsmflow, "queue", "--queue", "5", "-Z", "root", "-f", "json"]),
              ("dsmflow queue --queue 5:6", ["--queue-balance", "5:6"],
               [dsmflow, "queue", "--queue", "5:6", "-Z", "root", "-f", "json"]))
    results = {}
    for _ in range(args.rounds):
        for name, rule, cmd in setups:
            sh("iptables", "-I", "INPUT", "-i", "vb", "-p", "udp", "-j", "NFQUEUE", *rule, "--queue-bypass", ns=B)
            out = tempfile.NamedTemporaryFile("w+")
            consumer = subprocess.Popen(["ip", "netns", "exec", B] + cmd, stdout=out, stderr=subprocess.DEVNULL)
            procs.append(consumer)
            sent, seconds, used = trafgen_into(args, consumer, 0.5)
            sh("iptables", "-D", "INPUT", "-i", "vb", "-p", "udp", "-j", "NFQUEUE", *rule, "--queue-bypass", ns=B)
            out.seek(0)
            text = out.read()
            taken = (json.loads(text)["totals"]["packets"] if text.lstrip().startswith("{")
                     else int(text.split()[0]))
            results.setdefault(name, []).append((sent, taken, used, seconds))
    print("\nqueue: trafgen, %d 64-byte UDP frames through an INPUT NFQUEUE rule, %d rounds"
          % (args.trafgen_packets, args.rounds))
    print("%-30s %10s %12s %12s %10s" % ("consumer", "sent", "queued", "queued pps", "ns CPU/pkt"))
    medians = {}
    for name, runs in results.items():
        for sent, taken, used, seconds in runs:
            print("%-30s %10d %12d %12.0f %10.0f" % (name, sent, taken, taken / seconds, used / taken * 1e9))
        medians[name] = (statistics.median(t / s for _, t, _, s in runs),
                         statistics.median(u / t * 1e9 for _, t, u, _ in runs))
    one, two, least = (medians["dsmflow queue, one queue"], medians["dsmflow queue --queue 5:6"],
                       medians["bench/nfq_accept, one queue"])
    print("dsmflow, one queue: CPU a packet %.2fx the minimal consumer's; two queues: %.2fx one queue's "
          "packet rate" % (one[1] / least[1], two[0] / one[0]))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/dsmflow-bench")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="queue runs of each consumer, alternating")
    ap.add_argument("--replay-packets", type=int, default=300000)
    ap.add_argument("--rates", type=int, nargs="*", default=[50000, 100000, 200000, 400000, 800000, 0])
    ap.add_argument("--trafgen-packets", type=int, default=3000000)
    ap.add_argument("--only", choices=["live", "queue", "packets"])
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        return 1
    os.makedirs(args.work, exist_ok=True)
    procs = []
    try:
        setup()
        if args.only in (None, "live"):
            live_rates(args, procs)
            live_snaplen_cost(args, procs)
        if args.only in (None, "queue"):
            queue_rates(args, procs)
        if args.only in (None, "packets"):
            live_packet_costs(args, procs)
            queue_packet_rates(args, procs)
    finally:
        teardown(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
