"""The S3 gateway: R2's S3 authentication and authorization, in front of moto.

There is one gateway per jurisdiction (state.JURISDICTIONS), each on its own
loopback port, the way R2 has one endpoint per jurisdiction (REF §5).  A
request goes through these steps:

1. Classify it as an S3 operation (classify()).
2. Authenticate its SigV4 header (REF §3 for token credentials, REF §4 for
   temporary ones).  The signature is recomputed with botocore's signer, over
   exactly the headers the client signed.
3. Check the payload: x-amz-content-sha256, and aws-chunked bodies with their
   chunk signatures and trailing checksums.  (The primitives of steps 2 and 3
   are in s3auth.py.)
4. Authorize: r2.CAPS, the policies of the token, and the limits of a
   temporary credential.
5. Forward the request unsigned to this jurisdiction's moto server, and relay
   its answer.

Each request is logged, without any secret, to State.s3_log
(GET /__emulator/stats -> s3_requests).  "REF §n" points to
/work/shared/reference/cloudflare-r2-api.md.
"""

import datetime as dt
import hashlib
import hmac
import http.client
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections import namedtuple

from .httpserver import LoopbackHandler, serve
from .r2 import CAPS, LOCATIONS, label, token_access, valid_bucket_name
from .s3auth import (CHECKSUMS, HEX64, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER,
                     STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD, S3Error, decode_aws_chunked, denied, expired,
                     expected_signature, invalid_token, jwt_claims, not_implemented, parse_authorization,
                     session_jwt, signing_key, unauthorized)

SKEW_SECONDS = 15 * 60  # the maximum request-time skew of S3 (and R2)

# --- S3 operations -----------------------------------------------------------------
# Bucket sub-resources that hold configuration: ?cors -> Get/Put/DeleteBucketCors.
BUCKET_CONFIG = {
    "cors": "Cors", "lifecycle": "LifecycleConfiguration", "encryption": "Encryption", "policy": "Policy",
    "policyStatus": "PolicyStatus", "tagging": "Tagging", "versioning": "Versioning", "website": "Website",
    "acl": "Acl", "logging": "Logging", "notification": "NotificationConfiguration",
    "replication": "Replication", "accelerate": "AccelerateConfiguration",
    "ownershipControls": "OwnershipControls", "publicAccessBlock": "PublicAccessBlock",
    "object-lock": "ObjectLockConfiguration", "requestPayment": "RequestPayment",
    "intelligent-tiering": "IntelligentTieringConfiguration", "inventory": "InventoryConfiguration",
    "metrics": "MetricsConfiguration", "analytics": "AnalyticsConfiguration"}
# Operation -> the capability it needs (r2.CAPS).
OPERATIONS = {
    "ListBuckets": "list_buckets", "CreateBucket": "bucket_create", "DeleteBucket": "bucket_delete",
    "HeadBucket": "bucket_head", "GetBucketLocation": "bucket_head",
    "ListObjectsV1": "object_list", "ListObjectsV2": "object_list", "ListObjectVersions": "object_list",
    "ListMultipartUploads": "object_list", "ListParts": "object_list",
    "HeadObject": "object_read", "GetObject": "object_read", "GetObjectTagging": "object_read",
    "GetObjectAcl": "object_read", "GetObjectAttributes": "object_read",
    "PutObject": "object_write", "CopyObject": "object_write", "DeleteObject": "object_write",
    "DeleteObjects": "object_write", "PutObjectTagging": "object_write", "DeleteObjectTagging": "object_write",
    "PutObjectAcl": "object_write", "CreateMultipartUpload": "object_write", "UploadPart": "object_write",
    "UploadPartCopy": "object_write", "CompleteMultipartUpload": "object_write",
    "AbortMultipartUpload": "object_write"}
for _sub in BUCKET_CONFIG.values():
    OPERATIONS["GetBucket" + _sub] = "config_read"
    OPERATIONS["PutBucket" + _sub] = "config_write"
    OPERATIONS["DeleteBucket" + _sub] = "config_write"
