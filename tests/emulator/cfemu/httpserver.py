"""The threaded loopback HTTP server behind both the API and the S3 gateways."""

import socket
import socketserver
import threading
from http.server import ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # Skip HTTPServer's getfqdn() reverse lookup: it can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def serve(host, port, handler, thread_name, **attributes):
    """Start serving in a daemon thread; ``attributes`` are set on the server for the handler."""
    cls = LoopbackServer
    if ":" in host:
        cls = type("LoopbackServer6", (LoopbackServer,), {"address_family": socket.AF_INET6})
    server = cls((host, port), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=thread_name,
                              daemon=True)
    thread.start()
    return server, thread
