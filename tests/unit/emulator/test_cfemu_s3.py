"""The emulator's S3 side: R2 authentication and authorization in front of moto (cfemu/s3.py).

boto3 runs in-process against the gateway of each jurisdiction.  The
integration tests also drive the aws CLI, rclone and s3cmd.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import zlib

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

EMU_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))


def outcome(call):
    """'ok' or the S3 error code (HEAD errors have no body: botocore reports the status)."""
    try:
        call()
        return "ok"
    except ClientError as err:
        return err.response["Error"]["Code"]


# --- permission matrix --------------------------------------------------------------
# Order matters: DeleteObject comes last, because it removes cat.jpg.
OPS = {
    "ListBuckets": lambda s3: s3.list_buckets(),
    "CreateBucket": lambda s3: s3.create_bucket(Bucket="brand-new"),
    "HeadBucket": lambda s3: s3.head_bucket(Bucket="photos"),
    "GetBucketCors": lambda s3: s3.get_bucket_cors(Bucket="photos"),
    "PutObject": lambda s3: s3.put_object(Bucket="photos", Key="new.txt", Body=b"new"),
    "GetObject": lambda s3: s3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read(),
    "ListObjectsV2": lambda s3: s3.list_objects_v2(Bucket="photos"),
    "DeleteObject": lambda s3: s3.delete_object(Bucket="photos", Key="cat.jpg"),
}
ALLOWED = {  # README "Permission table"
    "admin-read-write": set(OPS),
    "admin-read-only": {"ListBuckets", "HeadBucket", "GetBucketCors", "GetObject", "ListObjectsV2"},
    "object-read-write": {"HeadBucket", "PutObject", "GetObject", "ListObjectsV2", "DeleteObject"},
    "object-read-only": {"HeadBucket", "GetObject", "ListObjectsV2"},
}


@pytest.mark.parametrize("scope", ["bucket", "all-buckets", "other-jurisdiction"])
@pytest.mark.parametrize("permission", list(ALLOWED))
def test_permission_matrix(kit, permission, scope):
    """Each permission, for a bucket in scope (eu/photos), for the nested all-buckets form,
    and for a bucket of the same name in another jurisdiction (default/photos)."""
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    kit.bucket("photos", "default", objects=["cat.jpg"])
    tok = kit.token(permission, "all" if scope == "all-buckets" else [("eu", "photos")])
    s3 = kit.token_s3(tok, "default" if scope == "other-jurisdiction" else "eu")
    account_wide = permission.startswith("admin")
    expected = ALLOWED[permission] if account_wide or scope != "other-jurisdiction" else set()
    for name, call in OPS.items():
        code = outcome(lambda call=call: call(s3))
        entry = kit.last()
        assert entry["operation"] == name and entry["credential"] == "token"
        if name in expected:
            assert entry["decision"] == "allow", entry
            assert code not in ("AccessDenied", "403"), (name, code)
        else:
            assert entry["decision"] == "deny", entry
            assert code in ("AccessDenied", "403") and entry["error_code"] == "AccessDenied", (name, code, entry)
            assert entry["status"] == 403


def test_log_entry_shape_and_reasons(kit, s3emu):
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    tok = kit.token("object-read-only", [("eu", "photos")])
    s3 = kit.token_s3(tok, "eu")
    s3.get_object(Bucket="photos", Key="cat.jpg")
    entry = kit.last()
    assert entry == {
        "seq": entry["seq"], "jurisdiction": "eu", "method": "GET", "path": "/photos/cat.jpg",
        "operation": "GetObject", "bucket": "photos", "key": "cat.jpg", "access_key_id": tok["id"],
        "credential": "token", "status": 200, "error_code": None, "decision": "allow",
        "reason": "signature ok; object_read_only allows GetObject in eu/photos"}
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="x", Body=b"x")) == "AccessDenied"
    assert kit.last()["reason"] == "AccessDenied: object_read_only does not allow PutObject in eu/photos"
    # The log never holds a secret, a value, a session token or a signature.
    cred = kit.mint(tok, "photos", "object-read-only").json()["result"]
    kit.s3("eu", cred["accessKeyId"], cred["secretAccessKey"], cred["sessionToken"]).list_objects_v2(Bucket="photos")
    assert kit.last()["credential"] == "temp-api"
    dump = json.dumps(kit.s3_log())
    for secret in (tok["value"], tok["secret"], cred["secretAccessKey"], cred["sessionToken"]):
        assert secret not in dump
    assert "Signature" not in dump and "AWS4-HMAC" not in dump
    assert kit.client.admin("POST", "/stats/reset").ok
    assert kit.s3_log() == []


def test_wrong_jurisdiction_is_no_such_bucket(kit):
    kit.bucket("only-eu", "eu", objects=["a.txt"])
    for s3 in (kit.admin_s3("default"), kit.token_s3(kit.token("object-read-write", [("eu", "only-eu")]), "default")):
        assert outcome(lambda s3=s3: s3.list_objects_v2(Bucket="only-eu")) == "NoSuchBucket"
        assert outcome(lambda s3=s3: s3.get_object(Bucket="only-eu", Key="a.txt")) == "NoSuchBucket"
        assert kit.last()["status"] == 404 and kit.last()["reason"].startswith("NoSuchBucket")
    assert kit.admin_s3("eu").get_object(Bucket="only-eu", Key="a.txt")["Body"].read() == b"content of a.txt"


def test_same_name_in_two_jurisdictions_is_two_buckets(kit):
    default, eu = kit.admin_s3("default"), kit.admin_s3("eu")
    default.create_bucket(Bucket="twin")
    eu.create_bucket(Bucket="twin")
    default.put_object(Bucket="twin", Key="k", Body=b"default")
    eu.put_object(Bucket="twin", Key="k", Body=b"eu")
    assert default.get_object(Bucket="twin", Key="k")["Body"].read() == b"default"
    assert eu.get_object(Bucket="twin", Key="k")["Body"].read() == b"eu"
    assert outcome(lambda: kit.admin_s3("fedramp").head_bucket(Bucket="twin")) == "404"
    us = kit.admin_s3("us")
    us.create_bucket(Bucket="twin")
    us.put_object(Bucket="twin", Key="k", Body=b"us")
    assert us.get_object(Bucket="twin", Key="k")["Body"].read() == b"us"
    assert default.get_object(Bucket="twin", Key="k")["Body"].read() == b"default"
    assert kit.client.admin("GET", "/buckets").json() == {"default": ["twin"], "eu": ["twin"], "fedramp": [],
                                                          "us": ["twin"]}


# --- token credentials: authentication failures --------------------------------------
def test_wrong_secret_and_token_value_as_secret(kit):
    kit.bucket("photos")
    tok = kit.token("admin-read-write")
    for secret in ("0" * 64, tok["value"]):  # the value itself is the classic mistake (REF §3)
        s3 = kit.s3("default", tok["id"], secret)
        assert outcome(s3.list_buckets) == "SignatureDoesNotMatch"
        assert kit.last()["reason"] == f"SignatureDoesNotMatch: secret of token {tok['id']} does not verify"
    assert outcome(kit.token_s3(tok).list_buckets) == "ok"


def test_rolled_token_old_secret_fails_new_works(kit, s3emu):
    tok = kit.token("admin-read-write")
    old = kit.token_s3(tok)
    assert outcome(old.list_buckets) == "ok"
    rolled = kit.client.api("PUT", f"/user/tokens/{tok['id']}/value", s3emu.bootstrap_token, json={})
    new_secret = hashlib.sha256(rolled.json()["result"].encode()).hexdigest()
    assert outcome(old.list_buckets) == "SignatureDoesNotMatch"
    assert outcome(kit.s3("default", tok["id"], new_secret).list_buckets) == "ok"


def test_deleted_token_is_invalid_access_key(kit, s3emu):
    tok = kit.token("admin-read-write")
    kit.client.api("DELETE", f"/user/tokens/{tok['id']}", s3emu.bootstrap_token)
    assert outcome(kit.token_s3(tok).list_buckets) == "InvalidAccessKeyId"
    assert kit.last()["status"] == 403 and kit.last()["credential"] is None


@pytest.mark.parametrize("seed,code,status", [
    # A dead token (disabled, expired, revoked (exposed)) is R2's invalid credential: 401 Unauthorized.
    ({"expires_on": "2001-01-01T00:00:00Z"}, "Unauthorized", 401),
    ({"status": "disabled"}, "Unauthorized", 401),
    ({"status": "revoked (exposed)"}, "Unauthorized", 401),
    ({"not_before": "2099-01-01T00:00:00Z"}, "AccessDenied", 403),
    ({"condition": {"request_ip": {"not_in": ["127.0.0.1/32"]}}}, "AccessDenied", 403),
    ({"condition": {"request_ip": {"in": ["10.0.0.0/8"]}}}, "AccessDenied", 403),
    ({"condition": {"request_ip": {"in": ["127.0.0.0/8"]}}}, "ok", 200),
])
def test_token_validity(kit, seed, code, status):
    tok = kit.token("admin-read-write", **seed)
    assert outcome(kit.token_s3(tok).list_buckets) == code
    assert kit.last()["status"] == status


def test_token_expires_while_in_use(kit, s3emu):
    tok = kit.token("admin-read-write", expires_on=dt.datetime.fromtimestamp(
        s3emu.state.clock() + 60, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    s3 = kit.token_s3(tok)
    assert outcome(s3.list_buckets) == "ok"
    s3emu.state.clock.advance(61)
    assert outcome(s3.list_buckets) == "Unauthorized"
    assert kit.last()["reason"] == f"Unauthorized: token {tok['id']} is expired"


def _error(resp):
    assert resp.headers["Content-Type"] == "application/xml"
    return resp.text


def test_missing_garbled_presigned_and_skewed_auth(kit, s3emu):
    url = s3emu.s3_endpoints["default"]
    resp = requests.get(url + "/", timeout=5)
    assert resp.status_code == 401 and "<Code>Unauthorized</Code>" in _error(resp)
    resp = requests.get(url + "/", headers={"Authorization": "AWS AKID:c2ln"}, timeout=5)  # SigV2
    assert resp.status_code == 401
    resp = requests.get(url + "/", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, timeout=5)
    assert resp.status_code == 401 and kit.last()["reason"].startswith("Unauthorized: malformed")
    tok = kit.token("admin-read-write")
    kit.bucket("photos", objects=["cat.jpg"])
    presigned = kit.token_s3(tok).generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "cat.jpg"})
    resp = requests.get(presigned, timeout=5)
    assert resp.status_code == 501 and "<Code>NotImplemented</Code>" in _error(resp)
    assert "X-Amz-Signature" not in json.dumps(kit.s3_log())  # the query is never logged
    s3emu.gateways["default"].wall_clock = lambda: time.time() + 16 * 60
    assert outcome(kit.token_s3(tok).list_buckets) == "RequestTimeTooSkewed"


def _signed(method, url, akid, secret, body=b"", headers=None, payload_hash=None):
    """A request signed by botocore, the way an SDK would sign it."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if payload_hash is not None:
        req.headers["X-Amz-Content-SHA256"] = payload_hash
        signer = SigV4AuthKeepingPayloadHash(Credentials(akid, secret), "s3", "auto")
    else:
        signer = S3SigV4Auth(Credentials(akid, secret), "s3", "auto")
    signer.add_auth(req)
    return req


