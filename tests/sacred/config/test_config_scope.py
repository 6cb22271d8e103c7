import ast
import os
import textwrap

import numpy as np
import pytest

from sacred.config.config_scope import (
    ConfigScope,
    dedent_function_body,
    dedent_line,
    find_doc_for,
    get_config_comments,
    get_function_body,
    get_function_body_code,
    is_empty_or_comment,
    is_ignored,
    iscomment,
)
from sacred.config.custom_containers import DogmaticDict
from sacred.settings import SETTINGS

GLOBAL_VALUE = 42
SEED_DOC = "the random seed for this experiment"


def test_locals_become_config_entries():
    @ConfigScope
    def cfg():
        a = 1
        b = 2.0
        c = True
        d = "string"
        e = [1, 2, 3]
        f = {"a": "b", "c": "d"}
        composit1 = a + b
        composit2 = f["c"] + "ada"
        deriv = ord(d[0])

    assert cfg() == {
        "a": 1,
        "b": 2.0,
        "c": True,
        "d": "string",
        "e": [1, 2, 3],
        "f": {"a": "b", "c": "d"},
        "composit1": 3.0,
        "composit2": "dada",
        "deriv": 115,
    }


def test_tuples_become_lists_and_numpy_scalars_become_python():
    @ConfigScope
    def cfg():
        t = (1, (2, 3))
        f32 = np.float32(1.5)
        i64 = np.int64(7)
        flag = np.bool_(True)
        nested = {"x": [np.float64(0.25)]}

    result = cfg()
    assert result == {"t": [1, [2, 3]], "f32": 1.5, "i64": 7, "flag": True, "nested": {"x": [0.25]}}
    assert type(result["f32"]) is float
    assert type(result["i64"]) is int
    assert type(result["flag"]) is bool
    assert type(result["nested"]["x"][0]) is float


def test_modules_functions_and_classes_are_allowed():
    @ConfigScope
    def cfg():
        import os  # noqa: F401

        fn = len
        cls = dict
        lam = lambda x: x + 1  # noqa: E731

    result = cfg()
    assert result["os"] is os
    assert result["fn"] is len
    assert result["cls"] is dict
    assert result["lam"](1) == 2


def test_docstring_becomes_doc_entry_and_attribute():
    @ConfigScope
    def cfg():
        """This is my demo configuration"""
        a = 1

    assert cfg() == {"__doc__": "This is my demo configuration", "a": 1}
    assert list(cfg().keys())[0] == "__doc__"
    assert cfg.__doc__ == "This is my demo configuration"


def test_globals_of_defining_module_are_visible():
    @ConfigScope
    def cfg():
        g = GLOBAL_VALUE + 1

    assert cfg() == {"g": 43}


def test_global_statement_does_not_change_the_module():
    @ConfigScope
    def cfg():
        global GLOBAL_VALUE
        GLOBAL_VALUE = 0  # noqa: F841
        x = 1

    cfg()
    assert GLOBAL_VALUE == 42


def test_fixed_values_win_over_locals_and_derived_values_follow():
    @ConfigScope
    def cfg():
        a = 1
        b = 3 * a
        c = "x"

    result = cfg(fixed={"a": 10})
    assert result == {"a": 10, "b": 30, "c": "x"}
    assert result.modified == {"a"}
    assert result.added == set()
    assert result.typechanged == {}


def test_fixed_values_not_in_scope_are_added():
    @ConfigScope
    def cfg():
        a = 1

    result = cfg(fixed={"new": 5, "deep": {"x": 1}})
    assert result == {"a": 1, "new": 5, "deep": {"x": 1}}
    assert result.added == {"new", "deep", "deep.x"}


def test_fixed_dict_merges_with_assigned_dict():
    @ConfigScope
    def cfg():
        foo = {"a": 1, "b": 2}

    result = cfg(fixed={"foo": {"b": 20, "c": 30}})
    assert result == {"foo": {"a": 1, "b": 20, "c": 30}}
    assert result.added == {"foo.c"}
    assert result.modified == {"foo", "foo.b"}


