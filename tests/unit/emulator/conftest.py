"""Fixtures for the cfemu tests: a token-only emulator per test, one shared S3-enabled emulator, R2 helpers."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time

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
    # Token-API tests need no S3 side: s3=False skips the moto processes.
    emulator = Emulator(rate_limit=1200, s3=False).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def s3emu_session():
    """One emulator with its S3 gateways and moto backends for the whole run (start-up ~1 s)."""
    emulator = Emulator(rate_limit=100000).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def s3emu(s3emu_session):
    """The shared S3-enabled emulator, reset to its initial state for each test."""
    emulator = s3emu_session
    emulator.state.clock = FakeClock(time.time())  # real "now", but tests may advance it
    emulator.state.reset_all()  # bootstrap token only, no buckets, moto emptied, empty stats
    for gateway in emulator.gateways.values():
        gateway.wall_clock = time.time
    yield emulator
    emulator.state.clock = time.time


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


# --- R2 / S3 helpers -------------------------------------------------------------------
GROUP_OF = {  # permission -> R2 permission group id (REF §2)
    "admin-read-write": "bf7481a1826f439697cb59a20b22293e",
    "admin-read-only": "b4992e1108244f5d8bfbd5744320c2e1",
    "object-read-write": "2efd5506f9c8494dacb1fa10a3e7d5b6",
    "object-read-only": "6a018a9f2fc74eb6b293b0c548f38b39",
}
_BOTO = {}


def _boto_session():
    # One boto3 session for the run: clients made from it reuse the loaded
    # service models, so each client costs milliseconds instead of 100+ ms.
    if "session" not in _BOTO:
        import boto3  # pylint: disable=import-outside-toplevel
        _BOTO["session"] = boto3.session.Session()
    return _BOTO["session"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class R2Kit:
    """Seeds tokens, builds S3 clients and temporary credentials for one emulator."""

    def __init__(self, emu, client):
        self.emu, self.client = emu, client

    def policy(self, permission, buckets=None, effect="allow"):
        """An R2 policy.  buckets: None (admin: the account), "all" (nested all-buckets
        form) or a list of (jurisdiction, name)."""
        acct = f"com.cloudflare.api.account.{self.emu.account_id}"
        if permission.startswith("admin"):
            resources = {acct: "*"}
        elif buckets == "all":
            resources = {acct: {"com.cloudflare.edge.r2.bucket.*": "*"}}
        else:
            resources = {f"com.cloudflare.edge.r2.bucket.{self.emu.account_id}_{j}_{b}": "*" for j, b in buckets}
        return {"effect": effect, "permission_groups": [{"id": GROUP_OF[permission]}], "resources": resources}

    def token(self, permission=None, buckets=None, policies=None, **seed):
        """Seed a token; the result has id, value and secret (its S3 secret access key)."""
        policies = policies if policies is not None else [self.policy(permission, buckets)]
        tok = self.client.seed(policies=policies, **seed)
        tok["secret"] = hashlib.sha256(tok["value"].encode()).hexdigest()
        return tok

    def s3(self, jurisdiction, access_key_id, secret, session_token=None, endpoint_url=None, **config):
        from botocore.config import Config  # pylint: disable=import-outside-toplevel
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                     connect_timeout=5, read_timeout=30, **config)
        return _boto_session().client(
            "s3", endpoint_url=endpoint_url or self.emu.s3_endpoints[jurisdiction], region_name="auto",
            aws_access_key_id=access_key_id, aws_secret_access_key=secret, aws_session_token=session_token,
            config=cfg)

    def token_s3(self, tok, jurisdiction="default", **config):
        return self.s3(jurisdiction, tok["id"], tok["secret"], **config)

    def admin_s3(self, jurisdiction="default"):
        value = self.emu.bootstrap_token
        return self.s3(jurisdiction, self.emu.state.bootstrap_id, hashlib.sha256(value.encode()).hexdigest())

    def bucket(self, name, jurisdiction="default", objects=()):
        resp = self.client.admin("POST", "/buckets", json={"name": name, "jurisdiction": jurisdiction})
        assert resp.status_code == 200, resp.text
        admin = self.admin_s3(jurisdiction)
        for key in objects:
            admin.put_object(Bucket=name, Key=key, Body=f"content of {key}".encode())
        return resp.json()

    def mint(self, parent, bucket, permission, ttl=900, caller=None, **extra):
        """POST temp-access-credentials as caller (default: the parent itself)."""
        body = dict({"bucket": bucket, "parentAccessKeyId": parent["id"], "permission": permission,
                     "ttlSeconds": ttl}, **extra)
        return self.client.api("POST", f"/accounts/{self.emu.account_id}/r2/temp-access-credentials",
                               caller or parent["value"], json=body)

    def mint_s3(self, parent, bucket, permission, jurisdiction="default", **extra):
        resp = self.mint(parent, bucket, permission, **extra)
        assert resp.status_code == 200, resp.text
        cred = resp.json()["result"]
        return self.s3(jurisdiction, cred["accessKeyId"], cred["secretAccessKey"], cred["sessionToken"]), cred

    def jwt_credentials(self, parent, jurisdiction, bucket, scope, ttl=3600, aud=None, key=None, **claims):
        """Local-signed temporary credentials, made as in REF §4 with hmac/hashlib/base64 only."""
        now = int(self.emu.state.clock())
        payload = {"bucket": bucket, "scope": scope, "sub": self.emu.account_id, "iss": parent["id"],
                   "aud": aud or self.emu.s3_endpoints[jurisdiction].split("://", 1)[1],
                   "iat": now, "exp": now + ttl}
        payload.update(claims)
        signing_input = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
            b64url(json.dumps(payload).encode())
        signature = hmac.new((key or parent["secret"]).encode(), signing_input.encode(), hashlib.sha256).digest()
        jwt = signing_input + "." + b64url(signature)
        secret = hashlib.sha256(jwt.encode()).hexdigest()
        session = base64.b64encode(("jwt/" + jwt).encode()).decode()
        return parent["id"], secret, session

    def jwt_s3(self, parent, jurisdiction, bucket, scope, **kwargs):
        akid, secret, session = self.jwt_credentials(parent, jurisdiction, bucket, scope, **kwargs)
        return self.s3(jurisdiction, akid, secret, session)

    def s3_log(self):
        return self.client.admin("GET", "/stats").json()["s3_requests"]

    def last(self):
        return self.s3_log()[-1]


@pytest.fixture
def s3client(s3emu):
    c = Client(s3emu)
    yield c
    c.http.close()


@pytest.fixture
def kit(s3emu, s3client):
    return R2Kit(s3emu, s3client)
