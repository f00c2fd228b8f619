#!/usr/bin/env python3
"""dsmflow as a running sensor, tested for real in network namespaces.

  live.py capture  --dsmflow BIN   `dsmflow live` on a veth, against dumpcap
  live.py workers  --dsmflow BIN   `dsmflow live --workers 2`: each ring's pairs
  live.py queue    --dsmflow BIN   `dsmflow queue` behind iptables NFQUEUE rules
  live.py prometheus --dsmflow BIN two sensors scraped by a real Prometheus

The test builds its own hosts: a "nas" namespace with two veth links, to a
"c1" and a "c2" namespace. Real servers (python's http.server, a UDP echo)
run in "nas", real clients (curl, python sockets) in c1 and c2. Traffic goes
only between these namespaces. Everything is removed again, processes,
namespaces and with them their interfaces and iptables rules, also when a
check fails. Needs root; skips (exit 77) without it.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import shutil
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

SKIP = 77
results = {"passed": 0, "failed": 0}
TAG = "dsmt%d" % os.getpid()
NAS, C1, C2 = TAG + "n", TAG + "a", TAG + "b"
NAS_C1, NAS_C2 = "10.77.1.1", "10.77.2.1"
C1_ADDR, C2_ADDR = "10.77.1.2", "10.77.2.2"


def check(ok, what):
    results["passed" if ok else "failed"] += 1
    if not ok:
        print("FAIL:", what, flush=True)
    return ok


def equal(got, want, what):
    return check(got == want, "%s: got %r, expected %r" % (what, got, want))


def sh(*cmd, ns=None, check_rc=True, **kw):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    res = subprocess.run(full, capture_output=True, text=True, **kw)
    if check_rc and res.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(full), res.returncode, res.stderr))
    return res


def remove_stale_namespaces():
    """Namespaces of earlier runs that were killed before they could clean up."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in out.splitlines() if line.strip()):
        m = re.fullmatch(r"dsmt(\d+)[nab]", name)
        if m and not os.path.exists("/proc/" + m.group(1)):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class Hosts:
    """The namespaces and links, and every process started in them."""

    def __init__(self):
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="dsmflow-live-")

    def __enter__(self):
        try:
            self.set_up()
        except BaseException:
            self.__exit__()     # a failed set-up leaves no namespace behind
            raise
        return self

    def set_up(self):
        remove_stale_namespaces()
        for ns in (NAS, C1, C2):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        for client, nas_if, cli_if, nas_addr, cli_addr in ((C1, "nas-c1", "c1-nas", NAS_C1, C1_ADDR),
                                                          (C2, "nas-c2", "c2-nas", NAS_C2, C2_ADDR)):
            sh("ip", "link", "add", nas_if, "netns", NAS, "type", "veth", "peer", "name", cli_if,
               "netns", client)
            sh("ip", "addr", "add", nas_addr + "/24", "dev", nas_if, ns=NAS)
            sh("ip", "addr", "add", cli_addr + "/24", "dev", cli_if, ns=client)
            for ns, ifname in ((NAS, nas_if), (client, cli_if)):
                # no IPv6 chatter (router solicitations, MLD) on the test links
                sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % ifname, ns=ns)
                sh("ip", "link", "set", ifname, "up", ns=ns)

    def start(self, *cmd, ns, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), **kw)
        self.procs.append(p)
        return p

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for ns in (NAS, C1, C2):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["rm", "-rf", self.tmp])
        return False


def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def port_open(ns, addr, port):
    code = "import socket; socket.create_connection((%r, %d), timeout=0.5)" % (addr, port)
    return sh("python3", "-c", code, ns=ns, check_rc=False).returncode == 0


def start_servers(hosts):
    """DSM web on 5000 (http.server over a directory with a 1 MB file), an
    unclassified web server on 8080, and a UDP echo on OpenVPN's 1194."""
    www = os.path.join(hosts.tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "photos.zip"), "wb") as f:
        f.write(hashlib.sha256(b"dsmflow").digest() * (1 << 15))   # 1 MiB, not all zeros
    for port in (5000, 8080):
        hosts.start("python3", "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory", www,
                    ns=NAS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    echo = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', 1194))\n"
            "while True:\n"
            "    d, a = s.recvfrom(4096)\n"
            "    s.sendto(d, a)\n")
    hosts.start("python3", "-c", echo, ns=NAS)
    wait_for(lambda: port_open(C1, NAS_C1, 5000) and port_open(C1, NAS_C1, 8080), 10, "the web servers")
    return os.path.join(www, "photos.zip")


def curl(client, addr, port, path="/photos.zip"):
    """Downloads over a real HTTP client; returns the body's SHA-256."""
    res = subprocess.run(["ip", "netns", "exec", client, "curl", "-sf", "--max-time", "20",
                          "http://%s:%d%s" % (addr, port, path)], capture_output=True)
    check(res.returncode == 0, "curl %s:%d%s: exit %d" % (addr, port, path, res.returncode))
    return hashlib.sha256(res.stdout).hexdigest()


def udp_echo(client, addr, count):
    """Sends count datagrams to the echo and checks each comes back unchanged."""
    code = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.settimeout(3)\n"
            "ok = 0\n"
            "for i in range(%d):\n"
            "    msg = bytes([i %% 251]) * (100 + i)\n"
            "    s.sendto(msg, (%r, 1194))\n"
            "    ok += s.recvfrom(4096)[0] == msg\n"
            "print(ok)\n") % (count, addr)
    res = sh("python3", "-c", code, ns=client, check_rc=False)
    equal(res.stdout.strip(), str(count), "udp echo from %s: every datagram back unchanged" % client)


def start_dsmflow(hosts, args, mode, *extra, ns=NAS):
    out = open(os.path.join(hosts.tmp, mode + ".out"), "w+")
    err = open(os.path.join(hosts.tmp, mode + ".err"), "w+")
    p = hosts.start(args.dsmflow, mode, "-f", "json", *extra, ns=ns, stdout=out, stderr=err)
    p.out, p.err = out, err
    return p


def stop_dsmflow(p):
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    p.out.seek(0)
    p.err.seek(0)
    return rc, p.out.read(), p.err.read()


def json_documents(text):
    docs, pos, dec = [], 0, json.JSONDecoder()
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        doc, pos = dec.raw_decode(text, pos)
        docs.append(doc)
    return docs


def service(report, name_prefix, candidate=None):
    rows = [s for s in report["services"] if s["service"].startswith(name_prefix)
            and (candidate is None or candidate in s["candidates"])]
    return rows[0] if rows else {"packets": 0, "bytes": 0, "flows": 0}


def unclassified(report, proto, port):
    rows = [p for p in report["unclassified_ports"] if p["proto"] == proto and p["port"] == port]
    return rows[0] if rows else {"packets": 0, "bytes": 0, "flows": 0}


