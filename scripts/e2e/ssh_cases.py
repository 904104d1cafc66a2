"""Sending over ssh (issue 12) against a real OpenSSH server (sshd.py) in front
of the suite's Postfix. postie only (msmtp refuses proxy_command and
pipe_command); skipped without openssh-server, a failure under CI.

* ssh-proxy-starttls / ssh-proxy-smtps: ``proxy_command ssh ... -W %h:%p`` with
  a key that may only open a tunnel to the submission (SMTPS) port
  (``restrict,port-forwarding,permitopen=...``): STARTTLS (implicit TLS) and
  AUTH through the tunnel, the certificate checked against ``host``; the
  message arrives byte for byte, the server logged one ssh login.
* ssh-proxy-sendmail-bs: the recommended set-up: a key whose forced command is
  Postfix's ``sendmail -bs`` (SMTP on standard input and output), ``proxy_command
  ssh ... sendmail -bs``, no TLS and no AUTH in postie (ssh did both); To, Cc and
  Bcc delivered byte for byte.
* ssh-proxy-postie-bs: the same with the program under test as the mail host's
  sendmail: the forced command is ``SENDMAIL -C RC -bs``, which relays into Postfix
  with STARTTLS and AUTH; two log lines (the sender's and the relaying one's).
* ssh-pipe-sendmail: ``pipe_command ssh ... /usr/sbin/sendmail -oi -f %f -- %r``
  runs Postfix's sendmail on the ssh server: ``-t`` with To, Cc and Bcc, each
  delivered byte for byte (LF line endings, dots as typed), the Bcc recipient
  too and the Bcc header nowhere; the log line names ``host=ssh``.
* ssh-pipe-forced-t: the key's forced command is ``sendmail -t`` (what a mail
  host's administrator hands out); a message whose recipients are all in To/Cc
  is delivered, one with a Bcc recipient is refused (65) before ssh runs.
* ssh-refused-wrong-key: a key the server does not know: pipe_command fails
  with ssh's 255 as 75 and its ``Permission denied`` line; proxy_command with
  ``queue on`` keeps the message (exit 0), and a flush with the right key
  delivers it.

After each case no ssh client may be left running.
"""

from __future__ import annotations

import re
import subprocess
import time

R = None  # the run module (scripts/e2e/run), set by register()
SENDMAIL = "/usr/sbin/sendmail"


def register(run_module) -> list:
    global R
    R = run_module
    return [
        ("ssh-proxy-starttls", case_proxy_starttls),
        ("ssh-proxy-smtps", case_proxy_smtps),
        ("ssh-proxy-sendmail-bs", case_proxy_sendmail_bs),
        ("ssh-proxy-postie-bs", case_proxy_postie_bs),
        ("ssh-pipe-sendmail", case_pipe_sendmail),
        ("ssh-pipe-forced-t", case_pipe_forced_t),
        ("ssh-refused-wrong-key", case_refused_wrong_key),
    ]


# ---------------------------------------------------------------- helpers --


