"""The JSON errors of the API blueprints: what a store or a request got wrong, as
``{"errorCode", "errorMessage"}`` with the status that fits."""

from __future__ import annotations

from sacred.store import OutsideStoreError, QueryError, RunNotFoundError, StoreError
from sacredboard.annotations import AnnotationError
from sacredboard.requests_util import error
from sacredboard.table import TableError

__all__ = ("install_error_handlers",)


def install_error_handlers(bp) -> None:
    """Answer the errors raised by ``bp``'s routes as JSON errors."""

    @bp.errorhandler(TableError)
    def _bad_request(e):
        return error(400, str(e))

    @bp.errorhandler(RunNotFoundError)
    def _not_found(e):
        return error(404, f"Couldn't find resource: {e}")

    @bp.errorhandler(OutsideStoreError)
    def _outside_store(e):  # a file a (crafted) run lists outside the store's folders
        return error(403, str(e))

    @bp.errorhandler(StoreError)
    def _store_error(e):
        return error(500, str(e))

    @bp.errorhandler(QueryError)
    def _bad_query(e):  # also a query the database stopped after the store's query_timeout
        return error(400, str(e))

    @bp.errorhandler(AnnotationError)
    def _bad_annotation(e):
        return error(400, str(e))
