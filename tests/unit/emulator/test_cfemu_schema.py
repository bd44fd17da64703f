"""Every kind of emulator response must validate against Cloudflare's OpenAPI extract.

The schema is looked up in $CFEMU_OPENAPI, then anywhere under tests/, then in
/work/shared/cloudflare-openapi/.  OpenAPI 3.0 `nullable` is translated to
JSON Schema; successes use the operation's 200 schema, errors the 4XX one.
"""

import json
import os
import re

import pytest

from cfemu.server import match_route

import jsonschema  # noqa: E402  (listed in tests/requirements.txt)

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "r2-credentials.openapi.json"
DATE_FIELDS = ("issued_on", "modified_on", "last_used_on", "expires_on", "not_before")


R2_WRITE = "bf7481a1826f439697cb59a20b22293e"
ITEM_READ = "6a018a9f2fc74eb6b293b0c548f38b39"


def acct(emu):
    return {f"com.cloudflare.api.account.{emu.account_id}": "*"}


def r2_body(emu, name="r2 admin", **extra):
    policy = {"effect": "allow", "permission_groups": [{"id": R2_WRITE}], "resources": acct(emu)}
    return dict({"name": name, "policies": [policy]}, **extra)


def bucket_body(emu):
    key = f"com.cloudflare.edge.r2.bucket.{emu.account_id}_eu_my-bucket"
    return {"name": "bucket", "policies": [{"effect": "allow", "permission_groups": [{"id": ITEM_READ}],
                                            "resources": {key: "*"}}]}


def _find_schema():
    # shared/ lies beside the repo (CI) and the tests may run from a staged copy
    # inside it, so walk up from here looking for shared/cloudflare-openapi/.
    candidates = [os.environ.get("R2_OPENAPI_SPEC", ""), os.environ.get("CFEMU_OPENAPI", "")]
    folder = os.path.abspath(HERE)
    while os.path.dirname(folder) != folder:
        candidates.append(os.path.join(folder, "shared", "cloudflare-openapi", NAME))
        folder = os.path.dirname(folder)
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    return None


