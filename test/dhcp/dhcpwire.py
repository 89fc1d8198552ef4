"""An independent DHCP wire codec for the scripted test clients (relay-client.py, pxe-client.py,
test/cluster/fanout-relay.py): the BOOTP header and options laid out by hand with `struct`
from RFC 2131/2132, sharing no code with 3rc's own codec (src/dhcp), so that a bug both 3rc's
encoder and decoder share cannot hide behind a test client that uses them too. Standard
library only.
"""
import socket
import struct

# RFC 2131 section 2: op htype hlen hops xid secs flags ciaddr yiaddr siaddr giaddr chaddr sname file
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
COOKIE = b"\x63\x82\x53\x63"
assert HEADER.size == 236

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
FLAG_BROADCAST = 0x8000


def ip_bytes(s):
    return socket.inet_aton(s)


def ip_str(b):
    return socket.inet_ntoa(b)


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def encode(op=1, xid=0, chaddr=b"", ciaddr="0.0.0.0", yiaddr="0.0.0.0", siaddr="0.0.0.0",
           giaddr="0.0.0.0", flags=0, hops=0, options=()):
    """A BOOTP/DHCP message; `options` is a list of (code, bytes), written in that order."""
    head = HEADER.pack(op, 1, 6, hops, xid, 0, flags, ip_bytes(ciaddr), ip_bytes(yiaddr),
                       ip_bytes(siaddr), ip_bytes(giaddr), chaddr.ljust(16, b"\0"), b"", b"")
    body = b"".join(struct.pack("!BB", code, len(value)) + value for code, value in options)
    return head + COOKIE + body + b"\xff"


def decode(b):
    """The header fields and the options (code -> bytes; repeated codes concatenated, RFC 3396),
    or None for anything that is not a whole BOOTP message with the DHCP cookie."""
    if len(b) < HEADER.size + 4 or b[HEADER.size:HEADER.size + 4] != COOKIE:
        return None
    (op, _htype, hlen, hops, xid, _secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     file) = HEADER.unpack_from(b)
    options = {}
    i = HEADER.size + 4
    while i < len(b):
        code = b[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(b):
            break
        n = b[i + 1]
        if i + 2 + n > len(b):
            return None
        options[code] = options.get(code, b"") + b[i + 2:i + 2 + n]
        i += 2 + n
    return {
        "op": op, "hops": hops, "xid": xid, "flags": flags,
        "ciaddr": ip_str(ciaddr), "yiaddr": ip_str(yiaddr), "siaddr": ip_str(siaddr), "giaddr": ip_str(giaddr),
        "mac": mac_str(chaddr[:min(hlen, 16)]),
        "sname": sname.split(b"\0", 1)[0].decode("latin-1"),
        "file": file.split(b"\0", 1)[0].decode("latin-1"),
        "options": options,
    }


def message_type(p):
    t = p["options"].get(53)
    return t[0] if t and len(t) == 1 else None


def option_ip(p, code):
    v = p["options"].get(code)
    return ip_str(v) if v and len(v) == 4 else None
