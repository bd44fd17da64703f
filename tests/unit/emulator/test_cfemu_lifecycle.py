"""Token lifecycle in the emulator: seeded bookkeeping, Cloudflare's own actions (revoke, expire),
dead tokens refused by the API and by every S3 gateway, last_used_on, the us jurisdiction and the
Data Catalog permission groups (REF §2, §5, §8)."""

import datetime as dt

import pytest
from botocore.exceptions import ClientError

R2_WRITE = "bf7481a1826f439697cb59a20b22293e"
R2_READ = "b4992e1108244f5d8bfbd5744320c2e1"
CATALOG_WRITE = "d229766a2f7f4d299f20eaa8c9b1fde9"
CATALOG_READ = "45db74139a62490b9b60eb7c4f34994b"
REVOKED = "revoked (exposed)"
JURISDICTIONS = ("default", "eu", "fedramp", "us")


def iso(ts):
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def acct(emu):
    return {f"com.cloudflare.api.account.{emu.account_id}": "*"}


def r2_policy(emu, *groups):
    return {"effect": "allow", "permission_groups": [{"id": g} for g in groups], "resources": acct(emu)}


def r2_body(emu, name="r2 admin", **extra):
    return dict({"name": name, "policies": [r2_policy(emu, R2_WRITE)]}, **extra)


def codes(resp):
    return [e["code"] for e in resp.json()["errors"]]


def outcome(call):
    try:
        call()
        return "ok"
    except ClientError as err:
        return err.response["Error"]["Code"]


def get(client, tok):
    return client.api("GET", f"/user/tokens/{tok['id']}", client.emu.bootstrap_token).json()["result"]


# --- seeding ------------------------------------------------------------------------------
def test_seed_takes_every_bookkeeping_field(client, emu, clock):
    now = int(clock())
    spec = {"name": "old-web1", "issued_on": iso(now - 400 * 86400), "modified_on": iso(now - 380 * 86400),
            "last_used_on": iso(now - 100 * 86400), "expires_on": iso(now - 86400),
            "not_before": iso(now - 399 * 86400),
            "condition": {"request_ip": {"in": ["192.0.2.0/24"], "not_in": ["192.0.2.7/32"]}},
            "policies": [r2_policy(emu, R2_READ)]}
    seeded = client.seed(**spec)
    shown = get(client, seeded)
    for key in ("name", "issued_on", "modified_on", "last_used_on", "expires_on", "not_before", "condition"):
        assert shown[key] == spec[key], key
    assert shown["status"] == "expired"  # derived from expires_on, never stored
    # modified_on defaults to issued_on (never changed), last_used_on to null (never used)
    fresh = client.seed(issued_on=iso(now - 10 * 86400))
    assert (fresh["modified_on"], fresh["last_used_on"]) == (iso(now - 10 * 86400), None)
    plain = client.seed()
    assert plain["issued_on"] == plain["modified_on"] == iso(now) and plain["status"] == "active"


@pytest.mark.parametrize("status", ["active", "disabled", REVOKED])
def test_seed_status(client, emu, status):
    seeded = client.seed(status=status, policies=[r2_policy(emu, R2_WRITE)])
    assert seeded["status"] == status == get(client, seeded)["status"]


@pytest.mark.parametrize("spec,field", [
    ({"status": "expired"}, "status"),  # expired comes from expires_on
    ({"status": "revoked"}, "status"),
    ({"issued_on": "yesterday"}, "issued_on"),
    ({"issued_on": "2999-01-01T00:00:00Z"}, "issued_on"),  # not in the future
    ({"last_used_on": "2999-01-01T00:00:00Z"}, "last_used_on"),
    ({"issued_on": "2020-01-02T00:00:00Z", "modified_on": "2020-01-01T00:00:00Z"}, "modified_on"),
    ({"issued_on": "2020-01-02T00:00:00Z", "last_used_on": "2020-01-01T00:00:00Z"}, "last_used_on"),
    ({"last_used": "2020-01-01T00:00:00Z"}, "last_used"),  # a typo is not ignored
])
def test_seed_refuses_bad_fields_naming_them(client, emu, spec, field):
    resp = client.admin("POST", "/tokens", json=spec)
    assert resp.status_code == 400 and resp.json()["error"].startswith(field + ":"), resp.text
    assert len(client.admin("GET", "/tokens").json()) == 1  # nothing was stored


