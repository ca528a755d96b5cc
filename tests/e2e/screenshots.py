"""Copy the screenshots docs/web.md shows from a browser-flow run into docs/screenshots,
recompressed (maximum deflate, no metadata chunks) so they stay small in the repository.

``make screenshots`` runs the flows at device scale 1 into test-artifacts/screenshots,
then ``python -m tests.e2e.screenshots test-artifacts/screenshots docs/screenshots``.
Standard library only (no image library is a dependency)."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

# The pages docs/web.md embeds, in its order (names as the flows' shot() calls save them).
DOCS_SHOTS = (
    "home",
    "search",
    "product",
    "cart",
    "checkout",
    "order-pickup",
    "fitting-session",
    "staff-counter",
    "staff-fitting-queue",
    "backoffice-dashboard",
    "backoffice-product-edit",
    "backoffice-personas",
    "forbidden",
)
KEEP = {b"IHDR", b"PLTE", b"tRNS", b"IEND"}
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(SIGNATURE), "not a PNG"
    pos, out = len(SIGNATURE), []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def recompress(data: bytes) -> bytes:
    """The same image, its pixel data deflated at level 9, ancillary chunks dropped."""
    chunks = _chunks(data)
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    out = [SIGNATURE]
    for kind, body in chunks:
        if kind == b"IDAT":
            continue
        if kind == b"IEND":
            out.append(_chunk(b"IDAT", zlib.compress(pixels, 9)))
        if kind in KEEP:
            out.append(_chunk(kind, body))
    smaller = b"".join(out)
    return smaller if len(smaller) < len(data) else data


def main(source: str, target: str) -> int:
    src, dst = Path(source), Path(target)
    dst.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in DOCS_SHOTS:
        path = src / f"{name}.png"
        if not path.exists():
            missing.append(name)
            continue
        data = recompress(path.read_bytes())
        (dst / path.name).write_bytes(data)
        print(f"{dst / path.name}: {len(data) / 1024:.0f} KB")
    if missing:
        print(f"not taken by this run (a flow failed?): {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
