#!/usr/bin/env python3
"""Writes tests/data/dns-answers.txt, what test_dns.c expects dns.c to find
in the DNS responses of third-party captures, from tshark's reading of them:

  tests/data/dns_answers.py > tests/data/dns-answers.txt

For every UDP packet from port 53 it runs
  tshark -r ../shared/pcaps/FILE -Y udp.srcport==53 -o ip.defragment:FALSE \
    -o ipv6.defragment:FALSE -T json -J "frame dns"
(no reassembly of IP fragments, as in dsmflow: a first fragment is a
truncated message) and writes "FILE FRAME STATUS" (response, not-response,
bad), then one line "FILE FRAME NAME ADDRESS TTL" per A or AAAA answer
reached from the question name through CNAMEs (the rule of dns.h, applied
here to tshark's fields): the question name, lower case; the address as
inet_ntop writes it. "bad" is tshark showing fewer answer records than the
header counts, no question, or a name it marks as malformed ("<Name too
long>") where dns.c reads one: any question, an answer's owner, a CNAME
target in the chain (tshark reads on past such a name; dns.c stops, after
reporting the answers before it). test_dns.c compares dns.c's reading with
these lines.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "pcaps")
CAPTURES = ["dns.pcap", "6in4tunnel.pcap", "badpackets.pcap", "malformed_dns.pcap",
            "corpus/dns_ambiguous_names.pcap", "corpus/dns_long_domainname.pcap",
            "corpus/mullvad_dns.pcap", "corpus/bad-dns-traffic.pcap", "corpus/dns-invalid-chars.pcap",
            "corpus/dns_fragmented.pcap", "corpus/dns-tunnel-iodine.pcap", "corpus/dns_invert_query.pcapng",
            "corpus/dns-exf.pcap", "corpus/bt-dns.pcap"]
MAX_ANSWERS = 64
CHAIN_MAX = 8


def pairs(items):
    return items  # keep duplicate keys (tshark repeats them) in order


def get(obj, key):
    for k, v in obj:
        if k == key:
            return v
    return None


def records(section):
    return [v for _, v in (section or [])]


def malformed(text):
    return text is None or (text.startswith("<") and text != "<Root>")


def host_name(text):
    if text is None:
        return None
    ok = all(0x20 < ord(ch) < 0x7f for ch in text) and "\\" not in text
    return text.lower() if ok and text not in ("", "<Root>") else None


def answers(dns):
    """The expected lines' tail for one response: status, [(name, addr, ttl)]."""
    flags = get(dns, "dns.flags_tree")
    if get(flags, "dns.flags.response") != "1" or get(flags, "dns.flags.opcode") != "0":
        return "not-response", []
    if get(flags, "dns.flags.rcode") != "0" or get(dns, "dns.count.queries") == "0":
        return "response", []
    queries = records(get(dns, "Queries"))
    if not queries or any(malformed(get(q, "dns.qry.name")) for q in queries):
        return "bad", []
    question = host_name(get(queries[0], "dns.qry.name"))
    if question is None:
        return "response", []
    chain, found = [question], []
    shown = records(get(dns, "Answers"))
    want = min(int(get(dns, "dns.count.answers")), MAX_ANSWERS)
    for rr in shown[:want]:
        if malformed(get(rr, "dns.resp.name")):
            return "bad", found
        owner = host_name(get(rr, "dns.resp.name"))
        if get(rr, "dns.resp.class") != "0x0001" or owner not in chain:
            continue
        rtype, ttl = get(rr, "dns.resp.type"), int(get(rr, "dns.resp.ttl"))
        ttl = 0 if ttl < 0 or ttl >= 1 << 31 else ttl
        if rtype == "1" and get(rr, "dns.resp.len") == "4":
            found.append((question, get(rr, "dns.a"), ttl))
        elif rtype == "28" and get(rr, "dns.resp.len") == "16":
            found.append((question, get(rr, "dns.aaaa"), ttl))
        elif rtype == "5":
            if malformed(get(rr, "dns.cname")):
                return "bad", found
            target = host_name(get(rr, "dns.cname"))
            if target and target not in chain and len(chain) < CHAIN_MAX:
                chain.append(target)
    return ("bad" if len(shown) < want else "response"), found


def main():
    print("# made by tests/data/dns_answers.py from %s" %
          subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout.split("\n")[0])
    for name in CAPTURES:
        out = subprocess.run(["tshark", "-r", os.path.join(SHARED, name), "-Y", "udp.srcport==53",
                              "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                              "-T", "json", "-J", "frame dns"],
                             capture_output=True, text=True, check=True).stdout
        for packet in json.loads(out, object_pairs_hook=pairs):
            layers = get(get(packet, "_source"), "layers")
            frame = get(get(layers, "frame"), "frame.number")
            dns = get(layers, "dns")
            status, found = answers(dns) if dns else ("bad", [])
            print("%s %s %s" % (name, frame, status))
            for question, addr, ttl in found:
                print("%s %s %s %s %d" % (name, frame, question, addr, ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
