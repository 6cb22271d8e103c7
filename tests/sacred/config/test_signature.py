import pytest

from sacred.config.signature import Signature, get_argspec
from sacred.utils import MissingConfigError, SignatureError


def foo():
    return


def bariza(a, b, c):
    return a, b, c


def complex_function_name(a=1, b="fo", c=9):
    return a, b, c


def FunCTIonWithCAPItals(a, b, c=3, **kwargs):
    return a, b, c, kwargs


def _name_with_underscore_(fo, bar, *baz):
    return fo, bar, baz


def __double_underscore__(man, o, *men, **oo):
    return man, o, men, oo


def kw_only(a, *, b, c=3):
    return a, b, c


def test_get_argspec():
    assert get_argspec(__double_underscore__) == (["man", "o"], "men", "oo", ["man", "o"], {})
    args, varg, kw, pos, kwargs = get_argspec(FunCTIonWithCAPItals)
    assert (args, varg, kw, pos, dict(kwargs)) == (
        ["a", "b", "c"],
        None,
        "kwargs",
        ["a", "b"],
        {"c": 3},
    )


def test_attributes():
    s = Signature(complex_function_name)
    assert s.name == "complex_function_name"
    assert s.arguments == ["a", "b", "c"]
    assert s.positional_args == []
    assert s.kwargs == {"a": 1, "b": "fo", "c": 9}
    assert s.vararg_name is None and s.kw_wildcard_name is None
    s = Signature(_name_with_underscore_)
    assert s.vararg_name == "baz"
    assert s.positional_args == ["fo", "bar"]
    assert Signature(kw_only).arguments == ["a", "b", "c"]


def test_str():
    assert str(Signature(foo)) == "foo()"
    assert str(Signature(complex_function_name)) == "complex_function_name(a=1, b='fo', c=9)"
    assert str(Signature(__double_underscore__)) == "__double_underscore__(man, o, *men, **oo)"
    assert str(Signature(FunCTIonWithCAPItals)) == "FunCTIonWithCAPItals(a, b, c=3, **kwargs)"


def test_get_free_parameters():
    s = Signature(bariza)
    assert s.get_free_parameters([], {}) == ["a", "b", "c"]
    assert s.get_free_parameters([1], {"c": 3}) == ["b"]
    assert s.get_free_parameters([], {}, bound=True) == ["b", "c"]
    assert Signature(kw_only).get_free_parameters([1], {}) == ["b", "c"]


def test_construct_arguments_priority():
    s = Signature(complex_function_name)
    # explicit > options > defaults
    assert s.construct_arguments([5], {"c": 7}, {"a": 100, "b": "opt", "c": 100}) == (
        [5],
        {"c": 7, "b": "opt"},
    )
    assert s.construct_arguments([], {}, {}) == ([], {})
    args, kwargs = s.construct_arguments([], {}, {"b": "x", "unrelated": 1})
    assert complex_function_name(*args, **kwargs) == (1, "x", 9)


def test_construct_arguments_bound_skips_first():
    def method(self, a, b=2):
        pass

    s = Signature(method)
    assert s.construct_arguments([], {}, {"self": "no", "a": 1}, bound=True) == ([], {"a": 1})
    assert s.construct_arguments([1, 2], {}, {}, bound=True) == ([1, 2], {})
    with pytest.raises(SignatureError, match=r"method got unexpected argument\(s\): \[3\]"):
        s.construct_arguments([1, 2, 3], {}, {}, bound=True)


def test_unexpected_positional_arguments():
    s = Signature(bariza)
    with pytest.raises(SignatureError) as excinfo:
        s.construct_arguments([1, 2, 3, 4, 5], {}, {})
    assert str(excinfo.value) == "bariza got unexpected argument(s): [4, 5]"
    assert isinstance(excinfo.value, TypeError)
    # *args accepts them
    assert Signature(_name_with_underscore_).construct_arguments([1, 2, 3, 4], {}, {}) == (
        [1, 2, 3, 4],
        {},
    )


def test_unexpected_kwargs():
    s = Signature(bariza)
    with pytest.raises(SignatureError) as excinfo:
        s.construct_arguments([], {"zz": 1, "a": 1, "b": 1, "c": 1, "d": 2}, {})
    assert str(excinfo.value) == "bariza got unexpected kwarg(s): ['d', 'zz']"
    s = Signature(FunCTIonWithCAPItals)
    assert s.construct_arguments([1, 2], {"d": 4}, {}) == ([1, 2], {"d": 4})


def test_duplicate_arguments():
    s = Signature(bariza)
    with pytest.raises(SignatureError) as excinfo:
        s.construct_arguments([1, 2], {"a": 1, "b": 2, "c": 3}, {})
    assert str(excinfo.value) == "bariza got multiple values for argument(s) ['a', 'b']"


def test_missing_values():
    s = Signature(bariza)
    with pytest.raises(MissingConfigError) as excinfo:
        s.construct_arguments([1], {}, {"c": 3})
    assert str(excinfo.value) == "bariza is missing value(s): ['b']"
    assert excinfo.value.missing_configs == ["b"]
    assert excinfo.value.print_usage is True
    assert excinfo.value.print_traceback is False


def test_keyword_only_arguments_are_filled_from_options():
    s = Signature(kw_only)
    args, kwargs = s.construct_arguments([1], {}, {"b": 2})
    assert kw_only(*args, **kwargs) == (1, 2, 3)
    with pytest.raises(MissingConfigError, match=r"kw_only is missing value\(s\): \['b'\]"):
        s.construct_arguments([1], {}, {})
    with pytest.raises(SignatureError, match=r"unexpected argument\(s\): \[2\]"):
        s.construct_arguments([1, 2], {}, {})


def test_keyword_only_parameters_are_not_positional():
    def f(a, *, b, c=10):
        return a, b, c

    s = Signature(f)
    assert s.positional_args == ["a"]
    assert s.arguments == ["a", "b", "c"]
    assert s.kwargs == {"c": 10}
    with pytest.raises(SignatureError, match=r"f got unexpected argument\(s\): \[2\]"):
        s.construct_arguments([1, 2], {}, {})
    with pytest.raises(MissingConfigError, match=r"f is missing value\(s\): \['b'\]"):
        s.construct_arguments([1], {}, {})
    assert s.construct_arguments([1], {}, {"b": 2}) == ([1], {"b": 2})
