"""Benchmarks: run them all and write bench/RESULTS.md (``make bench``)."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent / "battwatch"
sys.path.insert(0, str(ROOT / "tests"))  # helpers.Proc, servers.py (real Mosquitto, VictoriaMetrics)

sys.path.insert(0, str(HERE))  # common.py, also imported by the bench_*.py modules

from common import YEAR_ROWS, best_of, year_text  # noqa: E402


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


# a whole-process csv.reader pass over a log: the yardstick of the replay's speed
_CSV_PASS = "import csv, sys\nfor _ in csv.reader(open(sys.argv[1], newline='')): pass"
REPLAY_RUNS = 7


def _replay_trees(tmp: Path) -> list[tuple[str, Path]]:
    """The live section's trees, copied with their bytecode compiled ahead, as ``pip install``
    leaves an installed package: a user's replay does not compile the sources on every run."""
    import compileall

    out: list[tuple[str, Path]] = []
    for label, tree in _daemon_trees(tmp / "replay-plain"):  # apart from the live section's copy
        dest = tmp / f"replay-{len(out)}"
        shutil.copytree(tree / "battwatch", dest / "battwatch", ignore=shutil.ignore_patterns("__pycache__"))
        for so in tree.glob("*.so"):  # mypyc's shared module sits beside the package
            shutil.copy2(so, dest)
        compileall.compile_dir(dest, quiet=1)
        out.append((label, dest))
    return out


