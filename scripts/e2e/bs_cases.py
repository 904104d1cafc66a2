"""``-bs`` (an SMTP dialogue on stdin and stdout) driven by real SMTP clients, relayed into
the real Postfix of the e2e suite.

``scripts/e2e/run`` appends ``register(run_module)`` to its CASES. postie only: msmtp
refuses ``-bs`` (exit 64), so with another sendmail program the cases are skipped.

* bs-symfony-mailer: Symfony Mailer (Debian's ``php-symfony-mailer``) with its
  ``SendmailTransport`` in ``-bs`` mode (the DSN ``sendmail://default``, its command pointed
  at the program through the suite's wrapper, which sets HOME to the test ``.msmtprc``), as
  Symfony, Laravel and Nextcloud use it. Two messages in one dialogue (To+Cc+Bcc, then
  another To), each delivered byte for byte as Symfony sent it (its ``SentMessage``), then
  a recipient Postfix refuses: Symfony's exception carries Postfix's 554 text.
* bs-python-smtplib: Python's ``smtplib.SMTP`` over a pipe to the program's stdin and
  stdout (a socket-like wrapper): EHLO, ``MAIL FROM ... SIZE= BODY=8BITMIME``, a message
  with a Bcc header and no Date/Message-ID (the program removes the one and adds the
  others), body byte for byte, the log line's mailsize; then a second transaction in the
  same dialogue with a recipient Postfix refuses (its 554, the other recipient delivered);
  QUIT, exit 0.
"""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
from pathlib import Path

# The run module (scripts/e2e/run), set by register(): Fail, Skip, check_message, ...
R = None

SYMFONY_AUTOLOAD = Path("/usr/share/php/Symfony/Component/Mailer/autoload.php")


def register(run_module) -> list:
    """Returns the (name, function) pairs to append to the suite's CASES."""
    global R
    R = run_module
    return [
        ("bs-symfony-mailer", case_symfony_mailer),
        ("bs-python-smtplib", case_python_smtplib),
    ]


def need_bs(s) -> None:
    """Skip unless the program under test speaks SMTP with -bs (postie)."""
    v = subprocess.run([s.sendmail, "--version"], capture_output=True, stdin=subprocess.DEVNULL)
    if not v.stdout.startswith(b"postie"):
        raise R.Skip(f"{s.prg} refuses -bs (postie only)")


def runs_of_bs(s) -> int:
    """How often the wrapper ran the program with -bs (it records every argv)."""
    try:
        log = (s.work / "client-argv.log").read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return sum(1 for line in log.splitlines() if line.endswith(" -bs"))


def expect_same(raw: bytes, sent: bytes) -> None:
    """What Postfix stored after its trace headers is `sent` with LF line ends."""
    _, got = R.split_trace(raw)
    want = sent.replace(b"\r\n", b"\n")
    if got != want:
        raise R.Fail(f"delivered message differs from what the client sent: "
                     f"{R.describe_diff(want, got)}")


# ------------------------------------------------------------------ Symfony --

SYMFONY_SCRIPT = r"""<?php
require getenv('AUTOLOAD');
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Email;

// Symfony's default sendmail transport is "-bs"; only the command's path is ours.
$transport = Transport::fromDsn('sendmail://default?command=' . rawurlencode(getenv('CMD')));
$body = "Body line one caf\u{e9}\n.\n..two dots\nlast line after a lone dot\n";
$out = getenv('OUT');
$messages = [
    (new Email())->from(getenv('FROM'))->to(getenv('TO1'))->cc(getenv('CC'))
        ->bcc(getenv('BCC'))->subject('symfony -bs one')->text($body),
    (new Email())->from(getenv('FROM'))->to(getenv('TO2'))->subject('symfony -bs two')
        ->text(str_repeat("x", 2000) . "\n" . $body)
        ->attach("attached \x00\x01 bytes", 'data.bin', 'application/octet-stream'),
];
foreach ($messages as $i => $m) {
    $sent = $transport->send($m);
    file_put_contents("$out/sent$i.eml", $sent->toString());
    echo "sent $i\n";
}
try {
    $transport->send((new Email())->from(getenv('FROM'))->to(getenv('REJECT'))
        ->subject('refused')->text("x\n"));
    echo "refused recipient accepted\n";
} catch (\Throwable $e) {
    echo "refused: ", $e->getMessage(), "\n";
}
"""