def _to_jsonschema(node):
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a null type."""
    if isinstance(node, list):
        return [_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    return out


@pytest.fixture(scope="module")
def spec():
    path = _find_schema()
    assert path is not None, f"{NAME} not found: set R2_OPENAPI_SPEC"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _validator(spec, template, method, status):
    op = spec["paths"][template][method.lower()]
    resp = op["responses"]["200" if status == 200 else "4XX"]
    schema = {"allOf": [_to_jsonschema(resp["content"]["application/json"]["schema"])],
              "components": _to_jsonschema(spec["components"])}
    return jsonschema.Draft202012Validator(schema)


def _check_dates(node):
    if isinstance(node, dict):
        for key, val in node.items():
            if key in DATE_FIELDS and val is not None:
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", val), (key, val)
            _check_dates(val)
    elif isinstance(node, list):
        for item in node:
            _check_dates(item)


def test_all_response_kinds_validate(client, emu, spec):
    boot, aid = emu.bootstrap_token, emu.account_id
    seen = []

    def call(method, path, token=boot, **kwargs):
        resp = client.api(method, path, token, **kwargs)
        seen.append((method, path, resp))
        return resp

    for scope, base in (("user", "/user/tokens"), ("account", f"/accounts/{aid}/tokens")):
        full = r2_body(emu, condition={"request.ip": {"in": ["127.0.0.0/8"], "not_in": ["10.0.0.0/8"]}},
                       expires_on="2099-01-01T00:00:00Z", not_before="2020-01-01T00:00:00Z")
        tok = call("POST", base, json=full).json()["result"]
        call("POST", base, json=bucket_body(emu))
        call("POST", base, json={"name": "bad"})  # 400
        call("POST", base, data="{", headers={"Content-Type": "application/json"})  # 400 6007
        call("GET", base)
        call("GET", base, params={"page": 2, "per_page": 5, "direction": "desc", "include_expired": "true"})
        call("GET", base, params={"per_page": 500})  # 400
        call("GET", f"{base}/{tok['id']}")
        call("GET", f"{base}/{'0' * 32}")  # 404
        call("PUT", f"{base}/{tok['id']}", json=dict(r2_body(emu, name="renamed"), status="disabled"))
        call("PUT", f"{base}/{tok['id']}/value", json={})
        call("GET", f"{base}/verify", tok["value"])  # 401 (rolled)
        call("GET", f"{base}/permission_groups", params={"name": "Workers R2 Storage Write"})
        call("GET", f"{base}/permission_groups")
        call("DELETE", f"{base}/{tok['id']}")
        call("GET", base, token=None)  # 400 6003
        call("GET", base, token="nope" * 10)  # 401
        limited = client.seed(owner=scope, policies=[{"effect": "allow", "permission_groups": [{"id": R2_WRITE}],
                                                      "resources": acct(emu)}])["value"]
        call("GET", base, token=limited)  # 403
        call("GET", f"{base}/verify", token=limited)
        # Observed statuses (REF §8): revoked (exposed) and expired, in GET, list, PUT and roll answers.
        revoked = client.seed(owner=scope, status="revoked (exposed)", issued_on="2020-01-01T00:00:00Z",
                              last_used_on="2020-06-01T00:00:00Z", policies=full["policies"])
        expired = client.seed(owner=scope, expires_on="2021-01-01T00:00:00Z", policies=full["policies"])
        assert call("GET", f"{base}/{revoked['id']}").json()["result"]["status"] == "revoked (exposed)"
        assert call("GET", f"{base}/{expired['id']}").json()["result"]["status"] == "expired"
        listed = call("GET", base, params={"include_expired": "true", "per_page": 50}).json()["result"]
        assert {"revoked (exposed)", "expired", "active"} <= {t["status"] for t in listed}
        assert call("PUT", f"{base}/{revoked['id']}", json=r2_body(emu)).status_code == 400
        assert call("PUT", f"{base}/{revoked['id']}/value", json={}).status_code == 400
        assert call("PUT", f"{base}/{expired['id']}", json=r2_body(emu, status="expired")).status_code == 400
        assert call("PUT", f"{base}/{expired['id']}/value", json={}).status_code == 200
        assert call("GET", f"{base}/verify", token=revoked["value"]).status_code == 401
    call("GET", f"/accounts/{'0' * 32}/tokens")  # 403
    client.admin("POST", "/faults", json={"faults": [{"route": "GET /user/tokens", "action": "429"},
                                                     {"route": "GET /user/tokens", "action": "502"}]})
    call("GET", "/user/tokens")
    call("GET", "/user/tokens")
    client.admin("POST", "/config", json={"rate_limit": 1})
    call("GET", "/user/tokens/verify")
    call("GET", "/user/tokens/verify")  # 429 rate limited

    statuses = set()
    for method, path, resp in seen:
        template = match_route(method, path)[0].split(" ", 1)[1]
        body = resp.json()
        _validator(spec, template, method, resp.status_code).validate(body)
        _check_dates(body)
        statuses.add(resp.status_code)
    assert statuses == {200, 400, 401, 403, 404, 429, 502}


def test_route_table_matches_schema(spec):
    """The emulator serves exactly the schema's 16 token operations, same templates."""
    ops = [(m.upper(), t) for t, item in spec["paths"].items() if "/tokens" in t for m in item]
    assert len(ops) == 16
    for method, template in ops:
        path = template.replace("{account_id}", "a" * 32).replace("{token_id}", "b" * 32)
        assert match_route(method, path)[0] == f"{method} {template}"


R2_READ = "b4992e1108244f5d8bfbd5744320c2e1"


