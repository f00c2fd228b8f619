#!/usr/bin/env python3
"""Whole-capture tests of `dsmflow read`, cross-checked with tshark and capinfos.

  captures.py samples --dsmflow BIN --pcapgen BIN --source DIR
      the project's own captures in pcaps/: they are what pcapgen makes today,
      and dsmflow attributes what pcapgen wrote
  captures.py real --dsmflow BIN --shared DIR
      the third-party captures of ../shared/pcaps (skipped, exit 77, if absent)
  captures.py errors --dsmflow BIN --source DIR
      unreadable, foreign and truncated inputs, files that shrink, floods, no memory
  captures.py corpus --dsmflow BIN --shared DIR
      the regression corpus of DIR/corpus (435 captures: tunnels, IPv6,
      fragments, fuzzed files): each read to its end with the totals adding up
      and equal to capinfos' (skipped, exit 77, if absent)

Every check compares dsmflow with an independent count (capinfos's packet and
byte totals, tshark's dissectors and conversations) or with what the
generator deliberately wrote; none compares dsmflow with itself.
"""
import argparse
import filecmp
import glob
import json
import os
import shutil
import re
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
# Frames whose IP or transport header tshark finds broken: a bogus TCP header
# length, or an expert "Malformed" note that is not about TCP sequence
# analysis (retransmissions, overlaps) or DNS contents, which dsmflow does
# not look at.
MALFORMED_HEADERS = ("tcp.hdr_len < 20 || "
                     "(_ws.expert.group == 0x07000000 && !tcp.analysis.flags && !dns)")
results = {"passed": 0, "failed": 0}


def check(ok, what):
    if ok:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print("FAIL:", what)
    return ok


def equal(got, want, what):
    return check(got == want, "%s: got %r, expected %r" % (what, got, want))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---- independent counts ----

def capinfos(path):
    """(packets, bytes) as capinfos counts them."""
    out = run(["capinfos", "-M", "-T", "-r", "-c", "-d", path]).stdout.strip().split("\t")
    return int(out[1]), int(out[2])


def tshark_fields(path, display_filter, *fields):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    out = run(cmd).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def tshark_count(path, display_filter):
    return len(tshark_fields(path, display_filter, "frame.number"))


def tshark_frames_of_streams(path, display_filter, proto="tcp"):
    """Frames of every conversation (tcp.stream or udp.stream) that has at
    least one frame matching display_filter: whole conversations, handshake
    and acknowledgements included, as dsmflow counts flows."""
    streams = {r[0] for r in tshark_fields(path, display_filter, proto + ".stream") if r and r[0]}
    if not streams:
        return 0
    return tshark_count(path, "%s.stream in {%s}" % (proto, ", ".join(sorted(streams))))


def tshark_conversations(path, proto):
    out = run(["tshark", "-n", "-q", "-r", path, "-z", "conv," + proto]).stdout
    return sum(1 for line in out.splitlines() if "<->" in line)


# ---- dsmflow ----

def dsmflow_read(args, paths, *extra):
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as flows:
        res = run([args.dsmflow, "read", "-f", "json", "--flows", flows.name, *extra, *paths])
        if res.returncode != 0:
            check(False, "dsmflow read %s: exit %d: %s" % (" ".join(paths), res.returncode, res.stderr))
            return None, []
        report = json.loads(res.stdout)
        return report, [json.loads(line) for line in open(flows.name)]


def service(report, name):
    for s in report["services"]:
        if s["service"] == name:
            return s
    return {"flows": 0, "packets": 0, "bytes": 0, "candidates": []}


def unclassified(report, proto, port):
    for p in report["unclassified_ports"]:
        if p["proto"] == proto and p["port"] == port:
            return p
    return {"flows": 0, "packets": 0, "bytes": 0}


def check_invariants(report, name):
    t = report["totals"]
    for unit in ("packets", "bytes"):
        equal(t["classified_" + unit] + t["unclassified_" + unit] + t["non_ip_" + unit]
              + t["malformed_" + unit] + t["pending_" + unit], t[unit], "%s: totals.%s add up" % (name, unit))
        equal(t["pending_" + unit], 0, "%s: nothing pending once the input has ended" % name)
        equal(sum(s[unit] for s in report["services"]), t["classified_" + unit],
              "%s: services sum to classified_%s" % (name, unit))
        equal(sum(s[unit + "_to_server"] + s[unit + "_to_client"] for s in report["services"]),
              t["classified_" + unit], "%s: directions sum to classified_%s" % (name, unit))
    equal(sum(s["flows"] for s in report["services"])
          + sum(p["flows"] for p in report["unclassified_ports"]), t["flows"], name + ": flows add up")


def check_totals_against_capinfos(report, path):
    packets, size = capinfos(path)
    equal(report["totals"]["packets"], packets, os.path.basename(path) + ": packets = capinfos")
    equal(report["totals"]["bytes"], size, os.path.basename(path) + ": bytes = capinfos")


# ---- the project's samples ----

