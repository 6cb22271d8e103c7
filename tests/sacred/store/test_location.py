"""One reading of a store location, used by open_store, Labwatch and Sacredboard alike."""

import pytest

from sacred.store import StoreError, open_store, scheme_of
from sacred.store.location import backend_of, known_schemes, register_backend


@pytest.mark.parametrize(
    "location, scheme",
    [
        ("runs", "file"),
        ("sqlite:///runs.db", "sqlite"),
        ("postgresql+psycopg://u@h/db", "postgresql"),
        ("mongodb://localhost/db", "mongodb"),
        ("mongodb+srv://cluster/db", "mongodb+srv"),
        ("tinydb://some/where", "tinydb"),
        ("S3://bucket/prefix", "s3"),
    ],
)
def test_scheme_of(location, scheme):
    assert scheme_of(location) == scheme


def test_a_tinydb_folder_is_tinydb_everywhere(tmp_path):
    from labwatch.backends import backend_for

    (tmp_path / "hashfs").mkdir()
    (tmp_path / "metadata.json").write_text("{}")
    assert scheme_of(str(tmp_path)) == "tinydb"
    assert type(open_store(str(tmp_path))).__name__ == "TinyDbStore"
    # Labwatch has no TinyDB backend: it says so instead of writing a file store there
    for location in (str(tmp_path), f"tinydb://{tmp_path}"):
        with pytest.raises(ValueError, match=r"Labwatch cannot use the store .* \(tinydb\)"):
            backend_for(location)
    assert not (tmp_path / "_search_spaces").exists()


def test_labwatch_registers_its_backends_in_the_one_registry():
    import labwatch.backends  # noqa: F401

    assert {"file", "sqlite", "postgresql", "mongodb"} <= set(known_schemes("labwatch"))
    assert "tinydb" not in known_schemes("labwatch")


def test_unknown_scheme_is_one_line():
    with pytest.raises(StoreError, match=r"^Unknown store scheme 'ftp'; known schemes: "):
        open_store("ftp://x")
    with pytest.raises(StoreError, match="Unknown store scheme"):
        backend_of("ftp://x")


def test_register_backend_checks_its_fields():
    with pytest.raises(TypeError, match="unexpected field 'reader'"):
        register_backend("file", reader="x:y")
