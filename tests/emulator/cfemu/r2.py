"""R2 side of the emulated Cloudflare API: permissions, buckets, temporary credentials.

- The permission model maps each R2 permission group to a set of capabilities.
  The S3 gateway (s3.py) enforces them, and the temp-credentials call checks them.
- A registry holds each jurisdiction's buckets, with the metadata the
  Cloudflare API shows. The objects themselves live in moto (backends.py).
- The endpoints: GET/POST /accounts/{id}/r2/buckets and
  POST /accounts/{id}/r2/temp-access-credentials.

"REF §n" points to /work/shared/reference/cloudflare-r2-api.md.  Every method
runs with State.lock held (State.handle_api, or the gateway's lookups), except
the bucket-registry ones: they take bucket_lock instead, which may be taken
while holding State.lock but never the other way round.
"""

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
import re
import secrets
import threading
import urllib.parse

from .state import (BUCKET_KEY, E_FORBIDDEN, GROUPS_BY_ID, JURISDICTIONS, SCOPE_ACCOUNT, SCOPE_BUCKET, ApiError,
                    invalid, success)
PERMISSIONS = ("admin-read-write", "admin-read-only", "object-read-write", "object-read-only")  # REF §4
LOCATIONS = ("apac", "eeur", "enam", "weur", "wnam", "oc")  # schema r2_bucket_location
STORAGE_CLASSES = ("Standard", "InfrequentAccess")
# Where a bucket lands when the caller gives no location hint.  Cloudflare picks
# one near the caller; these are fixed, so that tests can rely on them: weur for
# eu, enam for every other jurisdiction.
DEFAULT_LOCATION = {"eu": "weur"}
MAX_TTL = 604800  # schema r2_temp_access_creds_request.ttlSeconds maximum (7 days)
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")  # REF §6: 3-63 chars, 63 not the schema's 64

# Codes for the R2 endpoints.  10004 and 10005 are R2's own codes for a
# bucket that already exists and for an invalid bucket name (R2 error-codes
# docs, REF §4).  10003 is R2's AccessDenied code; here it is used when the
# credential asked for goes beyond its parent.
E_R2_ACCESS_DENIED = 10003
E_BUCKET_EXISTS = 10004
E_BUCKET_NAME = 10005

# --- permission model --------------------------------------------------------------
# Capabilities.  Each S3 operation needs exactly one of them (s3.py OPERATIONS).
# "bucket_head" covers HeadBucket and GetBucketLocation.  The object-level
# permissions get it too, for the buckets in their scope: rclone, boto3 and
# s3cmd call these before they touch an object.
_OBJECT_READ = frozenset({"object_list", "object_read", "bucket_head"})
CAPS = {  # REF §4 "Scopes"; dashboard names in REF §2
    "object-read-only": _OBJECT_READ,
    "object-read-write": _OBJECT_READ | {"object_write"},
    "admin-read-only": _OBJECT_READ | {"list_buckets", "config_read"},
    "admin-read-write": _OBJECT_READ | {"object_write", "list_buckets", "config_read", "config_write",
                                        "bucket_create", "bucket_delete"},
}
GROUP_PERMISSION = {  # REF §2
    "Workers R2 Storage Write": "admin-read-write",
    "Workers R2 Storage Read": "admin-read-only",
    "Workers R2 Storage Bucket Item Write": "object-read-write",
    "Workers R2 Storage Bucket Item Read": "object-read-only",
}


def label(permission):
    """'object-read-only' -> 'object_read_only' (the spelling used in log reasons)."""
    return permission.replace("-", "_")


def valid_bucket_name(name):
    return isinstance(name, str) and bool(BUCKET_NAME.fullmatch(name))


def _target(account_id, key, val):
    """What one policy resource covers (REF §2): ('account',), ('all_buckets',),
    ('bucket', jurisdiction, name), or None when it is not an R2 resource of this account."""
    acct_prefix = SCOPE_ACCOUNT + "."
    ours = (account_id, "*")
    if isinstance(val, dict):  # nested "all buckets of account X"
        if key.startswith(acct_prefix) and key[len(acct_prefix):] in ours and val.get(SCOPE_BUCKET + ".*") == "*":
            return ("all_buckets",)
        return None
    if val != "*":
        return None
    if key.startswith(SCOPE_BUCKET + "."):
        m = BUCKET_KEY.fullmatch(key[len(SCOPE_BUCKET) + 1:])
        return ("bucket", m.group(2), m.group(3)) if m and m.group(1) == account_id else None
    if key.startswith(acct_prefix) and key[len(acct_prefix):] in ours:
        return ("account",)
    return None


