"""A private, loopback-only Postfix + Dovecot-SASL instance (and a SOCKS5 proxy) for the e2e suite.

Everything lives in one temporary directory: a throw-away CA and server
certificate, Postfix's config, queue and data directories, Dovecot's config and
runtime directory, and the virtual Maildirs mail is delivered into. Nothing in
/etc is touched, no system daemon is started or stopped, and the instance only
ever listens on and delivers to 127.0.0.1: every domain other than the two
test domains is refused at RCPT time (``reject_unauth_destination``) and the
default, relay and local transports are the ``error`` transport, so no byte can
leave the machine even by accident.

Mail for ``LOCAL@e2e.test`` and ``LOCAL@localhost`` lands in the Maildir
``<root>/mail/<domain>/<LOCAL>/`` (Postfix's virtual(8) agent, uid nobody),
which is what the tests read back. Postfix does not add missing Date or
Message-ID headers for these clients (``local_header_rewrite_clients`` is
empty), so those headers in a delivered file come from the sendmail program.

Dovecot's auth service offers PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and
SCRAM-SHA-256 (it derives the CRAM and SCRAM secrets from the ``{PLAIN}``
password); Postfix logs the mechanism a client used (``sasl_method=``), which
is how the tests check what was chosen. One extra submission port allows AUTH
without TLS, for msmtp's "only SCRAM without TLS" rule. microsocks, when
installed, is a SOCKS5 proxy on 127.0.0.1 that logs the host names it is asked
to connect to. OpenSSH's sshd (``sshd.py``), when installed, is an ssh server on
127.0.0.1 for the ssh cases; ``Mta.sshd`` is None without it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import oauth_provider
import sshd as sshd_mod

DOMAIN = "e2e.test"
USER = "alice"
PASSWORD = "alicepw"
# Recipients the server refuses at RCPT time, and how.
REJECT_5XX = f"reject@{DOMAIN}"
REJECT_4XX = f"tempfail@{DOMAIN}"
# The only users Dovecot's LMTP server knows.
LMTP_USERS = (f"lmtp-a@{DOMAIN}", f"lmtp-b@{DOMAIN}")
NOBODY_UID = 65534


class SetupError(Exception):
    """The MTA could not be brought up; the message says which step failed."""


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60, **kw)


def _start_daemon(argv: list[str], what: str, log: Path) -> None:
    """Run a command that daemonizes. Its output goes to a file, not a pipe: a
    daemon that keeps an inherited pipe open would block us reading it."""
    with open(log, "ab") as f:
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                            timeout=60).returncode
    if rc != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SetupError(f"{what}: {' '.join(argv)} exited {rc}: {tail.strip()}")


def _must(argv: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    r = _run(argv, **kw)
    if r.returncode != 0:
        raise SetupError(f"{what}: {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def _start_daemon_quiet(argv: list[str]) -> None:
    try:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        pass


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int, taken: set[int]) -> int:
    """The preferred port if it is free on 127.0.0.1, else a free one the kernel picks."""
    if preferred not in taken and port_is_free(preferred):
        taken.add(preferred)
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Mta:
    """Postfix (submission with STARTTLS + SMTPS) and Dovecot SASL under ``root``."""

    def __init__(self, root: Path, submission_port: int, smtps_port: int, plain_port: int,
                 lmtp_port: int, cleartext_auth_port: int = 0, socks_port: int = 0,
                 ssh_port: int = 0):
        self.root = root
        # The ssh server (sshd.py), once started; ssh_missing says why not.
        self.ssh_port = ssh_port
        self.sshd: sshd_mod.Sshd | None = None
        self.ssh_missing = "no ssh port"
        # AUTH without TLS (Postfix offers every mechanism there, PLAIN included).
        self.cleartext_auth_port = cleartext_auth_port
        self.socks_port = socks_port
        self.socks_log = root / "microsocks.log"
        self.socks_proc: subprocess.Popen | None = None
        self.lmtp_port = lmtp_port
        self.lmtp_home = root / "lmtp"
        self.submission_port = submission_port
        self.smtps_port = smtps_port
        self.plain_port = plain_port
        self.tls = root / "tls"
        self.ca_cert = self.tls / "ca.crt"
        self.other_ca_cert = self.tls / "other-ca.crt"
        self.pf_conf = root / "postfix-etc"
        self.pf_queue = root / "postfix-spool"
        self.pf_data = root / "postfix-data"
        self.pf_log = root / "postfix.log"
        self.dc_conf = root / "dovecot" / "dovecot.conf"
        self.dc_base = root / "dovecot" / "run"
        self.dc_log = root / "dovecot.log"
        self.mail = root / "mail"
        self.postfix_started = False
        self.dovecot_started = False
        self._delivered_to: dict[str, str] = {}
        # The fake OAuth2 provider (oauth_provider.py): Dovecot checks XOAUTH2/OAUTHBEARER
        # tokens with it.
        self.oauth = oauth_provider.Provider()

    # ------------------------------------------------------------ setup --

    def make_certs(self) -> None:
        """A CA, a server certificate for 127.0.0.1/localhost signed by it, and
        an unrelated second CA (for the "untrusted certificate" case)."""
        self.tls.mkdir(mode=0o755)
        t = str(self.tls)
        for ca in ("ca", "other-ca"):
            _must(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-keyout", f"{t}/{ca}.key", "-out", f"{t}/{ca}.crt",
                   "-subj", f"/CN=postie e2e {ca}",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"], "CA certificate")
        _must(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{t}/server.key",
               "-out", f"{t}/server.csr", "-subj", "/CN=localhost"], "server CSR")
        (self.tls / "server.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _must(["openssl", "x509", "-req", "-in", f"{t}/server.csr", "-CA", f"{t}/ca.crt",
               "-CAkey", f"{t}/ca.key", "-CAcreateserial", "-days", "2",
               "-extfile", f"{t}/server.ext", "-out", f"{t}/server.crt"], "server certificate")
        os.chmod(self.tls / "server.key", 0o600)

    def write_dovecot(self) -> None:
        d = self.dc_conf.parent
        d.mkdir(mode=0o755)
        users = d / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        os.chmod(users, 0o644)
        # LMTP mailboxes: only the listed users exist, anyone else is refused
        # at RCPT time.
        self.lmtp_home.mkdir(mode=0o755)
        os.chown(self.lmtp_home, NOBODY_UID, NOBODY_UID)
        lmtp_users = d / "lmtp-users"
        lmtp_users.write_text("".join(
            f"{u}::{NOBODY_UID}:{NOBODY_UID}::{self.lmtp_home}/{u}::\n" for u in LMTP_USERS))
        os.chmod(lmtp_users, 0o644)
        self.dc_conf.write_text(f"""\
