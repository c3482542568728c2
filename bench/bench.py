#!/usr/bin/env python3
"""Luban benchmarks: each build scenario next to the floor it can't beat, in one table.

Run through `make bench` (scripts/bench.sh makes the testbed first). Every build goes through
scripts/pack-build.sh with the same offline builder `make test` uses; nothing is special-cased.

Scenarios (each run RUNS times, median and spread reported):
  cold          empty cache: uv and Python from the local mirror, packages from the index
  warm          rebuild with nothing changed
  code change   rebuild after editing one app source file
  lock change   rebuild after adding one small dependency (a second lock made at start)
  python change rebuild after changing .python-version from 3.12 to 3.13
  warm / code change (registry)
                the same two rebuilds with `--publish` to the testbed registry, as CI builds
                (Argo, kpack) run: the previous image is read from the registry, and a reused
                layer is not copied out of a local engine and loaded back into it
The anchor a user would pick instead, in the same table: bench/Dockerfile (uv's documented
multi-stage pattern, same build/run images, Python mirror and uv) built with the engine's own
`build` for the cold, warm, code change and lock change scenarios, and its image size.
Floors, measured in the same run:
  lifecycle     the same pack build with bench/floor-buildpack (writes one launch layer);
                `lifecycle (registry)` the same with `--publish`
  uv            `uv python install` + `uv sync --locked` run directly in the build image with
                the same mirror and an equally cold (or warm) uv cache
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RUNS = int(os.environ.get("RUNS", "3"))
FIXTURES = os.environ.get("BENCH_FIXTURES", "bench_small bench_large").split()
CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")


def setting(name: str) -> str:
    """A testbed setting scripts/lib.sh exports; there is no default here."""
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run the benchmarks through make (`make bench`), which sets the testbed's settings from scripts/lib.sh")
    return value


TESTBED = Path(setting("LUBAN_TESTBED"))
MIRROR_URL = setting("MIRROR_URL")
BUILD_IMAGE = setting("BUILD_IMAGE")
RUN_IMAGE = setting("RUN_IMAGE")
ENGINE = setting("ENGINE")
FLOOR_BUILDER_IMAGE = setting("FLOOR_BUILDER_IMAGE")
REGISTRY = setting("REGISTRY")
PUBLISH = ("--publish", "--run-image", setting("REGISTRY_RUN_IMAGE"))


def sh(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(str(ROOT / "scripts/docker.sh"), *args, check=check)


class MemorySampler:
    """Peak memory of the build containers (the whole lifecycle + buildpack + uv process
    tree): samples the cgroups of containers that appear while it runs (podman with
    cgroupfs on cgroup v1: RSS from memory.stat; Docker on cgroup v2: memory.current)."""

    def __init__(self) -> None:
        self.peak_rss = 0
        self._stop = threading.Event()
        self._before = set(self._cgroups())
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cgroups() -> list[Path]:
        found = []
        for parent in [CGROUP_MEMORY / "libpod_parent", Path("/sys/fs/cgroup/system.slice")]:
            if parent.is_dir():
                found += [p for p in parent.iterdir() if p.name.startswith(("libpod-", "docker-"))]
        return found

    @staticmethod
    def _rss(cgroup: Path) -> int:
        try:
            stat = (cgroup / "memory.stat").read_text()
        except OSError:
            return 0
        fields = dict(line.split() for line in stat.splitlines() if len(line.split()) == 2)
        if "total_rss" in fields:  # cgroup v1
            return int(fields["total_rss"]) + int(fields.get("total_mapped_file", 0))
        return int(fields.get("anon", 0)) + int(fields.get("file_mapped", 0))  # cgroup v2

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(self._rss(c) for c in self._cgroups() if c not in self._before)
            self.peak_rss = max(self.peak_rss, total)
            time.sleep(0.1)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


DURATION = re.compile(r"- Done \(finished in (?:< )?(?:(\d+)m )?([\d.]+)s\)")


def buildpack_seconds(log: str) -> float:
    """Time our buildpacks report for themselves (their `Done (finished in …)` lines)."""
    return sum(int(m or 0) * 60 + float(s) for m, s in DURATION.findall(log))


def pack_build(image: str, app: Path, *extra: str, builder: str | None = None) -> dict:
    env = {**os.environ, **({"LUBAN_BUILDER": builder} if builder else {})}
    started = time.monotonic()
    with MemorySampler() as memory:
        result = sh(str(ROOT / "scripts/pack-build.sh"), image, "--path", str(app), *extra, check=False, env=env)
    wall = time.monotonic() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"build of {image} failed:\n{log}")
    return {
        "wall": wall,
        "ours": buildpack_seconds(log),
        "peak_mb": memory.peak_rss / 1e6,
        "resolved": "Running `uv sync" in log or "Running `uv python install" in log,
    }


def uv_floor(app: Path, python: str, cache: Path) -> float:
    """`uv python install` + `uv sync --locked` directly in the build image, same settings."""
    work = Path(tempfile.mkdtemp(prefix="luban-uv-floor-"))
    shutil.copytree(app, work / "app")
    started = time.monotonic()
    docker(
        "run", "--rm", "--network", "host", "--user", "0",
        "-v", f"{TESTBED / 'bin/uv'}:/usr/local/bin/uv:ro",
        "-v", f"{TESTBED / 'ca-bundle.crt'}:/etc/ssl/certs/ca-certificates.crt:ro",
        "-v", f"{work / 'app'}:/app", "-v", f"{cache}:/uv-cache", "-w", "/app",
        "-e", "UV_CACHE_DIR=/uv-cache", "-e", "UV_PYTHON_INSTALL_DIR=/opt/python",
        "-e", f"UV_PYTHON_DOWNLOADS_JSON_URL={MIRROR_URL}/python/downloads.json",
        "-e", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "-e", "UV_LINK_MODE=copy",
        "-e", "UV_PROJECT_ENVIRONMENT=/opt/venv", "-e", "SOURCE_DATE_EPOCH=315532801",
        BUILD_IMAGE, "bash", "-c",
        f"uv python install {python} --no-bin -q && uv sync --locked --no-dev --compile-bytecode -q "
        f"--python /opt/python/cpython-{python}-*/bin/python3",
    )
    elapsed = time.monotonic() - started
    shutil.rmtree(work, ignore_errors=True)
    return elapsed


def layer_sizes(image: str) -> dict[str, float]:
    """Size in MB of the run image, the python and venv layers, the app, and the whole image."""
    inspect = json.loads(docker("image", "inspect", image).stdout)[0]
    metadata = json.loads(inspect["Config"]["Labels"]["io.buildpacks.lifecycle.metadata"])
    diff_ids = inspect["RootFS"]["Layers"]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        docker("save", "-o", str(archive), image)
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))[0]
            sizes = [tar.getmember(path).size for path in manifest["Layers"]]
    by_sha = dict(zip(diff_ids, sizes))
    top = diff_ids.index(metadata["runImage"]["topLayer"])
    named = {"run image": sum(sizes[: top + 1])}
    for buildpack in metadata.get("buildpacks", []):
        for name, layer in (buildpack.get("layers") or {}).items():
            if layer.get("sha") in by_sha:
                named[name] = by_sha[layer["sha"]]
    named["app"] = sum(by_sha.get(layer["sha"], 0) for layer in metadata.get("app", []))
    named["total"] = sum(sizes)
    return {k: v / 1e6 for k, v in named.items()}


# Size targets (MB) the README states, checked in the size row.
SIZE_TARGETS = {"run image": 90, "python": 50}
TOTAL_TARGET = {"bench_small": 150}


def sizes_against_targets(name: str, sizes: dict[str, float]) -> str:
    targets = {**SIZE_TARGETS, **({"total": TOTAL_TARGET[name]} if name in TOTAL_TARGET else {})}
    parts = []
    for layer, size in sizes.items():
        target = targets.get(layer)
        verdict = f" (≤ {target}: {'met' if size <= target else 'NOT met'})" if target else ""
        parts.append(f"{layer} {size:.1f}{verdict}")
    return ", ".join(parts)


class DockerfileBuild:
    """bench/Dockerfile for one fixture: a build context of the testbed's uv, its CA bundle
    and a copy of the app, refreshed before every build (the engine's layer cache compares
    contents, so an unchanged app reuses its layers)."""

    def __init__(self, name: str, work: Path) -> None:
        self.image = f"luban-bench/{name.replace('_', '-')}-dockerfile"
        self.context = work / "dockerfile-context"
        self.context.mkdir()
        shutil.copy2(TESTBED / "bin/uv", self.context / "uv")
        shutil.copy2(TESTBED / "ca-bundle.crt", self.context / "ca.crt")

    def build(self, app: Path, cache_id: str) -> float:
        """One build. A new `cache_id` makes it cold: the dependency step's cache mount is new
        and, the build argument having changed, every step from it on runs again (as pack's
        --clear-cache keeps the stack images, this keeps the base images). `--no-cache` would
        also stop the engine from keeping the layers for the next build."""
        shutil.rmtree(self.context / "app", ignore_errors=True)
        shutil.copytree(app, self.context / "app")
        engine = ["podman", "build"] if ENGINE == "podman" else [str(ROOT / "scripts/docker.sh"), "build"]
        args = [
            *engine, "-q", "--network", "host", "-f", str(ROOT / "bench/Dockerfile"),
            "--build-arg", f"BUILD_IMAGE={BUILD_IMAGE}", "--build-arg", f"RUN_IMAGE={RUN_IMAGE}",
            "--build-arg", f"UV_PYTHON_DOWNLOADS_JSON_URL={MIRROR_URL}/python/downloads.json",
            "--build-arg", f"CACHE_ID={cache_id}", "-t", self.image,
            str(self.context),
        ]
        started = time.monotonic()
        result = sh(*args, check=False, env={**os.environ, "DOCKER_BUILDKIT": "1"})
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"bench/Dockerfile build of {self.image} failed:\n{result.stdout}{result.stderr}")
        return wall

    def size_mb(self) -> float:
        inspect = json.loads(docker("image", "inspect", self.image).stdout)[0]
        return inspect["Size"] / 1e6


COLUMNS = ["fixture", "scenario", "wall", "wall_median_s", "ours_median_s", "floor_s", "ratio",
           "vs_dockerfile", "peak_mb", "resolved_or_installed"]


def row(fixture: str, scenario: str, wall: str, **values) -> dict:
    """One table row; the columns not given are empty."""
    return {**dict.fromkeys(COLUMNS, ""), "fixture": fixture, "scenario": scenario, "wall": wall, **values}


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def fmt(values: list[float]) -> str:
    median, low, high = stats(values)
    return f"{median:.1f}s ({low:.1f}–{high:.1f})"


def bench_fixture(name: str) -> list[dict]:
    print(f"== {name}", flush=True)
    base = ROOT / "test-fixtures" / name
    work = Path(tempfile.mkdtemp(prefix=f"luban-bench-{name}-"))
    app = work / "app"
    shutil.copytree(base, app)
    image = f"luban-bench/{name.replace('_', '-')}"
    floor_image = f"luban-bench/{name.replace('_', '-')}-floor"

    # The base lock (a) and one with a small dependency more (b), for the lock-change scenario.
    lock_a = (app / "uv.lock").read_text()
    pyproject_a = (app / "pyproject.toml").read_text()
    pyproject_b = pyproject_a.replace("dependencies = [", 'dependencies = ["six>=1.16", ', 1)
    (app / "pyproject.toml").write_text(pyproject_b)
    sh(str(ROOT / "scripts/uv-lock.sh"), str(app))
    lock_b = (app / "uv.lock").read_text()
    (app / "pyproject.toml").write_text(pyproject_a)
    (app / "uv.lock").write_text(lock_a)

    rows: dict[str, list[dict]] = {k: [] for k in ["cold", "warm", "code change", "lock change", "python change",
                                                  "warm (registry)", "code change (registry)"]}
    dockerfile = DockerfileBuild(name, work)
    dockerfile_rows: dict[str, list[float]] = {k: [] for k in ["cold", "warm", "code change", "lock change"]}
    floors: dict[str, list[float]] = {"lifecycle": [], "lifecycle (registry)": [], "uv cold": [],
                                      "uv python change": [], "uv lock change": []}
    app_py = app / "app.py"
    for run in range(RUNS):
        print(f"  run {run + 1}/{RUNS}", flush=True)
        rows["cold"].append(pack_build(image, app, "--clear-cache"))
        rows["warm"].append(pack_build(image, app))
        app_py.write_text(app_py.read_text() + f"\n# edit {run}\n")
        rows["code change"].append(pack_build(image, app))
        # Every run starts from the base state (lock a, Python 3.12), so lock b and 3.13 are
        # real changes in every run.
        (app / "pyproject.toml").write_text(pyproject_b)
        (app / "uv.lock").write_text(lock_b)
        rows["lock change"].append(pack_build(image, app))
        (app / ".python-version").write_text("3.13\n")
        rows["python change"].append(pack_build(image, app))
        (app / ".python-version").write_text("3.12\n")
        (app / "pyproject.toml").write_text(pyproject_a)
        (app / "uv.lock").write_text(lock_a)
        pack_build(image, app)  # back to the base state for the next cold run's comparisons

        floors["lifecycle"].append(
            pack_build(floor_image, app, builder=FLOOR_BUILDER_IMAGE)["wall"]
        )
        # Published, as CI builds are: a cold build (not measured) makes the previous image.
        pack_build(f"{REGISTRY}/{image}", app, *PUBLISH, "--clear-cache")
        rows["warm (registry)"].append(pack_build(f"{REGISTRY}/{image}", app, *PUBLISH))
        app_py.write_text(app_py.read_text() + f"\n# registry edit {run}\n")
        rows["code change (registry)"].append(pack_build(f"{REGISTRY}/{image}", app, *PUBLISH))
        pack_build(f"{REGISTRY}/{floor_image}", app, *PUBLISH, builder=FLOOR_BUILDER_IMAGE)
        floors["lifecycle (registry)"].append(
            pack_build(f"{REGISTRY}/{floor_image}", app, *PUBLISH, builder=FLOOR_BUILDER_IMAGE)["wall"]
        )
        # The Dockerfile a user would write instead, through the same scenarios from the same
        # base state; a new cache id per run makes its cold build as cold as pack's.
        cache_id = f"{name}-{run}-{time.time_ns()}"
        dockerfile_rows["cold"].append(dockerfile.build(app, cache_id))
        dockerfile_rows["warm"].append(dockerfile.build(app, cache_id))
        app_py.write_text(app_py.read_text() + f"\n# dockerfile edit {run}\n")
        dockerfile_rows["code change"].append(dockerfile.build(app, cache_id))
        (app / "pyproject.toml").write_text(pyproject_b)
        (app / "uv.lock").write_text(lock_b)
        dockerfile_rows["lock change"].append(dockerfile.build(app, cache_id))
        (app / "pyproject.toml").write_text(pyproject_a)
        (app / "uv.lock").write_text(lock_a)

        cache = Path(tempfile.mkdtemp(prefix="luban-uv-cache-"))
        floors["uv cold"].append(uv_floor(app, "3.12.1", cache))
        # Same cache, new environment: what a python change costs uv (the packages are cached).
        floors["uv python change"].append(uv_floor(app, "3.13.0", cache))
        floors["uv lock change"].append(uv_floor(app, "3.12.1", cache))
        shutil.rmtree(cache, ignore_errors=True)

    sizes = layer_sizes(image)
    lifecycle = statistics.median(floors["lifecycle"])
    lifecycle_registry = statistics.median(floors["lifecycle (registry)"])
    floor_for = {
        "cold": lifecycle + statistics.median(floors["uv cold"]),
        "warm": lifecycle,
        "code change": lifecycle,
        "warm (registry)": lifecycle_registry,
        "code change (registry)": lifecycle_registry,
        "lock change": lifecycle + statistics.median(floors["uv lock change"]),
        "python change": lifecycle + statistics.median(floors["uv python change"]),
    }
    out = []
    for scenario, results in rows.items():
        walls = [r["wall"] for r in results]
        versus = dockerfile_rows.get(scenario)
        out.append(row(
            name, scenario, fmt(walls),
            wall_median_s=round(statistics.median(walls), 2),
            ours_median_s=round(statistics.median(r["ours"] for r in results), 2),
            floor_s=round(floor_for[scenario], 2),
            ratio=round(statistics.median(walls) / floor_for[scenario], 2),
            peak_mb=round(max(r["peak_mb"] for r in results)),
            resolved_or_installed=any(r["resolved"] for r in results),
            vs_dockerfile=round(statistics.median(walls) / statistics.median(versus), 2) if versus else "",
        ))
    for label, series in [*((f"Dockerfile: {k}", v) for k, v in dockerfile_rows.items()),
                          *((f"floor: {k}", v) for k, v in floors.items())]:
        out.append(row(name, label, fmt(series), wall_median_s=round(statistics.median(series), 2)))
    dockerfile_size = dockerfile.size_mb()
    out.append(row(name, "image size (MB)", sizes_against_targets(name, sizes),
                   vs_dockerfile=round(sizes["total"] / dockerfile_size, 2)))
    out.append(row(name, "Dockerfile image size (MB)", f"total {dockerfile_size:.1f}"))
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = [row for fixture in FIXTURES for row in bench_fixture(fixture)]
    columns = ["fixture", "scenario", "wall", "ours_median_s", "floor_s", "ratio", "vs_dockerfile", "peak_mb", "resolved_or_installed"]
    headers = ["fixture", "scenario", "wall: median (min–max)", "our buildpacks (s)", "floor (s)", "× floor", "× Dockerfile", "peak build RSS (MB)", "resolved/installed"]
    lines = [
        f"Luban benchmarks, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {RUNS} runs each",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    table = "\n".join(lines)
    print()
    print(table)
    stamp = f"{started:%Y%m%dT%H%M}"
    (RESULTS / f"bench-{stamp}.md").write_text(table + "\n")
    with open(RESULTS / f"bench-{stamp}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nSaved bench/results/bench-{stamp}.md and .csv")


if __name__ == "__main__":
    main()
