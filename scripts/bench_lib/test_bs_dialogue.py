"""Unit test for figure (h)'s -bs dialogue file.

Run: python3 -m unittest discover -s scripts/bench_lib -t scripts
"""

import os
import tempfile
import unittest

from bench_lib import bs_dialogue, messages


class DialogueTest(unittest.TestCase):
    def test_dialogue_is_crlf_dot_stuffed_and_complete(self):
        with tempfile.TemporaryDirectory() as d:
            msg = os.path.join(d, "m.eml")
            with open(msg, "wb") as f:
                f.write(b"Subject: s\n\n.leading dot\nlast\n")
            out = os.path.join(d, "dialogue")
            size = bs_dialogue.write_dialogue(out, msg, 3)
            with open(out, "rb") as f:
                text = f.read()
        self.assertEqual(size, len(text))
        one = (b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: s\r\n\r\n..leading dot\r\n"
               b"last\r\n.\r\n" % (messages.FROM.encode(), messages.RCPT.encode()))
        self.assertEqual(text, b"EHLO bench.example\r\n" + one * 3 + b"QUIT\r\n")


if __name__ == "__main__":
    unittest.main()
