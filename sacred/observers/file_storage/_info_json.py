"""The text of ``info.json``, re-encoding only the top-level keys that changed.

A run's ``info`` is sent whole with every heartbeat, but between two beats usually only a
few of its keys change. ``InfoEncoder.encode(info)`` returns exactly what
``_jsonio.dumps_plain(info)`` returns, and raises ``_jsonio.NotPlain`` where that does (the
caller then flattens as before). Each top-level value's encoded text is kept together with
a ``marshal`` dump of the value, which takes about a millisecond per megabyte, is exact
about types (``1``, ``1.0`` and ``True`` differ, unlike ``==``) and fails for any type
outside plain data, so a value whose dump is unchanged gets its previous text back.

``dumps_plain`` also refuses data in which one container is reached twice (jsonpickle
would write a reference). The containers of a reused value are remembered from its last
encoding, so sharing between a changed value and an unchanged one is still caught. Missed
only: a container shared with a value that was *replaced* by an equal copy since; it is
then written out in full instead of as a reference.

A list that only grew (a training loop appending to ``info["history"]``) gets just its
new items encoded.
"""

import marshal

from sacred.observers import _jsonio


class InfoEncoder:
    def __init__(self):
        # key -> (marshal dump, encoded text at indentation level 1, ids of its containers)
        self._cache = {}

    def encode(self, info) -> str:
        if type(info) is not dict:
            raise _jsonio.NotPlain
        seen = set()
        _jsonio.check_plain_container(info, seen)  # str keys that are not jsonpickle tags
        if not info:
            self._cache = {}
            return "{}"
        old, new = self._cache, {}
        dumps, changed = {}, []
        for key, value in info.items():
            try:
                dumps[key] = marshal.dumps(value, 2)
            except ValueError:  # not plain data (or nested too deep): encode every time
                dumps[key] = None
            hit = old.get(key)
            if hit is not None and dumps[key] is not None and hit[0] == dumps[key]:
                new[key] = hit
                seen |= hit[2]
            else:
                changed.append(key)
        for key in changed:
            before = set(seen)
            text = _grown_list(info[key], dumps[key], old.get(key), seen)
            if text is None:
                text = _jsonio.dumps_plain_at(info[key], 1, seen)  # raises NotPlain
            new[key] = (dumps[key], text, seen - before)
        self._cache = {k: v for k, v in new.items() if v[0] is not None}
        body = ",\n  ".join([_jsonio.quote(k) + ": " + new[k][1] for k in sorted(info)])
        return "{\n  " + body + "\n}"


_LIST_END = "\n  ]"  # how a non-empty list at level 1 ends


def _grown_list(value, dump, hit, seen):
    """The text of a list that only had items appended since ``hit``, or None.

    A marshal dump of a list is ``[``, the length in 4 bytes, then the items one after
    another, so the old items are unchanged exactly when the old item bytes are a prefix.
    """
    if hit is None or dump is None or type(value) is not list or not hit[1].endswith(_LIST_END):
        return None
    old_dump, old_text, old_ids = hit
    if old_dump[:1] != b"[" or dump[:1] != b"[" or not dump.startswith(old_dump[5:], 5):
        return None
    old_len = int.from_bytes(old_dump[1:5], "little")
    if old_len == 0 or len(value) <= old_len:
        return None
    seen |= old_ids
    tail = _jsonio.encode_items(value[old_len:], 2, seen)
    return old_text[: -len(_LIST_END)] + ",\n    " + tail + _LIST_END