def _covers(target, jurisdiction, bucket):
    if target[0] == "account":
        return True  # the admin groups cover every bucket in every jurisdiction
    if bucket is None:
        return False  # account-level operations (ListBuckets) need an admin group
    return target[0] == "all_buckets" or (target[1], target[2]) == (jurisdiction, bucket)


def token_access(account_id, tok, jurisdiction, bucket):
    """(capabilities, label) that tok's policies grant on jurisdiction/bucket.

    Pass bucket=None for account-level operations.  A group applies only to
    resources of its own scope (REF §2).  Deny policies win: they take away
    their group's capabilities (REF §1: explicit deny, then allow, then deny all).
    """
    allowed, denied, perms = set(), set(), set()
    for pol in tok["policies"]:
        for grp in pol["permission_groups"]:
            known = GROUPS_BY_ID.get(grp["id"])
            perm = GROUP_PERMISSION.get(known[1]) if known else None
            if perm is None:
                continue
            for key, val in pol["resources"].items():
                target = _target(account_id, key, val)
                if target is None or (target[0] == "account") != (known[2] == SCOPE_ACCOUNT):
                    continue
                if _covers(target, jurisdiction, bucket):
                    if pol["effect"] == "deny":
                        denied |= CAPS[perm]
                    else:
                        allowed |= CAPS[perm]
                        perms.add(perm)
    text = "+".join(label(p) for p in PERMISSIONS if p in perms) or "no R2 permission"
    if denied & allowed:
        text += " (minus a deny policy)"
    return frozenset(allowed - denied), text


