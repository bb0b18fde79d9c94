#!/usr/bin/python3
"""Loss curve PNG from train_log.csv, with no plotting library (Debian's python here has no
matplotlib): a tiny RGB raster, Bresenham lines, a 5x7 bitmap font, written as PNG with
zlib + struct.

Usage: plot_loss.py [--log tools/train/train_log.csv] [--out models/default/loss.png]
"""

import argparse
import csv
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# 5x7 font: each glyph is 7 rows of 5 bits (MSB = leftmost column)
FONT = {
    "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
    ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], "-": [0, 0, 0, 0x1F, 0, 0, 0], " ": [0] * 7,
    "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
    ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
    "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], "/": [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
    "a": [0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F], "b": [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
    "c": [0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E], "d": [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
    "e": [0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E], "f": [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
    "g": [0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E], "h": [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
    "i": [0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E], "k": [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
    "l": [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "m": [0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11],
    "n": [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11], "o": [0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E],
    "p": [0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10], "r": [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
    "s": [0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E], "t": [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
    "u": [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D], "v": [0, 0, 0x11, 0x11, 0x11, 0x0A, 0x04],
    "w": [0, 0, 0x11, 0x11, 0x15, 0x15, 0x0A], "x": [0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11],
    "y": [0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E], "k_": [0] * 7,
    "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
    "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
    "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
    "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
}


class Canvas:
    def __init__(self, w, h, bg=(255, 255, 255)):
        self.w, self.h = w, h
        self.px = bytearray(bytes(bg) * (w * h))

    def set(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = 3 * (y * self.w + x)
            self.px[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c, width=1):
        x0, y0, x1, y1 = int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        r = width // 2
        while True:
            for ox in range(-r, width - r):
                for oy in range(-r, width - r):
                    self.set(x0 + ox, y0 + oy, c)
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def rect(self, x0, y0, x1, y1, c):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                self.set(x, y, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s:
            g = FONT.get(ch, FONT[" "])
            for row, bits in enumerate(g):
                for col in range(5):
                    if bits & (0x10 >> col):
                        self.rect(x + col * scale, y + row * scale,
                                  x + col * scale + scale - 1, y + row * scale + scale - 1, c)
            x += 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[3 * y * self.w:3 * (y + 1) * self.w])
                       for y in range(self.h))

        def chunk(t, d):
            return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
        data = (b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
        with open(path, "wb") as f:
            f.write(data)


def nice_ticks(lo, hi, n=6):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + 1e-9:
        out.append(t)
        t += step
    return out


def fmt(v):
    return ("%d" % v) if abs(v - round(v)) < 1e-9 else ("%.1f" % v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=os.path.join(HERE, "train_log.csv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models/default/loss.png"))
    a = ap.parse_args()
    steps, train, hsteps, held = [], [], [], []
    with open(a.log) as f:
        for r in csv.DictReader(f):
            s = int(r["step"])
            if r["train_loss"]:
                steps.append(s)
                train.append(float(r["train_loss"]))
            if r["heldout_loss"]:
                hsteps.append(s)
                held.append(float(r["heldout_loss"]))
    sm = []                                  # trailing mean over the last 25 steps
    for i in range(len(train)):
        win = train[max(0, i - 24):i + 1]
        sm.append(sum(win) / len(win))
    W, H = 900, 560
    L, R, T, B = 90, 870, 60, 480
    cv = Canvas(W, H)
    xmax = max(steps + hsteps)
    ymin = math.floor(min(train + held) * 2) / 2
    ymax = min(math.ceil(max(train) * 2) / 2, ymin + 6)

    def X(s):
        return L + (R - L) * s / xmax

    def Y(v):
        return B - (B - T) * (min(max(v, ymin), ymax) - ymin) / (ymax - ymin)
    for t in nice_ticks(ymin, ymax):
        cv.line(L, Y(t), R, Y(t), (225, 225, 225))
        lab = fmt(t)
        cv.text(L - 10 - 12 * len(lab), int(Y(t)) - 7, lab)
    for t in nice_ticks(0, xmax):
        cv.line(X(t), T, X(t), B, (235, 235, 235))
        lab = fmt(t)
        cv.text(int(X(t)) - 6 * len(lab), B + 10, lab)
    cv.line(L, B, R, B, (0, 0, 0))
    cv.line(L, T, L, B, (0, 0, 0))
    for i in range(1, len(steps)):
        cv.line(X(steps[i - 1]), Y(train[i - 1]), X(steps[i]), Y(train[i]), (170, 200, 240))
    for i in range(1, len(steps)):
        cv.line(X(steps[i - 1]), Y(sm[i - 1]), X(steps[i]), Y(sm[i]), (20, 70, 200), width=2)
    for i in range(1, len(hsteps)):
        cv.line(X(hsteps[i - 1]), Y(held[i - 1]), X(hsteps[i]), Y(held[i]), (220, 60, 30), width=2)
    for s, v in zip(hsteps, held):
        cv.rect(int(X(s)) - 3, int(Y(v)) - 3, int(X(s)) + 3, int(Y(v)) + 3, (220, 60, 30))
    cv.text(L, 20, "dlvk default model: loss (nats/token) vs step")
    cv.text((L + R) // 2 - 24, B + 40, "step")
    lx, ly = R - 330, T + 15
    cv.line(lx, ly + 7, lx + 30, ly + 7, (170, 200, 240))
    cv.text(lx + 40, ly, "train (batch)")
    cv.line(lx, ly + 32, lx + 30, ly + 32, (20, 70, 200), width=2)
    cv.text(lx + 40, ly + 25, "train (mean of 25)")
    cv.line(lx, ly + 57, lx + 30, ly + 57, (220, 60, 30), width=2)
    cv.text(lx + 40, ly + 50, "held-out (sample)")
    cv.png(a.out)
    print("wrote %s (%d train points, %d held-out points)" % (a.out, len(steps), len(hsteps)))


if __name__ == "__main__":
    main()
