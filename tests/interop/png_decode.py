#!/usr/bin/env python3
"""png_decode.py — independent PNG decoder for the tests (Pillow, not cbas code).

Usage: png_decode.py IN.png OUT.raw
Checks the chunk structure (signature, IHDR first, IEND last, CRC-32 of every chunk with
Python's zlib.crc32, the IDAT zlib stream with its Adler-32), decodes the image with Pillow and
writes OUT.raw = one text line "WIDTH HEIGHT CHANNELS\n" followed by the pixels, row-major,
channel-interleaved, 8 bits per sample. Exit status 0 on success, 1 with a message otherwise.
"""
import struct
import sys
import zlib

from PIL import Image


def fail(msg):
    print("png_decode: %s: %s" % (sys.argv[1], msg), file=sys.stderr)
    sys.exit(1)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("bad signature")
    pos, types, idat = 8, [], b""
    while pos < len(data):
        if pos + 12 > len(data):
            fail("truncated chunk at %d" % pos)
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        ctype, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            fail("CRC mismatch in chunk %r" % ctype)
        types.append(ctype)
        if ctype == b"IDAT":
            idat += body
        pos += 12 + n
    if types[0] != b"IHDR" or types[-1] != b"IEND":
        fail("chunk order %r" % types)
    try:
        zlib.decompress(idat)  # verifies the Adler-32 of the stream
    except zlib.error as e:
        fail("zlib stream: %s" % e)
    im = Image.open(src)
    im.load()
    chans = {"L": 1, "RGB": 3, "RGBA": 4}.get(im.mode)
    if chans is None:
        fail("unexpected mode %s" % im.mode)
    with open(dst, "wb") as f:
        f.write(b"%d %d %d\n" % (im.width, im.height, chans))
        f.write(im.tobytes())


main()
