#!/usr/bin/python3
"""A receiver that accepts connections and then goes silent: it never
answers (a TLS handshake hangs, a RELP open is never answered) and reads
only the first READ_BYTES of each connection, then stops reading (TCP
writes block once the socket buffers are full).

usage: silent_receiver.py PORT_FILE [READ_BYTES]
"""
import socket
import sys
import threading

port_file = sys.argv[1]
read_bytes = int(sys.argv[2]) if len(sys.argv) > 2 else 0
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
held = []


def swallow(conn):
    got = 0
    while got < read_bytes:
        data = conn.recv(min(65536, read_bytes - got))
        if not data:
            return
        got += len(data)
    # then silence, with the connection held open


while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    held.append(conn)
    threading.Thread(target=swallow, args=(conn,), daemon=True).start()
