#!/usr/bin/python3
"""Packet executor for the fuzz campaign (test/fuzz/): runs inside a network namespace the
campaign created and does what the harness (Node, which has no raw sockets) asks on stdin.

Frames on stdin: u32 length (big endian, of what follows), u8 op, then the op's body.
  1 RAW   src(4) sport(2) dst(4) dport(2) payload: an IPv4+UDP datagram built by hand and sent
          through an IPPROTO_RAW socket, so any source address and port (0 included) can be set.
          UDP checksum 0 ("none", RFC 768).
  2 TCP   id(4) bind(4) dst(4) dport(2) flags(2) wait_ms(4) payload: connect from `bind`, send
          the payload (flags bit 0: then half-close; bit 1: in small pieces), read for at most
          wait_ms, close. Runs on a thread pool; reports {"tcp": id, "recv": n, "head": first
          answer line, "ms": time to the first answer byte, "sent": first line sent}.
  3 UDP   id(4) bind(4) bport(2) dst(4) dport(2) wait_ms(4) keep(1) payload: a real UDP socket
          sends the payload and waits for the first reply; reports {"udp": id, "from_port",
          "local_port", "recv", "head_hex"}. keep=1 keeps the socket open until a CLOSE.
  4 CLOSE id(4): closes a kept UDP socket.
  5 SYNC  id(4): waits for every TCP job queued before it, then reports {"sync": id}.
  6 POOL  n(4): waits for every TCP job queued before it, then runs TCP jobs n at a time.
Reports are JSON lines on stdout. Only addresses the caller passes are used: the harness passes
10.77.0.0/16 destinations inside its own namespaces.
"""
import json
import os
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

out_lock = threading.Lock()


def report(obj):
    line = json.dumps(obj) + "\n"
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def ip(b):
    return socket.inet_ntoa(b)


raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
raw_errors = {}
ident = [0]


def send_raw(body):
    src, sport, dst, dport = body[0:4], struct.unpack(">H", body[4:6])[0], body[6:10], struct.unpack(">H", body[10:12])[0]
    payload = body[12:]
    ulen = 8 + len(payload)
    ident[0] = (ident[0] + 1) & 0xFFFF
    # Total length and checksum are filled in by the kernel for IPPROTO_RAW (IP_HDRINCL).
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident[0], 0, 64, socket.IPPROTO_UDP, 0, src, dst)
    udp = struct.pack(">HHHH", sport, dport, ulen & 0xFFFF, 0)
    try:
        raw.sendto(hdr + udp + payload, (ip(dst), 0))
    except OSError as e:
        key = e.strerror or str(e)
        raw_errors[key] = raw_errors.get(key, 0) + 1


def tcp_job(jid, bind, dst, dport, flags, wait_ms, payload):
    got = b""
    err = None
    first_ms = None
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(max(wait_ms, 1) / 1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip(bind), 0))
        s.connect((ip(dst), dport))
        if flags & 2:
            step = max(1, len(payload) // 7)
            for i in range(0, len(payload), step):
                s.sendall(payload[i:i + step])
                time.sleep(0.001)
        else:
            s.sendall(payload)
        if flags & 1:
            s.shutdown(socket.SHUT_WR)
        sent_at = time.monotonic()
        deadline = sent_at + wait_ms / 1000
        while len(got) < 65536:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            if not got:
                first_ms = (time.monotonic() - sent_at) * 1000
            got += chunk
    except socket.timeout:
        pass
    except OSError as e:
        err = e.strerror or str(e)
    finally:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()
    head = got[:200].split(b"\r\n", 1)[0].decode("latin1")
    sent_head = payload[:120].split(b"\r\n", 1)[0].decode("latin1")
    report({"tcp": jid, "recv": len(got), "head": head, "err": err, "ms": first_ms, "sent": sent_head})


kept = {}


def udp_job(body):
    jid, bind, bport, dst, dport, wait_ms, keep = struct.unpack(">I4sH4sHIB", body[:21])
    payload = body[21:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    res = {"udp": jid, "from_port": None, "local_port": None, "recv": 0, "head_hex": ""}
    try:
        # Only for a given port: with SO_REUSEADDR an ephemeral port may be one that 3rc's TFTP
        # transfer sockets (SO_REUSEADDR too) hold on the same address, and the answer then goes
        # to 3rc's socket instead of this one (the server namespace's DNS ping got lost so).
        if bport != 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip(bind), bport))
        res["local_port"] = s.getsockname()[1]
        s.sendto(payload, (ip(dst), dport))
        s.settimeout(max(wait_ms, 1) / 1000)
        data, addr = s.recvfrom(65536)
        res.update(from_port=addr[1], recv=len(data), head_hex=data[:64].hex())
    except socket.timeout:
        pass
    except OSError as e:
        res["err"] = e.strerror or str(e)
    if keep:
        kept[jid] = s
    else:
        s.close()
    report(res)


def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sys.stdin.buffer.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main():
    pool = ThreadPoolExecutor(max_workers=int(os.environ.get("FUZZ_TCP_WORKERS", "32")))
    pending = []
    sent = 0
    while True:
        head = read_exact(4)
        if head is None:
            break
        (n,) = struct.unpack(">I", head)
        frame = read_exact(n)
        if frame is None:
            break
        op, body = frame[0], frame[1:]
        if op == 1:
            send_raw(body)
            sent += 1
        elif op == 2:
            jid, bind, dst, dport, flags, wait_ms = struct.unpack(">I4s4sHHI", body[:20])
            pending.append(pool.submit(tcp_job, jid, bind, dst, dport, flags, wait_ms, body[20:]))
            if len(pending) > 4096:
                pending = [f for f in pending if not f.done()]
        elif op == 3:
            udp_job(body)
        elif op == 4:
            (jid,) = struct.unpack(">I", body[:4])
            s = kept.pop(jid, None)
            if s:
                s.close()
        elif op == 5:
            (jid,) = struct.unpack(">I", body[:4])
            for f in pending:
                f.result()
            pending = []
            report({"sync": jid, "raw_sent": sent, "raw_errors": raw_errors})
        elif op == 6:
            (workers,) = struct.unpack(">I", body[:4])
            for f in pending:
                f.result()
            pending = []
            pool.shutdown()
            pool = ThreadPoolExecutor(max_workers=max(1, workers))
    for f in pending:
        f.result()
    pool.shutdown()


if __name__ == "__main__":
    main()
