"""Checkpoints: artifacts saved by ``Run.save_checkpoint``.

A checkpoint replaces the artifact of its name when the run lists that name already: the run
lists it once, the store holds the newest content, and the observer removes the stored copy
it replaced where it keeps one apart (a GridFS file, a HashFS file no other entry uses, an
SQL row). A plain ``add_artifact`` with a repeated name keeps the original's behaviour: the
name is listed once per call, and readers open the last one added.
"""

__all__ = ("is_checkpoint",)


def is_checkpoint(metadata) -> bool:
    """Whether an artifact event's ``metadata`` marks a checkpoint (``{"checkpoint": True}``)."""
    return isinstance(metadata, dict) and metadata.get("checkpoint") is True
