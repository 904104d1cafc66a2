"""Running the clients and the sink: spawn + wait4 for exact per-child rusage."""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Sample:
    """One client run (or the sum over a batch of runs)."""

    wall: float = 0.0  # seconds, spawn to reap
    user: float = 0.0  # seconds (ru_utime)
    sys: float = 0.0  # seconds (ru_stime)
    maxrss_kb: int = 0  # max over the runs (ru_maxrss, KiB on Linux)
    runs: int = 0

    @property
    def cpu(self):
        return self.user + self.sys

    def add(self, other):
        self.wall += other.wall
        self.user += other.user
        self.sys += other.sys
        self.maxrss_kb = max(self.maxrss_kb, other.maxrss_kb)
        self.runs += other.runs


class ClientFailed(RuntimeError):
    pass


def run_client(argv, stdin_path, env, err_path):
    """Run argv once with stdin from a file; return its Sample. Raises ClientFailed on exit != 0.

    The fallback when the C launcher is unavailable: posix_spawn + os.wait4 give exact CPU
    time, but ru_maxrss includes this Python process's RSS (see launch.c), so it is unusable.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise ClientFailed("%s exited with %d:\n%s" % (" ".join(argv), code, read_err(err_path)))
    return Sample(wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, 1)


def run_batch(argv, stdin_path, env, err_path, count):
    """Run argv `count` times back to back; the Sample's wall is the batch's wall time."""
    total = Sample()
    t0 = time.perf_counter()
    for _ in range(count):
        total.add(run_client(argv, stdin_path, env, err_path))
    total.wall = time.perf_counter() - t0
    return total


class Spawner:
    """Runs the measured clients, through the small C launcher (launch.c) when it compiles.

    With the launcher, peak RSS is exact (see launch.c for why spawning from Python is not)
    and batch wall times exclude Python's own spawn overhead. Without a C compiler it falls
    back to posix_spawn from Python, and `exact_rss` is False: the caller must not report RSS.
    """

    def __init__(self, tmp, cc=None):
        self.launcher = None
        self.why = ""
        src = os.path.join(HERE, "launch.c")
        out = os.path.join(tmp, "launch")
        compiler = cc or os.environ.get("CC") or "cc"
        try:
            r = subprocess.run([compiler, "-O2", "-o", out, src], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            if r.returncode == 0:
                self.launcher = out
            else:
                self.why = "%s failed: %s" % (compiler, r.stdout.decode(errors="replace")[:500])
        except (OSError, subprocess.SubprocessError) as e:
            self.why = "cannot run %s: %s" % (compiler, e)

    @property
    def exact_rss(self):
        return self.launcher is not None

    def batch(self, argv, stdin_path, env, err_path, count):
        """Run argv `count` times in a row; return the summed Sample, wall = the batch's."""
        if self.launcher is None:
            return run_batch(argv, stdin_path, env, err_path, count)
        r = subprocess.run([self.launcher, str(count), stdin_path, err_path] + argv,
                           stdout=subprocess.PIPE, env=env)
        total = Sample()
        batch_wall = None
        for line in r.stdout.decode().splitlines():
            f = line.split()
            if f[0] == "run":
                code = int(f[5])
                if code != 0:
                    raise ClientFailed("%s exited with %d:\n%s"
                                       % (" ".join(argv), code, read_err(err_path)))
                total.add(Sample(int(f[1]) / 1e9, int(f[2]) / 1e6, int(f[3]) / 1e6, int(f[4]),
                                 1))
            elif f[0] == "total":
                batch_wall = int(f[1]) / 1e9
        if r.returncode != 0 or batch_wall is None or total.runs != count:
            raise ClientFailed("launcher failed (status %d) running %s"
                               % (r.returncode, " ".join(argv)))
        total.wall = batch_wall
        return total

    def once(self, argv, stdin_path, env, err_path):
        return self.batch(argv, stdin_path, env, err_path, 1)


def read_err(path):
    try:
        with open(path, errors="replace") as f:
            return f.read(4000)
    except OSError:
        return ""


def capture(argv, env=None):
    """stdout of a short command, or '' if it cannot run."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=30)
        return r.stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError):
        return ""


class SinkProcess:
    """The sink (sink.py) in its own process, controlled over its stdin/stdout."""

    def __init__(self, cert, key):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "sink.py"), cert, key],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            self.close()
            raise RuntimeError("sink did not start: %r" % line)
        self.plain_port = int(line[1])
        self.tls_port = int(line[2])
        self.last_cpu = 0.0

    def stats(self):
        """Sessions since the last call, plus the sink process CPU used since then."""
        self.proc.stdin.write("STATS\n")
        self.proc.stdin.flush()
        st = json.loads(self.proc.stdout.readline())
        cpu = st["cpu_user"] + st["cpu_sys"]
        st["cpu_delta"] = cpu - self.last_cpu
        st["cpu_total"] = cpu
        self.last_cpu = cpu
        return st

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("QUIT\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
