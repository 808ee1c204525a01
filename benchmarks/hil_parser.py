"""Throughput of the HIL frame parser (tinyml_pio/hil/protocol.py) on adversarial streams.

    .venv/bin/python benchmarks/hil_parser.py [--mbytes 4]

Streams: random bytes; sync bytes everywhere (every position a candidate header); headers
claiming the largest payload with a bad CRC (each costs a CRC over 512 bytes); valid frames. Fed
in 4 kB reads, like the client. Prints MB/s per stream; the target is >= 1 MB/s on all of them.
"""

from __future__ import annotations

import argparse
import random
import struct
import time

from tinyml_pio.hil import protocol as P


def streams(size: int) -> dict[str, bytes]:
    rng = random.Random(0)
    bad_header = P.SYNC + struct.pack("<BBH", 0x83, 1, P.MAX_PAYLOAD)
    valid = P.encode(0x84, 1, bytes(rng.randrange(256) for _ in range(P.MAX_PAYLOAD)))
    return {
        "random bytes": rng.randbytes(size),
        "sync bytes everywhere": P.SYNC * (size // 2),
        "max-length headers, bad CRC": (bad_header + bytes(P.MAX_PAYLOAD + 2)) * (size // (len(bad_header) + P.MAX_PAYLOAD + 2)),
        "dense max-length headers": (bad_header * (size // len(bad_header))),
        "valid 512-byte frames": valid * (size // len(valid)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mbytes", type=float, default=4.0)
    a = ap.parse_args()
    print("| stream | MB/s | frames | bad |")
    print("|---|---:|---:|---:|")
    for name, data in streams(int(a.mbytes * 1e6)).items():
        parser = P.FrameParser()
        frames = 0
        start = time.perf_counter()
        for i in range(0, len(data), 4096):
            frames += len(parser.feed(data[i:i + 4096]))
        took = time.perf_counter() - start
        print(f"| {name} | {len(data) / took / 1e6:.2f} | {frames} | {parser.bad} |")


if __name__ == "__main__":
    main()
