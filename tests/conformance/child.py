"""A process that writes runs into a backend of the conformance suite.

    python -m tests.conformance.child SPEC MODE ARGS...

SPEC is ``Backend.spec()`` as JSON; the child works in the backend's folder.

``runs NAME COUNT N``: COUNT runs tagged ``NAME-<i>`` with ``n`` = N + i, each with a fresh
observer; before run i, write ``NAME.ready<i>`` and wait for the file ``go<i>``; at the end
write ``{tag: run id}`` to ``NAME.json``.

``crash POINTS``: one run that logs POINTS points of ``loss`` and prints one line per point,
with a heartbeat every 0.1 s; then it writes ``ready`` and waits to be killed.
"""

import json
import os
import sys
import time


def _wait_for(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"no {path} after {timeout} s")
        time.sleep(0.01)


def runs(backend, name, count, n):
    from tests.conformance.experiments import experiment, run

    ids = {}
    for i in range(int(count)):
        ex = experiment()
        ex.observers.append(backend.observer())
        with open(f"{name}.ready{i}", "w"):
            pass
        _wait_for(f"go{i}")  # every process starts its i-th run at the same moment
        tag = f"{name}-{i}"
        ids[tag] = run(ex, tag, int(n) + i)._id
    with open(f"{name}.json.tmp", "w") as f:
        json.dump(ids, f)
    os.replace(f"{name}.json.tmp", f"{name}.json")


def crash(backend, points):
    from sacred import Experiment

    ex = Experiment("crash")

    @ex.main
    def main(_run):
        for i in range(int(points)):
            _run.log_scalar("loss", 1 / (i + 1), i)
            print(f"step {i}")
        time.sleep(0.5)  # five beats: everything above is in the store
        with open("ready", "w") as f:
            f.write(str(_run._id))
        time.sleep(300)

    ex.observers.append(backend.observer())
    ex.run(options={"--capture": "sys", "--beat-interval": "0.1"})


def main(argv):
    from tests.conformance.backends import Backend

    spec, mode, *args = argv
    backend = Backend.from_spec(json.loads(spec))
    {"runs": runs, "crash": crash}[mode](backend, *args)


if __name__ == "__main__":
    main(sys.argv[1:])
