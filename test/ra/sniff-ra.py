"""Prints one JSON line per router advertisement heard on an interface, and exits after COUNT.

Usage: sniff-ra.py IFNAME COUNT. Its own raw ICMPv6 socket (not 3rc's codec): ICMP6_FILTER passes
type 134 only; each line gives the IPv6 source, destination and hop limit as received, and the
router lifetime field of the message.
"""
import json, socket, struct, sys

ifname, count = sys.argv[1], int(sys.argv[2])
ifindex = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 58)
blocked = [0xffffffff] * 8
blocked[134 >> 5] &= ~(1 << (134 & 31))
s.setsockopt(58, 1, struct.pack('=8I', *blocked))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
print(json.dumps({'listening': ifname}), flush=True)
seen = 0
while seen < count:
    data, anc, _, addr = s.recvmsg(2048, 256)
    dst, hop, idx = None, None, addr[3]
    for level, typ, value in anc:
        if typ == socket.IPV6_PKTINFO:
            dst = socket.inet_ntop(socket.AF_INET6, value[:16])
            idx = struct.unpack('=I', value[16:20])[0]
        elif typ == socket.IPV6_HOPLIMIT:
            hop = struct.unpack('=i', value[:4])[0]
    if idx != ifindex:
        continue
    seen += 1
    print(json.dumps({'src': addr[0].split('%')[0], 'dst': dst, 'hop': hop, 'lifetime': struct.unpack('>H', data[6:8])[0]}), flush=True)
