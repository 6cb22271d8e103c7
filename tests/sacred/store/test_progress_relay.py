"""The relay that writes other processes' output above a progress bar: whole lines, each to
the stream it was written to, a last line without newline completed when the writer ends."""

from tests.terminal import in_a_pipe

# the task in a child process, as a launcher's: in the relay's own process, a line the relay
# writes while fd 1 still goes to it would come back to it
CODE = """
import os, sys
from sacred.store.progress import OutputRelay, relayed
relay = OutputRelay()
pid = os.fork()
if pid == 0:
    with relayed(relay.spec):
        sys.stdout.write("one\\ntwo, no newline")
        os.write(2, b"to stderr\\n")
    os._exit(0)
os.waitpid(pid, 0)
relay.drain()
print("after the task")
relay.close()
"""


def test_relayed_lines_keep_their_stream_and_end_whole():
    code, out, err = in_a_pipe(CODE)
    assert (code, out, err) == (0, "one\ntwo, no newline\nafter the task\n", "to stderr\n")


def test_a_relay_that_is_gone_leaves_the_output_where_it_went():
    code, out, err = in_a_pipe(
        CODE.replace("relay.spec", "('/nonexistent/relay', False)").replace("relay.drain()", "")
    )
    assert (code, out, err) == (0, "one\ntwo, no newlineafter the task\n", "to stderr\n")
