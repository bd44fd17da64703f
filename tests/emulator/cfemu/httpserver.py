"""The threaded loopback HTTP server behind both the API and the S3 gateways."""

import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # Skip HTTPServer's getfqdn() reverse lookup: it can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive handler: every method goes to ``respond()``; a client hanging up is not an error."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real endpoints

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def respond(self):
        raise NotImplementedError

    def verbose(self):
        return False

    def read_body(self, strict_length=False):
        """The request body, chunked or by Content-Length. A malformed Content-Length counts as 0, or raises
        ValueError with ``strict_length`` (the S3 gateway answers IncompleteBody; the API tolerates it)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # HTTP trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            if strict_length:
                raise
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):  # pylint: disable=invalid-name
        try:
            self.respond()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.verbose():
            super().log_message(format, *args)


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
