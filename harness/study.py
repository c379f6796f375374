"""``bench report``: one self-contained HTML page and its markdown twin, built from several suites'
cached results by a ``studies`` plugin.

A study file names the suites it reads, each under a role (``label_efficiency: label_efficiency.yaml``)
and the study plugin that writes the sections from them::

    study:
      title: Self-supervised learning on BreastMNIST and PneumoniaMNIST
      plugin: ssl_study            # a registered study (`bench ls studies`)
      suites: {baselines: baselines.yaml, label_efficiency: label_efficiency.yaml, ...}
      options: {n_boot: 2000}      # the plugin's Config

``bench report SUITE.yaml ...`` also takes plain suites (each under its own name as role). The core
knows nothing about what a study says: it loads results, hands the plugin a ``StudyContext`` and
renders the ``Section`` blocks it returns, as markdown (figures copied beside it) and as HTML
(figures embedded, nothing fetched from the network).
"""
from __future__ import annotations

import base64
import datetime
import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import UserError

__all__ = ["Answer", "Figure", "Section", "StudyContext", "StudySuite", "Table", "Text"]

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .suite import Suite


# --- blocks a study returns --------------------------------------------------------------------------

@dataclass(frozen=True)
class Text:
    """A paragraph; inline ``**bold**`` and ``code`` in backticks are rendered in both formats."""

    text: str


@dataclass(frozen=True)
class Table:
    head: list
    rows: list
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str = ""


@dataclass(frozen=True)
class Answer:
    """One of the study's questions and the answer the numbers give (``qid``: an HTML id)."""

    qid: str
    question: str
    text: str


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


# --- what a study reads ------------------------------------------------------------------------------

@dataclass
class StudySuite:
    """One suite's saved results: tidy rows, run folders (``predictions.csv``) and leaderboard figures."""

    role: str
    path: Path
    suite: "Suite"
    df: "pd.DataFrame"
    runs_dir: Path
    lb_dir: Path

    def figures(self, pattern: str) -> list[Path]:
        return sorted((self.lb_dir / "figures").glob(pattern))

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / str(run_id)

    def predictions(self, run_id: str) -> Path:
        """A run's ``predictions.csv``; a missing one is a UserError saying how to restore it."""
        p = self.run_dir(run_id) / "predictions.csv"
        if not p.is_file():
            raise UserError(f"{p} is missing: the results of suite `{self.suite.name}` are incomplete; rerun "
                            f"`bench run {_rel(self.path)}` (cached stages make that quick)")
        return p


@dataclass
class StudyContext:
    title: str
    suites: dict
    #: role -> why there are no results (not run yet), with the command that makes them
    missing: dict
    options: Any
    out: Path
    data_root: Optional[str] = None

    def get(self, role: str) -> Optional[StudySuite]:
        return self.suites.get(role)

    def not_run(self, role: str) -> str:
        """A sentence for a section whose suite has no results."""
        return self.missing.get(role, f"no suite has the role {role!r} in this study")


@dataclass(frozen=True)
class StudyFile:
    name: str
    title: str
    plugin: Optional[str]
    suites: dict  # role -> Path
    options: dict


def read_study(paths: list[str]) -> StudyFile:
    """A study file (top-level ``study:``), or plain suites, each under its own name as role."""
    from .suite import SuiteError, _read_yaml

    if not paths:
        raise UserError("bench report: name a study file or one or more suites")
    first = Path(paths[0]).resolve()  # includes are checked against the resolved suite tree
    data = _read_yaml(first, ())
    if isinstance(data, dict) and "study" in data:
        if len(paths) > 1:
            raise UserError(f"{first}: a study file names its own suites; pass it alone")
        extra = set(data) - {"study"}
        if extra:
            raise SuiteError(first, sorted(extra)[0], "unknown top-level key in a study file (only `study:`)")
        st = data["study"]
        if not isinstance(st, dict):
            raise SuiteError(first, "study", "expected a mapping")
        allowed = {"name", "title", "plugin", "suites", "options"}
        for k in st:
            if k not in allowed:
                raise SuiteError(first, f"study.{k}", f"unknown key (keys: {', '.join(sorted(allowed))})")
        suites = st.get("suites")
        if not isinstance(suites, dict) or not suites:
            raise SuiteError(first, "study.suites", "expected a mapping of role: suite file")
        resolved = {}
        for role, rel in suites.items():
            if not isinstance(rel, str):
                raise SuiteError(first, f"study.suites.{role}", f"expected a suite file name, got {rel!r}")
            p = (first.parent / rel).resolve()
            if not p.is_file():
                raise SuiteError(first, f"study.suites.{role}", f"suite file not found: {rel}")
            resolved[str(role)] = p
        options = st.get("options") or {}
        if not isinstance(options, dict):
            raise SuiteError(first, "study.options", "expected a mapping")
        return StudyFile(name=str(st.get("name") or first.stem), title=str(st.get("title") or first.stem),
                         plugin=st.get("plugin"), suites=resolved, options=options)
    from .suite import load_suite

    roles = {}
    for p in paths:
        suite = load_suite(p)
        roles[suite.name] = Path(p)
    name = "report-" + "-".join(roles)  # never a suite's own folder, nor the study's leaderboards/report
    return StudyFile(name=name, title=", ".join(roles), plugin=None, suites=roles, options={})