# --- Cloudflare's own actions on an existing token ----------------------------------------
def test_admin_revoke_expire_and_patch(client, emu, clock):
    tok = client.api("POST", "/user/tokens", emu.bootstrap_token, json=r2_body(emu)).json()["result"]
    base = f"/tokens/{tok['id']}"

    expired = client.admin("POST", base + "/expire")
    assert expired.status_code == 200
    assert expired.json()["status"] == "expired" and expired.json()["expires_on"] == iso(clock())
    assert expired.json()["owner"] == "user" and "value" not in expired.json()
    assert get(client, tok)["status"] == "expired"

    patched = client.admin("PATCH", base, json={"expires_on": None, "last_used_on": iso(clock() - 60),
                                                "issued_on": iso(clock() - 3600), "modified_on": iso(clock() - 120)})
    assert patched.status_code == 200, patched.text
    shown = get(client, tok)
    assert shown["status"] == "active" and "expires_on" not in shown
    assert (shown["issued_on"], shown["modified_on"], shown["last_used_on"]) == (
        iso(clock() - 3600), iso(clock() - 120), iso(clock() - 60))

    revoked = client.admin("POST", base + "/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == REVOKED
    # revocation is not a rotation: the bookkeeping dates stay
    assert get(client, tok)["modified_on"] == iso(clock() - 120)
    assert client.admin("PATCH", base, json={"status": "disabled"}).json()["status"] == "disabled"

    assert client.admin("PATCH", base, json={"status": "expired"}).status_code == 400
    assert client.admin("PATCH", base, json={"modified_on": iso(clock() - 7200)}).status_code == 400  # before issue
    assert client.admin("PATCH", base, json={"name": "x"}).json()["error"].startswith("name:")
    for method, path in (("POST", "/revoke"), ("POST", "/expire"), ("PATCH", "")):
        assert client.admin(method, f"/tokens/{'0' * 32}{path}").status_code == 404
    assert client.admin("GET", base + "/revoke").status_code == 405
    assert client.admin("POST", base).status_code == 405


def test_last_used_on_follows_api_use(client, emu, clock):
    tok = client.api("POST", "/user/tokens", emu.bootstrap_token, json=r2_body(emu)).json()["result"]
    assert tok["last_used_on"] is None
    clock.advance(3600)
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 200
    assert get(client, tok)["last_used_on"] == iso(clock())
    clock.advance(60)
    # a refused request (no permission for the listing) still authenticated: it counts as a use
    assert client.api("GET", "/user/tokens", tok["value"]).status_code == 403
    used = iso(clock())
    assert get(client, tok)["last_used_on"] == used
    clock.advance(60)
    client.admin("POST", f"/tokens/{tok['id']}/expire")
    clock.advance(1)
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 401
    assert get(client, tok)["last_used_on"] == used  # a refused token was not used


# --- dead tokens on the API ------------------------------------------------------------------
def _dead(client, emu, how):
    """A token killed the way Cloudflare or its owner does: disabled, expired or revoked (exposed)."""
    tok = client.api("POST", "/user/tokens", emu.bootstrap_token,
                     json=r2_body(emu, expires_on="2031-01-01T00:00:00Z")).json()["result"]
    if how == "disabled":
        client.api("PUT", f"/user/tokens/{tok['id']}", emu.bootstrap_token,
                   json=r2_body(emu, status="disabled", expires_on="2031-01-01T00:00:00Z"))
    elif how == "expired":
        client.admin("POST", f"/tokens/{tok['id']}/expire")
    else:
        client.admin("POST", f"/tokens/{tok['id']}/revoke")
    return tok


@pytest.mark.parametrize("how", ["disabled", "expired", REVOKED])
def test_dead_tokens_are_refused_and_reported(client, emu, clock, how):
    tok = _dead(client, emu, how)
    for path in ("/user/tokens/verify", "/user/tokens", f"/accounts/{emu.account_id}/r2/buckets"):
        resp = client.api("GET", path, tok["value"])
        assert resp.status_code == 401 and codes(resp) == [1000], path
    assert get(client, tok)["status"] == how
    boot = emu.bootstrap_token
    listed = {t["id"]: t["status"] for t in client.api("GET", "/user/tokens", boot).json()["result"]}
    everything = {t["id"]: t["status"] for t in client.api(
        "GET", "/user/tokens", boot, params={"include_expired": "true"}).json()["result"]}
    assert everything[tok["id"]] == how
    # expired tokens follow include_expired; disabled and revoked ones are always listed
    assert listed.get(tok["id"]) == (None if how == "expired" else how)
    mint = client.api("POST", f"/accounts/{emu.account_id}/r2/temp-access-credentials", boot, json={
        "bucket": "photos", "parentAccessKeyId": tok["id"], "permission": "object-read-only", "ttlSeconds": 60})
    assert mint.status_code == 400 and "is not active" in mint.json()["errors"][0]["message"]


@pytest.mark.parametrize("status", ["expired", REVOKED, "revoked", "Active"])
def test_put_cannot_set_an_observed_status(client, emu, status):
    tok = client.api("POST", "/user/tokens", emu.bootstrap_token, json=r2_body(emu)).json()["result"]
    resp = client.api("PUT", f"/user/tokens/{tok['id']}", emu.bootstrap_token, json=r2_body(emu, status=status))
    assert resp.status_code == 400 and codes(resp) == [1001]
    assert resp.json()["errors"][0]["message"].startswith("status: must be 'active' or 'disabled'")
    assert get(client, tok)["status"] == "active"


def test_revoked_token_cannot_be_updated_or_rolled(client, emu):
    tok = _dead(client, emu, REVOKED)
    path, boot = f"/user/tokens/{tok['id']}", emu.bootstrap_token
    before = get(client, tok)
    for body in (r2_body(emu, status="active"), r2_body(emu, name="renamed"), r2_body(emu, status="disabled")):
        resp = client.api("PUT", path, boot, json=body)
        assert resp.status_code == 400 and codes(resp) == [1004]
        assert "was revoked (exposed)" in resp.json()["errors"][0]["message"]
        assert "cannot be updated" in resp.json()["errors"][0]["message"]
    rolled = client.api("PUT", path + "/value", boot, json={})
    assert rolled.status_code == 400 and codes(rolled) == [1004] and "cannot be rolled" in rolled.text
    assert get(client, tok) == before
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 401
    assert client.api("DELETE", path, boot).status_code == 200  # it can still be deleted


def test_expired_token_rolls_but_stays_expired(client, emu, clock):
    tok = _dead(client, emu, "expired")
    path, boot = f"/user/tokens/{tok['id']}", emu.bootstrap_token
    clock.advance(10)
    rolled = client.api("PUT", path + "/value", boot, json={})
    assert rolled.status_code == 200
    new_value = rolled.json()["result"]
    assert new_value != tok["value"]
    shown = get(client, tok)
    assert shown["status"] == "expired" and shown["modified_on"] == iso(clock())
    for value in (tok["value"], new_value):
        assert client.api("GET", "/user/tokens/verify", value).status_code == 401
    # A PUT may send back its past expires_on (here: to disable it); a new past date is refused.
    expires = shown["expires_on"]
    kept = client.api("PUT", path, boot, json=r2_body(emu, status="disabled", expires_on=expires))
    assert kept.status_code == 200 and kept.json()["result"]["status"] == "disabled"
    other = client.api("PUT", path, boot, json=r2_body(emu, expires_on="2001-01-01T00:00:00Z"))
    assert other.status_code == 400 and other.json()["errors"][0]["message"].startswith("expires_on:")


# --- Data Catalog permission groups ----------------------------------------------------------
def test_data_catalog_groups_listed_with_account_scope(client, emu):
    for base in ("/user/tokens", f"/accounts/{emu.account_id}/tokens"):
        groups = client.api("GET", base + "/permission_groups", emu.bootstrap_token).json()["result"]
        by_name = {g["name"]: g for g in groups}
        assert by_name["Workers R2 Data Catalog Write"] == {
            "id": CATALOG_WRITE, "name": "Workers R2 Data Catalog Write", "scopes": ["com.cloudflare.api.account"]}
        assert by_name["Workers R2 Data Catalog Read"] == {
            "id": CATALOG_READ, "name": "Workers R2 Data Catalog Read", "scopes": ["com.cloudflare.api.account"]}
    named = client.api("GET", "/user/tokens/permission_groups", emu.bootstrap_token,
                       params={"name": "Workers R2 Data Catalog Read"}).json()["result"]
    assert [g["id"] for g in named] == [CATALOG_READ]


def test_admin_levels_with_the_catalog_group(client, emu):
    """The dashboard's Admin levels: storage + catalog group on the account resource (REF §2)."""
    boot, aid = emu.bootstrap_token, emu.account_id
    for storage, catalog in ((R2_WRITE, CATALOG_WRITE), (R2_READ, CATALOG_READ)):
        body = {"name": "admin", "policies": [r2_policy(emu, storage, catalog)]}
        resp = client.api("POST", f"/accounts/{aid}/tokens", boot, json=body)
        assert resp.status_code == 200, resp.text
        names = [g["name"] for g in resp.json()["result"]["policies"][0]["permission_groups"]]
        assert names[1].startswith("Workers R2 Data Catalog")
        assert client.api("GET", f"/accounts/{aid}/r2/buckets", resp.json()["result"]["value"]).status_code == 200
    # A catalog group is account-scoped: not on a bucket resource; alone it gives no bucket API access.
    bucket_key = {f"com.cloudflare.edge.r2.bucket.{aid}_default_photos": "*"}
    wrong = client.api("POST", "/user/tokens", boot, json={"name": "x", "policies": [
        {"effect": "allow", "permission_groups": [{"id": CATALOG_READ}], "resources": bucket_key}]})
    assert wrong.status_code == 400
    catalog_only = client.api("POST", "/user/tokens", boot, json={
        "name": "catalog", "policies": [r2_policy(emu, CATALOG_WRITE)]}).json()["result"]
    assert client.api("GET", f"/accounts/{aid}/r2/buckets", catalog_only["value"]).status_code == 403


def test_s3_access_follows_the_storage_groups_alone(kit, s3emu):
    kit.bucket("lake", "us", objects=["t/part-0.parquet"])
    with_catalog = kit.token(policies=[r2_policy(s3emu, R2_READ, CATALOG_READ)])
    s3 = kit.token_s3(with_catalog, "us")
    assert outcome(s3.list_buckets) == "ok"
    assert outcome(lambda: s3.get_object(Bucket="lake", Key="t/part-0.parquet")) == "ok"
    assert outcome(lambda: s3.put_object(Bucket="lake", Key="t/x", Body=b"x")) == "AccessDenied"
    assert kit.last()["reason"] == "AccessDenied: admin_read_only does not allow PutObject in us/lake"
    catalog_only = kit.token_s3(kit.token(policies=[r2_policy(s3emu, CATALOG_WRITE)]), "us")
    assert outcome(catalog_only.list_buckets) == "AccessDenied"
    assert outcome(lambda: catalog_only.get_object(Bucket="lake", Key="t/part-0.parquet")) == "AccessDenied"
    assert kit.last()["reason"] == "AccessDenied: no R2 permission does not allow GetObject in us/lake"


# --- dead tokens on every S3 gateway ---------------------------------------------------------
@pytest.mark.parametrize("how", ["disabled", "expired", REVOKED])
def test_dead_tokens_refused_by_every_gateway(kit, s3emu, how):
    for j in JURISDICTIONS:
        kit.bucket("photos", j, objects=["cat.jpg"])
    tok = kit.token("admin-read-write")
    clients = {j: kit.token_s3(tok, j) for j in JURISDICTIONS}
    for s3 in clients.values():
        assert outcome(lambda s3=s3: s3.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    # Its children: an API-minted and a locally signed credential on the us endpoint.
    api_child, dummy = kit.mint_s3(tok, "photos", "object-read-only", "us")
    jwt_child = kit.jwt_s3(tok, "us", "photos", "object-read-only")
    for child in (api_child, jwt_child):
        assert outcome(lambda c=child: c.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    if how == "disabled":
        kit.client.admin("PATCH", f"/tokens/{tok['id']}", json={"status": "disabled"})
    elif how == "expired":
        kit.client.admin("POST", f"/tokens/{tok['id']}/expire")
    else:
        kit.client.admin("POST", f"/tokens/{tok['id']}/revoke")
    for j, s3 in clients.items():
        for call in (s3.list_buckets, lambda s3=s3: s3.get_object(Bucket="photos", Key="cat.jpg")):
            assert outcome(call) == "Unauthorized", j
            entry = kit.last()
            assert (entry["jurisdiction"], entry["status"], entry["credential"]) == (j, 401, "token")
            assert entry["reason"] == f"Unauthorized: token {tok['id']} is {how}"
    for child, kind in ((api_child, "temp-api"), (jwt_child, "temp-local")):
        assert outcome(lambda c=child: c.get_object(Bucket="photos", Key="cat.jpg")) == "AccessDenied"
        assert kit.last()["credential"] == kind
        assert kit.last()["reason"] == f"AccessDenied: parent token {tok['id']} is {how}"


def test_s3_use_sets_last_used_on(kit, s3emu):
    clock = s3emu.state.clock
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    tok = kit.token("object-read-only", [("eu", "photos")])
    assert kit.client.admin("GET", "/tokens").json()[-1]["last_used_on"] is None

    def last_used():
        return {t["id"]: t["last_used_on"] for t in kit.client.admin("GET", "/tokens").json()}[tok["id"]]
    clock.advance(120)
    bad = kit.s3("eu", tok["id"], "0" * 64)  # wrong secret: not a use
    assert outcome(lambda: bad.get_object(Bucket="photos", Key="cat.jpg")) == "SignatureDoesNotMatch"
    assert last_used() is None
    s3 = kit.token_s3(tok, "eu")
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="x", Body=b"x")) == "AccessDenied"  # denied, but used
    assert last_used() == iso(clock())
    clock.advance(120)
    jwt = kit.jwt_s3(tok, "eu", "photos", "object-read-only")  # signed with its secret, sent under its id
    assert outcome(lambda: jwt.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    assert last_used() == iso(clock())


# --- the us jurisdiction ---------------------------------------------------------------------
def test_us_gateway_resource_keys_and_audience(kit, s3emu):
    assert sorted(s3emu.s3_endpoints) == sorted(JURISDICTIONS)
    assert len(set(s3emu.s3_endpoints.values())) == 4
    kit.bucket("photos", "us", objects=["cat.jpg"])
    kit.bucket("photos", "default", objects=["cat.jpg"])
    scoped = kit.token("object-read-write", [("us", "photos")])
    assert scoped["policies"][0]["resources"] == {
        f"com.cloudflare.edge.r2.bucket.{s3emu.account_id}_us_photos": "*"}
    us = kit.token_s3(scoped, "us")
    assert outcome(lambda: us.put_object(Bucket="photos", Key="new.txt", Body=b"n")) == "ok"
    assert kit.last()["reason"] == "signature ok; object_read_write allows PutObject in us/photos"
    elsewhere = kit.token_s3(scoped, "default")  # same name, another jurisdiction: another bucket
    assert outcome(lambda: elsewhere.get_object(Bucket="photos", Key="cat.jpg")) == "AccessDenied"
    assert outcome(lambda: kit.admin_s3("eu").get_object(Bucket="photos", Key="new.txt")) == "NoSuchBucket"
    # A locally signed credential names its endpoint's canonical host: <account>.us.r2.cloudflarestorage.com
    parent = kit.token("admin-read-write")
    canonical = f"{s3emu.account_id}.us.r2.cloudflarestorage.com"
    good = kit.jwt_s3(parent, "us", "photos", "object-read-only", aud=canonical)
    assert outcome(lambda: good.get_object(Bucket="photos", Key="new.txt")) == "ok"
    moved = kit.jwt_s3(parent, "default", "photos", "object-read-only", aud=canonical)
    assert outcome(lambda: moved.get_object(Bucket="photos", Key="cat.jpg")) == "AccessDenied"
    assert kit.last()["reason"].endswith("is not this endpoint (default)")
