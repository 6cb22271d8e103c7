"""Copy standard input to standard output and standard error.

Run as ``python -m sacred.pytee``: a portable stand-in for ``tee`` that reads until
end of input and passes every chunk through unchanged to both streams.
"""

import os
import sys


def main(chunk_size: int = 1 << 16) -> None:
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    stderr = sys.stderr.buffer
    read = getattr(stdin, "read1", stdin.read)
    while True:
        data = read(chunk_size)
        if not data:
            break
        stdout.write(data)
        stdout.flush()
        stderr.write(data)
        stderr.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        # the reader of our output went away: stop quietly, like tee does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
