"""Request-authentication primitives of the S3 gateway (s3.py).

- S3Error, the XML error every check raises.
- SigV4 header parsing, and signature recomputation with botocore.
- aws-chunked decoding, with chunk and trailer signatures and trailing checksums.
- Local-signed JWT session tokens (REF §4 recipe).

Nothing here knows about tokens or the emulator's state.  "REF §n" points to
/work/shared/reference/cloudflare-r2-api.md.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import urllib.parse
import zlib
from collections import namedtuple
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from .r2 import PERMISSIONS

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
HEX64 = re.compile(r"[0-9a-f]{64}")

# The operation names that a local-signed JWT may list in "actions" (REF §4).
LOCAL_ACTIONS = frozenset({
    "HeadObject", "GetObject", "GetBucketLocation", "ListObjectsV1", "ListObjectsV2", "ListMultipartUploads",
    "ListParts", "PutObject", "DeleteObject", "DeleteObjects", "CopyObject", "CreateMultipartUpload",
    "UploadPart", "UploadPartCopy", "AbortMultipartUpload", "CompleteMultipartUpload"})


class S3Error(Exception):
    """An S3 XML error.  reason goes to the request log, so it must hold no secret."""

    def __init__(self, status, code, message, reason=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.reason = reason or f"{code}: {message}"

    def xml(self):
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(self.code)}</Code>'
                f'<Message>{escape(self.message)}</Message></Error>').encode()


def denied(reason):
    # The message carries the reason: real R2 says only "Access Denied", but
    # here a failing test should show which rule refused it.
    return S3Error(403, "AccessDenied", f"Access Denied ({reason})", reason=f"AccessDenied: {reason}")


def unauthorized(reason):
    """401 Unauthorized, R2's code 10002 for missing or invalid credentials (REF §4 error codes)."""
    return S3Error(401, "Unauthorized", f"Unauthorized ({reason})", reason=f"Unauthorized: {reason}")


def invalid_token(reason):
    return S3Error(403, "InvalidToken", "The provided token is malformed or otherwise invalid.",
                   reason=f"InvalidToken: {reason}")


def expired(reason):
    return S3Error(400, "ExpiredToken", "The provided token has expired.", reason=f"ExpiredToken: {reason}")


def not_implemented(what):
    return S3Error(501, "NotImplemented", f"{what} is not implemented by this emulator")


# --- SigV4 ---------------------------------------------------------------------------
SigV4 = namedtuple("SigV4", "access_key_id date region signed_headers signature")


def parse_authorization(value):
    """Fields of 'AWS4-HMAC-SHA256 Credential=AKID/date/region/s3/aws4_request, SignedHeaders=.., Signature=..'."""
    m = re.fullmatch(r"\s*AWS4-HMAC-SHA256\s+(.+?)\s*", value, re.S)
    if not m:
        raise S3Error(401, "Unauthorized", "Unauthorized: only AWS Signature Version 4 "
                      "(AWS4-HMAC-SHA256) header authentication is supported",
                      reason="Unauthorized: Authorization header is not AWS4-HMAC-SHA256")
    fields = {}
    for part in m.group(1).split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name.strip()] = val.strip()
    cred = fields.get("Credential", "").split("/")
    signed = fields.get("SignedHeaders", "")
    if (len(cred) != 5 or not cred[0] or not re.fullmatch(r"\d{8}", cred[1]) or cred[3] != "s3"
            or cred[4] != "aws4_request" or not signed or not HEX64.fullmatch(fields.get("Signature", ""))):
        raise S3Error(401, "Unauthorized", "Unauthorized: malformed Authorization header",
                      reason="Unauthorized: malformed AWS4-HMAC-SHA256 Authorization header")
    return SigV4(cred[0], cred[1], cred[2], signed.lower().split(";"), fields["Signature"])


