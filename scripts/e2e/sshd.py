"""A private OpenSSH server on 127.0.0.1 for the e2e suite's ssh cases.

Everything is under ``<root>/ssh``: a host key made for this run, the server's
config, its ``authorized_keys`` and log, the client keys and a ``known_hosts``
that names exactly this host key (so the client checks it, in ``BatchMode``,
as a real set-up would). ``/usr/sbin/sshd -D`` stays our child process; the
only thing outside the scratch directory it needs is the privilege separation
directory ``/run/sshd``, created if missing. The login user is the one running
the suite (root): ``PermitRootLogin prohibit-password``, keys only, no PAM.

Reusable for other cases: :meth:`Sshd.key` makes a client key whose
``authorized_keys`` line carries the options the caller chooses, typically a
forced command (``command="/usr/sbin/sendmail -bs",restrict``);
:meth:`Sshd.ssh_command` is the ``ssh`` command line that logs in with it (for
``proxy_command``/``pipe_command``), and :meth:`Sshd.run` runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


class SshdError(Exception):
    """The ssh server could not be brought up; the message says why."""


def available() -> str | None:
    """None if the server and the client are installed, else what is missing."""
    missing = [p for p in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen"))
               if p is None or not os.path.exists(p)]
    return None if not missing else "openssh-server/openssh-client not installed " \
        "(run .ci/install-packages)"


def _keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at path (no passphrase); returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, capture_output=True, stdin=subprocess.DEVNULL,
                   timeout=30)
    return path.with_suffix(".pub").read_text().strip()


class Sshd:
    """OpenSSH's sshd on 127.0.0.1:port, keys only, as the user running the suite."""

    def __init__(self, root: Path, port: int):
        self.dir = root / "ssh"
        self.port = port
        self.config = self.dir / "sshd_config"
        self.host_key = self.dir / "host_ed25519"
        self.authorized_keys = self.dir / "authorized_keys"
        self.known_hosts = self.dir / "known_hosts"
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen | None = None
        self._keys: dict[str, Path] = {}
        self.user = os.environ.get("USER") or "root"
        if os.geteuid() == 0:
            self.user = "root"

    def start(self) -> None:
        self.dir.mkdir(mode=0o700)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        host_pub = _keygen(self.host_key, "postie e2e host key")
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub}\n")
        self.authorized_keys.write_text("")
        os.chmod(self.authorized_keys, 0o600)
        # StrictModes no: the scratch directory lies under the world-writable /tmp.
        self.config.write_text(f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile {self.authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 100
LogLevel VERBOSE
""")
        test = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=30)
        if test.returncode != 0:
            raise SshdError(f"sshd -t: {test.stderr.strip()}")
        self.proc = subprocess.Popen([SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise SshdError(f"sshd exited {self.proc.returncode}: {self.log_tail()}")
            r = self.run(self.key(None), "true")
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                why = r.stderr.decode(errors="replace").strip()
                raise SshdError(f"cannot log in: {why}; {self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def key(self, forced: str | None, options: str = "restrict") -> Path:
        """A client key that may log in, its authorized_keys line carrying `options`
        and, unless forced is None, `command="FORCED"` (the command the server runs
        whatever the client asks for; the client's is in SSH_ORIGINAL_COMMAND). The
        same (forced, options) gives the same key. `options` "" allows everything."""
        label = f"{forced!r} {options!r}"
        if label in self._keys:
            return self._keys[label]
        path = self.dir / f"client{len(self._keys)}"
        pub = _keygen(path, "postie e2e client")
        opts = [o for o in (options, ) if o]
        if forced is not None:
            opts.insert(0, 'command="' + forced.replace("\\", "\\\\").replace('"', '\\"') + '"')
        with open(self.authorized_keys, "a") as f:
            f.write((",".join(opts) + " " if opts else "") + pub + "\n")
        self._keys[label] = path
        return path

    def unauthorized_key(self) -> Path:
        """A client key the server does not know (its login is refused)."""
        path = self.dir / "stranger"
        if not path.exists():
            _keygen(path, "not authorized")
        return path

    def ssh_argv(self, key: Path, *options: str) -> list[str]:
        """ssh to this server with `key` only, checking the host key against the
        suite's known_hosts, never prompting (BatchMode), no user config, no agent;
        `options` (such as "-W", "%h:%p") go before the destination."""
        return ["ssh", "-F", "/dev/null", "-i", str(key), "-p", str(self.port),
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", *options,
                f"{self.user}@127.0.0.1"]

    def ssh_command(self, key: Path, *options: str) -> str:
        """:meth:`ssh_argv` as one shell command line (for an msmtprc); `%` escapes
        in options are left for postie."""
        return shlex.join(self.ssh_argv(key, *options))

    def run(self, key: Path, remote: str, stdin: bytes = b"",
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Logs in with `key` and runs `remote` (or the key's forced command)."""
        return subprocess.run(self.ssh_argv(key) + [remote], input=stdin, capture_output=True,
                              timeout=timeout)

    def accepted(self) -> int:
        """How many logins the server accepted so far."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return len(re.findall(r"Accepted publickey for ", text))

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no sshd log)"
