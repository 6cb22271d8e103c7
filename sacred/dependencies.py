"""Find the source files and package dependencies of an experiment, and its git state.

Costly things happen lazily and at most once: ``importlib.metadata`` is imported
only when a package version is needed and the scan of installed distributions is
cached; GitPython is imported only for files inside a git work tree, and each
repository is opened and asked ``is_dirty()`` once (see ``_GIT_INFO_TTL``).
"""

import functools
import hashlib
import os
import re
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

from sacred.settings import SETTINGS
from sacred.utils import iter_prefixes

__all__ = (
    "get_digest",
    "Source",
    "PackageDependency",
    "PEP440_VERSION_PATTERN",
    "MODULE_BLACKLIST",
    "gather_sources_and_dependencies",
    "get_py_file_if_possible",
    "is_local_source",
    "get_commit_if_possible",
    "get_main_file",
    "iterate_imported_modules",
    "iterate_all_python_files",
    "iterate_sys_modules",
    "source_discovery_strategies",
    "dependency_discovery_strategies",
)

PEP440_VERSION_PATTERN = re.compile(
    r"""
    ^
    (\d+!)?              # epoch
    (\d[.\d]*(?<= \d))   # release
    ((?:[abc]|rc)\d+)?   # pre-release
    (?:(\.post\d+))?     # post-release
    (?:(\.dev\d+))?      # development release
    $
    """,
    flags=re.VERBOSE,
)

# standard library modules: never sources, never dependencies
_STDLIB = """
__future__ __main__ _abc _ast _asyncio _bisect _blake2 _bootlocale _bz2 _codecs _collections
_collections_abc _compat_pickle _compression _contextvars _crypt _csv _ctypes _curses _datetime
_decimal _dummy_thread _elementtree _functools _hashlib _heapq _imp _io _json _locale _lsprof
_lzma _markupbase _md5 _multibytecodec _multiprocessing _opcode _operator _osx_support _pickle
_posixsubprocess _py_abc _pydecimal _pyio _queue _random _sha1 _sha256 _sha3 _sha512 _signal
_sitebuiltins _socket _sqlite3 _sre _ssl _stat _string _strptime _struct _symtable _thread
_threading_local _tkinter _tracemalloc _uuid _warnings _weakref _weakrefset _winapi _zoneinfo
abc aifc antigravity argparse array ast asynchat asyncio asyncore atexit audioop base64 bdb
binascii binhex bisect builtins bz2 cProfile calendar cgi cgitb chunk cmath cmd code codecs
codeop collections colorsys compileall concurrent configparser contextlib contextvars copy
copyreg crypt csv ctypes curses dataclasses datetime dbm decimal difflib dis distutils doctest
dummy_threading email encodings ensurepip enum errno faulthandler fcntl filecmp fileinput
fnmatch formatter fractions ftplib functools gc genericpath getopt getpass gettext glob graphlib
grp gzip hashlib heapq hmac html http idlelib imaplib imghdr imp importlib inspect io ipaddress
itertools json keyword lib2to3 linecache locale logging lzma mailbox mailcap marshal math
mimetypes mmap modulefinder msilib msvcrt multiprocessing netrc nis nntplib ntpath nturl2path
numbers opcode operator optparse os ossaudiodev parser pathlib pdb pickle pickletools pipes
pkgutil platform plistlib poplib posix posixpath pprint profile pstats pty pwd py_compile
pyclbr pydoc pydoc_data pyexpat queue quopri random re readline reprlib resource rlcompleter
runpy sched secrets select selectors shelve shlex shutil signal site smtpd smtplib sndhdr
socket socketserver spwd sqlite3 sre_compile sre_constants sre_parse ssl stat statistics
string stringprep struct subprocess sunau symbol symtable sys sysconfig syslog tabnanny
tarfile telnetlib tempfile termios textwrap this threading time timeit tkinter token tokenize
tomllib trace traceback tracemalloc tty turtle turtledemo types typing unicodedata unittest
urllib uu uuid venv warnings wave weakref webbrowser winreg winsound wsgiref xdrlib xml xmlrpc
xxsubtype zipapp zipfile zipimport zlib zoneinfo
""".split()

