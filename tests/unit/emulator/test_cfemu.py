"""Behaviour tests for the Cloudflare API token emulator (tests/emulator/cfemu)."""

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

import requests  # noqa: E402

EMU_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))

R2_WRITE = "bf7481a1826f439697cb59a20b22293e"
R2_READ = "b4992e1108244f5d8bfbd5744320c2e1"
ITEM_WRITE = "2efd5506f9c8494dacb1fa10a3e7d5b6"
ITEM_READ = "6a018a9f2fc74eb6b293b0c548f38b39"
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def group_id(client, name):
    resp = client.api("GET", "/user/tokens/permission_groups", client.emu.bootstrap_token, params={"name": name})
    (group,) = resp.json()["result"]
    return group["id"]


def acct(emu):
    return {f"com.cloudflare.api.account.{emu.account_id}": "*"}


def r2_body(emu, name="r2 admin", gid=R2_WRITE, **extra):
    return dict({"name": name, "policies": [
        {"effect": "allow", "permission_groups": [{"id": gid}], "resources": acct(emu)}]}, **extra)


def bucket_body(emu, bucket="my-bucket", jurisdiction="default", gid=ITEM_READ):
    key = f"com.cloudflare.edge.r2.bucket.{emu.account_id}_{jurisdiction}_{bucket}"
    return {"name": "bucket", "policies": [{"effect": "allow", "permission_groups": [{"id": gid}],
                                            "resources": {key: "*"}}]}


def create(client, body, scope="user", token=None):
    path = "/user/tokens" if scope == "user" else f"/accounts/{client.emu.account_id}/tokens"
    return client.api("POST", path, token or client.emu.bootstrap_token, json=body)


def error_codes(resp):
    body = resp.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    assert all(e["code"] >= 1000 for e in body["errors"])
    return [e["code"] for e in body["errors"]]


# --- basics -------------------------------------------------------------------------

def test_both_base_paths_and_headers(client, emu):
    for url in (emu.api_url + "/user/tokens/verify", emu.api_url.replace("/client/v4", "") + "/user/tokens/verify"):
        resp = client.http.get(url, headers={"Authorization": f"Bearer {emu.bootstrap_token}"})
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["cf-ray"]
        assert re.fullmatch(r'"default";r=\d+;t=\d+', resp.headers["Ratelimit"])
        assert resp.headers["Ratelimit-Policy"] == '"default";q=1200;w=300'
    body = resp.json()
    assert body["result"] == {"id": emu.state.bootstrap_id, "status": "active"}
    assert body["messages"] == [{"code": 10000, "message": "This API Token is valid and active"}]
    assert emu.bootstrap_token.startswith("cfut_") and len(emu.bootstrap_token) == 53


@pytest.mark.parametrize("header,status,codes", [
    (None, 400, [6003, 9106]),
    ("Basic abc", 400, [6003, 6111]),
    ("Bearer", 400, [6003, 6111]),
    ("Bearer cfut_doesnotexist0000000000000000000000000000", 401, [1000]),
])
def test_auth_errors(client, header, status, codes):
    headers = {"Authorization": header} if header else {}
    resp = client.api("GET", "/user/tokens", headers=headers)
    assert resp.status_code == status
    assert error_codes(resp) == codes


def test_verify_accepts_only_its_own_token_kind(client, emu):
    user_tok = create(client, r2_body(emu)).json()["result"]["value"]
    acct_tok = create(client, r2_body(emu), scope="account").json()["result"]["value"]
    user_verify, acct_verify = "/user/tokens/verify", f"/accounts/{emu.account_id}/tokens/verify"
    assert client.api("GET", user_verify, user_tok).status_code == 200
    assert client.api("GET", acct_verify, acct_tok).status_code == 200
    for path, tok in ((user_verify, acct_tok), (acct_verify, user_tok),
                      (f"/accounts/{'0' * 32}/tokens/verify", acct_tok)):
        resp = client.api("GET", path, tok)
        assert resp.status_code == 401 and error_codes(resp) == [1000]


# --- create -----------------------------------------------------------------------

