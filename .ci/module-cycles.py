#!/usr/bin/env python3
"""Import cycles between the modules of each workspace crate.

Cargo refuses cycles between crates; inside a crate nothing does, so this does. For every
member of the workspace, every file of its src/ is a module (`hunt/pack/check.rs` is `hunt::pack::check`). Each
non-test, non-comment path that starts with `crate::`, `super::` or `self::` (brace groups
of `use` included) is resolved to the deepest module it names; a module's references to
its own descendants, and a parent's re-exports of them, are the module tree itself and
not counted. Prints every strongly connected component of the rest (modules that import
one another in a ring) and exits 1 when there is one.
"""

import os
import re
import sys

REPO = os.path.join(os.path.dirname(__file__), "..")


def members():
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    listed = re.search(r"^members\s*=\s*\[([^\]]*)\]", text, re.M)
    return re.findall(r'"([^"]+)"', listed.group(1))


def module_of(path, ROOT):
    parts = os.path.relpath(path, ROOT)[: -len(".rs")].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return ()
    return tuple(parts)


def sources(ROOT):
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                cut = text.find("#[cfg(test)]\nmod tests")
                if cut >= 0:
                    text = text[:cut]
                yield module_of(path, ROOT), re.sub(r"//[^\n]*", "", text)


def expand(text):
    """Every path of `text`, with `use a::{b, c::d}` groups spelled out."""
    paths = []
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)*)(::\{)?", text):
        head = (m.group(1) + m.group(2)).split("::")
        if m.group(3):
            depth, i, item = 1, m.end(), ""
            while i < len(text) and depth:
                c = text[i]
                depth += (c == "{") - (c == "}")
                if depth == 1 and c == ",":
                    paths.append(head + item.strip().split("::"))
                    item = ""
                elif depth >= 1 and c not in "{}" or depth > 1:
                    item += c
                i += 1
            if item.strip():
                paths.append(head + re.sub(r"[{}\s]", "", item).split("::"))
        else:
            paths.append(head)
    return paths


def resolve(here, path, modules):
    if path[0] == "crate":
        base, rest = (), path[1:]
    else:
        base = here
        rest = path
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    target = base
    for part in rest:
        if target + (part,) in modules:
            target = target + (part,)
        else:
            break
    return target


def check(crate):
    files = list(sources(os.path.join(REPO, crate, "src")))
    modules = {m for m, _ in files}
    edges = {}
    for here, text in files:
        for path in expand(text):
            target = resolve(here, path, modules)
            inside = target[: len(here)] == here or here[: len(target)] == target
            if target and not inside:
                edges.setdefault("::".join(here), set()).add("::".join(target))
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    for comp in cycles:
        print("cycle among:", ", ".join(comp))
        for a in comp:
            print(f"    {a} -> {', '.join(sorted(w for w in edges.get(a, ()) if w in comp))}")
    if cycles:
        print(f"{crate}: {len(cycles)} import cycle(s)")
        return 1
    print(f"{crate}: no import cycle between its {len(modules)} modules")
    return 0


def main():
    failed = 0
    for crate in members():
        failed |= check(crate)
    return failed


if __name__ == "__main__":
    sys.exit(main())
