"""HTTP front end: routing, fault injection, admin API and the Emulator handle.

The API is served at /client/v4/<path> and at /<path>, because Prism in
proxy mode may or may not keep the base path.  The admin API lives under
/__emulator (not Cloudflare; no auth; loopback clients only).  The S3 side
(one gateway per R2 jurisdiction, each in front of its own moto server) is
started and stopped by the Emulator handle; see s3.py and backends.py.
"""

import functools
import http
import io
import ipaddress
import json
import os
import re
import secrets
import select
import socket
import struct
import threading
import urllib.parse

from .backends import BackendError, MotoGroup
from .httpserver import LoopbackHandler, serve
from .state import (E_GATEWAY_BASE, E_METHOD, E_NO_ROUTE, JURISDICTIONS, MSG_RATE_LIMITED, QUOTA, ApiError, State,
                    failure)

API_PREFIX = "/client/v4"
ADMIN_PREFIX = "/__emulator"
# Body for the "malformed" fault: a truncated envelope, as a broken proxy might send.
MALFORMED_BODY = b'{"success": true, "errors": [], "result": {"id": "'


def _build_routes():
    routes = []
    ops = [("GET", "", "list"), ("POST", "", "create"), ("GET", "/verify", "verify"),
           ("GET", "/permission_groups", "groups"), ("GET", "/{token_id}", "get"),
           ("PUT", "/{token_id}", "update"), ("DELETE", "/{token_id}", "delete"),
           ("PUT", "/{token_id}/value", "roll")]
    table = [(method, base + suffix, op, scope)
             for scope, base in (("user", "/user/tokens"), ("account", "/accounts/{account_id}/tokens"))
             for method, suffix, op in ops]
    # R2 operations of the schema (r2.py).
    table += [("GET", "/accounts/{account_id}/r2/buckets", "r2_list_buckets", "r2"),
              ("POST", "/accounts/{account_id}/r2/buckets", "r2_create_bucket", "r2"),
              ("POST", "/accounts/{account_id}/r2/temp-access-credentials", "r2_temp_credentials", "r2")]
    for method, template, op, scope in table:
        # A malformed account id matches no route -> 7003, as on Cloudflare.
        rx = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>" + (
            "[0-9a-fA-F]{32})" if m[1] == "account_id" else "[^/]+)"), template)
        routes.append((method, template, re.compile(rx + "$"), op, scope))
    return routes


ROUTES = _build_routes()


def match_route(method, path):
    """Return (route template, op, scope, params) or raise a 404/405 ApiError."""
    known_path = False
    for r_method, template, rx, op, scope in ROUTES:
        m = rx.match(path)
        if not m or m.groupdict().get("token_id") in ("verify", "permission_groups"):
            continue
        if method == r_method:
            return f"{r_method} {template}", op, scope, m.groupdict()
        known_path = True
    if known_path and method != "HEAD":
        raise ApiError(405, E_METHOD, "Method not allowed")
    raise ApiError(404, E_NO_ROUTE, "No route for the URI")


class _Handler(LoopbackHandler):
    server_version = "cfemu"

    def respond(self):
        self._dispatch()

    def verbose(self):
        return self.server.emu.verbose

    def _send(self, status, payload, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("cf-ray", secrets.token_hex(8) + "-EMU")
        for key, val in (headers or {}).items():
            self.send_header(key, val)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        path = url.path
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX):]
        path = path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            self._admin(path[len(ADMIN_PREFIX):] or "/", body)
        else:
            self._api(url.path, path, query, body)

    # --- Cloudflare API -------------------------------------------------------
    def _api(self, raw_path, path, query, body):
        emu = self.server.emu
        state = emu.state
        entry = state.log_begin(self.command, raw_path)
        try:
            route, op, scope, params = match_route(self.command, path)
        except ApiError as err:
            state.log_update(entry, route=None, status=err.status)
            return self._send(err.status, failure(err.errors))
        state.log_update(entry, route=route)

        def run():
            return state.handle_api(op, scope, params, query, body, self.headers.get("Authorization"),
                                    self.client_address[0], request_headers=self.headers)

        fault = state.take_fault(self.command, path, raw_path, route)
        if fault is None:
            return self._finish(entry, *run())
        state.log_update(entry, fault=fault["action"])
        # process=True: the call reaches "origin" and changes state, then the
        # fault hides or replaces its answer.
        result = run() if fault["process"] else None
        token_id = result[3] if result else None
        action = fault["action"]
        if action == "timeout":
            if result is not None:
                state.log_update(entry, status=result[0], token_id=token_id)
            emu.stopping.wait(fault["delay"])
            if result is None:
                if self._client_gone():
                    # The client gave up before the request "arrived": nothing happens.
                    self.close_connection = True
                    return None
                result = run()
            return self._finish(entry, *result)
        if action == "reset":
            state.log_update(entry, token_id=token_id)
            return self._reset()
        if action == "malformed":
            state.log_update(entry, status=200, token_id=token_id)
            return self._send(200, None, raw=MALFORMED_BODY)
        status = int(action)
        message = MSG_RATE_LIMITED if status == 429 else http.HTTPStatus(status).phrase
        headers = {"retry-after": str(fault["retry_after"])} if status == 429 else {}
        payload = failure([{"code": E_GATEWAY_BASE + status, "message": message}])
        return self._finish(entry, status, payload, headers, token_id)

    def _finish(self, entry, status, payload, headers, token_id):
        self.server.emu.state.log_update(entry, status=status, token_id=token_id)
        self._send(status, payload, headers)

    def _client_gone(self):
        try:
            readable = select.select([self.connection], [], [], 0)[0]
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _reset(self):
        # SO_LINGER 0 makes close() send RST instead of FIN: "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop the makefile reference so close() is real
        self.connection.close()
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.close_connection = True

    # --- admin API ----------------------------------------------------------------
    def _admin(self, sub, body):
        emu = self.server.emu
        state = emu.state
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            return self._send(403, {"error": "admin API is loopback-only"})
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as err:
            return self._send(400, {"error": f"bad JSON body: {err}"})
        table = {
            ("GET", "/info"): emu.info,
            ("GET", "/stats"): state.stats,
            ("POST", "/stats/reset"): state.reset_stats,
            ("GET", "/faults"): state.list_faults,
            ("POST", "/faults"): lambda: state.add_faults(data.get("faults")),
            ("DELETE", "/faults"): state.clear_faults,
            ("GET", "/tokens"): state.admin_tokens,
            ("GET", "/issued"): state.admin_issued,
            ("POST", "/tokens"): lambda: state.seed(data),
            ("DELETE", "/tokens"): state.delete_tokens,
            ("POST", "/config"): lambda: state.configure(data),
            ("POST", "/reset"): state.reset_all,
            ("GET", "/buckets"): state.r2.admin_buckets,
            ("POST", "/buckets"): lambda: state.r2.admin_create_bucket(data),
        }
        func = table.get((self.command, sub))
        # One token: POST /tokens/{id}/revoke, POST /tokens/{id}/expire, PATCH /tokens/{id}.
        m = re.fullmatch(r"/tokens/([0-9a-f]{32})(/revoke|/expire)?", sub)
        if func is None and m:
            action = {"/revoke": "revoke", "/expire": "expire", None: "patch"}[m.group(2)]
            if self.command == ("PATCH" if action == "patch" else "POST"):
                func = functools.partial(state.admin_token, m.group(1), action, data)
        if func is None:
            known = bool(m) or any(entry[1] == sub for entry in table)
            return self._send(405 if known else 404, {"error": f"no admin endpoint {self.command} {sub}"})
        try:
            return self._send(200, func())
        except ApiError as err:
            return self._send(404 if err.status == 404 else 400, {"error": err.errors[0]["message"]})
        except (TypeError, ValueError, re.error) as err:
            return self._send(400, {"error": str(err)})
        except (BackendError, RuntimeError, OSError) as err:  # a moto backend failed
            return self._send(500, {"error": str(err)})


