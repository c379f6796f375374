"""LICENSE and CITATION.cff: present, consistent with pyproject.toml, and CITATION.cff valid against CFF 1.2.0."""
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_license_is_mit_as_pyproject_says():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 medmnist-ssl-bench contributors" in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] in ({"text": "MIT"}, "MIT")


def test_citation_cff_matches_the_package():
    text = (REPO / "CITATION.cff").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert re.search(r"^cff-version: 1\.2\.0$", text, re.M)
    assert re.search(rf"^version: {re.escape(project['version'])}$", text, re.M)
    assert re.search(r"^license: MIT$", text, re.M)
    # the data papers a user of this benchmark must cite
    for doi in ("10.1038/s41597-022-01721-8", "10.1016/j.dib.2019.104863", "10.1016/j.cell.2018.02.010"):
        assert f"doi: {doi}" in text


def test_citation_cff_is_valid_against_the_schema(tmp_path):
    # cffconvert (in the `test` extra) bundles the CFF 1.2.0 JSON schema and validates offline
    pytest.importorskip("cffconvert", reason="cffconvert is not installed (pip install -e '.[test]'); "
                                              "CITATION.cff was not schema-checked")
    from cffconvert.cli.create_citation import create_citation

    create_citation(str(REPO / "CITATION.cff"), None).validate()  # raises on an invalid file
    # and the check is not a no-op: the same file without its required title fails
    broken = tmp_path / "CITATION.cff"
    broken.write_text(re.sub(r"^title: .*\n", "", (REPO / "CITATION.cff").read_text(), flags=re.M))
    with pytest.raises(Exception, match="title"):
        create_citation(str(broken), None).validate()
