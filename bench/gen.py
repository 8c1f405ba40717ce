#!/usr/bin/env python3
"""Generates the benchmark inputs: YAML, JSON and .env files with N values (about 2 MB at
50 000 values), a one-value file, and repositories of small secret files."""
import json
import random
import sys
from pathlib import Path


def value(rng: random.Random) -> str:
    return f"value-{rng.randrange(10**12):012d}-not-a-real-secret"


def write_sizes(out: Path, n: int) -> None:
    rng = random.Random(n)
    groups = max(1, n // 10)
    lines = []
    data = {}
    for g in range(groups):
        lines.append(f"service{g}:")
        data[f"service{g}"] = {}
        for k in range(10):
            v = value(rng)
            lines.append(f"  key{k}: {v}")
            data[f"service{g}"][f"key{k}"] = v
    (out / f"values-{n}.yaml").write_text("\n".join(lines) + "\n")
    (out / f"values-{n}.json").write_text(json.dumps(data, indent=2) + "\n")
    env = "".join(f"KEY_{i}={value(rng)}-padding\n" for i in range(n))
    (out / f"values-{n}.env").write_text(env)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for n in [int(x) for x in sys.argv[2].split(",")]:
        write_sizes(out, n)
    (out / "one.yaml").write_text("password: not-a-real-secret\n")
    (out / "one.env").write_text("PASSWORD=not-a-real-secret\n")


if __name__ == "__main__":
    main()
