"""Run the uploader's atheris harnesses one after another: ``python -m bench.fuzz``.

``--seconds N`` fuzzes each target for N seconds (``make fuzz``, FUZZ_SECONDS); ``--runs N
--seed S`` runs a fixed number of inputs from a fixed seed (the CI smoke run). Each target
keeps a corpus in ``--corpus/<target>`` and also reads its regression vectors from
tests/vectors/fuzz/uploader/<target>; crash inputs land in ``--crashes/<target>/``. Prints, per
target, how many inputs were tried; exits 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VECTORS = ROOT / "tests" / "vectors" / "fuzz" / "uploader"
_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")


def harnesses() -> list[str]:
    return sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))


def run_one(
    target: str,
    *,
    seconds: int | None,
    runs: int | None,
    seed: int,
    corpus: Path | None,
    crashes: Path,
) -> tuple[int, int, str]:
    """(return code, inputs tried, output tail) of one harness run."""
    (crashes / target).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        f"bench.fuzz.fuzz_{target}",
        f"-seed={seed}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=4096",
        f"-artifact_prefix={crashes / target}/",
    ]
    if seconds is not None:
        command.append(f"-max_total_time={seconds}")
    if runs is not None:
        command.append(f"-runs={runs}")
    if corpus is not None:
        (corpus / target).mkdir(parents=True, exist_ok=True)
        command.append(str(corpus / target))
        for vectors in (VECTORS, VECTORS.parent / "emulator"):  # emu_* targets: emulator/
            if (vectors / target).is_dir():
                command.append(str(vectors / target))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    output = result.stdout + result.stderr
    done = _DONE.search(output)
    tried = int(done.group(1)) if done else 0
    return result.returncode, tried, output[-3000:].decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(harnesses())}")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=ROOT / ".fuzz" / "corpus")
    parser.add_argument("--crashes", type=Path, default=ROOT / ".fuzz" / "crashes")
    args = parser.parse_args(argv)
    if args.seconds is None and args.runs is None:
        args.seconds = 60
    failed = []
    for target in args.targets or harnesses():
        code, tried, tail = run_one(
            target,
            seconds=args.seconds,
            runs=args.runs,
            seed=args.seed,
            corpus=args.corpus,
            crashes=args.crashes,
        )
        print(f"{target:18} {tried:>10} inputs  {'ok' if code == 0 else 'CRASH'}", flush=True)
        if code != 0:
            failed.append(target)
            print(tail, file=sys.stderr)
    if failed:
        print(f"crashed: {', '.join(failed)} (inputs in {args.crashes})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
