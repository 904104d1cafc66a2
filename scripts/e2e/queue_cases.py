"""postie's mail queue (issue 5) against the real Postfix of the e2e suite.

``scripts/e2e/run`` appends ``register(run_module)`` to its CASES. Every case here
needs postie's queue (``queue on``, ``-odq``, ``-q``, ``-bp``, ``mailq``, ``postie
queue``); with another sendmail program (msmtp) they are skipped.

* queue-offline-then-flush: the account points at a closed port; the mail is
  queued silently (exit 0), ``-bp`` lists it; pointed back at Postfix, ``-q``
  delivers it byte for byte and the queue is empty.
* queue-mailq-default-dir: ``-odq`` into the default queue under
  ``$HOME/.local/state``, ``mailq`` (postie under that name) lists it, ``-q``
  sends it.
* queue-tempfail-recipient: Postfix defers one recipient with 450: the mail is
  queued; the flush delivers the other recipient and keeps only the deferred one.
* queue-refused-notice: Postfix refuses one recipient with 554 at flush time:
  the other recipient gets the mail, the message is set aside in ``failed/`` and
  the sender gets a notice with the null reverse path (``Return-Path: <>``).
* queue-two-flushers: 20 queued messages, two ``postie -q`` at once: every
  Message-ID arrives exactly once.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

# The run module (scripts/e2e/run), set by register(): Fail, Skip, check_message, ...
R = None


def register(run_module) -> list:
    """Returns the (name, function) pairs to append to the suite's CASES."""
    global R
    R = run_module
    return [
        ("queue-offline-then-flush", case_offline_then_flush),
        ("queue-mailq-default-dir", case_mailq_default_dir),
        ("queue-tempfail-recipient", case_tempfail_recipient),
        ("queue-refused-notice", case_refused_notice),
        ("queue-two-flushers", case_two_flushers),
    ]


# ---------------------------------------------------------------- helpers --


def need_queue(s) -> None:
    """Skip unless the program under test has postie's queue commands."""
    if getattr(s, "_has_queue", None) is None:
        try:
            p = subprocess.run([s.sendmail, "queue", "list",
                                f"--queue-dir={s.work}/no-such-queue"],
                               capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            s._has_queue = p.returncode == 0 and b"Mail queue is empty" in p.stdout
        except (OSError, subprocess.SubprocessError):
            s._has_queue = False
    if not s._has_queue:
        raise R.Skip(f"{s.prg} has no mail queue (postie only)")


def queue_rc(s, name: str, qdir: Path, **over) -> Path:
    """An msmtprc with `queue on` into qdir (written to the same path each time,
    so that pointing it elsewhere applies to mail already queued)."""
    return s.rc(name, queue="on", queue_dir=str(qdir), **over)


def queued(qdir: Path) -> list[str]:
    return sorted(p.name[:-5] for p in qdir.glob("*.toml")) if qdir.is_dir() else []


def failed(qdir: Path) -> list[str]:
    return queued(qdir / "failed")


def full_message(case: str, to: list[str], body: bytes, subject: str) -> bytes:
    """A complete message (From, Date, Message-ID present), so that what Postfix
    stores after its trace headers must equal it byte for byte."""
    return R.headers_block([
        ("From", f"Alice <{R.FROM}>"),
        ("To", ", ".join(to)),
        ("Subject", subject),
        ("Date", "Mon, 02 Mar 2026 10:00:00 +0100"),
        ("Message-ID", f"<{case}.{time.time_ns()}@{R.DOMAIN}>"),
    ]) + b"\n" + body


def expect_same(raw: bytes, sent: bytes) -> None:
    _, got = R.split_trace(raw)
    if got != sent:
        raise R.Fail(f"delivered message differs from the input: {R.describe_diff(sent, got)}")


def listing(s, rc: Path, env: dict | None = None) -> str:
    r = s.send(["-bp"], b"", rc=rc, env=env)
    if r.rc != 0 or r.stderr:
        raise R.Fail(f"-bp: {r.describe()}")
    return r.stdout.decode(errors="replace")


# ------------------------------------------------------------------ cases --


def case_offline_then_flush(s) -> None:
    need_queue(s)
    qdir = s.work / "queue-offline"
    rc = queue_rc(s, "queue-offline", qdir, port=str(s.down_port))
    to = R.addr("queue-offline", "to")
    msg = full_message("queue-offline", [to], R.tricky_body(), "e2e queue offline")
    snap = s.snapshot(to)
    nlog = len(s.log_lines())
    r = s.send([to], msg, rc=rc)
    # Silent success: Emacs and friends treat any output as a failure.
    s.expect_rc(r, 0)
    s.expect_log(nlog, rf"host=127\.0\.0\.1 tls=on auth=on user={R.USER} from={R.FROM} "
                 rf"recipients={to} errormsg='cannot connect to 127\.0\.0\.1, port "
                 rf"{s.down_port}: Connection refused' exitcode=EX_TEMPFAIL")
    ids = queued(qdir)
    if len(ids) != 1:
        raise R.Fail(f"expected 1 queued message in {qdir}, found {ids}")
    for p in [qdir, qdir / f"{ids[0]}.msg", qdir / f"{ids[0]}.toml"]:
        mode = p.stat().st_mode & 0o777
        want = 0o700 if p.is_dir() else 0o600
        if mode != want:
            raise R.Fail(f"{p} has mode {mode:o}, expected {want:o}")
    if (qdir / f"{ids[0]}.msg").read_bytes() != msg:
        raise R.Fail("the queued message file is not the input as given")
    if "alicepw" in (qdir / f"{ids[0]}.toml").read_text():
        raise R.Fail("the password was stored in the queue")
    out = listing(s, rc)
    if ids[0] not in out or f"<{to}>" not in out or "(1 request)" not in out:
        raise R.Fail(f"-bp does not list the queued message: {out!r}")
    if "Connection refused" not in out:
        raise R.Fail(f"-bp does not show the last error: {out!r}")
    if s.mta.count(to):
        raise R.Fail("delivered although the server was down")
    # Point the account back at Postfix: the configuration is read again at flush time.
    queue_rc(s, "queue-offline", qdir)
    nlog = len(s.log_lines())
    r = s.send(["-q"], b"", rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1})
    sizes: list[int] = []
    R.check_message(got[to][0], rcpt=to, env_from=R.FROM, body=R.tricky_body(),
                    mailsize_of=sizes)
    expect_same(got[to][0], msg)
    s.expect_log(nlog, rf"host=127\.0\.0\.1 tls=on auth=on user={R.USER} from={R.FROM} "
                 rf"recipients={to} mailsize={sizes[0]} smtpstatus=250 "
                 r"smtpmsg='250 2\.0\.0 Ok: queued as [0-9A-Za-z]+' exitcode=EX_OK")
    if queued(qdir) or list((qdir / "tmp").iterdir()):
        raise R.Fail(f"queue not empty after the flush: {queued(qdir)}")
    if listing(s, rc) != "Mail queue is empty\n":
        raise R.Fail(f"-bp after the flush: {listing(s, rc)!r}")


