"""Running things for the benchmark: the server process, configs, and a measured subprocess."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed; a dev dependency
import yaml

from bench.workload import HOSTS

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    process: subprocess.Popen[bytes]

    def stats(self, *, reset: bool = False) -> dict[str, int]:
        url = f"http://{HOSTS[0]}:{self.port}/_stats" + ("?reset" if reset else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            counts: dict[str, int] = json.loads(response.read())
        return counts


@contextmanager
def server(articles: int, latency: float, seed: int) -> Iterator[Server]:
    """The benchmark server in its own process, stopped (stdin closed) on exit."""
    command = [PYTHON, "-m", "bench.server", "--articles", str(articles)]
    command += ["--latency", str(latency), "--seed", str(seed)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("bench: the benchmark server did not start")
        yield Server(int(json.loads(line)["port"]), process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_config(
    path: Path, database: Path, feeds: Sequence[str], **fetch: Any
) -> Path:  # fmt: skip
    """A feeds.yaml with the pipeline's defaults, except that the loopback sites are allowed and
    there is no politeness delay: the 50 addresses stand in for thousands of sites, and with
    `host_delay: 1s` a round of 2,000 feeds on 50 hosts would take 40 s by design."""
    document = {
        "database": f"sqlite:///{database}",
        # the sites are loopback addresses
        "fetch": {"allow_private_addresses": True, "host_delay": 0, **fetch},
        "feeds": [{"name": f"feed {i}", "url": url} for i, url in enumerate(feeds)],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class Run:
    """A finished subprocess: wall time, CPU of the whole process tree, memory peaks."""

    seconds: float
    cpu_seconds: float  # user + system of the process and every descendant
    main_cpu_seconds: float  # the command's own process (with what it waited for)
    peak_rss_mb: float  # the largest process of the tree (max RSS from getrusage)
    peak_tree_rss_mb: float  # the tree's RSS summed, sampled every 0.2 s
    # The tree's PSS summed: a page shared by n processes (the forkserver's imports in every
    # extraction worker) counts 1/n in each, so the sum is the memory the tree really uses.
    peak_tree_pss_mb: float
    peak_main_rss_mb: float  # the main process, sampled
    rss_samples: list[tuple[float, float]]  # (seconds, main process RSS MB)
    returncode: int
    stdout: str
    stderr: str


def run_measured(command: Sequence[str], *, env: dict[str, str] | None = None) -> Run:
    """Run a command to completion, sampling its memory; CPU and max RSS come from the
    kernel's accounting of the command's process tree (getrusage in a wrapper process)."""
    with tempfile.TemporaryDirectory() as scratch:
        usage_file = Path(scratch) / "usage.json"
        run = _run_sampled([PYTHON, "-m", "bench.rusage", str(usage_file), *command], env)
        usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
    # Processes the command never waits for (a forkserver's children) are missing from the
    # kernel's accounting: their CPU comes from sampling (the last 0.2 s of each may be lost).
    main_cpu = max(usage.get("cpu_seconds", 0.0), run.main_cpu_seconds)
    return dataclasses.replace(
        run,
        main_cpu_seconds=main_cpu,
        cpu_seconds=run.cpu_seconds - run.main_cpu_seconds + main_cpu,
        peak_rss_mb=usage.get("max_rss_mb", 0.0),
    )


def _run_sampled(command: Sequence[str], env: dict[str, str] | None) -> Run:
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    sampler = _Sampler(process.pid, started)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop()
    return Run(
        seconds=seconds,
        cpu_seconds=sum(sampler.cpu.values()),
        main_cpu_seconds=sampler.main_cpu,
        peak_rss_mb=0.0,
        peak_tree_rss_mb=sampler.peak_tree / 2**20,
        peak_tree_pss_mb=sampler.peak_tree_pss / 2**20,
        peak_main_rss_mb=sampler.peak_main / 2**20,
        rss_samples=sampler.samples,
        returncode=process.returncode,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
    )


class _Sampler(threading.Thread):
    def __init__(self, pid: int, started: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.started = started
        self.peak_tree = 0
        self.peak_tree_pss = 0
        self.peak_main = 0
        self.samples: list[tuple[float, float]] = []
        self.cpu: dict[int, float] = {}  # pid -> last seen user + system seconds
        self.main_pid = 0
        self._done = threading.Event()

    def run(self) -> None:
        try:
            wrapper = psutil.Process(self.pid)  # bench.rusage; its child is the command
        except psutil.NoSuchProcess:
            return
        while not self._done.wait(0.2):
            try:
                children = wrapper.children()
                if not children:
                    continue
                command = children[0]
                self.main_pid = command.pid
                descendants = command.children(recursive=True)
                main = command.memory_info().rss
                tree = main + sum(_rss(p) for p in descendants)
                tree_pss = sum(_pss(p) for p in (command, *descendants))
                for process in (command, *descendants):
                    self._note_cpu(process)
            except psutil.Error:
                continue
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, tree)
            self.peak_tree_pss = max(self.peak_tree_pss, tree_pss)
            self.samples.append((time.perf_counter() - self.started, main / 2**20))

    def _note_cpu(self, process: psutil.Process) -> None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return
        self.cpu[process.pid] = times.user + times.system

    @property
    def main_cpu(self) -> float:
        return self.cpu.get(self.main_pid, 0.0)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def _pss(process: psutil.Process) -> int:
    try:
        return int(process.memory_full_info().pss)
    except (psutil.Error, AttributeError):
        return _rss(process)