def canonical_query(raw_query):
    """SigV4 canonical query: every name and value URI-encoded once, sorted."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, dummy, val = part.partition("=")
            pairs.append((urllib.parse.quote(urllib.parse.unquote(name), safe="-_.~"),
                          urllib.parse.quote(urllib.parse.unquote(val), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class _ReceivedRequestSigner(S3SigV4Auth):
    """botocore's S3 signer, made to sign exactly the headers the client signed.

    (The stock headers_to_sign() would pick its own set: it drops user-agent,
    expect and a few more.)"""

    def __init__(self, access_key_id, secret, region, signed_headers):
        super().__init__(Credentials(access_key_id, secret), "s3", region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        return self._signed


def expected_signature(secret, auth, req, payload_hash, amz_date):
    """The signature the client would have sent, had it held secret."""
    signed = HTTPHeaders()
    for name in auth.signed_headers:
        for value in req.headers.get_all(name) or [""]:
            signed[name] = value  # HTTPMessage: assignment appends, so repeated headers are kept
    url = "http://cfemu" + req.raw_path + ("?" + canonical_query(req.raw_query) if req.raw_query else "")
    aws_req = AWSRequest(method=req.method, url=url)
    aws_req.headers["X-Amz-Content-SHA256"] = payload_hash  # the last line of the canonical request
    aws_req.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(auth.access_key_id, secret, auth.region, signed)
    canonical = signer.canonical_request(aws_req)
    return signer.signature(signer.string_to_sign(aws_req, canonical), aws_req)


def signing_key(secret, date, region):
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# --- payloads ----------------------------------------------------------------------
def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for dummy in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# Trailing checksums the gateway can check (CRC64NVME is passed on unchecked).
CHECKSUMS = {
    "crc32": lambda d: base64.b64encode((zlib.crc32(d) & 0xFFFFFFFF).to_bytes(4, "big")).decode(),
    "crc32c": lambda d: base64.b64encode(_crc32c(d).to_bytes(4, "big")).decode(),
    "sha1": lambda d: base64.b64encode(hashlib.sha1(d).digest()).decode(),
    "sha256": lambda d: base64.b64encode(hashlib.sha256(d).digest()).decode(),
}


def decode_aws_chunked(raw, chain=None):
    """Decode an aws-chunked body -> (data, trailers).

    chain = (signing key, x-amz-date, credential scope, seed signature) for
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: each chunk signature is
    checked, and so is the trailer signature if there is one.  With None, the
    body is STREAMING-UNSIGNED-PAYLOAD-TRAILER.
    """
    def incomplete(what):
        return S3Error(400, "IncompleteBody", f"aws-chunked body: {what}")

    def chained(kind, digest):
        key, amz_date, scope, prev = chain
        sts = "\n".join([kind, amz_date, scope, prev] + digest)
        return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

    pos, out = 0, []
    while True:
        eol = raw.find(b"\r\n", pos)
        if eol < 0:
            raise incomplete("missing chunk header")
        size_text, dummy, ext = raw[pos:eol].decode("latin-1").partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise incomplete("bad chunk size") from None
        pos = eol + 2
        data = raw[pos:pos + size]
        if len(data) != size:
            raise incomplete("short chunk")
        pos += size
        if chain is not None:
            m = re.fullmatch(r"\s*chunk-signature=([0-9a-f]{64})\s*", ext)
            want = chained("AWS4-HMAC-SHA256-PAYLOAD", [EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
            if not m or not hmac.compare_digest(m.group(1), want):
                raise S3Error(403, "SignatureDoesNotMatch", "The chunk signature does not match.",
                              reason="SignatureDoesNotMatch: an aws-chunked chunk signature does not verify")
            chain = chain[:3] + (want,)
        if size == 0:
            break
        out.append(data)
        if raw[pos:pos + 2] != b"\r\n":
            raise incomplete("missing CRLF after chunk")
        pos += 2
    trailers, canonical, trailer_sig = {}, "", None
    for line in raw[pos:].decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, dummy, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature":
            trailer_sig = value
        else:
            trailers[name] = value
            canonical += f"{name}:{value}\n"
    if chain is not None and trailer_sig is not None:
        want = chained("AWS4-HMAC-SHA256-TRAILER", [hashlib.sha256(canonical.encode()).hexdigest()])
        if not hmac.compare_digest(trailer_sig, want):
            raise S3Error(403, "SignatureDoesNotMatch", "The trailer signature does not match.",
                          reason="SignatureDoesNotMatch: the aws-chunked trailer signature does not verify")
    return b"".join(out), trailers


# --- local-signed temporary credentials (REF §4 recipe) --------------------------------
def _b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_jwt(session):
    """The JWT inside a local-signed session token (standard base64 of 'jwt/<JWT>'), or None."""
    session = session.strip()
    try:
        raw = base64.b64decode(session + "=" * (-len(session) % 4), validate=True)
        return raw[4:].decode("ascii") if raw.startswith(b"jwt/") else None
    except (binascii.Error, ValueError):
        return None


def jwt_claims(jwt, parent):
    """Claims of a local-signed JWT, checked for shape and for its HS256 signature.

    The HMAC key is the parent's S3 secret, which is the SHA-256 hex of its
    current value: tok["hash"].  A roll changes that secret, so every JWT of
    the parent fails from then on."""
    parts = jwt.split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        header, claims, signature = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1])), _b64url(parts[2])
    except (ValueError, binascii.Error):
        raise invalid_token("session token is not a well-formed JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise invalid_token("session-token JWT must be HS256 with an object payload")
    want = hmac.new(parent["hash"].encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, signature):
        raise S3Error(403, "SignatureDoesNotMatch", "The session token signature does not match.",
                      reason=f"SignatureDoesNotMatch: session-token JWT is not signed with the current "
                             f"secret of token {parent['id']}")
    actions, paths = claims.get("actions"), claims.get("paths", {})
    if not isinstance(claims.get("bucket"), str) or claims.get("scope") not in PERMISSIONS:
        raise invalid_token("JWT needs a 'bucket' and a 'scope' of " + ", ".join(PERMISSIONS))
    if actions is not None and (not isinstance(actions, list) or not set(actions) <= LOCAL_ACTIONS):
        raise invalid_token(f"JWT 'actions' must be a list of {', '.join(sorted(LOCAL_ACTIONS))}")
    if not isinstance(paths, dict) or not all(
            isinstance(paths.get(k, []), list) and all(isinstance(p, str) for p in paths.get(k, []))
            for k in ("prefixPaths", "objectPaths")):
        raise invalid_token("JWT 'paths' must be {prefixPaths: [...], objectPaths: [...]}")
    if not isinstance(claims.get("exp"), (int, float)) or isinstance(claims.get("exp"), bool):
        raise invalid_token("JWT needs a numeric 'exp'")
    return claims
