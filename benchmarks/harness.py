"""The scenario registry, the context a scenario receives, and the measuring helper.

A scenario is a function decorated with `@scenario`. It prepares its data, then calls
`ctx.measure(label, rows, fn)` once per figure; only `fn` is timed. Every figure is reported as a
ratio to one baseline figure measured in the same run on the same database, so the numbers compare
across machines: a scenario marks its own baseline (`measure(..., baseline=True)`), or holds its
figures against another scenario's baseline (`@scenario(..., baseline_from="insert_baseline")`),
which the harness then runs first.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import os
import pkgutil
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

Scale = Literal["small", "full"]
DATABASES = ("postgresql", "sqlite")  # Django's connection.vendor values we run on
UNIT = "rows/s"

T = TypeVar("T")
ScenarioFn = Callable[["Context"], None]


class HarnessError(Exception):
    """A mistake in the command line or a scenario's declarations; printed as one line."""


@dataclass(frozen=True)
class Scenario:
    name: str
    run: ScenarioFn
    databases: tuple[str, ...]
    baseline_from: str | None  # another scenario whose baseline this one's ratios use
    summary: str  # first line of the function's docstring


_REGISTRY: dict[str, Scenario] = {}


def scenario(
    name: str,
    *,
    databases: Sequence[str] = DATABASES,
    baseline_from: str | None = None,
) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register a scenario under `name` for the given database vendors."""
    unknown = sorted(set(databases) - set(DATABASES))
    if unknown:
        raise HarnessError(f"scenario {name!r} names unknown databases {unknown}")

    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in _REGISTRY:
            raise HarnessError(f"scenario {name!r} is registered twice")
        lines = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Scenario(
            name=name,
            run=fn,
            databases=tuple(databases),
            baseline_from=baseline_from,
            summary=lines[0] if lines else "",
        )
        return fn

    return register


def discover() -> dict[str, Scenario]:
    """Import every module in benchmarks/scenarios; each registers its scenarios on import."""
    from benchmarks import scenarios

    for module in sorted(pkgutil.iter_modules(scenarios.__path__), key=lambda m: m.name):
        importlib.import_module(f"{scenarios.__name__}.{module.name}")
    return dict(_REGISTRY)


def plan(
    registry: dict[str, Scenario], only: Sequence[str] | None, database: str
) -> tuple[list[Scenario], list[Scenario]]:
    """The scenarios to run on `database` (baselines first) and those that do not support it."""
    names = list(only) if only else list(registry)
    unknown = [name for name in names if name not in registry]
    if unknown:
        known = ", ".join(registry) or "none"
        raise HarnessError(f"unknown scenario {', '.join(unknown)} (known: {known})")
    ordered: list[Scenario] = []

    def add(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise HarnessError(f"baseline_from loops: {' -> '.join((*chain, name))}")
        if any(s.name == name for s in ordered):
            return
        entry = registry.get(name)
        if entry is None:
            raise HarnessError(f"scenario {chain[-1]!r} takes its baseline from unknown {name!r}")
        if entry.baseline_from:
            add(entry.baseline_from, (*chain, name))
        ordered.append(entry)

    for name in names:
        add(name, ())
    runnable: list[Scenario] = []
    skipped: list[Scenario] = []
    for entry in ordered:
        supported = database in entry.databases
        if entry.baseline_from and all(s.name != entry.baseline_from for s in runnable):
            supported = False
        (runnable if supported else skipped).append(entry)
    return runnable, skipped


@dataclass
class Figure:
    """One measured figure: `rows` handled by one timed call, plus what it cost."""

    scenario: str
    label: str
    rows: int
    seconds: float
    cpu_seconds: float  # user + system time of this process and its children (not the server)
    peak_rss_bytes: int  # highest resident set size of this process and its children
    rss_growth_bytes: int  # that peak minus the resident set size just before timing
    is_baseline: bool
    baseline: str = ""  # "scenario/label" of the figure the ratio is against
    ratio: float = 0.0  # value / baseline value, set when the scenario has finished

    @property
    def value(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    @property
    def unit(self) -> str:
        return UNIT

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "label": self.label,
            "value": round(self.value, 1),
            "unit": self.unit,
            "ratio": round(self.ratio, 4),
            "baseline": self.baseline,
            "is_baseline": self.is_baseline,
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
            "rss_growth_mib": round(self.rss_growth_bytes / 2**20, 1),
        }


@dataclass
class Context:
    """What a scenario receives: where it runs, how big, and `measure` to record figures."""

    scenario: str
    database: str  # "postgresql" or "sqlite" (Django's connection.vendor)
    scale: Scale
    figures: list[Figure] = field(default_factory=list)

    def sized(self, *, small: int, full: int) -> int:
        """Pick a size for the run's scale."""
        return small if self.scale == "small" else full

    def measure(
        self, label: str, rows: int, fn: Callable[[], object], *, baseline: bool = False
    ) -> Figure:
        """Time one call of `fn`, which handles `rows` rows, and record it as a figure."""
        if any(f.label == label for f in self.figures):
            raise HarnessError(f"{self.scenario}: figure {label!r} measured twice")
        gc.collect()
        sampler = PeakRss()
        before = cpu_seconds()
        with sampler:
            start = time.perf_counter()
            fn()
            seconds = time.perf_counter() - start
        figure = Figure(
            scenario=self.scenario,
            label=label,
            rows=rows,
            seconds=seconds,
            cpu_seconds=cpu_seconds() - before,
            peak_rss_bytes=sampler.peak,
            rss_growth_bytes=max(0, sampler.peak - sampler.before),
            is_baseline=baseline,
        )
        self.figures.append(figure)
        print(
            f"  {label:<24} {rows:>11,} rows {seconds:>8.2f} s {figure.value:>12,.0f} {UNIT}"
            f"   peak RSS {figure.peak_rss_bytes / 2**20:,.0f} MiB",
            flush=True,
        )
        return figure

    def record(
        self,
        label: str,
        rows: int,
        seconds: float,
        *,
        cpu_seconds: float,
        peak_rss_bytes: int,
        baseline: bool = False,
    ) -> Figure:
        """Record a figure timed outside this process: a load generator that reports how many
        requests it completed in how long, against a server whose CPU and memory the scenario
        reads itself (it says which process `cpu_seconds` and `peak_rss_bytes` are of)."""
        if any(f.label == label for f in self.figures):
            raise HarnessError(f"{self.scenario}: figure {label!r} measured twice")
        figure = Figure(
            scenario=self.scenario,
            label=label,
            rows=rows,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            peak_rss_bytes=peak_rss_bytes,
            rss_growth_bytes=0,
            is_baseline=baseline,
        )
        self.figures.append(figure)
        print(
            f"  {label:<24} {rows:>11,} rows {seconds:>8.2f} s {figure.value:>12,.0f} {UNIT}"
            f"   peak RSS {peak_rss_bytes / 2**20:,.0f} MiB",
            flush=True,
        )
        return figure


