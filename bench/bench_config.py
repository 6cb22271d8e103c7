"""Benchmark of config scope evaluation; prints milliseconds per evaluation.

    python bench/bench_config.py

1. a generated ConfigScope with 1,000 locals;
2. a scope with nested dicts and 100 dotted updates applied
   (``convert_to_nested_dict`` + evaluation with ``fixed=``).
Target: each under 5 ms per evaluation (median).
"""

import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sacred.config.config_scope import ConfigScope  # noqa: E402
from sacred.utils import convert_to_nested_dict  # noqa: E402


def generate_module(directory):
    lines = ["import math", "", "", "def flat_cfg():", '    """A generated config."""']
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            lines.append(f"    v{i} = {i}  # integer number {i}")
        elif kind == 1:
            lines.append(f"    # a float derived from v{i - 1}")
            lines.append(f"    v{i} = v{i - 1} * 0.5")
        elif kind == 2:
            lines.append(f"    v{i} = 'name_{i}'")
        else:
            lines.append(f"    v{i} = [v{i - 3}, (1, 2), math.pi]")
    lines += ["", "", "def nested_cfg():"]
    for g in range(10):
        lines.append(f"    group{g} = {{")
        for s in range(5):
            entries = ", ".join(f"'p{p}': {g * 100 + s * 10 + p}" for p in range(4))
            lines.append(f"        'sub{s}': {{{entries}}},")
        lines.append(f"        'lr': 0.1 * {g + 1},")
        lines.append("    }")
    lines.append("    total = sum(group0['sub0'].values())")
    path = Path(directory) / "bench_generated_scopes.py"
    path.write_text("\n".join(lines) + "\n")
    sys.path.insert(0, directory)
    importlib.invalidate_caches()
    return importlib.import_module("bench_generated_scopes")


def measure(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def main():
    with tempfile.TemporaryDirectory() as tmp:
        module = generate_module(tmp)

        start = time.perf_counter()
        flat = ConfigScope(module.flat_cfg)
        construct_ms = (time.perf_counter() - start) * 1000
        result = flat()
        assert len(result) == 1001 and result["v1"] == 0.0, "unexpected config"
        median, best = measure(flat, 300)
        print(
            f"ConfigScope construction (1,000 locals, parse + compile once): {construct_ms:.2f} ms"
        )
        print(f"evaluate scope with 1,000 locals: median {median:.3f} ms, min {best:.3f} ms")

        nested = ConfigScope(module.nested_cfg)
        dotted = {
            f"group{g}.sub{s}.p{p}": -1 for g in range(10) for s in range(5) for p in range(2)
        }
        assert len(dotted) == 100

        def with_updates():
            return nested(fixed=convert_to_nested_dict(dotted))

        result = with_updates()
        assert result["group3"]["sub2"]["p1"] == -1 and result["group3"]["sub2"]["p3"] == 323
        assert len(result.modified) == 100 + 10 + 50  # leaves, groups, subs
        median, best = measure(with_updates, 300)
        print(
            "evaluate nested scope with 100 dotted updates (incl. convert_to_nested_dict): "
            f"median {median:.3f} ms, min {best:.3f} ms"
        )


if __name__ == "__main__":
    main()
