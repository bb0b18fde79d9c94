#!/usr/bin/python3
"""Build the training / held-out text of the default model from the King James Bible.

Source: Debian package `bible-kjv-text` (/usr/lib/bible.data, public domain KJV text in the
Bible Retrieval System's compressed format). Its reader `bible` (package `bible-kjv`, which
`apt-get install bible-kjv-text` installs as a Recommends) dumps the whole text, one verse per
line, as "Ge1:1 In the beginning God created ...". We

  * strip the verse reference (the "Ge1:1 " prefix): it is an artifact of the dump, not of the
    text; keeping it would spend ~10% of all tokens on book abbreviations and numbers that a
    small model can only learn to count badly;
  * keep one verse per line (so the model learns verse-sized units and the newline after them)
    and put a blank line between chapters (the only trace of the book/chapter structure);
  * hold out every 50th chapter (chapters 50, 100, ..., counted over the whole Bible, 23 of
    1189 chapters, ~2% of the text) as the held-out set: a sample spread over all books and
    styles instead of one atypical book at the end.

Usage: prepare_data.py [--work DIR] [--heldout models/default/heldout.txt]
Writes DIR/train.txt and the held-out file. Deterministic.
"""

import argparse
import os
import re
import subprocess
import sys

REF = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")
HOLDOUT_EVERY = 50


def read_verses(dump=None):
    if dump is None:
        try:
            out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                                 capture_output=True).stdout
        except FileNotFoundError:
            sys.exit("error: the `bible` program is missing: apt-get install -y bible-kjv-text "
                     "bible-kjv")
        text = out.decode("ascii")
    else:
        with open(dump, encoding="ascii") as f:
            text = f.read()
    verses = []
    for n, line in enumerate(text.splitlines(), 1):
        m = REF.match(line)
        if not m:
            sys.exit("error: unexpected line %d: %r" % (n, line[:80]))
        book, chap, verse, body = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        body = " ".join(body.split())  # normalise internal whitespace
        verses.append((book, chap, verse, body))
    return verses


def chapters(verses):
    out, key = [], None
    for book, chap, _, body in verses:
        if (book, chap) != key:
            out.append([])
            key = (book, chap)
        out[-1].append(body)
    return out


def render(chaps):
    # one verse per line, a blank line between chapters, text ends with a newline
    return "\n".join("\n".join(c) + "\n" for c in chaps)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/dlvk_train")
    ap.add_argument("--heldout", default=os.path.join(root, "models/default/heldout.txt"))
    ap.add_argument("--dump", help="use this `bible -f` dump instead of running bible")
    a = ap.parse_args()
    verses = read_verses(a.dump)
    chaps = chapters(verses)
    train = [c for i, c in enumerate(chaps) if (i + 1) % HOLDOUT_EVERY != 0]
    held = [c for i, c in enumerate(chaps) if (i + 1) % HOLDOUT_EVERY == 0]
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(os.path.dirname(a.heldout), exist_ok=True)
    tr, he = render(train), render(held)
    with open(os.path.join(a.work, "train.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write(tr)
    with open(a.heldout, "w", encoding="ascii", newline="\n") as f:
        f.write(he)
    print("verses %d, chapters %d: train %d chapters / %d bytes, held-out %d chapters / %d bytes "
          "(%.2f%%)" % (len(verses), len(chaps), len(train), len(tr), len(held), len(he),
                        100.0 * len(he) / (len(tr) + len(he))))


if __name__ == "__main__":
    main()