def fmt_ms(ts):
    # R2 shows creation dates with milliseconds, e.g. 2022-05-19T02:35:04.960Z.
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class R2:
    """R2 state: bucket registry, API-minted temporary credentials, moto handles."""

    def __init__(self, state):
        self.state = state
        self.backends = {}  # jurisdiction -> backends.MotoBackend; set by Emulator when S3 is on
        self.bucket_lock = threading.RLock()
        self.buckets = {j: {} for j in JURISDICTIONS}
        self.temp = {}  # access key id -> record (see _op_temp_credentials)

    def reset(self):
        with self.bucket_lock:
            for backend in self.backends.values():
                backend.reset()
            self.buckets = {j: {} for j in JURISDICTIONS}
        self.temp = {}

    # --- bucket registry ------------------------------------------------------------
    def bucket_exists(self, jurisdiction, name):
        with self.bucket_lock:
            return name in self.buckets[jurisdiction]

    def register_bucket(self, jurisdiction, name, location=None, storage_class="Standard"):
        """Record a bucket that now exists in the jurisdiction's moto backend."""
        with self.bucket_lock:
            meta = {"name": name, "creation_date": fmt_ms(self.state.clock()),
                    "location": location or DEFAULT_LOCATION.get(jurisdiction, "enam"),
                    "storage_class": storage_class or "Standard", "jurisdiction": jurisdiction}
            self.buckets[jurisdiction][name] = meta
            return dict(meta)

    def unregister_bucket(self, jurisdiction, name):
        with self.bucket_lock:
            self.buckets[jurisdiction].pop(name, None)

    def create_bucket(self, jurisdiction, name, location=None, storage_class="Standard"):
        """Create in moto (if S3 is on) and register; 409 if the name is taken here."""
        with self.bucket_lock:
            if name in self.buckets[jurisdiction]:
                raise ApiError(409, E_BUCKET_EXISTS, "The bucket you tried to create already exists, and you own it.")
            backend = self.backends.get(jurisdiction)
            if backend is not None:
                status, dummy, body = backend.request("PUT", "/" + urllib.parse.quote(name), [], b"")
                if status != 200:
                    raise RuntimeError(f"moto refused bucket {name!r} in {jurisdiction}: {status} {body[:200]!r}")
            return self.register_bucket(jurisdiction, name, location, storage_class)

    def admin_buckets(self):
        with self.bucket_lock:
            return {j: sorted(self.buckets[j]) for j in JURISDICTIONS}

    def admin_create_bucket(self, data):
        name, jurisdiction = data.get("name"), data.get("jurisdiction", "default")
        if not valid_bucket_name(name):
            raise invalid("name: 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")
        if jurisdiction not in JURISDICTIONS:
            raise invalid(f"jurisdiction: must be one of {', '.join(JURISDICTIONS)}")
        location = data.get("location")
        if location is not None and location not in LOCATIONS:
            raise invalid(f"location: must be one of {', '.join(LOCATIONS)}")
        storage_class = data.get("storage_class", "Standard")
        if storage_class not in STORAGE_CLASSES:
            raise invalid(f"storage_class: must be one of {', '.join(STORAGE_CLASSES)}")
        return self.create_bucket(jurisdiction, name, location, storage_class)

    # --- API endpoints (called by State.handle_api with State.lock held) -----------------
    def handle(self, op, params, query, body, headers, tok):
        if params["account_id"] != self.state.account_id:
            raise ApiError(403, E_FORBIDDEN, "Unauthorized to access requested resource")
        return getattr(self, "_op_" + op)(params, query, body, headers or {}, tok)

    def _require(self, tok, write):
        """x-api-token-group of the bucket operations: Workers R2 Storage Write (or Read to list)."""
        resources = [f"{SCOPE_ACCOUNT}.{self.state.account_id}", f"{SCOPE_ACCOUNT}.*"]
        if not self.state.has_permission(tok, "r2.write" if write else "r2.read", resources):
            raise ApiError(403, E_FORBIDDEN, "Unauthorized to access requested resource")

    @staticmethod
    def _jurisdiction(headers):
        value = headers.get("cf-r2-jurisdiction") or "default"
        if value not in JURISDICTIONS:
            raise invalid(f"cf-r2-jurisdiction: must be one of {', '.join(JURISDICTIONS)}")
        return value

    @staticmethod
    def _encode_cursor(name):
        # Opaque to clients; shaped like the schema's example ("1-" + base64).
        raw = urllib.parse.quote(json.dumps({"v": 1, "startAfter": name}, separators=(",", ":")))
        return "1-" + base64.b64encode(raw.encode()).decode()

    @staticmethod
    def _decode_cursor(cursor):
        try:
            if not cursor.startswith("1-"):
                raise ValueError
            data = json.loads(urllib.parse.unquote(base64.b64decode(cursor[2:], validate=True).decode()))
            if not isinstance(data.get("startAfter"), str):
                raise ValueError
            return data["startAfter"]
        except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
            raise invalid("cursor: not a cursor returned by this API") from None

    def _op_r2_list_buckets(self, params, query, body, headers, tok):
        self._require(tok, write=False)
        jurisdiction = self._jurisdiction(headers)
        per_page = self.state._int_param(query, "per_page", 20, 1, 1000)  # pylint: disable=protected-access
        order = query.get("order", ["name"])[0]
        if order != "name":
            raise invalid("order: must be 'name'")
        direction = query.get("direction", ["asc"])[0]
        if direction not in ("asc", "desc"):
            raise invalid("direction: must be 'asc' or 'desc'")
        contains = query.get("name_contains", [""])[0]
        cursor = query.get("cursor", [""])[0]
        after = self._decode_cursor(cursor) if cursor else query.get("start_after", [""])[0]
        with self.bucket_lock:
            items = sorted(self.buckets[jurisdiction].values(), key=lambda b: b["name"], reverse=direction == "desc")
        items = [b for b in items if contains in b["name"]]
        if after:
            # "start after" follows the listing direction.
            items = [b for b in items if (b["name"] > after if direction == "asc" else b["name"] < after)]
        page = items[:per_page]
        # An empty cursor means "no more pages" (result_info.cursor is a string in the schema).
        next_cursor = self._encode_cursor(page[-1]["name"]) if len(items) > per_page else ""
        return success({"buckets": [dict(b) for b in page]},
                       result_info={"cursor": next_cursor, "per_page": per_page})

    def _op_r2_create_bucket(self, params, query, body, headers, tok):
        self._require(tok, write=True)
        jurisdiction = self._jurisdiction(headers)
        data = self.state._json(body)  # pylint: disable=protected-access
        if not isinstance(data, dict):
            raise invalid("request body must be a JSON object")
        name = data.get("name")
        if not valid_bucket_name(name):
            raise ApiError(400, E_BUCKET_NAME, "The specified bucket name is not valid. Bucket names must be "
                           "3-63 characters of a-z, 0-9 and '-', and not begin or end with '-'.")
        hint = data.get("locationHint")
        if hint is not None and (not isinstance(hint, str) or hint.lower() not in LOCATIONS):
            raise invalid(f"locationHint: must be one of {', '.join(LOCATIONS)}")
        storage_class = data.get("storageClass", "Standard")
        if storage_class not in STORAGE_CLASSES:
            raise invalid(f"storageClass: must be one of {', '.join(STORAGE_CLASSES)}")
        return success(self.create_bucket(jurisdiction, name, hint.lower() if hint else None, storage_class))

    def _op_r2_temp_credentials(self, params, query, body, headers, tok):
        """REF §4.  The call takes no jurisdiction: the credential is bound to a
        bucket name only, and it works on every jurisdiction endpoint where the
        parent's scope includes a bucket of that name (see README)."""
        state = self.state
        data = state._json(body)  # pylint: disable=protected-access
        if not isinstance(data, dict):
            raise invalid("request body must be a JSON object")
        for field in ("bucket", "parentAccessKeyId", "permission", "ttlSeconds"):
            if field not in data:
                raise invalid(f"{field}: required")
        bucket, parent_id, permission, ttl = (data["bucket"], data["parentAccessKeyId"],
                                              data["permission"], data["ttlSeconds"])
        if not valid_bucket_name(bucket):
            raise invalid("bucket: not a valid bucket name")
        if not isinstance(parent_id, str) or not parent_id:
            raise invalid("parentAccessKeyId: must be the id of an API token")
        if permission not in PERMISSIONS:
            raise invalid(f"permission: must be one of {', '.join(PERMISSIONS)}")
        # The schema only sets maximum 604800.  A TTL of 0 or less would give
        # a credential that is dead on arrival, so 1 is the minimum here.
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl) \
                or not 1 <= ttl <= MAX_TTL:
            raise invalid(f"ttlSeconds: must be a number from 1 to {MAX_TTL}")
        paths = {}
        for field in ("prefixes", "objects"):
            val = data.get(field, [])
            if not isinstance(val, list) or not all(isinstance(v, str) and v for v in val):
                raise invalid(f"{field}: must be a list of non-empty strings")
            paths[field] = list(val)
        # The docs authorise this call with the parent token itself (REF §4).
        # An R2 admin (Workers R2 Storage Write) may also mint for any parent.
        if tok["id"] != parent_id:
            self._require(tok, write=True)
        parent = state.tokens.get(parent_id)
        if parent is None or (parent["owner"] == "account" and parent["account_id"] != state.account_id):
            raise invalid(f"parentAccessKeyId: no API token with id {parent_id} in this account")
        now = state.clock()
        if state.status(parent) != "active" or (parent["not_before"] or 0) > now:
            raise invalid(f"parentAccessKeyId: token {parent_id} is not active")
        wanted = CAPS[permission]
        scopes = {j: token_access(state.account_id, parent, j, bucket) for j in JURISDICTIONS}
        if not any(caps for caps, dummy in scopes.values()):
            raise ApiError(403, E_R2_ACCESS_DENIED, f"Access denied: bucket '{bucket}' is not within the scope "
                           f"of parent access key {parent_id}")
        if not any(wanted <= caps for caps, dummy in scopes.values()):
            held = "; ".join(f"{j}: {text}" for j, (caps, text) in scopes.items() if caps)
            raise ApiError(403, E_R2_ACCESS_DENIED, f"Access denied: permission '{permission}' is higher than the "
                           f"parent access key's permission on bucket '{bucket}' ({held})")
        access_key_id, secret = secrets.token_hex(16), secrets.token_hex(32)
        session = base64.b64encode(b"cfemu-temp/" + secrets.token_bytes(48)).decode()
        self.temp[access_key_id] = {
            "access_key_id": access_key_id, "secret": secret,
            "session_hash": hashlib.sha256(session.encode()).hexdigest(),
            # A roll or a delete changes or removes the parent's hash, which kills its children.
            "parent_id": parent_id, "parent_hash": parent["hash"],
            "permission": permission, "bucket": bucket, "prefixes": paths["prefixes"],
            "objects": paths["objects"], "expires": now + ttl}
        state.note_issued(secret, session)
        return success({"accessKeyId": access_key_id, "secretAccessKey": secret, "sessionToken": session})
