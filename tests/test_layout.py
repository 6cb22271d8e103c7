"""The house rules of the code's layout, checked from the code itself."""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("sacred", "labwatch", "sacredboard")


def _modules():
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def test_no_import_cycles():
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "import_cycles.py")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("no import cycles among ")


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import import_cycles
    finally:
        sys.path.pop(0)
    pkg = tmp_path / "sacred"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from sacred.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from sacred import a  # lazy, still a tie\n")
    assert import_cycles.cycles(import_cycles.graph(str(tmp_path))) == [["sacred.a", "sacred.b"]]


def test_modules_stay_small_or_say_why():
    long = []
    for path in _modules():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count("\n") > 700:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "is long because" not in doc:
                long.append(os.path.relpath(path, ROOT))
    assert long == []


def test_backend_packages_import_light():
    """Importing a backend package (for its option or names) loads no library."""
    code = (
        "import sys\n"
        "import sacred.observers.cli_options\n"
        "from sacred.observers import mongo, sql, file_storage, tinydb_hashfs\n"
        "from sacred.observers import s3_observer, gcs_observer, object_store\n"
        "heavy = {'pymongo', 'sqlalchemy', 'tinydb', 'boto3', 'numpy', 'flask',\n"
        "         'google.cloud.storage'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr
