#!/usr/bin/env python3
"""Generates the benchmark dataset, deterministically from a seed.

    gen_dataset.py DIR SIZE_MB            # the first state
    gen_dataset.py DIR SIZE_MB --change   # change about 5% of it

A third incompressible (random bytes), a third compressible (text-like
lines from a small vocabulary), a third duplicated (copies of earlier
files under other names), in files of 4 KiB to 64 MiB across nested
directories, like a home directory or an application's data.
"""
import os
import random
import sys

VOCABULARY = [w.encode() for w in (
    "order invoice customer payment amount currency total status shipped "
    "pending refund account ledger entry debit credit balance date time "
    "eur usd gbp settlement batch journal reference note address city"
).split()]


def text_block(rng, size):
    out = bytearray()
    while len(out) < size:
        line = b" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(4, 14)))
        out += line + b" %d\n" % rng.randint(0, 10**9)
    return bytes(out[:size])


def sizes(rng, total):
    left = total
    while left > 0:
        # Mostly small files, some large ones: 4 KiB .. 64 MiB, log-uniform.
        size = min(left, int(2 ** rng.uniform(12, 26)))
        left -= size
        yield size


def generate(root, total_mb):
    rng = random.Random(20261124)
    total = total_mb * 1024 * 1024
    third = total // 3
    written = []
    for kind in ("random", "text"):
        for i, size in enumerate(sizes(rng, third)):
            path = os.path.join(root, kind, "d%02d" % (i % 17), "d%d" % (i % 5), "f%05d.%s" % (i, "bin" if kind == "random" else "txt"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                if kind == "random":
                    f.write(os.urandom(size))
                else:
                    f.write(text_block(rng, size))
            written.append(path)
    copied = 0
    i = 0
    while copied < third:
        source = rng.choice(written)
        path = os.path.join(root, "copies", "c%02d" % (i % 13), "copy%05d" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(source, "rb") as src, open(path, "wb") as dst:
            data = src.read()
            dst.write(data)
        copied += len(data)
        i += 1


def change(root):
    """Rewrites ~2% of the files, appends to ~2%, adds ~1% new data."""
    rng = random.Random(5)
    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
    )
    total = sum(os.path.getsize(f) for f in files)
    budget = total // 20
    spent = 0
    for path in rng.sample(files, len(files)):
        if spent >= budget:
            break
        size = os.path.getsize(path)
        action = rng.random()
        if action < 0.4 and size <= budget - spent:
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            spent += size
        elif action < 0.8:
            add = min(rng.randint(1024, 1 << 20), budget - spent)
            with open(path, "ab") as f:
                f.write(text_block(rng, add))
            spent += add
    new = os.path.join(root, "new")
    os.makedirs(new, exist_ok=True)
    with open(os.path.join(new, "added.bin"), "wb") as f:
        f.write(os.urandom(max(total // 100, 1)))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root, size_mb = sys.argv[1], int(sys.argv[2])
    if "--change" in sys.argv:
        change(root)
    else:
        if os.path.exists(root) and os.listdir(root):
            sys.exit(f"{root} is not empty")
        os.makedirs(root, exist_ok=True)
        generate(root, size_mb)
