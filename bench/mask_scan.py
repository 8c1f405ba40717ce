#!/usr/bin/env python3
"""Inputs of bench/run's `exec --mask` and `scan` rows.

mask DIR MB: DIR/secrets.env (1 000 values of 24 to 40 characters) and DIR/big.txt, MB
megabytes of log-like lines, one line in 200 holding one of the values.

repo DIR COMMITS SEALED: a git repository at DIR whose first commit adds SEALED (the
encrypted secrets.env of `mask`) as secrets/app.env, and COMMITS commits, each changing
one of 500 ordinary files (JSON/text), made with `git fast-import`; one commit in 1 000
adds a value of the secret file to an ordinary file (a leak for the scan to find).
"""
import random
import subprocess
import sys
from pathlib import Path


def secrets(n: int) -> list[str]:
    rng = random.Random(19)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(24, 41))) for _ in range(n)]


def write_env(path: Path, values: list[str]) -> None:
    path.write_text("".join(f"SECRET_{i}={v}\n" for i, v in enumerate(values)))


def mask(out: Path, mb: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    values = secrets(1000)
    write_env(out / "secrets.env", values)
    (out / "values.txt").write_text("".join(v + "\n" for v in values))
    rng = random.Random(7)
    target = mb * 2**20
    size = 0
    with open(out / "big.txt", "w") as f:
        i = 0
        while size < target:
            if i % 200 == 0:
                line = f"{i:09d} INFO connecting with token {values[rng.randrange(1000)]} to db\n"
            else:
                line = f"{i:09d} INFO request {rng.randrange(10**9)} served in {rng.randrange(1000)} ms from cache layer\n"
            f.write(line)
            size += len(line)
            i += 1


def repo(out: Path, commits: int, sealed: Path) -> None:
    values = secrets(1000)
    subprocess.run(["git", "init", "-q", "-b", "main", str(out)], check=True)
    env = sealed.read_text()
    rng = random.Random(3)
    lines = []

    def blob(text: str) -> None:
        data = text.encode()
        lines.append(b"data %d\n" % len(data) + data + b"\n")

    for c in range(commits):
        lines.append(b"commit refs/heads/main\n")
        lines.append(b"mark :%d\n" % (c + 1))
        lines.append(b"committer bench <bench@example.invalid> %d +0000\n" % (1_600_000_000 + c))
        blob(f"commit {c}")
        if c > 0:
            lines.append(b"from :%d\n" % c)
        if c == 0:
            lines.append(b"M 100644 inline secrets/app.env\n")
            blob(env)
        k = rng.randrange(500)
        name = f"conf/c{k}.json" if k % 2 else f"notes/n{k}.txt"
        text = f'{{"service": "s{k}", "revision": {c}, "replicas": {rng.randrange(9)}}}\n'
        if c % 1000 == 999:
            text += f"leaked: {values[rng.randrange(1000)]}\n"
        lines.append(f"M 100644 inline {name}\n".encode())
        blob(text)
        lines.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(lines), cwd=out, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=out, check=True)


if __name__ == "__main__":
    kind, where, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if kind == "mask":
        mask(where, n)
    else:
        repo(where, n, Path(sys.argv[4]))
