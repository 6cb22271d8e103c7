"""Sources, package dependencies and git information."""

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import types

import pytest

from sacred import dependencies
from sacred.dependencies import (
    MODULE_BLACKLIST,
    PEP440_VERSION_PATTERN,
    PackageDependency,
    Source,
    gather_sources_and_dependencies,
    get_commit_if_possible,
    get_digest,
    get_main_file,
    get_py_file_if_possible,
    is_local_source,
    iterate_all_python_files,
    iterate_imported_modules,
    iterate_sys_modules,
)
from sacred.settings import SETTINGS

HAS_GIT = shutil.which("git") is not None


@pytest.fixture(autouse=True)
def fresh_git_cache():
    dependencies._git_info.clear()
    yield
    dependencies._git_info.clear()


# ---------------------------------------------------------------- small pieces
@pytest.mark.parametrize(
    "version",
    ["0.9.11", "2012.04", "1!1.1", "17.10a104", "43.0rc1", "0.9.post3", "1.0.dev456",
     "1.0b2.post345.dev456"],
)  # fmt: skip
def test_pep440_accepts(version):
    assert PEP440_VERSION_PATTERN.match(version)


@pytest.mark.parametrize("version", ["foo", "_12_", "version 4", "1.0.", ""])
def test_pep440_rejects(version):
    assert not PEP440_VERSION_PATTERN.match(version)


def test_module_blacklist_holds_the_standard_library():
    for name in ("os", "sys", "json", "collections", "builtins", "__future__", "typing"):
        assert name in MODULE_BLACKLIST
    for name in ("numpy", "sacred", "yaml"):
        assert name not in MODULE_BLACKLIST


def test_get_digest(tmp_path):
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello\n")
    assert get_digest(str(small)) == "b1946ac92492d2347c6235b4d2611184"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))
    md5sum = subprocess.run(["md5sum", str(big)], capture_output=True, text=True).stdout
    assert get_digest(str(big)) == md5sum.split()[0]


def test_get_py_file_if_possible(tmp_path):
    for name in ("a.py", "a.so", "a.pyd", "a.ipynb", "a.pyx"):
        assert get_py_file_if_possible(str(tmp_path / name)) == str(tmp_path / name)
    (tmp_path / "b.py").write_text("")
    assert get_py_file_if_possible(str(tmp_path / "b.pyc")) == str(tmp_path / "b.py")
    assert get_py_file_if_possible(str(tmp_path / "c.pyc")) == str(tmp_path / "c.pyc")


@pytest.mark.parametrize(
    "f_name, mod_name, ex_path, is_local",
    [
        ("./foo.py", "bar", ".", False),
        ("./foo.pyc", "bar", ".", False),
        ("./bar.py", "bar", ".", True),
        ("./bar.pyc", "bar", ".", True),
        ("./venv/py/bar.py", "bar", ".", False),
        ("./venv/py/bar.py", "venv.py.bar", ".", True),
        ("./venv/py/bar.pyc", "venv.py.bar", ".", True),
        ("foo.py", "bar", ".", False),
        ("bar.py", "bar", ".", True),
        ("bar.pyc", "bar", ".", True),
        ("bar.pyc", "some.bar", ".", False),
        ("/home/user/bar.py", "user.bar", "/home/user/", True),
        ("bar/__init__.py", "bar", ".", True),
        ("bar/__init__.py", "foo", ".", False),
        ("/home/user/bar/__init__.py", "home.user.bar", "/home/user/", True),
        ("/home/user/bar/__init__.py", "home.user.foo", "/home/user/", False),
        ("/elsewhere/bar.py", "bar", "/home/user/", False),
    ],
)
def test_is_local_source(tmp_path, monkeypatch, f_name, mod_name, ex_path, is_local):
    monkeypatch.chdir(tmp_path)
    assert is_local_source(f_name, mod_name, ex_path) == is_local


