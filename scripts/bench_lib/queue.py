"""Figure (e): flushing a queue of N messages, postie vs msmtpq (msmtp's queue script).

Each driver has two steps:
  populate(qdir, n, message, client_args)  -- put n queued messages into qdir (untimed)
  flush_argv(qdir) -> (argv, extra_env)     -- the command that sends them all (timed)
The benchmark checks afterwards that the sink received n messages.

"""

import os
import subprocess
import time

MSMTPQ = "/usr/libexec/msmtp/msmtpq/msmtpq"


class MsmtpqQueue:
    """msmtpq from msmtp 1.8.23: QUEUE/ID.mail + QUEUE/ID.msmtp, flushed by `--q-mgmt -r`."""

    def __init__(self, msmtp, msmtpq=MSMTPQ):
        self.msmtp = msmtp
        self.msmtpq = msmtpq

    def available(self):
        return os.access(self.msmtpq, os.X_OK) or os.path.isfile(self.msmtpq)

    def populate(self, qdir, n, message, client_args):
        os.makedirs(qdir, mode=0o700, exist_ok=True)
        with open(message, "rb") as f:
            body = f.read()
        stamp = time.strftime("%Y-%m-%d-%H.%M.%S")
        # msmtpq replays `$MSMTP $(< ID.msmtp)`: the arguments are word-split again, so they
        # must not contain spaces (the temp dir is chosen without any).
        args = " ".join(client_args) + "\n"
        for i in range(n):
            ident = "%s-%04d" % (stamp, i)
            with open(os.path.join(qdir, ident + ".mail"), "wb") as f:
                f.write(body)
            with open(os.path.join(qdir, ident + ".msmtp"), "w") as f:
                f.write(args)

    def flush_argv(self, qdir, logfile):
        env = {
            "MSMTP": self.msmtp,
            "MSMTPQ_Q": qdir,
            "MSMTPQ_LOG": logfile,
            "EMAIL_CONN_TEST": "x",  # no ping to debian.org
            "EMAIL_QUEUE_QUIET": "t",
        }
        return ["/bin/bash", self.msmtpq, "--q-mgmt", "-r"], env

    def remaining(self, qdir):
        return len([n for n in os.listdir(qdir) if n.endswith(".mail")])


class PostieQueue:
    """postie's own queue: `postie -odq ARGS < mail` stores a message without connecting,
    `postie -q` flushes every queued message (one connection per account, RSET between
    messages). XDG_STATE_HOME points the default queue directory into qdir."""

    def __init__(self, postie):
        self.postie = postie

    def available(self):
        return os.access(self.postie, os.X_OK)

    def _env(self, qdir):
        env = dict(os.environ)
        env["XDG_STATE_HOME"] = os.path.abspath(qdir)
        return env

    def populate(self, qdir, n, message, client_args):
        os.makedirs(qdir, mode=0o700, exist_ok=True)
        env = self._env(qdir)
        with open(message, "rb") as f:
            body = f.read()
        for _ in range(n):
            r = subprocess.run([self.postie, "-odq"] + list(client_args), input=body, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise RuntimeError("postie -odq failed: %s" % r.stderr.decode(errors="replace"))

    def flush_argv(self, qdir, logfile):
        return [self.postie, "-q"], {"XDG_STATE_HOME": os.path.abspath(qdir)}

    def remaining(self, qdir):
        d = os.path.join(qdir, "postie", "queue")
        if not os.path.isdir(d):
            return 0
        return len([n for n in os.listdir(d) if n.endswith(".toml")])
