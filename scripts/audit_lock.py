"""Fails when requirements-svc.lock pins a package below its floor in security/minimum-versions.txt
(the quality gate in .ci/run). Standard library only, so it runs before any set-up."""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version_tuple(text: str) -> tuple:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:4])


def main(argv: list = sys.argv[1:]) -> int:
    """Arguments (for tests): [lock file [floors file]]."""
    lock_file = Path(argv[0]) if argv else ROOT / "requirements-svc.lock"
    floors_file = Path(argv[1]) if len(argv) > 1 else ROOT / "security" / "minimum-versions.txt"
    lock = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", lock_file.read_text(), re.M))
    lock = {name.lower().replace("_", "-"): version for name, version in lock.items()}
    problems, checked = [], 0
    for line in floors_file.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, minimum, why = (line.split(None, 2) + [""])[:3]
        locked = lock.get(name.lower())
        if locked is None:
            continue  # not used by the maintained runtime
        checked += 1
        if version_tuple(locked) < version_tuple(minimum):
            problems.append(f"{name} {locked} is below {minimum}: {why}")
    for problem in problems:
        print("VULNERABLE:", problem)
    print(f"lock audit: {checked} packages checked, {len(problems)} below their floor")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
