"""Checkpoints: artifacts saved by ``Run.save_checkpoint``.

A checkpoint replaces the artifact of its name when the run lists that name already: the run
lists it once, the store holds the newest content, and the observer removes the stored copy
it replaced where it keeps one apart (a GridFS file, a HashFS file no other entry uses, an
SQL row). A plain ``add_artifact`` with a repeated name keeps the original's behaviour: the
name is listed once per call, and readers open the last one added.
"""

import os
import shutil

__all__ = ("is_checkpoint", "replace_copy")


def is_checkpoint(metadata) -> bool:
    """Whether an artifact event's ``metadata`` marks a checkpoint (``{"checkpoint": True}``)."""
    return isinstance(metadata, dict) and metadata.get("checkpoint") is True


def replace_copy(copy, filename) -> str:
    """Give the journal's kept ``copy`` of a replaced checkpoint the content of ``filename``
    (the checkpoint replacing it), atomically; returns ``copy``. The copy keeps its name:
    a journal names its copies by their count, and one of a run's checkpoints is kept at
    a time."""
    tmp = f"{copy}.tmp{os.getpid()}"
    try:
        shutil.copyfile(filename, tmp)
        os.replace(tmp, copy)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return copy
