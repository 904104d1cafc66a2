"""Unit tests for the benchmark's helpers. Nothing here depends on timing.

Run: python3 -m unittest discover -s scripts/bench_lib -t scripts
"""

import base64
import os
import shutil
import socket
import subprocess
import ssl
import tempfile
import threading
import unittest

from bench_lib import gpg, main, messages, pki, proxy, queue, report, runner, sink


def read_reply(sock, buf):
    """Read one complete (possibly multi-line) SMTP reply; return (code, rest_of_buffer)."""
    while True:
        lines = buf.split(b"\r\n")
        for i, line in enumerate(lines[:-1]):
            if len(line) >= 4 and line[3:4] == b" ":
                return int(line[:3]), b"\r\n".join(lines[i + 1:])
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk


class Client:
    """A scripted client that waits for every reply unless told to pipeline."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def expect(self, code):
        got, self.buf = read_reply(self.sock, self.buf)
        assert got == code, (got, code)

    def cmd(self, text, code):
        self.sock.sendall(text)
        self.expect(code)


def start_session(listener="plain", ctx=None):
    a, b = socket.socketpair()
    s = sink.Session(b, listener, ctx)
    result = {}

    def run():
        try:
            s.run()
        except Exception as e:  # surfaced by the test through result
            result["error"] = e
        finally:
            b.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return a, s, t, result


class SinkRoundTrips(unittest.TestCase):
    def finish(self, c, t, result, a):
        c.cmd(b"QUIT\r\n", 221)
        t.join(10)
        a.close()
        self.assertNotIn("error", result)

    def test_waiting_client_is_counted_once_per_reply_it_waits_for(self):
        a, s, t, result = start_session()
        c = Client(a)
        c.expect(220)
        c.cmd(b"EHLO x\r\n", 250)
        c.cmd(b"MAIL FROM:<a@x>\r\n", 250)
        c.cmd(b"RCPT TO:<b@x>\r\n", 250)
        c.cmd(b"DATA\r\n", 354)
        c.cmd(b"hello\r\n.\r\n", 250)
        self.finish(c, t, result, a)
        self.assertEqual(s.turns, ["greeting", "EHLO", "MAIL", "RCPT", "DATA", "end-of-data"])
        self.assertEqual(s.round_trips, 6)
        self.assertEqual(s.messages, 1)

    def test_pipelined_batch_is_one_round_trip(self):
        a, s, t, result = start_session()
        c = Client(a)
        c.expect(220)
        c.cmd(b"EHLO x\r\n", 250)
        a.sendall(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n")
        for code in (250, 250, 250, 354):
            c.expect(code)
        c.cmd(b"x\r\n.\r\n", 250)
        self.finish(c, t, result, a)
        self.assertEqual(s.round_trips, 4)
        self.assertEqual(s.turns, ["greeting", "EHLO", "DATA", "end-of-data"])

    def test_ehlo_advertises_pipelining_and_no_starttls_on_plain(self):
        a, s, t, result = start_session()
        c = Client(a)
        c.expect(220)
        a.sendall(b"EHLO x\r\n")
        c.expect(250)
        self.finish(c, t, result, a)
        caps = s.ehlo_lines()
        self.assertIn("PIPELINING", caps)
        self.assertNotIn("STARTTLS", caps)


class SinkData(unittest.TestCase):
    def send_message(self, pieces):
        a, s, t, result = start_session()
        c = Client(a)
        c.expect(220)
        c.cmd(b"EHLO x\r\n", 250)
        c.cmd(b"MAIL FROM:<a@x>\r\n", 250)
        c.cmd(b"RCPT TO:<b@x>\r\n", 250)
        c.cmd(b"DATA\r\n", 354)
        for p in pieces[:-1]:
            a.sendall(p)
        c.cmd(pieces[-1], 250)
        c.cmd(b"QUIT\r\n", 221)
        t.join(10)
        a.close()
        self.assertNotIn("error", result)
        return s

    def test_terminator_split_across_writes(self):
        s = self.send_message([b"line one\r", b"\n.", b"\r\n"])
        self.assertEqual(s.messages, 1)
        self.assertEqual(s.bytes, len(b"line one\r\n.\r\n"))

    def test_short_chunk_after_long_one_sees_no_stale_bytes(self):
        # Scripted reads into the reused buffer: when the 1-byte "." arrives after "c\r\n",
        # the buffer still holds "\r\n" right after it (from "c\r\n"); together with the
        # previous tail that would look like CRLF.CRLF if stale bytes were searched.
        class Scripted:
            tls = False

            def __init__(self, chunks):
                self.buf = bytearray(64)
                self.chunks = list(chunks)

            def waiting(self):
                return True

            def recv_into_buf(self):
                c = self.chunks.pop(0)
                self.buf[: len(c)] = c
                return len(c)

        s = sink.Session(None, "plain", None)
        s.t = Scripted([b"a\r\nbbbb", b"c\r\n", b".", b"y\r\n", b".\r\n"])
        n = s.read_data()
        self.assertEqual(n, len(b"a\r\nbbbbc\r\n.y\r\n.\r\n"))
        self.assertEqual(s.reads, 5)

    def test_dot_stuffed_line_does_not_end_data(self):
        s = self.send_message([b"a\r\n..\r\nb\r\n.\r\n"])
        self.assertEqual(s.messages, 1)
        self.assertEqual(s.bytes, len(b"a\r\n..\r\nb\r\n.\r\n"))

    def test_empty_body(self):
        s = self.send_message([b".\r\n"])
        self.assertEqual(s.messages, 1)
        self.assertEqual(s.bytes, 3)


@unittest.skipUnless(shutil.which("openssl"), "needs openssl")
class SinkTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="bench-test-")
        cls.pki = pki.make_pki(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_starttls_auth_session_round_trips(self):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(self.pki["leaf"], self.pki["key"])
        sctx.num_tickets = 0
        a, s, t, result = start_session("tls", sctx)
        c = Client(a)
        c.expect(220)
        c.cmd(b"EHLO x\r\n", 250)
        c.cmd(b"STARTTLS\r\n", 220)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(self.pki["ca"])
        tls = cctx.wrap_socket(a, server_hostname="127.0.0.1")
        c = Client(tls)
        c.cmd(b"EHLO x\r\n", 250)
        c.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0u\0p") + b"\r\n", 235)
        tls.sendall(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
        for code in (250, 250, 354):
            c.expect(code)
        c.cmd(b"body\r\n.\r\n", 250)
        c.cmd(b"QUIT\r\n", 221)
        t.join(10)
        tls.close()
        self.assertNotIn("error", result)
        self.assertTrue(s.t.tls)
        self.assertTrue(s.auth)
        self.assertEqual(s.turns, ["greeting", "EHLO", "STARTTLS", "handshake", "EHLO", "AUTH",
                                   "DATA", "end-of-data"])

    def test_leaf_is_signed_by_ca_for_127_0_0_1(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki["ca"])
        self.assertEqual(len(ctx.get_ca_certs()), 1)
        with open(self.pki["leaf"]) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())


class Messages(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bench-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_text_message_has_exact_size(self):
        p = os.path.join(self.dir, "m")
        self.assertEqual(messages.make_text(p, 2000), 2000)
        with open(p, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), 2000)
        self.assertTrue(data.endswith(b"\n"))
        self.assertIn(b"\n\n", data)

    def test_base64_message_size_and_body(self):
        p = os.path.join(self.dir, "b")
        size = 3 * 1000 * 1000
        n = messages.make_base64(p, size)
        self.assertEqual(os.path.getsize(p), n)
        self.assertLessEqual(n, size)
        self.assertGreater(n, size - 78)
        with open(p, "rb") as f:
            head, body = f.read().split(b"\n\n", 1)
        self.assertIn(b"Content-Transfer-Encoding: base64", head)
        lines = body.split(b"\n")
        self.assertEqual(lines[-1], b"")
        self.assertTrue(all(len(l) == 76 for l in lines[:-1]))
        base64.b64decode(b"".join(lines), validate=True)


class Report(unittest.TestCase):
    def fig(self, a, b):
        f = report.Figure("k", "label", "s")
        f.values["postie"] = a
        f.values["msmtp"] = b
        return f

    def test_summary_is_min_median_max(self):
        self.assertEqual(report.summary([3, 1, 2]), (1, 2, 3))
        self.assertIsNone(report.summary([]))

    def test_ratio_is_of_medians(self):
        self.assertAlmostEqual(report.ratio(self.fig([1, 2, 9], [4, 4, 4])), 0.5)
        self.assertIsNone(report.ratio(self.fig([1], [])))
        self.assertIsNone(report.ratio(self.fig([1], [0])))

    def test_na_rows(self):
        f = report.Figure("e", "(e) queue", "s", na="queue not built yet")
        row = report.rows([f])[0]
        self.assertEqual(row[2], "n/a (queue not built yet)")
        g = self.fig([], [1.0])
        g.na_prog["postie"] = "queue not built yet"
        self.assertEqual(report.rows([g])[0][2], "n/a (queue not built yet)")

    def test_text_table_is_aligned(self):
        body = report.rows([self.fig([1.0, 2.0], [2.0, 4.0]), self.fig([10.5], [0.25])])
        lines = report.text_table(report.HEAD, body).splitlines()
        self.assertEqual(len(lines), 4)
        self.assertEqual(len(set(len(l) for l in lines)), 1)

    def test_markdown_table_shape_and_escaping(self):
        md = report.md_table(["a|b", "c"], [["x|y", "1"]]).splitlines()
        self.assertEqual(md[0], "| a\\|b | c |")
        self.assertEqual(md[1], "| --- | ---: |")
        self.assertEqual(md[2], "| x\\|y | 1 |")

    def test_formats(self):
        self.assertEqual(report.fmt(9, "n"), "9")
        self.assertEqual(report.fmt(21.54, "MiB"), "21.5")
        self.assertEqual(report.fmt(0.12345, "s"), "0.123")
        self.assertEqual(report.fmt(123.45, "s"), "123.5")

    def test_machine_info_has_the_fields_the_header_prints(self):
        info = report.machine_info()
        for k in ("date", "nproc", "cpu", "free", "kernel", "python", "loadavg"):
            self.assertIn(k, info)


class Runner(unittest.TestCase):
    def test_run_client_reports_rusage(self):
        with tempfile.NamedTemporaryFile() as err:
            s = runner.run_client(["/bin/true"], os.devnull, {}, err.name)
        self.assertEqual(s.runs, 1)
        self.assertGreater(s.maxrss_kb, 0)

    def test_run_client_fails_on_nonzero_exit(self):
        with tempfile.NamedTemporaryFile() as err:
            with self.assertRaises(runner.ClientFailed):
                runner.run_client(["/bin/false"], os.devnull, {}, err.name)

    def test_batch_sums_runs(self):
        with tempfile.NamedTemporaryFile() as err:
            s = runner.run_batch(["/bin/true"], os.devnull, {}, err.name, 3)
        self.assertEqual(s.runs, 3)


class Queue(unittest.TestCase):
    def test_msmtpq_queue_layout(self):
        d = tempfile.mkdtemp(prefix="bench-test-")
        try:
            msg = os.path.join(d, "m")
            with open(msg, "w") as f:
                f.write("Subject: x\n\nbody\n")
            q = queue.MsmtpqQueue("/usr/bin/msmtp")
            qdir = os.path.join(d, "q")
            q.populate(qdir, 3, msg, ["-C", "/rc", "-a", "tls", "r@x"])
            names = sorted(os.listdir(qdir))
            self.assertEqual(len(names), 6)
            self.assertEqual(q.remaining(qdir), 3)
            with open(os.path.join(qdir, names[1])) as f:
                self.assertEqual(f.read(), "-C /rc -a tls r@x\n")
            argv, env = q.flush_argv(qdir, "/log")
            self.assertEqual(argv[-2:], ["--q-mgmt", "-r"])
            self.assertEqual(env["EMAIL_CONN_TEST"], "x")
            self.assertEqual(env["MSMTPQ_Q"], qdir)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_postie_queue_flushes_with_dash_q_in_its_own_state_dir(self):
        q = queue.PostieQueue("/x/postie")
        self.assertFalse(q.available())  # no such binary
        argv, env = q.flush_argv("/q", "/log")
        self.assertEqual(argv, ["/x/postie", "-q"])
        self.assertEqual(env["XDG_STATE_HOME"], "/q")
        d = tempfile.mkdtemp()
        try:
            self.assertEqual(q.remaining(d), 0)
            os.makedirs(os.path.join(d, "postie", "queue"))
            for name in ("a.toml", "a.msg", "b.toml"):
                open(os.path.join(d, "postie", "queue", name), "w").close()
            self.assertEqual(q.remaining(d), 2)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Gpg(unittest.TestCase):
    """Figure (f): the two msmtprc files and the throw-away gpg key."""

    def test_only_postie_gets_password_cache(self):
        cmd = "gpg --batch -q -d /t/password.gpg"
        p = gpg.rc_text("a@b", 2525, "/t/ca.pem", cmd, cache=True)
        m = gpg.rc_text("a@b", 2525, "/t/ca.pem", cmd, cache=False)
        for text in (p, m):
            lines = text.splitlines()
            for want in ("account gpg", "port 2525", "tls_starttls on", "tls_trust_file /t/ca.pem",
                         "auth plain", "passwordeval " + cmd):
                self.assertIn(want, lines)
            self.assertNotIn("password bench-password", text)
        self.assertIn("password_cache 1h", p.splitlines())
        # msmtp stops at a command it does not know.
        self.assertFalse([l for l in m.splitlines() if l.startswith("password_cache")])

    def test_env_points_at_the_private_home_and_no_terminal(self):
        k = gpg.Keyring("/t/gpg")
        env = k.env({"PATH": "/bin", "GPG_TTY": "/dev/pts/1", "DISPLAY": ":0"})
        self.assertEqual(env, {"PATH": "/bin", "GNUPGHOME": "/t/gpg/gnupg"})
        self.assertEqual(k.command(), "gpg --batch -q -d /t/gpg/password.gpg")

    def test_key_without_passphrase_decrypts_with_nobody_at_a_terminal(self):
        if gpg.missing_tools():
            self.skipTest("gpg not installed")
        d = tempfile.mkdtemp(prefix="bench-test-")
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": d}
        k = gpg.Keyring(os.path.join(d, "gpg"))
        try:
            k.setup("pw-1", base)  # raises unless `gpg -d` printed the password
            self.assertEqual(os.stat(k.home).st_mode & 0o777, 0o700)
            with open(k.enc, "rb") as f:
                self.assertNotIn(b"pw-1", f.read())
        finally:
            k.close(base)
            shutil.rmtree(d, ignore_errors=True)

    def test_f_is_a_default_scenario_and_reported_last(self):
        args = main.parse_args([])
        self.assertIn("f", args.only)
        self.assertIn("f  200 sequential", main.SCENARIOS)
        b = main.Bench(args, "/t")
        for key in ("f.cpu", "a.wall", "f.wall"):
            b.figure(key, key, "s")
        self.assertEqual([f.key for f in b.order()], ["a.wall", "f.wall", "f.cpu"])
        self.assertTrue(b.caches("postie"))
        self.assertFalse(b.caches("msmtp"))
        self.assertFalse(main.Bench(main.parse_args(["--self-test"]), "/t").caches("postie"))


class ProxyTests(unittest.TestCase):
    """Figure (g): the msmtprc and the relay."""

    def test_the_two_accounts_differ_only_by_the_relay(self):
        text = proxy.rc_text("a@b", 2525, "/t/ca.pem", "/t/relay")
        lines = text.splitlines()
        for want in ("account direct", "account proxy", "port 2525", "tls_trust_file /t/ca.pem",
                     "auth plain", "proxy_command /t/relay 127.0.0.1 %p"):
            self.assertIn(want, lines)
        self.assertEqual(lines[-1], "proxy_command /t/relay 127.0.0.1 %p")

    def test_relay_copies_both_ways(self):
        d = tempfile.mkdtemp(prefix="bench-test-")
        try:
            relay, why = proxy.build_relay(d)
            if relay is None:
                self.skipTest(why)
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)

            def echo():
                c, _ = srv.accept()
                c.sendall(b"220 hi\r\n")
                data = b""
                while not data.endswith(b"QUIT\r\n"):
                    data += c.recv(100)
                c.sendall(b"221 bye " + data)
                c.close()

            t = threading.Thread(target=echo, daemon=True)
            t.start()
            r = subprocess.run([relay, "127.0.0.1", str(srv.getsockname()[1])],
                               input=b"QUIT\r\n", capture_output=True, timeout=30)
            t.join(10)
            srv.close()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"220 hi\r\n221 bye QUIT\r\n")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_g_is_a_default_scenario_and_reported_last(self):
        args = main.parse_args([])
        self.assertIn("g", args.only)
        self.assertIn("g  postie alone", main.SCENARIOS)
        b = main.Bench(args, "/t")
        for key in ("g.direct.wall", "g.proxy.wall", "a.wall"):
            b.figure(key, key, "s")
        self.assertEqual([f.key for f in b.order()], ["a.wall", "g.proxy.wall", "g.direct.wall"])


if __name__ == "__main__":
    unittest.main()
