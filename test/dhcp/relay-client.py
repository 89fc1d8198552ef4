#!/usr/bin/python3
"""A DHCP load client that speaks as a relay agent (giaddr set, from port 67), run inside a test
namespace: `python3 relay-client.py bind|verify SERVER GIADDR COUNT|FILE`. Its packets are built
and its answers read by dhcpwire.py (not 3rc's codec). It prints one JSON line per answer, as it
arrives, so a test can kill the server mid-run and know exactly which leases were acknowledged
before that.

bind:   COUNT clients (MACs 02:77:xx:xx:xx:xx) each DISCOVER, then REQUEST what was offered;
        prints {"ack":{mac,ip}} per ACK, then {"done":n}. 16 clients in flight at a time; a
        packet is sent again after 1.5 s, 3 times in all.
verify: for each {mac, ip} line of FILE, an INIT-REBOOT REQUEST (option 50, no server id);
        prints {"verify":{mac,ip,result:"ack"|"nak"|"timeout",got}} per client (1 s, twice).
"""
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dhcpwire as w  # noqa: E402

mode, server, giaddr, arg = sys.argv[1:5]


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def packet(kind, chaddr, xid, requested=None, server_id=None):
    options = [(53, bytes([kind]))]
    if requested:
        options.append((50, w.ip_bytes(requested)))
    if server_id:
        options.append((54, w.ip_bytes(server_id)))
    return w.encode(op=1, xid=xid, chaddr=chaddr, giaddr=giaddr, hops=1, options=options)


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((giaddr, 67))
next_xid = (os.getpid() << 12) & 0xFFFFFFFF


class Ask:
    """One question in flight: sent again after `timeout` s, `tries` times, then None."""

    def __init__(self, build, timeout, tries, done):
        global next_xid
        next_xid = (next_xid + 1) & 0xFFFFFFFF
        self.xid, self.build, self.timeout, self.tries, self.done = next_xid, build, timeout, tries, done
        self.sent = 0
        self.send()

    def send(self):
        self.sent += 1
        self.deadline = time.monotonic() + self.timeout
        sock.sendto(self.build(self.xid), (server, 67))


def run(asks, start_more):
    """Serves the questions in `asks` (xid -> Ask) until none is left; start_more() may add some."""
    start_more()
    while asks:
        now = time.monotonic()
        wait = max(0.0, min(a.deadline for a in asks.values()) - now)
        ready, _, _ = select.select([sock], [], [], wait)
        if ready:
            data = sock.recv(4096)
            p = w.decode(data)
            a = asks.pop(p["xid"], None) if p and p["op"] == 2 else None
            if a:
                a.done(p)
        now = time.monotonic()
        for a in [a for a in asks.values() if a.deadline <= now]:
            if a.sent >= a.tries:
                del asks[a.xid]
                a.done(None)
            else:
                a.send()
        start_more()


def mac_of(i):
    return bytes([0x02, 0x77]) + struct.pack("!I", i)


if mode == "bind":
    count = int(arg)
    asks = {}
    state = {"next": 0, "busy": 0, "acks": 0}

    def client(i):
        chaddr = mac_of(i)

        def on_offer(offer):
            if not offer or w.message_type(offer) != w.OFFER:
                state["busy"] -= 1
                return
            a = Ask(lambda x: packet(w.REQUEST, chaddr, x, offer["yiaddr"], w.option_ip(offer, 54)), 1.5, 3, on_ack)
            asks[a.xid] = a

        def on_ack(ack):
            state["busy"] -= 1
            if ack and w.message_type(ack) == w.ACK:
                state["acks"] += 1
                out({"ack": {"mac": ack["mac"], "ip": ack["yiaddr"]}})

        a = Ask(lambda x: packet(w.DISCOVER, chaddr, x), 1.5, 3, on_offer)
        asks[a.xid] = a

    def start_more():
        while state["busy"] < 16 and state["next"] < count:
            state["busy"] += 1
            state["next"] += 1
            client(state["next"] - 1)

    run(asks, start_more)
    out({"done": state["acks"]})
else:
    with open(arg) as f:
        todo = [json.loads(line) for line in f if line.strip()]
    for item in todo:
        asks = {}
        got = []
        chaddr = w.mac_bytes(item["mac"])
        a = Ask(lambda x: packet(w.REQUEST, chaddr, x, item["ip"]), 1.0, 2, got.append)
        asks[a.xid] = a
        run(asks, lambda: None)
        r = got[0]
        t = w.message_type(r) if r else None
        result = "ack" if t == w.ACK else "nak" if t == w.NAK else "timeout"
        out({"verify": {"mac": item["mac"], "ip": item["ip"], "result": result, "got": r["yiaddr"] if r else None}})
sock.close()
