"""The R2 endpoints of the emulated API: buckets and temporary credentials (cfemu/r2.py)."""

import pytest

ITEM_READ = "6a018a9f2fc74eb6b293b0c548f38b39"


def buckets_path(emu):
    return f"/accounts/{emu.account_id}/r2/buckets"


def list_names(client, emu, jurisdiction=None, token=None, **params):
    headers = {"cf-r2-jurisdiction": jurisdiction} if jurisdiction else {}
    resp = client.api("GET", buckets_path(emu), token or emu.bootstrap_token, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return [b["name"] for b in body["result"]["buckets"]], body["result_info"]


def create_bucket(client, emu, name, jurisdiction=None, token=None, **extra):
    headers = {"cf-r2-jurisdiction": jurisdiction} if jurisdiction else {}
    return client.api("POST", buckets_path(emu), token or emu.bootstrap_token, headers=headers,
                      json=dict({"name": name}, **extra))


def codes(resp):
    return [e["code"] for e in resp.json()["errors"]]


# --- buckets ---------------------------------------------------------------------------
def test_create_bucket_shape_and_defaults(client, emu):
    resp = create_bucket(client, emu, "photos")
    assert resp.status_code == 200, resp.text
    bucket = resp.json()["result"]
    assert bucket["name"] == "photos" and bucket["jurisdiction"] == "default"
    assert bucket["location"] == "enam" and bucket["storage_class"] == "Standard"
    assert bucket["creation_date"].endswith("Z") and "." in bucket["creation_date"]
    hinted = create_bucket(client, emu, "ia-bucket", "eu", locationHint="WEUR", storageClass="InfrequentAccess")
    assert hinted.json()["result"] == dict(hinted.json()["result"], location="weur", storage_class="InfrequentAccess",
                                           jurisdiction="eu")


@pytest.mark.parametrize("name", ["ab", "a" * 64, "-abc", "abc-", "ABC", "a_b", "a.b", None, 7])
def test_bucket_name_rules(client, emu, name):
    resp = create_bucket(client, emu, name)
    assert resp.status_code == 400 and codes(resp) == [10005]


def test_duplicates_per_jurisdiction(client, emu):
    assert create_bucket(client, emu, "photos").status_code == 200
    dup = create_bucket(client, emu, "photos", "default")
    assert dup.status_code == 409 and codes(dup) == [10004]
    assert "already exists" in dup.json()["errors"][0]["message"]
    assert create_bucket(client, emu, "photos", "eu").status_code == 200  # another namespace
    assert create_bucket(client, emu, "photos", "fedramp").status_code == 200
    us = create_bucket(client, emu, "photos", "us")  # REF §5: the fourth jurisdiction, since 2026-08-17
    assert us.status_code == 200 and us.json()["result"]["jurisdiction"] == "us"
    assert us.json()["result"]["location"] == "enam"
    assert create_bucket(client, emu, "us-only", "us").status_code == 200
    for jurisdiction in ("default", "eu", "fedramp"):
        assert list_names(client, emu, jurisdiction)[0] == ["photos"]
    assert list_names(client, emu, "us")[0] == ["photos", "us-only"]
    assert client.admin("GET", "/buckets").json() == {"default": ["photos"], "eu": ["photos"], "fedramp": ["photos"],
                                                      "us": ["photos", "us-only"]}
    for header in ("mars", "US", "usa"):
        bad = client.api("GET", buckets_path(emu), emu.bootstrap_token, headers={"cf-r2-jurisdiction": header})
        assert bad.status_code == 400 and "cf-r2-jurisdiction" in bad.json()["errors"][0]["message"]


def test_list_pagination_and_filters(client, emu):
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for name in names:
        create_bucket(client, emu, name, "eu")
    everything, info = list_names(client, emu, "eu")
    assert everything == sorted(names) and info == {"cursor": "", "per_page": 20}
    page, info = list_names(client, emu, "eu", per_page=2)
    seen = list(page)
    while info["cursor"]:
        page, info = list_names(client, emu, "eu", per_page=2, cursor=info["cursor"])
        seen += page
    assert seen == sorted(names)
    assert list_names(client, emu, "eu", direction="desc")[0] == sorted(names, reverse=True)
    assert list_names(client, emu, "eu", start_after="delta")[0] == ["epsilon", "gamma"]
    assert list_names(client, emu, "eu", direction="desc", start_after="delta")[0] == ["beta", "alpha"]
    assert list_names(client, emu, "eu", name_contains="ta")[0] == ["beta", "delta"]
    assert list_names(client, emu)[0] == []  # nothing in the default jurisdiction
    for params in ({"per_page": 0}, {"per_page": 1001}, {"per_page": "x"}, {"order": "date"}, {"direction": "up"}):
        assert client.api("GET", buckets_path(emu), emu.bootstrap_token, params=params).status_code == 400


def test_bucket_api_permissions(client, emu):
    acct = {f"com.cloudflare.api.account.{emu.account_id}": "*"}
    reader = client.seed(policies=[{"effect": "allow", "resources": acct, "permission_groups": [
        {"id": "b4992e1108244f5d8bfbd5744320c2e1"}]}])["value"]
    item = client.seed(policies=[{"effect": "allow", "permission_groups": [{"id": ITEM_READ}], "resources": {
        f"com.cloudflare.edge.r2.bucket.{emu.account_id}_default_photos": "*"}}])["value"]
    denied = client.seed(policies=[
        {"effect": "allow", "resources": acct, "permission_groups": [{"id": "bf7481a1826f439697cb59a20b22293e"}]},
        {"effect": "deny", "resources": acct, "permission_groups": [{"id": "bf7481a1826f439697cb59a20b22293e"}]}])
    assert list_names(client, emu, token=reader)[0] == []
    resp = create_bucket(client, emu, "photos", token=reader)
    assert resp.status_code == 403 and codes(resp) == [9109]
    for token in (item, denied["value"]):
        resp = client.api("GET", buckets_path(emu), token)
        assert resp.status_code == 403 and codes(resp) == [9109]


# --- temporary credentials: minting rules ----------------------------------------------
def mint(client, emu, parent, caller=None, **fields):
    body = dict({"bucket": "photos", "parentAccessKeyId": parent["id"], "permission": "object-read-only",
                 "ttlSeconds": 900}, **fields)
    return client.api("POST", f"/accounts/{emu.account_id}/r2/temp-access-credentials",
                      caller or parent["value"], json=body)


def seed(client, emu, permission, buckets=None, **extra):
    group = {"admin-read-write": "bf7481a1826f439697cb59a20b22293e", "admin-read-only": "b4992e1108244f5d8bfbd5744320c2e1",
             "object-read-write": "2efd5506f9c8494dacb1fa10a3e7d5b6", "object-read-only": ITEM_READ}[permission]
    if permission.startswith("admin"):
        resources = {f"com.cloudflare.api.account.{emu.account_id}": "*"}
    else:
        resources = {f"com.cloudflare.edge.r2.bucket.{emu.account_id}_{j}_{b}": "*" for j, b in buckets}
    return client.seed(policies=[{"effect": "allow", "permission_groups": [{"id": group}],
                                  "resources": resources}], **extra)


CHILD_ALLOWED = {  # parent permission -> child permissions it may mint (capabilities are a subset)
    "admin-read-write": {"admin-read-write", "admin-read-only", "object-read-write", "object-read-only"},
    "admin-read-only": {"admin-read-only", "object-read-only"},
    "object-read-write": {"object-read-write", "object-read-only"},
    "object-read-only": {"object-read-only"},
}


@pytest.mark.parametrize("parent_permission", list(CHILD_ALLOWED))
def test_child_permission_never_exceeds_parent(client, emu, parent_permission):
    parent = seed(client, emu, parent_permission, [("eu", "photos")])
    for child in CHILD_ALLOWED["admin-read-write"]:
        resp = mint(client, emu, parent, permission=child)
        if child in CHILD_ALLOWED[parent_permission]:
            assert resp.status_code == 200, (child, resp.text)
            result = resp.json()["result"]
            assert set(result) == {"accessKeyId", "secretAccessKey", "sessionToken"}
        else:
            assert resp.status_code == 403 and codes(resp) == [10003], (child, resp.text)
            assert "higher than the parent" in resp.json()["errors"][0]["message"]


def test_mint_validation(client, emu):
    parent = seed(client, emu, "object-read-write", [("default", "photos")])
    for fields, word in (({"ttlSeconds": 0}, "ttlSeconds"), ({"ttlSeconds": -5}, "ttlSeconds"),
                         ({"ttlSeconds": 604801}, "ttlSeconds"), ({"ttlSeconds": "900"}, "ttlSeconds"),
                         ({"ttlSeconds": True}, "ttlSeconds"), ({"permission": "read"}, "permission"),
                         ({"bucket": "No"}, "bucket"), ({"prefixes": "a/"}, "prefixes"),
                         ({"objects": [1]}, "objects"), ({"parentAccessKeyId": ""}, "parentAccessKeyId")):
        resp = mint(client, emu, parent, **fields)
        assert resp.status_code == 400 and codes(resp) == [1001], fields
        assert word in resp.json()["errors"][0]["message"]
    body = {"bucket": "photos", "permission": "object-read-only", "ttlSeconds": 60}
    resp = client.api("POST", f"/accounts/{emu.account_id}/r2/temp-access-credentials", parent["value"], json=body)
    assert resp.status_code == 400 and "parentAccessKeyId" in resp.json()["errors"][0]["message"]
    assert mint(client, emu, parent, ttlSeconds=604800).status_code == 200
    assert mint(client, emu, parent, ttlSeconds=1).status_code == 200


def test_mint_scope_and_callers(client, emu):
    parent = seed(client, emu, "object-read-write", [("eu", "photos")])
    resp = mint(client, emu, parent, bucket="other")
    assert resp.status_code == 403 and "not within the scope" in resp.json()["errors"][0]["message"]
    # The parent itself, or an R2 admin, may mint; anybody else may not.
    assert mint(client, emu, parent, caller=emu.bootstrap_token).status_code == 200
    bystander = seed(client, emu, "object-read-write", [("eu", "photos")])
    resp = mint(client, emu, parent, caller=bystander["value"])
    assert resp.status_code == 403 and codes(resp) == [9109]
    # The parent must exist in this account and be active.
    assert mint(client, emu, {"id": "f" * 32}, caller=emu.bootstrap_token).status_code == 400
    disabled = seed(client, emu, "admin-read-write", status="disabled")
    assert mint(client, emu, disabled, caller=emu.bootstrap_token).status_code == 400
    expired = seed(client, emu, "admin-read-write", expires_on="2001-01-01T00:00:00Z")
    assert mint(client, emu, expired, caller=emu.bootstrap_token).status_code == 400
    account_owned = seed(client, emu, "object-read-only", [("fedramp", "photos")], owner="account")
    assert mint(client, emu, account_owned).status_code == 200
    other_account = client.api("POST", f"/accounts/{'0' * 32}/r2/temp-access-credentials", parent["value"],
                               json={"bucket": "photos", "parentAccessKeyId": parent["id"],
                                     "permission": "object-read-only", "ttlSeconds": 60})
    assert other_account.status_code == 403


# --- API and S3 see the same buckets (needs the moto backends) ----------------------------
def test_api_and_s3_share_buckets(kit, s3emu, s3client):
    assert create_bucket(s3client, s3emu, "from-api", "eu").status_code == 200
    assert [b["Name"] for b in kit.admin_s3("eu").list_buckets()["Buckets"]] == ["from-api"]
    assert kit.admin_s3("default").list_buckets()["Buckets"] == []
    kit.admin_s3("fedramp").create_bucket(Bucket="from-s3")
    assert list_names(s3client, s3emu, "fedramp")[0] == ["from-s3"]
    listed = s3client.api("GET", buckets_path(s3emu), s3emu.bootstrap_token,
                          headers={"cf-r2-jurisdiction": "fedramp"}).json()["result"]["buckets"]
    assert listed[0]["jurisdiction"] == "fedramp" and listed[0]["location"] == "enam"
    assert list_names(s3client, s3emu, "default")[0] == []
    kit.admin_s3("fedramp").delete_bucket(Bucket="from-s3")
    assert list_names(s3client, s3emu, "fedramp")[0] == []
    assert create_bucket(s3client, s3emu, "from-api", "eu").status_code == 409
    kit.admin_s3("us").create_bucket(Bucket="from-s3")  # us: its own endpoint and namespace
    assert list_names(s3client, s3emu, "us")[0] == ["from-s3"]
    assert create_bucket(s3client, s3emu, "from-api", "us").status_code == 200
    assert sorted(b["Name"] for b in kit.admin_s3("us").list_buckets()["Buckets"]) == ["from-api", "from-s3"]
    assert s3client.admin("GET", "/buckets").json() == {"default": [], "eu": ["from-api"], "fedramp": [],
                                                        "us": ["from-api", "from-s3"]}
