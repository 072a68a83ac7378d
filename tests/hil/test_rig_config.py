"""rig.toml: the sample parses; typos, bad URLs and clashing ports get errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.rig.config import RigConfigError, load_rig, parse_rig

SAMPLE = Path(__file__).parents[2] / "examples" / "rig.toml"

METER = """
[devices.meter]
kind = "contour-usb"
url = "usb:1a79:7410:7390-2336773"
serial = "7390-2336773"
port = 1
"""


def test_the_sample_rig_file_describes_a_bench() -> None:
    rig = load_rig(SAMPLE)
    assert rig.can is not None and (rig.can.interface, rig.can.channel) == ("socketcan", "can0")
    assert rig.cloud is not None
    meter = rig.device("meter")
    assert (meter.kind, meter.port, meter.transport) == ("contour-usb", 1, "usb")
    assert [name for name, _ in rig.of_kind("ids-pump")] == ["pump"]


def test_a_typo_is_named_with_its_key() -> None:
    with pytest.raises(RigConfigError) as error:
        parse_rig(METER.replace("serial =", "seriall ="))
    assert "devices.meter.seriall: unknown key" in str(error.value)
    assert "devices.meter.serial: required key is missing" in str(error.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[can]\ninterface = "socketcan"\n', "can.channel: required key is missing"),
        ('[can]\ninterface = "virtual"\nchanel = "x"\n', "can.chanel: unknown key"),
        (METER.replace("port = 1", "port = 9"), "devices.meter.port"),
        (METER.replace('"usb:1a79', '"com3:1a79'), "devices.meter.url: expected usb:VID:PID"),
        (METER.replace('"contour-usb"', '"contour"'), "devices.meter.kind"),
        (METER.replace('"contour-usb"', '"cgm"'), "devices.meter.url: a cgm is reached over ble"),
        (METER + METER.replace("devices.meter", "devices.other"), "port 1 is already"),
        ('[cloud]\nurl = "ftp://x"\n', "cloud.url"),
        ("name = ", "not valid TOML"),
    ],
)
def test_bad_rig_files_are_refused_with_the_place(text: str, named: str) -> None:
    with pytest.raises(RigConfigError) as error:
        parse_rig(text)
    assert named in str(error.value)


def test_a_missing_file_says_where_to_start(tmp_path: Path) -> None:
    with pytest.raises(RigConfigError, match=r"no such rig file .*examples/rig.toml"):
        load_rig(tmp_path / "rig.toml")
