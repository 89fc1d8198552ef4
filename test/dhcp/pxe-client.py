#!/usr/bin/python3
"""A scripted PXE client for the ProxyDHCP test, run inside the client namespace (whose interface
already has an address from the site's DHCP server):
`python3 pxe-client.py MAC BROADCAST CIADDR [OFFERS]`. Its packets are built and its answers read
by dhcpwire.py (not 3rc's codec).

It broadcasts a PXEClient DISCOVER (broadcast flag set) to BROADCAST:67 and prints every OFFER it
gets, until OFFERS offers came (or 2 s passed: a bound, the test asserts on what came), then
sends the PXE boot-server REQUEST to each proxy (an offer with yiaddr 0.0.0.0 and option 60
PXEClient) on port 4011 and prints the ACK. One JSON line per answer. It stands in for a PXE ROM;
booting a real ROM through a ProxyDHCP is the lab issue's.
"""
import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhcpwire as w  # noqa: E402

mac, broadcast, ciaddr = sys.argv[1:4]
want = int(sys.argv[4]) if len(sys.argv) > 4 else None


def pxe_request(kind, xid, ci="0.0.0.0"):
    return w.encode(op=1, xid=xid, chaddr=w.mac_bytes(mac), ciaddr=ci, flags=w.FLAG_BROADCAST, options=[
        (53, bytes([kind])),
        (60, b"PXEClient:Arch:00000:UNDI:002001"),
        (93, b"\x00\x00"),                       # client system architecture: x86 BIOS (RFC 4578)
        (97, b"\x00" + bytes(range(16))),        # client machine identifier: type 0, a UUID
        (55, bytes([1, 3, 6, 43, 60, 66, 67])),
    ])


def show(p, kind):
    o = p["options"]
    return json.dumps({kind: {
        "type": w.message_type(p), "serverId": w.option_ip(p, 54), "yiaddr": p["yiaddr"], "siaddr": p["siaddr"], "file": p["file"],
        "vendorClass": o[60].decode("latin-1") if 60 in o else None, "opt43": o[43].hex() if 43 in o else None,
    }})


def receive(sock, until, match):
    """Datagrams that decode and satisfy match(p), until the monotonic time `until` or match says stop."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return
        p = w.decode(sock.recv(4096))
        if p and p["op"] == 2 and match(p):
            yield p


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.bind(("0.0.0.0", 68))
xid = 0x3CC00000 + (os.getpid() & 0xFFFF)
offers = []
sock.sendto(pxe_request(w.DISCOVER, xid), (broadcast, 67))
for p in receive(sock, time.monotonic() + 2, lambda p: p["xid"] == xid and w.message_type(p) == w.OFFER):
    offers.append(p)
    if want is not None and len(offers) >= want:
        break
for o in offers:
    print(show(o, "offer"), flush=True)

# PXE boot-server request to each proxy, on port 4011, from port 68.
for o in offers:
    if o["yiaddr"] != "0.0.0.0" or o["options"].get(60) != b"PXEClient":
        continue
    server = w.option_ip(o, 54)
    sock.sendto(pxe_request(w.REQUEST, xid + 1, ciaddr), (server, 4011))
    ack = next(receive(sock, time.monotonic() + 2, lambda p: p["xid"] == xid + 1), None)
    print(show(ack, "ack") if ack else json.dumps({"ack": None, "server": server}), flush=True)
sock.close()