def test_samples(args):
    pcaps = os.path.join(args.source, "pcaps")
    with tempfile.TemporaryDirectory() as tmp:
        res = run([args.pcapgen, "samples", tmp])
        check(res.returncode == 0, "pcapgen samples: " + res.stderr)
        made = sorted(os.listdir(tmp))
        equal(made, sorted(f for f in os.listdir(pcaps) if f.endswith(".pcap")),
              "pcaps/ holds exactly what pcapgen makes")
        for f in made:
            check(filecmp.cmp(os.path.join(tmp, f), os.path.join(pcaps, f), shallow=False),
                  "pcaps/%s is byte for byte what pcapgen makes (regenerate with "
                  "build/pcapgen samples pcaps)" % f)

    office = os.path.join(pcaps, "dsm-office.pcap")
    report, flows = dsmflow_read(args, [office])
    check_invariants(report, "office")
    check_totals_against_capinfos(report, office)
    ftp = service(report, "FTP, FTP over SSL, FTP over TLS")
    equal(ftp["flows"], 4, "office: FTP control plus passive, extended passive and active data")
    equal(ftp["packets"], tshark_frames_of_streams(office, "ftp || ftp-data"),
          "office: FTP packets = tshark's ftp and ftp-data conversations")
    expected = [f for f in flows if f["evidence"] == "expected" and f["proto"] == "tcp"]
    equal(sorted(f["server_port"] for f in expected), [50000, 50001, 51210],
          "office: the three announced data connections matched their announcements")
    tftp = service(report, "TFTP")
    equal(tftp["packets"], tshark_count(office, "tftp"), "office: TFTP packets = tshark's tftp")
    equal(tftp["flows"], 2, "office: TFTP request and transfer")
    equal(report["totals"]["non_ip_packets"], tshark_count(office, "arp"), "office: non-IP = ARP")
    equal(report["totals"]["malformed_packets"], 0, "office: nothing malformed")
    for port, proto in ((3389, "tcp"), (8080, "tcp")):
        equal(unclassified(report, proto, port)["packets"],
              tshark_count(office, "%s.port == %d" % (proto, port)),
              "office: %s/%d unclassified, all its packets" % (proto, port))
    tcp_flows = sum(1 for f in flows if f["proto"] == "tcp")
    equal(tcp_flows, tshark_conversations(office, "tcp"), "office: TCP flows = tshark's conversations")
    udp_flows = sum(1 for f in flows if f["proto"] == "udp")
    equal(udp_flows, tshark_conversations(office, "udp"), "office: UDP flows = tshark's conversations")
    dsm_web = [s for s in report["services"] if "DSM" in s["candidates"] and s["service"].startswith("DSM +")]
    check(len(dsm_web) == 1 and dsm_web[0]["packets"] == tshark_count(office, "tcp.port == 5001"),
          "office: tcp/5001 is one 'DSM +30' group with all its packets")
    equal(service(report, "Active Backup for Business")["packets"],
          tshark_count(office, "tcp.port == 902"), "office: tcp/902 is Active Backup for Business")

    # --nas makes the role usable: the NAS connecting out to 443 is an outbound
    # service, no longer Mail Station's group
    nas_report, _ = dsmflow_read(args, [office], "--nas", "192.168.10.5")
    outbound = [s for s in nas_report["services"] if "Active Backup for Business" in s["candidates"]
                and "Mail Station" not in s["candidates"] and s["flows"]]
    check(any(s["packets"] == tshark_count(office, "tcp.port == 443") for s in outbound),
          "office --nas: tcp/443 from the NAS to ESXi is among the outbound candidates only")
    check_invariants(nas_report, "office --nas")

    vlan = os.path.join(pcaps, "dsm-vlan-ipv6.pcap")
    report, flows = dsmflow_read(args, [vlan])
    check_invariants(report, "vlan-ipv6")
    check_totals_against_capinfos(report, vlan)
    equal(report["totals"]["non_ip_packets"], tshark_count(vlan, "lldp"), "vlan-ipv6: non-IP = LLDP")
    equal(service(report, "NFS")["packets"], tshark_count(vlan, "ip.id == 0x1000"),
          "vlan-ipv6: every fragment of the NFS datagram joins its flow")
    equal(report["totals"]["unmatched_fragment_packets"], tshark_count(vlan, "ip.id == 0x2000"),
          "vlan-ipv6: fragments whose first is missing are counted apart")
    equal(service(report, "Log Center (syslog server)")["packets"], tshark_count(vlan, "ipv6.fraghdr.ident == 0x5eed0001"),
          "vlan-ipv6: IPv6 fragments join the syslog flow")
    equal(service(report, "VPN Server (OpenVPN)")["packets"], tshark_count(vlan, "udp.port == 1194"),
          "vlan-ipv6: OpenVPN in VLAN 30")
    smb = [s for s in report["services"] if "CIFS/SMB" in s["candidates"]]
    check(len(smb) == 1 and smb[0]["packets"] == tshark_count(vlan, "ieee8021ad.id == 100 && tcp.port == 445"),
          "vlan-ipv6: SMB over IPv6 in QinQ")
    tunnelled = [f for f in flows if f["client"] == "fd00:40::21"]
    check(len(tunnelled) == 1 and tunnelled[0]["server_port"] == 5001
          and tunnelled[0]["packets_to_server"] + tunnelled[0]["packets_to_client"]
          == tshark_count(vlan, "ip.proto == 41"), "vlan-ipv6: 6in4 decapsulated into its IPv6 flow")

    edge = os.path.join(pcaps, "dsm-edge-cases.pcap")
    report, _ = dsmflow_read(args, [edge])
    check_invariants(report, "edge")
    check_totals_against_capinfos(report, edge)
    equal(report["totals"]["malformed_packets"], 3, "edge: the three broken frames pcapgen wrote")
    equal(report["totals"]["truncated_packets"], 1,
          "edge: the SYN cut by the snapshot inside its TCP header is truncated, not malformed")
    equal(report["totals"]["classified_packets"],
          tshark_count(edge, "tcp.port == 52000 || tcp.port == 52004 || tcp.port == 52003"),
          "edge: the two well-formed sessions and the cut SYN (by its ports) are classified, nothing else")

    test_evidence_sample(args, os.path.join(pcaps, "dsm-evidence.pcap"))
    check_audit(args, office, "192.168.10.5")
    check_audit(args, os.path.join(pcaps, "dsm-evidence.pcap"), "192.168.10.5")
    check_audit_finds_the_nas(args, office, "192.168.10.5", "synology-assistant")
    check_audit_page(args, office, "192.168.10.5")
    check_audit_sample(args, os.path.join(pcaps, "dsm-audit.pcap"))
    check_bpf_filter(args, office)
    check_audit_finds_the_nas(args, os.path.join(pcaps, "dsm-evidence.pcap"), "192.168.10.5", "dsm-web-api")

    everything = sorted(glob.glob(os.path.join(pcaps, "*.pcap")))
    report, _ = dsmflow_read(args, everything)
    check_invariants(report, "all samples as one stream")
    equal(report["totals"]["packets"], sum(capinfos(p)[0] for p in everything), "all samples: packets")
    check_prometheus_text(args, everything, report)


# What each session of dsm-evidence.pcap (tools/pcapgen.c, write_evidence)
# must be attributed to, by client port: (service or None for a group or
# unclassified, service_evidence, and what else the flow log must say).
EVIDENCE_FLOWS = {
    51001: ("File Station", "web-api:SYNO.FileStation.List", {}),   # login (DSM core) first: the package wins
    51002: ("Download Station", "web-api:DownloadStation", {}),     # the legacy CGI directory
    51003: ("Synology Photos", "web-api:SYNO.Foto.Browse.Album", {"category": "Packages"}),  # under /photo/
    51004: ("Note Station", "web-api:SYNO.NoteStation.Note", {}),   # api= in a POST body
    51005: ("Synology Moments", "web-api:SYNO.Photo.Browse.Item", {"category": "Packages"}),  # JSON-quoted
    51006: ("Surveillance Station", "web-api:SYNO.SurveillanceStation.Camera", {}),  # inside compound=
    51007: ("Synology Calendar", "web-api:SYNO.Cal.Event", {}),     # keep-alive: the first package wins
    51008: ("DSM", "web-api:SYNO.Core.Desktop.JSUIString", {}),     # DSM's own names only
    51009: ("Hyper Backup", "web-api:SYNO.Backup.Task", {"category": "Web API"}),  # not in the catalogue
    51010: ("Audio Station", "web-api:SYNO.AudioStation.Song", {"uncatalogued_port": True}),  # port 7000
    51011: ("Audio Station", "web-api:SYNO.AudioStation.Song", {}),  # request line split over two segments
    51012: (None, "port", {"attribution": "group"}),                # the name is past the snapshot length
    51013: (None, "port", {"attribution": "unclassified"}),         # HTTP, not DSM
    42001: ("Active Backup for Google Workspace", "sni:www.googleapis.com", {}),
    42002: ("Active Backup for Microsoft 365", "sni:outlook.office365.com", {}),  # 1.8 KB, two segments
    42003: (None, "sni:account.synology.com", {"attribution": "group", "candidates": [
        "Active Backup for Google Workspace", "Active Backup for Microsoft 365"]}),
    42004: (None, "port", {"attribution": "group", "evidence_seen": "sni:evilgoogleapis.com"}),
    42005: ("Active Backup for Microsoft 365", "dns:graph.microsoft.com", {}),  # no server name, a CNAME chain
    42006: (None, "port", {"attribution": "group", "evidence_seen": "dns:microsoft.com.evil.example"}),
    42007: (None, "port", {"attribution": "group", "remote_access": True, "server_name": "alice-nas.synology.me"}),
}


