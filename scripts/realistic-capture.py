#!/usr/bin/env python3
"""Builds a realistic benchmark capture from the corpus's real captures.

The real captures (``slips/pcap/*.pcap`` of the shared corpus, classic pcap, Ethernet) are
replicated until the output reaches the size asked for. Each replica gets its own addresses
(the middle two octets of every IPv4 address are XORed with the replica's number, so replicas
are distinct networks with the same shapes) and its own start time (replicas are spread over
the span asked for), and all packets are merged in time order. IPv4 header checksums and
TCP/UDP checksums are updated for the new addresses (RFC 1624), so nothing is dropped as
corrupt. The result has the packet and flow sizes of real traffic: many small flows, DNS and
TLS heavy. Deterministic: same inputs, same bytes.

    scripts/realistic-capture.py OUT.pcap [SIZE_MB] [CORPUS]
"""
import glob
import heapq
import os
import struct
import sys


def packets(path):
    """(ts_us, bytes) of a classic little- or big-endian pcap with Ethernet frames."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        end, nano = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        end, nano = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        end, nano = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        end, nano = ">", True
    else:
        return []
    if struct.unpack(end + "I", data[20:24])[0] != 1:
        return []  # not Ethernet
    out, at = [], 24
    while at + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(end + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        if len(frame) < caplen:
            break
        out.append((sec * 1_000_000 + (frac // 1000 if nano else frac), frame))
        at += 16 + caplen
    return out


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def update(csum, old_words, new_words):
    """RFC 1624: HC' = ~(~HC + ~m + m') over every changed 16-bit word."""
    s = (~csum) & 0xFFFF
    for m, m2 in zip(old_words, new_words):
        s += ((~m) & 0xFFFF) + m2
    return (~fold(s)) & 0xFFFF


def rewrite(frame, k):
    """The frame with replica k's IPv4 addresses and checksums (other frames unchanged)."""
    off = 14
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == 0x8100 and len(frame) >= 18:
        ethertype, off = struct.unpack("!H", frame[16:18])[0], 18
    if ethertype != 0x0800 or len(frame) < off + 20:
        return frame
    b = bytearray(frame)
    ihl = (b[off] & 0x0F) * 4
    proto = b[off + 9]
    old = struct.unpack("!4H", bytes(b[off + 12:off + 20]))
    hi, lo = (k >> 8) & 0xFF, k & 0xFF
    for a in (off + 12, off + 16):
        b[a + 1] ^= hi
        b[a + 2] ^= lo
    new = struct.unpack("!4H", bytes(b[off + 12:off + 20]))
    ip_sum = struct.unpack("!H", bytes(b[off + 10:off + 12]))[0]
    b[off + 10:off + 12] = struct.pack("!H", update(ip_sum, old, new))
    frag = struct.unpack("!H", bytes(b[off + 6:off + 8]))[0] & 0x1FFF
    l4 = off + ihl
    where = {6: 16, 17: 6}.get(proto)
    if frag == 0 and where is not None and len(b) >= l4 + where + 2:
        c = struct.unpack("!H", bytes(b[l4 + where:l4 + where + 2]))[0]
        if not (proto == 17 and c == 0):  # a UDP checksum of 0 means none
            b[l4 + where:l4 + where + 2] = struct.pack("!H", update(c, old, new))
    return bytes(b)


def main():
    out_path = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    corpus = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "testdata")
    sources = []
    for p in sorted(glob.glob(os.path.join(corpus, "slips", "pcap", "*.pcap"))):
        pk = packets(p)
        if pk:
            t0 = pk[0][0]
            sources.append([(t - t0, f) for t, f in pk])
    if not sources:
        sys.exit(f"no captures under {corpus}/slips/pcap")
    one = sum(16 + len(f) for s in sources for _, f in s)
    replicas = max(1, (size << 20) // one)
    span = 12 * 3600 * 1_000_000  # replicas start over 12 hours
    start = 1_704_099_600 * 1_000_000

    def stream(k):
        src = sources[k % len(sources)]
        shift = start + (k * 7919 % replicas) * span // replicas
        for t, f in src:
            yield (shift + t, k, f)

    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        count = 0
        for t, k, f in heapq.merge(*(stream(k) for k in range(replicas * len(sources)))):
            g = rewrite(f, k + 1)
            out.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(g), len(g)))
            out.write(g)
            count += 1
    print(f"{out_path}: {count} packets from {replicas * len(sources)} replicas", file=sys.stderr)


if __name__ == "__main__":
    main()
