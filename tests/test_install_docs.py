"""The install instructions install this project, not the package index's ``sacred``
(which is the original Sacred)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pages():
    yield "README.md"
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md"):
            yield os.path.join("docs", name)


def _read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def test_no_page_installs_the_registrys_sacred():
    # `pip install sacred` (no extra) fetches the original; with this project installed,
    # `pip install "sacred[mongo]"` only adds the extra's packages, so those hints stay
    found = [
        (page, line.strip())
        for page in _pages()
        for line in _read(page).splitlines()
        if re.search(r"pip install\s+(-U\s+|--upgrade\s+)?[\"']?sacred[\"']?(\s|$|`)", line)
    ]
    assert found == []


def test_the_quickstart_installs_from_a_clone_or_a_built_wheel():
    text = _read("docs/quickstart.md")
    install = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "pip install -e ." in install
    assert 'pip install -e ".[mongo]"' in install
    assert "python -m build" in install
    assert "pip install dist/sacred-0.9.0-py3-none-any.whl" in install
    assert '"sacred[mongo] @ file://' in install
    assert "the original" in install  # says plainly what the index's `sacred` is