def is_study_file(path) -> bool:
    """True for a YAML file whose top level holds ``study:`` (cheap: no suite is loaded)."""
    from .suite import _read_yaml

    p = Path(path).resolve()
    if not p.is_file():
        return False
    data = _read_yaml(p, ())
    return isinstance(data, dict) and "study" in data


def study_plugin(study: StudyFile):
    """(the study plugin's class, its validated Config) for a study file."""
    from ._config import from_dict
    from .plugins import get_registry

    reg = get_registry("studies")
    defaults = [n for n in reg.names() if reg.get(n).default]
    name = study.plugin or (defaults[0] if defaults else None)
    if name is None:
        raise UserError("no default study plugin is registered: name one under study.plugin (`bench ls studies`)")
    cls = reg.get(name)
    return cls, from_dict(cls.Config, study.options, "study.options")


def load_context(study: StudyFile, out: Path, data_root: Optional[str], config: Any) -> StudyContext:
    from .execute import load_results
    from .suite import load_suite

    suites, missing = {}, {}
    for role, path in study.suites.items():
        suite = load_suite(path)
        if not (Path(out) / "results" / suite.name / "results.parquet").is_file():
            missing[role] = f"suite `{suite.name}` has no results yet: run `bench run {_rel(path)}`"
            continue
        df, _ = load_results(out, suite)  # a damaged results file is an error, not "not run yet"
        suites[role] = StudySuite(role=role, path=path, suite=suite, df=df,
                                  runs_dir=Path(out) / "results" / suite.name / "runs",
                                  lb_dir=Path(out) / "leaderboards" / suite.name)
    if not suites:
        raise UserError("no suite of this study has results yet; run them first: "
                        + "; ".join(f"bench run {_rel(p)}" for p in study.suites.values()))
    return StudyContext(title=study.title, suites=suites, missing=missing, options=config, out=Path(out),
                        data_root=data_root)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- rendering ---------------------------------------------------------------------------------------

#: the file that marks a folder as `bench report`'s own (so it may replace its figures/)
MARKER = ".bench-report"

