#!/usr/bin/env python3
"""Import circles between the files of each crate (issue 15: "no import circle anywhere").

A file imports another when it names an item or module of it: `crate::a::b::Item`, `super::x`,
`self::x`, a child module named bare in a `mod.rs`/`lib.rs`, or a `use` group. A name that a
module only re-exports (`pub use child::Item`) points to the file that defines it, so a parent
that re-exports its children is not in a circle with them; a parent that defines items its
children use, and uses theirs, is. Test modules (`#[cfg(test)] mod tests { … }`) are left out.

Usage: scripts/import_cycles.py [crates/<name> …]   (default: every crate). Prints each circle
(strongly connected component of more than one file) and exits 1 when there is one.
"""
import os
import re
import sys

ITEM = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?(?:fn|struct|enum|trait|type|const|static|mod|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)")


def modules(src_root):
    files = {}
    for directory, _, names in os.walk(src_root):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, src_root)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts in (["lib"], ["main"]):
                parts = []
            if len(parts) == 1 and parts[0] in ("main",):
                continue
            files[tuple(parts)] = path
    return files


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*(?:pub\s+)?mod\s+\w+\s*\{", text)
    return text[: cut.start()] if cut else text


def is_dir_module(path):
    return path.endswith(("mod.rs", "lib.rs", "main.rs"))


def analyse(src_root):
    files = modules(src_root)
    texts = {m: strip(open(p, encoding="utf-8").read()) for m, p in files.items()}
    defined = {m: set(ITEM.findall(t)) for m, t in texts.items()}
    # Re-exports: (module, name) -> path segments it stands for, relative to that module.
    reexports = {}
    for m, t in texts.items():
        for found in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+([^;]+);", t):
            for path, alias in expand(found.group(1)):
                name = alias or path[-1]
                reexports[(m, name)] = path

    def base_of(m):
        return list(m) if is_dir_module(files[m]) else list(m[:-1])

    def resolve(m, segments, depth=0):
        """The module a path names (deepest module prefix, re-exports followed)."""
        if depth > 8 or not segments:
            return None
        head, rest = segments[0], segments[1:]
        if head == "crate":
            here = []
        elif head == "super":
            here = list(m)[:-1]
            while rest and rest[0] == "super":
                here, rest = here[:-1], rest[1:]
        elif head == "self":
            here = list(m)
        else:
            here = list(m)
            rest = segments
        current = tuple(here)
        if current not in files:
            return None
        for i, segment in enumerate(rest):
            child = current + (segment,)
            if child in files:
                current = child
                continue
            key = (current, segment)
            if key in reexports:
                target = resolve(current, reexports[key] + rest[i + 1 :], depth + 1)
                return target or current
            return current
        return current

    edges = {m: set() for m in files}
    for m, t in texts.items():
        paths = []
        for found in re.finditer(r"\buse\s+([^;]+);", t):
            paths.extend(path for path, _ in expand(found.group(1)))
        for found in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::[A-Za-z_]\w*)+)", t):
            if t.startswith("::{", found.end()):
                continue  # a `use` group's prefix: its members are counted from the `use`
            paths.append(found.group(1).split("::"))
        if is_dir_module(files[m]):
            for found in re.finditer(r"(?<![\w:])([a-z_]\w*)::", t):
                if base_of(m) + [found.group(1)] and tuple(base_of(m) + [found.group(1)]) in files:
                    paths.append(["self", found.group(1)] + [])
        for path in paths:
            if path and path[0] not in ("crate", "super", "self"):
                if tuple(list(m) + [path[0]]) not in files:
                    continue
                path = ["self"] + path
            target = resolve(m, path)
            if target is not None and target != m:
                edges[m].add(target)
    return files, edges


def expand(tree):
    """`a::{b, c::{D, E as F}}` → [(["a","b"], None), (["a","c","D"], None), (["a","c","E"], "F")]."""
    tree = " ".join(tree.split())
    out = []

    def walk(prefix, text):
        text = text.strip()
        if not text:
            return
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(text):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(text[start:i])
                start = i + 1
        parts.append(text[start:])
        if len(parts) > 1:
            for part in parts:
                walk(prefix, part)
            return
        if "{" in text:
            head, inner = text.split("{", 1)
            head = [s for s in head.strip().rstrip(":").split("::") if s]
            walk(prefix + head, inner.rsplit("}", 1)[0])
            return
        alias = None
        if " as " in text:
            text, alias = [s.strip() for s in text.split(" as ", 1)]
        segments = [s for s in text.strip().split("::") if s]
        if segments and segments[-1] == "self":
            segments = segments[:-1]
        if segments and segments[-1] != "*":
            out.append((prefix + segments, alias))
        elif segments:
            out.append((prefix + segments[:-1], None))

    walk([], tree)
    return out


def circles(edges):
    index, low, stack, on, result, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(100000)

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return result


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    crates = sys.argv[1:] or sorted(
        os.path.join("crates", name) for name in os.listdir(os.path.join(root, "crates"))
    )
    found = False
    for crate in crates:
        files, edges = analyse(os.path.join(root, crate, "src"))
        for component in circles(edges):
            found = True
            names = ", ".join(os.path.relpath(files[m], os.path.join(root, crate, "src")) for m in component)
            print(f"{crate}: {len(component)} files import each other: {names}")
    if not found:
        print("no import circle")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
