#!/usr/bin/env python3
"""Seed corpora for the fuzz harnesses, made from the project's own files:

  tests/fuzz/seeds.py OUTDIR

  OUTDIR/capture  the sample captures' first 4 KiB, and the edge-case one whole;
                  from ../shared/pcaps (and its corpus/), the first 4 KiB of one
                  capture of every link type and of every pcapng file
  OUTDIR/nfq      NFQUEUE packet messages carrying the sample captures' IP
                  packets (one, or three in a datagram), acknowledgements and an error
  OUTDIR/engine   the sample captures' packets, eight at a time, in the engine
                  harness's format: [link index | seconds << 4][length][bytes]
  OUTDIR/catalog  the catalogue, 30 lines at a time
  OUTDIR/webapi   the Web API table's header and rows, 20 rows at a time
  OUTDIR/tls      the first ClientHello of each TCP stream that starts with one, in
                  the tls harness's format: [cuts][cut lengths, 2 bytes LE][stream],
                  whole and cut where the segments were
  OUTDIR/output   the engine seeds again, for the writers' harness
  OUTDIR/metrics  HTTP requests to the metrics endpoint
  OUTDIR/dns      every UDP payload from port 53
  OUTDIR/http     the client stream of each TCP connection that starts with an HTTP
                  request, in the http harness's format: [cuts][cut lengths][stream]
  (tls, dns and http read the sample captures and ../shared/pcaps, when present)
"""
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..")
# LINKTYPE -> fuzz_engine's link index
LINKS = {1: 0, 101: 1, 12: 1, 113: 2, 276: 3, 0: 4, 9: 5, 108: 6, 51: 7, 228: 8, 229: 9, 50: 10, 104: 11}


def packets(path):
    data = open(path, "rb").read()
    magic, = struct.unpack("<I", data[:4])
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        return
    link = struct.unpack("<I", data[20:24])[0] & 0xffff
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        yield link, data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def transport(link, frame):
    """(protocol, sport, dport, payload) of an Ethernet (VLAN) or raw frame
    holding IPv4 or IPv6 (also IPv6 in IPv4), or None."""
    off, ethertype = 0, 0x0800 if link in (12, 101) else None
    if link == 1:
        off, ethertype = 14, struct.unpack(">H", frame[12:14])[0] if len(frame) >= 14 else None
        while ethertype in (0x8100, 0x88a8) and len(frame) >= off + 4:
            ethertype, off = struct.unpack(">H", frame[off + 2:off + 4])[0], off + 4
    ip = frame[off:]
    if ethertype not in (0x0800, 0x86dd) or len(ip) < 1:
        return None
    while True:
        if ip[0] >> 4 == 4 and len(ip) >= 20:
            total, frag, proto = struct.unpack(">H", ip[2:4])[0], struct.unpack(">H", ip[6:8])[0], ip[9]
            header, ip = (ip[0] & 15) * 4, ip[:total]
            if frag & 0x1fff:
                return None
        elif ip[0] >> 4 == 6 and len(ip) >= 40:
            header, proto = 40, ip[6]
            ip = ip[:40 + struct.unpack(">H", ip[4:6])[0]]
        else:
            return None
        if proto != 41:
            break
        ip = ip[header:]
    segment = ip[header:]
    if proto == 6 and len(segment) >= 20:
        return 6, *struct.unpack(">HH", segment[:4]), segment[(segment[12] >> 4) * 4:]
    if proto == 17 and len(segment) >= 8:
        return 17, *struct.unpack(">HH", segment[:4]), segment[8:]
    return None