_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`")


def _inline_html(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        out.append(f"<strong>{html.escape(m.group(1))}</strong>" if m.group(1) is not None
                   else f"<code>{html.escape(m.group(2))}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, sections: list[Section], fig_names: dict, stamp: str) -> str:
    lines = [f"# {title}", "", stamp, ""]
    lines += [f"- [{s.title}](#{s.id})" for s in sections] + [""]
    for s in sections:
        lines += [f'<a id="{s.id}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Text):
                lines += [b.text, ""]
            elif isinstance(b, Answer):
                lines += [f"> **{b.question}**", ">", f"> {b.text}", ""]
            elif isinstance(b, Table):
                if b.caption:
                    lines += [f"*{b.caption}*", ""]
                lines.append("| " + " | ".join(_md_cell(h) for h in b.head) + " |")
                lines.append("|" + "---|" * len(b.head))
                lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
                lines.append("")
            elif isinstance(b, Figure):
                lines += [f"![{b.caption}](figures/{fig_names[b.path]})", ""]
                if b.caption:
                    lines += [f"*{b.caption}*", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25}
h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
p,li,figcaption,.answer{overflow-wrap:anywhere}
nav ul{padding-left:1.2rem}
.stamp{color:#555;font-size:.9rem}
.answer{background:#f3f7fb;border-left:4px solid #2b6cb0;padding:.6rem .9rem;margin:1rem 0}
.answer h3{margin:.2rem 0 .4rem;font-size:1.05rem}
.table-wrap{overflow-x:auto;margin:1rem 0;max-width:100%}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;white-space:nowrap}
th{background:#f4f4f4}
caption{caption-side:top;text-align:left;font-style:italic;padding:.2rem 0;white-space:normal}
figure{margin:1rem 0}
img{max-width:100%;height:auto;display:block}
figcaption{font-size:.9rem;color:#444}
code{font-size:.9em;background:#f4f4f4;padding:0 .2em;overflow-wrap:anywhere}
"""


def render_html(title: str, sections: list[Section], stamp: str) -> str:
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="stamp">{_inline_html(stamp)}</p>',
            "<nav><ul>" + "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
            + "</ul></nav>"]
    for s in sections:
        body.append(f'<section id="{html.escape(s.id)}"><h2>{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Text):
                body.append(f"<p>{_inline_html(b.text)}</p>")
            elif isinstance(b, Answer):
                body.append(f'<div class="answer" id="{html.escape(b.qid)}"><h3>{_inline_html(b.question)}</h3>'
                            f"<p>{_inline_html(b.text)}</p></div>")
            elif isinstance(b, Table):
                cap = f"<caption>{_inline_html(b.caption)}</caption>" if b.caption else ""
                head = "".join(f"<th>{_inline_html(str(h))}</th>" for h in b.head)
                rows = "".join("<tr>" + "".join(f"<td>{_inline_html(str(c))}</td>" for c in r) + "</tr>" for r in b.rows)
                body.append(f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
                            f"<tbody>{rows}</tbody></table></div>")
            elif isinstance(b, Figure):
                data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
                alt = html.escape(b.caption or Path(b.path).stem)
                cap = f"<figcaption>{_inline_html(b.caption)}</figcaption>" if b.caption else ""
                body.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>')
        body.append("</section>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            "<body><main>" + "\n".join(body) + "</main></body></html>\n")


def build_report(paths: list[str], out: Path, dest: Optional[Path], data_root: Optional[str]) -> list[Path]:
    """Build ``index.html`` and ``report.md`` (+ ``figures/``) under ``dest`` (default
    ``OUT/leaderboards/<study name>``); returns the two paths."""
    from .leaderboard import git_commit

    study = read_study(paths)
    cls, config = study_plugin(study)
    ctx = load_context(study, Path(out), data_root, config)
    sections = cls(config).build(ctx)
    dest = Path(dest) if dest is not None else Path(out) / "leaderboards" / study.name
    marker = dest / MARKER
    if dest.exists() and any(dest.iterdir()) and not marker.is_file():
        raise UserError(f"{dest} holds files that `bench report` did not write; give --dest an empty or new "
                        "folder (or one an earlier `bench report` wrote)")
    dest.mkdir(parents=True, exist_ok=True)
    marker.write_text("written by `bench report`; its figures/ is replaced on every run\n")
    # copy into a fresh folder first, then swap: a figure may come from the old folder itself
    fig_dir, tmp = dest / "figures", dest / ".figures.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    fig_names: dict = {}
    for s in sections:
        for b in s.blocks:
            if isinstance(b, Figure) and b.path not in fig_names:
                target = Path(b.path).name
                if target in fig_names.values():
                    target = f"{Path(b.path).parent.parent.name}_{target}"
                shutil.copyfile(b.path, tmp / target)
                fig_names[b.path] = target
    if fig_dir.exists():
        shutil.rmtree(fig_dir)
    tmp.rename(fig_dir)
    stamp = (f"Generated by `bench report` (commit `{git_commit()}`) on "
             f"{datetime.date.today().isoformat()} from the cached results of: "
             + ", ".join(f"`{n}`" for n in dict.fromkeys(s.suite.name for s in ctx.suites.values()))
             + (". Not run yet: " + ", ".join(f"`{r}`" for r in ctx.missing) if ctx.missing else "") + ".")
    from .store import atomic_write_text

    md = dest / "report.md"
    page = dest / "index.html"
    atomic_write_text(md, render_markdown(study.title, sections, fig_names, stamp))
    atomic_write_text(page, render_html(study.title, sections, stamp))
    return [page, md]