class SigV4AuthKeepingPayloadHash(S3SigV4Auth):
    """Signs with the caller's x-amz-content-sha256 (STREAMING-..., or a wrong hash on purpose)."""

    def _modify_request_before_signing(self, request):
        keep = request.headers["X-Amz-Content-SHA256"]
        super()._modify_request_before_signing(request)
        del request.headers["X-Amz-Content-SHA256"]
        request.headers["X-Amz-Content-SHA256"] = keep


def _send(req, body=None):
    return requests.request(req.method, req.url, headers=dict(req.headers.items()),
                            data=req.body if body is None else body, timeout=10)


def test_payload_hash_mismatch_and_unsigned_payload(kit, s3emu):
    kit.bucket("photos")
    tok = kit.token("admin-read-write")
    url = s3emu.s3_endpoints["default"] + "/photos/a.txt"
    req = _signed("PUT", url, tok["id"], tok["secret"], b"hello")
    assert _send(req, b"HELLO").status_code == 400
    assert kit.last()["error_code"] == "XAmzContentSHA256Mismatch"
    req = _signed("PUT", url, tok["id"], tok["secret"], b"hello", payload_hash="UNSIGNED-PAYLOAD")
    assert _send(req).status_code == 200
    assert kit.admin_s3().get_object(Bucket="photos", Key="a.txt")["Body"].read() == b"hello"