def test_r2_responses_validate(client, emu, spec):
    """Bucket list/create and temp-access-credentials: every kind of answer, per jurisdiction."""
    boot, aid = emu.bootstrap_token, emu.account_id
    buckets, temp = f"/accounts/{aid}/r2/buckets", f"/accounts/{aid}/r2/temp-access-credentials"
    seen = []

    def call(method, path, token=boot, jurisdiction=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if jurisdiction:
            headers["cf-r2-jurisdiction"] = jurisdiction
        resp = client.api(method, path, token, headers=headers, **kwargs)
        seen.append((method, path, resp))
        return resp

    for jurisdiction in (None, "default", "eu", "fedramp", "us"):
        assert call("POST", buckets, jurisdiction=jurisdiction,
                    json={"name": f"b-{jurisdiction or 'none'}"}).status_code in (200, 409)
    call("POST", buckets, jurisdiction="eu", json={"name": "hinted", "locationHint": "apac",
                                                   "storageClass": "InfrequentAccess"})
    assert call("POST", buckets, jurisdiction="eu", json={"name": "hinted"}).status_code == 409
    assert call("POST", buckets, json={"name": "Bad_Name"}).status_code == 400
    assert call("POST", buckets, json={"name": "ok-name", "locationHint": "mars"}).status_code == 400
    assert call("POST", buckets, data="{", headers={"Content-Type": "application/json"}).status_code == 400
    for jurisdiction in ("default", "eu", "fedramp", "us"):
        body = call("GET", buckets, jurisdiction=jurisdiction).json()
        assert {b["jurisdiction"] for b in body["result"]["buckets"]} == {jurisdiction}
    first = call("GET", buckets, jurisdiction="eu", params={"per_page": 1}).json()
    call("GET", buckets, jurisdiction="eu", params={"per_page": 1, "cursor": first["result_info"]["cursor"]})
    call("GET", buckets, params={"name_contains": "def", "direction": "desc", "order": "name", "start_after": "z"})
    assert call("GET", buckets, params={"per_page": 0}).status_code == 400
    assert call("GET", buckets, params={"cursor": "garbage"}).status_code == 400
    assert call("GET", buckets, token=None).status_code == 400
    assert call("GET", buckets, token="nope" * 10).status_code == 401
    reader = client.seed(policies=[{"effect": "allow", "permission_groups": [{"id": R2_READ}],
                                    "resources": acct(emu)}])
    assert call("GET", buckets, token=reader["value"]).status_code == 200
    assert call("POST", buckets, token=reader["value"], json={"name": "nope"}).status_code == 403
    assert call("GET", f"/accounts/{'0' * 32}/r2/buckets").status_code == 403

    parent = client.seed(policies=[{"effect": "allow", "permission_groups": [{"id": ITEM_READ}], "resources": {
        f"com.cloudflare.edge.r2.bucket.{aid}_eu_hinted": "*"}}])
    good = {"bucket": "hinted", "parentAccessKeyId": parent["id"], "permission": "object-read-only",
            "ttlSeconds": 900, "prefixes": ["a/"], "objects": ["b.txt"]}
    assert call("POST", temp, token=parent["value"], json=good).status_code == 200
    assert call("POST", temp, json=good).status_code == 200  # an R2 admin may mint for others
    assert call("POST", temp, token=parent["value"], json=dict(good, permission="object-read-write")).status_code == 403
    assert call("POST", temp, token=parent["value"], json=dict(good, bucket="elsewhere")).status_code == 403
    assert call("POST", temp, token=parent["value"], json=dict(good, ttlSeconds=0)).status_code == 400
    assert call("POST", temp, token=parent["value"], json=dict(good, permission="read")).status_code == 400
    assert call("POST", temp, json=dict(good, parentAccessKeyId="f" * 32)).status_code == 400
    assert call("POST", temp, token=reader["value"], json=good).status_code == 403

    statuses = set()
    for method, path, resp in seen:
        template = match_route(method, path)[0].split(" ", 1)[1]
        _validator(spec, template, method, resp.status_code).validate(resp.json())
        statuses.add(resp.status_code)
    assert statuses == {200, 400, 401, 403, 409}


def test_r2_routes_match_schema(spec):
    """The emulator serves the schema's three R2 operations, same templates."""
    ops = [(m.upper(), t) for t, item in spec["paths"].items() if "/r2/" in t for m in item]
    assert sorted(ops) == [("GET", "/accounts/{account_id}/r2/buckets"), ("POST", "/accounts/{account_id}/r2/buckets"),
                           ("POST", "/accounts/{account_id}/r2/temp-access-credentials")]
    for method, template in ops:
        path = template.replace("{account_id}", "a" * 32)
        assert match_route(method, path)[0] == f"{method} {template}"
