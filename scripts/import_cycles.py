"""Draw the import graph of the project's own modules and fail on a cycle.

Every ``import`` and ``from ... import`` counts, at module level and inside functions alike:
a lazy import still ties two modules together. ``from pkg import sub`` ties to the submodule
``sub`` when it is one, and to the package's ``__init__`` for any other name. Importing
``a.b.c`` also runs ``a.b``'s ``__init__`` first, so that counts too (except for the packages
that hold the importing module).

    python scripts/import_cycles.py            # exit 1 and print each cycle if there is one
    python scripts/import_cycles.py --graph    # also print every edge
"""

from __future__ import annotations

import ast
import os
import sys

PACKAGES = ("sacred", "labwatch", "sacredboard")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_files(root=ROOT):
    """``{dotted module name: path}`` of every module of the project's packages."""
    found = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def _resolve(module, level, current, is_package):
    if level == 0:
        return module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(name, path, modules):
    """The project modules that module ``name`` imports anywhere in its code."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, name, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # "from pkg import submodule" needs the submodule; any other name, the package
                targets.add(sub if sub in modules else base)
    edges = set()
    for target in targets:
        # "a.b.c" that is not a module is an attribute of the nearest module above it
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
        # importing a.b.c first runs the __init__ of a.b (and of a): a dependency too, except
        # for the packages that hold the importer itself (they are already being imported)
        parent = target.rpartition(".")[0]
        while parent:
            if parent in modules and not (name + ".").startswith(parent + "."):
                edges.add(parent)
            parent = parent.rpartition(".")[0]
    return edges


def graph(root=ROOT):
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    edges = graph()
    if "--graph" in argv:
        for name in sorted(edges):
            for target in sorted(edges[name]):
                print(f"{name} -> {target}")
    found = cycles(edges)
    for component in found:
        members = set(component)
        print(f"import cycle among {len(component)} modules:")
        for name in component:
            inside = sorted(edges[name] & members)
            print(f"  {name} -> {', '.join(inside)}")
    if not found:
        print(f"no import cycles among {len(edges)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
