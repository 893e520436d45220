"""Import layering of the project, checked (``make lint`` runs it; exit 1 on a violation).

The contract, in one line (higher layers may import lower ones, never the reverse)::

    drone_perception.cli > {drone_perception.runners, sim.runners} > {firmware_bridge | sim} > drone_perception

``firmware_bridge`` and ``sim`` (world, sensing, the simulated autopilot) are independent: neither imports the other.
The core (every other ``drone_perception`` module: types, config, geometry, track, estimate, control, pipeline,
loop, record, audit, detect) imports neither. No module may take part in an import circle. Every import counts:
module level, inside functions and under ``TYPE_CHECKING``. Only the project's own modules are considered.

    python tools/check_layers.py [ROOT]
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGES = ("drone_perception", "sim", "firmware_bridge")
#: (layer name, rank, module prefixes); a module belongs to the first entry whose prefix matches it.
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("cli", 3, ("drone_perception.cli", "drone_perception.__main__")),
    ("runners", 2, ("drone_perception.runners", "sim.runners")),
    ("firmware_bridge", 1, ("firmware_bridge",)),
    ("sim", 1, ("sim",)),
    ("core", 0, ("drone_perception",)),
)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int]:
    for name, rank, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name, rank
    raise ValueError(f"{module}: in no layer")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, is_package: bool, tree: ast.AST, known: set[str]) -> set[str]:
    """The project modules ``module`` imports (a ``from pkg import sub`` of a submodule counts as ``pkg.sub``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:  # "import a.b.c" of a module inside a package: nearest known module
                t = t.rpartition(".")[0]
            if t and t != module and t.split(".")[0] in PACKAGES:
                out.add(t)
    return out


def graph(root: Path) -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    known = {module_name(root, p) for p in files}
    return {module_name(root, p): imports_of(module_name(root, p), p.name == "__init__.py",
                                             ast.parse(p.read_text(encoding="utf-8"), str(p)), known)
            for p in files}


def _is_ancestor(pkg: str, module: str) -> bool:
    return module.startswith(pkg + ".")


def layer_violations(g: dict[str, set[str]]) -> list[str]:
    out = []
    for src, targets in sorted(g.items()):
        s_name, s_rank = layer_of(src)
        for dst in sorted(targets):
            if _is_ancestor(dst, src) and dst in ("sim", "drone_perception", "firmware_bridge"):
                continue  # a top package's __init__ is imported with every submodule; it is checked on its own
            d_name, d_rank = layer_of(dst)
            if d_rank > s_rank or (d_rank == s_rank and d_name != s_name):
                out.append(f"{src} ({s_name}) imports {dst} ({d_name})")
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(g):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in g:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def check(root: Path) -> list[str]:
    g = graph(root)
    problems = layer_violations(g)
    problems += [f"import circle: {' <-> '.join(c)}" for c in cycles(g)]
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    problems = check(root)
    for p in problems:
        print(f"layers: {p}")
    if problems:
        print(f"layers: {len(problems)} violation(s) of the contract in tools/check_layers.py")
        return 1
    print("layers: cli > runners > firmware_bridge | sim > core; no import circle")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