def case_mailq_default_dir(s) -> None:
    need_queue(s)
    home = s.work / "queue-home"
    home.mkdir(mode=0o700)
    rc = home / ".msmtprc"
    rc.write_bytes(s.default_rc.read_bytes())
    os.chmod(rc, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
    env["HOME"] = str(home)
    to = R.addr("queue-mailq", "to")
    msg = full_message("queue-mailq", [to], b"queued with -odq\n", "e2e -odq")
    snap = s.snapshot(to)

    def run(argv: list[str], stdin: bytes = b"") -> "R.Result":
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=60, env=env)
        return R.Result(p.returncode, p.stdout, p.stderr)

    r = run([s.sendmail, "-odq", to], msg)
    s.expect_rc(r, 0, quiet=False)
    qdir = home / ".local" / "state" / "postie" / "queue"
    if len(queued(qdir)) != 1:
        raise R.Fail(f"-odq did not queue into the default directory {qdir}: {r.describe()}")
    mailq = s.work / "bin-mailq" / "mailq"
    mailq.parent.mkdir(exist_ok=True)
    if not mailq.exists():
        mailq.symlink_to(s.sendmail)
    r = run([str(mailq)])
    if r.rc != 0 or f"<{to}>".encode() not in r.stdout:
        raise R.Fail(f"mailq does not list the message: {r.describe()}")
    time.sleep(0.5)
    if s.mta.count(to):
        raise R.Fail("-odq connected and delivered")
    r = run([s.sendmail, "-q"])
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1})
    expect_same(got[to][0], msg)
    r = run([str(mailq)])
    if r.stdout != b"Mail queue is empty\n":
        raise R.Fail(f"mailq after the flush: {r.describe()}")


