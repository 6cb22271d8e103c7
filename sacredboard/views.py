"""Pages (blueprint ``views``) and the TensorBoard start/stop routes.

Starting and stopping TensorBoard are POST (the original used GET, which an ``<img>`` of
any site could reach) and follow the write rules of ``sacredboard.guards``.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from sacred.store import RunNotFoundError
from sacredboard import tensorboard
from sacredboard.__about__ import __version__
from sacredboard.guards import refuse_writes
from sacredboard.requests_util import error, run_id_of, store

bp = Blueprint("views", __name__)
bp.before_request(refuse_writes)  # the POST routes: same origin, loopback Host, --allow-write


def _page(template, **kwargs):

    return render_template(
        template,
        sacredboard_version=__version__,
        dead_after=current_app.config["SACREDBOARD_DEAD_AFTER"],
        allow_write=current_app.config["SACREDBOARD_ALLOW_WRITE"],
        **kwargs,
    )


@bp.route("/")
def index():
    return redirect(url_for("views.runs"))


@bp.route("/runs")
def runs():
    return _page("runs.html", page="runs")


@bp.route("/run/<run_id>")
def run_page(run_id):
    """One run's page: its detail (the tab in ``?tab=``), a link to share; 404 if there is
    no such run (the page says so)."""
    try:
        store().get(run_id_of(run_id))
        status = 200
    except RunNotFoundError:
        status = 404
    return _page("run.html", page="run", run_id=run_id), status


@bp.route("/compare")
def compare():
    return _page("compare.html", page="compare")


@bp.route("/analysis")
def analysis():
    return _page("analysis.html", page="analysis")


@bp.route("/search_spaces")
def search_spaces():
    return _page("search_spaces.html", page="spaces")


@bp.route("/search_space/<path:name>")
def search_space(name):
    return _page("search_space.html", page="spaces", space_name=name)


@bp.route("/tensorboard/start/<run_id>/<int:tflog_id>", methods=["POST"])
def tensorboard_start(run_id, tflog_id):
    try:
        record = store().get(run_id_of(run_id))
    except RunNotFoundError as e:
        return error(404, f"Couldn't find resource: {e}")
    logdirs = ((record.get("info") or {}).get("tensorflow") or {}).get("logdirs") or []
    if not 0 <= tflog_id < len(logdirs):
        return error(404, f"run {run_id} has no TensorFlow log directory number {tflog_id}")
    logdir = logdirs[tflog_id]
    base_dir = (record.get("experiment") or {}).get("base_dir") or ""
    if not os.path.isabs(logdir) and base_dir:
        logdir = os.path.join(base_dir, logdir)
    host = current_app.config["SACREDBOARD_HOST"]
    try:
        port = tensorboard.run_tensorboard(logdir, host=host)
    except tensorboard.TensorboardError as e:
        return Response(str(e), status=503, mimetype="text/plain")
    hostname = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return redirect(f"{request.scheme}://{hostname}:{port}", code=303)


@bp.route("/tensorboard/stop", methods=["POST"])
def tensorboard_stop():
    tensorboard.stop_all()
    return Response("Stopping tensorboard", mimetype="text/plain")
