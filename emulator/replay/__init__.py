"""Replay of recorded sessions: an emulated device that answers as the recorded one did.

``usb_capture`` reads USB capture files (Linux usbmon pcap/pcapng, Windows USBPcap) into one
sequence of transfers; ``usb_device`` is a virtual USB device that replays such a sequence
and reports the first request that differs from the recording.
"""