# Dovecot as the SASL server for Postfix (socket inside Postfix's private
# queue directory) and as an LMTP server on 127.0.0.1 without TLS.
protocols = lmtp
listen = 127.0.0.1
base_dir = {self.dc_base}
state_dir = {d}/state
log_path = {self.dc_log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 xoauth2 oauthbearer
postmaster_address = postmaster@{DOMAIN}
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
{self.oauth.dovecot_conf(d / "dovecot-oauth2.conf.ext")}userdb {{
  driver = passwd-file
  args = username_format=%u {lmtp_users}
}}
service auth {{
  unix_listener {self.pf_queue}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
""")

    def write_postfix(self) -> None:
        self.pf_conf.mkdir(mode=0o755)
        self.mail.mkdir(mode=0o755)
        os.chown(self.mail, NOBODY_UID, NOBODY_UID)
        c = self.pf_conf
        # One catch-all Maildir per domain; every recipient gets its own file
        # with its own Delivered-To header, which is how tests tell them apart
        # (virtual(8) does not allow regexp substitution, so no per-user dirs).
        (c / "vmailbox").write_text(f"@{DOMAIN} {DOMAIN}/\n@localhost localhost/\n")
        (c / "rcpt_access").write_text(
            f"{REJECT_5XX} REJECT e2e suite refuses this recipient\n"
            f"{REJECT_4XX} 450 4.2.0 e2e suite defers this recipient\n")
        (c / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.pf_queue}
data_directory = {self.pf_data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {self.root}
maillog_file = {self.pf_log}
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_banner = $myhostname ESMTP postie-e2e
biff = no
alias_maps =
alias_database =
# Never rewrite or complete headers of submitted mail: what arrives in the
# Maildir is what the sendmail program sent (plus the trace headers).
local_header_rewrite_clients =
remote_header_rewrite_domain =
# Keep Bcc and Resent-Bcc (Postfix drops them by default), so that a Bcc
# header the sendmail program failed to remove shows up in the Maildir.
message_drop_headers = content-length, return-path
# Nothing leaves the machine: only the two virtual domains are accepted.
default_transport = error:the e2e MTA never relays
relay_transport = error:the e2e MTA never relays
local_transport = error:the e2e MTA has no local delivery
virtual_mailbox_domains = {DOMAIN}, localhost
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = texthash:{c}/vmailbox
virtual_uid_maps = static:{NOBODY_UID}
virtual_gid_maps = static:{NOBODY_UID}
virtual_mailbox_limit = 0
message_size_limit = 52428800
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
    check_recipient_access texthash:{c}/rcpt_access,
    permit_sasl_authenticated, reject
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = yes
smtpd_tls_security_level = may
smtpd_tls_cert_file = {self.tls}/server.crt
smtpd_tls_key_file = {self.tls}/server.key
smtpd_tls_received_header = yes
# Fail fast in tests instead of tarpitting after errors.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
""")
        cleartext = ""
        if self.cleartext_auth_port:
            cleartext = (f"127.0.0.1:{self.cleartext_auth_port} inet n - n - - smtpd\n"
                         "  -o syslog_name=postfix/cleartext\n"
                         "  -o smtpd_tls_security_level=none\n"
                         "  -o smtpd_tls_auth_only=no\n")
        # No chroot anywhere (the queue directory is private to this run).
        (c / "master.cf").write_text(f"""\
127.0.0.1:{self.submission_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
127.0.0.1:{self.smtps_port} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
127.0.0.1:{self.plain_port} inet n - n - - smtpd
  -o syslog_name=postfix/plain
{cleartext}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")

    def start(self) -> None:
        self.root.chmod(0o755)  # postfix and nobody must traverse it
        self.make_certs()
        self.oauth.start(self.tls / "server.crt", self.tls / "server.key")
        self.write_postfix()
        self.write_dovecot()
        self.pf_queue.mkdir(mode=0o755)
        self.pf_data.mkdir(mode=0o700)
        shutil.chown(self.pf_data, "postfix")
        self.pf_log.touch()
        _must(["postfix", "-c", str(self.pf_conf), "check"], "postfix check")
        self.postfix_started = True  # even a failed start may leave a master behind
        _start_daemon(["postfix", "-c", str(self.pf_conf), "start"], "postfix start",
                      self.root / "postfix-start.out")
        self.dovecot_started = True
        _start_daemon(["dovecot", "-c", str(self.dc_conf)], "dovecot start",
                      self.root / "dovecot-start.out")
        self.start_socks()
        self.start_sshd()
        ports = [self.submission_port, self.smtps_port, self.plain_port, self.lmtp_port]
        ports += [p for p in (self.cleartext_auth_port,) if p]
        if self.socks_proc:
            ports.append(self.socks_port)
        for port in ports:
            if not wait_for_port(port, 20):
                raise SetupError(f"postfix does not answer on 127.0.0.1:{port}; "
                                 f"log:\n{self.log_tail()}")
        deadline = time.monotonic() + 20
        while not (self.pf_queue / "private" / "auth").exists():
            if time.monotonic() > deadline:
                raise SetupError(f"dovecot auth socket missing; log:\n{self.log_tail()}")
            time.sleep(0.1)

    def start_sshd(self) -> None:
        """OpenSSH's sshd on 127.0.0.1:ssh_port (see sshd.py), if installed."""
        if not self.ssh_port:
            return
        missing = sshd_mod.available()
        if missing:
            self.ssh_missing = missing
            return
        server = sshd_mod.Sshd(self.root, self.ssh_port)
        self.sshd = server  # stopped by stop() even if the start fails half-way
        try:
            server.start()
        except (sshd_mod.SshdError, OSError, subprocess.SubprocessError) as e:
            raise SetupError(f"sshd: {e}") from e

    def start_socks(self) -> None:
        """microsocks on 127.0.0.1 (not a daemon: it stays our child). It resolves
        the host names clients send it and logs `connected to HOST:PORT`."""
        exe = shutil.which("microsocks")
        if not self.socks_port or exe is None:
            return
        with open(self.socks_log, "ab") as log:
            self.socks_proc = subprocess.Popen(
                [exe, "-i", "127.0.0.1", "-p", str(self.socks_port)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    # ---------------------------------------------------------- teardown --

    def stop(self) -> None:
        self.oauth.stop()
        if self.sshd is not None:
            self.sshd.stop()
        if self.socks_proc is not None:
            self.socks_proc.terminate()
            try:
                self.socks_proc.wait(5)
            except subprocess.TimeoutExpired:
                self.socks_proc.kill()
                self.socks_proc.wait(5)
            self.socks_proc = None
        if self.postfix_started:
            _start_daemon_quiet(["postfix", "-c", str(self.pf_conf), "stop"])
            self._kill_pidfile(self.pf_queue / "pid" / "master.pid")
            self.postfix_started = False
        if self.dovecot_started:
            _start_daemon_quiet(["doveadm", "-c", str(self.dc_conf), "stop"])
            self._kill_pidfile(self.dc_base / "master.pid")
            self.dovecot_started = False

    @staticmethod
    def _kill_pidfile(pidfile: Path) -> None:
        """Make sure the master process named in pidfile is gone (it was ours)."""
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)
            if sig is not None:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    return

    # ----------------------------------------------------------- queries --

    def sasl_method(self, queue_id: str) -> str | None:
        """The SASL mechanism Postfix logged for the message with this queue ID."""
        pat = re.compile(rf"\b{re.escape(queue_id)}: client=.*\bsasl_method=([A-Z0-9-]+)")
        for line in self.pf_log.read_text(errors="replace").splitlines():
            m = pat.search(line)
            if m:
                return m.group(1)
        return None

    def socks_connects(self) -> list[str]:
        """The `HOST:PORT` targets the SOCKS proxy connected to, in order."""
        try:
            text = self.socks_log.read_text(errors="replace")
        except OSError:
            return []
        return re.findall(r"connected to (\S+)", text)

    def log_tail(self, n: int = 30) -> str:
        out = []
        for f in (self.pf_log, self.dc_log):
            try:
                out += [f"[{f.name}] {l}" for l in f.read_text(errors="replace").splitlines()[-n:]]
            except OSError:
                pass
        return "\n".join(out)

    def messages(self, address: str) -> list[bytes]:
        """Raw bytes of every message delivered to address, oldest first."""
        domain = address.rpartition("@")[2]
        files = []
        for sub in ("new", "cur"):
            p = self.mail / domain / sub
            if p.is_dir():
                files += [f for f in p.iterdir() if f.is_file()]
        out = []
        for f in files:
            rcpt = self._delivered_to.get(f.name)
            if rcpt is None:
                with open(f, "rb") as fh:
                    head = fh.read(4096)
                m = re.search(rb"^Delivered-To: (\S+)$", head, re.M | re.I)
                rcpt = m.group(1).decode(errors="replace").lower() if m else ""
                self._delivered_to[f.name] = rcpt
            if rcpt == address.lower():
                out.append(f)
        out.sort(key=lambda f: (f.stat().st_mtime_ns, f.name))
        return [f.read_bytes() for f in out]

    def lmtp_messages(self, user: str) -> list[bytes]:
        """Raw bytes of every message Dovecot's LMTP server stored for user."""
        files = []
        for sub in ("new", "cur"):
            p = self.lmtp_home / user / "Maildir" / sub
            if p.is_dir():
                files += [f for f in p.iterdir() if f.is_file()]
        files.sort(key=lambda f: (f.stat().st_mtime_ns, f.name))
        return [f.read_bytes() for f in files]

    def count(self, address: str) -> int:
        return len(self.messages(address))

    def bounced(self, address: str) -> str | None:
        """The Postfix log line if mail to address bounced or was deferred."""
        pat = re.compile(rf"to=<{re.escape(address)}>.*status=(bounced|deferred)", re.I)
        try:
            for line in self.pf_log.read_text(errors="replace").splitlines():
                if pat.search(line):
                    return line
        except OSError:
            pass
        return None

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[bytes]:
        """Wait until address has at least count messages; returns what it has.

        Called after the sendmail program has exited, so whatever Postfix
        accepted is already in its queue: once the queue is empty, the
        Maildir is final and waiting longer cannot help (the timeout is
        only a backstop)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(address)
            if len(msgs) >= count or time.monotonic() > deadline or self.bounced(address):
                return msgs
            if self.queue_empty():
                return self.messages(address)
            time.sleep(0.05)

    def queue_empty(self) -> bool:
        r = _run(["postqueue", "-c", str(self.pf_conf), "-j"])
        return r.returncode == 0 and not r.stdout.strip()

    def wait_queue_empty(self, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_empty():
                return True
            time.sleep(0.2)
        return False