def test_signature_with_odd_keys_and_query(kit):
    """Keys needing URI encoding and list parameters with reserved characters."""
    kit.bucket("photos")
    s3 = kit.token_s3(kit.token("admin-read-write"))
    keys = ["dir/a b+c.txt", "dir/ümlaut=1&x?.txt", "dir/~tilde*(1).txt"]
    for key in keys:
        s3.put_object(Bucket="photos", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="photos", Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket="photos", Prefix="dir/", Delimiter="/", MaxKeys=2)
    assert listed["KeyCount"] == 2 and listed["IsTruncated"]
    more = s3.list_objects_v2(Bucket="photos", Prefix="dir/", ContinuationToken=listed["NextContinuationToken"])
    assert sorted(o["Key"] for o in listed["Contents"] + more["Contents"]) == sorted(keys)
    assert s3.list_objects(Bucket="photos", Prefix="dir/ü")["Contents"][0]["Key"] == keys[1]  # V1


# --- more operations --------------------------------------------------------------
def test_multipart_copy_and_delete_objects(kit):
    kit.bucket("photos", "eu", objects=["src.txt"])
    kit.bucket("other", "eu", objects=["secret.txt"])
    s3 = kit.token_s3(kit.token("object-read-write", [("eu", "photos")]), "eu")
    upload = s3.create_multipart_upload(Bucket="photos", Key="big.bin")["UploadId"]
    part = s3.upload_part(Bucket="photos", Key="big.bin", UploadId=upload, PartNumber=1, Body=b"x" * 1000)
    assert s3.list_parts(Bucket="photos", Key="big.bin", UploadId=upload)["Parts"][0]["PartNumber"] == 1
    assert s3.list_multipart_uploads(Bucket="photos")["Uploads"][0]["Key"] == "big.bin"
    s3.complete_multipart_upload(Bucket="photos", Key="big.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert s3.head_object(Bucket="photos", Key="big.bin")["ContentLength"] == 1000
    aborted = s3.create_multipart_upload(Bucket="photos", Key="gone.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket="photos", Key="gone.bin", UploadId=aborted)
    assert kit.last()["operation"] == "AbortMultipartUpload"
    s3.copy_object(Bucket="photos", Key="copy.txt", CopySource={"Bucket": "photos", "Key": "src.txt"})
    assert kit.last()["operation"] == "CopyObject" and kit.last()["decision"] == "allow"
    # Copying needs read access to the source too.
    assert outcome(lambda: s3.copy_object(Bucket="photos", Key="stolen.txt",
                                          CopySource={"Bucket": "other", "Key": "secret.txt"})) == "AccessDenied"
    assert "copy source" in kit.last()["reason"]
    deleted = s3.delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "src.txt"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["copy.txt", "src.txt"]
    assert kit.last()["operation"] == "DeleteObjects"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="photos")["Contents"]] == ["big.bin"]
    # Object tokens cannot touch bucket configuration or buckets (README permission table).
    rules = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    assert outcome(lambda: s3.put_bucket_cors(Bucket="photos", CORSConfiguration=rules)) == "AccessDenied"
    assert outcome(lambda: s3.delete_bucket(Bucket="photos")) == "AccessDenied"


