"""The host's LZO1X decompressor against the hand-derived streams (tests/vectors/minimed600/
lzo.json), on malformed streams (a typed error, never an IndexError, never more output than
announced), and on what the emulator's compressor writes (a round trip)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.protocols.lzo1x_encode import compress
from uploader.protocols.lzo1x import LzoError, decompress
from uploader.protocols.minimed_errors import MessageCorrupted

LZO = json.loads((Path(__file__).parents[1] / "vectors" / "minimed600" / "lzo.json").read_text())


@pytest.mark.parametrize("vector", LZO["streams"], ids=lambda v: v["name"])
def test_a_stream_decompresses_as_the_vector_says(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["data"])
    assert decompress(bytes.fromhex(vector["stream"]), len(data)) == data


@pytest.mark.parametrize("vector", LZO["malformed"], ids=lambda v: v["name"])
def test_a_malformed_stream_raises_the_typed_error(vector: dict[str, Any]) -> None:
    with pytest.raises(LzoError) as caught:
        decompress(bytes.fromhex(vector["stream"]), vector["size"])
    assert isinstance(caught.value, MessageCorrupted)
    assert "compressed history" in caught.value.user_message()


def test_the_output_never_grows_past_the_announced_size() -> None:
    # An M3 match whose length bytes say ~255 * 4000 bytes, in a 2048-byte session.
    stream = bytes([0x12, 0x00, 0x20]) + bytes(4000) + bytes([0x01, 0x00, 0x00, 0x11, 0, 0])
    with pytest.raises(LzoError, match="more than the 2048 bytes"):
        decompress(stream, 2048)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_the_typed_error(data: bytes) -> None:
    try:
        out = decompress(data, 1024)
    except LzoError:
        return
    assert len(out) == 1024


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40), st.builds(bytes, st.integers(min_value=0, max_value=300))
        ),
        max_size=20,
    ).map(b"".join),
    st.integers(min_value=0, max_value=2),
)
def test_what_the_emulator_compresses_decompresses_to_itself(data: bytes, repeat: int) -> None:
    data = data * (repeat + 1)
    assert decompress(compress(data), len(data)) == data


def test_a_whole_history_session_round_trips() -> None:
    history = json.loads(
        (Path(__file__).parents[1] / "vectors" / "minimed600" / "history.json").read_text()
    )
    blocks = bytes.fromhex(history["block"]["hex"]) * 8
    stream = compress(blocks)
    assert len(stream) < len(blocks) // 4
    assert decompress(stream, len(blocks)) == blocks
