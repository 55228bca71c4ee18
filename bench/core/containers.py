"""Payload-only sizes of image files: the coded data without the container.

bpp always counts the whole file; these sizes are recorded beside it (``payload_bytes``) so a
reader can see what the container costs (HEIF's boxes are ~9 % of the rate at 0.1 bpp on Kodak).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from bench.core.errors import CodecError


def webp_payload_bytes(data: bytes) -> int:
    """Size of the ``VP8 `` (lossy) or ``VP8L`` (lossless) chunk's data in a RIFF WebP file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CodecError("not a RIFF WebP file (no 'RIFF....WEBP' header)")
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data):
        raise CodecError(f"truncated WebP file: RIFF says {riff_end} bytes, file has {len(data)}")
    pos = 12
    while pos + 8 <= riff_end:
        fourcc, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if pos + 8 + size > riff_end:
            raise CodecError(f"truncated WebP chunk {fourcc!r} at byte {pos}")
        if fourcc in (b"VP8 ", b"VP8L"):
            return size
        pos += 8 + size + (size & 1)
    raise CodecError("WebP file has no 'VP8 ' or 'VP8L' image chunk")


def j2k_payload_bytes(data: bytes) -> int:
    """Bytes of a J2K codestream from its first SOT marker (0xFF90) on: everything but the main header."""
    if data[:2] != b"\xff\x4f":
        raise CodecError("not a J2K codestream (no SOC marker 0xFF4F); JP2 files are not parsed")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise CodecError(f"J2K main header broken: no marker at byte {pos}")
        if data[pos + 1] == 0x90:
            return len(data) - pos
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    raise CodecError("J2K codestream has no SOT marker (0xFF90)")


_JPEG_RESTARTS = frozenset(range(0xD0, 0xD8))  # RST0–7: inside a scan's data
_JPEG_STANDALONE = _JPEG_RESTARTS | {0x01}  # with TEM: the markers that carry no length field


def jpeg_payload_bytes(data: bytes) -> int:
    """Bytes of a JPEG file's entropy-coded data: for each scan, from the end of its SOS header to the
    next marker other than RST0–7 (stuffed 0xFF00 bytes and restart markers inside a scan count as
    scan data). Everything else — SOI, APPn, DQT, SOF, DHT, SOS headers, COM, EOI — is container."""
    if data[:2] != b"\xff\xd8":
        raise CodecError("not a JPEG file (no SOI marker 0xFFD8)")
    pos, total, scans = 2, 0, 0
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            raise CodecError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            break
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > len(data):
            raise CodecError(f"truncated JPEG marker segment at byte {pos}")
        end = pos + 2 + struct.unpack_from(">H", data, pos + 2)[0]
        if marker != 0xDA:  # not SOS: a header segment
            pos = end
            continue
        scan = _scan_end(data, end)
        total += scan - end
        scans += 1
        pos = scan
    if not scans:
        raise CodecError("JPEG file has no scan (no SOS marker 0xFFDA)")
    return total


def _scan_end(data: bytes, start: int) -> int:
    """Where a scan's entropy-coded data that starts at ``start`` ends: the first 0xFF followed by a byte
    other than 0x00 (stuffing) and RST0–7, or the end of the file."""
    pos = data.find(b"\xff", start)
    while 0 <= pos < len(data) - 1 and (data[pos + 1] == 0x00 or data[pos + 1] in _JPEG_RESTARTS):
        pos = data.find(b"\xff", pos + 2)
    return len(data) if pos < 0 or pos == len(data) - 1 else pos


def isobmff_boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Walk the top-level ISO BMFF boxes, yielding ``(type, payload start, box end)`` for each."""
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise CodecError(f"truncated ISO BMFF box header at byte {pos}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                raise CodecError(f"truncated 64-bit ISO BMFF box size at byte {pos}")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise CodecError(f"ISO BMFF box {kind!r} at byte {pos} claims {size} bytes; file has {len(data)}")
        yield kind, pos + header, pos + size
        pos += size


def mdat_payload_bytes(data: bytes) -> int:
    """Total contents of the top-level ``mdat`` boxes of an AVIF/HEIF file (the coded image data)."""
    boxes = list(isobmff_boxes(data))
    if not boxes or boxes[0][0] != b"ftyp":
        raise CodecError("not an ISO BMFF file (first box is not 'ftyp')")
    sizes = [end - start for kind, start, end in boxes if kind == b"mdat"]
    if not sizes:
        raise CodecError("ISO BMFF file has no 'mdat' box")
    return sum(sizes)


def payload_fields(data: bytes, parse: Callable[[bytes], int]) -> dict[str, Any]:
    """Row fields for ``Coder.verify``: ``payload_bytes``, or a note when the file cannot be parsed."""
    try:
        return {"payload_bytes": parse(data)}
    except CodecError as exc:
        return {"note": f"payload size unknown: {exc}"}
