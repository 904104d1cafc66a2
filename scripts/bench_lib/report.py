"""Statistics and the two renderings of the results: an aligned text table and Markdown."""

import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field

PROGS = ("postie", "msmtp")


@dataclass
class Figure:
    """One row of the table: samples per program, or a reason why there are none."""

    key: str
    label: str
    unit: str  # "s", "MiB", "n"
    values: dict = field(default_factory=lambda: {p: [] for p in PROGS})
    na: str = ""  # non-empty: the whole row is "n/a (...)"
    na_prog: dict = field(default_factory=dict)  # per-program "n/a" reason


def summary(values):
    """(min, median, max) of a non-empty list, else None."""
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def ratio(fig):
    """postie median / msmtp median, or None when either is missing or msmtp's is 0."""
    a, b = summary(fig.values["postie"]), summary(fig.values["msmtp"])
    if a is None or b is None or b[1] == 0:
        return None
    return a[1] / b[1]


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "n":
        return "%g" % value
    if unit == "MiB":
        return "%.1f" % value
    if unit == "%":
        return "%.0f%%" % value
    if value >= 100:
        return "%.1f" % value
    if value >= 10:
        return "%.2f" % value
    return "%.3f" % value


HEAD = ["figure", "unit", "postie min", "median", "max", "msmtp min", "median", "max",
        "postie/msmtp"]


def rows(figures):
    out = []
    for f in figures:
        if f.na:
            out.append([f.label, f.unit, "n/a (%s)" % f.na] + [""] * 6)
            continue
        row = [f.label, f.unit]
        for p in PROGS:
            s = summary(f.values[p])
            if s is None:
                row += ["n/a (%s)" % f.na_prog.get(p, "no data"), "", ""]
            else:
                row += [fmt(v, f.unit) for v in s]
        r = ratio(f)
        row.append("-" if r is None else "%.2f" % r)
        out.append(row)
    return out


def text_table(head, body):
    """Aligned plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    # A long "n/a (...)" cell spills over the empty cells after it instead of widening them.
    lines = []
    for r in [head] + body:
        cells = []
        for i, c in enumerate(r):
            cells.append(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]))
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_escape(cell):
    return cell.replace("|", "\\|")


def md_table(head, body):
    lines = ["| " + " | ".join(md_escape(c) for c in head) + " |",
             "|" + "|".join([" --- "] + [" ---: "] * (len(head) - 1)) + "|"]
    for r in body:
        lines.append("| " + " | ".join(md_escape(c) for c in r) + " |")
    return "\n".join(lines)


def _run(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=10).stdout.decode(errors="replace").strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info():
    """What the figures were measured on, read at run time."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = ""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": _run(["nproc"]) or str(os.cpu_count()),
        "cpu": model,
        "free": _run(["free", "-h"]),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": load,
    }


def header_lines(info, setup):
    """Key/value lines describing machine and set-up (shared by both renderings)."""
    out = [
        ("date", info["date"]),
        ("nproc", info["nproc"]),
        ("CPU", info["cpu"]),
        ("kernel", info["kernel"]),
        ("load average at start", info["loadavg"]),
        ("python (driver, sink)", info["python"]),
    ]
    out += setup
    return out


def render_text(info, setup, figures, sink_rows, notes):
    parts = []
    for k, v in header_lines(info, setup):
        parts.append("%-24s %s" % (k + ":", v))
    parts.append("free -h:")
    parts += ["  " + l for l in info["free"].splitlines()]
    parts.append("")
    parts.append(text_table(HEAD, rows(figures)))
    if sink_rows:
        parts.append("")
        parts.append(SINK_TITLE)
        parts.append(text_table(SINK_HEAD, sink_rows))
    if notes:
        parts.append("")
        parts += notes
    return "\n".join(parts) + "\n"


def render_markdown(info, setup, figures, sink_rows, notes):
    parts = ["## Results", ""]
    for k, v in header_lines(info, setup):
        parts.append("- **%s**: %s" % (k, v))
    parts.append("- **free -h**:")
    parts.append("")
    parts.append("  ```")
    parts += ["  " + l for l in info["free"].splitlines()]
    parts.append("  ```")
    parts.append("")
    parts.append(md_table(HEAD, rows(figures)))
    if sink_rows:
        parts.append("")
        parts.append(SINK_TITLE)
        parts.append("")
        parts.append(md_table(SINK_HEAD, sink_rows))
    if notes:
        parts.append("")
        parts += ["- " + n for n in notes]
    return "\n".join(parts) + "\n"


SINK_TITLE = ("Sink check (medians per run; \"worst\" is the highest sink CPU/wall of any run; "
              "the sink has a core of its own, so it is not the bottleneck while that stays "
              "well below 100%):")

SINK_HEAD = ["scenario", "client", "runs", "client wall [s]", "client CPU/wall",
             "sink CPU [s]", "sink CPU/wall", "worst"]


def sink_rows(sink_samples):
    """Medians per (scenario, program) of the sink's CPU and the client's wall and CPU.

    sink_samples: {(scenario, prog): [(sink_cpu, client_wall, client_cpu), ...]}. The sink was
    not the bottleneck when "sink CPU/wall" stays well below 100% (it has its own core), and
    in particular when it is below "client CPU/wall" for the big-message runs.
    """
    out = []
    for (scen, prog), runs in sink_samples.items():
        if not runs:
            continue
        sink = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        worst = max((r[0] / r[1]) if r[1] > 0 else 0.0 for r in runs)
        pct = (lambda a, b: "%.0f%%" % (100 * a / b) if b > 0 else "-")
        out.append([scen, prog, str(len(runs)), fmt(wall, "s"), pct(cpu, wall), fmt(sink, "s"),
                    pct(sink, wall), "%.0f%%" % (100 * worst)])
    return out