def need_ssh(s):
    """The ssh server, or Skip (postie only; openssh installed)."""
    if getattr(s, "_is_postie", None) is None:
        try:
            p = subprocess.run([s.sendmail, "--version"], capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            s._is_postie = p.stdout.startswith(b"postie ")
        except (OSError, subprocess.SubprocessError):
            s._is_postie = False
    if not s._is_postie:
        raise R.Skip(f"{s.prg} has no proxy_command/pipe_command (postie only)")
    if s.mta.sshd is None:
        raise R.Skip(s.mta.ssh_missing)
    return s.mta.sshd


def no_ssh_left(sshd) -> None:
    """No ssh client of ours is still running (postie ends its command's group)."""
    deadline = time.monotonic() + 3
    while True:
        r = subprocess.run(["pgrep", "-f", "--", f"-i {sshd.dir}/"], capture_output=True,
                           text=True)
        pids = r.stdout.split()
        if not pids:
            return
        if time.monotonic() > deadline:
            raise R.Fail(f"ssh processes left running: {pids}")
        time.sleep(0.05)


def postfix_sendmail(s) -> str:
    return f"{SENDMAIL} -C {s.mta.pf_conf}"


# ------------------------------------------------------------------ cases --


def proxy_case(s, case: str, port: int, **over) -> None:
    sshd = need_ssh(s)
    key = sshd.key(None, f'restrict,port-forwarding,permitopen="127.0.0.1:{port}"')
    rc = s.rc(case, port=str(port),
              proxy_command=sshd.ssh_command(key, "-W", "%h:%p"), **over)
    to = R.addr(case, "to")
    body = R.tricky_body()
    msg = R.headers_block([("From", f"Alice <{R.FROM}>"), ("To", to),
                           ("Subject", f"e2e {case}")]) + b"\n" + body
    snap = s.snapshot(to)
    nlog = len(s.log_lines())
    logins = sshd.accepted()
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1})
    sizes: list[int] = []
    R.check_message(got[to][0], rcpt=to, env_from=R.FROM, body=body, mailsize_of=sizes)
    s.expect_log(nlog, rf"host=127\.0\.0\.1 tls=on auth=on user={R.USER} from={R.FROM} "
                       rf"recipients={to} mailsize={sizes[0]} smtpstatus=250 .*exitcode=EX_OK")
    if sshd.accepted() != logins + 1:
        raise R.Fail(f"expected one ssh login, the server logged {sshd.accepted() - logins}")
    no_ssh_left(sshd)


def case_proxy_starttls(s) -> None:
    proxy_case(s, "ssh-proxy-starttls", s.mta.submission_port)


def case_proxy_smtps(s) -> None:
    proxy_case(s, "ssh-proxy-smtps", s.mta.smtps_port, tls_starttls="off")


def case_proxy_sendmail_bs(s) -> None:
    sshd = need_ssh(s)
    key = sshd.key(f"{postfix_sendmail(s)} -bs",
                   "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc")
    rc = s.rc("ssh-bs", host="mailhost", port=None, tls="off", tls_starttls=None,
              tls_trust_file=None, auth="off", user=None, passwordeval=None,
              proxy_command=f"{sshd.ssh_command(key)} sendmail -bs")
    to, cc, bcc = (R.addr("ssh-bs", r) for r in ("to", "cc", "bcc"))
    body = R.tricky_body()
    msg = R.headers_block([("From", f"Alice <{R.FROM}>"), ("To", to), ("Cc", cc),
                           ("Bcc", bcc), ("Subject", "e2e ssh -bs")]) + b"\n" + body
    snap = s.snapshot(to, cc, bcc)
    nlog = len(s.log_lines())
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1, cc: 1, bcc: 1})
    sizes: list[int] = []
    for a in (to, cc, bcc):
        R.check_message(got[a][0], rcpt=a, env_from=R.FROM, body=body, via=None,
                        must_have={"Subject": "e2e ssh -bs"})
        # sendmail -bs hands the message on to Postfix's queue: a second Received header,
        # the one of the SMTP dialogue with postie.
        _, rest = R.split_trace(got[a][0])
        smtp_trace, sent = R.split_trace(rest)
        if "with ESMTP" not in smtp_trace.get("received", ""):
            raise R.Fail(f"no ESMTP Received header: {smtp_trace!r}")
        sizes.append(len(sent))
    s.expect_log(nlog, rf"host=mailhost tls=off auth=off from={R.FROM} "
                       rf"recipients={to},{cc},{bcc} mailsize={sizes[0]} smtpstatus=250 "
                       r".*exitcode=EX_OK")
    no_ssh_left(sshd)