def case_symfony_mailer(s) -> None:
    need_bs(s)
    if not SYMFONY_AUTOLOAD.is_file():
        raise R.Skip("php-symfony-mailer is not installed")
    d = s.work / "bs-symfony"
    d.mkdir()
    script = d / "send.php"
    script.write_text(SYMFONY_SCRIPT)
    to1, cc, bcc, to2 = (R.addr("bs-symfony", r) for r in ("to", "cc", "bcc", "to2"))
    snap = s.snapshot(to1, cc, bcc, to2)
    nlog = len(s.log_lines())
    nruns = runs_of_bs(s)
    env = dict(os.environ, AUTOLOAD=str(SYMFONY_AUTOLOAD), CMD=f"{s.wrapper} -bs", OUT=str(d),
               FROM=R.FROM, TO1=to1, CC=cc, BCC=bcc, TO2=to2, REJECT=R.REJECT_5XX)
    try:
        p = subprocess.run(["php", str(script)], capture_output=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise R.Fail("the Symfony script did not finish within 120 s")
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0 or "sent 0\nsent 1\n" not in out:
        err = p.stderr.decode(errors="replace")
        raise R.Fail(f"Symfony did not send both messages: exit {p.returncode}; "
                     f"stdout={out[-1500:]!r}; stderr={err[-1500:]!r}")
    if runs_of_bs(s) != nruns + 1:
        raise R.Fail("Symfony did not keep one -bs dialogue for its three messages")
    refused = (f"554 5.7.1 <{R.REJECT_5XX}>: Recipient address rejected: "
               "e2e suite refuses this recipient")
    if "refused: " not in out or refused not in out:
        raise R.Fail(f"the refused recipient did not raise Postfix's 554: {out!r}")
    got = s.delivered(snap, {to1: 1, cc: 1, bcc: 1, to2: 1})
    # Symfony ends the data with CRLF . CRLF after the message, which ends in CRLF itself: the
    # empty line this adds is in what it transmitted, as a direct SMTP server would store it.
    sent = [(d / f"sent{i}.eml").read_bytes() + b"\r\n" for i in (0, 1)]
    sizes: list[int] = []
    for a in (to1, cc, bcc):
        R.check_message(got[a][0], rcpt=a, env_from=R.FROM, mailsize_of=sizes,
                        must_have={"Subject": "symfony -bs one"})
        expect_same(got[a][0], sent[0])
    R.check_message(got[to2][0], rcpt=to2, env_from=R.FROM)
    expect_same(got[to2][0], sent[1])
    if "dots" not in R.client_text(got[to1][0]):
        raise R.Fail("the text part did not arrive")
    # One log line per transaction: the two messages, then the refused one.
    lines = s.log_lines()[nlog:]
    if len(lines) != 2:
        raise R.Fail(f"expected 2 log lines, got {lines!r}")
    if not re.search(rf" from={R.FROM} recipients={to1},{cc},{bcc} mailsize={sizes[0]} "
                     r"smtpstatus=250 .*exitcode=EX_OK$", lines[0]):
        raise R.Fail(f"log line {lines[0]!r}")


# ------------------------------------------------------------------- Python --


class PipeSocket:
    """What smtplib needs of a socket, over a child's stdin and stdout."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def sendall(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def makefile(self, mode: str):
        return self.proc.stdout

    def close(self) -> None:
        if not self.proc.stdin.closed:
            self.proc.stdin.close()


class PipeSMTP(smtplib.SMTP):
    """smtplib.SMTP talking to `argv -bs` through pipes instead of a TCP connection."""

    def __init__(self, argv: list[str], env: dict):
        self._argv, self._env = argv, env
        self.proc: subprocess.Popen | None = None
        super().__init__()

    def _get_socket(self, host, port, timeout):
        self.proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self._env)
        return PipeSocket(self.proc)


def case_python_smtplib(s) -> None:
    need_bs(s)
    to, cc, bcc = R.addr("bs-py", "to"), R.addr("bs-py", "cc"), R.addr("bs-py", "bcc")
    to2 = R.addr("bs-py", "to2")
    body = R.tricky_body()
    msg = (R.headers_block([("From", f"Alice <{R.FROM}>"), ("To", to), ("Cc", cc),
                            ("Bcc", bcc), ("Subject", "python smtplib -bs")])
           + b"\n" + body).replace(b"\n", b"\r\n")
    snap = s.snapshot(to, cc, bcc, to2)
    nlog = len(s.log_lines())
    smtp = PipeSMTP([str(s.wrapper), "-bs"], dict(os.environ))
    code, greeting = smtp.connect("postie-bs", 25)
    if code != 220 or b"ESMTP postie" not in greeting:
        raise R.Fail(f"greeting {code} {greeting!r}")
    code, _ = smtp.ehlo("client.e2e.test")
    if code != 250 or not all(smtp.has_extn(x) for x in ("pipelining", "size", "8bitmime")):
        raise R.Fail(f"EHLO {code}: {smtp.esmtp_features!r}")
    refused = smtp.sendmail(R.FROM, [to, cc, bcc], msg, mail_options=["BODY=8BITMIME"])
    if refused:
        raise R.Fail(f"recipients refused: {refused!r}")
    refused = smtp.sendmail(R.FROM, [to2, R.REJECT_5XX], b"Subject: second\r\n\r\nsecond\r\n")
    want = (554, f"5.7.1 <{R.REJECT_5XX}>: Recipient address rejected: "
                 "e2e suite refuses this recipient".encode())
    if refused != {R.REJECT_5XX: want}:
        raise R.Fail(f"refused recipients {refused!r}, expected {want!r}")
    code, _ = smtp.quit()
    proc = smtp.proc
    rc = proc.wait(timeout=60)
    err = proc.stderr.read()
    if code != 221 or rc != 0 or err:
        raise R.Fail(f"QUIT {code}, exit {rc}, stderr {err!r}")
    got = s.delivered(snap, {to: 1, cc: 1, bcc: 1, to2: 1})
    sizes: list[int] = []
    for a in (to, cc, bcc):
        R.check_message(got[a][0], rcpt=a, env_from=R.FROM, body=body, mailsize_of=sizes,
                        must_have={"From": f"Alice <{R.FROM}>", "Subject": "python smtplib -bs"})
    R.check_message(got[to2][0], rcpt=to2, env_from=R.FROM, body=b"second\n")
    lines = s.log_lines()[nlog:]
    if len(lines) != 2:
        raise R.Fail(f"expected 2 log lines, got {lines!r}")
    if not re.search(rf" recipients={to},{cc},{bcc} mailsize={sizes[0]} smtpstatus=250 ", lines[0]):
        raise R.Fail(f"log line {lines[0]!r} (mailsize {sizes[0]})")
    if f" recipients={to2} mailsize=" not in lines[1]:
        raise R.Fail(f"log line {lines[1]!r}")
