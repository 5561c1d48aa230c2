#!/usr/bin/env python3
"""A tiny TLS terminator for tests: accepts TLS on 127.0.0.1:PORT with CERT/KEY
and forwards the plain bytes to UPSTREAM_PORT. Prints the port, then serves.
Usage: tls_proxy.py CERT KEY UPSTREAM_PORT [PORT]   (PORT 0 = any free port)"""
import socket, ssl, sys, threading

cert, key, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3])
port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.create_server(("127.0.0.1", port))
print(srv.getsockname()[1], flush=True)


def pump(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(raw):
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # the client refused our certificate
        return
    up = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pump, args=(up, conn), daemon=True).start()
    pump(conn, up)


while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
