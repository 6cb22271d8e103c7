"""The made-up runs that the store and dashboard benchmarks fill their stores with."""

import datetime as dt

T0 = dt.datetime(2026, 11, 1)
HOST = {
    "hostname": "node1",
    "os": ["Linux", "Linux-6"],
    "python_version": "3.11.7",
    "cpu": "AMD EPYC",
    "ENV": {},
}
EXPERIMENT = {
    "name": "mnist",
    "base_dir": "/work/exp",
    "mainfile": "train.py",
    "dependencies": [f"pkg{i}==1.{i}" for i in range(30)],
    "repositories": [],
    "sources": [["train.py", "_sources/train_0123456789abcdef.py"]],
}


def outline(rnd, i, steps=20):
    """``(start, status, losses, config)`` of run ``i``, drawn from ``rnd``."""
    start = T0 + dt.timedelta(minutes=i)
    status = rnd.choice(["COMPLETED"] * 8 + ["FAILED", "RUNNING"])
    base = rnd.uniform(0.5, 2.0)
    losses = [base / (s + 1) for s in range(steps)]
    config = {
        "lr": rnd.choice([0.1, 0.03, 0.01, 0.003]),
        "batch_size": rnd.choice([32, 64]),
        "optimizer": {"name": rnd.choice(["adam", "sgd"]), "beta": 0.9},
        "layers": [64, 32],
        "seed": rnd.randrange(2**31),
    }
    return start, status, losses, config
