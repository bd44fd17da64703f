"""Fixtures for the cfemu tests: an in-process emulator per test."""

import os
import sys

import pytest

EMU_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))
if EMU_DIR not in sys.path:
    sys.path.insert(0, EMU_DIR)

from cfemu.server import Emulator  # noqa: E402  pylint: disable=wrong-import-position


class FakeClock:
    """Controllable time source for expiry and rate-limit tests."""

    def __init__(self, start=1_900_000_000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class Client:
    """Tiny helper around requests bound to one emulator."""

    def __init__(self, emu):
        import requests  # pylint: disable=import-outside-toplevel
        self.emu = emu
        self.http = requests.Session()

    def api(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 5)
        return self.http.request(method, self.emu.api_url + path, headers=headers, **kwargs)

    def admin(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 5)
        return self.http.request(method, self.emu.admin_url + path, **kwargs)

    def seed(self, **spec):
        resp = self.admin("POST", "/tokens", json=spec)
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture
def emu():
    emulator = Emulator(rate_limit=1200).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def clock(emu):
    fake = FakeClock()
    emu.state.clock = fake
    return fake


@pytest.fixture
def client(emu):
    c = Client(emu)
    yield c
    c.http.close()
