from sacred.config.config_summary import ConfigSummary


def test_constructor_defaults():
    s = ConfigSummary()
    assert s == {}
    assert s.added == set() and s.modified == set() and s.typechanged == {}
    assert s.ignored_fallbacks == set() and s.docs == {}


def test_ensure_coherence_marks_parents_modified():
    s = ConfigSummary(added={"a.b.c"}, modified={"x.y"}, typechanged={"t.u": (int, str)})
    assert s.added == {"a.b.c"}
    assert s.modified == {"a", "a.b", "x", "x.y", "t"}
    assert s.typechanged == {"t.u": (int, str)}


def test_ensure_coherence_keeps_sets_disjoint():
    s = ConfigSummary(
        added={"a", "b"}, modified={"a", "c"}, typechanged={"b": (int, float), "c": (str, int)}
    )
    assert s.added == {"a"}
    assert s.modified == set()
    assert set(s.typechanged) == {"b", "c"}


def test_update_from_intersects_added():
    s = ConfigSummary(added={"a", "b"})
    s.update_from(ConfigSummary(added={"b", "c"}, modified={"m"}, docs={"d": "doc"}))
    assert s.added == {"b"}
    assert s.modified == {"m"}
    assert s.docs == {"d": "doc"}


def test_update_add_unions_added_with_path():
    s = ConfigSummary(added={"a"}, docs={"seed": "root seed"})
    other = ConfigSummary(
        added={"x"},
        modified={"y"},
        typechanged={"z": (int, str)},
        ignored_fallbacks={"f"},
        docs={"x": "the x", "seed": "the random seed for this experiment"},
    )
    s.update_add(other, path="ing")
    assert s.added == {"a", "ing.x"}
    assert s.modified == {"ing", "ing.y"}
    assert s.typechanged == {"ing.z": (int, str)}
    assert s.ignored_fallbacks == {"ing.f"}
    # an ingredient's seed doc is dropped
    assert s.docs == {"seed": "root seed", "ing.x": "the x"}


def test_update_add_without_path_keeps_seed_doc():
    s = ConfigSummary()
    s.update_add(ConfigSummary(docs={"seed": "s"}))
    assert s.docs == {"seed": "s"}