def tshark_count(path, display_filter):
    res = subprocess.run(["tshark", "-n", "-r", path, "-Y", display_filter, "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True)
    return len(res.stdout.split())


def uid_of(pid):
    # dsmflow is the child of `ip netns exec`, which execs it: same pid
    for line in open("/proc/%d/status" % pid):
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


CAP_NET_ADMIN = 1 << 12


def check_confined(pid, keep, threads, what):
    """Every thread of the sensor gave up root's capabilities but keep
    (permitted, effective and the bounding set), set no_new_privs and runs
    under the seccomp filter: they are per thread. (The sensor changes its
    user a moment before it installs the filter: the check waits for the
    filter on every thread first, and fails if one never has it.)"""
    def filtered():
        for task in os.listdir("/proc/%d/task" % pid):
            try:
                if "Seccomp:\t2\n" not in open("/proc/%d/task/%s/status" % (pid, task)).read():
                    return False
            except FileNotFoundError:
                pass    # a thread that just ended
        return True
    wait_for(filtered, 10, what + ": the seccomp filter on every thread")
    tasks = sorted(os.listdir("/proc/%d/task" % pid))
    check(len(tasks) >= threads, "%s: %d threads (the metrics endpoint's among them), at least %d"
          % (what, len(tasks), threads))
    for task in tasks:
        status = dict(line.split(":", 1) for line in open("/proc/%d/task/%s/status" % (pid, task)))
        got = {k: status[k].strip() for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")}
        want = {"CapPrm": keep, "CapEff": keep, "CapBnd": keep, "CapAmb": 0, "NoNewPrivs": "1", "Seccomp": "2"}
        for k, v in want.items():
            have = int(got[k], 16) if k.startswith("Cap") else got[k]
            equal(have, v, "%s: thread %s %s" % (what, task, k))


# ---- dsmflow live ----

def test_capture(args):
    with Hosts() as hosts:
        start_servers(hosts)
        pcap = os.path.join(hosts.tmp, "witness.pcapng")
        witness = hosts.start("dumpcap", "-q", "-i", "nas-c1", "-f", "ip", "-w", pcap, ns=NAS,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) > 0, 10, "dumpcap")
        time.sleep(0.5)
        logs = os.path.join(hosts.tmp, "logs")     # dsmflow runs as nobody: it reopens its log here
        os.mkdir(logs)
        os.chmod(hosts.tmp, 0o755)
        os.chmod(logs, 0o777)
        flows = os.path.join(logs, "flows.jsonl")
        dsm = start_dsmflow(hosts, args, "live", "-i", "nas-c1", "--interval", "1", "--flows", flows,
                            "--nas", NAS_C1, "ip")
        wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow live to drop root")
        time.sleep(0.3)
        for _ in range(3):
            curl(C1, NAS_C1, 5000)
        curl(C1, NAS_C1, 8080, "/")
        udp_echo(C1, NAS_C1, 20)
        dsm.send_signal(signal.SIGUSR1)
        time.sleep(1.5)
        os.rename(flows, flows + ".1")      # as logrotate does, then SIGHUP
        dsm.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        curl(C1, NAS_C1, 5000)
        time.sleep(0.5)
        rc, out, err = stop_dsmflow(dsm)
        time.sleep(0.3)
        witness.send_signal(signal.SIGINT)
        witness.wait(timeout=10)

        equal(rc, 0, "live: exit status after SIGINT")
        docs = json_documents(out)
        equal(len(docs), 2, "live: a report at SIGUSR1 and the final one")
        final = docs[-1]
        check(docs[0]["totals"]["packets"] < final["totals"]["packets"], "live: SIGUSR1's report is a snapshot")
        check("DSM SERVICE" in err and "Total:" in err, "live: --interval summaries on stderr")
        check("packets received" in err, "live: capture health at exit: " + err[-300:])
        equal(final["totals"]["packets"], tshark_count(pcap, "ip"), "live: packets = dumpcap's on the same link")
        dsm_web = service(final, "DSM +", "DSM")
        equal(dsm_web["packets"], tshark_count(pcap, "tcp.port == 5000"), "live: tcp/5000 is the DSM group")
        equal(dsm_web["flows"], 4, "live: four HTTP connections to DSM")
        equal(dsm_web["bytes"], sum(int(x) for x in subprocess.run(
            ["tshark", "-n", "-r", pcap, "-Y", "tcp.port == 5000", "-T", "fields", "-e", "frame.len"],
            capture_output=True, text=True).stdout.split()), "live: DSM bytes are wire lengths")
        equal(service(final, "VPN Server (OpenVPN)")["packets"], 40, "live: 20 datagrams each way on udp/1194")
        equal(unclassified(final, "tcp", 8080)["packets"], tshark_count(pcap, "tcp.port == 8080"),
              "live: tcp/8080 unclassified")
        check(os.path.exists(flows + ".1") and os.path.exists(flows),
              "live: SIGHUP reopened the flow log (the rotated one is kept), and the sensor went on")
        logged = [json.loads(line) for line in open(flows + ".1")] + [json.loads(line) for line in open(flows)]
        equal(len(logged), final["totals"]["flows"], "live: every flow in the flow logs, none lost at the rotation")
        check(all(f["server"] == NAS_C1 for f in logged), "live: the NAS serves every flow")


def fanout_worker(a, b, workers):
    """The worker dsmflow's fanout program (capture_ring.c, pair_hash)
    gives the IPv4 address pair a, b: the sum of the addresses, times
    0x9e3779b1, its high half, modulo the workers."""
    total = (int(ipaddress.ip_address(a)) + int(ipaddress.ip_address(b))) & 0xffffffff
    return (((total * 0x9e3779b1) & 0xffffffff) >> 16) % workers


def test_capture_workers(args):
    """live --workers 2: two rings in one fanout group. The NAS gets a second
    address whose pair with the client falls to the other worker than
    NAS_C1's (the program is deterministic), so that each worker's count
    can be checked against dumpcap's for its pair; the report adds the
    two up to dumpcap's total, and every thread is confined."""
    with Hosts() as hosts:
        start_servers(hosts)
        first = fanout_worker(C1_ADDR, NAS_C1, 2)
        second = next("10.77.1.%d" % i for i in range(11, 60)
                      if fanout_worker(C1_ADDR, "10.77.1.%d" % i, 2) != first)
        sh("ip", "addr", "add", second + "/24", "dev", "nas-c1", ns=NAS)
        pcap = os.path.join(hosts.tmp, "witness-workers.pcapng")
        witness = hosts.start("dumpcap", "-q", "-i", "nas-c1", "-f", "ip", "-w", pcap, ns=NAS,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) > 0, 10, "dumpcap")
        time.sleep(0.5)
        dns = ("import socket, struct\n"
               "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
               "s.bind((%r, 53))\n"
               "while True:\n"
               "    q, a = s.recvfrom(512)\n"
               "    answer = b'\\xc0\\x0c' + struct.pack('>HHIH', 1, 1, 300, 4) + socket.inet_aton(%r)\n"
               "    s.sendto(q[:2] + b'\\x81\\x80' + struct.pack('>HHHH', 1, 1, 0, 0) + q[12:] + answer, a)\n"
               ) % (second, NAS_C1)
        hosts.start("python3", "-c", dns, ns=NAS)
        logs = os.path.join(hosts.tmp, "wlogs")
        os.mkdir(logs)
        os.chmod(hosts.tmp, 0o755)
        os.chmod(logs, 0o777)
        flows = os.path.join(logs, "flows.jsonl")
        dsm = start_dsmflow(hosts, args, "live", "-i", "nas-c1", "--workers", "2", "--nas", "10.77.1.0/24",
                            "--metrics", "127.0.0.1:9205", "--flows", flows, "ip")
        wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow live --workers 2 to drop root")
        wait_for(lambda: port_open(NAS, "127.0.0.1", 9205), 10, "the workers' metrics endpoint")
        check_confined(dsm.pid, 0, 4, "live --workers 2 confined (main, two workers, metrics)")
        for addr in (NAS_C1, second, NAS_C1, second):
            curl(C1, addr, 5000)
        # a DNS answer on one worker (the pair with `second`, the server)
        # names NAS_C1 for a connection the other worker counts
        query = ("import socket, struct\n"
                 "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "s.settimeout(3)\n"
                 "s.sendto(b'\\x12\\x34\\x01\\x00' + struct.pack('>HHHH', 1, 0, 0, 0) + "
                 "b'\\x05alice\\x08synology\\x02me\\x00' + struct.pack('>HH', 1, 1), (%r, 53))\n"
                 "print(len(s.recv(512)))\n") % second
        check(int(sh("python3", "-c", query, ns=C1).stdout) > 12, "live --workers 2: the DNS server answered")
        time.sleep(0.2)
        curl(C1, NAS_C1, 8080, "/")
        curl(C1, second, 8080, "/")
        udp_echo(C1, NAS_C1, 20)
        time.sleep(1)
        metrics = parse_metrics(http_get(NAS, "http://127.0.0.1:9205/metrics"))
        rc, out, err = stop_dsmflow(dsm)
        time.sleep(0.3)
        witness.send_signal(signal.SIGINT)
        witness.wait(timeout=10)
        equal(rc, 0, "live --workers 2: exit status after SIGINT: " + err[-300:])
        final = json_documents(out)[-1]
        equal(final["totals"]["packets"], tshark_count(pcap, "ip"),
              "live --workers 2: packets = dumpcap's on the same link")
        for addr, worker in ((NAS_C1, first), (second, 1 - first)):
            equal(metrics.get('dsmflow_worker_received_packets_total{worker="%d"}' % worker),
                  float(tshark_count(pcap, "ip.addr == %s && ip.addr == %s" % (C1_ADDR, addr))),
                  "live --workers 2: worker %d has the pair %s-%s, both ways" % (worker, C1_ADDR, addr))
        dsm_web = service(final, "DSM +", "DSM")
        equal(dsm_web["flows"], 4, "live --workers 2: four connections to DSM, from both workers")
        equal(dsm_web["packets"], tshark_count(pcap, "tcp.port == 5000"), "live --workers 2: tcp/5000")
        equal(service(final, "VPN Server (OpenVPN)")["packets"], 40, "live --workers 2: udp/1194")
        logged = [json.loads(line) for line in open(flows)]
        equal(len(logged), final["totals"]["flows"], "live --workers 2: every flow logged once, whole lines")
        named = [f for f in logged if f["server"] == NAS_C1 and f["server_port"] == 8080]
        check(len(named) == 1 and named[0].get("remote_access") is True
              and named[0].get("server_name") == "alice.synology.me",
              "live --workers 2: a DNS answer read by one worker names the other's flow: %s" % named)
        check("packets received" in err, "live --workers 2: capture health at exit: " + err[-300:])


# ---- dsmflow queue ----

def iptables_counters(ns, binary):
    """(packets, bytes) summed over the NFQUEUE rules."""
    out = sh(binary, "-L", "-v", "-n", "-x", ns=ns).stdout
    packets = bytes_ = 0
    for line in out.splitlines():
        if "NFQUEUE" in line:
            fields = line.split()
            packets += int(fields[0])
            bytes_ += int(fields[1])
    return packets, bytes_


def test_queue(args):
    binary = "iptables"
    with Hosts() as hosts:
        original = start_servers(hosts)
        want = hashlib.sha256(open(original, "rb").read()).hexdigest()
        for rule in (["-I", "INPUT", "-i", "nas-c1"], ["-I", "OUTPUT", "-o", "nas-c1"]):
            sh(binary, *rule, "-j", "NFQUEUE", "--queue-num", "7", "--queue-bypass", ns=NAS)
        dsm = start_dsmflow(hosts, args, "queue", "--queue", "7", "--nas", NAS_C1)
        wait_for(lambda: queue_bound(7), 10, "dsmflow to bind queue 7")
        wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow queue to drop root")
        check_confined(dsm.pid, CAP_NET_ADMIN, 1, "queue confined")
        second = sh(args.dsmflow, "queue", "--queue", "7", "--duration", "1", ns=NAS, check_rc=False)
        equal(second.returncode, 1, "queue: a second sensor on a bound queue fails")
        check("cannot bind to queue 7" in second.stderr and "another process" in second.stderr,
              "queue: the refusal is named: " + second.stderr[-300:])
        for _ in range(3):
            equal(curl(C1, NAS_C1, 5000), want, "queue: the download arrives unchanged")
        udp_echo(C1, NAS_C1, 25)
        curl(C1, NAS_C1, 8080, "/")
        time.sleep(0.3)
        rc, out, err = stop_dsmflow(dsm)
        equal(rc, 0, "queue: exit status after SIGINT: " + err[-300:])
        report = json_documents(out)[-1]
        packets, size = iptables_counters(NAS, binary)
        equal(report["totals"]["packets"], packets, "queue: packets = the NFQUEUE rules' counters: " + err[-400:])
        equal(report["totals"]["bytes"], size, "queue: bytes (IP lengths) = the rules' counters")
        equal(service(report, "VPN Server (OpenVPN)")["packets"], 50, "queue: 25 datagrams each way")
        check(service(report, "DSM +", "DSM")["packets"] > 0, "queue: DSM web traffic attributed")
        check("ENOBUFS" in err, "queue: queue health at exit: " + err[-300:])

        # dsmflow gone, rules still there: --queue-bypass lets traffic through
        equal(curl(C1, NAS_C1, 5000), want, "queue: traffic flows with dsmflow stopped (--queue-bypass)")
        udp_echo(C1, NAS_C1, 5)
        after, _ = iptables_counters(NAS, binary)
        check(after > packets, "queue: the bypassed packets still met the rules")
        test_queue_overload(args, hosts)
        test_queue_stop_drains(args, hosts)
        for rule in (["-I", "INPUT", "-i", "nas-c1"], ["-I", "OUTPUT", "-o", "nas-c1"]):
            sh(binary, "-D", *rule[1:], "-j", "NFQUEUE", "--queue-num", "7", "--queue-bypass", ns=NAS)
        test_queue_threads(args, hosts, binary)


def udp_sink(hosts, port, seconds):
    """A UDP receiver in the NAS counting datagrams for seconds; returns the
    process, whose output is the count."""
    code = ("import socket, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.setsockopt(socket.SOL_SOCKET, 33, 1 << 25)  # SO_RCVBUFFORCE: beyond rmem_max\n"
            "s.bind(('0.0.0.0', %d))\n"
            "s.settimeout(0.2)\n"
            "n, end = 0, time.time() + %f\n"
            "while time.time() < end:\n"
            "    try:\n"
            "        s.recv(4096)\n"
            "        n += 1\n"
            "    except socket.timeout:\n"
            "        pass\n"
            "print(n)\n") % (port, seconds)
    return hosts.start("python3", "-c", code, ns=NAS, stdout=subprocess.PIPE, text=True)


def test_queue_overload(args, hosts):
    """dsmflow stopped dead while a burst arrives: the netlink socket
    overflows, the kernel passes the packets (fail-open) and reports ENOBUFS;
    dsmflow, continued, counts it and goes on."""
    dsm = start_dsmflow(hosts, args, "queue", "--queue", "7", "--rcvbuf", "1", "--metrics",
                        "127.0.0.1:9201")
    wait_for(lambda: queue_bound(7), 10, "dsmflow to bind queue 7")
    wait_for(lambda: port_open(NAS, "127.0.0.1", 9201), 10, "the queue's metrics endpoint")
    check_confined(dsm.pid, CAP_NET_ADMIN, 2, "queue with metrics confined")
    sink = udp_sink(hosts, 1195, 6)
    time.sleep(0.5)
    dsm.send_signal(signal.SIGSTOP)
    burst = 20000
    code = ("import socket, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for i in range(%d):\n"
            "    s.sendto(b'x' * 200, (%r, 1195))\n"
            "    if i %% 500 == 499:\n"
            "        time.sleep(0.002)  # the sink keeps up; dsmflow, stopped, cannot\n") % (burst, NAS_C1)
    sh("python3", "-c", code, ns=C1)
    dsm.send_signal(signal.SIGCONT)
    received = int(sink.communicate(timeout=30)[0].strip() or 0)
    equal(received, burst, "queue overload: every datagram delivered (fail-open)")
    check(dsm.poll() is None, "queue overload: dsmflow survives ENOBUFS")
    metrics = parse_metrics(http_get(NAS, "http://127.0.0.1:9201/metrics"))
    check(metrics.get("dsmflow_queue_enobufs_total", 0) > 0, "queue overload: ENOBUFS counted in /metrics")
    equal(curl(C1, NAS_C1, 5000, "/"), curl(C1, NAS_C1, 5000, "/"), "queue overload: traffic still inspected and passed")
    rc, out, err = stop_dsmflow(dsm)
    equal(rc, 0, "queue overload: exit status: " + err[-200:])
    report = json_documents(out)[-1]
    check(report["totals"]["packets"] > 0, "queue overload: a report at exit")


def test_queue_stop_drains(args, hosts):
    """Packets waiting for dsmflow's verdict when it is told to stop are read,
    counted and accepted, not dropped with the queue: dsmflow is stopped dead
    while a burst waits in the queue, then gets SIGINT and runs on."""
    dsm = start_dsmflow(hosts, args, "queue", "--queue", "7")
    wait_for(lambda: queue_bound(7), 10, "dsmflow to bind queue 7")
    sink = udp_sink(hosts, 1196, 5)
    time.sleep(0.5)
    dsm.send_signal(signal.SIGSTOP)
    burst = 3000
    code = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for i in range(%d):\n"
            "    s.sendto(b'y' * 100, (%r, 1196))\n") % (burst, NAS_C1)
    sh("python3", "-c", code, ns=C1)
    time.sleep(0.3)
    dsm.send_signal(signal.SIGINT)
    dsm.send_signal(signal.SIGCONT)
    rc, out, err = stop_dsmflow(dsm)
    received = int(sink.communicate(timeout=30)[0].strip() or 0)
    equal(rc, 0, "queue stop: exit status: " + err[-200:])
    equal(received, burst, "queue stop: every queued datagram delivered, none dropped at the stop")
    report = json_documents(out)[-1]
    equal(unclassified(report, "udp", 1196)["packets"], burst, "queue stop: and counted")


