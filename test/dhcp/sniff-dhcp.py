#!/usr/bin/python3
"""Watches one interface (an AF_PACKET socket: tcpdump is not needed) and prints one JSON line per
DHCP message that crosses it, either way, decoded by dhcpwire.py (not 3rc's codec):
{"src", "dst", "sport", "dport", "op", "type", "xid", "giaddr", "yiaddr", "opt82"}, opt82 being
the relay agent information's bytes in hex, or null. First line: {"listening": IFNAME} once the
socket is bound. Runs until killed. `python3 sniff-dhcp.py IFNAME` (root, inside the namespace).
"""
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhcpwire as w  # noqa: E402

# ETH_P_ALL: a socket bound to one protocol sees only what comes in; all of them also see what
# goes out.
ETH_P_ALL = 0x0003
ifname = sys.argv[1]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((ifname, ETH_P_ALL))
print(json.dumps({"listening": ifname}), flush=True)
while True:
    frame = sock.recv(65535)
    if frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack_from("!HH", ip, ihl)
    if not {sport, dport} & {67, 68}:
        continue
    p = w.decode(bytes(ip[ihl + 8:]))
    if not p:
        continue
    opt82 = p["options"].get(82)
    print(json.dumps({
        "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]), "sport": sport, "dport": dport,
        "op": p["op"], "type": w.message_type(p), "xid": p["xid"], "giaddr": p["giaddr"], "yiaddr": p["yiaddr"],
        "opt82": opt82.hex() if opt82 is not None else None,
    }), flush=True)
