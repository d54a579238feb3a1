#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Check a screenshot of a tulip-trace page: decode the PNG (8-bit RGB/RGBA,
# non-interlaced, as Chromium writes it) with zlib only, and require that it
# is not blank and that the timeline has the slice colours: running-blue in
# some rows and a wait colour somewhere.
import struct
import sys
import zlib


def decode(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        sys.exit('not a PNG')
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                sys.exit('unsupported PNG layout')
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else
                                      b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def near(px, rgb):
    return all(abs(px[k] - rgb[k]) < 40 for k in range(3))


w, h, bpp, rows = decode(sys.argv[1])
colours = set()
blue_rows = 0
wait = 0
for y in range(h):
    r = rows[y]
    blue = 0
    for x in range(0, w * bpp, bpp * 2):
        px = r[x:x + 3]
        colours.add(px)
        if near(px, (0x3b, 0x7d, 0xd8)):
            blue += 1
        elif near(px, (0xf0, 0xa0, 0x30)) or near(px, (0x3b, 0xb5, 0x6a)):
            wait += 1
    blue_rows += blue > 0
print(f'{w}x{h}: {len(colours)} colours, {blue_rows} pixel rows with '
      f'running slices, {wait} wait pixels')
if len(colours) < 4:
    sys.exit('blank screenshot')
if blue_rows < 5 or wait == 0:
    sys.exit('no slices drawn')