def test_bucket_config_and_delete_bucket_with_admin(kit):
    kit.bucket("photos")
    rw = kit.token_s3(kit.token("admin-read-write"))
    ro = kit.token_s3(kit.token("admin-read-only"))
    rules = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    assert outcome(lambda: ro.put_bucket_cors(Bucket="photos", CORSConfiguration=rules)) == "AccessDenied"
    rw.put_bucket_cors(Bucket="photos", CORSConfiguration=rules)
    assert ro.get_bucket_cors(Bucket="photos")["CORSRules"][0]["AllowedMethods"] == ["GET"]
    assert outcome(lambda: ro.get_bucket_location(Bucket="photos")) == "ok"
    assert outcome(lambda: ro.delete_bucket(Bucket="photos")) == "AccessDenied"
    rw.delete_bucket(Bucket="photos")
    assert kit.client.admin("GET", "/buckets").json()["default"] == []


def test_create_bucket_rules_over_s3(kit, s3emu):
    s3 = kit.admin_s3("eu")
    for bad in ("ab", "-abc", "abc-", "a" * 64):
        assert outcome(lambda bad=bad: s3.create_bucket(Bucket=bad)) == "InvalidBucketName"
    s3.create_bucket(Bucket="hinted", CreateBucketConfiguration={"LocationConstraint": "weur"})
    s3.create_bucket(Bucket="auto-one", CreateBucketConfiguration={"LocationConstraint": "auto"})
    assert outcome(lambda: s3.create_bucket(Bucket="hinted")) == "BucketAlreadyOwnedByYou"
    assert outcome(lambda: s3.create_bucket(Bucket="mars", CreateBucketConfiguration={
        "LocationConstraint": "mars-1"})) == "InvalidLocationConstraint"
    listed = kit.client.api("GET", f"/accounts/{s3emu.account_id}/r2/buckets", s3emu.bootstrap_token,
                            headers={"cf-r2-jurisdiction": "eu"}).json()["result"]["buckets"]
    assert {b["name"]: (b["location"], b["jurisdiction"]) for b in listed} == {
        "hinted": ("weur", "eu"), "auto-one": ("weur", "eu")}