# Listings, where a temporary credential's prefixes apply to the "prefix" parameter.
LIST_OPERATIONS = frozenset({"ListObjectsV1", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"})

Op = namedtuple("Op", "name cap bucket key source")  # source: (bucket, key) of a copy, or None
Request = namedtuple("Request", "method raw_path raw_query query headers body client_ip")


def classify(method, raw_path, query, headers):
    """Work out the S3 operation from the method, the path, the query and the headers (path-style only)."""
    segments = raw_path.split("/", 2)
    bucket = urllib.parse.unquote(segments[1]) if len(segments) > 1 and segments[1] else None
    key = urllib.parse.unquote(segments[2]) if len(segments) > 2 and segments[2] else None
    if bucket is None:
        if method == "GET":
            return Op("ListBuckets", "list_buckets", None, None, None)
        raise not_implemented(f"{method} /")
    sub = next((BUCKET_CONFIG[k] for k in query if k in BUCKET_CONFIG), None)
    name = None
    if key is None:
        if method == "HEAD":
            name = "HeadBucket"
        elif method == "GET":
            name = ("GetBucketLocation" if "location" in query else "ListMultipartUploads" if "uploads" in query
                    else "ListObjectVersions" if "versions" in query else f"GetBucket{sub}" if sub
                    else "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjectsV1")
        elif method == "PUT":
            name = f"PutBucket{sub}" if sub else "CreateBucket"
        elif method == "DELETE":
            name = f"DeleteBucket{sub}" if sub else "DeleteBucket"
        elif method == "POST" and "delete" in query:
            name = "DeleteObjects"
        if name is None:
            raise not_implemented(f"{method} on a bucket")
        return Op(name, OPERATIONS[name], bucket, None, None)
    copy = headers.get("x-amz-copy-source")
    if method == "HEAD":
        name = "HeadObject"
    elif method == "GET":
        name = ("ListParts" if "uploadId" in query else "GetObjectTagging" if "tagging" in query
                else "GetObjectAcl" if "acl" in query else "GetObjectAttributes" if "attributes" in query
                else "GetObject")
    elif method == "PUT":
        if "uploadId" in query and "partNumber" in query:
            name = "UploadPartCopy" if copy else "UploadPart"
        else:
            name = ("PutObjectTagging" if "tagging" in query else "PutObjectAcl" if "acl" in query
                    else "CopyObject" if copy else "PutObject")
    elif method == "POST":
        name = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload" if "uploadId" in query \
            else None
    elif method == "DELETE":
        name = ("AbortMultipartUpload" if "uploadId" in query else "DeleteObjectTagging" if "tagging" in query
                else "DeleteObject")
    if name is None:
        raise not_implemented(f"{method} on an object")
    source = None
    if name in ("CopyObject", "UploadPartCopy"):
        # "bucket/key" or "/bucket/key", URL-encoded, maybe with ?versionId=.
        src = urllib.parse.unquote(copy.split("?", 1)[0]).lstrip("/")
        src_bucket, dummy, src_key = src.partition("/")
        if not src_bucket or not src_key:
            raise S3Error(400, "InvalidArgument", "x-amz-copy-source must be bucket/key")
        source = (src_bucket, src_key)
    return Op(name, OPERATIONS[name], bucket, key, source)


Principal = namedtuple("Principal", "kind access_key_id token secret permission bucket prefixes objects actions "
                                    "record claims")


def _principal(kind, access_key_id, token, secret, **temp):
    fields = dict(permission=None, bucket=None, prefixes=(), objects=(), actions=None, record=None, claims=None)
    fields.update(temp)
    return Principal(kind, access_key_id, token, secret, **fields)


def _token_problem(state, tok, client_ip):
    """Why an API token cannot be used now, or None (REF §3: status, expiry, not_before, IP condition).

    ("dead", ...) for a token that is disabled, expired or revoked (exposed) (REF §8): it can
    never authenticate again as it is.  ("not_before" | "ip", ...) for a live token used too early
    or from the wrong place."""
    status = state.status(tok)
    if status != "active":
        return "dead", f"token {tok['id']} is {status}"
    if tok["not_before"] is not None and tok["not_before"] > state.clock():
        return "not_before", f"token {tok['id']} is not valid before its not_before"
    if not state._ip_allowed(tok["condition"], client_ip):  # pylint: disable=protected-access
        return "ip", f"token {tok['id']} cannot be used from location {client_ip}"
    return None


# --- the gateway -----------------------------------------------------------------------
# Request headers that stay at the gateway: hop-by-hop ones, and R2's
# authentication, which moto must not see.
_DROP_REQUEST = frozenset({
    "authorization", "x-amz-security-token", "x-amz-content-sha256", "x-amz-decoded-content-length",
    "x-amz-trailer", "host", "content-length", "transfer-encoding", "connection", "keep-alive", "expect",
    "te", "upgrade", "proxy-connection"})
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date", "content-length"})
XML = [("Content-Type", "application/xml")]


class S3Gateway:
    """The S3 endpoint of one jurisdiction: a loopback HTTP listener plus the moto backend behind it."""

    def __init__(self, state, jurisdiction, backend, host="127.0.0.1", verbose=False):
        self.state, self.jurisdiction, self.backend = state, jurisdiction, backend
        self.host, self.verbose = host, verbose
        self.wall_clock = time.time  # for the SigV4 skew check; the token clock is state.clock
        self._server = self._thread = None

    def start(self):
        self._server, self._thread = serve(self.host, 0, _S3Handler, f"cfemu-s3-{self.jurisdiction}", gateway=self)
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- one request ---------------------------------------------------------------
    def handle(self, req):
        """Answer one request: (status, [(header, value)...], body).  Always logs it."""
        entry = {"jurisdiction": self.jurisdiction, "method": req.method, "path": req.raw_path,
                 "operation": None, "bucket": None, "key": None, "access_key_id": None, "credential": None,
                 "status": None, "error_code": None, "decision": "deny", "reason": None}
        try:
            op = classify(req.method, req.raw_path, req.query, req.headers)
            entry.update(operation=op.name, bucket=op.bucket, key=op.key)
            principal, auth, amz_date = self._authenticate(req, entry)
            body, trailers = self._payload(req, principal, auth, amz_date)
            if op.bucket is not None and op.name != "CreateBucket" \
                    and not self.state.r2.bucket_exists(self.jurisdiction, op.bucket):
                # Also what R2 answers for a bucket of another jurisdiction (REF §4 error codes).
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist.",
                              reason=f"NoSuchBucket: no bucket {op.bucket!r} in jurisdiction {self.jurisdiction}")
            with self.state.lock:
                reason = self._authorize(principal, op, req, body)
            entry.update(decision="allow", reason="signature ok; " + reason)
            status, headers, data = self._dispatch(op, req, body, trailers)
            if status >= 300:
                m = re.search(rb"<Code>([^<]+)</Code>", data)
                entry["error_code"] = m.group(1).decode() if m else None
        except S3Error as err:
            status, headers, data = err.status, XML, err.xml()
            entry["error_code"] = err.code
            entry["reason"] = f"{entry['reason']}; {err.reason}" if entry["decision"] == "allow" else err.reason
        except Exception as err:  # pylint: disable=broad-except
            # A bug or a dead backend: answer like S3 does, and keep serving.
            failure = S3Error(500, "InternalError", "We encountered an internal error. Please try again.")
            status, headers, data = failure.status, XML, failure.xml()
            entry.update(error_code=failure.code, reason=f"InternalError: {type(err).__name__}: {err}")
        entry["status"] = status
        self.state.log_s3(entry)
        return status, headers, data

    def _authenticate(self, req, entry):
        """Find the credential, verify the signature, check validity -> (Principal, SigV4, x-amz-date)."""
        state = self.state
        header = req.headers.get("Authorization")
        if header is None:
            if "X-Amz-Signature" in req.query or "X-Amz-Credential" in req.query:
                raise not_implemented("Presigned URL authentication")
            raise S3Error(401, "Unauthorized", "Unauthorized", reason="Unauthorized: no Authorization header")
        auth = parse_authorization(header)
        entry["access_key_id"] = auth.access_key_id
        amz_date = req.headers.get("x-amz-date", "")
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise S3Error(401, "Unauthorized", "Unauthorized: missing or invalid x-amz-date header",
                          reason="Unauthorized: missing or invalid x-amz-date") from None
        if amz_date[:8] != auth.date:
            raise S3Error(401, "Unauthorized", "Unauthorized: the credential date is not the x-amz-date day",
                          reason="Unauthorized: credential scope date differs from x-amz-date")
        if abs(self.wall_clock() - signed_at.timestamp()) > SKEW_SECONDS:
            raise S3Error(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the server's time is too large.")
        session = req.headers.get("x-amz-security-token")
        with state.lock:
            principal = self._credential(auth.access_key_id, session, entry)
        payload_hash = req.headers.get("x-amz-content-sha256") or hashlib.sha256(req.body).hexdigest()
        if not hmac.compare_digest(expected_signature(principal.secret, auth, req, payload_hash, amz_date),
                                   auth.signature):
            what = {"token": f"secret of token {principal.access_key_id}",
                    "temp-api": f"secret of temporary credential {principal.access_key_id}",
                    "temp-local": "temporary secret derived from the session-token JWT"}[principal.kind]
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                          "the signature you provided. Check your key and signing method.",
                          reason=f"SignatureDoesNotMatch: {what} does not verify")
        with state.lock:
            self._check_validity(principal, req)
            if principal.kind != "temp-api":
                # The access key id is the token's own id (a token, or a JWT signed with its secret).
                state.mark_used(principal.token)
        return principal, auth, amz_date

    def _credential(self, access_key_id, session, entry):
        """Look up the access key id (REF §3, §4); the caller holds State.lock."""
        state = self.state
        tok = state.tokens.get(access_key_id)
        if tok is not None:
            if session is None:
                entry["credential"] = "token"
                return _principal("token", access_key_id, tok, tok["hash"])
            entry["credential"] = "temp-local"
            jwt = session_jwt(session)
            if jwt is None:
                raise invalid_token(f"x-amz-security-token sent with the access key of token {access_key_id} "
                                    "is not a local-signed (jwt/...) session token")
            claims = jwt_claims(jwt, tok)
            paths = claims.get("paths", {})
            return _principal("temp-local", access_key_id, tok, hashlib.sha256(jwt.encode()).hexdigest(),
                              permission=claims["scope"], bucket=claims["bucket"],
                              prefixes=tuple(paths.get("prefixPaths", [])),
                              objects=tuple(paths.get("objectPaths", [])),
                              actions=None if claims.get("actions") is None else frozenset(claims["actions"]),
                              claims=claims)
        rec = state.r2.temp.get(access_key_id)
        if rec is not None:
            entry["credential"] = "temp-api"
            if session is None:
                raise invalid_token(f"temporary credential {access_key_id} needs its x-amz-security-token")
            if not hmac.compare_digest(hashlib.sha256(session.encode()).hexdigest(), rec["session_hash"]):
                raise invalid_token(f"x-amz-security-token is not the session token of {access_key_id}")
            return _principal("temp-api", access_key_id, state.tokens.get(rec["parent_id"]), rec["secret"],
                              permission=rec["permission"], bucket=rec["bucket"], prefixes=tuple(rec["prefixes"]),
                              objects=tuple(rec["objects"]), record=rec)
        raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                      reason=f"InvalidAccessKeyId: no token or temporary credential {access_key_id}")

    def _check_validity(self, p, req):
        """Token status, expiry, not_before and IP condition; for temporary ones, also the parent's."""
        state, now = self.state, self.state.clock()
        if p.kind == "token":
            problem = _token_problem(state, p.token, req.client_ip)
            if problem is None:
                return
            if problem[0] == "dead":
                # R2's answer for credentials that are not valid (REF §4 "R2 S3 error codes": 401, 10002).
                raise unauthorized(problem[1])
            raise denied(problem[1])
        if p.kind == "temp-api":
            rec = p.record
            if now >= rec["expires"]:
                raise expired(f"temporary credential {p.access_key_id} expired")
            parent = state.tokens.get(rec["parent_id"])
            if parent is None:
                raise denied(f"parent token {rec['parent_id']} was deleted")
            if parent["hash"] != rec["parent_hash"]:
                raise denied(f"parent token {rec['parent_id']} was rolled")
        else:
            claims = p.claims
            if claims.get("iss") != p.access_key_id:
                raise invalid_token("JWT 'iss' must be the parent access key id")
            if claims.get("sub") != state.account_id:
                raise invalid_token("JWT 'sub' must be the account id")
            if now >= claims["exp"]:
                raise expired("session-token JWT is past its 'exp'")
            if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now + SKEW_SECONDS:
                raise invalid_token("JWT 'iat' lies in the future")
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if not any(isinstance(a, str) and a.lower() in self._audiences(req) for a in auds):
                raise denied(f"JWT audience {aud!r} is not this endpoint ({self.jurisdiction})")
            parent = p.token
        problem = _token_problem(state, parent, req.client_ip)
        if problem is not None:
            raise denied(f"parent {problem[1]}")

    def _audiences(self, req):
        """Hosts a local-signed JWT may name in 'aud' (REF §4 step 1, §5 endpoints)."""
        acct = self.state.account_id
        canonical = f"{acct}.r2.cloudflarestorage.com" if self.jurisdiction == "default" \
            else f"{acct}.{self.jurisdiction}.r2.cloudflarestorage.com"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return {(req.headers.get("Host") or "").lower(), f"{host}:{self.port}", canonical}

    @staticmethod
    def _payload(req, p, auth, amz_date):
        """Check x-amz-content-sha256 and decode aws-chunked bodies -> (body, trailing headers)."""
        sha = req.headers.get("x-amz-content-sha256")
        body, trailers = req.body, {}
        if sha in (STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
            chain = None
            if sha != STREAMING_UNSIGNED_TRAILER:
                scope = f"{auth.date}/{auth.region}/s3/aws4_request"
                chain = (signing_key(p.secret, auth.date, auth.region), amz_date, scope, auth.signature)
            body, trailers = decode_aws_chunked(req.body, chain)
            decoded = req.headers.get("x-amz-decoded-content-length")
            if decoded is not None and decoded.strip() != str(len(body)):
                raise S3Error(400, "IncompleteBody", "The decoded body length does not match "
                              "x-amz-decoded-content-length.")
        elif sha is not None and sha.startswith("STREAMING-"):
            raise not_implemented(f"x-amz-content-sha256 {sha}")
        elif sha is not None and sha != UNSIGNED_PAYLOAD:
            if not HEX64.fullmatch(sha):
                raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                              "a STREAMING-* value or the SHA-256 hex of the body")
            if sha != hashlib.sha256(body).hexdigest():
                raise S3Error(400, "XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header does not match what was computed.")
        for name, value in trailers.items():
            algorithm = name[len("x-amz-checksum-"):] if name.startswith("x-amz-checksum-") else None
            if algorithm in CHECKSUMS and CHECKSUMS[algorithm](body) != value:
                raise S3Error(400, "BadDigest", f"The {algorithm.upper()} you specified did not match the "
                              "calculated checksum.")
        return body, trailers

    # --- authorization ------------------------------------------------------------------
    def _access(self, p, bucket):
        """(capabilities, who) of the principal on bucket in this jurisdiction."""
        caps, who = token_access(self.state.account_id, p.token, self.jurisdiction, bucket)
        if p.kind == "token":
            return caps, who
        if bucket != p.bucket:
            return frozenset(), f"{p.kind} credential bound to bucket {p.bucket!r}"
        # A temporary credential never exceeds its scope, nor its parent's current access.
        return caps & CAPS[p.permission], f"{p.kind} {label(p.permission)} credential (parent: {who})"

    @staticmethod
    def _in_paths(p, key):
        if not (p.prefixes or p.objects):
            return True
        return key in p.objects or any(key.startswith(prefix) for prefix in p.prefixes)

    def _authorize(self, p, op, req, body):
        """Return the reason it is allowed, or raise AccessDenied; the caller holds State.lock."""
        where = f"{self.jurisdiction}/{op.bucket}" if op.bucket else self.jurisdiction
        caps, who = self._access(p, op.bucket)
        if op.cap not in caps:
            raise denied(f"{who} does not allow {op.name} in {where}")
        if p.kind != "token":
            # HeadBucket cannot be named in 'actions' (REF §4 list) and clients need it.
            if p.actions is not None and op.name != "HeadBucket" and op.name not in p.actions:
                raise denied(f"the JWT 'actions' do not include {op.name}")
            if op.key is not None and not self._in_paths(p, op.key):
                raise denied(f"key {op.key!r} is outside the credential's prefixes/objects")
            if op.name in LIST_OPERATIONS and (p.prefixes or p.objects):
                # Listing is allowed only below an allowed prefix, or for one allowed object.
                prefix = req.query.get("prefix", [""])[0]
                if prefix not in p.objects and not any(prefix.startswith(x) for x in p.prefixes):
                    raise denied(f"listing prefix {prefix!r} is outside the credential's prefixes")
            if op.name == "DeleteObjects" and (p.prefixes or p.objects):
                outside = [k for k in self._delete_keys(body) if not self._in_paths(p, k)]
                if outside:
                    raise denied(f"DeleteObjects names key {outside[0]!r} outside the credential's prefixes/objects")
        if op.source is not None:
            src_bucket, src_key = op.source
            src_caps, src_who = self._access(p, src_bucket)
            if "object_read" not in src_caps:
                raise denied(f"{src_who} does not allow reading copy source {self.jurisdiction}/{src_bucket}")
            if p.kind != "token" and not self._in_paths(p, src_key):
                raise denied(f"copy source key {src_key!r} is outside the credential's prefixes/objects")
        return f"{who} allows {op.name} in {where}"

    @staticmethod
    def _delete_keys(body):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
        return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]

    # --- forwarding --------------------------------------------------------------------
    def _dispatch(self, op, req, body, trailers):
        r2 = self.state.r2
        if op.name == "CreateBucket":
            if not valid_bucket_name(op.bucket):
                raise S3Error(400, "InvalidBucketName", "The specified bucket name is not valid.")
            location = self._location_hint(body)
            with r2.bucket_lock:  # never held together with State.lock here (see r2.py)
                if r2.bucket_exists(self.jurisdiction, op.bucket):
                    raise S3Error(409, "BucketAlreadyOwnedByYou",
                                  "The bucket you tried to create already exists, and you own it.")
                # The body (LocationConstraint) stays here: moto would refuse "auto" and the R2 hints.
                result = self._forward(req, b"", {})
                if result[0] == 200:
                    r2.register_bucket(self.jurisdiction, op.bucket, location)
                return result
        if op.name == "DeleteBucket":
            with r2.bucket_lock:
                result = self._forward(req, body, trailers)
                if result[0] == 204:
                    r2.unregister_bucket(self.jurisdiction, op.bucket)
                return result
        return self._forward(req, body, trailers)

    @staticmethod
    def _location_hint(body):
        """LocationConstraint of CreateBucket: auto, empty and us-east-1 mean 'no hint' (REF §5)."""
        if not body.strip():
            return None
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
        for el in root.iter():
            if el.tag.rsplit("}", 1)[-1] == "LocationConstraint":
                value = (el.text or "").strip().lower()
                if value in ("", "auto", "us-east-1"):
                    return None
                if value in LOCATIONS:
                    return value
                raise S3Error(400, "InvalidLocationConstraint", "The specified location-constraint is not valid")
        return None

    def _forward(self, req, body, trailers):
        headers = []
        for name, value in req.headers.items():
            lname = name.lower()
            if lname in _DROP_REQUEST:
                continue
            if lname == "content-encoding":  # aws-chunked is decoded here; keep any other coding
                value = ",".join(e.strip() for e in value.split(",") if e.strip() and e.strip() != "aws-chunked")
                if not value:
                    continue
            headers.append((name, value))
        # A trailing checksum becomes a header, so moto stores it with the object.
        headers += [(n, v) for n, v in trailers.items() if n.startswith("x-amz-checksum-")]
        target = req.raw_path + ("?" + req.raw_query if req.raw_query else "")
        try:
            status, resp_headers, data = self.backend.request(req.method, target, headers, body)
        except (OSError, http.client.HTTPException) as err:
            raise S3Error(503, "ServiceUnavailable", "Please reduce your request rate.",
                          reason=f"ServiceUnavailable: moto backend of {self.jurisdiction} failed: {err}") from None
        out = [(n, v) for n, v in resp_headers if n.lower() not in _DROP_RESPONSE]
        if req.method == "HEAD":  # keep the object size: a HEAD answer has no body to measure
            out += [(n, v) for n, v in resp_headers if n.lower() == "content-length"]
        return status, out, data


class _S3Handler(LoopbackHandler):

    def version_string(self):
        return "cloudflare"

    def respond(self):
        self._serve()

    def verbose(self):
        return self.server.gateway.verbose

    def _serve(self):
        raw_path, dummy, raw_query = self.path.partition("?")
        try:
            body = self.read_body(strict_length=True)
        except ValueError:
            self.close_connection = True
            err = S3Error(400, "IncompleteBody", "The request body could not be read.")
            return self._reply(err.status, XML, err.xml())
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        req = Request(self.command, raw_path, raw_query, query, self.headers, body, self.client_address[0])
        return self._reply(*self.server.gateway.handle(req))

    def _reply(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(n.lower() == "content-length" for n, dummy in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
