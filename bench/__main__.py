"""Run every benchmark (``python -m bench``) or the ones named (``python -m bench mapping sim``).

Options after the names go to each benchmark named: ``python -m bench worker --count 5000``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    options = argv[split:]
    wanted = [f"bench_{n.removeprefix('bench_')}" for n in argv[:split]] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in wanted:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status = module.main(options)
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
