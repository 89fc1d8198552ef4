/**
 * The ICMPv6 helper: a small Python 3 program (standard library only) that holds the raw
 * ICMPv6 socket Node cannot open (dgram has no SOCK_RAW). 3rc runs it as `python3 -I -c
 * HELPER_PY` and speaks the framed protocol of ra/frames.ts over its stdin and stdout.
 *
 * Why a helper process and not a native npm module: python3 is already required (scripts/
 * install.sh) and its socket module has AF_INET6/SOCK_RAW/IPPROTO_ICMPV6, sendmsg/recvmsg with
 * ancillary data and the IPV6_* options; nothing is compiled, nothing new is downloaded, and
 * the code ships inside dist/ as a string (no file to find at run time). A crash of the helper
 * (or of Python) is an exit code that 3rc logs before starting it again; it cannot take the
 * DHCP, TFTP, HTTP and DNS servers down with it as a fault in a native module would.
 *
 * What the socket does (RFC 4861, RFC 3542):
 * - ICMP6_FILTER passes router solicitations only: the kernel drops every other ICMPv6 type;
 * - hop limit 255 on every packet sent (IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS): receivers
 *   drop router advertisements with any other hop limit (section 6.1.2);
 * - IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO: 3rc sees each solicitation's hop limit and interface
 *   and drops those not sent with 255 (section 6.1.1: they crossed a router);
 * - multicast loop off: 3rc's own advertisements do not come back to it;
 * - the kernel computes and checks the ICMPv6 checksum (RFC 3542 section 3.1).
 *
 * It exits when stdin closes (3rc is gone) and on any frame that breaks the protocol.
 */
export const HELPER_PY = String.raw`
import os, select, socket, struct, sys

IPPROTO_ICMPV6 = 58
ICMP6_FILTER = 1
RS = 133
MAX_FRAME = 70000

def out(kind, body=b''):
    data = struct.pack('>IB', len(body) + 1, kind) + body
    while data:
        n = os.write(1, data)
        data = data[n:]

def error(text):
    out(3, text.encode('utf-8', 'replace')[:400])

def open_socket():
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_ICMPV6)
    blocked = [0xffffffff] * 8
    blocked[RS >> 5] &= ~(1 << (RS & 31))
    s.setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack('=8I', *blocked))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    s.setblocking(False)
    return s

ALL_ROUTERS = socket.inet_pton(socket.AF_INET6, 'ff02::2')

def command(s, kind, body):
    if kind in (16, 17):
        if len(body) != 4:
            raise ValueError('JOIN/LEAVE body of %d bytes' % len(body))
        ifindex = struct.unpack('>I', body)[0]
        opt = socket.IPV6_JOIN_GROUP if kind == 16 else socket.IPV6_LEAVE_GROUP
        try:
            s.setsockopt(socket.IPPROTO_IPV6, opt, ALL_ROUTERS + struct.pack('=I', ifindex))
        except OSError as e:
            if not (kind == 16 and e.errno == 98):  # EADDRINUSE: joined already
                error('%s ifindex %d: %s' % ('join' if kind == 16 else 'leave', ifindex, e))
    elif kind == 18:
        if len(body) < 20:
            raise ValueError('SEND body of %d bytes' % len(body))
        ifindex = struct.unpack('>I', body[:4])[0]
        dst = socket.inet_ntop(socket.AF_INET6, body[4:20])
        try:
            s.sendto(body[20:], (dst, 0, 0, ifindex))
        except OSError as e:
            error('send to %s ifindex %d: %s' % (dst, ifindex, e))
    else:
        raise ValueError('unknown frame kind %d' % kind)

def receive(s):
    try:
        data, anc, _flags, addr = s.recvmsg(65535, 512)
    except BlockingIOError:
        return
    ifindex = addr[3]
    hop = 0
    for level, typ, value in anc:
        if level != socket.IPPROTO_IPV6:
            continue
        if typ == socket.IPV6_PKTINFO and len(value) >= 20:
            ifindex = struct.unpack('=I', value[16:20])[0]
        elif typ == socket.IPV6_HOPLIMIT and len(value) >= 4:
            hop = struct.unpack('=i', value[:4])[0]
    src = socket.inet_pton(socket.AF_INET6, addr[0].split('%')[0])
    out(2, struct.pack('>IB', ifindex, hop & 255) + src + data[:MAX_FRAME - 32])

def main():
    try:
        s = open_socket()
    except OSError as e:
        error('cannot open the raw ICMPv6 socket: %s' % e)
        return 2
    out(1)
    buf = b''
    while True:
        r, _, _ = select.select([0, s], [], [])
        if s in r:
            receive(s)
        if 0 in r:
            chunk = os.read(0, 65536)
            if not chunk:
                return 0
            buf += chunk
            while len(buf) >= 4:
                n = struct.unpack('>I', buf[:4])[0]
                if n == 0 or n > MAX_FRAME:
                    error('frame length %d' % n)
                    return 3
                if len(buf) < 4 + n:
                    break
                kind, body, buf = buf[4], buf[5:4 + n], buf[4 + n:]
                command(s, kind, body)

try:
    sys.exit(main())
except ValueError as e:
    error(str(e))
    sys.exit(3)
`;
