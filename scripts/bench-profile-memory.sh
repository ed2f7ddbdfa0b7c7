#!/usr/bin/env bash
# What one profile of one flow costs: two captures of the same 1 M one-packet TCP SYNs, one from
# 1 M distinct sources (a scan or a spoofed flood: 1 M profiles) and one from a single source
# (1 profile). Everything else (packets, connections, records) is the same, so the difference in
# peak memory (/usr/bin/time -v) divided by the profiles is the cost of a profile.
#
#   scripts/bench-profile-memory.sh [KALIPSO_BINARY] [FLOWS]
set -euo pipefail
bin=${1:-target/release/kalipso}
n=${2:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

write() { # mode file
  python3 - "$n" "$2" "$1" <<'PY'
import struct, sys
n, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = open(path, "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
eth = bytes.fromhex("00112233445566778899aabb0800")
dst = bytes([93, 184, 216, 34])  # outside the home network: no server-side profile
for i in range(n):
    if mode == "many":
        src, sport, dport = bytes([100 + (i >> 24) % 50, (i >> 16) & 255, (i >> 8) & 255, i & 255]), 1024 + i % 60000, 80
    else:  # one source; ports keep every connection distinct
        src, sport, dport = bytes([100, 0, 0, 1]), 1024 + i % 64000, 1 + i // 64000
    tcp = struct.pack("!HHIIBBHHH", sport, dport, i, 0, 0x50, 0x02, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst)
    pkt = eth + ip + tcp
    out.write(struct.pack("<IIII", 1700000000 + i // 10000, (i % 10000) * 100, len(pkt), len(pkt)))
    out.write(pkt)
PY
}

peak() { # file -> kB
  /usr/bin/time -v "$bin" analyze --no-ui "$1" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'
}

write many "$work/many.pcap"
write one "$work/one.pcap"
many=$(peak "$work/many.pcap")
one=$(peak "$work/one.pcap")
echo "flows: $n; peak with $n profiles: $many kB; with 1 profile: $one kB"
echo "per one-flow profile: $(( (many - one) * 1024 / n )) B"
