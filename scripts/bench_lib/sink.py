"""A discarding SMTP server ("sink") for the benchmark, run as its own process.

Why a separate process: the benchmark driver and the sink must not share a GIL, and the sink's
own CPU time (getrusage(RUSAGE_SELF), plus per-session thread time) must be measurable on its
own, so that the report can show the sink was not the bottleneck.

Two listeners on 127.0.0.1:
  * "tls":   advertises PIPELINING and STARTTLS; after STARTTLS it advertises AUTH PLAIN LOGIN
             and accepts any user/password.
  * "plain": advertises PIPELINING only; no STARTTLS, no AUTH.

Round trips: a round trip is counted each time the sink has replies to send, has consumed all
input it has received, and no further client bytes are already waiting (checked *before* the
replies are flushed). By causality, a client that waits for a reply can never have its next
command waiting at that moment, so waiting clients are counted exactly; a pipelining client
whose batch is already there is not counted. The TLS handshake adds the server's waits for the
client's handshake flights after the ClientHello (one for a TLS 1.3 full handshake).

Control protocol on stdin/stdout (one line each):
  startup      -> "READY <plain_port> <tls_port>"
  "STATS"      -> JSON {"cpu_user", "cpu_sys", "sessions": [...]}; waits (up to 10 s) until no
                  session is active, then clears the session list.
  "QUIT" / EOF -> exits.
Each session record: {"listener", "messages", "bytes", "round_trips", "turns" (what each
counted wait was for: the command last replied to), "reads", "thread_cpu" (the session
thread's CPU time), "tls", "auth", "error"}.
"""

import json
import resource
import select
import socket
import ssl
import sys
import threading
import time

RECV = 256 * 1024
MAX_LINE = 64 * 1024
TIMEOUT = 120.0


class PlainTransport:
    """Cleartext socket I/O."""

    tls = False

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray(RECV)

    def waiting(self):
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def recv_into_buf(self):
        """Read into self.buf (reused: no allocation per read); return the byte count, 0 at EOF."""
        return self.sock.recv_into(self.buf)

    def send(self, data):
        self.sock.sendall(data)


class TlsTransport:
    """TLS over a MemoryBIO pair, so that one recv() syscall can feed many TLS records.

    A per-record SSLSocket.recv costs two syscalls per record; msmtp writes one record per
    line (about 78 bytes), which made the socket variant the slowest party in the 50 MB run.
    """

    tls = True

    def __init__(self, sock, ctx):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.outg = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.outg, server_side=True)
        self.buf = bytearray(RECV)
        self.mv = memoryview(self.buf)
        self.raw = bytearray(RECV)
        self.raw_mv = memoryview(self.raw)

    def push(self):
        data = self.outg.read()
        if data:
            self.sock.sendall(data)

    def handshake(self):
        """Run the server side of the handshake; return how often it waited for the client.

        Same rule as Session.fill: a wait counts only when the server has output for the client
        and no client bytes are already there (checked before sending). The wait for the
        ClientHello was counted when the 220 was flushed, so a TLS 1.3 full handshake adds 1.
        """
        waits = 0
        while True:
            try:
                self.obj.do_handshake()
                self.push()
                return waits
            except ssl.SSLWantReadError:
                if self.outg.pending:
                    if not self.waiting():
                        waits += 1
                    self.push()
                k = self.sock.recv_into(self.raw)
                if not k:
                    raise EOFError
                self.inc.write(self.raw_mv[:k])

    def waiting(self):
        if self.obj.pending() or self.inc.pending:
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def recv_into_buf(self):
        """Decrypt every complete record already received into self.buf; return the count.

        One read call per record and no per-record copies; the socket is read (into a reused
        buffer) only when no complete record is buffered. 0 means end of stream.
        """
        off = 0
        mv = self.mv
        while off < RECV:
            try:
                n = self.obj.read(RECV - off, mv[off:])
            except ssl.SSLWantReadError:
                if off:
                    break
                k = self.sock.recv_into(self.raw)
                if not k:
                    break
                self.inc.write(self.raw_mv[:k])
                continue
            except ssl.SSLZeroReturnError:
                break
            if n == 0:
                break
            off += n
        return off

    def send(self, data):
        self.obj.write(data)
        self.push()


