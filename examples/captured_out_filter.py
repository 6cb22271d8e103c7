#!/usr/bin/env python
r"""Cleaning up captured output, such as progress bars.

A progress bar redraws its line again and again with ``\r``. In a terminal only the last
state stays visible, but the raw captured output would keep every intermediate state.
``ex.captured_out_filter`` is applied to the captured text before observers see it;
``apply_backspaces_and_linefeeds`` interprets ``\r`` and ``\b`` the way a terminal does.

Output is only captured when there is an observer or a capture mode is chosen, so this
transcript uses ``-C sys``. After the run the script prints what was captured: the progress
bar in its final state and nothing of the intermediate ones. (The transcript shows the terminal
view; the raw output redraws the bar eleven times.)

    $ ./captured_out_filter.py -C sys -l WARNING
    WARNING - progress - No observers have been added to this run
    [##########] 100%
    done
    captured: '[##########] 100%\ndone\n'

With ``-F runs`` the filtered text is what ends up in ``runs/1/cout.txt``.
"""

from sacred import Experiment
from sacred.utils import apply_backspaces_and_linefeeds

ex = Experiment("progress")
ex.captured_out_filter = apply_backspaces_and_linefeeds


def progress_bar(steps):
    for i in range(steps + 1):
        bar = "#" * (10 * i // steps)
        print("\r[{:<10}] {:3d}%".format(bar, 100 * i // steps), end="", flush=True)
    print()


@ex.main
def main():
    progress_bar(10)
    print("done")


if __name__ == "__main__":
    run = ex.run_commandline()
    print("captured: {!r}".format(run.captured_out))
