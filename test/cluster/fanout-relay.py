#!/usr/bin/python3
"""A DHCP relay for the failover test, run inside the client namespace:
`python3 fanout-relay.py LISTEN CLIENT SERVER...`. It takes what a relaying client (perfdhcp -l
CLIENT) sends to LISTEN:67, forwards it to every SERVER with giaddr = LISTEN (as dhcrelay does
with several servers), and brings each answer back to CLIENT:67. It prints one JSON line per
answer as it passes, read by test/dhcp/dhcpwire.py (not 3rc's codec): {at, from, type, xid, mac,
ip}, so the test sees every OFFER, ACK and NAK that any 3rc instance sent, whoever was leader.
`at` (this process's clock) is for printed figures only, never compared with another clock.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dhcp"))
import dhcpwire as w  # noqa: E402

listen, client, *servers = sys.argv[1:]
GIADDR = 24


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((listen, 67))
out({"listening": "%s:67" % listen})
while True:
    data, (addr, _port) = sock.recvfrom(65535)
    b = bytearray(data)
    # A marker from the test (`MARK <text>`), sent along a server's own path after that server
    # was killed: every answer the server sent before it died arrives before the marker.
    if b[:5] == b"MARK ":
        out({"mark": bytes(b[5:]).decode("latin-1"), "from": addr})
        continue
    if len(b) < 240:
        continue
    if b[0] == 1 and addr == client:
        b[GIADDR:GIADDR + 4] = w.ip_bytes(listen)
        for s in servers:
            sock.sendto(b, (s, 67))
        continue
    if b[0] != 2:
        continue
    p = w.decode(bytes(b))
    if p:
        out({"at": int(time.time() * 1000), "from": addr, "type": w.message_type(p), "xid": p["xid"], "mac": p["mac"], "ip": p["yiaddr"]})
    b[GIADDR:GIADDR + 4] = w.ip_bytes(client)
    sock.sendto(b, (client, 67))