def payload_seeds(outdir, path):
    """The tls and dns seeds of one capture."""
    name, streams, requests = os.path.basename(path), {}, {}
    for i, (link, frame) in enumerate(packets(path)):
        t = transport(link, frame)
        if not t or not t[3]:
            continue
        proto, sport, dport, payload = t
        if proto == 17 and sport == 53:
            write(outdir, "dns", "%s-%d" % (name, i + 1), payload)
        if proto != 6:
            continue
        if (sport, dport) not in streams and payload[:2] == b"\x16\x03" and payload[5:6] == b"\x01":
            streams[(sport, dport)] = []
        if (sport, dport) not in requests and payload[:4] in (b"GET ", b"POST", b"HEAD", b"PUT "):
            requests[(sport, dport)] = []
        if (sport, dport) in requests and len(requests[(sport, dport)]) < 16:
            requests[(sport, dport)].append(payload)
        if (sport, dport) in streams and len(streams[(sport, dport)]) < 16:
            streams[(sport, dport)].append(payload)
    for j, ((sport, dport), segments) in enumerate(sorted(streams.items())[:8]):
        stream = b"".join(segments)[:8000]
        cuts = [len(s) for s in segments[:7]]
        write(outdir, "tls", "%s-%d" % (name, j), b"\0" + stream)
        write(outdir, "tls", "%s-%d-cut" % (name, j),
              bytes([len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts) + stream)
    for j, ((sport, dport), segments) in enumerate(sorted(requests.items())[:8]):
        stream = b"".join(segments)[:1024]
        cuts = [min(len(s), 255) for s in segments[:16]]
        write(outdir, "http", "%s-%d" % (name, j), b"\0" + stream)
        write(outdir, "http", "%s-%d-cut" % (name, j), bytes([len(cuts)]) + bytes(cuts) + stream)


def capture_kinds(shared):
    """One capture of each (format, link type) in shared and its corpus, and
    every pcapng file (their link types are inside)."""
    seen = set()
    for d in (shared, os.path.join(shared, "corpus")):
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            path = os.path.join(d, f)
            if not os.path.isfile(path):
                continue
            head = open(path, "rb").read(24)
            if head[:4] == b"\x0a\x0d\x0d\x0a":
                yield path
            elif len(head) == 24:
                for order in "<>":
                    magic, = struct.unpack(order + "I", head[:4])
                    if magic in (0xa1b2c3d4, 0xa1b23c4d):
                        key = (order, magic, struct.unpack(order + "I", head[20:24])[0] & 0xffff)
                        if key not in seen:
                            seen.add(key)
                            yield path


def nfq_message(packet_id, payload):
    """A NFQNL_MSG_PACKET message as the kernel sends it."""
    nfgen = struct.pack("<BBH", 0, 0, socket.htons(0))
    attrs = struct.pack("<HH", 11, 1) + struct.pack(">IHB", packet_id, 0x0800, 1) + b"\0"
    attrs += struct.pack("<HH", 4 + len(payload), 10) + payload + b"\0" * (-len(payload) % 4)
    body = nfgen + attrs
    return struct.pack("<IHHII", 16 + len(body), 3 << 8 | 0, 0, 0, 0) + body


def nfq_ack(seq, error):
    body = struct.pack("<i", -error) + struct.pack("<IHHII", 16, 0, 0, seq, 0)
    return struct.pack("<IHHII", 16 + len(body), 2, 0, seq, 0) + body


def nfq_seeds(outdir, samples):
    n = 0
    for path in samples:
        ips = [frame[14:] for link, frame in packets(path)
               if link == 1 and frame[12:14] in (b"\x08\x00", b"\x86\xdd")][:12]
        for i, ip in enumerate(ips):
            write(outdir, "nfq", "packet-%d" % n, nfq_message(i + 1, ip[:512]))
            n += 1
        if len(ips) >= 3:
            write(outdir, "nfq", "three-%d" % n, b"".join(nfq_message(i + 1, ip[:256]) for i, ip in enumerate(ips[:3])))
    write(outdir, "nfq", "acks", nfq_ack(1, 0) + nfq_ack(2, 0))
    write(outdir, "nfq", "refused", nfq_ack(4, 95))


HTTP_REQUESTS = [
    b"GET /metrics HTTP/1.1\r\nHost: nas\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: nas\r\nConnection: close\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: nas\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /metrics HTTP/1.1\r\nHost: nas\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /metrics?x=%zz HTTP/1.1\r\nHost: nas\r\nAccept-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"GET /nothing HTTP/1.1\r\nHost: nas\r\n\r\n",
]


def write(outdir, kind, name, blob):
    os.makedirs(os.path.join(outdir, kind), exist_ok=True)
    with open(os.path.join(outdir, kind, name), "wb") as f:
        f.write(blob)


def main():
    outdir = sys.argv[1]
    samples = sorted(os.path.join(SOURCE, "pcaps", f) for f in os.listdir(os.path.join(SOURCE, "pcaps")))
    for path in samples:
        name = os.path.basename(path)
        blob = open(path, "rb").read()
        write(outdir, "capture", name, blob if "edge" in name else blob[:4096])
        chunk = b""
        for i, (link, frame) in enumerate(packets(path)):
            frame = frame[:255]
            chunk += bytes([LINKS.get(link, 0), len(frame)]) + frame
            if i % 8 == 7:
                write(outdir, "engine", "%s-%d" % (name, i // 8), chunk)
                write(outdir, "output", "%s-%d" % (name, i // 8), chunk)
                chunk = b""
            if i >= 8 * 40:
                break
    lines = open(os.path.join(SOURCE, "catalog", "dsm-ports.tsv"), "rb").read().split(b"\n")
    for i in range(0, len(lines), 30):
        write(outdir, "catalog", "dsm-ports-%d" % i, b"\n".join(lines[i:i + 30]))
    text = open(os.path.join(SOURCE, "catalog", "webapi.tsv"), "rb").read()
    lines = [line for line in text.split(b"\n") if line and not line.startswith(b"#")]
    for i in range(1, len(lines), 20):
        write(outdir, "webapi", "webapi-%d" % i, b"\n".join(lines[:1] + lines[i:i + 20]))
    shared = os.path.join(SOURCE, "..", "shared", "pcaps")
    more = [os.path.join(shared, f) for f in ("443-curl.pcap", "6in4tunnel.pcap", "dns.pcap",
                                              "badpackets.pcap", "malformed_dns.pcap",
                                              "corpus/codm.pcap", "corpus/dns_ambiguous_names.pcap")]
    for path in samples + [p for p in more if os.path.exists(p)]:
        payload_seeds(outdir, path)
    for path in capture_kinds(shared):
        write(outdir, "capture", "shared-" + os.path.basename(path), open(path, "rb").read()[:4096])
    nfq_seeds(outdir, samples)
    for i, request in enumerate(HTTP_REQUESTS):
        write(outdir, "metrics", "request-%d" % i, request)
    return 0


if __name__ == "__main__":
    sys.exit(main())
