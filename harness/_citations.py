"""The papers each registered component cites, read from its class docstring (for ``bench plugins --citations``).

House rule 3 says a method's docstring cites its paper; this module turns that rule into data, so
the README's citation list and the CLI cannot drift from the code. Where a reference is written:

* In a Google-style ``References:`` section, one reference per entry (continuation lines indented
  deeper). When a docstring has this section, only it is read.
* Otherwise in the summary (first) line, as a parenthesised citation:
  ``SimCLR (Chen et al. 2020, https://arxiv.org/abs/2002.05709): ...``. A parenthesis counts when it
  holds a year, an arXiv id, a DOI or a URL; ``;`` separates two references in one parenthesis.
  The rest of the docstring (background, secondary papers such as MoCo v1) is not a reference.

``arXiv:ID`` is written out as ``https://arxiv.org/abs/ID`` so every reference is a usable link.
"""
from __future__ import annotations

import inspect
import re

__all__ = ["citations", "references"]

_ARXIV_ID = re.compile(r"\barXiv:\s*(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
# what makes a parenthesis a citation rather than a remark such as "(label 0)"
_CITATION_MARK = re.compile(r"\b(1[89]\d{2}|20\d{2})\b|arxiv|doi|https?://", re.IGNORECASE)
_SECTION = re.compile(r"^\s*References:\s*$")


def _normalise(ref: str) -> str:
    ref = _ARXIV_ID.sub(lambda m: f"https://arxiv.org/abs/{m.group(1)}", ref)
    return re.sub(r"\s+", " ", ref).strip().rstrip(".,;")


def _parentheses(line: str) -> list[str]:
    """Top-level parenthesised groups of ``line``, nested parentheses kept inside their group."""
    groups, depth, start = [], 0, 0
    for i, ch in enumerate(line):
        if ch == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                groups.append(line[start:i])
    return groups


def _section(lines: list[str]) -> list[str] | None:
    """Entries of a ``References:`` section, or None when the docstring has none."""
    for i, line in enumerate(lines):
        if _SECTION.match(line):
            indent = len(line) - len(line.lstrip())
            entries: list[str] = []
            entry_indent = None
            for body in lines[i + 1:]:
                if not body.strip():
                    if entries:
                        break
                    continue
                own = len(body) - len(body.lstrip())
                if own <= indent:
                    break  # the next section, or the end of this one
                if entry_indent is None or own <= entry_indent:
                    entry_indent = own
                    entries.append(body.strip())
                else:
                    entries[-1] += " " + body.strip()  # a continuation line
            return entries
    return None


def references(doc: str | None) -> list[str]:
    """The references cited by one docstring, in order, as normalised strings.

    Args:
        doc: a class docstring (``inspect.getdoc`` form or raw); None or empty gives [].

    Returns:
        One string per reference, e.g. ``"Chen et al. 2020, https://arxiv.org/abs/2002.05709"``.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    if not lines:
        return []
    section = _section(lines)
    if section is not None:
        return [_normalise(entry) for entry in section]
    refs = []
    for group in _parentheses(lines[0]):
        for part in group.split(";"):
            if _CITATION_MARK.search(part):
                refs.append(_normalise(part))
    return refs


def citations(kind: str | None = None) -> list[tuple[str, str, str]]:
    """Every reference of every registered component, as ``(kind, name, reference)`` rows.

    Args:
        kind: one registry kind (``"ssl-methods"``, ``"calibrators"``, ...); None for all kinds.

    Returns:
        Rows sorted by kind (registry order) then name; a component citing two papers gives two
        rows, one citing none gives none.

    Raises:
        UnknownComponentError: ``kind`` is not a registry kind (from ``get_registry``).
    """
    from .components import KINDS
    from .plugins import get_registry

    kinds = list(KINDS) if kind is None else [kind]
    rows = []
    for k in kinds:
        registry = get_registry(k)
        for name in registry.names():
            for ref in references(inspect.getdoc(registry.get(name))):
                rows.append((k, name, ref))
    return rows
