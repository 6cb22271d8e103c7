"""Field names beyond ASCII: a name is written as a Python identifier is (``str.isidentifier``:
Unicode letters), and the safety rules of field paths hold for them too."""

import pytest

from sacred.store import query as q

NFD_GROESSE = "gro\u0308ße"  # "größe" with a combining diaeresis (NFD), as macOS may write it


def _f(*path):
    return q.Field(tuple(path))


@pytest.mark.parametrize(
    "text, field",
    [
        ("config.größe == 1", _f("config", "größe")),
        ("größe == 1", _f("config", "größe")),  # the config shorthand
        ("config.ключ.値 == 1", _f("config", "ключ", "値")),
        ("ключ.値 == 1", _f("config", "ключ", "値")),
        ("info.Ωμέγα == 1", _f("info", "Ωμέγα")),
        ("損失 == 1", _f("config", "損失")),
        ("_ü == 1", _f("config", "_ü")),
        (".ключ == 1", _f("ключ")),  # a leading dot: from the root
        (f"{NFD_GROESSE} == 1", _f("config", NFD_GROESSE)),  # combining marks continue a name
        ("config.x-ü.0 == 1", _f("config", "x-ü", "0")),  # as for ASCII: '-' and digits
        ("metrics.損失.last == 1", q.Field(("metrics", "損失", "last"), ("損失", "last"))),
    ],
)
def test_non_ascii_field_names_parse(text, field):
    node = q.parse(text)
    assert node == q.Compare(field, "==", 1)


def test_non_ascii_names_match_records():
    record = {"config": {"größe": 2, "ключ": {"値": "x"}, NFD_GROESSE: 5}, "info": {"ü": True}}
    for query in (
        "größe < 3",
        "config.größe == 2",
        "config.ключ.値 == 'x'",
        "ключ.値 =~ '^x$'",
        "info.ü == true and not (ключ.ü exists)",
        f"{NFD_GROESSE} == 5",
    ):
        assert q.matches(query, record), query
    assert not q.matches("größe > 3", record)
    assert not q.matches(f"{NFD_GROESSE} == 2", record)  # not normalized: another key


def test_non_ascii_sort_fields():
    assert q.parse_sort("-ключ.値,größe") == [
        (_f("config", "ключ", "値"), True),
        (_f("config", "größe"), False),
    ]


@pytest.mark.parametrize(
    "text, reason",
    [
        # not a letter: a name does not start with these, as in Python
        ("²x == 1", "unexpected character '²'"),
        ("€ == 1", "unexpected character '€'"),
        ("\u0308a == 1", "unexpected character '\u0308'"),
        ("config.ключ.$где == 1", "invalid field 'config.ключ.$где': '$' is not allowed"),
        ("$ключ == 1", "invalid field '$ключ': '$' is not allowed"),
        ("ключ.. == 1", "unexpected character '.'"),
    ],
)
def test_bad_names_are_still_one_line_errors(text, reason):
    with pytest.raises(q.QueryError) as info:
        q.parse(text)
    assert info.value.reason.startswith(reason)
    assert "\n" not in info.value.reason


@pytest.mark.parametrize("name", ["config.$где", "ключ..値", "ключ.", ".ключ.", "$ключ"])
def test_path_rules_hold_for_non_ascii_fields(name):
    with pytest.raises(q.QueryError) as info:
        q.parse_field(name)
    assert "\n" not in info.value.reason
    with pytest.raises(q.QueryError):
        q.parse_sort(name)
    with pytest.raises(q.QueryError):
        q.parse({"field": name, "operator": "==", "value": 1})


def test_invalid_sort_field_is_one_line():
    with pytest.raises(q.QueryError, match=r"^invalid sort field '€'$"):
        q.parse_sort("€")
