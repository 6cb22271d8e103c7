import subprocess
import sys

import sacred.optional as opt


def run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_optional_and_config_imports_no_heavy_dependency():
    out = run(
        "import sys\n"
        "import sacred.optional, sacred.config, sacred.randomness, sacred.serializer\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'tensorflow', 'sqlalchemy') if m in sys.modules))"
    )
    assert out == "[]"


def test_lazy_attributes():
    import numpy
    import pandas
    import yaml

    assert opt.has_numpy is True and opt.np is numpy
    assert opt.has_yaml is True and opt.yaml is yaml
    assert opt.has_pandas is True and opt.pandas is pandas
    assert opt.has_mako is True
    assert isinstance(opt.has_sqlalchemy, bool)
    assert isinstance(opt.has_tinydb, bool)
    assert isinstance(opt.has_tensorflow, bool)
    assert hasattr(opt.libc, "fflush")
    assert "has_numpy" in dir(opt)


def test_from_import_works_lazily():
    out = run(
        "import sys\n"
        "from sacred.optional import has_numpy, np\n"
        "print(has_numpy, np.__name__, 'pandas' in sys.modules)"
    )
    assert out == "True numpy False"


def test_missing_module():
    out = run(
        "import sys; sys.modules['numpy'] = None\n"
        "from sacred.optional import has_numpy, np\n"
        "print(has_numpy, np)"
    )
    assert out == "False None"


def test_optional_import():
    assert opt.optional_import("json", "os")[0] is True
    assert opt.optional_import("json")[1].__name__ == "json"
    assert opt.optional_import("json", "surely_not_a_module_xyz") == (False, None)
    assert opt.modules_exist("json")
    assert str(opt.parse_version("1.2")) == "1.2"