# --- aws-chunked uploads -------------------------------------------------------------
def _force_trailer_checksums(s3):
    """Make boto3 send PutObject as over TLS: aws-chunked with a trailing CRC32.

    botocore uses trailers only on https endpoints (httpchecksum.py).  The
    gateway is plain http, so this handler flips the location that botocore
    resolved.  Everything else is botocore's default checksum behaviour.
    """
    def to_trailer(params, **kwargs):  # pylint: disable=unused-argument
        algorithm = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"
    s3.meta.events.register("before-call.s3.PutObject", to_trailer)
    return s3


def test_aws_chunked_put_object_with_default_checksums(kit):
    kit.bucket("photos")
    s3 = _force_trailer_checksums(kit.token_s3(kit.token("object-read-write", [("default", "photos")])))
    sent = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **kwargs: sent.append(
        {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}))
    data = os.urandom(200_000)
    s3.put_object(Bucket="photos", Key="chunked.bin", Body=data)
    assert sent[0]["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent[0]["Content-Encoding"] == "aws-chunked" and sent[0]["Transfer-Encoding"] == "chunked"
    got = s3.get_object(Bucket="photos", Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    expected_crc = base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    assert got["ChecksumCRC32"] == expected_crc
    assert kit.last()["decision"] == "allow"


def _chunked_body(data, chunk, seed, key, amz_date, scope, trailer=None, tamper=False):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body (AWS SigV4 streaming spec)."""
    out, prev = b"", seed
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, hashlib.sha256(b"").hexdigest(),
                         hashlib.sha256(piece).hexdigest()])
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        body = piece if not (tamper and piece) else piece[::-1]
        out += f"{len(piece):x};chunk-signature={prev}\r\n".encode() + body
        if piece or trailer is None:
            out += b"\r\n"
    if trailer is not None:
        name, value = trailer
        canonical = f"{name}:{value}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                         hashlib.sha256(canonical.encode()).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()
    return out


def _signing_key(secret, date):
    key = ("AWS4" + secret).encode()
    for part in (date, "auto", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@pytest.mark.parametrize("variant", ["plain", "trailer", "tampered", "bad-checksum"])
def test_signed_streaming_upload(kit, s3emu, variant):
    kit.bucket("photos")
    tok = kit.token("admin-read-write")
    data = b"0123456789" * 3000
    sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if variant != "plain" else "")
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    trailer = None
    if variant != "plain":
        crc = zlib.crc32(data if variant != "bad-checksum" else b"other") & 0xFFFFFFFF
        trailer = ("x-amz-checksum-crc32", base64.b64encode(crc.to_bytes(4, "big")).decode())
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    req = _signed("PUT", s3emu.s3_endpoints["default"] + "/photos/streamed.bin", tok["id"], tok["secret"],
                  headers=headers, payload_hash=sha)
    amz_date = req.headers["X-Amz-Date"]
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/auto/s3/aws4_request"
    body = _chunked_body(data, 8192, seed, _signing_key(tok["secret"], amz_date[:8]), amz_date, scope,
                         trailer, tamper=variant == "tampered")
    resp = _send(req, body)
    expected = {"plain": (200, None), "trailer": (200, None), "tampered": (403, "SignatureDoesNotMatch"),
                "bad-checksum": (400, "BadDigest")}[variant]
    assert (resp.status_code, kit.last()["error_code"]) == expected, resp.text
    if resp.status_code == 200:
        assert kit.admin_s3().get_object(Bucket="photos", Key="streamed.bin")["Body"].read() == data


# --- API-minted temporary credentials ----------------------------------------------
def test_api_temp_credentials_good_and_bound_to_bucket(kit):
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    kit.bucket("other", "eu", objects=["x"])
    parent = kit.token("object-read-write", [("eu", "photos")])
    s3, cred = kit.mint_s3(parent, "photos", "object-read-only", jurisdiction="eu")
    assert len(cred["accessKeyId"]) == 32 and len(cred["secretAccessKey"]) == 64
    # the leak-scan ledger holds the minted secret and session token
    assert {cred["secretAccessKey"], cred["sessionToken"]} <= set(kit.client.admin("GET", "/issued").json()["secrets"])
    assert s3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"content of cat.jpg"
    assert kit.last()["credential"] == "temp-api" and kit.last()["access_key_id"] == cred["accessKeyId"]
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="n", Body=b"n")) == "AccessDenied"
    assert outcome(lambda: s3.list_objects_v2(Bucket="other")) == "AccessDenied"
    assert "bound to bucket 'photos'" in kit.last()["reason"]
    assert outcome(s3.list_buckets) == "AccessDenied"


def test_api_temp_credentials_session_token_checks(kit):
    kit.bucket("photos", objects=["cat.jpg"])
    parent = kit.token("admin-read-write")
    cred = kit.mint_s3(parent, "photos", "object-read-only")[1]
    bare = kit.s3("default", cred["accessKeyId"], cred["secretAccessKey"])
    assert outcome(lambda: bare.get_object(Bucket="photos", Key="cat.jpg")) == "InvalidToken"
    tampered = cred["sessionToken"][:-6] + ("AAAAAA" if not cred["sessionToken"].endswith("AAAAAA") else "BBBBBB")
    bad = kit.s3("default", cred["accessKeyId"], cred["secretAccessKey"], tampered)
    assert outcome(lambda: bad.get_object(Bucket="photos", Key="cat.jpg")) == "InvalidToken"
    assert kit.last()["status"] == 403
    wrong_secret = kit.s3("default", cred["accessKeyId"], "f" * 64, cred["sessionToken"])
    assert outcome(lambda: wrong_secret.get_object(Bucket="photos", Key="cat.jpg")) == "SignatureDoesNotMatch"


def test_api_temp_credentials_expire(kit, s3emu):
    kit.bucket("photos", objects=["cat.jpg"])
    s3 = kit.mint_s3(kit.token("admin-read-write"), "photos", "object-read-only", ttl=60)[0]
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    s3emu.state.clock.advance(61)
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="cat.jpg")) == "ExpiredToken"
    assert kit.last()["status"] == 400


@pytest.mark.parametrize("change", ["roll", "delete", "disable", "expire", "downgrade"])
def test_api_temp_credentials_die_with_their_parent(kit, s3emu, change):
    kit.bucket("photos", objects=["cat.jpg"])
    parent = kit.token("admin-read-write", owner="account")
    s3 = kit.mint_s3(parent, "photos", "object-read-write")[0]
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    path = f"/accounts/{s3emu.account_id}/tokens/{parent['id']}"
    boot = s3emu.bootstrap_token
    body = {"name": "parent", "policies": [kit.policy("admin-read-write")]}
    if change == "roll":
        kit.client.api("PUT", path + "/value", boot, json={})
    elif change == "delete":
        kit.client.api("DELETE", path, boot)
    elif change == "disable":
        kit.client.api("PUT", path, boot, json=dict(body, status="disabled"))
    elif change == "expire":
        kit.client.api("PUT", path, boot, json=dict(body, expires_on=dt.datetime.fromtimestamp(
            s3emu.state.clock() + 30, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")))
        s3emu.state.clock.advance(31)
    else:  # the parent now only reads: the child's write permission goes with it
        kit.client.api("PUT", path, boot, json={"name": "parent", "policies": [kit.policy("admin-read-only")]})
        assert outcome(lambda: s3.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
        assert outcome(lambda: s3.put_object(Bucket="photos", Key="n", Body=b"")) == "AccessDenied"
        return
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="cat.jpg")) == "AccessDenied"
    assert kit.last()["status"] == 403 and "parent" in kit.last()["reason"]


def test_api_temp_credentials_prefixes_and_objects(kit):
    kit.bucket("photos", objects=["public/a.txt", "private/b.txt", "exact.txt"])
    parent = kit.token("object-read-write", [("default", "photos")])
    s3 = kit.mint_s3(parent, "photos", "object-read-write", prefixes=["public/"], objects=["exact.txt"])[0]
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="public/a.txt")) == "ok"
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="exact.txt")) == "ok"
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="private/b.txt")) == "AccessDenied"
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="public/new.txt", Body=b"x")) == "ok"
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="exact.txt.bak", Body=b"x")) == "AccessDenied"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos", Prefix="public/")) == "ok"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos", Prefix="public/sub")) == "ok"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos")) == "AccessDenied"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos", Prefix="exact.txt")) == "ok"
    assert outcome(lambda: s3.delete_objects(Bucket="photos", Delete={"Objects": [
        {"Key": "public/a.txt"}, {"Key": "private/b.txt"}]})) == "AccessDenied"
    assert outcome(lambda: s3.head_bucket(Bucket="photos")) == "ok"


def test_api_temp_credentials_work_in_every_jurisdiction_of_the_parents_scope(kit):
    kit.bucket("photos", "default", objects=["d.txt"])
    kit.bucket("photos", "eu", objects=["e.txt"])
    admin = kit.token("admin-read-write")
    resp = kit.mint(admin, "photos", "object-read-only")
    cred = resp.json()["result"]
    for jurisdiction, key in (("default", "d.txt"), ("eu", "e.txt")):
        s3 = kit.s3(jurisdiction, cred["accessKeyId"], cred["secretAccessKey"], cred["sessionToken"])
        assert outcome(lambda s3=s3, key=key: s3.get_object(Bucket="photos", Key=key)) == "ok"
    scoped = kit.token("object-read-only", [("eu", "photos")])
    cred = kit.mint(scoped, "photos", "object-read-only").json()["result"]
    s3 = kit.s3("default", cred["accessKeyId"], cred["secretAccessKey"], cred["sessionToken"])
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="d.txt")) == "AccessDenied"


# --- local-signed (JWT) temporary credentials ------------------------------------------
def test_jwt_credentials_good_and_scope(kit):
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    parent = kit.token("object-read-write", [("eu", "photos")])
    s3 = kit.jwt_s3(parent, "eu", "photos", "object-read-only")
    assert s3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == b"content of cat.jpg"
    entry = kit.last()
    assert entry["credential"] == "temp-local" and entry["access_key_id"] == parent["id"]
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="x", Body=b"x")) == "AccessDenied"
    # The canonical R2 host of the jurisdiction is a valid audience too.
    canonical = kit.jwt_s3(parent, "eu", "photos", "object-read-write",
                           aud=f"{kit.emu.account_id}.eu.r2.cloudflarestorage.com")
    assert outcome(lambda: canonical.put_object(Bucket="photos", Key="x", Body=b"x")) == "ok"
    # A scope above the parent's gets no more than the parent has.
    admin = kit.jwt_s3(parent, "eu", "photos", "admin-read-write")
    assert outcome(lambda: admin.get_bucket_cors(Bucket="photos")) == "AccessDenied"


def test_jwt_credentials_wrong_audience(kit):
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    parent = kit.token("admin-read-write")
    for aud in (kit.emu.s3_endpoints["default"].split("://")[1], f"{kit.emu.account_id}.r2.cloudflarestorage.com"):
        s3 = kit.jwt_s3(parent, "eu", "photos", "object-read-only", aud=aud)
        assert outcome(lambda s3=s3: s3.get_object(Bucket="photos", Key="cat.jpg")) == "AccessDenied"
        assert "audience" in kit.last()["reason"]


def test_jwt_credentials_actions_and_paths(kit):
    kit.bucket("photos", objects=["pub/a.txt", "priv/b.txt", "one.txt"])
    parent = kit.token("admin-read-write")
    s3 = kit.jwt_s3(parent, "default", "photos", "object-read-only", actions=["GetObject", "HeadObject"])
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="pub/a.txt")) == "ok"
    assert outcome(lambda: s3.head_object(Bucket="photos", Key="pub/a.txt")) == "ok"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos")) == "AccessDenied"
    assert "'actions' do not include ListObjectsV2" in kit.last()["reason"]
    s3 = kit.jwt_s3(parent, "default", "photos", "object-read-write",
                    paths={"prefixPaths": ["pub/"], "objectPaths": ["one.txt"]})
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="one.txt")) == "ok"
    assert outcome(lambda: s3.put_object(Bucket="photos", Key="pub/new.txt", Body=b"n")) == "ok"
    assert outcome(lambda: s3.get_object(Bucket="photos", Key="priv/b.txt")) == "AccessDenied"
    assert outcome(lambda: s3.list_objects_v2(Bucket="photos", Prefix="priv/")) == "AccessDenied"
    unrestricted = kit.jwt_s3(parent, "default", "photos", "object-read-only", actions=None)
    assert outcome(lambda: unrestricted.list_objects_v2(Bucket="photos", Prefix="pub/")) == "ok"
    bogus = kit.jwt_s3(parent, "default", "photos", "object-read-only", actions=["ListBuckets"])
    assert outcome(lambda: bogus.get_object(Bucket="photos", Key="one.txt")) == "InvalidToken"


def test_jwt_credentials_expired_rolled_and_malformed(kit, s3emu):
    kit.bucket("photos", objects=["cat.jpg"])
    parent = kit.token("admin-read-write")
    expired = kit.jwt_s3(parent, "default", "photos", "object-read-only", ttl=60)
    assert outcome(lambda: expired.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    s3emu.state.clock.advance(61)
    assert outcome(lambda: expired.get_object(Bucket="photos", Key="cat.jpg")) == "ExpiredToken"
    # Signed with a wrong key: the JWT signature fails.
    forged = kit.jwt_s3(parent, "default", "photos", "object-read-only", key="0" * 64)
    assert outcome(lambda: forged.get_object(Bucket="photos", Key="cat.jpg")) == "SignatureDoesNotMatch"
    assert "not signed with the current secret" in kit.last()["reason"]
    fresh = kit.jwt_s3(parent, "default", "photos", "object-read-only")
    assert outcome(lambda: fresh.get_object(Bucket="photos", Key="cat.jpg")) == "ok"
    kit.client.api("PUT", f"/user/tokens/{parent['id']}/value", s3emu.bootstrap_token, json={})
    assert outcome(lambda: fresh.get_object(Bucket="photos", Key="cat.jpg")) == "SignatureDoesNotMatch"
    other = kit.token("admin-read-write")
    wrong_sub = kit.jwt_s3(other, "default", "photos", "object-read-only", sub="f" * 32)
    assert outcome(lambda: wrong_sub.get_object(Bucket="photos", Key="cat.jpg")) == "InvalidToken"
    garbage = kit.s3("default", other["id"], other["secret"], base64.b64encode(b"not-a-jwt").decode())
    assert outcome(lambda: garbage.get_object(Bucket="photos", Key="cat.jpg")) == "InvalidToken"


# --- admin and lifecycle ----------------------------------------------------------------
def test_reset_empties_buckets_and_backends(kit, s3emu):
    kit.bucket("photos", "eu", objects=["cat.jpg"])
    kit.token_s3(kit.token("admin-read-write"), "eu").list_buckets()
    assert kit.client.admin("GET", "/info").json()["s3_endpoints"] == s3emu.s3_endpoints
    assert kit.client.admin("POST", "/reset").ok
    assert kit.client.admin("GET", "/buckets").json() == {"default": [], "eu": [], "fedramp": [], "us": []}
    assert kit.admin_s3("eu").list_buckets()["Buckets"] == []
    kit.admin_s3("eu").create_bucket(Bucket="photos")  # moto really forgot it
    assert kit.admin_s3("eu").list_objects_v2(Bucket="photos")["KeyCount"] == 0
    assert kit.client.admin("POST", "/buckets", json={"name": "photos", "jurisdiction": "eu"}).status_code == 400
    assert kit.client.admin("POST", "/buckets", json={"name": "x"}).status_code == 400


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead too
    except OSError:
        return False


def _start_cli(tmp_path):
    env = dict(os.environ, PYTHONPATH=EMU_DIR)
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "cfemu", "--port", "0", "--info-file", str(tmp_path / "info.json")],
        stdout=subprocess.PIPE, env=env, text=True)
    return proc, json.loads(proc.stdout.readline())


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_cli_s3_endpoints_and_no_orphans(tmp_path, kit, how):
    proc, info = _start_cli(tmp_path)
    try:
        assert sorted(info["s3_endpoints"]) == ["default", "eu", "fedramp", "us"]
        assert json.loads((tmp_path / "info.json").read_text())["s3_endpoints"] == info["s3_endpoints"]
        pids = list(info["s3_backend_pids"].values())
        assert len(set(pids)) == 4 and all(_alive(p) for p in pids)
        assert len(set(info["s3_endpoints"].values())) == 4
        secret = hashlib.sha256(info["bootstrap_token"].encode()).hexdigest()
        s3 = kit.s3("fedramp", info["bootstrap_token_id"], secret, endpoint_url=info["s3_endpoints"]["fedramp"])
        s3.create_bucket(Bucket="fed")
        listed = requests.get(info["api_url"] + f"/accounts/{info['account_id']}/r2/buckets", timeout=5, headers={
            "Authorization": "Bearer " + info["bootstrap_token"], "cf-r2-jurisdiction": "fedramp"}).json()
        assert [b["name"] for b in listed["result"]["buckets"]] == ["fed"]
    finally:
        proc.send_signal(getattr(signal, how))
        code = proc.wait(timeout=15)
    assert code == (0 if how == "SIGTERM" else -signal.SIGKILL)
    # SIGTERM: stopped by the emulator; SIGKILL: the stdin lifeline closes and they exit.
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    assert not [line for line in ps.splitlines() if "moto_child.py" in line and int(line.split()[0]) in pids]