MODULE_BLACKLIST = (
    set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ())) | set(_STDLIB)
)


def get_digest(filename):
    """The md5 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.md5()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- git
# How long the git state of a repository is reused. An experiment with many
# ingredients and source files creates all its Sources within a moment; asking
# git (``is_dirty`` is slow on big repositories) once for all of them is enough.
_GIT_INFO_TTL = 5.0
_git_lock = threading.Lock()
_git_info = {}  # work tree root -> (time, (url, commit, is_dirty))


def _find_git_root(directory):
    """The closest directory at or above ``directory`` holding a ``.git``, else None."""
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _import_git():
    try:
        import git
    except ImportError as e:
        raise ValueError(
            "Cannot import git (pip install GitPython).\n"
            "Either GitPython or the git executable is missing.\n"
            "You can disable git with:\n"
            "    sacred.Experiment(..., save_git_info=False)"
        ) from e
    return git


def _read_git_info(git, root):
    repo = git.Repo(root, search_parent_directories=True)
    try:
        try:
            url = repo.remote().url
        except ValueError:  # no remote called origin
            url = "git:/" + repo.working_dir
        commit = repo.head.commit.hexsha  # ValueError in a repository without commits
        return url, commit, repo.is_dirty()
    finally:
        repo.close()  # ends git helper processes; the result is cached instead


def get_commit_if_possible(filename, save_git_info):
    """``(url, commit, is_dirty)`` of the git repository holding ``filename``, or Nones."""
    if not save_git_info:
        return None, None, None
    directory = os.path.dirname(os.path.abspath(filename))
    with _git_lock:
        root = _find_git_root(directory)
        if root is None:
            return None, None, None
        git = _import_git()
        now = time.monotonic()
        cached = _git_info.get(root)
        if cached is not None and now - cached[0] < _GIT_INFO_TTL:
            return cached[1]
        try:
            info = _read_git_info(git, root)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
            info = (None, None, None)
        _git_info[root] = (now, info)
        return info


# ---------------------------------------------------------------- sources
@functools.total_ordering
class Source:
    """A source file of the experiment, with its md5 digest and git state."""

    def __init__(self, filename, digest, repo, commit, isdirty):
        self.filename = os.path.realpath(filename)
        self.digest = digest
        self.repo = repo
        self.commit = commit
        self.is_dirty = isdirty

    @staticmethod
    def create(filename, save_git_info=True):
        if not filename or not os.path.exists(filename):
            raise ValueError(f'invalid filename or file not found "{filename}"')
        main_file = get_py_file_if_possible(os.path.abspath(filename))
        repo, commit, is_dirty = get_commit_if_possible(main_file, save_git_info)
        return Source(main_file, get_digest(main_file), repo, commit, is_dirty)

    def to_json(self, base_dir=None):
        """``(path, md5)``, the path relative to ``base_dir`` when given."""
        if base_dir:
            return os.path.relpath(self.filename, os.path.realpath(base_dir)), self.digest
        return self.filename, self.digest

    def __hash__(self):
        return hash(self.filename)

    def __eq__(self, other):
        if isinstance(other, Source):
            return self.filename == other.filename
        if isinstance(other, str):
            return self.filename == other
        return False

    def __lt__(self, other):
        return self.filename < other.filename

    def __repr__(self):
        return f"<Source: {self.filename}>"


def get_py_file_if_possible(pyc_name):
    """The ``.py`` file of a ``.pyc`` when it exists; other source types unchanged."""
    if pyc_name.endswith((".py", ".so", ".pyd", ".ipynb", ".pyx")):
        return pyc_name
    assert pyc_name.endswith(".pyc")
    non_compiled_file = pyc_name[:-1]
    if os.path.exists(non_compiled_file):
        return non_compiled_file
    return pyc_name


def _module_parts(path):
    """``pkg/sub/__init__.py`` -> ``[..., "pkg", "sub"]``; ``pkg/mod.py`` -> ``[..., "pkg", "mod"]``."""
    parts = list(path.parts)
    if parts[-1] in ("__init__.py", "__init__.pyc"):
        return parts[:-1]
    parts[-1] = os.path.splitext(parts[-1])[0]
    return parts


def is_local_source(filename, modname, experiment_path):
    """Whether the file of module ``modname`` belongs to the experiment at ``experiment_path``."""
    filename = Path(os.path.abspath(os.path.realpath(filename)))
    experiment_path = Path(os.path.abspath(os.path.realpath(experiment_path)))
    if experiment_path not in filename.parents:
        return False
    path_parts = _module_parts(filename.relative_to(experiment_path))
    mod_parts = modname.split(".")
    if path_parts == mod_parts:
        return True
    if len(path_parts) > len(mod_parts):
        return False
    abs_parts = _module_parts(filename)
    return abs_parts[-len(mod_parts) :] == mod_parts


def get_main_file(globs, save_git_info):
    """``(experiment_path, main Source or None)`` from the globals of the main module."""
    filename = globs.get("__file__")
    if filename is None:
        return os.path.abspath(os.path.curdir), None
    main = Source.create(filename, save_git_info)
    return os.path.dirname(main.filename), main


def iterate_imported_modules(globs):
    """``(name, module)`` for the modules behind the globals, and their parent packages."""
    checked_modules = set(MODULE_BLACKLIST)
    for glob in list(globs.values()):
        if isinstance(glob, ModuleType):
            mod_path = glob.__name__
        else:
            try:
                mod_path = glob.__module__
            except Exception:  # objects may raise anything from __getattr__
                continue
        if not isinstance(mod_path, str) or not mod_path:
            continue
        for modname in iter_prefixes(mod_path):
            if modname in checked_modules:
                continue
            checked_modules.add(modname)
            mod = sys.modules.get(modname)
            if mod is not None:
                yield modname, mod


def iterate_all_python_files(base_path):
    """Every ``*.py`` file under ``base_path``, recursively, skipping ``__pycache__``."""
    for dirname, _, filelist in os.walk(base_path):
        if "__pycache__" in dirname:
            continue
        for filename in filelist:
            if filename.endswith(".py"):
                yield os.path.join(base_path, dirname, filename)


def iterate_sys_modules():
    """``(name, module)`` for all of ``sys.modules`` except the standard library."""
    for modname, mod in list(sys.modules.items()):
        if modname not in MODULE_BLACKLIST and mod is not None:
            yield modname, mod


def _module_file(mod):
    try:
        filename = mod.__file__
    except Exception:
        return None
    return filename if isinstance(filename, str) and filename else None


def get_sources_from_modules(module_iterator, base_path, save_git_info=True):
    sources = set()
    for modname, mod in module_iterator:
        filename = _module_file(mod)
        if filename is None:
            continue
        filename = os.path.abspath(filename)
        if filename not in sources and is_local_source(filename, modname, base_path):
            sources.add(Source.create(filename, save_git_info))
    return sources


def get_sources_from_imported_modules(globs, base_path, save_git_info=True):
    return get_sources_from_modules(iterate_imported_modules(globs), base_path, save_git_info)


def get_sources_from_sys_modules(globs, base_path, save_git_info=True):
    return get_sources_from_modules(iterate_sys_modules(), base_path, save_git_info)


def get_sources_from_local_dir(globs, base_path, save_git_info=True):
    return {
        Source.create(filename, save_git_info) for filename in iterate_all_python_files(base_path)
    }


source_discovery_strategies = {
    "none": lambda globs, path, save_git_info=True: set(),
    "imported": get_sources_from_imported_modules,
    "sys": get_sources_from_sys_modules,
    "dir": get_sources_from_local_dir,
}


# ---------------------------------------------------------------- dependencies
def _safe_name(name):
    """A distribution's project name as pip shows it (runs of odd characters -> "-")."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name)