def test_nested_dotted_update_via_nested_fixed():
    @ConfigScope
    def cfg():
        net = {"layers": {"n": 2, "act": "relu"}, "lr": 0.1}

    result = cfg(fixed={"net": {"layers": {"n": 5}}})
    assert result == {"net": {"layers": {"n": 5, "act": "relu"}, "lr": 0.1}}
    assert result.modified == {"net", "net.layers", "net.layers.n"}


def test_typechanges_are_recorded():
    @ConfigScope
    def cfg():
        a = 1
        b = "text"
        c = None
        d = 2.5

    result = cfg(fixed={"a": 1.0, "b": 3, "c": 7, "d": np.float32(0.5)})
    assert result.typechanged == {"a": (int, float), "b": (str, int)}
    # numpy float32 simplifies to float: a value change, not a type change
    assert "d" in result.modified
    assert result["d"] == 0.5


def test_deleting_a_fixed_key_does_nothing():
    @ConfigScope
    def cfg():
        a = 1
        del a

    assert cfg(fixed={"a": 5}) == {"a": 5}
    assert cfg() == {}


def test_preset_arguments_become_part_of_the_result():
    @ConfigScope
    def cfg(a):
        b = a * 2

    result = cfg(preset={"a": 3, "unused": {"x": 1}})
    assert result == {"a": 3, "b": 6, "unused": {"x": 1}}


def test_fallback_arguments_are_readable_but_not_in_result():
    @ConfigScope
    def cfg(dataset):
        path = dataset["path"] + "/x"

    result = cfg(fallback={"dataset": {"path": "/data"}})
    assert result == {"path": "/data/x"}
    assert result.ignored_fallbacks == set()


def test_assigning_a_fallback_is_recorded():
    @ConfigScope
    def cfg(dataset):
        dataset = 5

    result = cfg(fallback={"dataset": {"path": "/data"}})
    assert result.ignored_fallbacks == {"dataset"}


def test_missing_argument_raises_keyerror_with_exact_message():
    @ConfigScope
    def cfg(a):
        b = a

    with pytest.raises(KeyError) as excinfo:
        cfg(preset={"x": 1})
    assert excinfo.value.args[0] == (
        "'a' not in preset for ConfigScope. Available options are: {'x'}"
    )


def test_undeclared_names_are_not_visible():
    @ConfigScope
    def cfg():
        b = a + 1  # noqa: F821

    with pytest.raises(NameError):
        cfg(preset={"a": 1}, fallback={"a": 1})


def test_later_declared_preset_can_be_modified():
    @ConfigScope
    def cfg(a):
        a *= 2

    assert cfg(preset={"a": 3}) == {"a": 6}


def test_star_args_kwargs_and_defaults_are_forbidden():
    def with_args(*args):
        pass

    def with_kwargs(**kw):
        pass

    def with_default(a=1):
        pass

    for func in (with_args, with_kwargs, with_default):
        with pytest.raises(AssertionError):
            ConfigScope(func)


def test_return_statement_raises_syntax_error():
    def cfg():
        a = 1
        return a

    with pytest.raises(SyntaxError) as excinfo:
        ConfigScope(cfg)
    line = cfg.__code__.co_firstlineno + 2
    assert str(excinfo.value) == (
        "No return statements allowed in ConfigScopes\n"
        f"('return a' in File \"{__file__}\", line {line})"
    )


def test_yield_statement_raises_syntax_error():
    def cfg():
        a = 1
        yield a

    with pytest.raises(SyntaxError) as excinfo:
        ConfigScope(cfg)
    line = cfg.__code__.co_firstlineno + 2
    assert str(excinfo.value) == (
        "No yield statements allowed in ConfigScopes\n"
        f"('yield a' in File \"{__file__}\", line {line})"
    )


def test_return_inside_nested_function_is_fine():
    @ConfigScope
    def cfg():
        def helper(x):
            return x * 2

        a = helper(2)

    assert cfg()["a"] == 4


def test_errors_point_to_the_right_line_of_the_file():
    @ConfigScope
    def cfg():
        a = 1
        b = 1 / 0

    with pytest.raises(ZeroDivisionError) as excinfo:
        cfg()
    tb = excinfo.traceback[-1]
    assert tb.path == __import__("pathlib").Path(__file__)
    assert tb.lineno + 1 == cfg._func.__code__.co_firstlineno + 3


