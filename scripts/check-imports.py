#!/usr/bin/env python3
"""The import graph between the files of src/, and its cycles.

Every `use crate::…`, `use super::…`, `use self::…`, a `use` of a child module
and every inline `crate::a::b` path is resolved to the file that defines the
deepest module it names (src/a/b.rs or src/a/b/mod.rs; an item such as
`crate::store::Store` resolves to src/store/mod.rs). A `mod x;` declaration is
not an import. Test modules (from the first `#[cfg(test)]` on) are left out:
they are not part of the daemon.

Usage: check-imports.py [--graph] [--self-test] [SRC_DIR]
Prints the strongly connected components with more than one file and exits 1
if there is any; --graph also prints every edge and a summary.
"""
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_path(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel in (["lib"], ["main"]):
        return []
    return rel


def strip(code):
    """Drops comments and string/char literals (roughly, enough for paths)."""
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r'r#*"(?:.|\n)*?"#*', '""', code)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code)
    code = re.sub(r"'(?:\\.|[^'\\])'", "''", code)
    return code


def expand_use(tree):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, s):
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:i])
                start = i + 1
        parts.append(s[start:])
        for p in parts:
            if not p:
                continue
            if "{" in p:
                head, rest = p.split("{", 1)
                walk(prefix + head, rest[:-1])
            else:
                out.append(prefix + p)

    walk("", tree)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--graph" in sys.argv
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "src")
    src = os.path.normpath(src)
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(root, n)
                files[tuple(module_path(src, p))] = os.path.relpath(p, src)
    # main.rs is its own crate root (uses `postbote::`); lib.rs is the library's.
    roots = {os.path.relpath(os.path.join(src, "main.rs"), src)}

    def resolve(mod):
        for k in range(len(mod), -1, -1):
            if tuple(mod[:k]) in files:
                return files[tuple(mod[:k])]
        return None

    def runtime_code(f):
        code = open(os.path.join(src, f), encoding="utf-8").read()
        cut = code.find("#[cfg(test)]")
        return strip(code[:cut] if cut >= 0 else code)

    # `pub use child::Item;` in a module file: a path to the module's Item
    # goes on to the child's file (the re-export is itself an edge).
    reexports = {}
    for mod, f in files.items():
        for m in re.finditer(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);", runtime_code(f)):
            for p in expand_use(m.group(1)):
                segs = [x for x in p.split("::") if x]
                if len(segs) >= 2 and segs[0] not in ("crate", "super", "self"):
                    child = list(mod) + segs[:-1]
                    if tuple(child) in files:
                        reexports[(f, segs[-1])] = files[tuple(child)]

    def resolve_item(mod):
        for k in range(len(mod), -1, -1):
            if tuple(mod[:k]) in files:
                f = files[tuple(mod[:k])]
                if k < len(mod) and (f, mod[k]) in reexports:
                    return reexports[(f, mod[k])]
                return f
        return None

    edges = {f: set() for f in files.values()}
    for mod, f in files.items():
        if f in roots:
            continue
        code = runtime_code(f)
        here = list(mod)
        children = {
            m[-1]
            for m in files
            if len(m) == len(here) + 1 and list(m[: len(here)]) == here
        }
        # Inline `mod x { … }` blocks: `super` inside one starts from it.
        spans = []
        for m in re.finditer(r"\bmod\s+" + IDENT + r"\s*\{", code):
            depth, i = 1, m.end()
            while i < len(code) and depth:
                depth += {"{": 1, "}": -1}.get(code[i], 0)
                i += 1
            spans.append((m.start(), i))
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", code):
            paths.extend((m.start(), p) for p in expand_use(m.group(1)))
        paths.extend(
            (m.start(), m.group(0))
            for m in re.finditer(r"\b(?:crate|super|self)(?:::" + IDENT + ")+", code)
        )
        for at, p in paths:
            inline = sum(1 for a, b in spans if a < at < b)
            segs = [s for s in p.split("::") if s and s != "*"]
            if not segs:
                continue
            if segs[0] == "crate":
                target = segs[1:]
            elif segs[0] in ("super", "self"):
                # In a.rs and a/mod.rs alike, `self` is module a, `super` its parent.
                cur = list(here)
                i, nested = 0, inline
                while i < len(segs) and segs[i] in ("super", "self"):
                    if segs[i] == "super":
                        if nested:
                            nested -= 1
                        else:
                            cur = cur[:-1]
                    i += 1
                if nested:
                    continue  # a path inside the file's own inline module
                target = cur + segs[i:]
            elif segs[0] in children:
                target = here + segs
            else:
                continue
            t = resolve_item(target)
            if t and t != f:
                edges[f].add(t)

    # Tarjan's strongly connected components.
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
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
            comps.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    cycles = [c for c in comps if len(c) > 1]
    if show:
        for v in sorted(edges):
            for w in sorted(edges[v]):
                print(f"{v} -> {w}")
        n_edges = sum(len(e) for e in edges.values())
        print(f"files: {len(edges)}, import edges: {n_edges}")
    for c in cycles:
        print(f"import cycle of {len(c)} files: {' '.join(c)}")
    if cycles:
        sys.exit(1)
    print("no import cycle between the files of src/")


def self_test():
    """The checker finds a cycle through a re-export and `super`, and none
    where a path only names a sibling through the parent's re-export."""
    import subprocess
    import tempfile

    def run(tree):
        with tempfile.TemporaryDirectory() as d:
            for path, text in tree.items():
                os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
                with open(os.path.join(d, path), "w", encoding="utf-8") as f:
                    f.write(text)
            r = subprocess.run(
                [sys.executable, __file__, d], capture_output=True, text=True
            )
            return r.returncode, r.stdout

    base = {
        "lib.rs": "pub mod a;\npub mod b;\n",
        "a/mod.rs": "pub mod x;\npub use x::X;\n",
        "a/x.rs": "pub struct X;\n",
    }
    code, out = run({**base, "b.rs": "use crate::a::X;\n"})
    assert code == 0, out
    code, out = run({**base, "b.rs": "use crate::a::X;\npub struct B;\n",
                     "a/x.rs": "use crate::b::B;\npub struct X;\n"})
    assert code == 1 and "a/x.rs b.rs" in out, out
    code, out = run({**base, "a/x.rs": "pub struct X;\n#[cfg(test)]\nmod t { use crate::b; }\n",
                     "b.rs": "use crate::a::X;\n"})
    assert code == 0, out
    code, out = run({**base, "a/mod.rs": "pub mod x;\npub use x::X;\npub struct M;\n",
                     "a/x.rs": "use super::M;\npub struct X;\n"})
    assert code == 1 and "a/mod.rs a/x.rs" in out, out
    print("check-imports self-test: ok")


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        self_test()
    else:
        main()