def run(scenarios: Iterable[Scenario], *, database: str, scale: Scale) -> list[Figure]:
    """Run the planned scenarios in order and give every figure its ratio to its baseline."""
    baselines: dict[str, Figure] = {}
    figures: list[Figure] = []
    for entry in scenarios:
        print(f"{entry.name} on {database} ({scale} scale)", flush=True)
        ctx = Context(scenario=entry.name, database=database, scale=scale)
        entry.run(ctx)
        own = [f for f in ctx.figures if f.is_baseline]
        if entry.baseline_from:
            if own:
                raise HarnessError(f"{entry.name}: marks a baseline and takes one from elsewhere")
            reference = baselines[entry.baseline_from]
        elif len(own) == 1:
            reference = own[0]
        else:
            raise HarnessError(f"{entry.name}: measured {len(own)} baselines on {database}, not 1")
        baselines[entry.name] = reference
        for figure in ctx.figures:
            figure.baseline = f"{reference.scenario}/{reference.label}"
            figure.ratio = figure.value / reference.value
        figures.extend(ctx.figures)
    return figures


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items, so a generator can feed batches with bounded memory."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss() -> int:
    """The resident set size in bytes of this process and the processes it started (Linux
    /proc; elsewhere this process's peak so far). A scenario's child processes (the import's
    validating process) count: their memory is the run's memory too."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            own = int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return max_rss()
    return own + sum(_rss_of(pid) for pid in _descendants(os.getpid()))


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
                kids = [int(kid) for kid in children.read().split()]
        except OSError:
            continue
        for kid in kids:
            found.append(kid)
            found.extend(_descendants(kid))
    return found


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):  # ended meanwhile
        return 0


def cpu_seconds() -> float:
    """User and system CPU of this process and of the child processes it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def max_rss() -> int:
    """The highest resident set size this process has had, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


class PeakRss:
    """Samples the resident set size every few milliseconds while a block runs.

    getrusage's ru_maxrss only ever rises over the life of the process, so it cannot tell one
    figure's memory from an earlier one's; tracemalloc would, but it slows the allocation-heavy
    paths (the ORM) enough to distort the timing it is meant to accompany. Sampling costs neither.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss())

    def __enter__(self) -> PeakRss:
        self.before = self.peak = current_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss())
