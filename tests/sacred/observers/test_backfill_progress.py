"""backfill_metric_chunks's progress bar: metrics checked, on a terminal (or with
``progress=True``), never in a pipe; nothing breaks without tqdm."""

import pytest

from sacred import Experiment
from sacred.observers import SqlObserver
from tests.terminal import in_a_pipe, on_a_terminal

sa = pytest.importorskip("sqlalchemy")


@pytest.fixture
def older_database(tmp_path):
    """A SQLite database of one run with 3 metrics whose metric_chunk rows are gone."""
    url = f"sqlite:///{tmp_path}/runs.db"
    ex = Experiment("backfill")

    @ex.main
    def main(_run):
        for i in range(5):
            for name in ("loss", "acc", "lr"):
                _run.log_scalar(name, i / 10, i)

    ex.observers.append(SqlObserver(url))
    ex.run(options={"--capture": "no", "--loglevel": "WARNING"})
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM metric_chunk"))
    engine.dispose()
    return url


def backfill(url, progress):
    return (
        "from sacred.observers.sql import backfill_metric_chunks\n"
        f"print(backfill_metric_chunks({url!r}, progress={progress!r}))\n"
    )


def test_on_a_terminal_a_bar_of_metrics(older_database):
    code, out, shown = on_a_terminal(backfill(older_database, None))
    assert (code, out) == (0, "3\n"), shown
    assert "backfill: 100%" in shown and "3/3" in shown
    code, out, shown = on_a_terminal(backfill(older_database, None))  # all covered now
    assert (code, out) == (0, "0\n") and "3/3" in shown
    code, out, shown = on_a_terminal(backfill(older_database, False))
    assert (code, out, shown) == (0, "0\n", "")


def test_in_a_pipe_nothing_unless_asked(older_database):
    assert in_a_pipe(backfill(older_database, None)) == (0, "3\n", "")
    code, out, err = in_a_pipe(backfill(older_database, True))
    assert (code, out) == (0, "0\n") and "backfill: 100%" in err and "3/3 [" in err


def test_without_tqdm_backfill_works_and_asking_is_one_hint(older_database):
    assert in_a_pipe(backfill(older_database, True), without_tqdm=True) == (
        0,
        "3\n",
        "sacred: warning: progress=True needs tqdm, which is not installed: "
        'pip install "sacred[progress]"\n',
    )
