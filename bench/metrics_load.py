#!/usr/bin/env python3
"""The metrics endpoint under load, in network namespaces of its own (root).

  bench/metrics_load.py --dsmflow BIN [--slow N] [--scrapers N] [--seconds S] [--check]

A sensor (`dsmflow live` on its namespace's loopback, `--metrics` on every
address, a 32 MiB capture buffer: the scrapes themselves cross that loopback,
some 50 MB/s on two cores shared with the scrapers, and libpcap's default
2 MiB overflowed in the sanitizer build while the packet thread waited for
a core) is attacked by N slow clients from a namespace of their own: each
opens a connection and sends a request's headers a byte at a time, never
finishing. Meanwhile a client on the sensor's loopback (another address)
asks /healthz and /metrics and times the answers; then `--scrapers` threads
scrape /metrics as fast as they can for S seconds. Reports the answers'
times, the scrapes per second and their latency percentiles, and the
refused connections the sensor counted. With --check, exits 1 when a target
is missed: answers within 1 s under attack, and (with the defaults) at
least 500 scrapes/s with a p99 under 100 ms.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

TAG = "dsmm%d" % os.getpid()
SENSOR, ATTACKER = TAG + "s", TAG + "a"
PORT = 9473


def sh(*cmd, ns=None, check=True):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=check, capture_output=True, text=True)


def setup():
    for ns in (SENSOR, ATTACKER):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "vs", "netns", SENSOR, "type", "veth", "peer", "name", "va", "netns", ATTACKER)
    sh("ip", "addr", "add", "10.77.0.1/24", "dev", "vs", ns=SENSOR)
    sh("ip", "addr", "add", "10.77.0.2/24", "dev", "va", ns=ATTACKER)
    sh("ip", "link", "set", "vs", "up", ns=SENSOR)
    sh("ip", "link", "set", "va", "up", ns=ATTACKER)


def teardown(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in (SENSOR, ATTACKER):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


# The slow clients: one process in the attacker's namespace.
SLOW = r"""
import socket, sys, time
socks = []
for i in range(int(sys.argv[1])):
    try:
        s = socket.create_connection(("10.77.0.1", %d), timeout=2)
        s.setblocking(False)
        socks.append(s)
    except OSError:
        pass
print(len(socks), flush=True)
header = b"GET /metrics HTTP/1.1\r\nHost: nas\r\nX-Slow: "
for i in range(len(header) + 100):
    for s in socks:
        try:
            s.send(header[i:i + 1] if i < len(header) else b"a")
        except OSError:
            pass
    time.sleep(1)
""" % PORT


def get(path, timeout=5):
    """(seconds, status line) of one HTTP/1.0 GET on the sensor's loopback."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.0\r\nHost: nas\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return time.perf_counter() - start, data.split(b"\r\n", 1)[0].decode(errors="replace"), data


def scrape_for(seconds, latencies, errors):
    end = time.time() + seconds
    while time.time() < end:
        try:
            took, status, _ = get("/metrics")
            (latencies if " 200 " in status else errors).append(took)
        except OSError:
            errors.append(0)


def client(args):
    """Runs in the sensor's namespace: the measurements."""
    time.sleep(0.5)
    answers = {}
    for path in ("/healthz", "/metrics"):
        answers[path] = max(get(path)[0] for _ in range(3))
        print("under attack: %s answered in %.3f s at worst of 3" % (path, answers[path]))
    latencies, errors, threads = [], [], []
    for _ in range(args.scrapers):
        t = threading.Thread(target=scrape_for, args=(args.seconds, latencies, errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    latencies.sort()
    rate = len(latencies) / args.seconds
    p50 = latencies[len(latencies) // 2] if latencies else float("inf")
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("inf")
    print("%d scrapers for %d s: %d scrapes (%.0f/s), %d failed; latency p50 %.1f ms, p99 %.1f ms"
          % (args.scrapers, args.seconds, len(latencies), rate, len(errors), p50 * 1000, p99 * 1000))
    text = get("/metrics")[2].decode(errors="replace")
    refused = [l for l in text.splitlines() if l.startswith("dsmflow_http_refused_connections_total ")]
    dropped = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                  if l.startswith("dsmflow_capture_dropped_packets_total{"))
    print("the sensor counted: %s; capture drops %d" % (refused[0] if refused else "no refusal counter", dropped))
    ok = all(v < 1.0 for v in answers.values()) and not errors and dropped == 0
    if args.check_rate:
        ok = ok and rate >= args.min_rate and p99 < 0.1
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsmflow", required=True)
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--scrapers", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--min-rate", type=float, default=500)
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--check-rate", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        return client(args)
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return 77
    procs = []
    try:
        setup()
        sensor = subprocess.Popen(["ip", "netns", "exec", SENSOR, args.dsmflow, "live", "-i", "lo", "-B", "32768", "-Z", "root",
                                   "-o", os.devnull, "--metrics", "0.0.0.0:%d" % PORT, "--metrics-public"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(sensor)
        time.sleep(1)
        slow = subprocess.Popen(["ip", "netns", "exec", ATTACKER, sys.executable, "-c", SLOW, str(args.slow)],
                                stdout=subprocess.PIPE, text=True)
        procs.append(slow)
        opened = slow.stdout.readline().strip()
        print("%d slow clients from 10.77.0.2 (%s of their connections accepted by the kernel)" % (args.slow, opened))
        cmd = [sys.executable, os.path.abspath(__file__), "--client", "--dsmflow", args.dsmflow,
               "--scrapers", str(args.scrapers), "--seconds", str(args.seconds),
               "--min-rate", str(args.min_rate)] + (["--check-rate"] if args.check else [])
        rc = subprocess.run(["ip", "netns", "exec", SENSOR] + cmd).returncode
        sensor.send_signal(signal.SIGINT)
        _, err = sensor.communicate(timeout=30)
        notes = [l for l in err.splitlines() if "refused" in l]
        print("the sensor said: " + (notes[0] if notes else "(nothing about refusals)"))
        lines = len(err.splitlines())
        print("its standard error: %d lines" % lines)
        if args.check and (lines > 20 or sensor.returncode != 0):
            rc = 1
        return rc if args.check else 0
    finally:
        teardown(procs)


if __name__ == "__main__":
    sys.exit(main())
