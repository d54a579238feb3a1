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


HTTP_SEEDS = [
    b'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    b'GET /stream?bytes=1000&chunked=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n'
    b'User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n',
    b'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n'
    b'Expect: 100-continue\r\n\r\nhello',
    b'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'5\r\nhello\r\n1a;ext=1\r\n0\r\n\r\n',
    b'GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n\r\n'
    b'GET /delay?ms=10 HTTP/1.1\r\nConnection: close\r\n\r\n',
    b'OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\t v \t\r\n\r\n',
    b'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
    b'GET / HTTP/2.0\r\n\r\n',
    b'GET /\r\n\r\n',
    b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\nServer: tulip-http\r\n\r\n'
    b'hello, world\n',
    b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404\r\n'
    b'Transfer-Encoding: chunked\r\n\r\n',
    b'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n',
    b'ffffffffff\r\n10000000000\r\n00012\r\n123456789012345678\r\n',
]


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
    # fuzz_http: a limit byte (the head limit is 16 + 32 * it), then bytes
    # parsed as a request head, a response head and lines
    for k, msg in enumerate(HTTP_SEEDS):
        write('fuzz_http', 'msg-%02d' % k, bytes([255]) + msg)
    write('fuzz_http', 'small-limit', bytes([2]) + HTTP_SEEDS[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