def test_create_user_token_shape_and_use(client, emu):
    resp = create(client, r2_body(emu))
    assert resp.status_code == 200, resp.text
    tok = resp.json()["result"]
    assert HEX32.match(tok["id"]) and tok["name"] == "r2 admin" and tok["status"] == "active"
    assert DATE.match(tok["issued_on"]) and DATE.match(tok["modified_on"])
    assert tok["last_used_on"] is None
    assert not {"expires_on", "not_before", "condition"} & set(tok)
    assert re.fullmatch(r"cfut_[A-Za-z0-9]{40}[0-9a-f]{8}", tok["value"])
    (pol,) = tok["policies"]
    assert HEX32.match(pol["id"])
    assert pol["permission_groups"] == [{"id": R2_WRITE, "name": "Workers R2 Storage Write"}]
    assert pol["resources"] == acct(emu)
    verify = client.api("GET", "/user/tokens/verify", tok["value"]).json()["result"]
    assert verify == {"id": tok["id"], "status": "active"}
    got = client.api("GET", f"/user/tokens/{tok['id']}", emu.bootstrap_token).json()["result"]
    assert DATE.match(got["last_used_on"]) and "value" not in got


def test_create_account_token(client, emu):
    body = r2_body(emu, expires_on="2099-01-01T00:00:00Z", not_before="2020-01-01T00:00:00+00:00")
    tok = create(client, body, scope="account").json()["result"]
    assert tok["value"].startswith("cfat_")
    assert tok["expires_on"] == "2099-01-01T00:00:00Z" and tok["not_before"] == "2020-01-01T00:00:00Z"
    acct_ids = [t["id"] for t in client.api("GET", f"/accounts/{emu.account_id}/tokens",
                                            emu.bootstrap_token).json()["result"]]
    user_ids = [t["id"] for t in client.api("GET", "/user/tokens", emu.bootstrap_token).json()["result"]]
    assert tok["id"] in acct_ids and tok["id"] not in user_ids
    assert client.api("GET", f"/user/tokens/{tok['id']}", emu.bootstrap_token).status_code == 404


def _bad(mutate):
    def build(emu):
        body = r2_body(emu)
        mutate(body, emu)
        return body
    return build


@pytest.mark.parametrize("build,field", [
    (_bad(lambda b, e: b.pop("name")), "name"),
    (_bad(lambda b, e: b.update(name="x" * 121)), "name"),
    (_bad(lambda b, e: b.update(policies=[])), "policies"),
    (_bad(lambda b, e: b["policies"][0].update(effect="maybe")), "effect"),
    (_bad(lambda b, e: b["policies"][0].update(permission_groups=[{"id": "f" * 32}])), "permission_groups"),
    (_bad(lambda b, e: b["policies"][0].update(resources={})), "resources"),
    (_bad(lambda b, e: b["policies"][0].update(resources={"com.cloudflare.api.account.1234": "*"})), "resources"),
    (_bad(lambda b, e: b["policies"][0].update(resources={f"com.cloudflare.api.account.{'a' * 32}": "*"})),
     "resources"),
    # bucket-item group with an account resource: wrong scope
    (_bad(lambda b, e: b["policies"][0].update(permission_groups=[{"id": ITEM_READ}])), "resources"),
    # bucket of another account / unknown jurisdiction
    (_bad(lambda b, e: b["policies"][0].update(permission_groups=[{"id": ITEM_READ}], resources={
        f"com.cloudflare.edge.r2.bucket.{'a' * 32}_default_b1": "*"})), "resources"),
    (_bad(lambda b, e: b["policies"][0].update(permission_groups=[{"id": ITEM_READ}], resources={
        f"com.cloudflare.edge.r2.bucket.{e.account_id}_us_b1": "*"})), "resources"),
    (_bad(lambda b, e: b.update(condition={"request_ip": {"in": ["10.0.0.1"]}})), "condition"),
    (_bad(lambda b, e: b.update(condition={"request_ip": {"in": ["300.0.0.0/8"]}})), "condition"),
    (_bad(lambda b, e: b.update(expires_on="2001-01-01T00:00:00Z")), "expires_on"),
    (_bad(lambda b, e: b.update(expires_on="tomorrow")), "expires_on"),
    (_bad(lambda b, e: b.update(expires_on="2090-01-01T00:00:00Z", not_before="2091-01-01T00:00:00Z")),
     "expires_on"),
])
def test_create_validation(client, emu, build, field):
    resp = create(client, build(emu))
    assert resp.status_code == 400
    assert error_codes(resp) == [1001]
    assert field in resp.json()["errors"][0]["message"]


