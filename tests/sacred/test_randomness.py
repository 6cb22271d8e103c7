import random
import subprocess
import sys

import numpy as np
import pytest

from sacred.randomness import SEEDRANGE, create_rnd, get_seed, set_global_seed
from sacred.settings import SETTINGS


def test_seedrange():
    assert SEEDRANGE == (1, 1000000000)


def test_get_seed_without_rnd_uses_global_random():
    random.seed(5)
    a = get_seed()
    random.seed(5)
    assert get_seed() == a
    assert isinstance(a, int) and 1 <= a <= int(1e9)


def test_get_seed_from_generators():
    assert get_seed(np.random.default_rng(1)) == np.random.default_rng(1).integers(1, int(1e9))
    assert type(get_seed(np.random.default_rng(1))) is int
    assert get_seed(np.random.RandomState(1)) == np.random.RandomState(1).randint(1, int(1e9))
    assert get_seed(random.Random(1)) == random.Random(1).randint(1, int(1e9))


def test_create_rnd():
    rnd = create_rnd(12)
    assert isinstance(rnd, np.random.Generator)
    assert rnd.integers(10**6) == np.random.default_rng(12).integers(10**6)


def test_create_rnd_legacy(monkeypatch):
    monkeypatch.setitem(SETTINGS.CONFIG, "NUMPY_RANDOM_LEGACY_API", True)
    rnd = create_rnd(12)
    assert isinstance(rnd, np.random.RandomState)
    assert rnd.randint(10**6) == np.random.RandomState(12).randint(10**6)


def test_create_rnd_requires_int():
    with pytest.raises(AssertionError) as excinfo:
        create_rnd(1.5)
    assert str(excinfo.value) == "Seed has to be integer but was 1.5 <class 'float'>"


def test_seed_chain_is_deterministic():
    def chain(seed):
        root = create_rnd(seed)
        return [get_seed(create_rnd(get_seed(root))) for _ in range(3)]

    assert chain(42) == chain(42)
    assert chain(42) != chain(43)


def test_set_global_seed():
    set_global_seed(99)
    a = (random.random(), np.random.rand())
    set_global_seed(99)
    assert (random.random(), np.random.rand()) == a


def test_without_numpy_python_random_is_used():
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from sacred.randomness import create_rnd, set_global_seed\n"
        "import random\n"
        "r = create_rnd(3)\n"
        "assert type(r) is random.Random\n"
        "assert r.random() == random.Random(3).random()\n"
        "set_global_seed(3)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_deferred_numpy_gives_the_same_seeds_and_draws():
    # numpy imported before the run vs. only inside main: same seeds, same draws,
    # and numpy's global state seeded as if it had been imported at the start
    script = str(FIXTURES / "seed_equivalence.py")
    lazy = subprocess.run([sys.executable, script], capture_output=True, text=True)
    eager = subprocess.run([sys.executable, script, "pre"], capture_output=True, text=True)
    assert lazy.stdout.startswith("lazy [9330647, 712165, 967891411, (116425396, 531), 0.37454")
    assert eager.stdout.startswith("numpy_preimported [9330647, 712165, 967891411")
    assert lazy.stdout.split(" ", 1)[1] == eager.stdout.split(" ", 1)[1]


def test_a_run_without_randomness_does_not_import_numpy(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(
        "import sys\n"
        "from sacred import Experiment\n"
        "ex = Experiment('x')\n"
        "@ex.config\n"
        "def cfg():\n"
        "    a = 1\n"
        "@ex.capture\n"
        "def helper(a):\n"
        "    return a\n"
        "@ex.main\n"
        "def main():\n"
        "    return helper()\n"
        "run = ex.run(options={'--loglevel': 'ERROR'})\n"
        "print(run.result, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert out.stdout == "1 False\n", out.stderr