def check_audit_sample(args, path):
    """pcaps/dsm-audit.pcap (tools/pcapgen.c write_audit): what the audit
    must say of its two NAS, their clients on two subnets and outside, the
    port no entry names, and what the NAS connects out to; checked against
    tshark by check_audit too."""
    nas1, nas2, outside = "192.168.20.5", "192.168.30.6", "198.51.100.7"
    check_audit(args, path, nas1)
    n = json.loads(run([args.dsmflow, "audit", "-f", "json", "--nas", nas1, path]).stdout)["nas"][0]
    served = {e["service"]: e for e in n["in_use"]}
    equal(sorted(served), ["CIFS/SMB +1", "DSM +30", "File Station", "SSH/SFTP +4"], "audit sample: what nas1 serves")
    smb = served["CIFS/SMB +1"]
    equal(sorted(c["address"] for c in smb["top_clients"]), ["192.168.20.21", "192.168.21.40"],
          "audit sample: SMB's clients, on two subnets")
    equal((smb["clients"], smb["clients_exact"], smb["external_flows"]), (2, True, 0), "audit sample: SMB all local")
    dsm = served["DSM +30"]
    equal((dsm["external_flows"], [c["address"] for c in dsm["external_clients"]]), (1, [outside]),
          "audit sample: DSM reached from outside, by whom")
    equal(served["File Station"]["evidence"], {"web-api": 1}, "audit sample: File Station by its Web API name")
    out = {e["service"]: e for e in n["outbound"]}
    equal(sorted(out), ["Active Backup for Google Workspace", "udp/53"], "audit sample: what nas1 connects out to")
    equal(out["Active Backup for Google Workspace"]["names"], ["www.googleapis.com"],
          "audit sample: the cloud backup by the server name that decided it")
    equal((out["udp/53"]["kind"], out["udp/53"]["top_remotes"][0]["address"]), ("port", "192.168.20.1"),
          "audit sample: its DNS queries to the router are not a DNS server")
    equal(n["unknown_ports"], [{"proto": "tcp", "port": 8088, "flows": 1,
                                "bytes": n["unknown_ports"][0]["bytes"] if n["unknown_ports"] else 0, "clients": 1}],
          "audit sample: tcp/8088, served, named by no entry")
    check("tcp/548" in n["closable_ports"] and "tcp/445" not in n["closable_ports"],
          "audit sample: AFP closable, SMB not")
    check("AFP" in {u["service"] for u in n["unused"]}, "audit sample: AFP unused")
    found = json.loads(run([args.dsmflow, "audit", "-f", "json", path]).stdout)["nas"]
    equal(sorted((x["address"], x["detected_by"][0]) for x in found),
          [(nas1, "dsm-web-api"), ("192.168.20.7", "synology-mac"), (nas2, "synology-assistant")],
          "audit sample: the three NAS found without --nas, each by its evidence")
    nft = run([args.dsmflow, "audit", "--nas", nas1, "--firewall", "nft", path]).stdout
    check("ip saddr { 198.51.100.0/24 } tcp dport { 5001 } accept" in nft,
          "audit sample: the outside client's network allowed to DSM's 5001, nothing more")
    check(re.search(r"ip saddr \{ 192\.168\.2[01]\.0/24, 192\.168\.2[01]\.0/24 \} tcp dport \{ 445", nft),
          "audit sample: SMB allowed from both client subnets")
    check("tcp dport { 8088 }" in nft, "audit sample: the uncatalogued port it served is allowed")


def check_bpf_filter(args, path):
    """A trailing BPF filter keeps the packets it passes, as tcpdump's: the
    totals equal tshark's for the same expression as a capture filter."""
    name = os.path.basename(path)
    for expression in (["host", "192.168.10.22"], ["tcp", "port", "5001"], ["udp"]):
        res = run([args.dsmflow, "read", "-f", "json", path, *expression])
        report = json.loads(res.stdout)
        check_invariants(report, "%s %s" % (name, " ".join(expression)))
        want = run(["tshark", "-n", "-r", path, "-Y", "frame", "-T", "fields", "-e", "frame.len",
                    "-2", "-R", {"host": "ip.addr==192.168.10.22", "tcp": "tcp.port==5001",
                                 "udp": "udp"}[expression[0]]]).stdout.split()
        equal((report["totals"]["packets"], report["totals"]["bytes"]), (len(want), sum(int(x) for x in want)),
              "%s, filter '%s': packets and bytes = tshark's" % (name, " ".join(expression)))
    audit = json.loads(run([args.dsmflow, "audit", "-f", "json", "--nas", "192.168.10.5", path, "port", "445"]).stdout)
    equal([e["service"] for e in audit["nas"][0]["in_use"]], ["CIFS/SMB +1"], "audit %s port 445: SMB alone" % name)


