"""harness._citations: references read from component docstrings, and the README list they generate."""
import re
from pathlib import Path

import pytest

from harness import get_registry
from harness._citations import citations, references

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", [n for n in get_registry("ssl-methods").names()
                                  if get_registry("ssl-methods").get(n).pretrains])
def test_every_ssl_method_cites_exactly_one_arxiv_paper(name):
    refs = [ref for kind, n, ref in citations("ssl-methods") if n == name]
    assert len(refs) == 1, f"{name}: {refs}"
    assert re.search(r"https://arxiv\.org/abs/\d{4}\.\d{4,5}$", refs[0]), refs[0]


def test_rows_are_kind_name_reference_and_filter_by_kind():
    rows = citations()
    assert all(isinstance(r, tuple) and len(r) == 3 and all(isinstance(x, str) for x in r) for r in rows)
    assert {k for k, _, _ in citations("metrics")} == {"metrics"}
    assert set(citations("ssl-methods")) <= set(rows)
    assert ("metrics", "ece", "Guo et al., https://arxiv.org/abs/1706.04599") in rows


def test_unknown_kind_is_an_error():
    with pytest.raises(LookupError):
        citations("ssl-method")


@pytest.mark.parametrize("doc, expected", [
    (None, []),
    ("No citation here (label 0).", []),
    ("SimCLR (Chen et al. 2020, https://arxiv.org/abs/2002.05709): NT-Xent.\n\nMore (Other 2019).",
     ["Chen et al. 2020, https://arxiv.org/abs/2002.05709"]),
    ("Platt scaling (Platt 1999; arXiv:1706.04599).", ["Platt 1999", "https://arxiv.org/abs/1706.04599"]),
    ("A thing (see f(x) in Doe 2001).", ["see f(x) in Doe 2001"]),
    ("""Two papers.

    Args:
        x: ignored (1999).

    References:
        First et al. 2020, "A title that goes on
            over two lines", arXiv:2001.00001.
        Second 2021, https://doi.org/10/xyz

    Returns:
        nothing
    """, ['First et al. 2020, "A title that goes on over two lines", https://arxiv.org/abs/2001.00001',
          "Second 2021, https://doi.org/10/xyz"]),
])
def test_references_parsing(doc, expected):
    assert references(doc) == expected


def test_readme_ssl_list_is_generated_from_the_docstrings():
    text = README.read_text()
    block = re.search(r"<!-- citations: ssl-methods -->\n(.*?)<!-- /citations -->", text, re.S)
    assert block, "README lost its generated SSL citation block"
    expected = "".join(f"- `{name}`: {ref}\n" for _, name, ref in citations("ssl-methods"))
    assert block.group(1) == expected, "regenerate the README block from harness._citations.citations"


def test_bench_plugins_citations_prints_one_reference_per_method(capsys):
    from harness.cli import main

    assert main(["plugins", "--citations"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    reg = get_registry("ssl-methods")
    methods = [n for n in reg.names() if reg.get(n).pretrains]
    assert [l.split(":")[0] for l in lines] == methods
    assert all("arxiv.org/abs/" in l for l in lines)