class _Distributions:
    """Module name -> (distribution name, version), from ``importlib.metadata``, cached.

    Most distributions are named like their module and are found directly. Others
    (PyYAML provides ``yaml``) need a scan of every installed distribution: first of
    their ``top_level.txt`` (cheap), then of the file lists of those without one.
    """

    def __init__(self):
        self._by_module = {}
        self._dist_info_dirs = None  # normalized project name -> its .dist-info folder
        self._by_top_level = None  # module -> distribution, from top_level.txt
        self._by_files = None  # module -> distribution, from RECORD of the others
        self._without_top_level = []

    def lookup(self, modname):
        try:
            return self._by_module[modname]
        except KeyError:
            pass
        result = self._from_dist_info_folder(modname)
        if result is not None:
            self._by_module[modname] = result
            return result
        dist = self._direct(modname)
        if dist is None:
            dist = self._top_level_index().get(modname)
        if dist is None:
            dist = self._files_index().get(modname)
        result = None
        if dist is not None:
            try:
                result = (_safe_name(dist.metadata["Name"]), dist.version)
            except Exception:  # a broken installation must not break a run
                result = None
        self._by_module[modname] = result
        return result

    def _from_dist_info_folder(self, modname):
        """The common case without importing ``importlib.metadata`` (~15 ms): a project
        named like the module, whose ``.dist-info`` folder we read ourselves."""
        if self._dist_info_dirs is None:
            self._dist_info_dirs = _scan_dist_info_dirs()
        folder = self._dist_info_dirs.get(_normalize(modname))
        if folder is None:
            return None
        try:
            with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as f:
                if modname not in f.read().split():
                    return None
        except OSError:
            pass  # no top_level.txt: the name match is all we have, as in _direct
        headers = {}
        try:
            with open(os.path.join(folder, "METADATA"), encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    headers.setdefault(key.strip(), value.strip())
        except OSError:
            return None
        if "Name" not in headers or "Version" not in headers:
            return None
        return _safe_name(headers["Name"]), headers["Version"]

    @staticmethod
    def _direct(modname):
        from importlib import metadata

        try:
            dist = metadata.distribution(modname)
        except (metadata.PackageNotFoundError, ValueError, TypeError):
            return None
        names = _top_level_names(dist, use_files=False)
        return dist if names is None or modname in names else None

    def _top_level_index(self):
        if self._by_top_level is None:
            from importlib import metadata

            index = {}
            for dist in metadata.distributions():
                names = _top_level_names(dist, use_files=False)
                if names is None:
                    self._without_top_level.append(dist)
                    continue
                for name in names:
                    index.setdefault(name, dist)
            self._by_top_level = index
        return self._by_top_level

    def _files_index(self):
        if self._by_files is None:
            self._top_level_index()
            index = {}
            for dist in self._without_top_level:
                for name in _top_level_names(dist, use_files=True) or ():
                    index.setdefault(name, dist)
            self._by_files = index
        return self._by_files

    def version(self, name):
        from importlib import metadata

        try:
            return metadata.version(name)
        except (metadata.PackageNotFoundError, ValueError):
            return None

    def all(self):
        from importlib import metadata

        found = {}
        for dist in metadata.distributions():
            try:
                name = _safe_name(dist.metadata["Name"])
            except Exception:
                continue
            found.setdefault(name.lower(), PackageDependency(name, dist.version))
        return set(found.values())


def _normalize(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _scan_dist_info_dirs():
    """Normalized project name -> ``.dist-info`` folder, first on ``sys.path`` wins."""
    found = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                project = _normalize(name[: -len(".dist-info")].split("-", 1)[0])
                found.setdefault(project, os.path.join(entry or ".", name))
    return found


def _top_level_names(dist, use_files):
    """The top-level modules of a distribution: its top_level.txt, else (if
    ``use_files``) derived from its list of files; None when unknown."""
    try:
        text = dist.read_text("top_level.txt")
    except Exception:
        text = None
    if text is not None:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if not use_files:
        return None
    names = set()
    try:
        files = dist.files or ()
    except Exception:
        return None
    for path in files:
        first = path.parts[0] if path.parts else ""
        if first.endswith((".dist-info", ".egg-info", ".data")) or first in ("..", "__pycache__"):
            continue
        if len(path.parts) == 1:
            stem, ext = os.path.splitext(first)
            if ext in (".py", ".so", ".pyd"):
                names.add(stem.split(".")[0])
        else:
            names.add(first)
    return names


_distributions = _Distributions()


class PackageDependency:
    """An installed package the experiment uses: ``name==version``."""

    modname_to_dist = {}  # kept for compatibility; lookups are cached in _distributions

    def __init__(self, name, version):
        self.name = name
        self.version = version

    def fill_missing_version(self):
        if self.version is not None:
            return
        self.version = _distributions.version(self.name)

    def to_json(self):
        return "{}=={}".format(self.name, self.version or "<unknown>")

    def __hash__(self):
        return hash(self.name)

    def __eq__(self, other):
        if isinstance(other, PackageDependency):
            return self.name == other.name
        return False

    def __lt__(self, other):
        return self.name < other.name

    def __repr__(self):
        return f"<PackageDependency: {self.name}={self.version}>"

    @staticmethod
    def get_version_heuristic(mod):
        """A PEP 440 version from ``__version__``, ``VERSION`` or ``version``, else None."""
        for attribute in ("__version__", "VERSION", "version"):
            version = getattr(mod, attribute, None)
            if isinstance(version, tuple):
                version = ".".join(str(n) for n in version)
            if isinstance(version, str) and PEP440_VERSION_PATTERN.match(version):
                return version
        return None

    @classmethod
    def create(cls, mod):
        """The distribution that provides module ``mod``, else ``(mod.__name__, heuristic)``."""
        found = _distributions.lookup(mod.__name__)
        if found is not None:
            return PackageDependency(*found)
        return PackageDependency(mod.__name__, cls.get_version_heuristic(mod))


def get_dependencies_from_modules(module_iterator, base_path):
    dependencies = set()
    for modname, mod in module_iterator:
        if modname.startswith("_") or "." in modname:
            continue
        filename = _module_file(mod)
        if filename and is_local_source(os.path.abspath(filename), modname, base_path):
            continue
        try:
            dependency = PackageDependency.create(mod)
        except AttributeError:
            continue
        if dependency.version is not None:
            dependencies.add(dependency)
    return dependencies


def get_dependencies_from_imported_modules(globs, base_path):
    return get_dependencies_from_modules(iterate_imported_modules(globs), base_path)


def get_dependencies_from_sys_modules(globs, base_path):
    return get_dependencies_from_modules(iterate_sys_modules(), base_path)


def get_dependencies_from_pkg(globs, base_path):
    return _distributions.all()


dependency_discovery_strategies = {
    "none": lambda globs, path: set(),
    "imported": get_dependencies_from_imported_modules,
    "sys": get_dependencies_from_sys_modules,
    "pkg": get_dependencies_from_pkg,
}


def _numpy_dependency():
    """numpy (it affects randomness) if installed, without importing it."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        return PackageDependency.create(numpy)
    found = _distributions.lookup("numpy")
    return PackageDependency(*found) if found is not None else None


def gather_sources_and_dependencies(globs, save_git_info, base_dir=None):
    """``(main Source or None, set of Sources, set of PackageDependencies)`` of an experiment.

    What is searched is set by ``SETTINGS.DISCOVER_SOURCES`` and
    ``SETTINGS.DISCOVER_DEPENDENCIES``. The main file is always a source.
    """
    experiment_path, main = get_main_file(globs, save_git_info)
    base_dir = base_dir or experiment_path
    gather_sources = source_discovery_strategies[SETTINGS["DISCOVER_SOURCES"]]
    sources = gather_sources(globs, base_dir, save_git_info)
    if main is not None:
        sources.add(main)
    gather_dependencies = dependency_discovery_strategies[SETTINGS["DISCOVER_DEPENDENCIES"]]
    dependencies = gather_dependencies(globs, base_dir)
    numpy = _numpy_dependency()
    if numpy is not None:
        dependencies.add(numpy)
    return main, sources, dependencies