def case_proxy_postie_bs(s) -> None:
    sshd = need_ssh(s)
    key = sshd.key(f"{s.sendmail} -C {s.default_rc} -bs")
    rc = s.rc("ssh-postie-bs", host="mailhost", port=None, tls="off", tls_starttls=None,
              tls_trust_file=None, auth="off", user=None, passwordeval=None,
              proxy_command=f"{sshd.ssh_command(key)} sendmail -bs")
    to, bcc = R.addr("ssh-postie-bs", "to"), R.addr("ssh-postie-bs", "bcc")
    body = R.tricky_body()
    msg = R.headers_block([("From", f"Alice <{R.FROM}>"), ("To", to), ("Bcc", bcc),
                           ("Subject", "e2e ssh postie -bs")]) + b"\n" + body
    snap = s.snapshot(to, bcc)
    nlog = len(s.log_lines())
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1, bcc: 1})
    sizes: list[int] = []
    for a in (to, bcc):
        R.check_message(got[a][0], rcpt=a, env_from=R.FROM, body=body, mailsize_of=sizes,
                        must_have={"Subject": "e2e ssh postie -bs"})
    lines = s.log_lines()[nlog:]
    relay = rf"host=127\.0\.0\.1 tls=on auth=on user={R.USER} from={R.FROM} recipients={to},{bcc} "
    local = rf"host=mailhost tls=off auth=off from={R.FROM} recipients={to},{bcc} "
    for pattern in (relay, local):
        pat = r"\w{3} [ 0-9]\d \d\d:\d\d:\d\d " + pattern + \
            rf"mailsize={sizes[0]} smtpstatus=250 .*exitcode=EX_OK"
        if not any(re.fullmatch(pat, line) for line in lines):
            raise R.Fail(f"no log line {pattern!r} in {lines!r}")
    no_ssh_left(sshd)


def case_pipe_sendmail(s) -> None:
    sshd = need_ssh(s)
    key = sshd.key(None)
    rc = s.rc("ssh-pipe", pipe_command=f"{sshd.ssh_command(key)} {postfix_sendmail(s)} "
                                       "-oi -f %f -- %r")
    to, cc, bcc = (R.addr("ssh-pipe", r) for r in ("to", "cc", "bcc"))
    body = R.tricky_body()
    msg = R.headers_block([("From", f"Alice <{R.FROM}>"), ("To", f"Someone <{to}>"),
                           ("Cc", cc), ("Bcc", bcc), ("Subject", "e2e ssh pipe")]) + b"\n" + body
    snap = s.snapshot(to, cc, bcc)
    nlog = len(s.log_lines())
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1, cc: 1, bcc: 1})
    sizes: list[int] = []
    for a in (to, cc, bcc):
        _, m = R.split_trace(got[a][0])
        if bcc.encode() in m.partition(b"\n\n")[0]:
            raise R.Fail(f"the Bcc address is in the headers delivered to {a}")
        R.check_message(got[a][0], rcpt=a, env_from=R.FROM, body=body, via=None,
                        mailsize_of=sizes,
                        must_have={"From": f"Alice <{R.FROM}>", "Subject": "e2e ssh pipe"})
    s.expect_log(nlog, rf"host=ssh tls=off auth=off from={R.FROM} recipients={to},{cc},{bcc} "
                       rf"mailsize={sizes[0]} exitcode=EX_OK")
    no_ssh_left(sshd)