def test_one_line_definition_with_annotations():
    # fmt: off
    def cfg(a: int) -> None: answer = 2 * a  # the answer
    # fmt: on

    scope = ConfigScope(cfg)
    assert scope(preset={"a": 21}) == {"a": 21, "answer": 42}
    assert get_config_comments(cfg) == {"seed": SEED_DOC, "answer": "the answer"}


def test_annotated_assignments_do_not_leak_annotations():
    @ConfigScope
    def cfg():
        a: int = 3

    assert cfg() == {"a": 3}


def test_multiline_strings_lose_the_body_indentation():
    # like the original: the body text is dedented before it is compiled
    @ConfigScope
    def cfg():
        s = """
first
            second"""

    assert cfg()["s"] == "\nfirst\n    second"


def test_multiline_docstring_is_dedented():
    @ConfigScope
    def cfg():
        """A variant.

        Multi line doc.
        """
        a = 1

    assert cfg()["__doc__"] == "A variant.\n\nMulti line doc.\n"
    assert cfg.__doc__ == "A variant.\n\n        Multi line doc.\n        "


def test_comments_become_docs():
    def cfg():
        """Docstring"""
        # the first
        a = 1
        b = 2  # the second
        # above c

        c = 3  # same line wins
        d = 4
        # stray comment
        e, f = 5, 6  # tuple
        if a:
            # inside if
            g = 7
        h = 8  # pylint: disable=invalid-name
        # the i
        # pylint: disable=too-many
        i = 9
        # noinspection PyUnusedLocal
        j = 10
        k = 11  # first k
        k = 12  # second k
        x = y = 13  # chained

    assert get_config_comments(cfg) == {
        "seed": SEED_DOC,
        "a": "the first",
        "b": "the second",
        "c": "same line wins",
        "e": "tuple",
        "f": "tuple",
        "g": "inside if",
        "i": "the i",
        "k": "first k",
        "x": "chained",
        "y": "chained",
    }


def test_comment_above_is_found_across_blank_lines_and_stops_at_code():
    def cfg():
        # far above

        a = 1
        b = 2

    docs = get_config_comments(cfg)
    assert docs["a"] == "far above"
    assert "b" not in docs


def test_comment_on_first_line_of_multiline_statement():
    def cfg():
        d = {  # a dictionary
            "x": 1,  # not d's doc
        }

    assert get_config_comments(cfg)["d"] == "a dictionary"


def test_docs_are_in_summary():
    @ConfigScope
    def cfg():
        a = 1  # some integer

    assert cfg().docs == {"seed": SEED_DOC, "a": "some integer"}


def test_ignored_comments_follow_settings(monkeypatch):
    def cfg():
        a = 1  # skip: this
        b = 2  # keep this

    monkeypatch.setitem(SETTINGS.CONFIG, "IGNORED_COMMENTS", ["^skip:"])
    assert get_config_comments(cfg) == {"seed": SEED_DOC, "b": "keep this"}


def test_is_ignored():
    assert is_ignored("pylint: disable=foo")
    assert is_ignored("noinspection PyUnusedLocal")
    assert not is_ignored("some doc pylint:")


def test_line_helpers():
    assert iscomment("   # hello")
    assert not iscomment("a = 1  # hello")
    assert is_empty_or_comment("   ")
    assert is_empty_or_comment("# x")
    assert not is_empty_or_comment("x = 1")
    assert dedent_line("        a = 1", "    ") == "    a = 1"
    assert dedent_line("  # c", "    ") == "# c"
    assert dedent_line("\ta", "    ") == "\ta"


def test_dedent_function_body():
    body = "    # c\n  # less\n    a = 1\n    if a:\n        b = 2\n"
    assert dedent_function_body(body) == "# c\n# less\na = 1\nif a:\n    b = 2\n"


