"""Replay of recorded sessions: an emulated device that answers as the recorded one did.

``usb_capture`` reads USB capture files (Linux usbmon pcap/pcapng, Windows USBPcap) into one
sequence of transfers; ``usb_device`` is a virtual USB device that replays such a sequence
and reports the first request that differs from the recording. ``hci_capture`` reads
Bluetooth HCI captures (btsnoop, pcap/pcapng of link type 201), ``att_recording`` turns them
into the recorded device's GATT database and ATT exchanges, ``ble_replay`` is a Bumble
peripheral that answers as recorded and ``ble_serve`` serves it on an HCI transport.
``truncation`` tells a capture file that was cut short from a whole one.
"""
