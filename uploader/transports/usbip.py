"""A userspace USB/IP client as a pyusb backend (host side; Linux usbip_protocol.rst, v1.1.1).

``usbip://HOST:PORT/BUSID`` names a device that a Linux ``usbipd`` exports (``usbip list -r
HOST`` shows its busid, ``1-1``), or that a ``diahil emulate ... --usbip`` process exports.
``UsbipBackend`` lists it (OP_REQ_DEVLIST), imports it (OP_REQ_IMPORT) and runs every pyusb
transfer as a CMD_SUBMIT on that TCP connection, with no kernel module (no vhci-hcd).

Errors look as libusb's do: a transfer that outlives its timeout is cancelled with
CMD_UNLINK, then fails with ``USBTimeoutError`` (LIBUSB_ERROR_TIMEOUT, errno ETIMEDOUT),
never by dropping the connection (a Linux stub would reset the device); a lost connection
fails every transfer with LIBUSB_ERROR_NO_DEVICE (errno ENODEV); a stall (-EPIPE) with
LIBUSB_ERROR_PIPE. A server that cannot be reached, a busid it does not export and a
device another client imported are typed errors of their own.
"""

from __future__ import annotations

import array
import contextlib
import errno
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass

import usb.backend
from usb.core import USBError, USBTimeoutError

from uploader.errors import DeviceBusy, DeviceNotAvailable, DeviceNotFound, UsageError
from uploader.transports import usb_descriptors as desc

DEFAULT_PORT = 3240
VERSION = 0x0111
OP_REQ_DEVLIST, OP_REP_DEVLIST = 0x8005, 0x0005
OP_REQ_IMPORT, OP_REP_IMPORT = 0x8003, 0x0003
CMD_SUBMIT, CMD_UNLINK, RET_SUBMIT, RET_UNLINK = 1, 2, 3, 4
DIR_OUT, DIR_IN = 0, 1
URB_DIR_IN = 0x200  # transfer_flags bit the Linux vhci driver sets on IN URBs
ST_DEV_BUSY, ST_NODEV = 2, 4
_OP = struct.Struct(">HHI")
_DEVICE = struct.Struct(">256s32sIIIHHHBBBBBB")
_URB = struct.Struct(">IIIIIiiiii8s")
_LINUX_TO_LIBUSB_SPEED = {1: 1, 2: 2, 3: 3, 5: 4}

# libusb error codes, their libusb_strerror() texts and errnos (as pyusb's libusb1 raises them)
_NO_DEVICE, _NOT_FOUND, _TIMEOUT, _PIPE, _IO = -4, -5, -7, -9, -1
_LIBUSB = {
    _IO: ("Input/Output Error", errno.EIO),
    _NO_DEVICE: ("No such device (it may have been disconnected)", errno.ENODEV),
    _NOT_FOUND: ("Entity not found", errno.ENOENT),
    _TIMEOUT: ("Operation timed out", errno.ETIMEDOUT),
    _PIPE: ("Pipe error", errno.EPIPE),
}


def libusb_error(code: int) -> USBError:
    message, errno_value = _LIBUSB[code]
    cls = USBTimeoutError if code == _TIMEOUT else USBError
    return cls(message, code, errno_value)


class UsbipUnreachable(DeviceNotAvailable):
    default_hint = (
        "Check that the USB/IP server runs (`usbipd` on the rig host, or `diahil emulate ... "
        "--usbip HOST:PORT`), that HOST and PORT are right, and that a firewall lets TCP "
        "port 3240 through."
    )


class UsbipNotExported(DeviceNotFound):
    default_hint = (
        "List what the server exports with `usbip list -r HOST` and use one of those busids; "
        "on the rig host, `usbip bind -b BUSID` exports a device."
    )


class UsbipDeviceBusy(DeviceBusy):
    default_hint = (
        "Another computer or uploader has imported this device: detach it there (`usbip "
        "detach`) or stop that upload, then run the upload again."
    )


@dataclass(frozen=True)
class UsbipAddress:
    host: str
    port: int
    busid: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"usbip://{host}:{self.port}/{self.busid}"


_URL = re.compile(
    r"^usbip://(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/\[\]]+))(?::(?P<port>\d+))?/(?P<busid>.*)$"
)
_BUSID = re.compile(r"^\d+-\d+(\.\d+)*$")