def case_pipe_forced_t(s) -> None:
    sshd = need_ssh(s)
    key = sshd.key(f"{postfix_sendmail(s)} -oi -t")
    # The server runs the forced command whatever the client asks for.
    rc = s.rc("ssh-forced-t", pipe_command=f"{sshd.ssh_command(key)} sendmail")
    to, cc, bcc = (R.addr("ssh-forced", r) for r in ("to", "cc", "bcc"))
    body = b"forced sendmail -t\n.\n..\nend\n"
    msg = R.headers_block([("To", to), ("Cc", cc), ("Subject", "forced -t")]) + b"\n" + body
    snap = s.snapshot(to, cc, bcc)
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 0)
    got = s.delivered(snap, {to: 1, cc: 1})
    for a in (to, cc):
        R.check_message(got[a][0], rcpt=a, env_from=None, body=body, via=None)
    # A Bcc recipient would be lost by the remote -t: refused before ssh runs.
    logins = sshd.accepted()
    msg = R.headers_block([("To", to), ("Bcc", bcc), ("Subject", "forced -t bcc")]) + b"\n" + body
    snap = s.snapshot(to, bcc)
    r = s.send(["-t"], msg, rc=rc)
    s.expect_rc(r, 65, quiet=False)
    s.expect_stderr(r, [f"pipe_command has no %r: recipient {bcc} is in no To or Cc header, "
                        "so the remote sendmail -t would not send to it (a Bcc recipient?)",
                        f"could not send mail (account default from {rc})"])
    s.delivered(snap, {to: 0, bcc: 0})
    if sshd.accepted() != logins:
        raise R.Fail("ssh ran for a refused message")
    no_ssh_left(sshd)


def case_refused_wrong_key(s) -> None:
    sshd = need_ssh(s)
    stranger = sshd.unauthorized_key()
    user = sshd.user
    to = R.addr("ssh-refused", "to")
    rc = s.rc("ssh-refused-pipe", pipe_command=f"{sshd.ssh_command(stranger)} "
                                                f"{postfix_sendmail(s)} -oi -f %f -- %r")
    nlog = len(s.log_lines())
    r = s.send([to], b"Subject: refused\n\nbody\n", rc=rc)
    s.expect_rc(r, 75, quiet=False)
    s.expect_stderr(r, ["pipe_command failed: exit status 255",
                        f"command message: {user}@127.0.0.1: Permission denied (publickey).",
                        f"could not send mail (account default from {rc})"])
    s.expect_log(nlog, rf"host=ssh tls=off auth=off from={R.FROM} recipients={to} "
                       r"errormsg='pipe_command failed: exit status 255' exitcode=EX_TEMPFAIL")
    # proxy_command: a refused connection (75); with the queue, kept and flushed later.
    port = s.mta.submission_port
    proxy = sshd.ssh_command(stranger, "-W", "%h:%p")
    rc = s.rc("ssh-refused-proxy", proxy_command=proxy)
    r = s.send([to], b"Subject: refused\n\nbody\n", rc=rc)
    s.expect_rc(r, 75, quiet=False)
    s.expect_stderr(r, [f"cannot connect to 127.0.0.1, port {port}: proxy_command ended "
                        "(exit status 255)",
                        f"command message: {user}@127.0.0.1: Permission denied (publickey).",
                        f"could not send mail (account default from {rc})"])
    qdir = s.work / "queue-ssh"
    rc = s.rc("ssh-refused-queue", proxy_command=proxy, queue="on", queue_dir=str(qdir))
    body = b"queued while ssh refused us\n"
    snap = s.snapshot(to)
    r = s.send([to], b"Subject: queued over ssh\n\n" + body, rc=rc)
    s.expect_rc(r, 0)
    if len(list(qdir.glob("*.toml"))) != 1:
        raise R.Fail(f"expected one queued message in {qdir}")
    good = sshd.key(None, f'restrict,port-forwarding,permitopen="127.0.0.1:{port}"')
    rc = s.rc("ssh-refused-queue", proxy_command=sshd.ssh_command(good, "-W", "%h:%p"),
              queue="on", queue_dir=str(qdir))
    r = s.send(["-q"], b"", rc=rc)
    s.expect_rc(r, 0, quiet=False)
    got = s.delivered(snap, {to: 1})
    R.check_message(got[to][0], rcpt=to, env_from=R.FROM, body=body)
    if list(qdir.glob("*.toml")):
        raise R.Fail(f"the queue is not empty after the flush: {list(qdir.iterdir())}")
    no_ssh_left(sshd)

