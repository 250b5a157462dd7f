#!/usr/bin/env python3
"""Checks that the modules of src/ form the layers of DESIGN.md §7.

Reads every `crate::…` path in the code of src/ (comments and doc comments
left out), maps each file to its top-level module, and prints the edges
between top-level modules. Fails (exit 1) on an edge that points up the
layer order, on an import cycle, and on a `crate::Name` that goes through
a crate-root re-export (which would hide the real edge).

Run: python3 scripts/check-layers.py
"""
import pathlib
import re
import sys

# Lowest first: a module may use only modules before it in this list.
LAYERS = ["de", "jose", "telemetry", "remote", "validator", "http", "providers", "axum", "tonic", "testing"]
RANK = {m: i for i, m in enumerate(LAYERS)}
# Outside crates a layer must not name: the pure core does no I/O and knows
# no HTTP; nothing below `http` knows tower or the web frameworks.
WEB = {"tower_layer", "tower_service", "axum_core", "axum", "tonic"}
FORBIDDEN = {
    "de": {"tokio", "reqwest", "http", "moka", "arc_swap"} | WEB,
    # `url` is pure parsing: DPoP's `htu` is compared as WHATWG URLs.
    "jose": {"tokio", "reqwest", "http", "moka", "arc_swap"} | WEB,
    "telemetry": {"tokio", "reqwest", "http", "moka", "arc_swap"} | WEB,
    "remote": WEB,
    "validator": WEB,
    "providers": WEB,
}
EXTERNAL = re.compile(r"(?<![A-Za-z0-9_:])(?:::)?([a-z_][a-z0-9_]*)::")
SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}")


def top_module(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs") if len(rel.parts) > 1 or rel.stem != "lib" else "lib"


def code_lines(text: str):
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield number, line.split("//", 1)[0] if "://" not in line else line


def main() -> int:
    edges: dict[tuple[str, str], list[str]] = {}
    problems = []
    for path in sorted(SRC.rglob("*.rs")):
        module = top_module(path)
        for number, line in code_lines(path.read_text()):
            for name in EXTERNAL.findall(line):
                if name in FORBIDDEN.get(module, ()):
                    problems.append(f"{path.relative_to(SRC.parent)}:{number}: {module} names `{name}`")
            targets = PATH.findall(line)
            for group in GROUP.findall(line):
                targets += [t.strip().split("::")[0] for t in group.split(",") if t.strip()]
            for target in targets:
                where = f"{path.relative_to(SRC.parent)}:{number}"
                if target not in RANK:
                    problems.append(f"{where}: `crate::{target}` is not a layer module (name the module, not a root re-export)")
                    continue
                if module in ("lib", target):
                    continue
                edges.setdefault((module, target), []).append(where)
    print("edges between top-level modules (from → to: uses):")
    for (a, b), wheres in sorted(edges.items(), key=lambda e: (RANK[e[0][0]], RANK[e[0][1]])):
        direction = "ok" if RANK[b] < RANK[a] else "UP"
        print(f"  {a:>9} → {b:<9} {len(wheres):3}  {direction}")
        if RANK[b] >= RANK[a]:
            problems.append(f"{a} → {b} points up the layers ({wheres[0]})")
    # A cycle needs an upward edge, but say so explicitly.
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                problems.append("import cycle: " + " → ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    if problems:
        print("\n".join(["", "problems:"] + [f"  {p}" for p in problems]))
        return 1
    print(f"\nno cycle; every edge points down {' → '.join(reversed(LAYERS))};")
    print("jose names no tokio, reqwest, http or tower; nothing below http names tower")
    return 0


if __name__ == "__main__":
    sys.exit(main())
