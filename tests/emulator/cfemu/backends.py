"""The moto S3 servers behind the R2 gateway: one per jurisdiction, each its own process.

Why separate processes: moto keeps its backends in module globals.  Also,
moto 5 models S3's global bucket namespace, even across accounts.  So one
process cannot hold a "default" and an "eu" bucket of the same name, while
R2 keeps a separate namespace per jurisdiction (REF §5).  moto_child.py starts
one process, which forks into one server per jurisdiction after moto is
imported.  The gateway (s3.py) does all of the authentication, then forwards
each request unsigned.
"""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto_child.py")
# Host header sent to moto: it makes moto use path-style bucket addressing.
MOTO_HOST = "s3.amazonaws.com"
# The Authorization header sent to moto.
# - moto treats a request without one as anonymous and applies object ACLs:
#   GetObject gets 403.  The gateway has already authorized the request.
# - moto picks its S3 app from the credential scope ("s3").
# - moto does not check signatures unless its IAM auth is switched on, and it is not.
MOTO_AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=cfemugateway/20000101/us-east-1/s3/aws4_request, "
                      "SignedHeaders=host, Signature=" + "0" * 64)


class BackendError(RuntimeError):
    pass


class MotoBackend:
    """One moto server: the S3 store of one jurisdiction."""

    def __init__(self, jurisdiction, host, port, pid):
        self.jurisdiction, self.host, self.port, self.pid = jurisdiction, host, port, pid

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def request(self, method, target, headers, body, timeout=60):
        """Send one request; returns (status, [(name, value)...], body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", MOTO_HOST)
            conn.putheader("Authorization", MOTO_AUTHORIZATION)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def reset(self):
        """Drop every bucket and object (moto's own reset endpoint)."""
        status = self.request("POST", "/moto-api/reset", [], b"")[0]
        if status != 200:
            raise BackendError(f"moto reset for {self.jurisdiction} answered {status}")


class MotoGroup:
    """The moto process (forked into one server per jurisdiction): start, stop, per-jurisdiction handles."""

    def __init__(self, jurisdictions, host="127.0.0.1"):
        self.jurisdictions, self.host = tuple(jurisdictions), host
        self.proc, self.backends = None, {}

    def start(self, timeout=60.0):
        # stdin is the lifeline (moto_child.py); stderr goes to ours, to help debugging.
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, CHILD, self.host, *self.jurisdictions], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            for line in self._lines(len(self.jurisdictions), timeout):
                info = json.loads(line)
                self.backends[info["label"]] = MotoBackend(info["label"], self.host, info["port"], info["pid"])
        except BaseException:
            self.stop()
            raise
        return self

    def _lines(self, count, timeout):
        deadline, buf = time.monotonic() + timeout, b""
        while buf.count(b"\n") < count:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BackendError(f"moto backends did not start within {timeout}s (exit code {self.proc.poll()})")
            if select.select([self.proc.stdout], [], [], min(left, 0.2))[0]:
                buf += os.read(self.proc.stdout.fileno(), 4096)
        return buf.decode().splitlines()

    @property
    def pids(self):
        return {j: b.pid for j, b in self.backends.items()}

    def stop(self, timeout=5.0):
        """End every server.  EOF on the shared stdin stops them all; the first
        one reaps the others, then exits.  SIGTERM and SIGKILL are fallbacks."""
        proc, self.proc = self.proc, None
        forked = [b.pid for b in self.backends.values() if proc is None or b.pid != proc.pid]
        self.backends = {}
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        for pid in forked:  # normally already reaped by the first process
            if _is_moto_child(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _is_moto_child(pid):
    """Whether pid is still one of our moto servers (and not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return CHILD.encode() in handle.read()
    except OSError:
        return False
