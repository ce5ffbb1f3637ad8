"""Start-up cost: wall time of `raycurator run` on the 150-document sample, cold and warm.

Measures, each as a fresh process as a user would start it, in this order:
  bare Ray     `python -c "import ray; ray.init(); ray.shutdown()"` (loopback, no dashboard)
  cold         `raycurator run examples/minimal.yaml` and `examples/full_curation.yaml` (embedded Ray)
  warm         the same with `--address auto` on a cluster started once by `raycurator up`
  demo         `raycurator demo` (3,000 documents) cold, and warm with RAY_ADDRESS=auto
Targets: cold <= bare Ray + 3 s; warm <= 3 s; cold demo <= 10 s. Exits 1 when one is missed.
Each case runs `--repeat` times and its fastest run counts (timings on a shared machine are noisy).

    .venv/bin/python benchmarks/bench_startup.py [--repeat 1] [--no-demo] [--demo-docs 3000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLD_MARGIN_S = 3.0
WARM_TARGET_S = 3.0
DEMO_TARGET_S = 10.0

BARE_RAY = """
import os
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray
from ray._private import ray_constants
ray_constants.ENABLE_RAY_CLUSTER = False
ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1")
ray.shutdown()
"""


def timed(command: list[str], env: dict[str, str], what: str) -> float:
    """Wall seconds of `command`; infinity (a missed target) when it fails, with its output's end printed."""
    start = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        print(f"{what} FAILED ({done.returncode}) after {seconds:.1f} s:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
        return float("inf")
    return seconds


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raycurator.cli.main", *args]


def run_args(example: str, work: Path, writer_index: int) -> list[str]:
    name = Path(example).stem
    return [
        "run",
        example,
        "--no-progress",
        "--quiet",
        "--log-dir",
        str(work / "runs"),
        "--set",
        f"stages.{writer_index}.params.path={work / 'out' / name}",
    ]


EXAMPLES = (("examples/minimal.yaml", 2), ("examples/full_curation.yaml", 11))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest counts")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo cases")
    parser.add_argument("--demo-docs", type=int, default=3000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["RAYCURATOR_CLUSTER_FILE"] = str(work / "cluster.json")  # never the user's own `up` cluster
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

    def best(command: list[str], what: str, case_env: dict[str, str] = env) -> float:
        return min(timed(command, case_env, what) for _ in range(args.repeat))

    rows: list[tuple[str, float, float | None]] = []  # (case, seconds, target)
    bare = best([sys.executable, "-c", BARE_RAY], "bare ray.init + shutdown")
    rows.append(("bare ray.init() + ray.shutdown()", bare, None))
    for example, writer in EXAMPLES:
        seconds = best(cli(*run_args(example, work, writer)), f"cold {example}")
        rows.append((f"cold  {example}", seconds, bare + COLD_MARGIN_S))
    if not args.no_demo:
        demo = cli("demo", "--output", str(work / "demo"), "--no-progress", "--docs", str(args.demo_docs))
        rows.append((f"cold  demo ({args.demo_docs} docs)", best(demo, "cold demo"), DEMO_TARGET_S))

    up_seconds = timed(cli("up"), env, "raycurator up")
    if up_seconds == float("inf"):
        sys.exit("raycurator up failed: no warm cases")
    try:
        for example, writer in EXAMPLES:
            command = cli(*run_args(example, work, writer), "--address", "auto")
            rows.append((f"warm  {example}", best(command, f"warm {example}"), WARM_TARGET_S))
        if not args.no_demo:
            demo = cli("demo", "--output", str(work / "demo_warm"), "--no-progress", "--docs", str(args.demo_docs))
            warm_env = {**env, "RAY_ADDRESS": "auto"}
            rows.append((f"warm  demo ({args.demo_docs} docs)", best(demo, "warm demo", warm_env), DEMO_TARGET_S))
    finally:
        down_seconds = timed(cli("down"), env, "raycurator down")

    missed = 0
    print(f"{'case':<44} {'wall s':>8} {'target s':>9}  result")
    for case, seconds, target in rows:
        verdict = "" if target is None else ("ok" if seconds <= target else "MISSED")
        missed += verdict == "MISSED"
        print(f"{case:<44} {seconds:8.2f} {'' if target is None else f'{target:9.2f}'}  {verdict}")
    print(f"(raycurator up took {up_seconds:.2f} s, down {down_seconds:.2f} s; load average {os.getloadavg()[0]:.1f})")
    print(f"work folder: {work}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