def queue_sequence(number):
    """The packets queue number has taken since it was bound (its id sequence)."""
    res = sh("cat", "/proc/net/netfilter/nfnetlink_queue", ns=NAS, check_rc=False)
    for line in res.stdout.splitlines():
        fields = line.split()
        if fields and int(fields[0]) == number:
            return int(fields[7])   # number, portid, total, mode, range, dropped, user_dropped, id
    return None


def test_queue_threads(args, hosts, binary):
    """--queue 8:9: one process, a thread per queue, one report and one
    metrics endpoint adding the threads up; each client's traffic is sent
    to a queue of its own, so that both threads count for certain."""
    for nic, number in (("nas-c1", "8"), ("nas-c2", "9")):
        sh(binary, "-I", "INPUT", "-i", nic, "-j", "NFQUEUE", "--queue-num", number, "--queue-bypass", ns=NAS)
        sh(binary, "-I", "OUTPUT", "-o", nic, "-j", "NFQUEUE", "--queue-num", number, "--queue-bypass", ns=NAS)
    logs = os.path.join(hosts.tmp, "qlogs")
    os.mkdir(logs)
    os.chmod(hosts.tmp, 0o755)
    os.chmod(logs, 0o777)
    flows = os.path.join(logs, "flows.jsonl")
    dsm = start_dsmflow(hosts, args, "queue", "--queue", "8:9", "--nas", NAS_C1, "--nas", NAS_C2,
                        "--metrics", "127.0.0.1:9204", "--flows", flows)
    wait_for(lambda: queue_bound(8) and queue_bound(9), 10, "dsmflow to bind queues 8 and 9")
    wait_for(lambda: port_open(NAS, "127.0.0.1", 9204), 10, "the queues' metrics endpoint")
    wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow queue 8:9 to drop root")
    check_confined(dsm.pid, CAP_NET_ADMIN, 4, "queue 8:9 confined (main, two queues, metrics)")
    seen = []
    for client, addr in ((C1, NAS_C1), (C2, NAS_C2), (C1, NAS_C1)):
        curl(client, addr, 5000)
        udp_echo(client, addr, 25)
        seen.append(parse_metrics(http_get(NAS, "http://127.0.0.1:9204/metrics")))
    for before, after in zip(seen, seen[1:]):
        for key, value in before.items():
            if key.endswith("_total") and key in after:
                check(after[key] >= value, "queue 8:9: %s never goes down (%s -> %s)" % (key, value, after[key]))
    packets, size = iptables_counters(NAS, binary)
    wait_for(lambda: parse_metrics(http_get(NAS, "http://127.0.0.1:9204/metrics")).get(
        'dsmflow_read_packets_total') == packets, 10, "the scrape to count every queued packet")
    # the audit so far folds both threads' active flows: each NAS address is
    # served on a queue of its own
    audit = json.loads(http_get(NAS, "http://127.0.0.1:9204/audit.json"))
    served = {n["address"]: n["in_use"] for n in audit["nas"]}
    check(sorted(served) == sorted([NAS_C1, NAS_C2]) and all(served.values()),
          "queue 8:9: /audit.json has both NAS addresses' services in use: %s" % served)
    eight, nine = queue_sequence(8), queue_sequence(9)
    check(eight > 0 and nine > 0 and eight + nine == packets,
          "queue 8:9: both queues carried packets (%s + %s of %d), all counted" % (eight, nine, packets))
    dsm.send_signal(signal.SIGUSR1)

    def reported():
        try:
            return len(json_documents(open(dsm.out.name).read())) >= 1
        except ValueError:
            return False    # being written
    wait_for(reported, 10, "the SIGUSR1 report")   # before more traffic comes
    os.rename(flows, flows + ".1")      # as logrotate does, then SIGHUP
    dsm.send_signal(signal.SIGHUP)
    curl(C2, NAS_C2, 5000, "/")
    time.sleep(0.5)
    rc, out, err = stop_dsmflow(dsm)
    equal(rc, 0, "queue 8:9: exit status after SIGINT: " + err[-300:])
    docs = json_documents(out)
    equal(len(docs), 2, "queue 8:9: a report at SIGUSR1 and the final one")
    first, final = docs[0], docs[-1]
    equal(first["totals"]["packets"], packets, "queue 8:9: SIGUSR1's report adds both threads up")
    packets, size = iptables_counters(NAS, binary)
    equal(final["totals"]["packets"], packets, "queue 8:9: packets = the NFQUEUE rules' counters: " + err[-400:])
    equal(final["totals"]["bytes"], size, "queue 8:9: bytes = the rules' counters")
    check(not queue_bound(8) and not queue_bound(9), "queue 8:9: both queues unbound at the stop")
    equal(service(final, "VPN Server (OpenVPN)")["packets"], 150, "queue 8:9: 25 datagrams each way, three times")
    check(service(final, "DSM +", "DSM")["flows"] >= 3, "queue 8:9: the downloads, from both threads")
    check("reloaded" in err, "queue 8:9: SIGHUP reloaded the tables: " + err[-300:])
    lines = [line for name in (flows + ".1", flows) for line in open(name).read().splitlines()]
    records = [json.loads(line) for line in lines]     # whole lines: a broken one fails here
    equal(len(records), final["totals"]["flows"], "queue 8:9: every flow logged once, in whole lines")
    check(os.path.getsize(flows) > 0, "queue 8:9: lines after SIGHUP went to the reopened log")
    for nic, number in (("nas-c1", "8"), ("nas-c2", "9")):
        sh(binary, "-D", "INPUT", "-i", nic, "-j", "NFQUEUE", "--queue-num", number, "--queue-bypass", ns=NAS)
        sh(binary, "-D", "OUTPUT", "-o", nic, "-j", "NFQUEUE", "--queue-num", number, "--queue-bypass", ns=NAS)


