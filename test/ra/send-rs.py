"""Sends one router solicitation, as given, on an interface: sendrs.py IFNAME HOPLIMIT HEX.

For the hostile-input test: any hop limit and any bytes (the kernel fills the checksum in).
"""
import socket, sys

ifname, hop, msg = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 58)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hop)
s.sendto(msg, ('ff02::2', 0, 0, socket.if_nametoindex(ifname)))
