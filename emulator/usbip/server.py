"""A USB/IP server exporting the devices of an emulated USB bus (Linux usbip_protocol.rst).

It behaves as Linux ``usbipd`` with the ``usbip-host`` stub driver behaves towards a client:

- OP_REQ_DEVLIST lists every device plugged into the bus, busid ``BUS-PORT`` (``1-1``);
- OP_REQ_IMPORT hands one device to one client at a time (a second import is refused with
  ST_DEV_BUSY; an unknown busid with ST_NODEV); the device is taken from its kernel driver
  and configured, as the stub finds it after the kernel enumerated it;
- CMD_SUBMIT runs control transfers at once and queues IN transfers per endpoint until the
  device has data (a NAKing interrupt endpoint); CMD_UNLINK cancels a queued IN transfer
  (RET_UNLINK -ECONNRESET) or reports that it had completed (status 0);
- a stall answers -EPIPE; an unplugged device closes the connection, as the stub does;
- when the client goes away, the device is reset, as the stub resets it on release.

Faults: ``cut_after_submits(n)`` drops the TCP connection on the n-th CMD_SUBMIT (a network
cut); the device's own ``FaultPlan`` applies to every transfer as on the in-process bus.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field

from emulator.usb.backend import EmulatedUsbBackend
from emulator.usb.device import (
    DeviceGone,
    EndpointStalled,
    TransferCancelled,
    TransferTimedOut,
    VirtualUsbDevice,
)
from emulator.usbip import wire

KERNEL_SPEED = {1: 1, 2: 2, 3: 3, 4: 5}
"""libusb speed -> Linux ``enum usb_device_speed`` (SuperSpeed is 4 in one, 5 in the other)."""


def busid_of(device: VirtualUsbDevice) -> str:
    return f"{device.bus}-{device.port}"


def describe(device: VirtualUsbDevice) -> wire.ExportedDevice:
    """The usb_device record of ``device`` (DEVLIST and IMPORT replies)."""
    desc = device.parsed_device_descriptor()
    configs = device.parsed_configurations()
    current = next(
        (c for c in configs if c.bConfigurationValue == device.configuration),
        configs[0] if configs else None,
    )
    interfaces: tuple[tuple[int, int, int], ...] = ()
    if current is not None:
        interfaces = tuple(
            (alts[0].bInterfaceClass, alts[0].bInterfaceSubClass, alts[0].bInterfaceProtocol)
            for _, alts in sorted(current.interfaces.items())
        )
    busid = busid_of(device)
    return wire.ExportedDevice(
        path=f"/sys/devices/platform/diahil-vhci/usb{device.bus}/{busid}",
        busid=busid,
        busnum=device.bus,
        devnum=device.address,
        speed=KERNEL_SPEED.get(device.speed, 2),
        id_vendor=desc.idVendor,
        id_product=desc.idProduct,
        bcd_device=desc.bcdDevice,
        device_class=desc.bDeviceClass,
        device_subclass=desc.bDeviceSubClass,
        device_protocol=desc.bDeviceProtocol,
        configuration_value=device.configuration,
        num_configurations=desc.bNumConfigurations,
        interfaces=interfaces,
    )


@dataclass
class _InUrb:
    seqnum: int
    endpoint: int
    length: int
    unlinked: bool = False
    done: bool = False


@dataclass
class _EndpointQueue:
    urbs: deque[_InUrb] = field(default_factory=deque)
    ready: threading.Condition = field(default_factory=threading.Condition)


class UsbipServer:
    """Serves ``bus``'s devices on ``host:port`` (port 0: a free one, see ``port``).

    >>> server = UsbipServer(bus, "127.0.0.1", 3240).start()
    >>> server.port, server.busids()
    """

    def __init__(self, bus: EmulatedUsbBackend, host: str = "127.0.0.1", port: int = 3240) -> None:
        self.bus = bus
        self._listener = socket.create_server((host, port))
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}  # busid -> the client that imported it
        self._cut_after: int | None = None
        self.submits = 0
        self.unlinks = 0
        self.cancelled = 0
        """URBs an unlink cancelled (RET_UNLINK -ECONNRESET)."""

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> UsbipServer:
        threading.Thread(target=self._accept, name="usbip-accept", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop listening and drop every client."""
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.drop()

    def __enter__(self) -> UsbipServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what is exported ---------------------------------------------------------------

    def exported(self) -> dict[str, VirtualUsbDevice]:
        """busid -> device, for every device plugged into the bus."""
        return {busid_of(d): d for d in self.bus.devices if d.connected}

    def busids(self) -> list[str]:
        return sorted(self.exported())

    # ---- faults -------------------------------------------------------------------------

    def cut_after_submits(self, count: int | None) -> None:
        """Drop the TCP connection when CMD_SUBMIT number ``count`` arrives (counted from
        now, across clients); None: never."""
        with self._lock:
            self._cut_after = None if count is None else self.submits + count

    def drop_clients(self) -> None:
        """Cut every client's connection now (a network failure)."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.drop()

    def _count_submit(self) -> bool:
        """Count one CMD_SUBMIT; True when the connection must be cut before serving it."""
        with self._lock:
            self.submits += 1
            if self._cut_after is not None and self.submits >= self._cut_after:
                self._cut_after = None
                return True
            return False

    # ---- connections --------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(
                target=self._serve, args=(conn,), name="usbip-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            _version, code, _status = wire.OP_HEADER.unpack(wire.recv_exact(conn, 8))
            if code == wire.OP_REQ_DEVLIST:
                devices = [describe(d) for _, d in sorted(self.exported().items())]
                reply = wire.op_header(wire.OP_REP_DEVLIST) + struct.pack(">I", len(devices))
                conn.sendall(reply + b"".join(d.pack_with_interfaces() for d in devices))
            elif code == wire.OP_REQ_IMPORT:
                busid = (
                    wire.recv_exact(conn, wire.BUSID_SIZE).split(b"\0")[0].decode(errors="replace")
                )
                session = self._import(conn, busid)
                if session is not None:
                    session.run()
                    return
            else:
                conn.sendall(wire.op_header(code & 0x00FF, wire.ST_ERROR))
        except (ConnectionError, OSError):
            pass
        with contextlib.suppress(OSError):
            conn.close()

    def _import(self, conn: socket.socket, busid: str) -> _Session | None:
        device = self.exported().get(busid)
        with self._lock:
            status = wire.ST_OK
            if device is None:
                status = wire.ST_NODEV
            elif busid in self._sessions:
                status = wire.ST_DEV_BUSY
            if status != wire.ST_OK or device is None:
                conn.sendall(wire.op_header(wire.OP_REP_IMPORT, status))
                return None
            session = _Session(self, conn, busid, device)
            self._sessions[busid] = session
        device.kernel_bound.clear()  # usbip-host took the device from its driver
        if device.configuration == 0:  # the kernel configured it when it enumerated
            configs = device.parsed_configurations()
            if configs:
                device.control(0x00, 0x09, configs[0].bConfigurationValue, 0, b"")
        conn.sendall(wire.op_header(wire.OP_REP_IMPORT) + describe(device).pack())
        return session

    def _release(self, session: _Session) -> None:
        with self._lock:
            if self._sessions.get(session.busid) is session:
                del self._sessions[session.busid]
        device = session.device
        if device.connected and device.generation == session.generation:
            device.attach(device.bus, device.address, device.port)  # the stub resets it


# Linux status codes a RET_SUBMIT carries (negative errno).
_STALL = -errno.EPIPE
_CANCELLED = -errno.ECONNRESET


class _Session:
    """The URB phase of one imported device: one TCP connection, one reader (this thread),
    one worker per IN endpoint that waits for the device's data."""

    def __init__(
        self, server: UsbipServer, conn: socket.socket, busid: str, device: VirtualUsbDevice
    ) -> None:
        self.server, self.conn, self.busid, self.device = server, conn, busid, device
        self.generation = device.generation
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._urbs: dict[int, _InUrb] = {}  # seqnum -> IN URB not yet answered
        self._endpoints: dict[int, _EndpointQueue] = {}
        self.alive = True

    def drop(self) -> None:
        """Cut the connection (the reader then ends the session)."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        self.device.wake()
        for queue in list(self._endpoints.values()):
            with queue.ready:
                queue.ready.notify_all()

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self.conn.sendall(data)

    def run(self) -> None:
        try:
            while self.alive:
                command = wire.parse_command(wire.recv_exact(self.conn, wire.URB_HEADER.size))
                if command.command == wire.CMD_UNLINK:
                    self._unlink(command)
                elif command.command == wire.CMD_SUBMIT:
                    out = b""
                    if command.direction == wire.DIR_OUT and command.length > wire.MAX_TRANSFER:
                        break  # a claimed length no device takes: the stream is out of step
                    if command.direction == wire.DIR_OUT and command.length > 0:
                        out = wire.recv_exact(self.conn, command.length)
                    if self.server._count_submit():
                        break
                    self._submit(command, out)
                else:
                    break  # not a USB/IP command: the stream is out of step
        except (ConnectionError, OSError, DeviceGone):
            pass
        finally:
            self.drop()
            with contextlib.suppress(OSError):
                self.conn.close()
            self.server._release(self)

    # ---- CMD_SUBMIT ---------------------------------------------------------------------

    def _submit(self, command: wire.UrbCommand, out: bytes) -> None:
        device, seqnum = self.device, command.seqnum
        if not device.connected or device.generation != self.generation:
            raise DeviceGone()  # the stub closes the connection once its device is gone
        try:
            if command.endpoint == 0:
                request_type, request, value, index, length = struct.unpack("<BBHHH", command.setup)
                if request_type & 0x80:
                    answer = device.control(request_type, request, value, index, length)
                    self._send(wire.ret_submit(seqnum, 0, bytes(answer or b"")[:length]))
                else:
                    device.control(request_type, request, value, index, out)
                    self._send(wire.ret_submit(seqnum, 0, actual=len(out)))
            elif command.direction == wire.DIR_OUT:
                sent = device.write_out(command.endpoint, out, self.generation)
                self._send(wire.ret_submit(seqnum, 0, actual=sent))
            else:
                self._queue_in(_InUrb(seqnum, 0x80 | command.endpoint, command.length))
        except EndpointStalled:
            self._send(wire.ret_submit(seqnum, _STALL))

    def _queue_in(self, urb: _InUrb) -> None:
        with self._lock:
            self._urbs[urb.seqnum] = urb
            queue = self._endpoints.get(urb.endpoint)
            if queue is None:
                queue = self._endpoints[urb.endpoint] = _EndpointQueue()
                threading.Thread(
                    target=self._serve_in, args=(queue,), name="usbip-in", daemon=True
                ).start()
        with queue.ready:
            queue.urbs.append(urb)
            queue.ready.notify()

    def _serve_in(self, queue: _EndpointQueue) -> None:
        """Answer the IN URBs of one endpoint in order, each when the device has data."""
        while True:
            with queue.ready:
                while self.alive and not queue.urbs:
                    queue.ready.wait()
                if not self.alive:
                    return
                urb = queue.urbs.popleft()
            if urb.unlinked:
                continue
            try:
                data = self.device.read_in(
                    urb.endpoint,
                    urb.length,
                    0,
                    self.generation,
                    cancelled=functools.partial(self._cancelled, urb),
                )
            except TransferCancelled:
                continue
            except EndpointStalled:
                data, status = b"", _STALL
            except (DeviceGone, TransferTimedOut):
                self.drop()
                return
            else:
                status = 0
            with self._lock:
                self._urbs.pop(urb.seqnum, None)
                urb.done = True
            try:
                self._send(wire.ret_submit(urb.seqnum, status, data))
            except OSError:
                self.drop()
                return

    def _cancelled(self, urb: _InUrb) -> bool:
        return urb.unlinked or not self.alive

    # ---- CMD_UNLINK ---------------------------------------------------------------------

    def _unlink(self, command: wire.UrbCommand) -> None:
        with self._lock:
            self.server.unlinks += 1
            urb = self._urbs.pop(command.unlink_seqnum, None)
            cancelled = urb is not None and not urb.done
            if urb is not None and cancelled:
                urb.unlinked = True
                self.server.cancelled += 1
        self.device.wake()
        self._send(wire.ret_unlink(command.seqnum, _CANCELLED if cancelled else 0))