def queue_bound(number):
    """Whether a process listens on queue number in the NAS's namespace
    (/proc/net is the reader's network namespace)."""
    res = sh("cat", "/proc/net/netfilter/nfnetlink_queue", ns=NAS, check_rc=False)
    return any(line.split() and int(line.split()[0]) == number for line in res.stdout.splitlines())


# ---- two sensors and a real Prometheus ----

def http_get(ns, url):
    code = "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen(%r, timeout=5).read().decode())" % url
    return sh("python3", "-c", code, ns=ns).stdout


def parse_metrics(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    return values


def service_bytes_by_name(values):
    sums = {}
    for key, value in values.items():
        if key.startswith("dsmflow_service_bytes_total{"):
            name = key.split('dsm_service="', 1)[1].split('"', 1)[0]
            sums[name] = sums.get(name, 0) + value
    return sums


def test_prometheus(args):
    with Hosts() as hosts:
        start_servers(hosts)
        sensors = []
        for ifname, port in (("nas-c1", 9101), ("nas-c2", 9102)):
            sensors.append(start_dsmflow(hosts, args, "live", "-i", ifname, "--metrics",
                                         "127.0.0.1:%d" % port, "ip"))
        wait_for(lambda: all(port_open(NAS, "127.0.0.1", p) for p in (9101, 9102)), 10, "the sensors' endpoints")
        config = os.path.join(hosts.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: dsmflow\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:9101', '127.0.0.1:9102']\n")
        check(sh("promtool", "check", "config", config, check_rc=False).returncode == 0, "promtool check config")
        hosts.start("prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(hosts.tmp, "tsdb"),
                    "--web.listen-address=127.0.0.1:9190", ns=NAS,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(NAS, "127.0.0.1", 9190), 30, "prometheus")
        curl(C1, NAS_C1, 5000)
        curl(C2, NAS_C2, 5000)
        udp_echo(C2, NAS_C2, 10)
        curl(C2, NAS_C2, 8080, "/")
        time.sleep(1)
        direct = [parse_metrics(http_get(NAS, "http://127.0.0.1:%d/metrics" % p)) for p in (9101, 9102)]
        for port in (9101, 9102):
            text = http_get(NAS, "http://127.0.0.1:%d/metrics" % port)
            res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            check(res.returncode == 0, "promtool check metrics on :%d: %s" % (port, res.stdout + res.stderr))
        equal(http_get(NAS, "http://127.0.0.1:9101/healthz"), "ok\n", "/healthz")
        check("/metrics" in http_get(NAS, "http://127.0.0.1:9101/"), "/ links to /metrics")
        expected = {}
        for values in direct:
            for name, value in service_bytes_by_name(values).items():
                expected[name] = expected.get(name, 0) + value
        check(len(expected) >= 2, "two services seen across the sensors: %r" % expected)
        query = "sum by (dsm_service) (dsmflow_service_bytes_total)"
        url = "http://127.0.0.1:9190/api/v1/query?" + urllib.parse.urlencode({"query": query})

        def prometheus_agrees():
            answer = json.loads(http_get(NAS, url))
            got = {r["metric"]["dsm_service"]: float(r["value"][1]) for r in answer["data"]["result"]}
            return got == expected

        try:
            wait_for(prometheus_agrees, 20, "Prometheus to scrape both sensors")
            check(True, "PromQL sum by dsm_service over two sensors = the sensors' own sums")
        except RuntimeError:
            check(False, "PromQL %s: %s, expected %r" % (query, http_get(NAS, url), expected))
        check_dashboard(args, direct[0])
        check_counters_never_go_down(hosts, 9101)
        for s in sensors:
            rc, _, err = stop_dsmflow(s)
            equal(rc, 0, "sensor exit status: " + err[-200:])


SCRAPER = """
import json, sys, time, urllib.request
end = time.time() + float(sys.argv[2])
while time.time() < end:
    text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
    print(json.dumps(text), flush=True)
    time.sleep(0.02)
"""

# DSM web requests whose Web API name arrives in two segments apart: each
# flow is pending (its counts in no row yet) until the second part names the
# package, then moves to File Station's row at once. The gap spans several
# of the sensor's idle wake-ups (CAPTURE_WAIT_MS, 100 ms) so that a snapshot
# is taken while the flow is pending even on a loaded machine.
SLOW_CLIENT = """
import socket, sys, time
for i in range(int(sys.argv[2])):
    s = socket.create_connection((sys.argv[1], 5000), timeout=5)
    s.sendall(b"GET /webapi/entry.cgi?api=SYNO.")
    time.sleep(0.35)
    s.sendall(b"FileStation.List&version=2&method=list HTTP/1.0\\r\\nHost: nas\\r\\n\\r\\n")
    while s.recv(65536):
        pass
    s.close()
"""


def check_counters_never_go_down(hosts, port):
    """Scrapes a sensor every 20 ms while flows go from pending to decided:
    no counter ever goes down, and every scrape adds up."""
    # the scrapes go to a file: a pipe nobody drains while the requests run
    # would fill after a few scrapes and stop the scraper until they end
    log = os.path.join(hosts.tmp, "scrapes.jsonl")
    with open(log, "w") as sink:
        scraper = hosts.start("python3", "-c", SCRAPER, "http://127.0.0.1:%d/metrics" % port, "12", ns=NAS,
                              stdout=sink, text=True)
    wait_for(lambda: os.path.getsize(log) > 0, 10, "the first scrape")
    client = hosts.start("python3", "-c", SLOW_CLIENT, NAS_C1, "25", ns=C1)
    client.wait(timeout=60)
    scraper.wait(timeout=60)
    out = open(log).read()
    scrapes = [parse_metrics(json.loads(line)) for line in out.splitlines()]
    check(len(scrapes) > 20, "monotonic: %d scrapes during the traffic" % len(scrapes))
    counters = set()
    for text in out.splitlines()[:1]:
        for line in json.loads(text).splitlines():
            if line.startswith("# TYPE ") and line.endswith(" counter"):
                counters.add(line.split()[2])
    went_down, vanished = [], []
    for before, after in zip(scrapes, scrapes[1:]):
        for key, value in before.items():
            if key.split("{")[0] not in counters:
                continue
            if key not in after:
                vanished.append(key)    # Prometheus would take it for a reset
            elif after[key] < value:
                went_down.append((key, value, after[key]))
    equal(went_down, [], "monotonic: no counter went down between consecutive scrapes")
    equal(vanished, [], "monotonic: no counter series vanished between consecutive scrapes")
    pending = sum(1 for s in scrapes if s.get("dsmflow_pending_packets", 0) > 0)
    print("monotonic: %d of %d scrapes saw flows pending" % (pending, len(scrapes)))
    check(pending > 0, "monotonic: scrapes saw flows pending (%d scrapes)" % len(scrapes))
    for unit in ("packets", "bytes"):
        unbalanced = [s for s in scrapes
                      if sum(v for k, v in s.items() if k.startswith("dsmflow_%s_total{" % unit))
                      + s["dsmflow_pending_" + unit] != s["dsmflow_read_%s_total" % unit]]
        equal(len(unbalanced), 0, "monotonic: in every scrape the results plus the pending %s are "
                                  "every %s read" % (unit, unit))
    last = scrapes[-1]
    files = sum(v for k, v in last.items()
                if k.startswith("dsmflow_service_flows_by_evidence_total{") and 'dsm_service="File Station"' in k
                and 'evidence="web-api"' in k)
    equal(files, 25, "monotonic: all 25 slow requests decided as File Station by their Web API name")


def check_dashboard(args, metrics):
    """The shipped Grafana dashboard asks only for metrics dsmflow exports,
    in PromQL this Prometheus accepts, and its main panels show data."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contrib")
    check(sh("promtool", "check", "config", os.path.join(source, "prometheus.yml"),
             check_rc=False).returncode == 0, "contrib/prometheus.yml is a valid configuration")
    dashboard = json.load(open(os.path.join(source, "grafana-dashboard.json")))
    families = {key.split("{")[0] for key in metrics}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for word in re.findall(r"dsmflow_[a-z_]+", expr):
                check(word in families, "dashboard %r: %s is exported" % (panel["title"], word))
            promql = (expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
                      .replace("$instance", ".*"))
            url = "http://127.0.0.1:9190/api/v1/query?" + urllib.parse.urlencode({"query": promql})
            answer = json.loads(http_get(NAS, url))
            check(answer.get("status") == "success", "dashboard %r: PromQL accepted: %s" % (panel["title"], expr))
            if panel["id"] in (1, 2, 3):
                # rates need two scrapes of a series: wait for the second
                try:
                    wait_for(lambda: json.loads(http_get(NAS, url))["data"]["result"], 15, "data")
                    check(True, "dashboard %r shows data" % panel["title"])
                except RuntimeError:
                    check(False, "dashboard %r shows no data: %s" % (panel["title"], http_get(NAS, url)))
    check_alerts(source, families)


def check_alerts(source, families):
    """contrib/alerts.yml: promtool accepts the rules and passes their unit
    tests (a restart, a service never seen), and they use exported metrics."""
    rules = os.path.join(source, "alerts.yml")
    res = sh("promtool", "check", "rules", rules, check_rc=False)
    equal(res.returncode, 0, "promtool check rules contrib/alerts.yml: " + res.stdout[-300:])
    res = sh("promtool", "test", "rules", os.path.join(source, "alerts-test.yml"), check_rc=False)
    equal(res.returncode, 0, "promtool test rules contrib/alerts-test.yml: " + (res.stdout + res.stderr)[-500:])
    for word in set(re.findall(r"dsmflow_[a-z_]+", open(rules).read())):
        check(word in families, "alerts.yml: %s is exported" % word)


# ---- reloading the catalogue on SIGHUP ----

def connect_to(ports):
    """One TCP connection attempt from C1 to each NAS port (nothing listens:
    a SYN and a RST, a flow the SYN decides)."""
    code = ("import socket, sys\n"
            "for port in sys.argv[2:]:\n"
            "    try:\n"
            "        socket.create_connection((sys.argv[1], int(port)), timeout=1).close()\n"
            "    except OSError:\n"
            "        pass\n")
    sh("python3", "-c", code, NAS_C1, *[str(p) for p in ports], ns=C1)


def edited_catalog(original):
    """Telnet dropped, MySQL renamed MariaDB, My App added on tcp/12321."""
    lines = [line for line in original.splitlines(True) if "\tTelnet\t" not in line]
    lines = [line.replace("\tMySQL\t", "\tMariaDB\t") for line in lines]
    return "".join(lines) + "System\tMy App\ttcp\t12321\t12321\t-\tinbound\tstatic\t-\t-\t-\n"


def metric(values, name, service_name=None):
    total = 0
    for key, value in values.items():
        if key == name or (key.startswith(name + "{") and
                           (service_name is None or 'dsm_service="%s"' % service_name in key)):
            total += value
    return total


def check_live_audit(hosts, base):
    """A sensor with --nas serves its audit: /audit.json (the active flows
    folded in) and / (the page), which headless Chromium renders inside the
    NAS's namespace, with no other network."""
    audit = json.loads(http_get(NAS, base + "/audit.json"))
    equal([n["address"] for n in audit["nas"]], [NAS_C1], "live audit: the NAS given with --nas")
    # nothing listens on Telnet's and MySQL's ports: each connection is
    # refused, a scan rather than a use
    equal(audit["nas"][0]["in_use"], [], "live audit: refused connections are no service in use")
    check(audit["nas"][0]["unanswered"]["flows"] >= 4, "live audit: they are counted as unanswered: %r"
          % audit["nas"][0]["unanswered"])
    chromium = shutil.which("chromium")
    if not chromium:
        print("SKIP: no chromium for the live page")
        return
    profile = os.path.join(hosts.tmp, "chromium")
    res = sh(chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
             "--dump-dom", base + "/", ns=NAS, check_rc=False, timeout=120)
    dom = res.stdout
    check('data-address="%s"' % NAS_C1 in dom and "Closable ports" in dom and "Telnet" in dom,
          "live audit: the page renders with its sections and sorting (%d bytes)" % len(dom))


def test_reload(args):
    """A sensor's SIGHUP puts an edited catalogue in force keeping every
    counter; a bad one is refused with its FILE:LINE and the old one stays."""
    with Hosts() as hosts:
        original = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "catalog",
                                     "dsm-ports.tsv")).read()
        os.chmod(hosts.tmp, 0o755)
        path = os.path.join(hosts.tmp, "catalog.tsv")
        with open(path, "w") as f:
            f.write(original)
        os.chmod(path, 0o644)
        dsm = start_dsmflow(hosts, args, "live", "-i", "nas-c1", "--catalog", path, "--nas", NAS_C1,
                            "--metrics", "127.0.0.1:9301", "tcp")
        wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow live to drop root")
        wait_for(lambda: port_open(NAS, "127.0.0.1", 9301), 10, "the sensor's metrics endpoint")
        check_confined(dsm.pid, 0, 2, "live with metrics confined")
        time.sleep(0.3)
        url = "http://127.0.0.1:9301/metrics"
        connect_to([23, 3306, 23, 3306])
        wait_for(lambda: metric(parse_metrics(http_get(NAS, url)), "dsmflow_service_packets_total",
                                "MySQL") >= 4, 10, "MySQL's packets in /metrics")
        before = parse_metrics(http_get(NAS, url))
        equal(metric(before, "dsmflow_reloads_total"), 0, "reload: none yet")
        check_live_audit(hosts, "http://127.0.0.1:9301")

        with open(path, "w") as f:
            f.write(edited_catalog(original))
        dsm.send_signal(signal.SIGHUP)
        wait_for(lambda: metric(parse_metrics(http_get(NAS, url)), "dsmflow_reloads_total") == 1, 10,
                 "the reload in /metrics")
        connect_to([23, 3306, 12321])
        wait_for(lambda: metric(parse_metrics(http_get(NAS, url)), "dsmflow_service_packets_total",
                                "My App") >= 2, 10, "My App's packets in /metrics")
        after = parse_metrics(http_get(NAS, url))
        went_down = [k for k, v in before.items() if k.endswith("_total") and after.get(k, -1) < v]
        equal(went_down, [], "reload: no counter went down or vanished")
        equal(metric(after, "dsmflow_service_packets_total", "Telnet"),
              metric(before, "dsmflow_service_packets_total", "Telnet"),
              "reload: the dropped service keeps its count and stops growing")
        equal(metric(after, "dsmflow_service_packets_total", "MySQL"),
              metric(before, "dsmflow_service_packets_total", "MySQL"),
              "reload: the renamed service's old row keeps its count")
        check(metric(after, "dsmflow_service_packets_total", "MariaDB") >= 2,
              "reload: the renamed service counts new flows under its new name")
        check(metric(after, "dsmflow_last_reload_success_timestamp_seconds") > time.time() - 60,
              "reload: its time is exported")

        with open(path, "w") as f:
            f.write(original.splitlines(True)[0] + "System\tBroken\tsctp\t1\t1\t-\tinbound\tstatic\t-\t-\t-\n")
        dsm.send_signal(signal.SIGHUP)
        wait_for(lambda: metric(parse_metrics(http_get(NAS, url)), "dsmflow_reload_failures_total") == 1,
                 10, "the refused reload in /metrics")
        connect_to([12321])
        wait_for(lambda: metric(parse_metrics(http_get(NAS, url)), "dsmflow_service_packets_total",
                                "My App") >= 4, 10, "My App still counted after the refusal")
        final_metrics = parse_metrics(http_get(NAS, url))
        equal(metric(final_metrics, "dsmflow_reloads_total"), 1, "reload: the refused one is not in force")
        rc, out, err = stop_dsmflow(dsm)
        equal(rc, 0, "reload: exit status: " + err[-300:])
        check("reload refused: %s:2:" % path in err, "reload: the refusal names FILE:LINE: " + err[-400:])
        report = json_documents(out)[-1]
        check(unclassified(report, "tcp", 23)["packets"] >= 2, "reload: tcp/23 is unclassified now")
        check(service(report, "Telnet")["packets"] >= 4, "reload: Telnet's row is in the final report")
        check(service(report, "My App")["packets"] >= 4, "reload: the added service is in the final report")

        # the audit as a sensor's report, at exit
        audit_sensor = hosts.start(args.dsmflow, "live", "-i", "nas-c1", "--nas", NAS_C1, "-f", "audit-json",
                                   "--duration", "3", "tcp", ns=NAS, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        connect_to([3306, 3306])
        out, err = audit_sensor.communicate(timeout=30)
        equal(audit_sensor.returncode, 0, "live -f audit-json: exit status: " + err[-200:])
        final_audit = json.loads(out)
        equal(final_audit["nas"][0]["unanswered"]["flows"], 2,
              "live -f audit-json: the audit at exit has the two refused MySQL connections")


# ---- the firewall proposal, loaded for real ----

def link_local(ns, ifname):
    out = sh("ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link", ns=ns).stdout
    for line in out.splitlines():
        if "tentative" not in line:
            return line.split()[3].split("/")[0]
    return None


def test_firewall(args):
    """dsmflow audit --firewall on traffic captured here: nft and iptables
    accept what it writes; loaded into the NAS's namespace, the observed
    client still reaches what it used, an unobserved network is refused,
    and IPv6, neighbour discovery included, still works (an IPv4 NAS's
    proposal filters IPv4 only)."""
    with Hosts() as hosts:
        start_servers(hosts)
        hosts.start("python3", "-m", "http.server", "5001", "--bind", "::", ns=NAS,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for ns, ifname in ((NAS, "nas-c1"), (C1, "c1-nas")):
            sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=0" % ifname, ns=ns)
        wait_for(lambda: link_local(NAS, "nas-c1") and link_local(C1, "c1-nas"), 10, "IPv6 link-local addresses")
        nas6 = link_local(NAS, "nas-c1") + "%c1-nas"
        check(port_open(C2, NAS_C2, 8080), "firewall: before, the other network reaches tcp/8080")
        pcap = os.path.join(hosts.tmp, "seen.pcapng")
        dumpcap = hosts.start("dumpcap", "-q", "-i", "nas-c1", "-f", "ip", "-w", pcap, ns=NAS,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) > 0, 10, "dumpcap")
        time.sleep(0.5)
        curl(C1, NAS_C1, 8080, "/")
        curl(C1, NAS_C1, 5000, "/")
        time.sleep(0.5)
        dumpcap.send_signal(signal.SIGINT)
        dumpcap.wait(timeout=10)
        rules = {}
        for kind in ("nft", "iptables", "dsm"):
            res = sh(args.dsmflow, "audit", "--nas", NAS_C1, "--firewall", kind, pcap, check_rc=False)
            equal(res.returncode, 0, "firewall %s: exit status: %s" % (kind, res.stderr[-200:]))
            rules[kind] = os.path.join(hosts.tmp, "rules." + kind)
            with open(rules[kind], "w") as f:
                f.write(res.stdout)
        check("tcp dport { 8080 }" in open(rules["nft"]).read(), "firewall: the port served is allowed")
        check("Custom TCP: 8080" in open(rules["dsm"]).read(), "firewall dsm: the port served is a rule")
        res = sh("iptables-restore", "--test", rules["iptables"], ns=NAS, check_rc=False)
        equal(res.returncode, 0, "firewall: iptables-restore --test accepts it: " + res.stderr[-300:])
        res = sh("nft", "-c", "-f", rules["nft"], ns=NAS, check_rc=False)
        equal(res.returncode, 0, "firewall: nft -c accepts it: " + res.stderr[-300:])
        sh("nft", "-f", rules["nft"], ns=NAS)
        sh("nft", "-f", rules["nft"], ns=NAS)     # twice: it replaces its own table
        for ns, ifname in ((NAS, "nas-c1"), (C1, "c1-nas")):
            sh("ip", "-6", "neigh", "flush", "dev", ifname, ns=ns)
            sh("ip", "neigh", "flush", "dev", ifname, ns=ns)
        equal(curl(C1, NAS_C1, 8080, "/"), curl(C1, NAS_C1, 8080, "/"), "firewall: the observed client still reaches tcp/8080")
        check(port_open(C1, NAS_C1, 5000), "firewall: the observed client still reaches the DSM UI")
        check(not port_open(C2, NAS_C2, 8080), "firewall: an unobserved network is refused tcp/8080")
        check(not port_open(C2, NAS_C2, 5000), "firewall: ... and the DSM UI (not a local network of the NAS given)")
        check(port_open(C1, nas6, 5001), "firewall: an IPv4 NAS's proposal leaves IPv6 alone: neighbour "
              "discovery works, a link-local client reaches the DSM UI")
        check_firewall_ipv6(args, hosts)


def check_firewall_ipv6(args, hosts):
    """The proposal for an IPv6 NAS (table ip6), loaded: the client still
    reaches what it used, which needs neighbour discovery through the drop
    policy; a port it never used is refused."""
    nas, client = "fd77:1::1", "fd77:1::2"
    sh("ip", "-6", "addr", "add", nas + "/64", "dev", "nas-c1", "nodad", ns=NAS)
    sh("ip", "-6", "addr", "add", client + "/64", "dev", "c1-nas", "nodad", ns=C1)
    hosts.start("python3", "-m", "http.server", "8081", "--bind", "::", ns=NAS,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: port_open(C1, nas, 5001) and port_open(C1, nas, 8081), 10, "the IPv6 servers")
    pcap = os.path.join(hosts.tmp, "seen6.pcapng")
    dumpcap = hosts.start("dumpcap", "-q", "-i", "nas-c1", "-f", "ip6", "-w", pcap, ns=NAS,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) > 0, 10, "dumpcap")
    time.sleep(0.5)
    res = sh("curl", "-sf", "--max-time", "10", "http://[%s]:5001/" % nas, ns=C1, check_rc=False)
    equal(res.returncode, 0, "firewall ipv6: the client uses the NAS's 5001")
    time.sleep(0.5)
    dumpcap.send_signal(signal.SIGINT)
    dumpcap.wait(timeout=10)
    res = sh(args.dsmflow, "audit", "--nas", nas, "--firewall", "nft", pcap, check_rc=False)
    equal(res.returncode, 0, "firewall ipv6: exit status: " + res.stderr[-200:])
    rules = os.path.join(hosts.tmp, "rules6.nft")
    with open(rules, "w") as f:
        f.write(res.stdout)
    check("table ip6 dsmflow_nas0 {" in res.stdout and "nd-neighbor-solicit" in res.stdout,
          "firewall ipv6: a table ip6, neighbour discovery allowed")
    res = sh("nft", "-c", "-f", rules, ns=NAS, check_rc=False)
    equal(res.returncode, 0, "firewall ipv6: nft -c accepts it: " + res.stderr[-300:])
    sh("nft", "-f", rules, ns=NAS)
    for ns, ifname in ((NAS, "nas-c1"), (C1, "c1-nas")):
        sh("ip", "-6", "neigh", "flush", "dev", ifname, ns=ns)
    check(port_open(C1, nas, 5001), "firewall ipv6: the client still reaches 5001 (neighbour discovery works)")
    check(not port_open(C1, nas, 8081), "firewall ipv6: a port it never used is refused")


