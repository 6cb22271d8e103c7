"""The Run lifecycle: events, statuses, heartbeats, capturing, errors (spec §5)."""

import datetime
import logging
import os
import sys
import time

import pytest

from sacred.experiment import Experiment
from sacred.utils import SacredInterrupt, TimeoutInterrupt


@pytest.fixture
def ex():
    experiment = Experiment("runtest")

    @experiment.config
    def cfg():
        a = 1

    return experiment


def make_run(ex, main, **options):
    ex.main(main)
    run = ex._create_run(options={f"--{k}": v for k, v in options.items()} or None)
    return run


def test_initial_attributes(ex):
    def main(a):
        return a

    run = make_run(ex, main)
    assert run._id is None
    assert run.captured_out == ""
    assert run.config == {"a": 1, "seed": run.config["seed"]}
    assert run.info == {}
    assert run.result is None and run.status is None
    assert run.start_time is None and run.stop_time is None
    assert run.debug is False and run.pdb is False
    assert run.beat_interval == 10.0
    assert run.unobserved is False and run.force is False and run.queue_only is False
    assert run.fail_trace is None and run.capture_mode is None
    assert run._failed_observers == []
    assert run.meta_info["command"] == "main"
    assert run.experiment_info["name"] == "runtest"
    assert run.host_info["cpu"] is None and run.host_info["gpus"] is None


def test_completed_run_events_in_order(ex, recording_observer, caplog):
    obs = recording_observer(run_id="7")
    ex.observers.append(obs)

    def main(a, _run):
        _run.info["x"] = 1
        return a + 41

    run = make_run(ex, main)
    with caplog.at_level(logging.DEBUG):
        assert run() == 42
    assert obs.names() == [
        "started_event",
        "log_metrics",
        "heartbeat_event",
        "completed_event",
        "join",
    ]
    started = obs.get("started_event")[0]
    assert started["command"] == "main"
    assert started["_id"] is None
    assert started["config"] == run.config
    assert started["meta_info"] is run.meta_info
    assert started["ex_info"] == run.experiment_info
    assert started["host_info"] == run.host_info
    assert isinstance(started["start_time"], datetime.datetime)
    assert started["start_time"].tzinfo is None
    assert abs(
        started["start_time"] - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    ) < datetime.timedelta(seconds=10)
    beat = obs.get("heartbeat_event")[0]
    assert beat["info"] == {"x": 1} and beat["result"] == 42
    completed = obs.get("completed_event")[0]
    assert completed == {"stop_time": run.stop_time, "result": 42}
    assert run._id == "7"
    assert run.status == "COMPLETED"
    assert run.start_time <= run.stop_time
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [
        ("runtest", "DEBUG", 'Using capture mode "fd"'),
        ("runtest", "INFO", "Running command 'main'"),
        ("runtest", "INFO", 'Started run with ID "7"'),
        ("runtest", "DEBUG", "Starting Heartbeat"),
        ("main", "DEBUG", "Started"),
        ("main", "DEBUG", "Finished after 0:00:00."),
        ("runtest", "INFO", "Result: 42"),
        ("runtest", "INFO", "Completed after 0:00:00"),
        ("runtest", "DEBUG", "Stopping Heartbeat"),
    ]


def test_no_observer_warning_and_plain_log(ex, caplog):
    def main():
        pass

    run = make_run(ex, main)
    with caplog.at_level(logging.INFO):
        run()
    assert [r.getMessage() for r in caplog.records] == [
        "No observers have been added to this run",
        "Running command 'main'",
        "Started",
        "Completed after 0:00:00",
    ]
    assert caplog.records[0].levelname == "WARNING"


@pytest.mark.parametrize("flag", ["debug", "unobserved"])
def test_debug_and_unobserved_suppress_warning(ex, caplog, flag):
    def main():
        pass

    run = make_run(ex, main, **{flag: True})
    with caplog.at_level(logging.INFO):
        run()
    assert "No observers have been added to this run" not in caplog.text


