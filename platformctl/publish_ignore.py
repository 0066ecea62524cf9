"""Which files `pulumi policy publish` uploads from a directory.

The CLI archives the pack directory with ``archive.TGZ(dir, "package", true)``
(pulumi/pulumi ``sdk/go/common/util/archive/archive.go``): it walks the directory,
skips ``.git``, and leaves out every file that a ``.gitignore`` matches, reading the
``.gitignore`` of each directory it enters *and of every parent directory of the pack up
to the filesystem root*. So a pack staged under a git-ignored folder (the repository
ignores ``out/``) would be uploaded empty.

The matching is github.com/sabhiram/go-gitignore at 525f6e1 (the version pulumi pins),
ported line for line: it differs from git (a later ``!pattern`` re-includes a file even
below an excluded directory), and it is what decides the upload, so it is what we check.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

GITIGNORE = ".gitignore"
_MAGIC_STAR = "#$~"
_SLASH_STAR_DOT = re.compile(r"([^\/+])/.*\*\.")
_ESCAPED_LEAD = re.compile(r"^(\#|\!)")


@dataclass(frozen=True)
class Pattern:
    """One compiled line of a .gitignore."""

    regex: re.Pattern[str]
    negate: bool
    line: str


def compile_line(line: str) -> Pattern | None:
    """go-gitignore's ``getPatternFromLine``: a line as an anchored regular expression."""
    source = line
    line = line.rstrip("\r")
    if line.startswith("#"):
        return None
    line = line.strip(" ")
    if not line:
        return None
    negate = line[0] == "!"
    if negate:
        line = line[1:]
    if _ESCAPED_LEAD.match(line):
        line = line[1:]
    if _SLASH_STAR_DOT.search(line) and line[0] != "/":
        line = "/" + line
    line = line.replace(".", r"\.")
    if line.startswith("/**/"):
        line = line[1:]
    line = line.replace("/**/", "(/|/.+/)")
    line = line.replace("**/", "(|." + _MAGIC_STAR + "/)")
    line = line.replace("/**", "(|/." + _MAGIC_STAR + ")")
    line = line.replace("\\*", "\\" + _MAGIC_STAR)
    line = line.replace("*", "([^/]*)")
    line = line.replace("?", "\\?")
    line = line.replace(_MAGIC_STAR, "*")
    expr = line + ("(|.*)$" if line.endswith("/") else "(|/.*)$")
    expr = "^(|/)" + expr[1:] if expr.startswith("/") else "^(|.*/)" + expr
    return Pattern(re.compile(expr), negate, source)


@dataclass(frozen=True)
class IgnoreFile:
    """A compiled .gitignore and the directory its patterns are relative to."""

    path: Path
    patterns: tuple[Pattern, ...]

    @classmethod
    def read(cls, path: Path) -> IgnoreFile:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        return cls(path, tuple(p for p in map(compile_line, lines) if p is not None))

    def match(self, file: Path) -> Pattern | None:
        """The pattern that ignores ``file``, or None (the path relative to this file's folder)."""
        return matching(self.patterns, str(file).removeprefix(str(self.path.parent)))


def matching(patterns: tuple[Pattern, ...], path: str) -> Pattern | None:
    """go-gitignore ``MatchesPathHow``: the last pattern that ignores ``path``, unless a
    later negated pattern re-includes it."""
    matched: Pattern | None = None
    for pattern in patterns:
        if pattern.regex.search(path):
            if not pattern.negate:
                matched = pattern
            elif matched is not None:
                matched = None
    return matched


@dataclass(frozen=True)
class Excluded:
    """A file the upload leaves out, and which .gitignore line does it."""

    file: Path
    ignore_file: Path
    line: str


def _parents_ignore_files(root: Path) -> list[IgnoreFile]:
    found = []
    for parent in root.parents:
        candidate = parent / GITIGNORE
        if candidate.is_file():
            found.append(IgnoreFile.read(candidate))
    return found


def upload_split(pack_dir: Path) -> tuple[list[Path], list[Excluded]]:
    """(files uploaded, files left out) when `pulumi policy publish` runs in ``pack_dir``."""
    root = pack_dir.resolve()
    uploaded: list[Path] = []
    excluded: list[Excluded] = []

    def walk(directory: Path, active: list[IgnoreFile]) -> None:
        own = directory / GITIGNORE
        if own.is_file():
            active = [IgnoreFile.read(own), *active]
        if directory == root:
            active = [*active, *_parents_ignore_files(root)]
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.name == ".git":
                continue  # the archive's default exclude, in every directory
            if entry.is_dir(follow_symlinks=True):
                walk(path, active)
                continue
            if not entry.is_file(follow_symlinks=True):
                continue
            hit = next(((f, p) for f in active if (p := f.match(path)) is not None), None)
            if hit is None:
                uploaded.append(path)
            else:
                excluded.append(Excluded(path, hit[0].path, hit[1].line))

    walk(root, [])
    return uploaded, excluded
