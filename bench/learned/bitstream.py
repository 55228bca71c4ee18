"""The container of the learned codecs' bitstreams: a small versioned header, then the payload.

CompressAI's ``compress()`` returns ``{"strings": [[bytes, …], …], "shape": (h, w)}``: groups of
entropy-coded strings (one group per latent, e.g. ŷ then ẑ) and the spatial shape of the smallest
latent. Decoding needs all of it, and the crop back to the original image needs its size, so the
bitstream carries everything and the harness's bpp (8·len(bytes)/(H·W)) counts everything.

Layout (docs/bitstream.md has the byte-by-byte description and the sizes at Kodak size)::

    tag      1 byte   0xB1: format family 0xB_, version 1 (0xB2: version 2, with the coder byte)
    crc32    4 bytes  big-endian CRC-32 (zlib) of every byte after this field
    mode     1 byte   padding mode (0 model, 1 eval_model); other values are refused
    coder    1 byte   version 2 only: how ŷ was coded (1 wavefront, 2 wavefront-fast; see CODERS)
    H, W     varints  original image height and width
    h, w     varints  the latent shape compress() returned
    G        varint   number of string groups
    n_1…n_G  varints  number of strings in each group
    L_…      varints  the length of every string, group by group
    strings  Σ L      the strings, concatenated in the same order

The reference coder (CompressAI's own ``compress``) writes version 1, byte for byte as before the
coder field existed; another coder of ŷ (``bench.learned.wavefront``) writes version 2 and names
itself, so that no codec decodes a stream of another coder into plausible garbage.

Varints are unsigned LEB128 (7 bits a byte, low bits first, high bit set on all but the last byte).
Every defect — wrong tag, truncation, trailing bytes, a flipped bit anywhere — raises
:class:`BitstreamError` before any entropy decoding starts: a corrupted rANS string usually
decodes to plausible garbage, so the checksum is what detects it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from bench.core.errors import CodecError
from bench.learned.padding import MODES

__all__ = [
    "CODERS", "CODER_CODECS", "MODES", "REFERENCE", "TAG", "TAG_CODER", "Bitstream", "BitstreamError",
    "header_size", "pack", "parse", "unpack", "varint_size",
]

TAG = 0xB1
"""First byte: high nibble 0xB identifies the format, low nibble the version (1)."""
TAG_CODER = 0xB2
"""First byte of version 2: version 1 plus a coder byte after the mode byte."""
REFERENCE = "reference"
CODERS: tuple[str, ...] = (REFERENCE, "wavefront", "wavefront-fast")
"""How ŷ was entropy-coded, by their code in the coder byte (never reorder): CompressAI's own
position-by-position coder, or wavefronts (:mod:`bench.learned.wavefront`) with its ``exact`` or
``fast`` numerics."""
CODER_CODECS: dict[str, str] = {
    REFERENCE: "the architecture's own codec (e.g. mbt2018)",
    "wavefront": "the architecture's -wavefront codec (e.g. mbt2018-wavefront)",
    "wavefront-fast": "the architecture's -wavefront codec with numerics=fast",
}
"""Which codec decodes a stream of each coder (for error messages)."""

# MODES (bench.learned.padding): the padding modes by their code in the ``mode`` byte.

_CRC_END = 5  # tag (1) + crc32 (4)
_MAX_VARINT_BYTES = 10  # enough for any 64-bit value


class BitstreamError(CodecError):
    """A bitstream that is not, or no longer, what the encoder wrote."""


@dataclass(frozen=True)
class Bitstream:
    """A parsed bitstream."""

    strings: list[list[bytes]]
    shape: tuple[int, int]
    height: int
    width: int
    mode: str = "model"
    coder: str = REFERENCE

    @property
    def payload_bytes(self) -> int:
        """Bytes of entropy-coded strings, without the header."""
        return sum(len(s) for group in self.strings for s in group)


def varint_size(value: int) -> int:
    """Bytes taken by ``value`` as an unsigned LEB128 varint."""
    if value < 0:
        raise BitstreamError(f"cannot store the negative value {value} in a bitstream")
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise BitstreamError(f"cannot store the negative value {value} in a bitstream")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise BitstreamError(f"truncated bitstream: it ends inside the header ({what}); re-encode the image")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    raise BitstreamError(f"corrupt bitstream: the header field {what} is not a valid varint")


def _check_fields(strings: Sequence[Sequence[bytes]], shape: Sequence[int], height: int, width: int) -> None:
    if len(shape) != 2:
        raise BitstreamError(f"latent shape must have 2 dimensions (h, w), got {tuple(shape)}")
    if height < 1 or width < 1:
        raise BitstreamError(f"image size must be positive, got {height}×{width}")
    if not strings:
        raise BitstreamError("no string groups to pack; pass compress()['strings']")
    for group in strings:
        for s in group:
            if not isinstance(s, bytes | bytearray):
                raise BitstreamError(f"strings must be bytes, got {type(s).__name__}")


def header_size(lengths: Sequence[Sequence[int]], shape: Sequence[int], height: int, width: int, *,
                coder: str = REFERENCE) -> int:
    """Bytes of everything but the strings, for groups of strings of these ``lengths`` (one more for the
    coder byte of a coder other than the reference)."""
    fields = [height, width, *shape, len(lengths), *(len(g) for g in lengths), *(n for g in lengths for n in g)]
    return _CRC_END + 1 + (coder != REFERENCE) + sum(varint_size(int(v)) for v in fields)


def pack(strings: Sequence[Sequence[bytes]], shape: Sequence[int], height: int, width: int, *,
         mode: str = "model", coder: str = REFERENCE) -> bytes:
    """The complete bitstream of compress()'s ``strings`` and ``shape`` for an H×W image; version 1 for
    the reference coder, version 2 (with the coder byte) for another."""
    _check_fields(strings, shape, height, width)
    if mode not in MODES:
        raise BitstreamError(f"unknown padding mode {mode!r}; use one of {', '.join(MODES)}")
    if coder not in CODERS:
        raise BitstreamError(f"unknown coder {coder!r}; use one of {', '.join(CODERS)}")
    body = bytearray([MODES.index(mode)])
    if coder != REFERENCE:
        body.append(CODERS.index(coder))
    for value in (height, width, *shape, len(strings), *(len(g) for g in strings)):
        _put_varint(body, int(value))
    for group in strings:
        for s in group:
            _put_varint(body, len(s))
    for group in strings:
        for s in group:
            body += s
    tag = TAG if coder == REFERENCE else TAG_CODER
    return bytes([tag]) + zlib.crc32(body).to_bytes(4, "big") + bytes(body)


def parse(data: bytes) -> Bitstream:
    """Check and split a bitstream made by :func:`pack`; raise :class:`BitstreamError` if it is damaged."""
    data = bytes(data)
    if len(data) < _CRC_END + 1:
        raise BitstreamError(f"truncated bitstream: {len(data)} bytes, not even a header; re-encode the image")
    if data[0] not in (TAG, TAG_CODER):
        if data[0] >> 4 == TAG >> 4:
            raise BitstreamError(f"bitstream format version {data[0] & 0xF} is not supported (this harness "
                                 f"reads versions {TAG & 0xF} and {TAG_CODER & 0xF}); re-encode with this version")
        raise BitstreamError(f"not a learned-codec bitstream of this harness (first byte 0x{data[0]:02X}, "
                             f"expected 0x{TAG:02X} or 0x{TAG_CODER:02X})")
    mode_code = data[_CRC_END]
    pos = _CRC_END + 1
    coder_code = 0
    if data[0] == TAG_CODER:
        if pos >= len(data):
            raise BitstreamError("truncated bitstream: it ends inside the header (coder); re-encode the image")
        coder_code = data[pos]
        pos += 1
    height, pos = _get_varint(data, pos, "height")
    width, pos = _get_varint(data, pos, "width")
    h, pos = _get_varint(data, pos, "latent height")
    w, pos = _get_varint(data, pos, "latent width")
    groups, pos = _get_varint(data, pos, "number of groups")
    # every count and length takes at least one byte: bound them by what is there before looping
    if groups > len(data) - pos:
        raise BitstreamError(f"corrupt bitstream: {groups} string groups announced in {len(data)} bytes")
    counts = []
    for g in range(groups):
        count, pos = _get_varint(data, pos, f"strings in group {g}")
        counts.append(count)
    if sum(counts) > len(data) - pos:
        raise BitstreamError(f"corrupt bitstream: {sum(counts)} strings announced in {len(data)} bytes")
    lengths = []
    for g, count in enumerate(counts):
        row = []
        for i in range(count):
            n, pos = _get_varint(data, pos, f"length of string {i} of group {g}")
            row.append(n)
        lengths.append(row)
    expected = pos + sum(sum(row) for row in lengths)
    if expected > len(data):
        raise BitstreamError(f"truncated bitstream: {len(data)} bytes, its header announces {expected}; "
                             "the file was cut short, re-encode the image")
    if expected < len(data):
        raise BitstreamError(f"corrupt bitstream: {len(data) - expected} bytes after the announced end "
                             f"({expected} bytes)")
    stored = int.from_bytes(data[1:_CRC_END], "big")
    computed = zlib.crc32(data[_CRC_END:])
    if stored != computed:
        raise BitstreamError(f"corrupt bitstream: CRC-32 mismatch (stored {stored:08x}, computed {computed:08x}); "
                             "the bytes changed after encoding, re-encode the image")
    if mode_code >= len(MODES):
        raise BitstreamError(f"corrupt bitstream: unknown padding mode code {mode_code}")
    if coder_code >= len(CODERS):
        raise BitstreamError(f"bitstream made by an unknown coder (code {coder_code}); this harness knows "
                             f"{', '.join(CODERS)}")
    if height < 1 or width < 1:
        raise BitstreamError(f"corrupt bitstream: image size {height}×{width}")
    strings = []
    for row in lengths:
        group = []
        for n in row:
            group.append(data[pos:pos + n])
            pos += n
        strings.append(group)
    return Bitstream(strings, (h, w), height, width, MODES[mode_code], CODERS[coder_code])


def unpack(data: bytes) -> tuple[list[list[bytes]], tuple[int, int], int, int]:
    """``(strings, shape, height, width)`` of a bitstream made by :func:`pack`."""
    stream = parse(data)
    return stream.strings, stream.shape, stream.height, stream.width