def test_unobserved_drops_observers(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        pass

    run = make_run(ex, main, unobserved=True)
    run()
    assert obs.events == []
    assert run.observers == []


def test_observers_are_sorted_by_priority_and_first_id_wins(ex, recording_observer):
    low = recording_observer(run_id="low", priority=1)
    high = recording_observer(run_id="high", priority=50)
    mid = recording_observer(run_id="mid", priority=20)
    ex.observers.extend([low, high, mid])

    def main():
        pass

    run = make_run(ex, main)
    run()
    assert run.observers == [high, mid, low]
    assert run._id == "high"
    assert high.get("started_event")[0]["_id"] is None
    assert mid.get("started_event")[0]["_id"] == "high"
    assert low.get("started_event")[0]["_id"] == "high"


def test_failed_run(ex, recording_observer, caplog):
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        raise ValueError("boom")

    run = make_run(ex, main)
    with pytest.raises(ValueError, match="boom"):
        run()
    assert run.status == "FAILED"
    assert obs.names() == [
        "started_event",
        "log_metrics",
        "heartbeat_event",
        "failed_event",
        "join",
    ]
    failed = obs.get("failed_event")[0]
    assert failed["fail_time"] == run.stop_time
    assert failed["fail_trace"] is run.fail_trace
    assert isinstance(run.fail_trace, list) and all(isinstance(s, str) for s in run.fail_trace)
    assert run.fail_trace[0] == "Traceback (most recent call last):\n"
    assert run.fail_trace[-1] == "ValueError: boom\n"
    text = "".join(run.fail_trace)
    assert 'raise ValueError("boom")' in text
    assert "in __call__" not in text  # the Run's own frame is skipped
    assert "Failed after 0:00:00!" in caplog.text


@pytest.mark.parametrize(
    "exc, status",
    [
        (KeyboardInterrupt(), "INTERRUPTED"),
        (SacredInterrupt(), "INTERRUPTED"),
        (TimeoutInterrupt(), "TIMEOUT"),
    ],
)
def test_interrupted_run(ex, recording_observer, caplog, exc, status):
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        raise exc

    run = make_run(ex, main)
    with pytest.raises(type(exc)):
        run()
    assert run.status == status
    assert obs.names()[-2:] == ["interrupted_event", "join"]
    assert obs.get("interrupted_event")[0] == {"interrupt_time": run.stop_time, "status": status}
    assert "Aborted after 0:00:00!" in caplog.text


def test_custom_interrupt_status(ex, recording_observer):
    class MyInterrupt(SacredInterrupt):
        STATUS = "MY_STATUS"

    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        raise MyInterrupt()

    run = make_run(ex, main)
    with pytest.raises(MyInterrupt):
        run()
    assert run.status == "MY_STATUS"
    assert obs.get("interrupted_event")[0]["status"] == "MY_STATUS"


def test_queue_only(ex, recording_observer, caplog):
    obs = recording_observer(run_id="q1")
    ex.observers.append(obs)
    called = []

    def main():
        called.append(1)

    run = make_run(ex, main, queue=True)
    with caplog.at_level(logging.INFO):
        assert run() is None
    assert called == []
    assert run.status == "QUEUED"
    assert obs.names()[0] == "queued_event"
    queued = obs.get("queued_event")[0]
    assert queued["queue_time"] == run.meta_info["queue_time"]
    assert queued["command"] == "main"
    assert queued["host_info"] == run.host_info
    assert run._id == "q1"
    assert "Queuing-up command 'main'" in caplog.text
    assert 'Queued-up run with ID "q1"' in caplog.text


def test_queue_only_without_id_logs_queued(ex, caplog):
    def main():
        pass

    run = make_run(ex, main, queue=True)
    with caplog.at_level(logging.INFO):
        run()
    assert [r.getMessage() for r in caplog.records][-1] == "Queued"


def test_run_can_only_start_once(ex):
    def main():
        pass

    run = make_run(ex, main)
    run()
    with pytest.raises(RuntimeError) as e:
        run()
    assert str(e.value) == f"A run can only be started once. (Last start was {run.start_time})"


def test_periodic_heartbeats_and_final_one(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)

    def main(_run):
        for i in range(3):
            _run.result = i
            time.sleep(0.12)

    run = make_run(ex, main, **{"beat-interval": "0.05"})
    assert run.beat_interval == 0.05
    run()
    beats = obs.get("heartbeat_event")
    assert len(beats) >= 4
    assert obs.names()[-3:] == ["heartbeat_event", "completed_event", "join"]
    # intermediate results are reported with the beats
    assert {b["result"] for b in beats[:-1]} <= {None, 0, 1, 2}
    assert beats[-1]["result"] is None  # main returned None


def test_beat_interval_zero_means_no_heartbeat(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        pass

    run = make_run(ex, main)
    run.beat_interval = 0
    run()
    assert "heartbeat_event" not in obs.names()


def test_metrics_are_sent_with_heartbeat(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)

    def main(_run):
        _run.log_scalar("loss", 0.5)
        _run.log_scalar("loss", 0.25)
        ex.log_scalar("acc", 10, step=5)

    run = make_run(ex, main)
    run()
    metrics = obs.get("log_metrics")[-1]["metrics_by_name"]
    assert metrics["loss"]["steps"] == [0, 1]
    assert metrics["loss"]["values"] == [0.5, 0.25]
    assert metrics["acc"]["steps"] == [5]
    assert metrics["acc"]["name"] == "acc"
    assert all(isinstance(t, datetime.datetime) for t in metrics["loss"]["timestamps"])


def test_artifacts_and_resources(ex, recording_observer, tmp_path):
    obs = recording_observer()
    ex.observers.append(obs)
    res = tmp_path / "res.txt"
    res.write_text("resource")
    art = tmp_path / "out.txt"
    art.write_text("artifact")

    def main(_run):
        with _run.open_resource(str(res)) as f:
            assert f.read() == "resource"
        _run.add_resource(str(res))
        _run.add_artifact(str(art))
        ex.add_artifact(str(art), name="renamed.txt", metadata={"m": 1}, content_type="text/plain")

    run = make_run(ex, main)
    run()
    assert obs.get("resource_event") == [{"filename": str(res)}, {"filename": str(res)}]
    assert obs.get("artifact_event") == [
        {"name": "out.txt", "filename": str(art), "metadata": None, "content_type": None},
        {
            "name": "renamed.txt",
            "filename": str(art),
            "metadata": {"m": 1},
            "content_type": "text/plain",
        },
    ]


def test_failing_observer_is_skipped_afterwards(ex, recording_observer, caplog):
    bad = recording_observer(fail_on={"heartbeat_event"})
    good = recording_observer()
    ex.observers.extend([bad, good])

    def main(_run):
        _run.add_artifact(__file__)

    run = make_run(ex, main)
    run()
    assert run._failed_observers == [bad]
    assert bad.names() == [
        "started_event",
        "artifact_event",
        "log_metrics",
        "heartbeat_event",
        "completed_event",
    ]
    assert good.names() == [
        "started_event",
        "artifact_event",
        "log_metrics",
        "heartbeat_event",
        "completed_event",
        "join",
    ]
    assert (
        "An error ocurred in the 'RecordingObserver(None)' observer: heartbeat_event failed on purpose"
        in caplog.text
    )
    assert (
        "The observer 'RecordingObserver(None)' failed at some point during the run." in caplog.text
    )


def test_error_in_started_event_fails_the_run(ex, recording_observer):
    bad = recording_observer(fail_on={"started_event"})
    ex.observers.append(bad)
    called = []

    def main():
        called.append(1)

    run = make_run(ex, main)
    with pytest.raises(RuntimeError, match="started_event failed on purpose"):
        run()
    assert called == []
    assert run.status == "FAILED"


def test_error_in_completed_event_is_logged_and_others_still_notified(
    ex, recording_observer, caplog
):
    bad = recording_observer(fail_on={"completed_event"}, priority=10)
    good = recording_observer()
    ex.observers.extend([bad, good])

    def main():
        return 3

    run = make_run(ex, main)
    assert run() == 3
    assert "completed_event" in good.names()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "Traceback" in errors[0].getMessage()
    assert "completed_event failed on purpose" in errors[0].getMessage()


def test_pre_and_post_run_hooks(ex):
    calls = []

    @ex.pre_run_hook
    def pre(a):
        calls.append(("pre", a))

    @ex.post_run_hook
    def post():
        calls.append("post")

    def main():
        calls.append("main")

    run = make_run(ex, main)
    run()
    assert calls == [("pre", 1), "main", "post"]


def test_capture_sys_and_filter(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)
    ex.captured_out_filter = lambda text: text.upper()

    def main():
        print("hello")
        sys.stderr.write("err\n")

    run = make_run(ex, main, capture="sys")
    run()
    assert run.captured_out == "HELLO\nERR\n"
    assert obs.get("heartbeat_event")[-1]["captured_out"] == "HELLO\nERR\n"


def test_no_observers_means_no_capturing(ex, capsys):
    def main():
        print("visible")

    run = make_run(ex, main)
    run()
    assert run.captured_out == ""
    assert "visible" in capsys.readouterr().out


def test_failed_run_keeps_its_output(ex, recording_observer):
    """Deliberate fix of the original's quirk 5: the original closed the capture before the
    final heartbeat, so a failing run's output after the last periodic beat was lost."""
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        print("last words")
        raise RuntimeError("bad")

    run = make_run(ex, main, capture="sys")
    with pytest.raises(RuntimeError):
        run()
    assert run.captured_out == "last words\n"
    assert obs.get("heartbeat_event")[-1]["captured_out"] == "last words\n"


def test_interrupted_run_keeps_its_output(ex, recording_observer):
    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        print("bye")
        raise KeyboardInterrupt

    run = make_run(ex, main, capture="sys")
    with pytest.raises(KeyboardInterrupt):
        run()
    assert obs.get("heartbeat_event")[-1]["captured_out"] == "bye\n"


def test_capture_fd_gets_subprocess_output(ex, recording_observer):
    import subprocess

    obs = recording_observer()
    ex.observers.append(obs)

    def main():
        os.write(1, b"from python\n")
        subprocess.run([sys.executable, "-c", "print('from child')"], check=True)

    run = make_run(ex, main, capture="fd")
    run()
    assert "from python\n" in run.captured_out
    assert "from child\n" in run.captured_out


def test_unknown_capture_mode(ex):
    def main():
        pass

    run = make_run(ex, main, capture="foo")
    with pytest.raises(KeyError) as e:
        run()
    assert (
        e.value.args[0] == "Unknown capture mode 'foo'. Available options are ['fd', 'no', 'sys']"
    )


def test_log_scalar_is_cheap(ex):
    def main(_run):
        log = _run.log_scalar
        start = time.perf_counter()
        for i in range(100_000):
            log("x", i)
        return time.perf_counter() - start

    run = make_run(ex, main)
    elapsed = run()
    # generous bound (the benchmark checks >= 1M calls/s); catches accidental O(n) work
    assert elapsed < 1.0
    assert len(run._metrics.get_last_metrics()) == 0  # the final heartbeat drained them


def test_id_option_and_name_option(ex, recording_observer, caplog):
    obs = recording_observer(run_id=None)
    ex.observers.append(obs)

    def main():
        pass

    run = make_run(ex, main, id="myid", name="custom")
    with caplog.at_level(logging.INFO):
        run()
    assert obs.get("started_event")[0]["_id"] == "myid"
    assert run.experiment_info["name"] == "custom"
    assert 'Started run with ID "myid"' in caplog.text
    assert {r.name for r in caplog.records} == {"custom"}


def test_large_output_is_not_held_twice(ex, recording_observer, monkeypatch, tmp_path):
    import tracemalloc

    class LengthObserver(recording_observer):
        def heartbeat_event(self, info, captured_out, beat_time, result):
            self.events.append(("heartbeat_event", len(captured_out)))

    obs = LengthObserver()
    ex.observers.append(obs)
    chunk = "x" * (5 * 1024 * 1024 - 1)
    monkeypatch.setattr(sys, "stdout", open(os.devnull, "w"))  # noqa: SIM115

    def main(_run):
        for _ in range(10):
            print(chunk)
            _run._get_captured_output()  # what a heartbeat does

    run = make_run(ex, main, capture="sys")
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = 10 * len(chunk + "\n")
    assert len(run.captured_out) == total
    assert ("heartbeat_event", total) in obs.events
    # appending with old + new copies would peak at about twice the output
    assert peak < 1.75 * total


def test_finished_runs_are_not_kept_by_the_heartbeat_thread(ex, recording_observer):
    from sacred.run import _HEARTBEATS

    ex.observers.append(recording_observer())

    def main():
        pass

    run = make_run(ex, main)
    run()  # the default interval is 10 s: the run must leave the queue when it stops
    assert all(entry[2] is not run for entry in _HEARTBEATS._queue)


def test_concurrent_runs_get_their_own_heartbeats(recording_observer):
    import threading

    observers = []
    runs = []

    def start_one(i):
        exp = Experiment(f"conc{i}")
        obs = recording_observer(run_id=str(i))
        exp.observers.append(obs)
        observers.append(obs)

        @exp.main
        def main(_run):
            time.sleep(0.3)
            _run.result = "done"

        run = exp._create_run(options={"--beat-interval": "0.05"})
        runs.append(run)
        run()

    threads = [threading.Thread(target=start_one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for obs in observers:
        assert obs.names().count("heartbeat_event") >= 3
        assert obs.names()[-2:] == ["completed_event", "join"]
