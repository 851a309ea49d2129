#!/usr/bin/env python3
"""Function and file sizes in src/ (tests excluded). Run by `./scripts/dev test`.

Limits (issue 13): no function over 80 lines, no source file over 800 lines, both counted
without `#[cfg(test)] mod tests`. Items over a limit must be listed in KNOWN with their size
today, and may only shrink: a new long function or file, or a listed one that grew, fails.
Delete an entry when it is split.
"""
import os
import re
import sys

FN_LIMIT = 80
FILE_LIMIT = 800
# "path" or "path::fn" -> lines when the limit was set (`--report` prints today's sizes).
KNOWN = {
}


def source_files(root):
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith(".rs"):
                yield os.path.join(dirpath, f)


def without_tests(text):
    m = re.search(r"\n#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod tests\b", text)
    return text[: m.start()] if m else text


def functions(lines):
    """(name, first line, length) of every fn, by brace matching from its signature."""
    out = []
    sig = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")
    i = 0
    while i < len(lines):
        m = sig.match(lines[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = re.sub(r'"(?:\\.|[^"\\])*"|//.*', "", lines[j])
            if not started and code.rstrip().endswith(";") and "{" not in code:
                break  # a declaration without a body
            depth += code.count("{") - code.count("}")
            started = started or "{" in code
            if started and depth <= 0:
                out.append((m.group(1), i + 1, j - i + 1))
                break
            j += 1
        i += 1
    return out


def main():
    root = next((a for a in sys.argv[1:] if not a.startswith("-")), "src")
    report = "--report" in sys.argv
    over = {}
    for path in source_files(root):
        lines = without_tests(open(path, encoding="utf-8").read()).split("\n")
        if len(lines) > FILE_LIMIT:
            over[path] = len(lines)
        for name, _, n in functions(lines):
            if n > FN_LIMIT:
                key = f"{path}::{name}"
                over[key] = max(n, over.get(key, 0))
    failed = False
    for key, n in sorted(over.items(), key=lambda kv: -kv[1]):
        known = KNOWN.get(key)
        if report:
            print(f'    "{key}": {n},')
        elif known is None or n > known:
            print(f"{key}: {n} lines (limit {FILE_LIMIT if '::' not in key else FN_LIMIT}"
                  + (f", was {known}" if known else "") + ")")
            failed = True
    if not report:
        print(f"{len(over)} over the limits ({len(KNOWN)} known); {'FAILED' if failed else 'ok'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
