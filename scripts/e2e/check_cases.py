"""``postie check`` (issue 14) against the real Postfix and Dovecot of the e2e suite.

``scripts/e2e/run`` appends ``register(run_module)`` to its CASES. With another
sendmail program (msmtp has no ``check``) they are skipped.

* check-ok: the suite's account (submission, STARTTLS, AUTH via Dovecot): every
  line is a ✓, exit 0; Postfix logged a session with STARTTLS and a successful
  AUTH, then QUIT, and no MAIL command: nothing was sent.
* check-send-test: ``--send-test ADDRESS`` delivers one test message through
  Postfix (ESMTPSA) and shows Postfix's ``queued as`` reply.
* check-wrong-password: a wrong password is one ✗ line with Dovecot's refusal as
  Postfix relays it, the fix, and exit 77.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

# The run module (scripts/e2e/run), set by register(): Fail, Skip, addr, ...
R = None


def register(run_module) -> list:
    """Returns the (name, function) pairs to append to the suite's CASES."""
    global R
    R = run_module
    return [
        ("check-ok", case_check_ok),
        ("check-send-test", case_check_send_test),
        ("check-wrong-password", case_check_wrong_password),
    ]


def need_check(s) -> None:
    """Skip unless the program under test has postie's check command."""
    v = subprocess.run([s.sendmail, "--version"], capture_output=True,
                       stdin=subprocess.DEVNULL)
    if not v.stdout.startswith(b"postie"):
        raise R.Skip(f"{s.prg} has no check command (postie only)")


def run_check(s, name: str, args: list[str], **over: str | None):
    """postie -C RC check ARGS, with a HOME of its own (an empty queue)."""
    rc = s.rc(name, **over)
    home = Path(s.work) / f"home-{name}"
    home.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    argv = [s.sendmail, "-C", str(rc), "check"] + args
    try:
        p = subprocess.run(argv, capture_output=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise R.Fail(f"{' '.join(argv)} did not finish within 60 s")
    return R.Result(p.returncode, p.stdout, p.stderr), rc


def out_lines(r) -> list[str]:
    return r.stdout.decode(errors="replace").splitlines()


def expect_line(r, pattern: str) -> str:
    """The one stdout line matching the regular expression (whole line)."""
    got = [l for l in out_lines(r) if re.fullmatch(pattern, l)]
    if len(got) != 1:
        raise R.Fail(f"expected one line matching {pattern!r}; {r.describe()}")
    return got[0]


def postfix_sessions(s, start: int) -> list[str]:
    """Postfix's `disconnect from` lines of SMTP sessions (not of the suite's port
    probes, which send no command) logged after byte `start`."""
    text = s.mta.pf_log.read_text(errors="replace")[start:]
    return [l for l in text.splitlines() if "disconnect from" in l and " ehlo=" in l]


def wait_for_disconnect(s, start: int) -> list[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = postfix_sessions(s, start)
        if got:
            return got
        time.sleep(0.1)
    return []


def expect_all_ok(r) -> None:
    bad = [l for l in out_lines(r) if l.startswith("✗")]
    if r.rc != 0 or bad or r.stderr:
        raise R.Fail(f"expected every check to pass; {r.describe()}")


def case_check_ok(s) -> None:
    need_check(s)
    start = len(s.mta.pf_log.read_text(errors="replace"))
    r, rc = run_check(s, "check-ok", [])
    expect_all_ok(r)
    port = s.mta.submission_port
    expect_line(r, rf"account default \({re.escape(str(rc))}\)")
    expect_line(r, rf"✓ configuration: {re.escape(str(rc))} \(yours, mode 0600\).*")
    expect_line(r, r"✓ from: alice@localhost \(a mail from alice@localhost uses this account\)")
    expect_line(r, r"✓ password: from passwordeval 'echo \S+' \(\d+ ms\)")
    expect_line(r, r"✓ DNS: 127\.0\.0\.1 is an address \(nothing to look up\)")
    expect_line(r, rf"✓ connect: 127\.0\.0\.1 port {port} \(\d+ ms\)")
    expect_line(r, rf"✓ TLS: STARTTLS, TLS1\.[23], certificate verified with "
                   rf"{re.escape(str(s.mta.ca_cert))}")
    expect_line(r, r"✓ certificate: .*: valid until \d{4}-\d\d-\d\d \(\d+ days? left\)")
    expect_line(r, r"✓ AUTH: the server offers .*\bPLAIN\b.*; postie uses PLAIN")
    expect_line(r, rf"✓ login: PLAIN as {R.USER} accepted \(\d+ ms\)")
    expect_line(r, r"✓ queue: .*: empty")
    if out_lines(r)[-1] != "everything needed to send works":
        raise R.Fail(f"last line {out_lines(r)[-1]!r}")
    # Postfix saw STARTTLS, one successful AUTH and QUIT, and no MAIL.
    sessions = wait_for_disconnect(s, start)
    if len(sessions) != 1:
        raise R.Fail(f"expected one Postfix session, got {sessions!r}")
    d = sessions[0]
    if not ("starttls=1" in d and "auth=1 " in d and "quit=1" in d) or "mail=" in d:
        raise R.Fail(f"Postfix logged {d!r}")


def case_check_send_test(s) -> None:
    need_check(s)
    to = R.addr("check", "to")
    snap = s.snapshot(to)
    r, _ = run_check(s, "check-send-test", ["--send-test", to])
    expect_all_ok(r)
    expect_line(r, rf"✓ send test: a message to {re.escape(to)} was accepted \(\d+ ms\): "
                   r"250 2\.0\.0 Ok: queued as [0-9A-Za-z]+")
    got = s.delivered(snap, {to: 1})
    R.check_message(got[to][0], rcpt=to, env_from=R.FROM,
                    must_have={"From": R.FROM, "To": to,
                               "Subject": "postie check: test message (account default)"})


def case_check_wrong_password(s) -> None:
    need_check(s)
    r, _ = run_check(s, "check-badpw", [], passwordeval="echo wrong-password")
    if r.rc != 77:
        raise R.Fail(f"expected exit 77; {r.describe()}")
    bad = [l for l in out_lines(r) if l.startswith("✗")]
    if len(bad) != 1 or not re.fullmatch(
            r"✗ login: authentication failed \(method PLAIN\): "
            r"535 5\.7\.8 Error: authentication failed: .*", bad[0]):
        raise R.Fail(f"expected one ✗ login line; {r.describe()}")
    expect_line(r, r"    fix: check user and password, or postie lock -a default if the "
                   r"cache holds an old one")
    if r.stderr.decode(errors="replace") != f"{s.prg}: 1 check failed (see above)\n":
        raise R.Fail(f"stderr {r.stderr!r}")
