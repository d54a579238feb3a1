#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# make_seeds.py: writes the hand-made starting seeds of the fuzz corpora
# (fuzz/corpus/<harness>/seed-*), programs in each harness's little op
# language that reach every operation; a short libFuzzer run with -merge=1
# then grows the corpus with what adds coverage. Deterministic (fixed seed).
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(20261121)

# fuzz_ops: opcode (low 4 bits; bit 4: eager spawn / queue shutdown, bit 5:
# channel close) followed by its argument bytes.
OPS_ARGS = {0: 0, 1: 1, 2: 1, 3: 1, 4: 0, 5: 3, 6: 2, 7: 2, 8: 2, 9: 2,
            10: 2, 11: 3, 12: 4, 13: 2, 14: 2, 15: 1}


def ops_prog(n, weights):
    out = [0, 0, 0]  # three workers besides the root
    for _ in range(n):
        op = rnd.choices(range(16), weights)[0]
        hi = 0
        if op == 0 and rnd.random() < 0.3:
            hi = 16
        if op == 15:
            hi = rnd.choice([0, 16, 32, 48])
        out.append(op | hi)
        for _ in range(OPS_ARGS[op]):
            out.append(rnd.randrange(256))
    return bytes(out)


def gen_prog(n):
    return bytes(rnd.randrange(256) for _ in range(n))


def write(harness, name, data):
    d = os.path.join(HERE, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def main():
    flat = [1] * 16
    for op in range(16):
        for k in range(2):
            w = list(flat)
            w[op] = 12
            w[15] = 0.2
            write('fuzz_ops', 'op%02d-%d' % (op, k), ops_prog(12 + 20 * k, w))
    # producers and consumers, with cancels and deadlines among them
    w = [3, 1, 2, 1, 1, 1, 1, 4, 4, 4, 4, 0.5, 0.5, 0.5, 1, 0.1]
    for k in range(8):
        write('fuzz_ops', 'mix-%d' % k, ops_prog(40 + 30 * k, w))
    for k in range(24):
        write('fuzz_gen', 'rand-%02d' % k, gen_prog(8 + 8 * k))
    # fuzz_stream: limit byte, 16-bit length, text of lines and separators,
    # then the chunk sizes of the writer and the ops of the reader
    words = [b'hello\n', b'ab', b'x', b'\r\n', b'xyz', b'z' * 33, b'\n']
    for k in range(30):
        n = rnd.choice([16, 64, 200, 600, 1500])
        txt = b''.join(rnd.choice(words) for _ in range(n // 4))
        ctl = bytes(rnd.randrange(256) for _ in range(n // 2))
        head = bytes([rnd.randrange(256), len(txt) >> 8, len(txt) & 255])
        write('fuzz_stream', 'text-%02d' % k, head + txt + ctl)
    return 0


if __name__ == '__main__':
    sys.exit(main())