class Session:
    """One SMTP connection, handled in its own thread with a blocking socket."""

    def __init__(self, sock, listener, ctx):
        self.t = PlainTransport(sock)
        self.sock = sock
        self.listener = listener
        self.ctx = ctx
        self.inbuf = bytearray()
        self.out = []
        self.round_trips = 0
        self.reads = 0
        self.turns = []  # what the client waited for, for --trace
        self.messages = 0
        self.bytes = 0
        self.auth = False
        self.error = None
        self.last = "greeting"

    # -- I/O --------------------------------------------------------------------------------

    def flush(self):
        if self.out:
            self.t.send(b"".join(self.out))
            self.out = []

    def receive_into_buf(self):
        """Read the next input into the transport's buffer; return the byte count.

        Counts a round trip if replies are pending and no client bytes are waiting (checked
        before the replies are sent; see the module doc).
        """
        if self.out:
            if not self.t.waiting():
                self.round_trips += 1
                self.turns.append(self.last)
            self.flush()
        n = self.t.recv_into_buf()
        self.reads += 1
        if not n:
            raise EOFError
        return n

    def fill(self):
        n = self.receive_into_buf()
        self.inbuf += memoryview(self.t.buf)[:n]

    def readline(self):
        while True:
            i = self.inbuf.find(b"\n")
            if i >= 0:
                line = bytes(self.inbuf[: i + 1])
                del self.inbuf[: i + 1]
                return line.rstrip(b"\r\n")
            if len(self.inbuf) > MAX_LINE:
                raise ValueError("line too long")
            self.fill()

    def reply(self, text):
        self.out.append(text.encode() + b"\r\n")

    # -- protocol -----------------------------------------------------------------------------

    def ehlo_lines(self):
        caps = ["PIPELINING", "8BITMIME"]
        if self.listener == "tls":
            if self.t.tls:
                caps.append("AUTH PLAIN LOGIN XOAUTH2")
            else:
                caps.append("STARTTLS")
        lines = ["bench-sink"] + caps
        return "\r\n".join(
            ("250 " if i == len(lines) - 1 else "250-") + l for i, l in enumerate(lines)
        )

    def starttls(self):
        if self.inbuf:
            raise ValueError("data after STARTTLS")
        # The client must wait for the 220 before its ClientHello.
        if not self.t.waiting():
            self.round_trips += 1
            self.turns.append("STARTTLS")
        self.flush()
        self.t = TlsTransport(self.sock, self.ctx)
        hs = self.t.handshake()
        self.round_trips += hs
        self.turns.extend(["handshake"] * hs)

    def read_data(self):
        """Consume the DATA section up to CRLF.CRLF; return its byte count.

        Searches the transport's reused buffer in place (no per-chunk allocation or copy): the
        sink must stay cheap next to a client that streams hundreds of MB/s.
        """
        term = b"\r\n.\r\n"
        tail = b"\r\n"  # last bytes seen; the terminator may come first (empty body)
        buf = bytes(self.inbuf)  # what the command phase read past DATA
        n = len(buf)
        self.inbuf.clear()
        total = 0
        while True:
            if n:
                # A terminator spanning the previous chunk and this one, else one inside it.
                j = (tail + bytes(buf[:min(4, n)])).find(term)  # never stale bytes
                if j >= 0:
                    end = j + 5 - len(tail)
                else:
                    i = buf.find(term, 0, n)
                    end = i + 5 if i >= 0 else -1
                if end >= 0:
                    self.inbuf += buf[end:n]
                    return total + end
                total += n
                tail = (tail + bytes(buf[:n]))[-4:] if n < 4 else bytes(buf[n - 4:n])
            n = self.receive_into_buf()
            buf = self.t.buf

    def run(self):
        self.reply("220 bench-sink ESMTP")
        while True:
            line = self.readline()
            verb = line[:4].upper().decode("ascii", "replace")
            rest = line[4:].strip()
            self.last = verb
            if verb == "EHLO":
                self.reply(self.ehlo_lines())
            elif verb == "HELO":
                self.reply("250 bench-sink")
            elif line.upper() == b"STARTTLS" and self.listener == "tls" and not self.t.tls:
                self.last = "STARTTLS"
                self.reply("220 go ahead")
                self.starttls()
            elif verb == "AUTH":
                mech = rest.split()
                if mech and mech[0].upper() in (b"PLAIN", b"XOAUTH2") and len(mech) == 1:
                    self.reply("334 ")
                    self.readline()
                elif mech and mech[0].upper() == b"LOGIN":
                    self.reply("334 VXNlcm5hbWU6")
                    self.readline()
                    self.reply("334 UGFzc3dvcmQ6")
                    self.readline()
                self.auth = True
                self.reply("235 2.7.0 accepted")
            elif verb in ("MAIL", "RCPT"):
                self.reply("250 2.1.0 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                self.bytes += self.read_data()
                self.messages += 1
                self.last = "end-of-data"
                self.reply("250 2.0.0 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                self.flush()
                return
            else:
                self.reply("502 5.5.2 not implemented")


class Sink:
    def __init__(self, cert, key):
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
            # Session tickets would only add server work nobody uses (one connection per run).
            self.ctx.num_tickets = 0
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.active = 0
        self.sessions = []

    def serve(self, lsock, name):
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(TIMEOUT)
            with self.lock:
                self.active += 1
            threading.Thread(target=self.handle, args=(conn, name), daemon=True).start()

    def handle(self, conn, name):
        t0 = time.thread_time()
        s = Session(conn, name, self.ctx)
        try:
            s.run()
        except EOFError:
            s.error = "eof"
        except Exception as e:  # recorded, reported by the driver
            s.error = "%s: %s" % (type(e).__name__, e)
        finally:
            try:
                conn.close()
            except OSError:
                pass
        rec = {
            "listener": name,
            "messages": s.messages,
            "bytes": s.bytes,
            "round_trips": s.round_trips,
            "reads": s.reads,
            "thread_cpu": time.thread_time() - t0,
            "tls": s.t.tls,
            "turns": s.turns,
            "auth": s.auth,
            "error": s.error,
        }
        with self.lock:
            self.sessions.append(rec)
            self.active -= 1
            self.idle.notify_all()

    def stats(self):
        with self.lock:
            self.idle.wait_for(lambda: self.active == 0, timeout=10)
            sessions, self.sessions = self.sessions, []
            active = self.active
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "cpu_user": ru.ru_utime,
            "cpu_sys": ru.ru_stime,
            "maxrss_kb": ru.ru_maxrss,
            "active": active,
            "sessions": sessions,
        }


def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def main(argv):
    cert = argv[1] if len(argv) > 2 else None
    key = argv[2] if len(argv) > 2 else None
    sink = Sink(cert, key)
    plain, tls = listen(), listen()
    for lsock, name in ((plain, "plain"), (tls, "tls")):
        threading.Thread(target=sink.serve, args=(lsock, name), daemon=True).start()
    out = sys.stdout
    out.write("READY %d %d\n" % (plain.getsockname()[1], tls.getsockname()[1]))
    out.flush()
    for line in sys.stdin:
        cmd = line.strip().upper()
        if cmd == "STATS":
            out.write(json.dumps(sink.stats()) + "\n")
            out.flush()
        elif cmd == "QUIT":
            break
    plain.close()
    tls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