def parse_usbip_url(text: str) -> UsbipAddress:
    """``usbip://HOST[:PORT]/BUSID`` (port 3240 by default); ``UsageError`` otherwise."""
    match = _URL.match(text.strip())
    if match is None:
        raise UsageError(
            f"Cannot read {text!r}: use usbip://HOST:PORT/BUSID, for example "
            "usbip://rig-1.lan:3240/1-1 (BUSID as `usbip list -r HOST` shows it)."
        )
    port = int(match["port"] or DEFAULT_PORT)
    if not 0 < port <= 65535:
        raise UsageError(f"The port in {text!r} is out of range (1-65535).")
    busid = match["busid"]
    if not _BUSID.match(busid):
        raise UsageError(
            f"The busid {busid!r} in {text!r} is not a USB/IP busid such as 1-1 or 3-1.2 "
            "(see `usbip list -r HOST`)."
        )
    return UsbipAddress(match["v6"] or match["host"], port, busid)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the USB/IP server closed the connection")
        data += chunk
    return bytes(data)


@dataclass
class RemoteDevice:
    """One exported device as OP_REP_DEVLIST describes it."""

    busid: str
    busnum: int
    devnum: int
    speed: int
    vendor_id: int
    product_id: int
    interfaces: tuple[tuple[int, int, int], ...]


def _unpack_device(raw: bytes) -> tuple[RemoteDevice, int]:
    fields = _DEVICE.unpack(raw)
    device = RemoteDevice(
        busid=fields[1].split(b"\0")[0].decode(errors="replace"),
        busnum=fields[2],
        devnum=fields[3],
        speed=fields[4],
        vendor_id=fields[5],
        product_id=fields[6],
        interfaces=(),
    )
    return device, fields[13]


def list_exported(
    host: str, port: int = DEFAULT_PORT, timeout_s: float = 5.0
) -> list[RemoteDevice]:
    """What the server exports (``usbip list -r HOST``); ``UsbipUnreachable`` if nobody answers."""
    with _connect(host, port, timeout_s) as sock:
        try:
            sock.sendall(_OP.pack(VERSION, OP_REQ_DEVLIST, 0))
            _version, code, status = _OP.unpack(_recv_exact(sock, _OP.size))
            if code != OP_REP_DEVLIST or status != 0:
                raise UsbipUnreachable(
                    f"The USB/IP server at {host}:{port} refused to list its devices "
                    f"(reply {code:#06x}, status {status})."
                )
            (count,) = struct.unpack(">I", _recv_exact(sock, 4))
            devices = []
            for _ in range(count):
                device, interfaces = _unpack_device(_recv_exact(sock, _DEVICE.size))
                device.interfaces = tuple(
                    tuple(_recv_exact(sock, 4)[:3])  # type: ignore[misc]
                    for _ in range(interfaces)
                )
                devices.append(device)
            return devices
        except (ConnectionError, OSError) as exc:
            raise UsbipUnreachable(
                f"The USB/IP server at {host}:{port} broke off while listing its devices ({exc})."
            ) from exc


