#!/usr/bin/python3
"""A RELP test receiver that refuses messages (rsyslog's imrelp cannot).

Speaks the server side of RELP (https://www.rsyslog.com/doc/relp.html):
answers "open" and "close", and every "syslog" frame with "200 OK" after
appending the message to OUT (one line each, flushed), or with "500 ..."
without keeping it when it refuses. It refuses a message at random with
probability REFUSE_RATE, and always when it contains id="<POISON>".
Refusals are appended to OUT.refused (the refused message's id, one a line).

usage: relp_receiver.py PORT_FILE OUT [--refuse-rate R] [--poison ID] [--seed N]
"""
import argparse
import os
import random
import re
import socket
import threading

ap = argparse.ArgumentParser()
ap.add_argument("port_file")
ap.add_argument("out")
ap.add_argument("--refuse-rate", type=float, default=0.0)
ap.add_argument("--poison", default="")
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()

rng = random.Random(args.seed)
lock = threading.Lock()
out = open(args.out, "a", encoding="utf-8")
refused_log = open(args.out + ".refused", "a", encoding="utf-8")
poison = f'id="{args.poison}"'.encode() if args.poison else None
id_re = re.compile(rb'\[zendesk@32473 id="([^"]+)"')


def parse(buf):
    """The first frame of buf as (txnr, command, data, rest), or None when
    it is not complete yet. TXNR SP COMMAND SP DATALEN [SP DATA] LF."""
    sp1 = buf.find(b" ")
    sp2 = buf.find(b" ", sp1 + 1) if sp1 >= 0 else -1
    if sp2 < 0:
        return None
    end = sp2 + 1
    while end < len(buf) and buf[end:end + 1].isdigit():
        end += 1
    if end == len(buf):
        return None
    length = int(buf[sp2 + 1:end])
    start = end + 1 if buf[end:end + 1] == b" " else end
    if len(buf) < start + length + 1:
        return None
    assert buf[start + length:start + length + 1] == b"\n", "a frame ends with LF"
    return int(buf[:sp1]), buf[sp1 + 1:sp2].decode(), buf[start:start + length], buf[start + length + 1:]


def frames(conn):
    """Yields (txnr, command, data) until the peer closes."""
    buf = b""
    while True:
        frame = parse(buf)
        if frame:
            txnr, command, data, buf = frame
            yield txnr, command, data
            continue
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk


def rsp(txnr, text):
    body = text.encode()
    return f"{txnr} rsp {len(body)} ".encode() + body + b"\n"


def serve(conn):
    with conn:
        for txnr, command, data in frames(conn):
            if command == "open":
                conn.sendall(rsp(txnr, "200 OK\nrelp_version=0\nrelp_software=zf-test\ncommands=syslog"))
            elif command == "close":
                conn.sendall(rsp(txnr, "200 OK"))
                return
            elif command == "syslog":
                m = id_re.search(data)
                event_id = m.group(1).decode() if m else "-"
                with lock:
                    refuse = (poison is not None and poison in data) or rng.random() < args.refuse_rate
                    if refuse:
                        refused_log.write(event_id + "\n")
                        refused_log.flush()
                    else:
                        out.write(data.decode("utf-8", "replace").replace("\n", " ") + "\n")
                        out.flush()
                conn.sendall(rsp(txnr, "500 refused by the test receiver" if refuse else "200 OK"))
            else:
                conn.sendall(rsp(txnr, "500 unknown command"))


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(args.port_file + ".tmp", args.port_file)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
