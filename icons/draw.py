#!/usr/bin/env python3
"""Draws Builderbar's icons with the standard library only (no Pillow needed).

Tray icons (`tray-<state>.png` 22 px, `tray-<state>@2x.png` 44 px) are black on transparent:
macOS renders them as template images (tinted for light/dark menu bars), and black on a
transparent background stays readable on Linux panels. The glyph is a builder "box" (the VM)
whose fill tells the state:

  stopped   outline only
  starting  outline, lower half filled (filling up)
  running   filled
  building  filled, with three cut-out bars (work going on)
  failed    outline with an exclamation mark

App icons (32x32.png, 128x128.png, 128x128@2x.png, icon.png 512 px) draw the same
filled box in white on a rounded blue square.

Run: python3 icons/draw.py   (writes next to this script; the PNGs are committed)
"""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SS = 4  # supersampling per axis


def png(path, w, h, rgba_rows):
    raw = b"".join(b"\x00" + bytes(row) for row in rgba_rows)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def rounded_rect(x, y, x0, y0, x1, y1, r):
    """True when (x, y) lies inside the rounded rectangle."""
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def glyph(state):
    """A coverage function over the unit square (0..1, y down) for one tray state."""
    # Outer box and the inner hole of its outline, in unit coordinates.
    o = (0.14, 0.14, 0.86, 0.86, 0.16)
    t = 0.11  # stroke width
    i = (o[0] + t, o[1] + t, o[2] - t, o[3] - t, max(o[4] - t, 0.02))

    def outer(x, y):
        return rounded_rect(x, y, *o)

    def inner(x, y):
        return rounded_rect(x, y, *i)

    def outline(x, y):
        return outer(x, y) and not inner(x, y)

    if state == "stopped":
        return outline
    if state == "starting":
        return lambda x, y: outline(x, y) or (inner(x, y) and y >= 0.52)
    if state == "running":
        return outer
    if state == "building":

        def building(x, y):
            if not outer(x, y):
                return False
            for k in range(3):
                by = 0.33 + k * 0.14
                if by <= y <= by + 0.06 and 0.30 <= x <= 0.70:
                    return False
            return True

        return building
    if state == "failed":

        def failed(x, y):
            if outline(x, y):
                return True
            bar = 0.455 <= x <= 0.545 and 0.30 <= y <= 0.58
            dot = (x - 0.5) ** 2 + (y - 0.69) ** 2 <= 0.055**2
            return bar or dot

        return failed
    raise ValueError(state)


def render(cover, size, fg, bg=None):
    """RGBA rows: fg where covered (antialiased), bg (or transparent) elsewhere."""
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            hits = 0
            for sy in range(SS):
                for sx in range(SS):
                    x = (px + (sx + 0.5) / SS) / size
                    y = (py + (sy + 0.5) / SS) / size
                    hits += cover(x, y)
            a = hits / (SS * SS)
            if bg is None:
                row += [fg[0], fg[1], fg[2], round(255 * a)]
            else:
                b, bgc = bg
                inside = b(px, py, size)
                if not inside:
                    row += [0, 0, 0, 0]
                    continue
                row += [round(fg[i] * a + bgc[i] * (1 - a)) for i in range(3)] + [255]
        rows.append(row)
    return rows


def app_icon(size):
    def background(px, py, n):
        x, y = (px + 0.5) / n, (py + 0.5) / n
        return rounded_rect(x, y, 0.04, 0.04, 0.96, 0.96, 0.2)

    box = glyph("building")

    def scaled(x, y):
        # The glyph occupies the middle 70% of the icon.
        return box((x - 0.15) / 0.7, (y - 0.15) / 0.7)

    return render(scaled, size, (255, 255, 255), (background, (37, 99, 235)))


def main():
    for state in ["stopped", "starting", "running", "building", "failed"]:
        for size, suffix in [(22, ""), (44, "@2x")]:
            png(os.path.join(HERE, f"tray-{state}{suffix}.png"), size, size, render(glyph(state), size, (0, 0, 0)))
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        png(os.path.join(HERE, name), size, size, app_icon(size))


if __name__ == "__main__":
    main()