def _connect(host: str, port: int, timeout_s: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsbipUnreachable(
            f"Cannot reach the USB/IP server at {host}:{port} ({reason})."
        ) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Urb:
    __slots__ = ("actual", "data", "direction", "done", "length", "status")

    def __init__(self, direction: int, length: int = 0) -> None:
        self.direction = direction
        self.length = length
        self.done = threading.Event()
        self.status = 0
        self.actual = 0
        self.data = b""


class UsbipSession:
    """One imported device: one TCP connection; a reader thread matches replies to URBs by
    seqnum, so an IN transfer waiting for the device and an OUT transfer can overlap."""

    def __init__(self, address: UsbipAddress, timeout_s: float = 5.0) -> None:
        self.address = address
        sock = _connect(address.host, address.port, timeout_s)
        try:
            sock.sendall(
                _OP.pack(VERSION, OP_REQ_IMPORT, 0) + address.busid.encode().ljust(32, b"\0")
            )
            _version, code, status = _OP.unpack(_recv_exact(sock, _OP.size))
            self.status = status
            if code == OP_REP_IMPORT and status == 0:
                self.device, _ = _unpack_device(_recv_exact(sock, _DEVICE.size))
        except (ConnectionError, OSError) as exc:
            sock.close()
            raise UsbipUnreachable(
                f"The USB/IP server at {address.host}:{address.port} broke off the import of "
                f"{address.busid} ({exc})."
            ) from exc
        if code != OP_REP_IMPORT or status != 0:
            sock.close()
            raise ImportRefused(status)
        sock.settimeout(None)
        self._sock = sock
        self.devid = (self.device.busnum << 16) | self.device.devnum
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._seqnum = 0
        self._urbs: dict[int, _Urb] = {}
        self._unlinks: dict[int, _Urb] = {}
        self.lost = False
        """The connection ended without our asking: the device is gone (ENODEV)."""
        self.closed = False
        self.unlinks_sent = 0
        threading.Thread(target=self._read_replies, name="usbip-client", daemon=True).start()

    # ---- replies ------------------------------------------------------------------------

    def _read_replies(self) -> None:
        try:
            while True:
                (command, seqnum, _d, _dir, _ep, status, actual, *_rest) = _URB.unpack(
                    _recv_exact(self._sock, _URB.size)
                )
                with self._lock:
                    table = self._urbs if command == RET_SUBMIT else self._unlinks
                    urb = table.pop(seqnum, None)
                if command not in (RET_SUBMIT, RET_UNLINK):
                    break  # out of step: nothing after this can be trusted
                if urb is None:
                    continue  # a reply to a transfer we gave up on (it carried no IN data)
                if command == RET_SUBMIT and urb.direction == DIR_IN and actual > 0:
                    if actual > urb.length:  # more than was asked: out of step, device lost
                        urb.status = -errno.ENODEV
                        urb.done.set()
                        break
                    urb.data = _recv_exact(self._sock, actual)
                urb.status, urb.actual = status, actual
                urb.done.set()
        except (ConnectionError, OSError):
            pass
        self._fail_all()

    def _fail_all(self) -> None:
        with self._lock:
            if not self.closed:
                self.lost = True
            pending = [*self._urbs.values(), *self._unlinks.values()]
            self._urbs.clear()
            self._unlinks.clear()
        for urb in pending:
            urb.status = -errno.ENODEV
            urb.done.set()

    # ---- requests -----------------------------------------------------------------------

    def _send(self, command: int, urb: _Urb, fields: tuple[int | bytes, ...], tail: bytes) -> int:
        with self._lock:
            if self.lost or self.closed:
                raise libusb_error(_NO_DEVICE)
            self._seqnum += 1
            seqnum = self._seqnum
            (self._urbs if command == CMD_SUBMIT else self._unlinks)[seqnum] = urb
        try:
            with self._send_lock:
                self._sock.sendall(_URB.pack(command, seqnum, self.devid, *fields) + tail)
        except OSError:
            self._fail_all()
            raise libusb_error(_NO_DEVICE) from None
        return seqnum

    def submit(
        self,
        direction: int,
        endpoint: int,
        length: int,
        timeout_ms: int,
        setup: bytes = bytes(8),
        payload: bytes = b"",
        interval: int = 0,
    ) -> _Urb:
        """Run one transfer to completion; libusb's errors on failure, timeout or loss."""
        urb = _Urb(direction, length)
        flags = URB_DIR_IN if direction == DIR_IN else 0
        seqnum = self._send(
            CMD_SUBMIT,
            urb,
            (direction, endpoint, flags, length, 0, -1, interval, setup),
            payload,
        )
        if not urb.done.wait(timeout_ms / 1000 if timeout_ms > 0 else None):
            self._unlink(seqnum, urb)
        if urb.status == -errno.ENODEV or (not urb.done.is_set() and self.lost):
            raise libusb_error(_NO_DEVICE)
        if urb.status == -errno.ECONNRESET or not urb.done.is_set():
            raise libusb_error(_TIMEOUT)
        if urb.status == -errno.EPIPE:
            raise libusb_error(_PIPE)
        if urb.status == -errno.ESHUTDOWN:  # a Linux stub whose device went away
            raise libusb_error(_NO_DEVICE)
        if urb.status != 0:
            raise libusb_error(_IO)
        return urb

    def _unlink(self, victim: int, urb: _Urb) -> None:
        """libusb's timeout: cancel the transfer (CMD_UNLINK), wait for the verdict. A
        transfer that completed meanwhile keeps its data; a cancelled one gets -ECONNRESET."""
        answer = _Urb(DIR_OUT)
        self.unlinks_sent += 1
        try:
            self._send(CMD_UNLINK, answer, (0, 0, victim, 0, 0, 0, 0, bytes(8)), b"")
        except USBError:
            return
        answer.done.wait(2.0)
        if urb.done.is_set():
            return  # RET_SUBMIT arrived first: the transfer completed after all
        if answer.done.is_set() and answer.status == -errno.ENODEV:
            urb.status = -errno.ENODEV  # the connection went while we waited
            return
        if answer.done.is_set() and answer.status == -errno.ECONNRESET:
            with self._lock:  # cancelled: no RET_SUBMIT will come for it
                self._urbs.pop(victim, None)
        # Otherwise its RET_SUBMIT may still come: it stays listed, so the reader consumes
        # its data and the stream stays in step; the caller has timed out either way.
        urb.status = -errno.ECONNRESET

    def control(
        self,
        request_type: int,
        request: int,
        value: int,
        index: int,
        data: bytes | int,
        timeout_ms: int,
    ) -> _Urb:
        if request_type & 0x80:
            assert isinstance(data, int)
            setup = struct.pack("<BBHHH", request_type, request, value, index, data)
            return self.submit(DIR_IN, 0, data, timeout_ms, setup)
        payload = bytes(data) if not isinstance(data, int) else b""
        setup = struct.pack("<BBHHH", request_type, request, value, index, len(payload))
        return self.submit(DIR_OUT, 0, len(payload), timeout_ms, setup, payload)

    def close(self) -> None:
        """Detach: the server releases (and resets) the device."""
        with self._lock:
            self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()


class ImportRefused(Exception):
    """OP_REP_IMPORT with a non-zero status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"import refused with status {status}")
        self.status = status


class _Remote:
    """The device as pyusb holds it (libusb's ``libusb_device``): descriptors, read once."""

    def __init__(self, info: RemoteDevice, device: desc.DeviceDescriptor) -> None:
        self.info = info
        self.device = device
        self.configurations: list[desc.ConfigurationDescriptor] = []


class UsbipBackend(usb.backend.IBackend):  # type: ignore[misc]
    """pyusb backend reaching the one device ``usbip://HOST:PORT/BUSID`` names.

    >>> backend = UsbipBackend(parse_usbip_url("usbip://127.0.0.1:3240/1-1"))
    >>> usb.core.find(backend=backend)
    """

    descriptor_timeout_ms = 5000

    def __init__(self, address: UsbipAddress, connect_timeout_s: float = 5.0) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._session: UsbipSession | None = None
        self._remote: _Remote | None = None
        self._handles = 0
        self._released_at = 0.0
        self._lock = threading.Lock()

    # ---- import -------------------------------------------------------------------------

    def _import(self) -> UsbipSession:
        """A fresh import of the busid, with clear errors when the server says no."""
        address = self.address
        deadline = time.monotonic() + 2.0
        while True:
            try:
                return UsbipSession(address, self.connect_timeout_s)
            except ImportRefused as refused:
                # Our own previous import may still be being released by the server.
                recent = time.monotonic() - self._released_at < 2.0
                if refused.status == ST_DEV_BUSY and recent and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise self._refusal(refused.status) from None

    def _refusal(self, status: int) -> Exception:
        address = self.address
        where = f"{address.host}:{address.port}"
        exported = list_exported(address.host, address.port, self.connect_timeout_s)
        if any(d.busid == address.busid for d in exported) and status != ST_NODEV:
            return UsbipDeviceBusy(
                f"The USB/IP server at {where} exports {address.busid}, but another client "
                f"has imported it (status {status})."
            )
        listed = ", ".join(f"{d.busid} ({d.vendor_id:04x}:{d.product_id:04x})" for d in exported)
        return UsbipNotExported(
            f"The USB/IP server at {where} does not export busid {address.busid}; it exports "
            f"{listed or 'no devices'}."
        )

    def _open_session(self) -> UsbipSession:
        with self._lock:
            session = self._session
            if session is not None and not session.closed:
                if session.lost:
                    raise libusb_error(_NO_DEVICE)
                return session
            self._session = self._import()
            return self._session

    def _load(self) -> _Remote:
        if self._remote is not None:
            return self._remote
        session = self._open_session()
        timeout = self.descriptor_timeout_ms
        raw = session.control(0x80, 0x06, 0x0100, 0, 18, timeout).data
        device = desc.parse_device_descriptor(raw)
        info = session.device
        device.bus, device.address = info.busnum, info.devnum
        device.speed = _LINUX_TO_LIBUSB_SPEED.get(info.speed)
        remote = _Remote(info, device)
        for index in range(device.bNumConfigurations):
            head = session.control(0x80, 0x06, 0x0200 | index, 0, 9, timeout).data
            if len(head) < 4:
                raise desc.DescriptorError(
                    f"configuration descriptor {index} is cut short: {bytes(head).hex()}"
                )
            total = struct.unpack_from("<H", head, 2)[0]
            full = session.control(0x80, 0x06, 0x0200 | index, 0, total, timeout).data
            remote.configurations.append(desc.parse_configuration_descriptor(full))
        self._remote = remote
        if self._handles == 0:
            self._release_session()  # a listing imports only for as long as it reads
        return remote

    def _release_session(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
                self._released_at = time.monotonic()

    def close(self) -> None:
        """Detach the device (also done when the last handle closes)."""
        self._release_session()

    @property
    def session(self) -> UsbipSession | None:
        return self._session

    # ---- enumeration and descriptors ----------------------------------------------------

    def enumerate_devices(self) -> list[_Remote]:
        return [self._load()]

    def get_parent(self, dev: _Remote) -> None:
        return None

    def get_device_descriptor(self, dev: _Remote) -> desc.DeviceDescriptor:
        return dev.device

    def get_configuration_descriptor(
        self, dev: _Remote, config: int
    ) -> desc.ConfigurationDescriptor:
        if config >= len(dev.configurations):
            raise IndexError(f"Invalid configuration index {config}")
        return dev.configurations[config]

    def get_interface_descriptor(
        self, dev: _Remote, intf: int, alt: int, config: int
    ) -> desc.InterfaceDescriptor:
        interfaces = self.get_configuration_descriptor(dev, config).interfaces
        if intf >= len(interfaces):
            raise IndexError(f"Invalid interface index {intf}")
        if alt >= len(interfaces[intf]):
            raise IndexError(f"Invalid alternate setting index {alt}")
        return interfaces[intf][alt]

    def get_endpoint_descriptor(
        self, dev: _Remote, ep: int, intf: int, alt: int, config: int
    ) -> desc.EndpointDescriptor:
        interface = self.get_interface_descriptor(dev, intf, alt, config)
        if ep >= len(interface.endpoints):
            raise IndexError(f"Invalid endpoint index {ep}")
        return interface.endpoints[ep]

    # ---- handles ------------------------------------------------------------------------

    def open_device(self, dev: _Remote) -> UsbipSession:
        session = self._open_session()
        self._handles += 1
        return session

    def close_device(self, dev_handle: UsbipSession) -> None:
        self._handles = max(0, self._handles - 1)
        if self._handles == 0:
            self._release_session()

    def set_configuration(self, dev_handle: UsbipSession, config_value: int) -> None:
        dev_handle.control(0x00, 0x09, config_value, 0, b"", self.descriptor_timeout_ms)

    def get_configuration(self, dev_handle: UsbipSession) -> int:
        data = dev_handle.control(0x80, 0x08, 0, 0, 1, self.descriptor_timeout_ms).data
        return data[0] if data else 0

    def set_interface_altsetting(self, dev_handle: UsbipSession, intf: int, alt: int) -> None:
        dev_handle.control(0x01, 0x0B, alt, intf, b"", self.descriptor_timeout_ms)

    def claim_interface(self, dev_handle: UsbipSession, intf: int) -> None:
        self._alive(dev_handle)  # the import already made the device ours alone

    def release_interface(self, dev_handle: UsbipSession, intf: int) -> None:
        self._alive(dev_handle)

    @staticmethod
    def _alive(dev_handle: UsbipSession) -> None:
        if dev_handle.lost or dev_handle.closed:
            raise libusb_error(_NO_DEVICE)

    # ---- transfers ----------------------------------------------------------------------

    def _write(
        self, dev_handle: UsbipSession, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        payload = data.tobytes()
        urb = dev_handle.submit(DIR_OUT, ep & 0x0F, len(payload), timeout, payload=payload)
        return urb.actual

    def _read(
        self, dev_handle: UsbipSession, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        size = len(buff) * buff.itemsize
        data = dev_handle.submit(DIR_IN, ep & 0x0F, size, timeout).data
        buff[: len(data)] = array.array(buff.typecode, data)
        return len(data)

    bulk_write = intr_write = _write
    bulk_read = intr_read = _read

    def ctrl_transfer(
        self,
        dev_handle: UsbipSession,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        size = len(data) * data.itemsize
        if bmRequestType & 0x80:
            answer = dev_handle.control(bmRequestType, bRequest, wValue, wIndex, size, timeout)
            data[: len(answer.data)] = array.array(data.typecode, answer.data)
            return len(answer.data)
        urb = dev_handle.control(bmRequestType, bRequest, wValue, wIndex, data.tobytes(), timeout)
        return urb.actual

    def clear_halt(self, dev_handle: UsbipSession, ep: int) -> None:
        dev_handle.control(0x02, 0x01, 0, ep, b"", self.descriptor_timeout_ms)

    def reset_device(self, dev_handle: UsbipSession) -> None:
        raise libusb_error(_NOT_FOUND)  # USB/IP has no reset; the server resets on release

    def is_kernel_driver_active(self, dev_handle: UsbipSession, intf: int) -> bool:
        self._alive(dev_handle)
        return False  # on the server, the device is bound to usbip-host, not a class driver

    def detach_kernel_driver(self, dev_handle: UsbipSession, intf: int) -> None:
        raise libusb_error(_NOT_FOUND)

    def attach_kernel_driver(self, dev_handle: UsbipSession, intf: int) -> None:
        pass
