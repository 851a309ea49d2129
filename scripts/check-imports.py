#!/usr/bin/env python3
"""Module import graph of src/ and its cycles. Run by `./scripts/dev test`.

An edge A -> B means module A's code (comments and `#[cfg(test)] mod tests` excluded) names an
item of module B through `crate::b::…`, `super::…` or a child path. Two kinds of edge count:

- between modules that are not parent and child (siblings, cousins, the layers): none of
  these may form a cycle, ever;
- between a parent and its child (`--strict`): a parent that re-exports its children
  (`pub use`) or declares them (`mod`) does not depend on them, but a parent whose own code
  uses a child's items, while the child uses the parent's, is a cycle too.

Strict cycles may only be the ones in KNOWN_STRICT (none: the service layer's units each own
their state and never import the `Service` that composes them).

Exit 0: no cycle beyond the known ones. Exit 1: the cycles are printed with their edges.
"""
import os
import re
import sys

KNOWN_STRICT = {}

PATH = r"[a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*"


def modules(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), root)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            mods["::".join(rel)] = os.path.join(dirpath, f)
    return mods


def code_lines(path):
    src = open(path, encoding="utf-8").read()
    src = re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod tests", src)[0]
    return [l for l in src.splitlines() if not l.lstrip().startswith("//")]


def resolve(mods, path):
    parts = path.split("::")
    for i in range(len(parts), 0, -1):
        m = "::".join(parts[:i])
        if m in mods:
            return m
    return None


def related(a, b):
    return a == b or a.startswith(b + "::") or b.startswith(a + "::") or a == "" or b == ""


def edges_of(mods, strict):
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        lines = code_lines(path)
        text = "\n".join(lines)
        parent = "::".join(m.split("::")[:-1]) if m else None
        for mm in re.finditer(r"crate::(" + PATH + ")", text):
            t = resolve(mods, mm.group(1))
            if t is not None and not related(m, t):
                edges[m].add(t)
        for mm in re.finditer(r"\bsuper::(?:\{([^}]*)\}|(" + PATH + "))", text):
            for name in (mm.group(1) or mm.group(2)).split(","):
                name = name.strip()
                if not name or parent is None:
                    continue
                target = resolve(mods, (parent + "::" if parent else "") + name.split("{")[0].rstrip(":"))
                if target is None or target == parent:
                    if strict:
                        edges[m].add(parent)
                elif not related(m, target):
                    edges[m].add(target)
        if strict:
            for line in lines:
                if re.match(r"\s*(pub(\([a-z]+\))? )?mod ", line) or "pub use" in line:
                    continue
                for mm in re.finditer(r"\b(?:self::)?([a-z_][a-z0-9_]*)::", line):
                    child = (m + "::" if m else "") + mm.group(1)
                    if child in mods:
                        edges[m].add(child)
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def report(title, comp, edges):
    print(f"{title}: {' '.join(sorted(comp))}")
    for a in sorted(comp):
        print(f"    {a or 'crate'} -> {', '.join(sorted(x for x in edges[a] if x in comp))}")


def main():
    root = next((a for a in sys.argv[1:] if not a.startswith("-")), "src")
    mods = modules(root)
    failed = False
    for comp in cycles(edges_of(mods, strict=False)):
        report("import cycle", comp, edges_of(mods, strict=False))
        failed = True
    strict_edges = edges_of(mods, strict=True)
    for comp in cycles(strict_edges):
        known = [k for k, v in KNOWN_STRICT.items() if comp <= v]
        if known:
            print(f"known parent/child cycle ({known[0]}: one struct across its child modules, {len(comp)} modules)")
            continue
        report("parent/child cycle", comp, strict_edges)
        failed = True
    print(f"{len(mods)} modules; {'cycles found' if failed else 'no import cycles'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