def case_tempfail_recipient(s) -> None:
    need_queue(s)
    qdir = s.work / "queue-tempfail"
    rc = queue_rc(s, "queue-tempfail", qdir)
    to = R.addr("queue-tempfail", "to")
    msg = full_message("queue-tempfail", [to, R.REJECT_4XX], b"one deferred recipient\n",
                       "e2e queue 450")
    snap = s.snapshot(to, R.REJECT_4XX)
    r = s.send([to, R.REJECT_4XX], msg, rc=rc)
    # msmtp's rule for a direct send: a refused recipient fails the whole mail; a 4xx is
    # transient, so with the queue it is kept for later and the caller sees success.
    s.expect_rc(r, 0)
    ids = queued(qdir)
    if len(ids) != 1:
        raise R.Fail(f"expected 1 queued message, found {ids}")
    if f"recipient address {R.REJECT_4XX} not accepted" not in listing(s, rc):
        raise R.Fail(f"-bp does not show the last error: {listing(s, rc)!r}")
    r = s.send(["-q"], b"", rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1, R.REJECT_4XX: 0})
    expect_same(got[to][0], msg)
    meta = (qdir / f"{ids[0]}.toml").read_text()
    if queued(qdir) != ids or f'recipients = ["{R.REJECT_4XX}"]' not in meta:
        raise R.Fail(f"only the deferred recipient should stay queued: {meta}")
    if not re.search(r"^attempts = 2$", meta, re.M):
        raise R.Fail(f"expected 2 recorded attempts: {meta}")
    r = subprocess.run([s.sendmail, "queue", "-C", str(rc), "delete", ids[0]],
                       capture_output=True, timeout=30)
    if r.returncode != 0 or queued(qdir):
        raise R.Fail(f"postie queue delete: exit {r.returncode} {r.stderr!r}")


def case_refused_notice(s) -> None:
    need_queue(s)
    qdir = s.work / "queue-refused"
    rc = queue_rc(s, "queue-refused", qdir)
    to = R.addr("queue-refused", "to")
    msg = full_message("queue-refused", [to, R.REJECT_5XX], b"one refused recipient\n",
                       "e2e queue 554")
    snap = s.snapshot(to, R.REJECT_5XX, R.FROM)
    r = s.send(["-odq", to, R.REJECT_5XX], msg, rc=rc)
    s.expect_rc(r, 0, quiet=False)
    ids = queued(qdir)
    r = s.send(["-q"], b"", rc=rc)
    if r.rc != 69 or f"recipient address {R.REJECT_5XX} not accepted".encode() not in r.stderr:
        raise R.Fail(f"expected exit 69 naming the refused recipient: {r.describe()}")
    got = s.delivered(snap, {to: 1, R.REJECT_5XX: 0, R.FROM: 1})
    expect_same(got[to][0], msg)
    headers, body = R.check_message(got[R.FROM][0], rcpt=R.FROM, env_from="",
                                    must_have={"Subject": "Undelivered mail: e2e queue 554",
                                               "To": f"<{R.FROM}>",
                                               "Auto-Submitted": "auto-replied"})
    text = body.decode(errors="replace")
    for want in [f"<{R.REJECT_5XX}>: 554", f"Queue ID: {ids[0]}", "Subject: e2e queue 554"]:
        if want not in text:
            raise R.Fail(f"{want!r} missing from the notice: {text!r}")
    if f"<{to}>:" in text:
        raise R.Fail(f"the notice lists a delivered recipient: {text!r}")
    if failed(qdir) != ids or queued(qdir):
        raise R.Fail(f"expected {ids} in failed/ and an empty queue; "
                     f"failed={failed(qdir)} queued={queued(qdir)}")


def case_two_flushers(s) -> None:
    need_queue(s)
    qdir = s.work / "queue-concurrent"
    rc = queue_rc(s, "queue-concurrent", qdir)
    to = R.addr("queue-concurrent", "to")
    snap = s.snapshot(to)
    n = 20
    mids = []
    for i in range(n):
        msg = full_message(f"queue-concurrent-{i}", [to], f"message {i}\n".encode(),
                           f"e2e concurrent {i}")
        mids.append(re.search(rb"^Message-ID: (\S+)$", msg, re.M).group(1).decode())
        r = s.send(["-odq", to], msg, rc=rc)
        if r.rc != 0:
            raise R.Fail(f"-odq #{i}: {r.describe()}")
    if len(queued(qdir)) != n:
        raise R.Fail(f"expected {n} queued messages, found {len(queued(qdir))}")
    argv = [s.sendmail, "-C", str(rc), "-q"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        if p.returncode != 0 or out or err:
            raise R.Fail(f"a flusher: exit {p.returncode}; stdout={out!r}; stderr={err!r}")
    got = s.delivered(snap, {to: n})[to]
    seen: dict[str, int] = {}
    for raw in got:
        m = re.search(rb"^Message-ID: (\S+)$", raw, re.M | re.I)
        key = m.group(1).decode() if m else "(none)"
        seen[key] = seen.get(key, 0) + 1
    bad = {k: v for k, v in seen.items() if v != 1}
    missing = [m for m in mids if m not in seen]
    if bad or missing:
        raise R.Fail(f"not exactly once: duplicates {bad}, missing {missing}")
    if queued(qdir):
        raise R.Fail(f"queue not empty: {queued(qdir)}")
