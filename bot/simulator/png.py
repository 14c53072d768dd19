"""A minimal PNG encoder (8-bit RGB, no interlace) and the preview picture drawn with it.

Pillow would be a heavy dependency for one flat picture; PNG needs only zlib and CRC-32.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

Colour = tuple[int, int, int]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH, HEIGHT = 480, 320
BAND_HEIGHT = 48
# The band across the top says the verdict at a glance, like the dashboard's colour chips.
BAND_COLOURS: dict[str, Colour] = {
    "MALICIOUS": (200, 30, 45),
    "MALICIOUS-BEC": (140, 20, 60),
    "SUSPICIOUS": (235, 130, 20),
    "SPOOF": (120, 60, 170),
    "SPAM": (220, 190, 30),
    "BULK": (40, 110, 200),
    "NONE": (40, 160, 80),
}
OTHER_COLOUR: Colour = (130, 130, 130)
PAPER: Colour = (250, 250, 250)
INK: Colour = (190, 190, 195)


def chunk(kind: bytes, data: bytes) -> bytes:
    """Length, type, data, and the CRC-32 of type + data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_rgb(width: int, height: int, pixels: bytes) -> bytes:
    """PNG bytes for `height` rows of `width` RGB triples (filter type 0 on every row)."""
    stride = width * 3
    if len(pixels) != stride * height:
        raise ValueError("pixel data does not match width * height * 3")
    rows = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def preview_png(disposition: str | None, seed_text: str) -> bytes:
    """A 480x320 "screenshot": the verdict band, then grey bars standing for lines of text.

    Bar lengths come from a hash of `seed_text`, so each message gets its own stable picture.
    """
    band = BAND_COLOURS.get(disposition or "", OTHER_COLOUR)
    digest = hashlib.sha256(seed_text.encode()).digest()
    rows = [_row(band, WIDTH)] * BAND_HEIGHT
    for y in range(BAND_HEIGHT, HEIGHT):
        rows.append(_text_row(y, digest))
    return encode_rgb(WIDTH, HEIGHT, b"".join(rows))


def _row(colour: Colour, length: int) -> bytes:
    return bytes(colour) * length


def _text_row(y: int, digest: bytes) -> bytes:
    """Every 24 px a 10 px bar starting at x=24, its length picked from the digest."""
    line, offset = divmod(y - BAND_HEIGHT - 16, 24)
    if line < 0 or offset >= 10:
        return _row(PAPER, WIDTH)
    length = 120 + digest[line % len(digest)] * 300 // 255
    return _row(PAPER, 24) + _row(INK, length) + _row(PAPER, WIDTH - 24 - length)
