"""The emulator at benchmark scale (5,000 tokens, 5,000 temporary credentials) and its configurable token quota.

No wall-clock limit here: the cost of an API call is checked by what it touches (no call iterates over every
token), the speed is measured by benchmarks/credential_set_scale.py.
"""

import datetime as dt
import json
import os
import random
import subprocess
import sys

import pytest
import requests

from cfemu.state import State

ITEM_READ = "6a018a9f2fc74eb6b293b0c548f38b39"
START = 1_900_000_000  # 2030-03-17
DAY = 86400


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now


def iso(ts):
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def api(state, op, scope="account", query=None, body="", **params):
    """One API call through State.handle_api as the bootstrap token: (status, payload)."""
    if scope in ("account", "r2"):
        params["account_id"] = state.account_id
    query = {key: [str(val)] for key, val in (query or {}).items()}
    body = body if isinstance(body, str) else json.dumps(body)
    status, payload, dummy, dummy = state.handle_api(op, scope, params, query, body,
                                                     "Bearer " + state.bootstrap_token, "127.0.0.1")
    return status, payload


def policy(state, bucket="bench"):
    key = f"com.cloudflare.edge.r2.bucket.{state.account_id}_default_{bucket}"
    return {"effect": "allow", "permission_groups": [{"id": ITEM_READ}], "resources": {key: "*"}}


def create(state, scope="account", **extra):
    return api(state, "create", scope, body=dict({"name": "t", "policies": [policy(state)]}, **extra))


def listing(state, scope="account", per_page=50, **query):
    """Every page of a listing: (ids, [result_info of each page]); checks that the pages end where they say."""
    ids, infos, page = [], [], 1
    while True:
        status, payload = api(state, "list", scope, query=dict(query, page=page, per_page=per_page))
        assert status == 200, payload
        info = payload["result_info"]
        ids += [t["id"] for t in payload["result"]]
        infos.append(info)
        if page >= info["total_pages"]:
            return ids, infos
        page += 1


class ScanCounter(dict):
    """Stands in for State.tokens and counts every iteration over all of the tokens."""

    scans = 0

    def __iter__(self):
        self.scans += 1
        return super().__iter__()

    def keys(self):
        self.scans += 1
        return super().keys()

    def values(self):
        self.scans += 1
        return super().values()

    def items(self):
        self.scans += 1
        return super().items()


def no_full_sort(*args, **kwargs):
    raise AssertionError("an API call sorted every token")


