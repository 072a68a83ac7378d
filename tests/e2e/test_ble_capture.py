"""Bluetooth LE captures of a real upload, opened in tshark: an emulated GLS meter read by
the uploader over its Bumble central, every HCI packet recorded (``--capture FILE``) as
btsnoop and as pcapng, and Wireshark's own dissectors decoding what crossed the link:
SMP pairing, the encryption it switched on, the RACP requests and indications, and one
Glucose Measurement notification per record in the meter's ledger. Where the stack gives no
HCI (the OS stack), the GATT-level log is a pcapng that tshark decodes as ATT as well."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from emulator.ble import GlsMeter
from hil.cli import build_app
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.system_programs import needs_program
from uploader.ble_capture import BleCaptureFile, BleCaptureFormat

pytestmark = needs_program("tshark", "tshark")  # skipped locally without it, fails in CI

RACP = "0x2a52"
GLUCOSE_MEASUREMENT = "0x2a18"
SERIAL_NUMBER = "0x2a25"


def tshark(path: Path) -> list[dict[str, Any]]:
    """The packets of ``path`` as tshark decodes them (``-T json``): their layers."""
    done = subprocess.run(
        ["tshark", "-r", str(path), "-T", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [packet["_source"]["layers"] for packet in json.loads(done.stdout)]


def frame(layers: dict[str, Any]) -> int:
    return int(layers["frame"]["frame.number"])


def att(packets: list[dict[str, Any]], opcode: str) -> list[dict[str, Any]]:
    """The ATT layers of the packets with ``opcode``, each with its frame number."""
    found = []
    for layers in packets:
        layer = layers.get("btatt")
        if isinstance(layer, dict) and layer.get("btatt.opcode") == opcode:
            found.append({**layer, "frame": frame(layers)})
    return found


def uuid_of(layer: dict[str, Any]) -> str | None:
    uuid = layer.get("btatt.handle_tree", {}).get("btatt.uuid16")
    return str(uuid) if uuid is not None else None


@pytest.mark.parametrize(
    ("suffix", "file_format"), [(".btsnoop", "btsnoop"), (".pcapng", "pcapng")]
)
def test_a_gls_upload_over_bumble_opens_in_tshark(
    suffix: str,
    file_format: BleCaptureFormat,
    make_gls_meter: Any,
    ble_uploader: UploadHarness,
    tmp_path: Path,
) -> None:
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=5, days=7)
    capture = BleCaptureFile(tmp_path / f"gls{suffix}", file_format)
    started = time.time()
    result = ble_uploader.upload_ble(meter, ble_snooper=capture.snooper)
    ended = time.time()
    assert result.status == "uploaded"
    (written,) = capture.write()
    packets = tshark(written)

    # Wireshark shows when each packet crossed: the times are the upload's.
    times = [float(layers["frame"]["frame.time_epoch"]) for layers in packets]
    assert started - 0.001 <= times[0] <= times[-1] <= ended + 0.001

    # Who sent what: the H4 direction header / btsnoop flags decode as sent vs received.
    directions = {layers["hci_h4"]["hci_h4.direction"] for layers in packets}
    assert directions == {"0x00", "0x01"}

    # Pairing: LE Secure Connections with MITM, then the link is encrypted.
    smp = [layers["btsmp"] for layers in packets if "btsmp" in layers]
    opcodes = [s["btsmp.opcode"] for s in smp]
    assert opcodes[:2] == ["0x01", "0x02"]  # Pairing Request, Pairing Response
    assert "0x0c" in opcodes and "0x0d" in opcodes  # Public Key, DHKey Check
    encrypted_at = [
        frame(layers)
        for layers in packets
        if layers.get("bthci_evt", {}).get("bthci_evt.code") == "0x08"  # Encryption Change
        and layers["bthci_evt"].get("bthci_evt.encryption_enable") == "0x01"
    ]
    assert len(encrypted_at) == 1

    # ATT above the link layer's encryption is plaintext: the serial number read after
    # encryption decodes to the meter's.
    serials = [r for r in att(packets, "0x0b") if uuid_of(r) == SERIAL_NUMBER]
    assert [r["btatt.serial_number_string"] for r in serials] == [meter.peripheral.serial_number]
    assert serials[0]["frame"] > encrypted_at[0]

    # The RACP procedure: count all records (0x04, all), then report them (0x01, all), each
    # a Write Request on the RACP handle, answered by an indication on the same handle.
    writes = [w for w in att(packets, "0x12") if uuid_of(w) == RACP]
    requests = [
        (
            w["btatt.record_access_control_point.opcode"],
            w["btatt.record_access_control_point.operator"],
        )
        for w in writes
    ]
    assert requests == [("4", "1"), ("1", "1")]
    racp_handle = writes[0]["btatt.handle"]
    indications = att(packets, "0x1d")
    assert [i["btatt.handle"] for i in indications] == [racp_handle, racp_handle]
    assert all(i["frame"] > encrypted_at[0] for i in writes + indications)

    # One Glucose Measurement notification per record the meter holds.
    measurements = [n for n in att(packets, "0x1b") if uuid_of(n) == GLUCOSE_MEASUREMENT]
    assert len(measurements) == len(meter.peripheral.model.ledger()) == result.records_read


def test_a_gatt_level_log_opens_in_tshark(
    make_gls_meter: Any, ble_uploader: UploadHarness, tmp_path: Path
) -> None:
    """Where the stack gives no HCI packets (the OS stack), only the uploader's own GATT
    operations are recorded: the sidecar pcapng decodes as ATT, in order, with the
    characteristic of each in its comment."""
    meter: EmulatedBleDevice[GlsMeter] = make_gls_meter(seed=6, days=4)
    capture = BleCaptureFile(tmp_path / "phone.btsnoop", "btsnoop")
    result = ble_uploader.upload_ble(meter, ble_capture=capture.gatt)  # no HCI snooper
    assert result.status == "uploaded"
    (written,) = capture.write()
    assert written.name == "phone.btsnoop.gatt.pcapng" and not capture.path.exists()
    decoded = [
        (layers["pkt_comment"]["frame.comment"], layers["btatt"]) for layers in tshark(written)
    ]

    def values(opcode: str, uuid16: str, sender: str) -> list[bytes]:
        """The values of the ATT PDUs with ``opcode`` whose comment names the characteristic."""
        named = f" 0000{uuid16}-0000-1000-8000-00805f9b34fb ({sender})"
        return [
            bytes.fromhex(layer.get("btatt.value", "").replace(":", ""))
            for note, layer in decoded
            if layer["btatt.opcode"] == opcode and note.endswith(named)
        ]

    uploader, device = "uploader -> device", "device -> uploader"
    assert values("0x12", RACP[2:], uploader) == [b"\x04\x01", b"\x01\x01"]  # count, report
    assert values("0x0b", SERIAL_NUMBER[2:], device) == [meter.peripheral.serial_number.encode()]
    measurements = values("0x1b", GLUCOSE_MEASUREMENT[2:], device)
    assert len(measurements) == len(meter.peripheral.model.ledger()) == result.records_read
    assert len({m[1:3] for m in measurements}) == len(measurements)  # sequence numbers

    renamed = written.rename(tmp_path / "from-the-user.pcapng")  # a log cannot be replayed
    replayed = CliRunner().invoke(build_app(), ["replay", str(renamed), "--json"])
    assert replayed.exit_code == 2, replayed.output
    assert "is a GATT-level log" in json.loads(replayed.stdout)["message"]