# ---- a SYN flood on a live interface ----

def peak_rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_flood(args):
    """A SYN flood from distinct sources with answered conversations among
    it, replayed into a link a sensor with a small --max-memory watches: the
    unanswered flows are evicted first, the conversations keep exact counts,
    the evictions are reported, and the peak RSS stays within the flow
    budget, the capture ring and the program."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from captures import write_syn_flood
    with Hosts() as hosts:
        flood = os.path.join(hosts.tmp, "flood.pcap")
        streamed = write_syn_flood(flood, 400000, 5, 2000)
        budget_mib, ring_kib = 8, 32768
        dsm = start_dsmflow(hosts, args, "live", "-i", "nas-c1", "--max-memory", str(budget_mib),
                            "-B", str(ring_kib), "-Z", "root")
        time.sleep(1.0)
        sh("tcpreplay", "-q", "--pps=200000", "-i", "c1-nas", flood, ns=C1)
        time.sleep(1.0)
        peak = peak_rss_kib(dsm.pid)
        rc, out, err = stop_dsmflow(dsm)
        equal(rc, 0, "flood: exit status: " + err[-300:])
        report = json_documents(out)[-1]
        t, health = report["totals"], report.get("capture", {})
        check("0 dropped by the kernel" in err, "flood: the capture dropped nothing: " + err[-200:])
        check(t["packets"] >= 400000 + streamed, "flood: every replayed packet read (%d)" % t["packets"])
        equal(service(report, "VPN Server (OpenVPN)")["packets"], streamed,
              "flood: the answered conversations keep every packet")
        equal(service(report, "VPN Server (OpenVPN)")["flows"], 5,
              "flood: the answered conversations are never evicted")
        check(t["evicted_flows"] > 300000 and t["evicted_unanswered_flows"] == t["evicted_flows"],
              "flood: evictions reported, all of unanswered flows (%d of %d)"
              % (t["evicted_unanswered_flows"], t["evicted_flows"]))
        limit = (budget_mib + 40) * 1024 + ring_kib
        print("flood: %d packets, %d flows evicted (%d unanswered), peak RSS %d KiB"
              % (t["packets"], t["evicted_flows"], t["evicted_unanswered_flows"], peak))
        check(peak < limit, "flood: peak RSS %d KiB within the %d MiB flow budget, the %d KiB ring "
              "and 40 MiB for the program" % (peak, budget_mib, ring_kib))


def test_reports(args):
    """A sensor's reports to -o FILE replace it whole: a reader parsing it
    all the while never sees a broken document, and no file is left beside
    it; --flows - writes the flow log to standard output; each --interval
    summary starts with its time and the last interval's rates; a directory
    the sensor's user cannot write to is refused at start. And a failed
    set-up of the test hosts removes what it made."""
    with Hosts() as hosts:
        start_servers(hosts)
        os.chmod(hosts.tmp, 0o755)
        out_dir = os.path.join(hosts.tmp, "reports")
        os.mkdir(out_dir)
        os.chmod(out_dir, 0o777)
        report = os.path.join(out_dir, "dsmflow.json")
        dsm = start_dsmflow(hosts, args, "live", "-i", "nas-c1", "--interval", "0.3", "-o", report,
                            "--flows", "-")
        wait_for(lambda: uid_of(dsm.pid) == 65534, 10, "dsmflow live to drop root")
        stop, broken, reads = threading.Event(), [], [0]

        def reader():
            while not stop.is_set():
                time.sleep(0.001)  # often, not spinning: a core is the sensor's
                try:
                    text = open(report).read()
                except FileNotFoundError:
                    continue
                reads[0] += 1
                try:
                    json.loads(text)
                except ValueError:
                    broken.append(text[-80:])
        thread = threading.Thread(target=reader)
        thread.start()
        for _ in range(15):
            curl(C1, NAS_C1, 5000, "/")
            dsm.send_signal(signal.SIGUSR1)
            time.sleep(0.1)
        stop.set()
        thread.join()
        rc, out, err = stop_dsmflow(dsm)
        equal(rc, 0, "reports: exit status: " + err[-300:])
        check(not broken and reads[0] >= 15, "reports: %d reads of -o FILE while 15 reports replaced it, "
              "%d broken: %s" % (reads[0], len(broken), broken[:2]))
        final = json.load(open(report))
        check(final["totals"]["packets"] > 0 and service(final, "DSM"), "reports: FILE holds the final report")
        equal(os.listdir(out_dir), ["dsmflow.json"], "reports: nothing left beside FILE")
        mask = os.umask(0)
        os.umask(mask)
        equal(os.stat(report).st_mode & 0o777, 0o666 & ~mask, "reports: FILE has the mode the umask gives")
        flows = [json.loads(line) for line in out.splitlines() if line.strip()]
        check(len(flows) >= 15 and all(f.get("server_port") == 5000 for f in flows
                                       if f.get("proto") == "tcp" and f.get("server") == NAS_C1),
              "reports: --flows - wrote %d flow lines to standard output" % len(flows))
        marks = re.findall(r"^== (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) dsmflow live: last ([0-9.]+) s: "
                           r"(\d+) packets/s, [0-9.]+ [KMG]?i?B/s, (\d+) dropped$", err, re.M)
        check(len(marks) >= 3 and any(int(m[2]) > 0 for m in marks) and
              all(0.2 <= float(m[1]) < 5 for m in marks),
              "reports: interval summaries carry their time and rates: %s" % (marks[:3] or err[-300:]))
        locked = os.path.join(hosts.tmp, "locked")
        os.mkdir(locked)
        os.chmod(locked, 0o755)
        res = sh(args.dsmflow, "live", "-i", "nas-c1", "--duration", "5", "-o", os.path.join(locked, "r.json"),
                 ns=NAS, check_rc=False, timeout=30)
        equal(res.returncode, 2, "reports: a directory nobody can write to is a usage error")
        check("r.json: cannot make a file beside it for the report: Permission denied" in res.stderr
              and "uid 65534" in res.stderr, "reports: the refusal says why: " + res.stderr[-300:])
    check_setup_failure_cleans_up()


def check_setup_failure_cleans_up():
    global sh
    real, calls = sh, [0]

    def failing(*cmd, **kw):
        calls[0] += 1
        if calls[0] == 6:
            raise RuntimeError("set-up step made to fail")
        return real(*cmd, **kw)
    sh = failing
    try:
        with Hosts():
            pass
        check(False, "setup failure: the failing step raised")
    except RuntimeError:
        pass
    finally:
        sh = real
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    check(TAG not in names, "setup failure: no namespace of this run is left: " + names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["capture", "workers", "queue", "prometheus", "reload", "flood", "firewall",
                                     "reports"])
    ap.add_argument("--dsmflow", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: network namespaces need root")
        return SKIP
    # a SIGTERM (a test runner's timeout) still removes the namespaces
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        {"capture": test_capture, "workers": test_capture_workers, "queue": test_queue, "prometheus": test_prometheus,
         "reload": test_reload, "flood": test_flood, "firewall": test_firewall,
         "reports": test_reports}[args.what](args)
    except Exception as e:  # a set-up step failed: report it as a failure, after cleanup
        check(False, "%s: %s" % (type(e).__name__, e))
    print("%s: %d passed, %d failed" % (args.what, results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
