"""Helpers the blueprints share: the app's store, JSON responses and run ids from URLs."""

from __future__ import annotations

from flask import Response, current_app

from sacredboard.jsonutil import dumps

__all__ = ("store", "as_json", "error", "run_id_of")


def store():
    return current_app.config["SACREDBOARD_STORE"]


def as_json(obj, status: int = 200) -> Response:
    return Response(dumps(obj), status=status, mimetype="application/json")


def error(status: int, message: str) -> Response:
    return as_json({"errorCode": status, "errorMessage": message}, status)


def run_id_of(text: str):
    """Run ids are numbers in most stores; other ids are passed on as text."""
    return int(text) if text.isdigit() else text