def test_5000_tokens_every_page_once_in_order_quota_and_5000_temporary_credentials(monkeypatch):
    clock = Clock()
    state = State(rate_limit=10 ** 9, clock=clock)
    # Seeded in batches of 1000 whose issued_on goes back in time: the listing order (issued_on, then creation
    # order) is not the order of creation.  The last batch shares its issued_on with the third one.
    batches = []
    for number, day in enumerate((4, 3, 2, 1, 2)):
        seeded = state.seed({"owner": "account", "name": f"b{number}", "count": 1000 if number < 4 else 980,
                             "policies": [policy(state)], "issued_on": iso(START - 60 * DAY + day * DAY)})
        batches.append([t["id"] for t in seeded])
    expired = set(batches[0][::7])
    for token_id in expired:
        state.admin_token(token_id, "expire", {})
    clock.now += 10
    state.configure({"token_quota_account": 5000})

    monkeypatch.setattr(state, "tokens", ScanCounter(state.tokens))
    monkeypatch.setattr(State, "_sorted", staticmethod(no_full_sort))
    created = []
    for dummy in range(20):
        clock.now += 1
        status, payload = create(state)
        assert status == 200, payload
        created.append(payload["result"]["id"])
    status, payload = create(state)
    assert status == 400 and payload["errors"] == [
        {"code": 1002, "message": "Token quota exceeded: at most 5000 account-owned API tokens are allowed"}]

    expected = batches[3] + batches[2] + batches[4] + batches[1] + batches[0] + created
    assert len(expected) == len(set(expected)) == 5000
    ids, infos = listing(state, include_expired="true")
    assert ids == expected
    assert infos[0] == {"page": 1, "per_page": 50, "count": 50, "total_count": 5000, "total_pages": 100}
    assert [i["count"] for i in infos] == [50] * 100 and {i["total_count"] for i in infos} == {5000}
    assert api(state, "list", query={"page": 101, "per_page": 50, "include_expired": "true"})[1]["result_info"] == {
        "page": 101, "per_page": 50, "count": 0, "total_count": 5000, "total_pages": 100}

    live = [t for t in expected if t not in expired]
    ids, infos = listing(state, per_page=37)  # include_expired false: the expired ones left out
    assert ids == live and infos[-1]["total_count"] == len(live) == 5000 - len(expired)
    assert sum(i["count"] for i in infos) == len(live) and infos[-1]["total_pages"] == -(-len(live) // 37)
    assert listing(state, direction="desc", include_expired="true")[0] == expected[::-1]
    assert listing(state, direction="desc", per_page=13)[0] == live[::-1]
    assert listing(state, "user")[0] == [state.bootstrap_id]

    # A deleted token frees its place in the quota and leaves the listing.
    gone = batches[2][500]
    assert api(state, "delete", token_id=gone)[0] == 200
    assert api(state, "get", token_id=gone)[0] == 404
    assert create(state)[0] == 200 and create(state)[0] == 400
    assert api(state, "get", "user", token_id=batches[1][0])[0] == 404  # another owner's token is not found

    # 5,000 temporary credentials minted from ten parents, one prefix each, for one bucket.
    parents = created[:10]
    for host in range(5000):
        status, payload = api(state, "r2_temp_credentials", "r2", body={
            "bucket": "bench", "parentAccessKeyId": parents[host % 10], "permission": "object-read-only",
            "ttlSeconds": 3600, "prefixes": [f"host{host:04d}/"]})
        assert status == 200, payload
    assert len(state.r2.temp) == 5000
    assert {rec["prefixes"][0] for rec in state.r2.temp.values()} == {f"host{n:04d}/" for n in range(5000)}
    assert state.tokens.scans == 0  # no call above iterated over every token


def owner_of(tok):
    return "account" if tok["owner"] == "account" else "user"


def oracle(state, scope, include_expired, desc):
    """The listing as a full filter and sort would give it (what the emulator did before its indexes)."""
    toks = [t for t in state.tokens.values() if owner_of(t) == scope
            and (include_expired or state.status(t) != "expired")]
    return [t["id"] for t in sorted(toks, key=lambda t: (t["issued_on"], t["seq"]), reverse=desc)]


def test_listing_and_quota_count_match_a_full_sort_after_every_kind_of_change():
    rng = random.Random(20261111)
    clock = Clock()
    state = State(rate_limit=10 ** 9, clock=clock, token_quota_account=10 ** 6, token_quota_user=10 ** 6)

    def pick():
        return rng.choice([t for t in state.tokens if t != state.bootstrap_id] or [None])

    def change():
        kind, token_id = rng.randrange(11), pick()
        if kind == 0 or token_id is None:
            extra = {"expires_on": iso(clock.now + rng.randint(1, 50))} if rng.random() < 0.5 else {}
            assert create(state, rng.choice(("account", "user")), **extra)[0] == 200
        elif kind == 1:
            state.seed({"owner": rng.choice(("account", "user")), "count": rng.randint(1, 5),
                        "issued_on": iso(clock.now - rng.randint(0, 100)),
                        **({"expires_on": iso(clock.now + rng.randint(-20, 20))} if rng.random() < 0.5 else {})})
        elif kind == 2:
            issued = clock.now - rng.randint(0, 200)
            state.admin_token(token_id, "patch", {"issued_on": iso(issued), "modified_on": iso(issued)})
        elif kind == 3:
            state.admin_token(token_id, "expire", {})
        elif kind == 4:
            state.admin_token(token_id, "revoke", {})
        elif kind == 5:
            state.admin_token(token_id, "patch", {"status": rng.choice(("active", "disabled")),
                                                  "expires_on": rng.choice((None, iso(clock.now + 5)))})
        elif kind == 6:
            tok = state.tokens[token_id]
            body = {"name": "renamed", "policies": [policy(state)], "status": rng.choice(("active", "disabled")),
                    "expires_on": iso(clock.now + rng.randint(1, 30))}
            api(state, "update", owner_of(tok), body=body, token_id=token_id)  # refused when revoked
        elif kind == 7:
            api(state, "roll", owner_of(state.tokens[token_id]), body={}, token_id=token_id)
        elif kind == 8:
            assert api(state, "delete", owner_of(state.tokens[token_id]), token_id=token_id)[0] == 200
        else:
            clock.now += rng.choice((1, 7, 20))  # tokens expire (an admin patch of expires_on revives them)

    for step in range(250):
        change()
        for scope in ("account", "user"):
            assert len(state.owned.get((scope, state.account_id if scope == "account" else None), ())) == len(
                oracle(state, scope, True, False)), step
            for include_expired in (True, False):
                for desc in (False, True):
                    per_page = rng.randint(5, 50)
                    want = oracle(state, scope, include_expired, desc)
                    got, infos = listing(state, scope, per_page, include_expired=str(include_expired).lower(),
                                         direction="desc" if desc else "asc")
                    assert got == want, (step, scope, include_expired, desc)
                    assert infos[0]["total_count"] == len(want)


def test_token_quota_is_set_by_config_and_restored_by_reset(client, emu):
    def config(**data):
        return client.admin("POST", "/config", json=data)

    assert config().json() == {"rate_limit": 1200, "rate_window": 300, "rate_block": 300,
                               "token_quota_account": 500, "token_quota_user": 50}
    assert config(token_quota_account=20).json()["token_quota_account"] == 20
    client.seed(owner="account", count=19)
    acct_path = f"/accounts/{emu.account_id}/tokens"
    body = {"name": "t", "policies": [policy(emu.state)]}
    assert client.api("POST", acct_path, emu.bootstrap_token, json=body).status_code == 200
    refused = client.api("POST", acct_path, emu.bootstrap_token, json=body)
    assert refused.status_code == 400 and refused.json()["errors"] == [
        {"code": 1002, "message": "Token quota exceeded: at most 20 account-owned API tokens are allowed"}]
    assert client.api("POST", "/user/tokens", emu.bootstrap_token, json=body).status_code == 200  # user: 50
    assert config(token_quota_user=2).json()["token_quota_user"] == 2  # bootstrap + the one above
    assert "at most 2 user-owned" in client.api("POST", "/user/tokens", emu.bootstrap_token,
                                                json=body).json()["errors"][0]["message"]

    for bad in (-1, "5", True, 2.5, None):
        resp = config(token_quota_account=bad, rate_limit=7)
        assert resp.status_code == 400 and resp.json() == {"error": "token_quota_account: must be an integer >= 0"}
    assert config().json() == {"rate_limit": 1200, "rate_window": 300, "rate_block": 300,
                               "token_quota_account": 20, "token_quota_user": 2}  # a refused config changes nothing
    assert config(token_quota_account=0).json()["token_quota_account"] == 0

    assert client.admin("POST", "/reset").status_code == 200
    assert config().json()["token_quota_account"] == 500 and config().json()["token_quota_user"] == 50
    assert client.api("POST", acct_path, emu.bootstrap_token, json=body).status_code == 200


def test_token_quota_defaults_from_the_constructor_and_the_cli():
    state = State(token_quota_account=3, token_quota_user=2)
    assert state.configure({"token_quota_account": 9})["token_quota_account"] == 9
    state.reset_all()
    assert {k: v for k, v in state.configure({}).items() if k.startswith("token_quota")} == {
        "token_quota_account": 3, "token_quota_user": 2}

    emu_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))
    env = dict(os.environ, PYTHONPATH=emu_dir)
    cmd = [sys.executable, "-m", "cfemu", "--no-s3", "--port", "0"]
    bad = subprocess.run(cmd + ["--token-quota-user", "-1"], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "--token-quota-user must be an integer >= 0" in bad.stderr
    proc = subprocess.Popen(cmd + ["--token-quota-account", "7"], stdout=subprocess.PIPE, env=env,  # pylint: disable=consider-using-with
                            text=True)
    try:
        info = json.loads(proc.stdout.readline())
        settings = requests.post(info["admin_url"] + "/config", json={}, timeout=10).json()
        assert settings["token_quota_account"] == 7 and settings["token_quota_user"] == 50
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("field", ["issued_on", "expires_on"])
def test_seeded_dates_order_the_listing(field):
    """Seeding with issued_on (or an expiry in the past) re-sorts the index, as a full sort would."""
    clock = Clock()
    state = State(rate_limit=10 ** 9, clock=clock)
    first = create(state)[1]["result"]["id"]
    date = iso(START - DAY)
    seeded = state.seed({"owner": "account", field: date})["id"]
    want = [seeded, first] if field == "issued_on" else [first]
    assert listing(state)[0] == want
    assert listing(state, include_expired="true")[0] == oracle(state, "account", True, False)
