"""The emulator's LZO1X compressor: its output for the hand-derived streams it would write
(tests/vectors/minimed600/lzo.json), the instructions it picks for longer inputs, and the
sessions the pump builds with it (the round trip through the uploader's decompressor is in
tests/uploader/test_lzo1x.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from emulator.protocols import minimed600_constants as c
from emulator.protocols import minimed600_pump as pump
from emulator.protocols.lzo1x_encode import END_OF_STREAM, compress

VECTORS = Path(__file__).parents[1] / "vectors" / "minimed600"
LZO = json.loads((VECTORS / "lzo.json").read_text())
HISTORY = json.loads((VECTORS / "history.json").read_text())


@pytest.mark.parametrize(
    "vector", [v for v in LZO["streams"] if v.get("encoder")], ids=lambda v: v["name"]
)
def test_the_compressor_writes_the_vector(vector: dict[str, Any]) -> None:
    assert compress(bytes.fromhex(vector["data"])).hex() == vector["stream"]


def test_long_literal_runs_use_the_extended_length() -> None:
    data = bytes(range(256)) * 2  # no 3-byte repeat within the first 256 bytes
    stream = compress(data[:256])
    # 256 literals: 0x00 (state 0), 256 - 18 = 238, the literals, the end marker.
    assert stream == bytes([0x00, 238]) + data[:256] + END_OF_STREAM


def test_a_far_match_uses_m4() -> None:
    rng = random.Random(3)
    head = bytes(rng.randrange(256) for _ in range(20000))
    stream = compress(head + head[:40])
    tail = stream[-(3 + 4) :]
    # M4: 0001HLLL with L = 0 (40 bytes: 9 + 31), the length byte 31, two distance bytes.
    assert tail[0] & 0xF0 == 0x10 and tail[0] & 7 == 0
    assert tail[-3:] == END_OF_STREAM


def test_history_sessions_are_compressed_when_asked() -> None:
    blocks = [bytes.fromhex(HISTORY["block"]["hex"])] * 3
    plain = pump.history_session(0x02, blocks)
    packed = pump.history_session(0x02, blocks, compress=True)
    assert plain[11] == c.HISTORY_FLAG_PLAIN and packed[11] == c.HISTORY_FLAG_LZO
    assert int.from_bytes(packed[3:7], "big") == len(packed) - 12 < len(plain) - 12
    assert packed[7:11] == plain[7:11] == (3 * 2048).to_bytes(4, "big")
    assert packed[12:].endswith(END_OF_STREAM)
