#!/usr/bin/env python3
"""Seed corpora for the fuzz harnesses, made from the project's own files:

  tests/fuzz/seeds.py OUTDIR

  OUTDIR/capture  the sample captures' first 4 KiB, and the edge-case one whole
  OUTDIR/engine   the sample captures' packets, eight at a time, in the engine
                  harness's format: [link index | seconds << 4][length][bytes]
  OUTDIR/catalog  the catalogue, 30 lines at a time
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..")
LINKS = {1: 0, 101: 1, 12: 1, 113: 2, 276: 3, 0: 4, 9: 5, 108: 6, 51: 7}  # LINKTYPE -> harness index


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
                chunk = b""
            if i >= 8 * 40:
                break
    lines = open(os.path.join(SOURCE, "catalog", "dsm-ports.tsv"), "rb").read().split(b"\n")
    for i in range(0, len(lines), 30):
        write(outdir, "catalog", "dsm-ports-%d" % i, b"\n".join(lines[i:i + 30]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