def _process(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s: user + system) of one whole process, start-up included."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _whole_processes(tmp: Path, log: Path, first_row: Path) -> tuple[list[str], dict[str, float]]:
    """The table rows of the whole-process comparison, and the ratios by row name.

    The commands take turns, run after run, so a burst of other work on the machine falls on
    all of them alike."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmds: list[tuple[str, list[str], dict[str, str]]] = [
        ("`python -c` csv.reader pass (the yardstick)", [sys.executable, "-c", _CSV_PASS, str(log)], env)]
    for label, tree in _replay_trees(tmp):
        tenv = {**env, "PYTHONPATH": str(tree)}
        cmds += [
            (f"`battwatch replay year.csv`, {label}", [str(BIN), "replay", str(log)], tenv),
            (f"`battwatch replay year.csv --jsonl`, {label}", [str(BIN), "replay", str(log), "--jsonl"], tenv),
            (f"start-up: `battwatch replay` of a one-row log, {label}", [str(BIN), "replay", str(first_row)], tenv),
        ]
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in cmds}
    for _, cmd, cenv in cmds:  # a first run of each, not counted: the files in the page cache
        _process(cmd, cenv)
    for _ in range(REPLAY_RUNS):
        for name, cmd, cenv in cmds:
            runs[name].append(_process(cmd, cenv))

    def figures(name: str) -> tuple[float, float, float]:
        walls = [w for w, _ in runs[name]]
        return min(walls), statistics.median(walls), statistics.median(c for _, c in runs[name])

    base = figures(cmds[0][0])
    rows, ratios = [], {}
    for name, _, _ in cmds:
        best, med, cpu = figures(name)
        ratio_best, ratio_cpu = best / base[0], cpu / base[2]
        ratios[name] = max(ratio_best, ratio_cpu)
        bold = "**" if name.startswith("`battwatch replay year.csv`") else ""
        ratio = f"{bold}{ratio_best:.1f}x{bold} | {ratio_cpu:.1f}x" if not name.startswith("start-up") else "- | -"
        rows.append(f"| {name} | {best * 1000:.0f} ms | {med * 1000:.0f} ms | {cpu * 1000:.0f} ms | {ratio} |")
    return rows, ratios


def bench_replay(tmp: Path) -> str:
    from battwatch import config
    from battwatch.core import compiled
    from battwatch.core.pipeline import Pipeline, build_pipeline
    from battwatch.replay import replay_rows

    text = year_text()
    log = tmp / "year.csv"
    log.write_text(text)
    first_row = tmp / "first-row.csv"
    first_row.write_text("".join(text.splitlines(keepends=True)[:2]))
    load_before = os.getloadavg()
    rows, ratios = _whole_processes(tmp, log, first_row)
    load_after = os.getloadavg()
    cfg = config.defaults("bench-car")

    def parse_only() -> None:
        for _ in csv.reader(io.StringIO(text)):
            pass

    def parse_and_floats() -> None:
        rd = csv.reader(io.StringIO(text))
        next(rd)
        for row in rd:
            for f in row[2:]:
                if f:
                    float(f)

    def replay_without() -> None:
        replay_rows(io.StringIO(text), Pipeline("bench-car"))

    def replay() -> None:
        res = replay_rows(io.StringIO(text), build_pipeline(cfg))
        assert res.readings == YEAR_ROWS, res.readings

    t_csv = best_of(5, parse_only)
    t_float = best_of(5, parse_and_floats)
    t_without = best_of(5, replay_without)
    t_replay = best_of(5, replay)
    res = replay_rows(io.StringIO(text), build_pipeline(cfg))
    t_pure = _pure_replay(text)
    compiled_ratio = ratios.get("`battwatch replay year.csv`, compiled")
    met = ("no compiled core to judge (make core)" if compiled_ratio is None
           else f"{compiled_ratio:.1f}x, {'met' if compiled_ratio <= 3.0 else 'NOT met'}")
    return "\n".join(
        [
            "## Replay speed (a year of 5-minute rows)",
            "",
            f"{YEAR_ROWS:,} rows from the `long-healthy-year` scenario. The standard: the whole `battwatch replay`",
            "process as a user runs it (start-up included, the command's default output, and `--jsonl`",
            "for scripts) against a whole `python -c` process that passes the same file through",
            f"`csv.reader`, same interpreter; at most 3x. Each command ran {REPLAY_RUNS} times, taking turns",
            "after one uncounted run each; wall is the best and the median run, CPU the median of the",
            "process's user + system time (less swayed by other work than wall time). The compiled rows run",
            "the core `make core` built (or the tree `BATTWATCH_BENCH_TREE` names), the plain rows the same",
            "sources without the compiled modules; both with their bytecode compiled ahead, as `pip install`",
            f"leaves them. Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after.",
            "",
            "| process | wall, best | wall, median | CPU, median | ratio (best wall) | ratio (CPU) |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Goal (at most 3x for the compiled core, on the larger of the two ratios): {met}.",
            "",
            "In memory, in this process (parse, time, vehicle state, every battery rule, alert engine;",
            "no store), best of 5 runs:",
            "",
            "| what | time | rows/s | ratio to csv.reader |",
            "|---|---|---|---|",
            f"| `csv.reader` only | {t_csv * 1000:.0f} ms | {YEAR_ROWS / t_csv:,.0f} | 1.0x |",
            f"| `csv.reader` + `float()` of every value | {t_float * 1000:.0f} ms | {YEAR_ROWS / t_float:,.0f} | {t_float / t_csv:.1f}x |",
            f"| replay pipeline without the analysis | {t_without * 1000:.0f} ms | {YEAR_ROWS / t_without:,.0f} | {t_without / t_csv:.1f}x |",
            f"| replay pipeline with the analysis | {t_replay * 1000:.0f} ms | {YEAR_ROWS / t_replay:,.0f} | {t_replay / t_csv:.1f}x |",
            f"| the same, core as plain Python | {t_pure * 1000:.0f} ms | {YEAR_ROWS / t_pure:,.0f} | {t_pure / t_csv:.1f}x |",
            "",
            f"Alert transitions in that year: {len(res.transitions)}. The in-memory rows' core is compiled with",
            f"mypyc ({'yes' if compiled() else 'NO'}); plain Python is what a Pi with less than 1 GB of RAM runs",
            "(scripts/install-pi.sh leaves the core uncompiled there).",
            "",
        ]
    )


_PURE_TIMING = """
import io, sys
sys.path.insert(0, sys.argv[2])
from common import best_of
from battwatch import config, core
from battwatch.core.pipeline import build_pipeline
from battwatch.replay import replay_rows
assert not core.compiled()
text = open(sys.argv[1]).read()
cfg = config.defaults("bench-car")
print(best_of(3, lambda: replay_rows(io.StringIO(text), build_pipeline(cfg))))
"""


def _pure_replay(text: str) -> float:
    """Best-of-3 replay time with the core's plain-Python sources (no compiled module)."""
    with tempfile.TemporaryDirectory(prefix="battwatch-pure-") as d:
        src = Path(d) / "src"
        shutil.copytree(ROOT / "daemon" / "battwatch", src / "battwatch",
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        log = Path(d) / "year.csv"
        log.write_text(text)
        out = subprocess.run([sys.executable, "-c", _PURE_TIMING, str(log), str(HERE)],
                             env={**os.environ, "PYTHONPATH": str(src)},
                             check=True, capture_output=True, text=True)
        return float(out.stdout.strip())


def bench_help() -> str:
    runs = []
    for _ in range(15):
        t0 = time.perf_counter()
        subprocess.run([str(BIN), "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return "\n".join(
        [
            "## `battwatch --help`",
            "",
            f"Wall time over 15 runs: median {statistics.median(runs) * 1000:.0f} ms, "
            f"max {max(runs) * 1000:.0f} ms (goal: under 300 ms). The subcommands import their",
            "libraries only when they run.",
            "",
        ]
    )


def _proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used, peak RSS in kB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return cpu, hwm


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


LIVE_RATE_HZ = 100.0
LIVE_SECONDS = 75.0  # more than one 60-s readings window and one 60-s housekeeping tick


def _daemon_trees(tmp: Path) -> list[tuple[str, Path]]:
    """(label, source tree) for the daemon: the core as compiled in place by ``make core``,
    and the same sources without the compiled modules (what a Pi with under 1 GB runs).

    BATTWATCH_BENCH_TREE names another tree holding a compiled core (a build made outside
    the checkout)."""
    built = Path(os.environ.get("BATTWATCH_BENCH_TREE") or ROOT / "daemon")
    plain = tmp / "plain"
    shutil.copytree(built / "battwatch", plain / "battwatch", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    trees = [("plain Python", plain)]
    if any(built.rglob("*.so")):
        trees.insert(0, ("compiled", built))
    else:
        print(f"no compiled core under {built} (make core): measuring plain Python only", flush=True)
    return trees


def _live_log(path: Path, rate_hz: float, seconds: float) -> int:
    n = int(rate_hz * seconds)
    with path.open("w") as fh:
        fh.write("time,main_v,main_v_min,main_v_max,sos_v,sos_v_min,sos_v_max,temp_c\n")
        t0 = 1735689600.0
        for i in range(n):
            v = 12.6 - (i % 100) * 1e-4
            fh.write(f"{t0 + i / rate_hz:.3f},{v:.4f},{v - 0.01:.4f},{v + 0.01:.4f},5.2,5.19,5.21,9.5\n")
    return n


# a bytecode cache elsewhere (PYTHONPYCACHEPREFIX) is the only one Python reads: the standard
# library goes into it too
_COMPILE = """
import compileall, importlib.util, re, sys, sysconfig
skip = re.compile(r"/(test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|site-packages)/")
compileall.compile_dir(sysconfig.get_paths()["stdlib"], quiet=1, rx=skip)
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    for where in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(where, quiet=1)
"""


def _installed_env(tree: Path, cache: Path) -> dict[str, str]:
    """The environment the daemon runs in here: sources from ``tree`` and their bytecode
    compiled beforehand (into ``cache``), as an installation does. A process that compiles
    its modules at every start (PYTHONDONTWRITEBYTECODE, a virtual environment without
    ``__pycache__``) keeps 4-7 MB more resident, which a Pi never pays."""
    env = {"PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": str(cache), "PYTHONDONTWRITEBYTECODE": ""}
    subprocess.run([sys.executable, "-c", _COMPILE, "battwatch", "paho", "serial"],
                   env={**os.environ, **env}, check=True)
    return env


def _live_run(tmp: Path, tree: Path, log: Path, frames: int, rate_hz: float, servers: dict[str, str] | None) -> dict[str, float]:
    """One daemon (``battwatch run``, its own process, sources from ``tree``) fed ``log`` by
    adc-sim over a pty; CPU and memory from /proc, from the first frame to the silence after
    the last. ``servers``: the MQTT and InfluxDB sinks' addresses, or None for no sinks."""
    from helpers import Proc

    run = tmp / f"run-{len(list(tmp.glob('run-*')))}"
    run.mkdir()
    link = run / "adc"
    text = (
        f'[vehicle]\nid = "bench"\n[adc]\nport = "{link}"\nsilent_after_s = 2\nframe_rate_hz = {rate_hz:g}\n'
        f'[store]\npath = "{run / "store"}"\n[logging]\nlevel = "warning"\n'
    )
    if servers is not None:
        text += (
            f'[mqtt]\nhost = "127.0.0.1"\nport = {servers["mqtt_port"]}\n'
            f'[influx]\nurl = "{servers["influx_url"]}"\napi = "v2"\norg = "bench"\nbucket = "battwatch"\n'
            'token = "bench-token"\n'
        )
    cfg = run / "live.toml"
    cfg.write_text(text)
    env = _installed_env(tree, tmp / "pycache")
    sim = Proc([str(BIN), "adc-sim", "--csv", str(log), "--speed", "1", "--link", str(link), "--wait-hello"], env=env)
    sim.wait_for("serving on")
    daemon = Proc([str(BIN), "run", "-c", str(cfg), "--log-level", "info"], env=env)
    pid = daemon.p.pid
    try:
        if servers is not None:
            daemon.wait_for("MQTT connected to")
        daemon.wait_for("ADC data flowing")
        cpu0, _ = _proc_stat(pid)
        w0 = time.perf_counter()
        samples: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append(_rss_kb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        daemon.wait_for("ADC silent for", timeout=frames / rate_hz * 3 + 30)
        wall = time.perf_counter() - w0
        cpu1, hwm = _proc_stat(pid)
        done.set()
        sampler.join()
    finally:
        daemon.stop()
        sim.signal(signal.SIGTERM)
        sim.stop()
    steady = statistics.median(samples[len(samples) // 2:]) if samples else _rss_kb(pid)
    return {"cpu_us": (cpu1 - cpu0) / frames * 1e6, "load": (cpu1 - cpu0) / wall * 100,
            "steady_mb": steady / 1024, "peak_mb": hwm / 1024}


def bench_live(tmp: Path, rate_hz: float = LIVE_RATE_HZ, seconds: float = LIVE_SECONDS) -> str:
    """The daemon as deployed: adc-sim over a pty at ``rate_hz``, with no sinks and with the
    MQTT sink on a real Mosquitto and the InfluxDB sink on a real v2 write API
    (VictoriaMetrics), for the compiled core and for plain Python."""
    from servers import start_mosquitto, start_victoriametrics

    log = tmp / "live.csv"
    frames = _live_log(log, rate_hz, seconds)
    rows = []
    with start_mosquitto(tmp / "servers") as broker, start_victoriametrics(tmp / "servers") as vm:
        servers = {"mqtt_port": str(broker.port), "influx_url": vm.url}
        for label, tree in _daemon_trees(tmp):
            for sinks, addr in (("none (store only)", None), ("MQTT + InfluxDB v2", servers)):
                print(f"  live: {label}, sinks {sinks} ...", flush=True)
                m = _live_run(tmp, tree, log, frames, rate_hz, addr)
                rows.append(f"| {label} | {sinks} | {m['cpu_us']:.0f} µs | {m['load']:.1f} % | "
                            f"{m['steady_mb']:.1f} MB | {m['peak_mb']:.1f} MB |")
        landed = vm.export('{__name__="readings_v"}')
        assert landed, "the InfluxDB sink wrote nothing: the figures would not be of the deployed path"
    return "\n".join(
        [
            f"## Live path at {rate_hz:.0f} frames/s, as deployed",
            "",
            f"`adc-sim` writes {frames:,} frames ({seconds:.0f} s) at {rate_hz:.0f} frames/s through a pseudo-terminal",
            "into `battwatch run`, its own process (serial thread, decoder, pipeline, analysis, SQLite store",
            "and daily CSV log), with no network sinks, then with the MQTT sink connected to a real",
            "Mosquitto and the InfluxDB sink to a real v2 write API (VictoriaMetrics, `-retentionPeriod=100y`),",
            "all on this machine. CPU per frame is the daemon's user + system time (every thread, from",
            "/proc/PID/stat) from the first frame to the silence after the last, over the frames sent. Steady",
            "RSS is the median VmRSS over the second half of the run, sampled every 0.5 s; peak RSS is VmHWM.",
            "The daemon's modules (battwatch, paho-mqtt, pyserial, the standard library) are compiled to",
            "bytecode first, as an installation does: compiling them at every start costs 4-7 MB more resident.",
            "The compiled rows run the core `make core` built (or the tree `BATTWATCH_BENCH_TREE` names), the",
            "plain rows the same sources without the compiled modules.",
            "",
            "| core | network sinks | CPU per frame | CPU load | steady RSS | peak RSS |",
            "|---|---|---:|---:|---:|---:|",
            *rows,
            "",
            "Goals: at most 40 MB resident with both sinks; at most 150 µs of CPU per frame compiled,",
            "400 µs on plain Python.",
            "",
        ]
    )


def other_sections(names: list[str] | None = None) -> list[str]:
    """``bench_*.py`` modules contributed per topic, each with ``run() -> str`` (only ``names``:
    ``detection`` runs bench_detection.py)."""
    out = []
    for path in sorted(HERE.glob("bench_*.py")):
        if names is not None and path.stem.removeprefix("bench_") not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = mod  # a worker process finds the module's functions by its name
        spec.loader.exec_module(mod)
        print(f"running {path.name} ...", flush=True)
        out.append(mod.run())
    return out


def merge(old: str, fresh: list[str]) -> list[str]:
    """The sections of an earlier RESULTS.md with the freshly measured ones put in their place.

    A run of some sections (``bench/run.py replay``) must not throw away the others' figures,
    nor a full run a section kept for comparison; each section carries the date it was
    measured, so a mixed file says which is which.
    """
    def title(section: str) -> str:
        return section.split("\n", 1)[0]

    kept = ["## " + part for part in old.split("\n## ")[1:]]  # the head before the first section goes
    by_title = {title(s): s for s in fresh}
    out = [by_title.pop(title(s), s) for s in kept]
    return out + [s for s in fresh if title(s) in by_title]


def dated(section: str, stamp: str) -> str:
    head, _, body = section.partition("\n")
    return f"{head}\n\n_Measured {stamp}._\n{body}".rstrip("\n") + "\n"


def main() -> int:
    only = sys.argv[1:]
    sections = []
    with tempfile.TemporaryDirectory(prefix="battwatch-bench-") as d:
        tmp = Path(d)
        if not only or "help" in only:
            print("running --help timing ...", flush=True)
            sections.append(bench_help())
        if not only or "replay" in only:
            print("running replay ...", flush=True)
            sections.append(bench_replay(tmp))
        if not only or "live" in only:
            print("running live path ...", flush=True)
            sections.append(bench_live(tmp))
    if not only or "others" in only:
        sections += other_sections()
    elif topics := [x for x in only if (HERE / f"bench_{x}.py").exists()]:
        sections += other_sections(topics)
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    sections = [dated(s, stamp) for s in sections]
    results = HERE / "RESULTS.md"
    if results.exists():  # sections this run did not measure keep their figures and dates
        sections = merge(results.read_text(), sections)
    head = [
        "# battwatch benchmarks",
        "",
        f"Machine: {machine()}.  ",
        "Command: `make bench` (all sections), or `bench/run.py help|replay|live|others` for some of",
        "them (`bench/run.py detection` for the detection benchmark alone); each section says when it",
        "was measured. A section no benchmark writes any more (a past measurement kept for comparison)",
        "stays until it is deleted by hand.",
        "",
    ]
    text = "\n".join(head + sections)
    results.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