def test_get_function_body():
    # fmt: off
    def cfg(a,
            b):
        # comment
        x = a + b
    # fmt: on

    body, offset = get_function_body(cfg)
    assert body == "        # comment\n        x = a + b\n"
    first = cfg.__code__.co_firstlineno
    assert offset == first + 1
    with open(__file__) as f:
        lines = f.read().splitlines()
    assert lines[offset + 2 - 1].strip() == "x = a + b"


def test_get_function_body_code_has_file_line_numbers():
    def cfg():
        a = 1
        b = 2

    code = get_function_body_code(cfg)
    assert code.co_filename == __file__
    lines = sorted({ln for _, _, ln in code.co_lines() if ln})
    assert lines == [cfg.__code__.co_firstlineno + 1, cfg.__code__.co_firstlineno + 2]


def test_find_doc_for():
    lines = ["# above", "a = 1", "b = 2  # same", "c = 3"]
    tree = ast.parse("\n".join(lines))
    targets = [stmt.targets[0] for stmt in tree.body]
    assert find_doc_for(targets[0], lines) == "above"
    assert find_doc_for(targets[1], lines) == "same"
    assert find_doc_for(targets[2], lines) is None


def test_scope_defined_in_class_body():
    class Holder:
        def cfg(a):
            b = a + 1  # one more

    scope = ConfigScope(Holder.cfg)
    assert scope(preset={"a": 1}) == {"a": 1, "b": 2}
    assert get_config_comments(Holder.cfg)["b"] == "one more"


def test_scope_from_file_written_at_runtime(tmp_path, monkeypatch):
    module = tmp_path / "generated_scope_module.py"
    module.write_text(
        textwrap.dedent(
            '''
            import math

            def cfg():
                """generated"""
                r = math.sqrt(16)  # root
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import generated_scope_module

    scope = ConfigScope(generated_scope_module.cfg)
    assert scope() == {"__doc__": "generated", "r": 4.0}
    assert scope().docs["r"] == "root"


def test_invalid_keys_in_scope_dicts_raise():
    @ConfigScope
    def cfg():
        d = {"a.b": 1}

    with pytest.raises(KeyError, match=r'Invalid key "a.b"'):
        cfg()


def test_locals_are_a_dogmatic_dict_only_during_evaluation():
    @ConfigScope
    def cfg():
        kind = type(locals()).__name__

    result = cfg(fixed={"x": {"y": 1}})
    assert result["kind"] == "DogmaticDict"
    assert type(result["x"]) is dict
    assert not isinstance(result["x"], DogmaticDict)


def test_dotted_updates_through_convert_to_nested_dict():
    from sacred.utils import convert_to_nested_dict

    @ConfigScope
    def cfg():
        net = {"layers": {"n": 2, "act": "relu"}, "lr": 0.1}
        epochs = 10
        steps = epochs * net["layers"]["n"]

    fixed = convert_to_nested_dict({"net.layers.n": 4, "net.lr": 0.5, "net.extra.x": 1})
    result = cfg(fixed=fixed)
    assert result == {
        "net": {"layers": {"n": 4, "act": "relu"}, "lr": 0.5, "extra": {"x": 1}},
        "epochs": 10,
        "steps": 40,
    }
    assert result.added == {"net.extra", "net.extra.x"}
    assert result.modified == {"net", "net.layers", "net.layers.n", "net.lr"}


def test_get_function_body_of_one_liner():
    # fmt: off
    def cfg(): a = 1  # doc
    # fmt: on

    body, offset = get_function_body(cfg)
    assert body == "a = 1  # doc\n"
    assert offset == cfg.__code__.co_firstlineno - 1


def test_get_function_body_keeps_a_comment_on_the_def_line():
    # fmt: off
    def cfg(a,
            b):  # note
        x = a + b
    # fmt: on

    body, offset = get_function_body(cfg)
    assert body == "  # note\n        x = a + b\n"
    # line 1 of the body is the line of the comment
    with open(__file__) as f:
        lines = f.read().splitlines()
    assert lines[offset + 1 - 1].endswith("b):  # note")
    assert lines[offset + 2 - 1].strip() == "x = a + b"
    assert ConfigScope(cfg)(preset={"a": 1, "b": 2}) == {"a": 1, "b": 2, "x": 3}