# ---------------------------------------------------------------- Source
def test_source_create_and_json(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text("print('hi')\n")
    link = tmp_path / "link.py"
    link.symlink_to(script)
    s = Source.create(str(link), save_git_info=False)
    assert s.filename == str(script.resolve())
    assert s.digest == hashlib.md5(b"print('hi')\n").hexdigest()
    assert (s.repo, s.commit, s.is_dirty) == (None, None, None)
    assert s.to_json() == (str(script.resolve()), s.digest)
    assert s.to_json(base_dir=str(tmp_path)) == ("exp.py", s.digest)
    assert repr(s) == f"<Source: {script.resolve()}>"


def test_source_create_rejects_missing_files(tmp_path):
    missing = str(tmp_path / "nope.py")
    with pytest.raises(ValueError) as info:
        Source.create(missing)
    assert str(info.value) == f'invalid filename or file not found "{missing}"'
    with pytest.raises(ValueError) as info:
        Source.create("")
    assert str(info.value) == 'invalid filename or file not found ""'


def test_source_equality_hash_and_order():
    a = Source("/x/a.py", "d1", None, None, None)
    a2 = Source("/x/a.py", "other digest", None, None, None)
    b = Source("/x/b.py", "d2", None, None, None)
    assert a == a2 and hash(a) == hash(a2)
    assert a == "/x/a.py" and "/x/a.py" in {a}
    assert a != b and a != 3
    assert sorted([b, a]) == [a, b]
    assert a < b and b > a and a <= a2


def test_source_of_pyc_uses_the_py_file(tmp_path):
    (tmp_path / "mod.py").write_text("x = 1\n")
    (tmp_path / "mod.pyc").write_bytes(b"compiled")
    s = Source.create(str(tmp_path / "mod.pyc"), save_git_info=False)
    assert s.filename == str((tmp_path / "mod.py").resolve())


# ---------------------------------------------------------------- PackageDependency
def test_package_dependency_basics():
    d = PackageDependency("foo", "1.2")
    assert d.to_json() == "foo==1.2"
    assert repr(d) == "<PackageDependency: foo=1.2>"
    assert PackageDependency("foo", None).to_json() == "foo==<unknown>"
    assert d == PackageDependency("foo", "9") and hash(d) == hash(PackageDependency("foo", None))
    assert d != PackageDependency("bar", "1.2") and d != "foo"


def test_fill_missing_version():
    d = PackageDependency("pytest", None)
    d.fill_missing_version()
    assert d.version == importlib.metadata.version("pytest")
    unknown = PackageDependency("surely-not-installed-xyz", None)
    unknown.fill_missing_version()
    assert unknown.version is None
    fixed = PackageDependency("pytest", "0.1")
    fixed.fill_missing_version()
    assert fixed.version == "0.1"


def test_create_maps_modules_to_distributions():
    import git
    import yaml

    assert (
        PackageDependency.create(yaml).to_json()
        == f"PyYAML=={importlib.metadata.version('PyYAML')}"
    )
    assert PackageDependency.create(git).to_json() == (
        f"GitPython=={importlib.metadata.version('GitPython')}"
    )
    assert PackageDependency.create(pytest).to_json() == (
        f"pytest=={importlib.metadata.version('pytest')}"
    )


def test_create_falls_back_to_version_attributes():
    mod = types.ModuleType("not_installed_anywhere")
    assert PackageDependency.create(mod).to_json() == "not_installed_anywhere==<unknown>"
    mod.__version__ = "1.2.3rc1"
    assert PackageDependency.create(mod).version == "1.2.3rc1"
    mod.__version__ = "not a version"
    mod.VERSION = (2, 0, 1)
    assert PackageDependency.create(mod).version == "2.0.1"


# ---------------------------------------------------------------- discovery
def test_get_main_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert get_main_file({}, False) == (str(tmp_path), None)
    (tmp_path / "main.py").write_text("")
    path, main = get_main_file({"__file__": str(tmp_path / "main.py")}, False)
    assert path == str(tmp_path.resolve()) and main == str((tmp_path / "main.py").resolve())


def test_iterate_imported_modules_follows_globals_and_parents():
    import email.mime.text

    from sacred.dependencies import Source as S

    globs = {"s": S, "np": None, "os": os, "email": email.mime.text, "n": 3}
    names = dict(iterate_imported_modules(globs))
    assert "sacred" in names and "sacred.dependencies" in names
    assert names["sacred"] is sys.modules["sacred"]
    assert "os" not in names and "email" not in names  # standard library


def test_iterate_sys_modules_skips_stdlib():
    names = {name for name, _ in iterate_sys_modules()}
    assert "sacred" in names and "pytest" in names
    assert "os" not in names and "sys" not in names


def test_iterate_all_python_files(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("")
    (tmp_path / "sub" / "__pycache__").mkdir()
    (tmp_path / "sub" / "__pycache__" / "c.py").write_text("")
    found = sorted(os.path.relpath(f, tmp_path) for f in iterate_all_python_files(str(tmp_path)))
    assert found == ["a.py", os.path.join("sub", "b.py")]


EXPERIMENT = """
import json, os, sys
import helper
from pkg import sub
import yaml
from sacred.dependencies import gather_sources_and_dependencies, _find_git_root
from sacred.settings import SETTINGS
SETTINGS.DISCOVER_SOURCES = os.environ["SOURCES"]
SETTINGS.DISCOVER_DEPENDENCIES = os.environ["DEPS"]
main, sources, deps = gather_sources_and_dependencies(globals(), True)
base = os.path.dirname(os.path.realpath(__file__))
print(json.dumps({
    "main": main.to_json(base)[0],
    "sources": sorted(s.to_json(base)[0] for s in sources),
    "deps": sorted(d.to_json() for d in deps),
    "git_imported": "git" in sys.modules,
    "numpy_imported": "numpy" in sys.modules,
    "in_repo": _find_git_root(base) is not None,
}))
"""


def run_experiment(tmp_path, sources="imported", deps="imported"):
    (tmp_path / "exp.py").write_text(EXPERIMENT)
    (tmp_path / "helper.py").write_text("import colorama\nX = 1\n")
    (tmp_path / "unused.py").write_text("Y = 2\n")
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub.py").write_text("Z = 3\n")
    env = dict(os.environ, SOURCES=sources, DEPS=deps)
    out = subprocess.run(
        [sys.executable, "exp.py"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def versions(*names):
    return sorted(f"{n}=={importlib.metadata.version(n)}" for n in names)


def test_gather_imported_sources_and_dependencies(tmp_path):
    result = run_experiment(tmp_path)
    assert result["main"] == "exp.py"
    assert result["sources"] == ["exp.py", "helper.py", "pkg/__init__.py", "pkg/sub.py"]
    # numpy is added without being imported; only modules with a known version count
    assert result["deps"] == versions("numpy", "PyYAML", "sacred")
    assert result["numpy_imported"] is False
    if not result["in_repo"]:
        assert result["git_imported"] is False  # no repository: GitPython never loaded


def test_gather_with_discovery_off(tmp_path):
    result = run_experiment(tmp_path, sources="none", deps="none")
    assert result["sources"] == ["exp.py"]
    assert result["deps"] == versions("numpy")


def test_gather_sources_from_dir(tmp_path):
    result = run_experiment(tmp_path, sources="dir")
    assert result["sources"] == [
        "exp.py",
        "helper.py",
        "pkg/__init__.py",
        "pkg/sub.py",
        "unused.py",
    ]


def test_gather_sources_and_dependencies_from_sys(tmp_path):
    result = run_experiment(tmp_path, sources="sys", deps="sys")
    assert result["sources"] == ["exp.py", "helper.py", "pkg/__init__.py", "pkg/sub.py"]
    # colorama is imported by helper.py only, so just the sys strategy sees it
    for dep in versions("numpy", "PyYAML", "sacred", "colorama"):
        assert dep in result["deps"]


def test_gather_dependencies_from_pkg(tmp_path):
    result = run_experiment(tmp_path, deps="pkg")
    for dep in versions("numpy", "PyYAML", "pytest", "GitPython", "py-cpuinfo"):
        assert dep in result["deps"]


def test_gather_without_file_uses_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(SETTINGS, "DISCOVER_SOURCES", "imported")
    main, sources, deps = gather_sources_and_dependencies({"json": json}, False)
    assert main is None and sources == set()
    assert PackageDependency("numpy", None) in deps


# ---------------------------------------------------------------- git
def git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    if not HAS_GIT:
        pytest.fail("the git executable is needed for these tests")
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "T")
    (path / "exp.py").write_text("a = 1\n")
    (path / "sub").mkdir()
    (path / "sub" / "mod.py").write_text("b = 2\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_git_info_of_a_clean_repository(repo):
    s = Source.create(str(repo / "sub" / "mod.py"))
    assert s.repo == "git:/" + str(repo.resolve())
    assert s.commit == git(repo, "rev-parse", "HEAD")
    assert s.is_dirty is False


def test_git_info_with_remote_and_dirty_tree(repo):
    git(repo, "remote", "add", "origin", "https://example.com/me/project.git")
    (repo / "exp.py").write_text("a = 2\n")
    url, commit, dirty = get_commit_if_possible(str(repo / "exp.py"), True)
    assert url == "https://example.com/me/project.git"
    assert commit == git(repo, "rev-parse", "HEAD")
    assert dirty is True


def test_git_info_can_be_disabled(repo):
    assert get_commit_if_possible(str(repo / "exp.py"), False) == (None, None, None)
    assert Source.create(str(repo / "exp.py"), save_git_info=False).commit is None


def test_repository_without_commits_gives_no_info(tmp_path):
    if not HAS_GIT:
        pytest.fail("the git executable is needed for this test")
    git(tmp_path, "init", "-q")
    (tmp_path / "exp.py").write_text("")
    assert get_commit_if_possible(str(tmp_path / "exp.py"), True) == (None, None, None)


def test_is_dirty_is_asked_once_per_repository(repo, monkeypatch):
    import git as gitpython

    calls = []
    original = gitpython.Repo.is_dirty

    def counting_is_dirty(self, *args, **kwargs):
        calls.append(self.working_dir)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gitpython.Repo, "is_dirty", counting_is_dirty)
    for i in range(30):
        (repo / f"extra{i}.py").write_text("")
    (repo / "exp.py").write_text("a = 'changed'\n")
    files = [repo / "exp.py", repo / "sub" / "mod.py"] + [repo / f"extra{i}.py" for i in range(30)]
    sources = [Source.create(str(f)) for f in files]
    assert calls == [str(repo.resolve())]
    assert {s.commit for s in sources} == {git(repo, "rev-parse", "HEAD")}
    assert {s.is_dirty for s in sources} == {True}


def test_missing_gitpython_gives_a_clear_error(repo, monkeypatch):
    monkeypatch.setitem(sys.modules, "git", None)
    with pytest.raises(ValueError) as info:
        get_commit_if_possible(str(repo / "exp.py"), True)
    assert str(info.value) == (
        "Cannot import git (pip install GitPython).\n"
        "Either GitPython or the git executable is missing.\n"
        "You can disable git with:\n"
        "    sacred.Experiment(..., save_git_info=False)"
    )


def test_files_outside_a_repository_never_import_git(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        from sacred.dependencies import Source, _find_git_root
        s = Source.create({str(tmp_path / "exp.py")!r})
        print(_find_git_root({str(tmp_path)!r}) is None, s.repo, "git" in sys.modules)
        """
    )
    (tmp_path / "exp.py").write_text("")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    outside, repo_url, imported = out.stdout.split()
    if outside == "True":
        assert (repo_url, imported) == ("None", "False")
