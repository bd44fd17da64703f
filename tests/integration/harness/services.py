"""Subprocess services: the Cloudflare API emulator and the Prism contract proxy."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from . import paths


class ServiceError(RuntimeError):
    pass


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return ''


def _die_with_parent():  # runs in the child between fork and exec
    """Ask Linux to SIGTERM the service if the test process dies without cleaning up."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pylint: disable=broad-except
        pass


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Service:
    """A subprocess in its own process group, with its output in a log file."""

    name = 'service'

    def __init__(self, log_path: str):
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self._log = open(self.log_path, 'ab')  # pylint: disable=consider-using-with
        self._log.write(('\n$ %s\n' % ' '.join(argv)).encode())
        self._log.flush()
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith('linux') else None)

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServiceError('%s exited with %s; log %s:\n%s' % (
                self.name, self.proc.returncode, self.log_path, _tail(self.log_path)))

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


class Emulator(Service):
    """``python -m cfemu`` from tests/emulator (``R2_EMULATOR_DIR`` overrides the folder)."""

    name = 'cfemu'

    def __init__(self, workdir: str, bootstrap_token: str | None = None):
        super().__init__(os.path.join(workdir, 'emulator.log'))
        self.workdir = workdir
        self.info_file = os.path.join(workdir, 'emulator-info.json')
        self.bootstrap_token = bootstrap_token
        self.info: dict = {}

    def start(self, timeout: float = 60.0) -> dict:
        emu_dir = os.environ.get('R2_EMULATOR_DIR') or paths.EMULATOR_DIR
        if not os.path.isdir(os.path.join(emu_dir, 'cfemu')):
            raise ServiceError('emulator package not found: %s/cfemu' % emu_dir)
        if os.path.exists(self.info_file):
            os.unlink(self.info_file)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (emu_dir, env.get('PYTHONPATH')) if p)
        env['PYTHONUNBUFFERED'] = '1'
        argv = [sys.executable, '-m', 'cfemu', '--host', '127.0.0.1', '--port', '0', '--info-file', self.info_file]
        if self.bootstrap_token:
            argv += ['--bootstrap-token', self.bootstrap_token]
        self._spawn(argv, env=env, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with open(self.info_file, 'r', encoding='utf-8') as handle:
                    self.info = json.load(handle)
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        else:
            self.stop()
            raise ServiceError('emulator did not write %s within %ss:\n%s' % (
                self.info_file, timeout, _tail(self.log_path)))
        port = int(re.search(r':(\d+)/', self.info['api_url']).group(1))
        while not port_open('127.0.0.1', port):
            self._check_alive()
            if time.monotonic() > deadline:
                raise ServiceError('emulator port %d not open' % port)
            time.sleep(0.05)
        return self.info


class Prism(Service):
    """``prism proxy SPEC UPSTREAM --errors`` on a loopback port.

    Prism matches request paths against the spec's ``paths`` (``/user/tokens``...),
    ignoring the spec server's ``/client/v4`` base path, and appends the request
    path and query to UPSTREAM.  So UPSTREAM is the emulator's ``.../client/v4``
    and clients call Prism at its root (the recorder maps ``/client/v4`` to it).
    """

    name = 'prism'
    RESPONSE_VIOLATION_RE = re.compile(r'Violation:')
    REJECTION_RE = re.compile(r'Request terminated with error: \S*#[A-Z_]+')

    def __init__(self, workdir: str, upstream: str, spec: str | None = None):
        super().__init__(os.path.join(workdir, 'prism.log'))
        self.upstream = upstream
        self.spec = spec or paths.openapi_spec()
        self.port: int | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout: float = 90.0, attempts: int = 3) -> 'Prism':
        last = None
        for dummy in range(attempts):
            self.port = free_port()
            try:
                self._log_offset = os.path.getsize(self.log_path)
            except OSError:
                self._log_offset = 0
            self._spawn([paths.prism_bin(), 'proxy', self.spec, self.upstream,
                         '-h', '127.0.0.1', '-p', str(self.port), '--errors'],
                        env=dict(os.environ, NO_COLOR='1', FORCE_COLOR='0'))
            try:
                self._wait_ready(timeout)
                return self
            except ServiceError as exc:
                last = exc
                self.stop()
        raise last

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if 'Prism is listening' in self._new_log() and port_open('127.0.0.1', self.port):
                return
            time.sleep(0.1)
        raise ServiceError('prism not ready within %ss:\n%s' % (timeout, _tail(self.log_path)))

    def _new_log(self) -> str:
        try:
            with open(self.log_path, 'r', encoding='utf-8', errors='replace') as handle:
                handle.seek(self._log_offset)
                return handle.read()
        except OSError:
            return ''

    def log_violations(self) -> dict:
        """Violation lines in Prism's log (second check, beside the recorder).

        ``rejections``: requests Prism answered itself (422, 401, 404...);
        ``response_violations``: one line per entry of an ``sl-violations`` header.
        """
        lines = self._new_log().splitlines()
        return {
            'rejections': [line.strip() for line in lines if self.REJECTION_RE.search(line)],
            'response_violations': [line.strip() for line in lines if self.RESPONSE_VIOLATION_RE.search(line)],
        }
