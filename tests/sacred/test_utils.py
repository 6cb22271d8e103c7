import copy
import pickle

import pytest

from sacred.settings import SETTINGS, SettingError
from sacred.utils import (
    PATHCHANGE,
    CircularDependencyError,
    ConfigAddedError,
    IntervalTimer,
    MissingConfigError,
    NamedConfigNotFoundError,
    SacredError,
    apply_backspaces_and_linefeeds,
    convert_camel_case_to_snake_case,
    convert_to_nested_dict,
    ensure_wellformed_argv,
    format_sacred_error,
    get_by_dotted_path,
    get_inheritors,
    is_prefix,
    iter_prefixes,
    iterate_flattened,
    iterate_flattened_separately,
    join_paths,
    recursive_update,
    rel_path,
    set_by_dotted_path,
)


def test_recursive_update():
    d = {"a": {"b": 1}}
    assert recursive_update(d, {"a": {"c": 2}, "d": 3}) is d
    assert d == {"a": {"b": 1, "c": 2}, "d": 3}


def test_iterate_flattened():
    assert list(iterate_flattened({"b": {"c": 1, "d": {}}, "a": 2})) == [
        ("a", 2),
        ("b.c", 1),
        ("b.d", {}),
    ]


def test_iterate_flattened_separately():
    d = {"z": 1, "__doc__": "x", "a": {"b": 2}, "e": {}, "c": 3}
    assert list(iterate_flattened_separately(d, ["__doc__"])) == [
        ("__doc__", "x"),
        ("c", 3),
        ("e", {}),
        ("z", 1),
        ("a", PATHCHANGE),
        ("a.b", 2),
    ]


def test_dotted_paths():
    d = {}
    set_by_dotted_path(d, "a.b.c", 1)
    assert d == {"a": {"b": {"c": 1}}}
    assert get_by_dotted_path(d, "a.b") == {"c": 1}
    assert get_by_dotted_path(d, "") is d
    assert get_by_dotted_path(d, "a.x", default=7) == 7
    assert list(iter_prefixes("a.b.c")) == ["a", "a.b", "a.b.c"]
    assert join_paths("", "a", ".b.", "") == "a.b"
    assert is_prefix("", "a") and is_prefix("a", "a.b")
    assert not is_prefix("a", "a") and not is_prefix("a", "ab")
    assert rel_path("a", "a") == "" and rel_path("a", "a.b.c") == "b.c"
    with pytest.raises(AssertionError):
        rel_path("x", "a.b")
    assert convert_to_nested_dict({"a.b": 1, "c": 2}) == {"a": {"b": 1}, "c": 2}


def test_camel_case():
    assert convert_camel_case_to_snake_case("getHTTPResponseCode") == "get_http_response_code"
    assert convert_camel_case_to_snake_case("OwnFlag") == "own_flag"


@pytest.mark.parametrize(
    "text,expected",
    [("abc\rd", "dbc"), ("ab\nc\b\bd", "ab\nd"), ("abcd\refg\r", "efgd\r"), ("plain", "plain")],
)
def test_apply_backspaces_and_linefeeds(text, expected):
    assert apply_backspaces_and_linefeeds(text) == expected


def test_progress_bar_ends_as_final_line():
    bar = "".join(f"\r{i:3d}% |{'#' * (i // 10):<10}|" for i in range(0, 101, 10))
    assert apply_backspaces_and_linefeeds("start\n" + bar + "\ndone\n") == (
        "start\n100% |##########|\ndone\n"
    )


def test_get_inheritors():
    class A:
        pass

    class B(A):
        pass

    class C(B):
        pass

    assert get_inheritors(A) == {B, C}


def test_ensure_wellformed_argv():
    assert ensure_wellformed_argv("a b 'c d'") == ["a", "b", "c d"]
    assert ensure_wellformed_argv(["a"]) == ["a"]
    with pytest.raises(ValueError):
        ensure_wellformed_argv(5)
    with pytest.raises(ValueError):
        ensure_wellformed_argv(["a", 1])


def test_sacred_error_rejects_unknown_filter_mode():
    with pytest.raises(ValueError):
        SacredError("x", filter_traceback="sometimes")


def test_config_added_error_text():
    try:
        raise ConfigAddedError(["zzz"], config={"zzz": 3})
    except ConfigAddedError as e:
        text = format_sacred_error(e, "Usage: ...")
    assert text == (
        "sacred.utils.ConfigAddedError: Added new config entry that is not used anywhere\n"
        "Conflicting configuration values:\n"
        "  zzz=3\n"
    )


def test_missing_config_error_prints_usage():
    try:
        raise MissingConfigError("needs is missing value(s):", missing_configs=["y"])
    except MissingConfigError as e:
        text = format_sacred_error(e, "Usage:\n  x")
    assert (
        text == "Usage:\n  x\nsacred.utils.MissingConfigError: needs is missing value(s): ['y']\n"
    )


def test_named_config_not_found_text():
    e = NamedConfigNotFoundError("nope", available_named_configs=("variant1", "variant2"))
    assert str(e) == (
        "Named config not found: \"nope\". Available config values are: ('variant1', 'variant2')"
    )


def _user_function():
    raise ValueError("boom")


def test_filtered_traceback_hides_sacred_frames():
    from sacred.utils import format_filtered_stacktrace

    try:
        _user_function()
    except ValueError:
        text = format_filtered_stacktrace()
    assert text.startswith("Traceback (most recent calls WITHOUT Sacred internals):\n")
    assert "in _user_function" in text and text.endswith("ValueError: boom\n")


