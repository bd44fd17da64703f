"""A small recording reverse proxy that sits in front of Prism.

The Ansible modules talk to this proxy (their ``api_url`` is
``http://127.0.0.1:PORT/client/v4``, shaped like the real
``https://api.cloudflare.com/client/v4``).  The proxy forwards every request
unchanged (method, query, headers, body) to Prism, except that the API base
path ``/client/v4`` is mapped to Prism's root: Prism matches request paths
against the spec's ``paths`` without the server's base path, and appends them
to its upstream (the emulator's ``.../client/v4``).  A request outside the
base path is answered 404 here and recorded as a contract failure, because the
real API would not serve it either.

Each exchange is recorded as method, path, query, status, the ``sl-violations``
response header (Prism's verdict on the emulator's response) and, when the
response is Prism's own problem document (``application/problem+json``: 422
for an invalid request, 401 for a missing bearer token, 404 for a route that
is not in the spec), its type, title and validation messages.  Neither
``Authorization`` (or any other header value) nor request or response bodies
are ever recorded.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BASE_PATH = '/client/v4'

# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded.
HOP_BY_HOP = {
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
    'transfer-encoding', 'upgrade', 'proxy-connection',
}


class Exchange(dict):
    """One recorded request/response (a dict, JSON-serialisable)."""

    @property
    def violation(self) -> bool:
        return bool(self.get('violations'))


class RecordingProxy:
    """Threaded reverse proxy recording contract verdicts of every exchange."""

    def __init__(self, upstream: str, host: str = '127.0.0.1', port: int = 0, timeout: float = 120.0):
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_prefix = parts.path.rstrip('/')
        self.timeout = timeout
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._seq = 0
        self.acknowledged = 0   # violations cleared on purpose (clear_violations)
        self.total_requests = 0
        self.total_violations = 0
        self.total_prism_rejections = 0   # Prism's own problem+json answers
        self.total_sl_entries = 0         # entries in sl-violations headers
        proxy = self

        class Handler(_Handler):
            recorder = proxy

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, name='r2-recorder', daemon=True)

    # --- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL of the proxy (without the API base path)."""
        return 'http://%s:%d' % (self.host, self.port)

    @property
    def api_url(self) -> str:
        """What modules use as ``api_url``."""
        return self.url + BASE_PATH

    def start(self) -> 'RecordingProxy':
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- records -------------------------------------------------------------
    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._seq += 1
            exchange['seq'] = self._seq
            self._exchanges.append(exchange)
            self.total_requests += 1
            if exchange.violation:
                self.total_violations += 1
            if exchange.get('prism_error'):
                self.total_prism_rejections += 1
            sl = exchange.get('sl_violations')
            if sl:
                self.total_sl_entries += len(sl) if isinstance(sl, list) else 1

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def violations(self) -> list[Exchange]:
        """Exchanges with a contract violation that were not cleared yet."""
        return [e for e in self.exchanges() if e.violation]

    def clear_violations(self) -> list[Exchange]:
        """Acknowledge (and forget) the current violations; returns them.

        For tests that provoke a violation on purpose.
        """
        with self._lock:
            gone = [e for e in self._exchanges if e.violation]
            self._exchanges = [e for e in self._exchanges if not e.violation]
            self.acknowledged += len(gone)
            return gone

    def reset(self) -> None:
        """Forget recorded exchanges (totals are kept for the session summary)."""
        with self._lock:
            self._exchanges = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    recorder: RecordingProxy = None  # set by subclass
    server_version = 'r2-recorder'

    def log_message(self, format, *args):  # noqa: A002  pylint: disable=redefined-builtin
        pass  # no access log: it would show query strings only, and pytest captures stderr anyway

    def _read_body(self) -> bytes:
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _proxy(self) -> None:
        rec = self.recorder
        started = time.monotonic()
        body = self._read_body()
        path, dummy, query = self.path.partition('?')
        exchange = Exchange(method=self.command, path=path, query=query, status=None,
                            sl_violations=None, prism_error=None, violations=[])
        if not (path == BASE_PATH or path.startswith(BASE_PATH + '/')):
            exchange['status'] = 404
            exchange['violations'].append(
                'request outside the API base path %s: %s %s' % (BASE_PATH, self.command, path))
            rec._record(exchange)  # pylint: disable=protected-access
            payload = json.dumps({'success': False, 'messages': [], 'result': None, 'errors': [
                {'code': 7000, 'message': 'No route for that URI (test recorder: outside %s)' % BASE_PATH}]}).encode()
            self._reply(404, [('Content-Type', 'application/json')], payload)
            return
        target = rec.upstream_prefix + path[len(BASE_PATH):] + ('?' + query if query else '')
        if not target.startswith('/'):
            target = '/' + target
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != 'host']
        conn = http.client.HTTPConnection(rec.upstream_host, rec.upstream_port, timeout=rec.timeout)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader('Host', '%s:%d' % (rec.upstream_host, rec.upstream_port))
            for name, value in headers:
                if name.lower() == 'content-length':
                    continue
                conn.putheader(name, value)
            if body or self.command in ('POST', 'PUT', 'PATCH'):
                conn.putheader('Content-Length', str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            resp_body = resp.read()
            resp_headers = [(k, v) for k, v in resp.getheaders()
                            if k.lower() not in HOP_BY_HOP and k.lower() != 'content-length']
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            exchange['status'] = 502
            exchange['violations'].append('recorder could not reach Prism: %s' % exc)
            rec._record(exchange)  # pylint: disable=protected-access
            self._reply(502, [('Content-Type', 'text/plain')], b'recorder: upstream error\n')
            return
        finally:
            conn.close()

        exchange['status'] = status
        exchange['elapsed'] = round(time.monotonic() - started, 3)
        sl = resp.getheader('sl-violations')
        if sl:
            try:
                exchange['sl_violations'] = json.loads(sl)
            except ValueError:
                exchange['sl_violations'] = sl
            exchange['violations'].append('Prism response validation (sl-violations): %s' % sl)
        ctype = (resp.getheader('Content-Type') or '').split(';')[0].strip().lower()
        if ctype == 'application/problem+json':
            # Prism's own answer: the request was not forwarded.  Keep only Prism's
            # verdict (type/title/validation), never the client's data.
            try:
                problem = json.loads(resp_body.decode('utf-8'))
            except ValueError:
                problem = {}
            verdict = {
                'type': problem.get('type'),
                'title': problem.get('title'),
                'status': problem.get('status', status),
                'validation': [
                    {k: v.get(k) for k in ('location', 'code', 'message') if k in v}
                    for v in problem.get('validation') or [] if isinstance(v, dict)
                ],
            }
            exchange['prism_error'] = verdict
            exchange['violations'].append('Prism rejected the request (%s %s): %s%s' % (
                status, verdict['title'], verdict['type'],
                ''.join('\n      - %s: %s' % ('.'.join(str(p) for p in v.get('location', [])), v.get('message'))
                        for v in verdict['validation'])))
        rec._record(exchange)  # pylint: disable=protected-access
        try:
            self._reply(status, resp_headers, resp_body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy


def format_violation(exchange: dict) -> str:
    """One human-readable paragraph for an exchange with violations."""
    lines = ['%s %s -> %s' % (exchange.get('method'), exchange.get('path'), exchange.get('status'))]
    lines += ['    %s' % v for v in exchange.get('violations') or []]
    return '\n'.join(lines)