class Emulator:
    """In-process emulator: Emulator(...).start(); .api_url; .s3_endpoints; .stop().

    With s3=True (the default), start() also launches one moto server per
    jurisdiction (subprocesses; about 1 s of CPU in all) and one S3 gateway
    for each.  stop() ends them, and so does the death of this process
    (backends.py).
    """

    def __init__(self, host="127.0.0.1", port=0, account_id=None, user_id=None, bootstrap_token=None,
                 rate_limit=1200, rate_window=300, rate_block=300, verbose=False, s3=True,
                 token_quota_account=QUOTA["account"], token_quota_user=QUOTA["user"]):
        self.state = State(account_id=account_id, user_id=user_id, bootstrap_token=bootstrap_token,
                           rate_limit=rate_limit, rate_window=rate_window, rate_block=rate_block,
                           token_quota_account=token_quota_account, token_quota_user=token_quota_user)
        self.host, self.port, self.verbose, self.s3 = host, port, verbose, s3
        self.stopping = threading.Event()  # wakes "timeout" faults on stop()
        self._server = self._thread = None
        self.gateways = {}  # jurisdiction -> S3Gateway
        self._moto = None

    def start(self):
        try:
            # Backends on 127.0.0.1 whatever self.host is: only the gateways talk to them.
            self._moto = MotoGroup(JURISDICTIONS).start() if self.s3 else None
            backends = self._moto.backends if self._moto else {}
            self.state.r2.backends = backends
            self._server, self._thread = serve(self.host, self.port, _Handler, "cfemu", emu=self)
            self.port = self._server.server_address[1]
            if backends:
                # Imported only here: the S3 side needs botocore, the token API only the stdlib.
                from .s3 import S3Gateway  # pylint: disable=import-outside-toplevel
                for jurisdiction in JURISDICTIONS:
                    self.gateways[jurisdiction] = S3Gateway(self.state, jurisdiction, backends[jurisdiction],
                                                            self.host, verbose=self.verbose).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        self.stopping.set()
        for gateway in self.gateways.values():
            gateway.stop()
        self.gateways = {}
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.state.r2.backends = {}
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self):
        return self.base_url + API_PREFIX

    @property
    def admin_url(self):
        return self.base_url + ADMIN_PREFIX

    @property
    def account_id(self):
        return self.state.account_id

    @property
    def user_id(self):
        return self.state.user_id

    @property
    def bootstrap_token(self):
        return self.state.bootstrap_token

    @property
    def s3_endpoints(self):
        """{jurisdiction: "http://127.0.0.1:P"} for every one of JURISDICTIONS; empty with s3=False."""
        return {j: g.url for j, g in self.gateways.items()}

    def info(self):
        return {"api_url": self.api_url, "admin_url": self.admin_url, "account_id": self.account_id,
                "user_id": self.user_id, "bootstrap_token": self.bootstrap_token,
                "bootstrap_token_id": self.state.bootstrap_id, "pid": os.getpid(),
                "s3_endpoints": self.s3_endpoints,
                # Lets a harness check that no moto process outlives the emulator.
                "s3_backend_pids": {j: self.state.r2.backends[j].pid for j in self.gateways}}