def test_circular_dependency_message():
    class Ing:
        def __init__(self, path):
            self.path = path

    exp, ing = Ing("exp"), Ing("ing")
    with pytest.raises(CircularDependencyError) as info:
        with CircularDependencyError.track(exp):
            with CircularDependencyError.track(ing):
                raise CircularDependencyError(ingredients=[exp])
    assert str(info.value) == "Circular dependency detected:exp->ing->exp"


def test_settings_are_frozen_and_deepcopyable():
    with pytest.raises(SettingError, match="Unknown setting: FOO"):
        SETTINGS.FOO = 1
    with pytest.raises(SettingError, match="it is a nested setting!"):
        SETTINGS.CONFIG = 5
    copied = copy.deepcopy(SETTINGS)
    assert copied == SETTINGS
    with pytest.raises(SettingError):
        copied.CONFIG.BAR = 1
    assert SETTINGS["CONFIG"]["READ_ONLY_CONFIG"] is True
    assert SETTINGS.DEFAULT_BEAT_INTERVAL == 10.0


def test_interval_timer_calls_once_more_when_stopped():
    calls = []
    stop, timer = IntervalTimer.create(lambda: calls.append(1), interval=100)
    timer.start()
    stop.set()
    timer.join(2)
    assert calls == [1]


def test_sacred_error_pickles():
    e = pickle.loads(pickle.dumps(SacredError("x")))
    assert str(e) == "x"


def test_optional_kwargs_decorator_on_functions_and_methods():
    from sacred.utils import optional_kwargs_decorator

    @optional_kwargs_decorator
    def deco(function=None, tag="x"):
        function.tag = tag
        return function

    class Holder:
        @optional_kwargs_decorator
        def deco(self, function=None, tag="x"):
            function.tag = (self, tag)
            return function

    def f():
        pass

    assert deco(f).tag == "x"
    assert deco(tag="y")(f).tag == "y"
    h = Holder()
    assert h.deco(f).tag == (h, "x")
    assert h.deco(tag="z")(f).tag == (h, "z")
    assert Holder.deco.__name__ == "deco"


# ------------------------------------------- SacredError and format_sacred_error
def test_sacred_error_takes_its_options_positionally():
    e = SacredError("message", False, "never", True)
    assert e.args == ("message",)
    assert str(e) == "message"
    assert (e.print_traceback, e.filter_traceback, e.print_usage) == (False, "never", True)
    e = SacredError("message")
    assert (e.print_traceback, e.filter_traceback, e.print_usage) == (True, "default", False)
    with pytest.raises(ValueError):
        SacredError("message", True, "sometimes")


def _format_raised(print_traceback, filter_traceback, print_usage):
    try:
        raise SacredError("message", print_traceback, filter_traceback, print_usage)
    except SacredError as e:
        return format_sacred_error(e, "usage")


@pytest.mark.parametrize(
    "print_traceback,filter_traceback,print_usage,start",
    [
        (False, "never", False, "sacred.utils.SacredError: message\n"),
        (False, "default", True, "usage\nsacred.utils.SacredError: message\n"),
        (True, "never", False, "Traceback (most recent call last):\n"),
        (True, "never", True, "usage\nTraceback (most recent call last):\n"),
        (True, "default", False, "Traceback (most recent calls WITHOUT Sacred internals):\n"),
        (True, "always", True, "usage\nTraceback (most recent calls WITHOUT Sacred internals):\n"),
    ],
)
def test_format_sacred_error(print_traceback, filter_traceback, print_usage, start):
    text = _format_raised(print_traceback, filter_traceback, print_usage)
    assert text.startswith(start)
    assert text.rstrip("\n").endswith("sacred.utils.SacredError: message")
    if not print_traceback:
        assert text == start  # only the usage and the last line


def _fails_mid_expression(x):
    return x["a"]["b"] + {}[x["c"]]


def test_filtered_traceback_is_the_standard_one_without_sacred_frames():
    import traceback

    from sacred.utils import format_filtered_stacktrace

    try:
        _fails_mid_expression({"a": {"b": 1}, "c": 2})
    except KeyError as e:
        filtered = format_filtered_stacktrace("always")
        standard = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    # Python 3.11's markers under the failing part of a line are kept, as the original does
    assert "~~^^^^^^^^" in standard
    assert filtered == standard.replace(
        "Traceback (most recent call last):",
        "Traceback (most recent calls WITHOUT Sacred internals):",
    )


def test_filtered_traceback_of_chained_exceptions_drops_sacred_frames_everywhere():
    from sacred.utils import format_filtered_stacktrace

    try:
        try:
            rel_path("a", "b")  # fails inside sacred.utils
        except AssertionError as inner:
            raise KeyError("outer") from inner
    except KeyError:
        text = format_filtered_stacktrace("always")
    assert "sacred/utils.py" not in text and "in rel_path" not in text
    assert text.count("Traceback (most recent calls WITHOUT Sacred internals):") == 2
    assert "The above exception was the direct cause of the following exception:" in text
    assert text.endswith("KeyError: 'outer'\n")


def test_exception_from_within_sacred_keeps_the_frame_indent():
    from sacred.utils import format_filtered_stacktrace

    try:
        rel_path("a", "b")
    except AssertionError:
        text = format_filtered_stacktrace("default")
    lines = text.split("\n")
    assert lines[:2] == [
        "Exception originated from within Sacred.",
        "Traceback (most recent calls):",
    ]
    assert lines[2].startswith('  File "') and lines[2].endswith("in rel_path")
    assert lines[3].startswith("    assert ")
    assert lines[-1] == "AssertionError: a not a prefix of b"
