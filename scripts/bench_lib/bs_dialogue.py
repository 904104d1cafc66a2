"""Figure (h): N messages in one `postie -bs` dialogue against N postie processes.

What a PHP application gets from Symfony Mailer's default `sendmail -bs`: one postie process
and one upstream session (STARTTLS and AUTH once, RSET between messages) for the whole
dialogue, where a sendmail run per message pays process start, configuration, TCP, TLS and
AUTH every time. Both rows are postie's, run alternately; msmtp refuses -bs (exit 64), and
its processes are figure (a).

The dialogue is a file on stdin, written once: EHLO, then per message MAIL, RCPT, DATA, the
message (CRLF, dot-stuffed) and the final dot, then QUIT, all pipelined, as a client that
never waits would send it. postie still relays every command upstream in order and waits
for each reply there, so the upstream round trips are those of a real client.
"""

import os
import statistics
import sys
import time

from . import messages


def write_dialogue(path, message_path, count):
    """The -bs input for `count` copies of the message; returns its size."""
    with open(message_path, "rb") as f:
        msg = f.read()
    data = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n"
                    for line in msg.rstrip(b"\n").split(b"\n"))
    one = (b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (messages.FROM.encode(),
                                                          messages.RCPT.encode())
           + data + b".\r\n")
    with open(path, "wb") as f:
        f.write(b"EHLO bench.example\r\n")
        for _ in range(count):
            f.write(one)
        f.write(b"QUIT\r\n")
    return os.path.getsize(path)


def scenario_h(bench, count):
    """postie only: one -bs dialogue and `count` postie processes, alternately (the order
    swapped every repeat). msmtp's column is n/a: it refuses -bs, and (a) measures its
    processes."""
    label = "(h) %d x %d B, STARTTLS+AUTH" % (count, bench.small_size)
    bs_wall = bench.figure("h.bs.wall", label + ", one -bs dialogue: wall", "s")
    bs_cpu = bench.figure("h.bs.cpu", label + ", one -bs dialogue: client CPU", "s")
    bs_rss = bench.figure("h.bs.rss", label + ", one -bs dialogue: peak RSS", "MiB")
    proc_wall = bench.figure("h.proc.wall", label + ", %d processes: wall" % count, "s")
    proc_cpu = bench.figure("h.proc.cpu", label + ", %d processes: client CPU" % count, "s")
    for f in (bs_wall, bs_cpu, bs_rss):
        f.na_prog["msmtp"] = "refuses -bs"
    for f in (proc_wall, proc_cpu):
        f.na_prog["msmtp"] = "see (a)"
    if bench.args.self_test:
        for f in (bs_wall, bs_cpu, bs_rss, proc_wall, proc_cpu):
            f.na = "postie only"
        return
    if not bench.spawn.exact_rss:
        bs_rss.na = "no C compiler for the launcher"
    dialogue = os.path.join(bench.tmp, "bs-%d.smtp" % count)
    write_dialogue(dialogue, bench.small, count)
    postie = bench.progs[0][1]

    def dialogue_run():
        s = bench.spawn.once([postie, "-C", bench.rc, "-a", "tls", "-bs"], dialogue,
                             bench.env, bench.err)
        st = bench.sink.stats()
        bench.check_messages(st, count, bench.small_size, "tls", "(h) postie -bs")
        if len(st["sessions"]) != 1:
            raise RuntimeError("(h) postie -bs used %d upstream sessions, expected 1"
                               % len(st["sessions"]))
        bs_wall.values["postie"].append(s.wall)
        bs_cpu.values["postie"].append(s.cpu)
        bs_rss.values["postie"].append(s.maxrss_kb / 1024.0)
        bench.record_sink("(h) one -bs dialogue", "postie", st, s)

    def processes_run():
        s = bench.spawn.batch(bench.argv(postie, "tls"), bench.small, bench.env, bench.err,
                              count)
        st = bench.sink.stats()
        bench.check_sessions(st, count, bench.small_size, "tls", "(h) postie processes")
        proc_wall.values["postie"].append(s.wall)
        proc_cpu.values["postie"].append(s.cpu)
        bench.record_sink("(h) %d processes" % count, "postie", st, s)

    runs = [("-bs dialogue", dialogue_run), ("processes", processes_run)]
    for r in range(bench.args.repeats):
        for what, fn in (runs if r % 2 == 0 else runs[::-1]):
            t0 = time.perf_counter()
            fn()
            bench_log("  (h): postie %s run %d/%d done in %.2f s"
                      % (what, r + 1, bench.args.repeats, time.perf_counter() - t0))
    med = statistics.median
    bench.notes.append(
        "(h) postie: one -bs dialogue takes %.1f%% of the wall time and %.1f%% of the CPU time "
        "of %d postie processes (medians)"
        % (100 * med(bs_wall.values["postie"]) / med(proc_wall.values["postie"]),
           100 * med(bs_cpu.values["postie"]) / med(proc_cpu.values["postie"]), count))


def bench_log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()
