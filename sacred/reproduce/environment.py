"""What differs between the environment a run recorded and the one a rerun runs in.

* packages: ``experiment.dependencies`` (``"name==version"``) against the installed
  version (``importlib.metadata``);
* git: ``experiment.repositories`` (``{"url", "commit", "dirty"}``) against the repository
  that holds the code run now (the working copy with ``--here``, else the current folder).

Each difference is one line of text; nothing here fails a rerun.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Optional

__all__ = ("package_differences", "git_differences")


def _installed_version(name: str) -> tuple:
    """``(found, version)``: the distribution's version, ``(True, None)`` for an importable
    module without a distribution, ``(False, None)`` when neither exists."""
    from importlib import metadata

    try:
        return True, metadata.version(name)
    except (metadata.PackageNotFoundError, ValueError):
        pass
    try:
        return importlib.util.find_spec(name) is not None, None
    except (ImportError, ValueError):
        return False, None


def package_differences(record: dict) -> list:
    """One line per recorded package whose installed version differs (or is missing)."""
    lines = []
    for entry in (record.get("experiment") or {}).get("dependencies") or []:
        if not isinstance(entry, str) or "==" not in entry:
            continue
        name, _, version = entry.partition("==")
        if not name or version in ("", "<unknown>"):
            continue
        found, installed = _installed_version(name)
        if not found:
            lines.append(f"package {name} {version} was used by the run and is not installed")
        elif installed is not None and installed != version:
            lines.append(f"package {name}: the run used {version}, {installed} is installed")
    return lines


def _short(commit: Optional[str]) -> str:
    return (commit or "?")[:12]


def git_differences(record: dict, folder: str, here: bool) -> list:
    """One line per git difference: a run recorded from a dirty tree; the repository at
    ``folder`` on another commit, or dirty; with ``here``, ``folder`` outside the run's
    repository."""
    from sacred.dependencies import get_commit_if_possible

    run_id = record.get("_id")
    repos, seen = [], set()
    for repo in (record.get("experiment") or {}).get("repositories") or []:
        # one entry per source file that lives in a repository: each repository once
        if isinstance(repo, dict):
            key = (str(repo.get("url")), str(repo.get("commit")), bool(repo.get("dirty")))
            if key not in seen:
                seen.add(key)
                repos.append(repo)
    lines = []
    for repo in repos:
        if repo.get("dirty"):
            lines.append(
                f"run {run_id} was recorded from a dirty working tree of {repo.get('url')} "
                f"(commit {_short(repo.get('commit'))}): files that are not its sources may "
                "have held uncommitted changes"
            )
    try:
        url, commit, dirty = get_commit_if_possible(os.path.join(folder, "_"), True)
    except ValueError:  # GitPython or git is missing
        return lines
    if url is None:
        return lines
    same = [r for r in repos if r.get("url") == url]
    if not same:
        if here and repos:
            recorded = ", ".join(sorted({str(r.get("url")) for r in repos}))
            lines.append(
                f"the working copy is in the git repository {url}; run {run_id} was recorded "
                f"from {recorded}"
            )
        return lines
    if not any(r.get("commit") == commit for r in same):
        lines.append(
            f"git commit differs for {url}: the run used {_short(same[0].get('commit'))}, "
            f"{_short(commit)} is checked out"
        )
    if dirty:
        lines.append(f"the working tree of {url} has uncommitted changes")
    return lines