def test_create_malformed_json_and_user_group_on_account_token(client, emu):
    resp = client.api("POST", "/user/tokens", emu.bootstrap_token, data="{nope",
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and error_codes(resp) == [6007]
    body = {"name": "x", "policies": [{"effect": "allow", "permission_groups": [
        {"id": group_id(client, "API Tokens Read")}], "resources": {f"com.cloudflare.api.user.{emu.user_id}": "*"}}]}
    assert create(client, body).status_code == 200
    resp = create(client, body, scope="account")
    assert resp.status_code == 400 and "account-owned" in resp.json()["errors"][0]["message"]


@pytest.mark.parametrize("jurisdiction", ["default", "eu", "fedramp"])
def test_bucket_resources_accepted(client, emu, jurisdiction):
    # Like Cloudflare, no check that the bucket exists.
    assert create(client, bucket_body(emu, "no-such-bucket", jurisdiction, ITEM_WRITE)).status_code == 200


def test_nested_all_buckets_and_mixed_policy(client, emu):
    nested = {f"com.cloudflare.api.account.{emu.account_id}": {"com.cloudflare.edge.r2.bucket.*": "*"}}
    body = {"name": "all buckets", "policies": [
        {"effect": "allow", "permission_groups": [{"id": ITEM_READ}], "resources": nested},
        {"effect": "allow", "permission_groups": [{"id": R2_READ}], "resources": {"com.cloudflare.api.account.*": "*"}}]}
    resp = create(client, body, scope="account")
    assert resp.status_code == 200, resp.text
    assert resp.json()["result"]["policies"][0]["resources"] == nested


def test_condition_legacy_key_and_enforcement(client, emu):
    legacy = create(client, r2_body(emu, condition={"request.ip": {"in": ["127.0.0.0/8"]}})).json()["result"]
    assert legacy["condition"] == {"request_ip": {"in": ["127.0.0.0/8"]}}
    assert client.api("GET", "/user/tokens/verify", legacy["value"]).status_code == 200
    for cond in ({"in": ["10.0.0.0/8", "2001:db8::/32"]}, {"not_in": ["127.0.0.1/32"]}):
        tok = create(client, r2_body(emu, condition={"request_ip": cond})).json()["result"]
        resp = client.api("GET", "/user/tokens/verify", tok["value"])
        assert resp.status_code == 403 and error_codes(resp) == [9109]
        assert "127.0.0.1" in resp.json()["errors"][0]["message"]


# --- get / update / delete / roll ----------------------------------------------------

def test_update_roll_delete_lifecycle(client, emu, clock):
    boot = emu.bootstrap_token
    tok = create(client, r2_body(emu)).json()["result"]
    path = f"/user/tokens/{tok['id']}"
    clock.advance(60)
    update = r2_body(emu, name="renamed", condition={"request_ip": {"in": ["127.0.0.1/32"]}},
                     expires_on="2099-01-01T00:00:00Z")
    update["policies"][0]["id"] = tok["policies"][0]["id"]
    resp = client.api("PUT", path, boot, json=update)
    assert resp.status_code == 200, resp.text
    got = resp.json()["result"]
    assert got["name"] == "renamed" and got["modified_on"] > got["issued_on"] == tok["issued_on"]
    assert got["policies"][0]["id"] == tok["policies"][0]["id"]
    assert got["condition"] == {"request_ip": {"in": ["127.0.0.1/32"]}} and "value" not in got
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 200  # value kept

    client.api("PUT", path, boot, json=dict(update, status="disabled"))
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 401
    assert client.api("GET", path, boot).json()["result"]["status"] == "disabled"
    client.api("PUT", path, boot, json=dict(update, status="active"))

    rolled = client.api("PUT", path + "/value", boot, json={})
    assert rolled.status_code == 200
    new_value = rolled.json()["result"]
    assert isinstance(new_value, str) and new_value.startswith("cfut_") and new_value != tok["value"]
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 401
    assert client.api("GET", "/user/tokens/verify", new_value).json()["result"]["id"] == tok["id"]
    assert client.api("GET", path, boot).json()["result"]["policies"] == got["policies"]

    deleted = client.api("DELETE", path, boot)
    assert deleted.json()["result"] == {"id": tok["id"]}
    for method in ("GET", "PUT", "DELETE"):
        resp = client.api(method, path, boot, json=update)
        assert resp.status_code == 404 and error_codes(resp) == [1003]
    assert client.api("PUT", path + "/value", boot, json={}).status_code == 404
    assert client.api("GET", "/user/tokens/verify", new_value).status_code == 401


def test_update_validates_status(client, emu):
    tok = create(client, r2_body(emu)).json()["result"]
    resp = client.api("PUT", f"/user/tokens/{tok['id']}", emu.bootstrap_token, json=r2_body(emu, status="expired"))
    assert resp.status_code == 400 and "status" in resp.json()["errors"][0]["message"]


def test_expiry_and_not_before(client, emu, clock):
    tok = create(client, r2_body(emu, expires_on="2030-04-01T00:00:00Z")).json()["result"]
    later = create(client, r2_body(emu, not_before="2030-05-01T00:00:00Z")).json()["result"]
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 200
    assert client.api("GET", "/user/tokens/verify", later["value"]).status_code == 401
    clock.now = 1_900_000_000 + 90 * 86400  # mid June 2030
    assert client.api("GET", "/user/tokens/verify", tok["value"]).status_code == 401
    assert client.api("GET", "/user/tokens/verify", later["value"]).status_code == 200
    resp = client.api("GET", f"/user/tokens/{tok['id']}", emu.bootstrap_token)
    assert resp.json()["result"]["status"] == "expired"


# --- list / permission groups --------------------------------------------------------

def test_list_pagination_order_and_include_expired(client, emu, clock):
    ids = []
    for i in range(11):
        clock.advance(1)
        ids.append(create(client, r2_body(emu, name=f"t{i}")).json()["result"]["id"])
    client.seed(name="old", expires_on="2001-01-01T00:00:00Z")
    boot = emu.bootstrap_token
    page2 = client.api("GET", "/user/tokens", boot, params={"page": 2, "per_page": 5}).json()
    assert page2["result_info"] == {"page": 2, "per_page": 5, "count": 5, "total_count": 12, "total_pages": 3}
    # bootstrap was issued first (real clock is before the fake one)
    assert [t["id"] for t in page2["result"]] == ids[4:9]
    desc = client.api("GET", "/user/tokens", boot, params={"direction": "desc", "per_page": 50}).json()
    assert [t["id"] for t in desc["result"]][:11] == ids[::-1]
    everything = client.api("GET", "/user/tokens", boot, params={"include_expired": "true", "per_page": 50}).json()
    assert everything["result_info"]["total_count"] == 13
    assert "expired" in [t["status"] for t in everything["result"]]
    default = client.api("GET", "/user/tokens", boot).json()
    assert default["result_info"]["per_page"] == 20 and default["result_info"]["page"] == 1


@pytest.mark.parametrize("params", [{"per_page": 4}, {"per_page": 51}, {"page": 0}, {"page": "x"},
                                    {"direction": "up"}, {"include_expired": "maybe"}])
def test_list_rejects_bad_query(client, emu, params):
    resp = client.api("GET", "/user/tokens", emu.bootstrap_token, params=params)
    assert resp.status_code == 400 and error_codes(resp) == [1001]


def test_permission_groups(client, emu):
    boot = emu.bootstrap_token
    groups = client.api("GET", "/user/tokens/permission_groups", boot).json()["result"]
    by_name = {g["name"]: g for g in groups}
    assert by_name["Workers R2 Storage Write"] == {"id": R2_WRITE, "name": "Workers R2 Storage Write",
                                                   "scopes": ["com.cloudflare.api.account"]}
    assert by_name["Workers R2 Storage Read"]["id"] == R2_READ
    assert by_name["Workers R2 Storage Bucket Item Write"]["id"] == ITEM_WRITE
    assert by_name["Workers R2 Storage Bucket Item Read"]["scopes"] == ["com.cloudflare.edge.r2.bucket"]
    assert {"API Tokens Write", "Account API Tokens Read", "Zone Read"} <= set(by_name)
    named = client.api("GET", "/user/tokens/permission_groups?name=Workers%20R2%20Storage%20Read", boot).json()
    assert [g["id"] for g in named["result"]] == [R2_READ]
    scoped = client.api("GET", "/user/tokens/permission_groups", boot,
                        params={"scope": "com.cloudflare.edge.r2.bucket"}).json()["result"]
    assert {g["id"] for g in scoped} == {ITEM_READ, ITEM_WRITE}
    acct_groups = client.api("GET", f"/accounts/{emu.account_id}/tokens/permission_groups", boot).json()["result"]
    assert "API Tokens Write" not in {g["name"] for g in acct_groups} and len(acct_groups) == len(groups) - 2


# --- permissions, quotas, rate limits ------------------------------------------------

def test_permissions(client, emu):
    r2_only = create(client, r2_body(emu)).json()["result"]["value"]
    for path in ("/user/tokens", "/user/tokens/permission_groups", f"/accounts/{emu.account_id}/tokens"):
        resp = client.api("GET", path, r2_only)
        assert resp.status_code == 403 and error_codes(resp) == [9109]
    # verify needs no permission
    assert client.api("GET", "/user/tokens/verify", r2_only).status_code == 200

    reader = client.seed(owner="account", policies=[{"effect": "allow", "resources": acct(emu),
                                                     "permission_groups": [{"id": group_id(client, "Account API Tokens Read")}]}])
    acct_path = f"/accounts/{emu.account_id}/tokens"
    assert client.api("GET", acct_path, reader["value"]).status_code == 200
    assert client.api("POST", acct_path, reader["value"], json=r2_body(emu)).status_code == 403
    assert client.api("GET", "/user/tokens", reader["value"]).status_code == 403

    writer_id = group_id(client, "Account API Tokens Write")
    denied = client.seed(owner="user", policies=[
        {"effect": "allow", "resources": acct(emu), "permission_groups": [{"id": writer_id}]},
        {"effect": "deny", "resources": acct(emu), "permission_groups": [{"id": writer_id}]}])
    assert client.api("GET", acct_path, denied["value"]).status_code == 403


def test_unknown_or_malformed_account(client, emu):
    resp = client.api("GET", f"/accounts/{'0' * 32}/tokens", emu.bootstrap_token)
    assert resp.status_code == 403 and error_codes(resp) == [9109]
    resp = client.api("GET", "/accounts/not-an-account/tokens", emu.bootstrap_token)
    assert resp.status_code == 404 and error_codes(resp) == [7003]


def test_quotas(client, emu):
    client.seed(owner="user", count=48)  # + bootstrap = 49
    assert create(client, r2_body(emu)).status_code == 200
    resp = create(client, r2_body(emu))
    assert resp.status_code == 400 and error_codes(resp) == [1002] and "50" in resp.json()["errors"][0]["message"]
    client.seed(owner="account", count=500)
    resp = create(client, r2_body(emu), scope="account")
    assert resp.status_code == 400 and "500" in resp.json()["errors"][0]["message"]


def test_rate_limit(client, emu, clock):
    assert client.admin("POST", "/config", json={"rate_limit": 3, "rate_window": 60, "rate_block": 30}).ok
    boot = emu.bootstrap_token
    remaining = [client.api("GET", "/user/tokens/verify", boot).headers["Ratelimit"] for dummy in range(3)]
    assert remaining == ['"default";r=2;t=60', '"default";r=1;t=60', '"default";r=0;t=60']
    for dummy in range(2):
        resp = client.api("GET", "/user/tokens", boot)
        assert resp.status_code == 429 and error_codes(resp) == [10429]
        assert resp.headers["retry-after"] == "30" and resp.headers["Ratelimit"] == '"default";r=0;t=30'
    other = client.seed(name="other")["value"]  # limits are per token
    assert client.api("GET", "/user/tokens/verify", other).status_code == 200
    clock.advance(31)
    assert client.api("GET", "/user/tokens/verify", boot).status_code == 200


# --- routing -----------------------------------------------------------------------

def test_unknown_routes_and_methods(client, emu):
    boot = emu.bootstrap_token
    resp = client.api("GET", "/zones", boot)
    assert resp.status_code == 404 and error_codes(resp) == [7003]
    for method, path in (("PATCH", "/user/tokens"), ("POST", "/user/tokens/verify"),
                         ("DELETE", f"/accounts/{emu.account_id}/tokens")):
        resp = client.api(method, path, boot)
        assert resp.status_code == 405 and error_codes(resp) == [7001]
    head = client.api("HEAD", "/user/tokens", boot)
    assert head.status_code == 404 and head.content == b""


# --- admin API -----------------------------------------------------------------------

def test_stats_log(client, emu):
    client.admin("POST", "/stats/reset")
    tok = create(client, r2_body(emu)).json()["result"]
    create(client, {"name": ""})  # rejected write still counts
    client.api("DELETE", "/nowhere", emu.bootstrap_token)
    client.api("GET", "/user/tokens/verify", tok["value"])
    stats = client.admin("GET", "/stats").json()
    assert stats["total"] == 4 and stats["writes"] == 3
    assert stats["counts"] == {"POST /user/tokens": 2, "(no route)": 1, "GET /user/tokens/verify": 1}
    first = stats["requests"][0]
    assert first == {"seq": 1, "method": "POST", "path": "/client/v4/user/tokens", "route": "POST /user/tokens",
                     "status": 200, "token_id": emu.state.bootstrap_id, "fault": None}
    assert stats["requests"][3]["token_id"] == tok["id"]
    dump = json.dumps(stats)
    assert emu.bootstrap_token not in dump and tok["value"] not in dump
    client.admin("POST", "/stats/reset")
    assert client.admin("GET", "/stats").json() == {"requests": [], "counts": {}, "writes": 0, "total": 0,
                                                    "s3_requests": []}


def test_faults_status_skip_and_list(client, emu):
    route = "POST /user/tokens"
    faults = {"faults": [{"route": route, "action": "503", "skip": 1, "times": 2},
                         {"path_regex": "/verify$", "action": "429", "retry_after": 7}]}
    assert client.admin("POST", "/faults", json=faults).ok
    codes = [create(client, r2_body(emu)).status_code for dummy in range(4)]
    assert codes == [200, 503, 503, 200]
    resp = client.api("GET", "/user/tokens/verify", emu.bootstrap_token)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7" and error_codes(resp) == [10429]
    assert client.admin("GET", "/faults").json() == {"faults": []}
    client.admin("POST", "/faults", json={"faults": [{"method": "GET", "action": "500", "times": None}]})
    assert len(client.admin("GET", "/faults").json()["faults"]) == 1
    assert client.api("GET", "/user/tokens", emu.bootstrap_token).status_code == 500
    client.admin("DELETE", "/faults")
    assert client.api("GET", "/user/tokens", emu.bootstrap_token).status_code == 200
    stats = client.admin("GET", "/stats").json()["requests"]
    assert [r["fault"] for r in stats if r["status"] == 503] == ["503", "503"]
    assert client.admin("POST", "/faults", json={"faults": [{"action": "explode"}]}).status_code == 400


def test_faults_malformed_and_reset(client, emu):
    client.admin("POST", "/faults", json={"faults": [
        {"route": "GET /user/tokens", "action": "malformed"},
        {"route": "POST /user/tokens", "action": "reset", "process": True}]})
    resp = client.api("GET", "/user/tokens", emu.bootstrap_token)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    before = len(client.admin("GET", "/tokens").json())
    with pytest.raises(requests.ConnectionError):
        create(client, r2_body(emu, name="reset but created"))
    names = [t["name"] for t in client.admin("GET", "/tokens").json()]
    assert len(names) == before + 1 and "reset but created" in names
    assert client.api("GET", "/user/tokens/verify", emu.bootstrap_token).status_code == 200


@pytest.mark.parametrize("process", [True, False])
def test_fault_timeout(client, emu, process):
    client.admin("POST", "/faults", json={"faults": [
        {"route": "POST /user/tokens", "action": "timeout", "delay": 0.5, "process": process}]})
    with pytest.raises(requests.Timeout):
        client.api("POST", "/user/tokens", emu.bootstrap_token, json=r2_body(emu, name="slow"), timeout=0.2)
    time.sleep(0.6)  # past the fault's delay: a late create would show up now
    names = [t["name"] for t in client.admin("GET", "/tokens").json()]
    # process=True: applied, answer lost; process=False: client gone, never applied
    assert ("slow" in names) is process
    entry = client.admin("GET", "/stats").json()["requests"][-1]
    assert entry["fault"] == "timeout" and entry["status"] == (200 if process else None)


def test_fault_timeout_eventually_answers(client, emu):
    client.admin("POST", "/faults", json={"faults": [{"route": "GET /user/tokens/verify", "action": "timeout",
                                                      "delay": 0.2}]})
    assert client.api("GET", "/user/tokens/verify", emu.bootstrap_token, timeout=5).status_code == 200


def test_admin_tokens_seed_delete_reset(client, emu):
    seeded = client.seed(owner="account", name="dup", status="disabled")
    assert seeded["value"].startswith("cfat_") and seeded["status"] == "disabled"
    listing = client.admin("GET", "/tokens").json()
    assert {t["owner"] for t in listing} == {"user", "account"}
    assert all("value" not in t for t in listing)
    assert listing[0]["name"] == "emulator bootstrap"
    assert client.admin("POST", "/tokens", json={"owner": "nobody"}).status_code == 400
    client.admin("DELETE", "/tokens")
    assert [t["id"] for t in client.admin("GET", "/tokens").json()] == [emu.state.bootstrap_id]
    client.api("DELETE", f"/user/tokens/{emu.state.bootstrap_id}", emu.bootstrap_token)
    assert client.api("GET", "/user/tokens/verify", emu.bootstrap_token).status_code == 401
    client.admin("POST", "/reset")
    assert client.api("GET", "/user/tokens/verify", emu.bootstrap_token).status_code == 200
    assert client.admin("GET", "/info").json()["account_id"] == emu.account_id
    assert client.admin("GET", "/nope").status_code == 404


def test_admin_issued_lists_every_secret_handed_out_until_reset(client, emu):
    created = client.api("POST", "/user/tokens", emu.bootstrap_token, json=r2_body(emu, name="ledger")).json()["result"]
    rolled = client.api("PUT", f"/user/tokens/{created['id']}/value", emu.bootstrap_token, json={}).json()["result"]
    issued = client.admin("GET", "/issued").json()["secrets"]
    assert issued == [created["value"], hashlib.sha256(created["value"].encode()).hexdigest(),
                      rolled, hashlib.sha256(rolled.encode()).hexdigest()]
    assert emu.bootstrap_token not in issued
    client.admin("POST", "/reset")
    assert client.admin("GET", "/issued").json() == {"secrets": []}


def test_bootstrap_listed_with_expected_policies(client, emu):
    (boot,) = client.api("GET", "/user/tokens", emu.bootstrap_token).json()["result"]
    assert boot["name"] == "emulator bootstrap" and boot["id"] == emu.state.bootstrap_id
    names = sorted(g["name"] for p in boot["policies"] for g in p["permission_groups"])
    assert names == ["API Tokens Write", "Account API Tokens Write", "Workers R2 Storage Write"]


# --- CLI --------------------------------------------------------------------------------

def test_cli(tmp_path):
    info_file = tmp_path / "emu.json"
    env = dict(os.environ, PYTHONPATH=EMU_DIR, CFEMU_BOOTSTRAP_TOKEN="x" * 40)
    cmd = [sys.executable, "-m", "cfemu", "--port", "0", "--account-id", "a" * 32, "--info-file", str(info_file)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)  # pylint: disable=consider-using-with
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {"api_url", "admin_url", "account_id", "user_id", "bootstrap_token", "pid"}
        assert info["account_id"] == "a" * 32 and info["bootstrap_token"] == "x" * 40 and info["pid"] == proc.pid
        assert json.loads(info_file.read_text()) == info
        assert stat.S_IMODE(info_file.stat().st_mode) == 0o600
        resp = requests.get(info["api_url"] + "/user/tokens/verify",
                            headers={"Authorization": "Bearer " + "x" * 40}, timeout=5)
        assert resp.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