def check_audit_page(args, path, nas):
    """The web page: self-contained, and, loaded by headless Chromium with no
    network, its rendered DOM has every section, the sorting script ran,
    and each row of the served services carries the JSON's bytes; a
    screenshot is kept (audit-<capture>.png beside the test's build)."""
    name = os.path.basename(path)
    page = run([args.dsmflow, "audit", "-f", "html", "--nas", nas, path]).stdout
    check(re.search(r"(src|href)\s*=|https?://|@import|url\(", page) is None,
          "audit %s: the page loads nothing from elsewhere" % name)
    chromium = shutil.which("chromium")
    if not chromium or os.geteuid() != 0:
        print("SKIP: headless Chromium (needs chromium and root for a network namespace)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "audit.html")
        with open(html, "w") as f:
            f.write(page)
        browser = ["unshare", "-n", chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                   "--user-data-dir=" + os.path.join(tmp, "profile")]
        dom = run(browser + ["--dump-dom", "file://" + html], timeout=120).stdout
        shot = os.path.abspath("audit-%s.png" % name.split(".")[0])
        run(browser + ["--window-size=1200,2400", "--screenshot=" + shot, "file://" + html], timeout=120)
        check(os.path.exists(shot) and os.path.getsize(shot) > 10000, "audit %s: a screenshot (%s)" % (name, shot))
    audit = json.loads(run([args.dsmflow, "audit", "-f", "json", "--nas", nas, path]).stdout)["nas"][0]
    for heading in ("Traffic per service over time", "Clients per service", "Serves", "Connects out to",
                    "Serves, no catalogue entry", "Possibly in use", "Unused", "Closable ports"):
        check(">%s<" % heading in dom or ">%s " % heading in dom, "audit %s: the page has %s" % (name, heading))
    check('<section class="nas" id="nas0" data-address="%s">' % nas in dom, "audit %s: the NAS's section" % name)
    check('class="sortable ready" id="in-use-0"' in dom, "audit %s: the sorting script ran" % name)
    table = dom.split('id="in-use-0"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>.*?</tr>", table)
    equal(len(rows), len(audit["in_use"]), "audit %s: a row per service served" % name)
    page_bytes = sorted(int(v) for v in re.findall(r'<td class="n" data-v="(\d+)">[^<]*B</td>', table))
    json_bytes = sorted(e["bytes_to_server"] + e["bytes_to_client"] for e in audit["in_use"])
    equal(page_bytes, json_bytes, "audit %s: the page's bytes per service = the JSON's" % name)
    check(len(re.findall(r"<rect ", dom)) >= len(rows), "audit %s: the charts have their bars" % name)


def check_audit_finds_the_nas(args, path, nas, how):
    """Without --nas, the NAS is found by DSM-specific evidence, said so, and
    audited as if given."""
    name = os.path.basename(path)
    res = run([args.dsmflow, "audit", "-f", "json", path])
    check(res.returncode == 0 and "found NAS %s" % nas in res.stderr, "audit %s: finds the NAS: %s" % (name, res.stderr))
    found = json.loads(res.stdout)["nas"]
    equal([(n["address"], n["detected_by"]) for n in found], [(nas, [how])], "audit %s: found by %s alone" % (name, how))
    given = json.loads(run([args.dsmflow, "audit", "-f", "json", "--nas", nas, path]).stdout)["nas"][0]
    for key in ("in_use", "outbound", "unknown_ports", "closable_ports"):
        equal(found[0][key], given[key], "audit %s: found or given, the same %s" % (name, key))


def check_audit(args, path, nas):
    """dsmflow audit --nas NAS against tshark: the NAS's packets and bytes,
    per peer, and its first and last frame; the lists that come from the
    catalogue agree with what is in use; the table fits 100 columns."""
    name = os.path.basename(path)
    res = run([args.dsmflow, "audit", "-f", "json", "--nas", nas, path])
    check(res.returncode == 0, "audit %s: %s" % (name, res.stderr))
    audit = json.loads(res.stdout)
    entries = [n for n in audit["nas"] if n["address"] == nas]
    equal(len(entries), 1, "audit %s: the NAS is listed once" % name)
    n = entries[0]
    equal(n["detected_by"], ["--nas"], "audit %s: how the NAS is known" % name)
    served = n["in_use"] + n["outbound"]
    packets = sum(e["packets_to_server"] + e["packets_to_client"] for e in served)
    size = (sum(e["bytes_to_server"] + e["bytes_to_client"] for e in served) + sum(u["bytes"] for u in n["unknown_ports"])
            + n["unanswered"]["bytes"])
    frames = tshark_fields(path, "ip.addr==%s" % nas, "frame.len", "frame.time_epoch", "ip.src", "ip.dst")
    equal(size, sum(int(f[0]) for f in frames), "audit %s: the NAS's bytes = tshark's" % name)
    if not n["unknown_ports"] and not n["unanswered"]["flows"]:
        equal(packets, len(frames), "audit %s: the NAS's packets = tshark's" % name)
    times = [float(f[0]) for f in tshark_fields(path, "ip || ipv6", "frame.time_epoch")]
    check(abs(audit["window"]["first"] - min(times)) < 1e-5 and abs(audit["window"]["last"] - max(times)) < 1e-5,
          "audit %s: the window is the first and last IP frame of the input (%r, tshark %r %r)"
          % (name, audit["window"], min(times), max(times)))
    # per peer, when every list is exact and complete
    lists = [(e["top_clients"] if "top_clients" in e else e["top_remotes"], e) for e in served]
    if all(e.get("clients_exact", e.get("remotes_exact")) and len(top) == e.get("clients", e.get("remotes"))
           for top, e in lists) and not n["unknown_ports"] and not n["unanswered"]["flows"]:
        by_peer = {}
        for top, _ in lists:
            for c in top:
                by_peer[c["address"]] = by_peer.get(c["address"], 0) + c["bytes"]
        want = {}
        for f in frames:
            peer = f[3] if f[2] == nas else f[2]
            if not (peer.startswith("224.") or peer == "255.255.255.255"):
                want[peer] = want.get(peer, 0) + int(f[0])
        equal(by_peer, want, "audit %s: bytes per client and remote = tshark's" % name)
    used = {e["service"] for e in n["in_use"] if e["kind"] == "service"}
    candidates = {c for e in n["in_use"] for c in e["candidates"]}
    unused = {u["service"] for u in n["unused"]}
    equal(unused & (used | candidates), set(), "audit %s: nothing in use is listed unused" % name)
    needed = {p for e in n["in_use"] for p in e["ports"]}
    equal(needed & set(n["closable_ports"]), set(), "audit %s: no port in use is closable" % name)
    table = run([args.dsmflow, "audit", "--nas", nas, path]).stdout
    wide = [line for line in table.splitlines() if len(line) > 100]
    equal(wide, [], "audit %s: the table fits 100 columns" % name)
    check("what was not seen" in table, "audit %s: the table says a short window proves little" % name)
    md = run([args.dsmflow, "audit", "-f", "markdown", "--nas", nas, path]).stdout
    check("## NAS %s" % nas in md and "|---|---|---:|" in md and "### Closable ports" in md,
          "audit %s: markdown has the NAS, its tables and the closable ports" % name)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    check(all(line.count(" | ") - line.count("\\|") == 7 for line in rows),
          "audit %s: every markdown row has its 8 cells" % name)


def test_evidence_sample(args, path):
    report, flows = dsmflow_read(args, [path], "--nas", "192.168.10.5")
    check_invariants(report, "evidence")
    check_totals_against_capinfos(report, path)
    by_port = {f["client_port"]: f for f in flows if f["proto"] == "tcp"}
    for port, (svc, evidence, more) in sorted(EVIDENCE_FLOWS.items()):
        f = by_port.get(port, {})
        equal(f.get("service"), svc, "evidence: client port %d: service" % port)
        equal(f.get("service_evidence"), evidence, "evidence: client port %d: decided by" % port)
        for key, want in more.items():
            equal(f.get(key), want, "evidence: client port %d: %s" % (port, key))
    equal(len([f for f in flows if f["proto"] == "tcp"]), len(EVIDENCE_FLOWS), "evidence: every TCP flow is listed")
    web = [f for f in flows if f["proto"] == "tcp" and f["server_port"] in (5000, 7000)]
    equal(sum(1 for f in web if f["attribution"] == "group"), 1,
          "evidence: no DSM web flow whose API name is within the snapshot stays a group")
    equal(service(report, "File Station")["evidence"]["web-api"], 1, "evidence: the report counts what decided")
    equal(service(report, "DSM")["webapi_requests_seen"], 3,
          "evidence: DSM's requests seen: the File Station session's login and two desktop calls")
    cross_check_evidence(args, path, strict=True)


# ---- the evidence dsmflow reads, against tshark's dissectors ----

def evidence_log(args, path):
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as log:
        res = run([args.dsmflow, "read", "-f", "json", "--evidence-log", log.name, path])
        check(res.returncode == 0, "%s: read with --evidence-log: %s" % (path, res.stderr))
        return [json.loads(line) for line in open(log.name)]


def endpoint_key(client, cport, server, sport):
    return (client, int(cport), server, int(sport))


def tshark_by_flow(path, display_filter, fields, src_is_client=True, decode_as=()):
    """{(client, client port, server, server port): [field values of each frame]}"""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
           "-Y", display_filter]
    for d in decode_as:
        cmd += ["-d", d]
    for f in ("frame.protocols", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
              "udp.srcport", "tcp.dstport", "udp.dstport") + fields:
        cmd += ["-e", f]
    out = {}
    for line in run(cmd).stdout.splitlines():
        v = line.split("\t")
        layers = v[0].split(":")
        # the innermost IP header is the flow's (tunnels carry two)
        inner6 = "ipv6" in layers and ("ip" not in layers or
                                       max(i for i, l in enumerate(layers) if l == "ipv6")
                                       > max(i for i, l in enumerate(layers) if l == "ip"))
        src = (v[2] if inner6 else v[1]).split(",")[-1]
        dst = (v[4] if inner6 else v[3]).split(",")[-1]
        sport, dport = v[5] or v[6], v[7] or v[8]
        v = v[1:]
        if not src or not sport or not dport or "," in sport:
            continue
        key = endpoint_key(src, sport, dst, dport) if src_is_client else endpoint_key(dst, dport, src, sport)
        out.setdefault(key, []).append(v[8:])
    return out


def dsmflow_by_flow(log, field):
    out = {}
    for e in log:
        if field in e:
            key = endpoint_key(e["client"], e["client_port"], e["server"], e["server_port"])
            out.setdefault(key, []).append(e)
    return out


def cross_check_evidence(args, path, strict):
    """Per flow, the request targets, server names and DNS answers dsmflow
    read equal tshark's wherever both saw them. strict: dsmflow must also
    have seen every one tshark did (the project's own samples)."""
    name = os.path.basename(path)
    log = evidence_log(args, path)
    ports = sorted({e["server_port"] for e in log if "http_request" in e})
    decode_as = ["tcp.port==%d,http" % p for p in ports if p not in (80, 8080, 3128)]
    checked = 0
    ours = dsmflow_by_flow(log, "http_request")
    theirs = tshark_by_flow(path, "http.request", ("http.request.uri",), decode_as=decode_as)
    for key, entries in ours.items():
        want = [v[0] for v in theirs.get(key, [])]
        got = [e["http_request"] for e in entries]
        cut = [e.get("http_request_cut", False) for e in entries]
        same = len(got) <= len(want) and all(
            w.startswith(g) if c else w == g for g, w, c in zip(got, want, cut))
        check(same, "%s: %s: request targets %r = tshark's %r" % (name, key, got, want))
        checked += len(got)
    ours = dsmflow_by_flow(log, "tls_server_name")
    theirs = tshark_by_flow(path, "tls.handshake.type == 1", ("tls.handshake.extensions_server_name",))
    for key, entries in ours.items():
        want = [v[0] for v in theirs.get(key, [])][:1]
        equal([e["tls_server_name"] for e in entries], want, "%s: %s: TLS server name" % (name, key))
        checked += 1
    ours = dsmflow_by_flow(log, "dns_answer")
    theirs = tshark_by_flow(path, "dns.flags.response == 1 && (udp.srcport == 53 || tcp.srcport == 53)",
                            ("dns.qry.name", "dns.a", "dns.aaaa"), src_is_client=False)
    for key, entries in ours.items():
        tshark_pairs = {(q.lower().rstrip("."), a) for v in theirs.get(key, []) for q in v[0].split(",")[:1]
                        for a in (v[1].split(",") if v[1] else []) + (v[2].split(",") if v[2] else [])}
        got = {(e["dns_answer"]["name"], e["dns_answer"]["address"]) for e in entries}
        check(got <= tshark_pairs, "%s: %s: DNS answers %r within tshark's %r" % (name, key, got, tshark_pairs))
        checked += len(got)
    if strict:
        want = sum(len(v) for v in tshark_by_flow(path, "http.request", ("http.request.uri",),
                                                   decode_as=decode_as).values())
        equal(sum(1 for e in log if "http_request" in e), want, name + ": every HTTP request tshark sees")
        want = sum(len(v) for v in tshark_by_flow(path, "tls.handshake.type == 1", ("frame.number",)).values())
        equal(sum(1 for e in log if "tls_server_name" in e), want, name + ": every ClientHello tshark sees")
    return checked


def flow_key(f):
    return (f["proto"], f["client"], f["client_port"], f["server"], f["server_port"], f["first"])


def port_level_flows(flows, announced):
    """{flow: (attribution, packets, bytes)} of a --ports-only flow log, the
    flows announced by FTP or TFTP in the whole capture left out (their
    announcement is payload, which a cut may remove)."""
    out = {}
    for f in flows:
        if flow_key(f) in announced:
            continue
        out[flow_key(f)] = (f["attribution"], f.get("service"), tuple(f.get("candidates", ())),
                            f["packets_to_server"] + f["packets_to_client"],
                            f["bytes_to_server"] + f["bytes_to_client"])
    return out


def check_snapshot_cuts(args, files):
    """Every capture cut to 96 and 64 bytes a packet (editcap -s): a transport
    header cut after its ports is classified by them (and counted as
    truncated), never malformed. At 96 bytes every header of these captures
    survives up to its TCP flags, so the port-level attribution (--ports-only)
    of every flow is the original's; at 64, dsmflow calls malformed no more
    packets than were malformed whole, plus those tshark cannot find ports in
    either."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            name = os.path.basename(path)
            whole, whole_flows = dsmflow_read(args, [path], "--ports-only")
            if whole is None:
                continue
            announced = {flow_key(f) for f in whole_flows if f["evidence"] == "expected"}
            for snap in (96, 64):
                cut = os.path.join(tmp, "%d-%s" % (snap, name))
                if run(["editcap", "-s", str(snap), path, cut]).returncode != 0:
                    continue
                report, flows = dsmflow_read(args, [cut], "--ports-only")
                if report is None:
                    continue
                t, w = report["totals"], whole["totals"]
                if snap == 96:
                    equal(port_level_flows(flows, announced), port_level_flows(whole_flows, announced),
                          "%s cut to 96 bytes: every flow's port-level attribution and counts" % name)
                    equal(t["malformed_packets"], w["malformed_packets"], "%s cut to 96: no new malformed" % name)
                else:
                    portless = t["packets"] - tshark_count(cut, "tcp.srcport || udp.srcport")
                    check(t["malformed_packets"] <= w["malformed_packets"] + portless,
                          "%s cut to 64: %d malformed, %d whole, %d frames tshark finds no ports in"
                          % (name, t["malformed_packets"], w["malformed_packets"], portless))


def check_prometheus_text(args, paths, report):
    """read --format prometheus: promtool accepts it, and it says what JSON says."""
    text = run([args.dsmflow, "read", "-f", "prometheus", *paths]).stdout
    res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check(res.returncode == 0, "promtool check metrics: " + res.stdout + res.stderr)
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            values[name_labels] = float(value)
    service_bytes = sum(v for k, v in values.items() if k.startswith("dsmflow_service_bytes_total{"))
    equal(service_bytes, report["totals"]["classified_bytes"], "prometheus: service bytes = classified bytes")
    for result in ("classified", "unclassified", "non_ip", "malformed"):
        equal(values['dsmflow_packets_total{result="%s"}' % result], report["totals"][result + "_packets"],
              "prometheus: %s packets" % result)


# ---- third-party captures ----

def test_real(args):
    shared = args.shared
    if not os.path.isdir(shared) or not glob.glob(os.path.join(shared, "*.pcap")):
        print("SKIP: no third-party captures at %s (the shared/pcaps folder beside the project)" % shared)
        return SKIP
    files = sorted(glob.glob(os.path.join(shared, "*.pcap")) + glob.glob(os.path.join(shared, "*.pcapng"))
                   + glob.glob(os.path.join(shared, "*.cap")))
    reports = {}
    for path in files:
        name = os.path.basename(path)
        report, flows = dsmflow_read(args, [path])
        if report is None:
            continue
        reports[name] = (report, flows, path)
        check_invariants(report, name)
        check_totals_against_capinfos(report, path)

    def r(name):
        return reports[name][0]

    def p(name):
        return reports[name][2]

    # the audit of the busiest server of a few of them, as if it were the
    # NAS, against tshark (bytes, per peer, the window)
    for name in ("ftp.pcap", "smb_deletefile.pcap", "afp.pcap", "rsync.pcap", "443-curl.pcap", "dns.pcap", "ssh.pcap"):
        if name not in reports:
            continue
        served = {}
        for f in reports[name][1]:
            served[f["server"]] = served.get(f["server"], 0) + f["bytes_to_server"] + f["bytes_to_client"]
        if served and ":" not in max(served, key=served.get):
            check_audit(args, reports[name][2], max(served, key=served.get))

    # none of these is a Synology NAS: the audit must not find one (not a
    # router's DNS, a PC's SMB or a printer's IPP)
    readable = [reports[name][2] for name in sorted(reports)]
    res = run([args.dsmflow, "audit", "-f", "json", *readable])
    equal(json.loads(res.stdout)["nas"] if res.stdout else None, [],
          "audit of every third-party capture without --nas: no NAS found (%s)" % res.stderr.strip()[-200:])

    ftp = service(r("ftp.pcap"), "FTP, FTP over SSL, FTP over TLS")
    equal(ftp["packets"], r("ftp.pcap")["totals"]["packets"], "ftp.pcap: entirely FTP")
    equal(ftp["packets"], tshark_frames_of_streams(p("ftp.pcap"), "ftp || ftp-data"), "ftp.pcap: = tshark's FTP streams")
    data = [f for f in reports["ftp.pcap"][1] if f["evidence"] == "expected"]
    equal(len(data), 2, "ftp.pcap: both data connections through the PASV replies")

    equal(service(r("tftp.pcap"), "TFTP")["packets"], tshark_count(p("tftp.pcap"), "tftp"),
          "tftp.pcap: the transfers are TFTP")

    smb = [s for s in r("smb_deletefile.pcap")["services"] if s["service"].startswith("CIFS/SMB")]
    check(len(smb) == 1 and "CIFS/SMB" in smb[0]["candidates"]
          and smb[0]["packets"] == r("smb_deletefile.pcap")["totals"]["packets"],
          "smb_deletefile.pcap: all SMB (the CIFS/SMB-led candidates of tcp/445)")

    kerberos = r("kerberos.pcap")
    equal(service(kerberos, "Synology Directory Server")["packets"],
          tshark_count(p("kerberos.pcap"), "tcp.port == 88 || udp.port == 88"),
          "kerberos.pcap: Kerberos is Synology Directory Server")
    ldap = [s for s in kerberos["services"] if "Synology Directory Server" in s["candidates"] and len(s["candidates"]) > 1]
    check(len(ldap) == 1 and ldap[0]["packets"] == tshark_count(p("kerberos.pcap"), "tcp.port == 389"),
          "kerberos.pcap: LDAP goes to the LDAP candidates, Directory Server among them")
    smb = [s for s in kerberos["services"] if "CIFS/SMB" in s["candidates"]]
    check(len(smb) == 1 and smb[0]["packets"] == tshark_count(p("kerberos.pcap"), "tcp.port == 445"),
          "kerberos.pcap: SMB on 445 beats the client's port in a catalogued range")

    vpn = r("openvpn.pcap")
    equal(service(vpn, "VPN Server (OpenVPN)")["packets"], tshark_count(p("openvpn.pcap"), "udp.port == 1194"),
          "openvpn.pcap: udp/1194 is OpenVPN")
    equal(unclassified(vpn, "tcp", 1194)["packets"], tshark_count(p("openvpn.pcap"), "tcp.port == 1194"),
          "openvpn.pcap: tcp/1194 stays unclassified")

    for name, link in (("nats.pcap", "DLT_NULL"), ("ocs.pcap", "raw IP"),
                       ("reasm_crash_anon.pcapng", "Linux cooked"), ("dlt_ppp.pcap", "PPP"),
                       ("6in4tunnel.pcap", "6in4")):
        t = r(name)["totals"]
        equal(t["non_ip_packets"], 0, "%s (%s): every frame decoded" % (name, link))
        equal(t["malformed_packets"], tshark_count(p(name), MALFORMED_HEADERS),
              "%s (%s): malformed exactly where tshark finds a broken header" % (name, link))
    equal(service(r("nats.pcap"), "Hybrid Share")["packets"], 27, "nats.pcap: NATS on 4222 is Hybrid Share's")
    inner = sum(1 for f in reports["6in4tunnel.pcap"][1] if ":" in f["client"])
    check(inner > 0, "6in4tunnel.pcap: IPv6 flows inside the tunnel")

    check_snapshot_cuts(args, files)

    # the evidence dsmflow reads, against tshark, on every capture with HTTP, TLS or DNS
    seen = 0
    for path in files:
        if tshark_count(path, "http.request || tls.handshake.type == 1 || dns.flags.response == 1"):
            seen += cross_check_evidence(args, path, strict=False)
    check(seen > 40, "shared captures: dsmflow read some evidence (%d pieces) to compare" % seen)

    for name in ("badpackets.pcap", "ip_fragmented_garbage.pcap", "malformed_dns.pcap",
                 "fuzz-2006-06-26-2594.pcap", "reasm_segv_anon.pcapng"):
        check(name in reports, name + ": read to the end without failing")

    report, _ = dsmflow_read(args, files)
    check_invariants(report, "all shared captures as one stream")
    equal(report["totals"]["packets"], sum(capinfos(f)[0] for f in files), "all shared captures: packets")
    return 0


# ---- the regression corpus ----

def test_corpus(args):
    corpus = os.path.join(args.shared, "corpus")
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith((".pcap", ".pcapng", ".cap"))) \
        if os.path.isdir(corpus) else []
    if not files:
        print("SKIP: no regression corpus at %s" % corpus)
        return SKIP
    counted = {}
    out = run(["capinfos", "-T", "-M", "-r", "-c", "-d"] + files).stdout
    for line in out.splitlines():
        name, packets, size = line.rsplit("\t", 2)
        counted[name] = (int(packets), int(size))
    for path in files:
        name = os.path.basename(path)
        res = run([args.dsmflow, "read", "-f", "json", path])
        if res.returncode not in (0, 1) or not res.stdout.startswith("{"):
            check(False, "%s: exit %d: %s" % (name, res.returncode, res.stderr.strip()[-300:]))
            continue
        if res.returncode == 1:
            check(path + ": packet " in res.stderr, "%s: exit 1 names the file and packet: %s"
                  % (name, res.stderr.strip()))
        report = json.loads(res.stdout)
        check_invariants(report, name)
        if path in counted:
            equal((report["totals"]["packets"], report["totals"]["bytes"]), counted[path],
                  name + ": packets and bytes = capinfos")
    tunnelled = 0
    for path in files:
        if tshark_count(path, TUNNELS):
            check_tunnels(args, path)
            tunnelled += 1
    check(tunnelled >= 5, "corpus: captures with tunnels cross-checked (%d)" % tunnelled)
    print("corpus: %d captures read" % len(files))
    return 0


TUNNELS = "vxlan || geneve || gtp || gre || erspan || teredo"


def check_tunnels(args, path):
    """Every inner TCP or UDP conversation tshark finds inside a tunnel is a
    flow of dsmflow's, between the inner addresses, with its tunnel named."""
    name = os.path.basename(path)
    inner = set()
    for key, frames in tshark_by_flow(path, "(%s) && (tcp || udp)" % TUNNELS, ("frame.protocols",)).items():
        layers = frames[0][0].split(":")
        after = [i for i, l in enumerate(layers) if l in ("vxlan", "geneve", "gtp", "gre", "erspan", "teredo")]
        ips = [i for i, l in enumerate(layers) if l in ("ip", "ipv6")]
        ports = [i for i, l in enumerate(layers) if l in ("tcp", "udp")]
        if not after or not ips or not ports or not (after[0] < ips[-1] < ports[-1]):
            continue    # the tunnel carries no inner TCP or UDP: the key is the outer one
        client, cport, server, sport = key
        inner.add(frozenset([(client, cport), (server, sport)]))
    report, flows = dsmflow_read(args, [path])
    ours = {frozenset([(f["client"], f["client_port"]), (f["server"], f["server_port"])])
            for f in flows if f.get("tunnel")}
    missing = inner - ours
    check(not missing, "%s: the tunnelled conversations tshark sees are flows of their own: missing %r"
          % (name, sorted(tuple(sorted(m)) for m in missing)[:3]))


# ---- bad input ----

def test_errors(args):
    pcaps = os.path.join(args.source, "pcaps")
    office = os.path.join(pcaps, "dsm-office.pcap")
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "missing.pcap")
        res = run([args.dsmflow, "read", missing])
        check(res.returncode == 1 and "dsmflow read: %s: No such file or directory\n" % missing in res.stderr
              and res.stderr.count(missing) == 1, "missing file: exit 1 naming it once: " + res.stderr)

        foreign = os.path.join(tmp, "notes.txt")
        open(foreign, "w").write("these are not packets\n" * 10)
        res = run([args.dsmflow, "read", foreign])
        check(res.returncode == 1 and foreign + ": not a capture file (neither pcap nor pcapng" in res.stderr,
              "not a capture: exit 1 naming it: " + res.stderr)
        empty = os.path.join(tmp, "empty.pcap")
        open(empty, "wb").close()
        res = run([args.dsmflow, "read", empty])
        check(res.returncode == 1 and empty + ": is empty (0 bytes), not a capture file" in res.stderr,
              "empty file: said in plain words: " + res.stderr)
        short = os.path.join(tmp, "short.pcap")
        open(short, "wb").write(open(office, "rb").read()[:10])
        res = run([args.dsmflow, "read", short])
        check(res.returncode == 1 and short + ": too short for a capture file's header" in res.stderr,
              "a file shorter than a header: said in plain words: " + res.stderr)
        res = run([args.dsmflow, "read", tmp])
        check(res.returncode == 2 and "'%s' is a directory, not a capture file" % tmp in res.stderr,
              "a directory: a usage error saying so: " + res.stderr)
        res = subprocess.run([args.dsmflow, "read", "-"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        check(res.returncode == 1 and "standard input: is empty, not a capture" in res.stderr,
              "empty standard input: said so: " + res.stderr)

        report_file = os.path.join(tmp, "report.json")
        res = run([args.dsmflow, "read", "-f", "json", "-o", report_file, "--flows", "-", office])
        flows = [json.loads(l) for l in res.stdout.splitlines()]
        check(res.returncode == 0 and flows and all("server_port" in f for f in flows)
              and json.load(open(report_file))["totals"]["flows"] == len(flows),
              "--flows - writes the flow lines to standard output, -o FILE the report")
        check(not [n for n in os.listdir(tmp) if n.startswith("report.json.")],
              "-o FILE: no file left beside it")
        res = run([args.dsmflow, "read", "-f", "json", "-o", "-", office])
        check(res.returncode == 0 and json.loads(res.stdout)["totals"]["packets"] == capinfos(office)[0]
              and not os.path.exists("-"), "-o - writes the report to standard output")

        data = open(office, "rb").read()
        truncated = os.path.join(tmp, "truncated.pcap")
        open(truncated, "wb").write(data[:len(data) // 2])
        res = run([args.dsmflow, "read", "-f", "json", truncated])
        check(res.returncode == 1 and "truncated.pcap: packet " in res.stderr,
              "truncated capture: exit 1 naming file and packet: " + res.stderr)
        whole_packets = tshark_count(truncated, "")
        report = json.loads(res.stdout) if res.stdout else {"totals": {"packets": -1}}
        equal(report["totals"]["packets"], whole_packets, "truncated capture: the packets before the cut are reported")
        check(("packet %d:" % (whole_packets + 1)) in res.stderr, "truncated capture: names the packet cut")

        res = run([args.dsmflow, "read", "-f", "json", missing, office])
        report = json.loads(res.stdout)
        check(res.returncode == 1 and report["totals"]["packets"] == capinfos(office)[0],
              "a bad file among good ones: the good ones are still read")

        with open(office, "rb") as stdin:
            res = subprocess.run([args.dsmflow, "read", "-f", "json", "-"], stdin=stdin, capture_output=True)
        check(res.returncode == 0 and json.loads(res.stdout)["totals"]["packets"] == capinfos(office)[0],
              "- reads standard input")

        res = run([args.dsmflow, "read", "-f", "csv", office])
        lines = res.stdout.splitlines()
        check(res.returncode == 0 and lines[0].startswith("service,category,kind,candidates,flows")
              and any(l.startswith('"FTP, FTP over SSL, FTP over TLS",File transfer,service') for l in lines),
              "csv: a header and quoted fields")
        res = run([args.dsmflow, "read", office])
        check(res.returncode == 0 and "DSM SERVICE" in res.stdout and "Total: " in res.stdout, "table format")
        for bad in (["--max-flows", "0"], ["--nas", "999.1.1.1"], ["--format", "xml"],
                    ["--timeout-udp", "soon"], ["--bogus"], []):
            res = run([args.dsmflow, "read", *bad] + ([office] if bad else []))
            check(res.returncode == 2 and "Try 'dsmflow read --help'" in res.stderr,
                  "usage error %s: exit 2 with a hint" % bad)
        # a service name with quotes and a backslash, escaped in every format
        odd = 'Remote "Desktop" \\ test'
        port = ["--port", "tcp/3389=" + odd]
        text = run([args.dsmflow, "read", *port, "-f", "prometheus", office]).stdout
        res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(res.returncode == 0 and 'dsm_service="Remote \\"Desktop\\" \\\\ test"' in text,
              "prometheus: label values escaped: " + res.stdout + res.stderr)
        report = json.loads(run([args.dsmflow, "read", *port, "-f", "json", office]).stdout)
        check(any(s["service"] == odd for s in report["services"]), "json: the odd name survives")
        csv_text = run([args.dsmflow, "read", *port, "-f", "csv", office]).stdout
        check('"Remote ""Desktop"" \\ test",Custom,service' in csv_text, "csv: quotes doubled")

        check_shrinking_file(args, tmp)
        check_flood(args, tmp)
        if args.memory_limits:
            check_out_of_memory(args, tmp)

        res = run([args.dsmflow, "read", "--max-flows", "3", "-f", "json", office])
        report = json.loads(res.stdout)
        check(report["totals"]["evicted_flows"] > 0, "--max-flows evicts and counts")
        check_invariants(report, "office --max-flows 3")
    return 0


def write_syn_flood(path, syns, streams, stream_packets):
    """A classic pcap: syns SYNs from distinct sources to the NAS's tcp/548
    (AFP, one service), and among them `streams` UDP conversations with
    OpenVPN's udp/1194 answered both ways, stream_packets packets each."""
    def frame(src, dst, proto, sport, dport, flags=0):
        if proto == 6:
            l4 = struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 65535, 0, 0)
        else:
            l4 = struct.pack(">HHHH", sport, dport, 8 + 4, 0) + b"ping"
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, src, dst)
        return b"\x00\x11\x32\x00\x00\x05\x02\x00\x00\x00\x00\x01\x08\x00" + ip + l4
    nas = bytes([192, 168, 1, 5])
    every = max(1, syns // max(1, streams * stream_packets))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        sent = 0
        for i in range(syns):
            src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
            records = [frame(src, nas, 6, 1024 + i % 60000, 548, 0x02)]
            if i % every == 0 and sent < streams * stream_packets:
                s = sent % streams
                peer = bytes([172, 16, 0, s + 1])
                records.append(frame(peer, nas, 17, 40000 + s, 1194) if sent % 2 == 0
                               else frame(nas, peer, 17, 1194, 40000 + s))
                sent += 1
            for r in records:
                t = 1767225600 * 1000000 + i * 10
                f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(r), len(r)) + r)
    return sent


def check_flood(args, tmp):
    """A SYN flood with answered conversations among it, read within a small
    --max-memory: the flows never answered are evicted first, the answered
    ones keep exact counts, the evictions are reported, memory stays bounded."""
    flood = os.path.join(tmp, "flood.pcap")
    streamed = write_syn_flood(flood, 300000, 5, 2000)
    with tempfile.NamedTemporaryFile("r") as rss:
        res = run(["/usr/bin/time", "-f", "%M", "-o", rss.name, args.dsmflow, "read", "--max-memory", "8",
                   "-f", "json", flood])
        peak_kib = int(rss.read().split()[-1])
    report = json.loads(res.stdout)
    t = report["totals"]
    check(res.returncode == 0, "flood: read: " + res.stderr)
    check_invariants(report, "flood")
    equal(service(report, "VPN Server (OpenVPN)")["packets"], streamed,
          "flood: the answered conversations keep every packet")
    equal(service(report, "VPN Server (OpenVPN)")["flows"], 5, "flood: the answered conversations are never evicted")
    check(t["evicted_flows"] > 200000 and t["evicted_unanswered_flows"] == t["evicted_flows"],
          "flood: evictions reported, all of unanswered flows (%d of %d)"
          % (t["evicted_unanswered_flows"], t["evicted_flows"]))
    check(peak_kib < 60 * 1024, "flood: peak RSS %d KiB within the 8 MiB table and the program" % peak_kib)


def check_out_of_memory(args, tmp):
    """Flows that cannot be allocated (ulimit -v, no --max-memory bound):
    their packets are counted by their port as unclassified, dsmflow says so
    once and exits 1; nothing is lost."""
    flood = os.path.join(tmp, "oom.pcap")
    write_syn_flood(flood, 300000, 5, 2000)
    res = subprocess.run(["bash", "-c", 'ulimit -v 61440; exec "$0" read --max-memory 0 -f json "$1"',
                          args.dsmflow, flood], capture_output=True, text=True)
    check(res.returncode == 1 and res.stderr.count("out of memory:") == 1,
          "out of memory: exit 1 and one message (exit %d: %s)" % (res.returncode, res.stderr.strip()[-200:]))
    report = json.loads(res.stdout)
    t = report["totals"]
    check(t["alloc_failures"] > 0, "out of memory: the failures are counted (%d)" % t["alloc_failures"])
    check_invariants(report, "out of memory")
    equal(unclassified(report, "tcp", 548)["packets"], t["alloc_failures"],
          "out of memory: the packets without a flow are in their port's row")


def check_shrinking_file(args, tmp):
    """A file truncated by another process while dsmflow reads it in place:
    no SIGBUS, an error naming the file and the packet, the report of what
    was read, exit 1. dsmflow is held mid-file by a flow log it writes into a
    pipe nobody reads yet; the file is cut; then the pipe is drained."""
    if not args.pcapgen:
        return
    big = os.path.join(tmp, "big.pcap")
    benchgen = os.path.join(os.path.dirname(args.pcapgen), "benchgen")
    run([benchgen, big, "200000", "500"])
    fifo = os.path.join(tmp, "flows.fifo")
    os.mkfifo(fifo)
    proc = subprocess.Popen([args.dsmflow, "read", "--max-flows", "4", "--flows", fifo, "-f", "json", big],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "rb") as log:
        time.sleep(1.0)     # dsmflow fills the pipe and waits, a few hundred flows in
        size = os.path.getsize(big)
        os.truncate(big, 1 << 20)
        while log.read(65536):
            pass
    out, err = proc.communicate(timeout=60)
    check(proc.returncode == 1 and "big.pcap: shrank while being read at packet " in err,
          "a file that shrinks while read: exit 1 naming it (exit %d, %s)" % (proc.returncode, err.strip()))
    report = json.loads(out) if out.startswith("{") else None
    check(report is not None and 0 < report["totals"]["packets"] < 200000 and size > (1 << 20),
          "a file that shrinks while read: the report of what was read")
    if report:
        check_invariants(report, "shrunk file")


# ---- several threads ----

def read_with_threads(args, paths, threads, *extra, stdin=None):
    """(exit status, the report without the inspection pool's size, the
    sorted flow and evidence log lines, stderr) of one read."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as flows, \
            tempfile.NamedTemporaryFile("r", suffix=".jsonl") as evidence:
        res = subprocess.run([args.dsmflow, "read", "--threads", str(threads), "-f", "json", "--flows", flows.name,
                              "--evidence-log", evidence.name, *extra, *paths], capture_output=True,
                             stdin=stdin)
        try:
            report = json.loads(res.stdout)
            report.get("inspection", {}).pop("slots", None)  # the engines' pools together
        except ValueError:
            report = None
        return (res.returncode, report, sorted(open(flows.name).read().splitlines()),
                sorted(open(evidence.name).read().splitlines()), res.stderr.decode(errors="replace"))


def check_same_with_threads(args, paths, counts, what):
    one = read_with_threads(args, paths, 1)
    for n in counts:
        got = read_with_threads(args, paths, n)
        for i, part in enumerate(("exit status", "report", "flow log lines", "evidence log lines", "messages")):
            if got[i] != one[i]:
                return check(False, "%s: --threads %d: the %s differ from one thread's" % (what, n, part))
    return check(one[1] is not None or one[0] != 0, "%s: read alike with 1, %s threads"
                 % (what, ", ".join(map(str, counts))))


def test_threads(args):
    """read --threads N counts exactly as one thread: the report (every
    total, service, group and port, the evidence counts), the set of flow
    and evidence log lines and the messages, on every sample, every
    third-party capture and every capture of the corpus; all of them as one
    stream; standard input (whose packets are copied into the ring); and
    with the flow table bounded, the totals still add up."""
    samples = sorted(glob.glob(os.path.join(args.source, "pcaps", "*.pcap*")))
    shared = sorted(glob.glob(os.path.join(args.shared, "*.pcap*")))
    corpus = sorted(glob.glob(os.path.join(args.shared, "corpus", "*")))
    for path in samples + shared:
        check_same_with_threads(args, [path], (2, 3), os.path.basename(path))
    for path in corpus:
        check_same_with_threads(args, [path], (2,), "corpus/" + os.path.basename(path))
    check_same_with_threads(args, samples + shared, (2, 4), "the samples and captures as one stream")
    with open(samples[0], "rb") as f:
        one = read_with_threads(args, ["-"], 1, stdin=f)
    with open(samples[0], "rb") as f:
        two = read_with_threads(args, ["-"], 2, stdin=f)
    check(one == two and one[0] == 0, "standard input: read alike with 1 and 2 threads")
    for threads in (1, 3):
        rc, report, _, _, err = read_with_threads(args, shared, threads, "--max-flows", "60")
        if check(report is not None, "--max-flows 60 --threads %d: %s" % (threads, err[-200:])):
            check_invariants(report, "--max-flows 60 --threads %d" % threads)
            check(report["totals"]["evicted_flows"] > 0, "--max-flows 60 --threads %d: flows were evicted" % threads)
    print("threads: %d samples, %d captures, %d corpus captures" % (len(samples), len(shared), len(corpus)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["samples", "real", "errors", "corpus", "threads"])
    ap.add_argument("--dsmflow", required=True)
    ap.add_argument("--pcapgen")
    ap.add_argument("--source")
    ap.add_argument("--shared")
    ap.add_argument("--memory-limits", action="store_true", help="also run under ulimit -v (not with ASan)")
    args = ap.parse_args()
    rc = {"samples": test_samples, "real": test_real, "errors": test_errors,
          "corpus": test_corpus, "threads": test_threads}[args.what](args)
    print("%s: %d passed, %d failed" % (args.what, results["passed"], results["failed"]))
    if rc == SKIP:
        return SKIP
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
