"""HIL host side on hostile replies: every decoder either decodes or raises ProtocolError, the
client retries such replies and then fails cleanly, and no loop waits forever on a bad board.
(Parser throughput is measured by benchmarks/hil_parser.py, not asserted here.)"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyml_pio.hil import protocol as P
from tinyml_pio.hil.client import HilClient, HilError


@given(st.binary(max_size=700))
def test_decode_info_decodes_or_raises_protocol_error(p):
    try:
        info = P.decode_info(p)
    except P.ProtocolError:
        return
    assert len(info.inputs) + len(info.outputs) == p[1] + p[2]


@given(st.binary(max_size=80), st.integers(0, 70), st.one_of(st.none(), st.integers(0, 70)))
def test_decode_layers_decodes_or_raises_protocol_error(p, first, known):
    try:
        n, counts = P.decode_layers(p, first, known)
    except P.ProtocolError:
        return
    assert first + len(counts) <= n and (counts or first >= n)


@given(st.binary(max_size=40), st.sampled_from(["<iII", "<IIII", ""]))
def test_fixed_replies_need_their_exact_size(p, fmt):
    try:
        values = P.decode_exact(p, fmt, "X")
    except P.ProtocolError:
        assert len(p) != struct.calcsize(fmt)
        return
    assert len(values) == len(fmt.strip("<"))


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD)), max_size=4),
       st.lists(st.binary(max_size=40), min_size=5, max_size=5), st.lists(st.integers(0, 3000), max_size=6))
def test_parser_finds_every_frame_whatever_the_chunking(frames, garbage, cuts):
    # garbage may look like a frame header and hide what follows until its claimed length has
    # arrived (then its CRC fails): the trailing zeros are the board talking on
    stream = b"".join(g + P.encode(t, s, p) for g, (t, s, p) in zip(garbage, frames)) + garbage[-1]
    stream += bytes(8 + P.MAX_PAYLOAD)
    parser = P.FrameParser()
    got = []
    edges = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for a, b in zip(edges, edges[1:]):
        got += parser.feed(stream[a:b])
    for t, s, p in frames:
        assert P.Frame(t, s, p) in got
    assert len(parser.buf) <= 8 + P.MAX_PAYLOAD  # garbage does not pile up


@given(st.binary(max_size=3000))
def test_parser_never_raises_on_garbage(data):
    P.FrameParser().feed(data)


# ---- the client against scripted replies ---------------------------------------------------------

class ScriptedClient(HilClient):
    """A client whose board answers each try with the next payload of `replies` (None: no answer)."""

    def __init__(self, replies: list[bytes | None]):
        super().__init__("loop://", timeout=0.01, retries=2)
        self.replies = list(replies)
        self.asked: list[int] = []

    def _attempt(self, frame: bytes, ftype: int, timeout: float) -> bytes | None:
        self.asked.append(ftype)
        return self.replies.pop(0) if self.replies else None


def test_get_output_on_an_empty_reply_fails_after_its_retries():
    cl = ScriptedClient([b""] * 10)
    with pytest.raises(HilError, match="malformed replies"):
        cl.get_output(0, 10)
    assert len(cl.asked) == 3


def test_get_output_refuses_more_bytes_than_asked_then_takes_the_right_reply():
    cl = ScriptedClient([b"x" * 11, b"y" * 10])
    assert cl.get_output(0, 10) == b"y" * 10 and cl.retried == 1


def test_layer_cycles_with_fewer_counts_than_announced_ends():
    short = struct.pack("<H", 5) + struct.pack("<2I", 1, 2)  # 5 operators announced, 2 counts
    empty = struct.pack("<H", 5)  # then no counts at all, for ever
    cl = ScriptedClient([short] + [empty] * 10)
    with pytest.raises(HilError, match="carries 0 counts of 5"):
        cl.layer_cycles()
    assert len(cl.asked) == 1 + 3


def test_layer_cycles_in_several_replies():
    cl = ScriptedClient([struct.pack("<H3I", 5, 1, 2, 3), struct.pack("<H2I", 5, 4, 5)])
    assert cl.layer_cycles() == [1, 2, 3, 4, 5]


def test_layer_cycles_announcing_a_different_count_is_refused():
    cl = ScriptedClient([struct.pack("<H1I", 3, 1)] + [struct.pack("<H2I", 4, 2, 3)] * 3)
    with pytest.raises(HilError, match="announces 4 operators after 3"):
        cl.layer_cycles()


@pytest.mark.parametrize("reply", [b"", b"\x00" * 11, b"\x00" * 13])
def test_short_or_long_invoke_reply_is_retried(reply):
    good = struct.pack("<iII", 0, 1234, 0)
    cl = ScriptedClient([reply, good])
    assert cl.invoke() == (0, 1234) and cl.retried == 1


@pytest.mark.parametrize("reply", [bytes([P.PROTOCOL_VERSION]), bytes([P.PROTOCOL_VERSION, 5, 5]) + b"\x00" * 20])
def test_truncated_hello_is_a_clean_error(reply):
    cl = ScriptedClient([reply] * 3)
    with pytest.raises(HilError, match="HELLO reply"):
        cl.hello()


def test_hello_in_another_version_is_refused_at_once():
    cl = ScriptedClient([bytes([P.PROTOCOL_VERSION + 1]) + b"\x00" * 40])
    with pytest.raises(HilError, match="protocol version"):
        cl.hello()
    assert len(cl.asked) == 1


def test_memory_reply_must_be_16_bytes():
    cl = ScriptedClient([b"\x00" * 12] * 3)
    with pytest.raises(HilError, match="MEMORY reply has 12 bytes"):
        cl.memory()
