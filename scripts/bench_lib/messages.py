"""Test messages, written to files (never held in memory whole, so 500 MB is fine)."""

import base64
import random

FROM = "bench@example.com"
RCPT = "rcpt@example.com"

HEADERS = (
    "From: Bench <{frm}>\n"
    "To: <{rcpt}>\n"
    "Subject: {subject}\n"
    "Date: Sat, 28 Nov 2026 12:00:00 +0000\n"
    "Message-ID: <{subject}.bench@example.com>\n"
    "MIME-Version: 1.0\n"
)

# 57 raw bytes encode to one 76-character base64 line, the MIME maximum.
RAW_LINE = 57
BLOCK_LINES = 16384


def _head(subject, extra):
    return (HEADERS.format(frm=FROM, rcpt=RCPT, subject=subject) + extra + "\n").encode()


def make_text(path, size):
    """A plain-text message of exactly `size` bytes (LF line endings, 72-char lines)."""
    head = _head("small", "Content-Type: text/plain; charset=us-ascii\n")
    body_len = max(0, size - len(head))
    line = b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmno\n"
    body = (line * (body_len // len(line) + 1))[:body_len]
    if body_len:
        body = body[:-1] + b"\n"
    with open(path, "wb") as f:
        f.write(head + body)
    return len(head) + len(body)


def make_base64(path, size, seed=1):
    """A message of about `size` bytes (within one 77-byte line) with a base64 body.

    Streams: a block of 16384 random lines (about 1.2 MiB) is encoded once and written
    repeatedly, then topped up with single lines, so memory use does not depend on `size`.
    """
    head = _head("big", "Content-Type: application/octet-stream\n"
                        "Content-Transfer-Encoding: base64\n")
    rng = random.Random(seed)
    block = base64.encodebytes(rng.randbytes(RAW_LINE * BLOCK_LINES))
    line_len = len(block) // BLOCK_LINES
    written = len(head)
    with open(path, "wb") as f:
        f.write(head)
        while written + len(block) <= size:
            f.write(block)
            written += len(block)
        while written + line_len <= size:
            f.write(block[:line_len])
            written += line_len
    return written
