"""Token store and Cloudflare semantics of the emulator.

All state lives in one State object guarded by one lock; server.py only
parses HTTP and writes responses.  "REF §n" points to sections of
/work/shared/reference/cloudflare-r2-api.md.  Responses are shaped to validate
against /work/shared/cloudflare-openapi/r2-credentials.openapi.json.
"""

import bisect
import copy
import datetime as dt
import hashlib
import ipaddress
import json
import math
import re
import secrets
import string
import threading
import time
import zlib
from collections import deque

# --- Error codes ------------------------------------------------------------
# Observed in real Cloudflare responses (or the schema's own example).
E_INVALID_TOKEN = 1000  # 401 "Invalid API Token"
E_BAD_HEADERS = 6003  # 400 "Invalid request headers", detail follows
E_AUTH_FORMAT = 6111  # detail: "Invalid format for Authorization header"
E_AUTH_MISSING = 9106  # detail: "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
E_BAD_JSON = 6007  # 400 "Malformed JSON in request body"
E_METHOD = 7001  # 405 "Method not allowed"
E_NO_ROUTE = 7003  # 404 "No route for the URI"
E_FORBIDDEN = 9109  # 403 "Unauthorized to access requested resource"
# Chosen here: Cloudflare does not publish codes for these cases.
E_VALIDATION = 1001  # 400, message names the offending field
E_QUOTA = 1002  # 400, token quota reached (REF §6)
E_NOT_FOUND = 1003  # 404 "Token not found"
E_REVOKED = 1004  # 400, the token was revoked (exposed): no update, no roll
# Gateway-level errors: 10000 + HTTP status (10429, 10500, ...).  The real
# rate-limit code is 971, below the schema's `minimum: 1000` for error codes.
E_GATEWAY_BASE = 10000
MSG_RATE_LIMITED = "Please wait and consider throttling your request speed"

SCOPE_ACCOUNT = "com.cloudflare.api.account"
SCOPE_ZONE = "com.cloudflare.api.account.zone"
SCOPE_USER = "com.cloudflare.api.user"
SCOPE_BUCKET = "com.cloudflare.edge.r2.bucket"

# R2 jurisdictions (REF §5): the one list of the emulator.  Each has its own
# S3 gateway and moto server, its bucket resource keys and its header value.
JURISDICTIONS = ("default", "eu", "fedramp", "us")

# Token statuses (REF §8).  A client may set only the first two; Cloudflare
# reports "expired" (derived from expires_on) and "revoked (exposed)" (secret
# scanning found the value in public).  Stored: active, disabled or revoked.
SETTABLE_STATUSES = ("active", "disabled")
REVOKED = "revoked (exposed)"
STORED_STATUSES = SETTABLE_STATUSES + (REVOKED,)

# (id, name, scope, permissions used by this emulator's checks).
# R2 ids and names: REF §2.  The API-token group ids are emulator-chosen
# (md5 of "cfemu:<name>"); clients must resolve groups by name.  The Zone Read
# id is the one in the schema's iam_permission_groups example.
GROUPS = [
    ("bf7481a1826f439697cb59a20b22293e", "Workers R2 Storage Write", SCOPE_ACCOUNT, {"r2.read", "r2.write"}),
    ("b4992e1108244f5d8bfbd5744320c2e1", "Workers R2 Storage Read", SCOPE_ACCOUNT, {"r2.read"}),
    # The Admin levels' catalog half (REF §2); no S3 or bucket-API right of its own.
    ("d229766a2f7f4d299f20eaa8c9b1fde9", "Workers R2 Data Catalog Write", SCOPE_ACCOUNT,
     {"r2.catalog.read", "r2.catalog.write"}),
    ("45db74139a62490b9b60eb7c4f34994b", "Workers R2 Data Catalog Read", SCOPE_ACCOUNT, {"r2.catalog.read"}),
    ("2efd5506f9c8494dacb1fa10a3e7d5b6", "Workers R2 Storage Bucket Item Write", SCOPE_BUCKET, {"r2.object.read", "r2.object.write"}),
    ("6a018a9f2fc74eb6b293b0c548f38b39", "Workers R2 Storage Bucket Item Read", SCOPE_BUCKET, {"r2.object.read"}),
    ("54077dd2c8ec9d45dfae13d662944d08", "API Tokens Write", SCOPE_USER, {"user_tokens.read", "user_tokens.write"}),
    ("e33cdd86d367fa6efba5e52f994a9e60", "API Tokens Read", SCOPE_USER, {"user_tokens.read"}),
    ("b5ae4f8d22b952dd03f3e5ffe6cfb3f5", "Account API Tokens Write", SCOPE_ACCOUNT, {"account_tokens.read", "account_tokens.write"}),
    ("144fd4f84091f1b4b28ed7cd32719071", "Account API Tokens Read", SCOPE_ACCOUNT, {"account_tokens.read"}),
    ("c41974b3090dfb0d5218fa86a097b8dd", "Account Settings Read", SCOPE_ACCOUNT, {"account.read"}),
    ("c8fed203ed3043cba015a93ad1616f1f", "Zone Read", SCOPE_ZONE, {"zone.read"}),
]
GROUPS_BY_ID = {g[0]: g for g in GROUPS}
GROUP_ID = {g[1]: g[0] for g in GROUPS}

QUOTA = {"user": 50, "account": 500}  # REF §6 (since 2025-03-04); the defaults of token_quota_<owner>
VALUE_PREFIX = {"user": "cfut_", "account": "cfat_"}  # REF §1 token formats
HEX32 = re.compile(r"[0-9a-f]{32}")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.I)
BUCKET_KEY = re.compile(r"([0-9a-f]{32})_(" + "|".join(JURISDICTIONS) + r")_([a-z0-9][a-z0-9-]{1,61}[a-z0-9])")
SEED_FIELDS = frozenset({"owner", "name", "policies", "status", "expires_on", "not_before", "condition", "count",
                         "issued_on", "modified_on", "last_used_on"})
ADMIN_PATCH_FIELDS = frozenset({"status", "expires_on", "issued_on", "modified_on", "last_used_on"})
FAULT_ACTIONS = ("429", "500", "502", "503", "504", "timeout", "reset", "malformed")
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")


class ApiError(Exception):
    """A Cloudflare error envelope: status, errors [(code, message)...], extra headers."""

    def __init__(self, status, code, message, *more, headers=None):
        super().__init__(message)
        self.status = status
        self.errors = [{"code": code, "message": message}]
        self.errors += [{"code": c, "message": m} for c, m in more]
        self.headers = headers or {}


def invalid(message):
    return ApiError(400, E_VALIDATION, message)


def failure(errors):
    """iam_api-response-common-failure; errors must be unique (uniqueItems)."""
    unique = []
    for err in errors:
        if err not in unique:
            unique.append(err)
    return {"success": False, "errors": unique, "messages": [], "result": None}


def success(result, messages=(), result_info=None):
    out = {"success": True, "errors": [], "messages": list(messages), "result": result}
    if result_info is not None:
        out["result_info"] = result_info
    return out


def fmt_time(ts):
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value, field):
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise invalid(f"{field}: must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z")
    try:
        return int(dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise invalid(f"{field}: not a valid date-time") from None


def new_value(owner):
    """cfut_/cfat_ + 40 alphanumerics + 8-hex checksum (53 chars; schema allows 40..80)."""
    body = VALUE_PREFIX[owner] + "".join(secrets.choice(string.ascii_letters + string.digits) for dummy in range(40))
    return body + format(zlib.crc32(body.encode()), "08x")


def digest(value):
    # Only a hash of each value is kept: enough to authenticate.
    return hashlib.sha256(value.encode()).hexdigest()


class State:
    def __init__(self, account_id=None, user_id=None, bootstrap_token=None,
                 rate_limit=1200, rate_window=300, rate_block=300, clock=time.time,
                 token_quota_account=QUOTA["account"], token_quota_user=QUOTA["user"]):
        self.lock = threading.RLock()
        self.clock = clock  # tests may replace it with a fake clock
        self.account_id = account_id or secrets.token_hex(16)
        self.user_id = user_id or secrets.token_hex(16)
        if not HEX32.fullmatch(self.account_id) or not HEX32.fullmatch(self.user_id):
            raise ValueError("account_id and user_id must be 32 lowercase hex characters")
        self.bootstrap_token = bootstrap_token or new_value("user")
        self.bootstrap_id = secrets.token_hex(16)
        self.rate_limit, self.rate_window, self.rate_block = rate_limit, rate_window, rate_block
        # Tokens each owner may hold (REF §6): POST /config changes it, POST /reset restores these.
        self.default_quota = self._quota_changes({"token_quota_account": token_quota_account,
                                                  "token_quota_user": token_quota_user})
        self.tokens, self.by_hash, self.rate, self.faults, self.created = {}, {}, {}, [], 0
        self.log, self.counts, self.seq, self.writes, self.total = deque(), {}, 0, 0, 0
        self.s3_log, self.s3_seq = deque(), 0
        # Imported here: r2.py builds on this module's names.
        from .r2 import R2  # pylint: disable=import-outside-toplevel
        self.r2 = R2(self)  # buckets, temporary credentials, moto handles
        self.reset_all()

    # --- lifecycle / admin -------------------------------------------------
    def reset_all(self):
        with self.lock:
            self.tokens, self.by_hash, self.rate, self.faults = {}, {}, {}, []
            self.owned, self.expiring, self.indexed = {}, {}, {}  # see _index
            self.quota = dict(self.default_quota)
            # Every secret handed out through the API since the reset (token values with their S3 secrets,
            # temporary credentials): only for the tests' leak scans, via GET /__emulator/issued.
            self.issued = []
            self.created = 0
            self.r2.reset()  # no buckets (moto backends emptied), no temporary credentials
            self.reset_stats()
            self._add_bootstrap()
        return {"reset": True}

    def _add_bootstrap(self):
        # A user token able to manage both token kinds and R2 (brief; REF §1).
        acct = {f"{SCOPE_ACCOUNT}.{self.account_id}": "*"}
        policies = self._policies([
            {"effect": "allow", "permission_groups": [{"id": GROUP_ID["API Tokens Write"]}],
             "resources": {f"{SCOPE_USER}.{self.user_id}": "*"}},
            {"effect": "allow", "resources": acct, "permission_groups": [
                {"id": GROUP_ID["Account API Tokens Write"]}, {"id": GROUP_ID["Workers R2 Storage Write"]}]},
        ], "user")
        self._store("user", None, {"name": "emulator bootstrap", "policies": policies},
                    self.bootstrap_token, token_id=self.bootstrap_id)

    def reset_stats(self):
        with self.lock:
            self.log = deque(maxlen=20000)
            self.counts, self.seq, self.writes, self.total = {}, 0, 0, 0
            self.s3_log, self.s3_seq = deque(maxlen=20000), 0
        return {"reset": True}

    def stats(self):
        with self.lock:
            return {"requests": [dict(e) for e in self.log], "counts": dict(self.counts),
                    "writes": self.writes, "total": self.total,
                    "s3_requests": [dict(e) for e in self.s3_log]}

    def configure(self, data):
        with self.lock:
            quota = self._quota_changes(data)
            for key in ("rate_limit", "rate_window", "rate_block"):
                if key in data:
                    if not isinstance(data[key], (int, float)) or data[key] <= 0:
                        raise invalid(f"{key}: must be a positive number")
                    setattr(self, key, data[key])
            self.rate = {}
            self.quota.update(quota)
            return dict({k: getattr(self, k) for k in ("rate_limit", "rate_window", "rate_block")},
                        **{f"token_quota_{owner}": n for owner, n in self.quota.items()})

    @staticmethod
    def _quota_changes(data):
        """{owner: n} from token_quota_account / token_quota_user, each an integer >= 0."""
        out = {}
        for owner in QUOTA:
            key = f"token_quota_{owner}"
            if key in data:
                if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
                    raise invalid(f"{key}: must be an integer >= 0")
                out[owner] = data[key]
        return out

    def note_issued(self, *values):
        with self.lock:
            self.issued.extend(values)

    def admin_issued(self):
        with self.lock:
            return {"secrets": list(self.issued)}

    def admin_tokens(self):
        with self.lock:
            return [dict(self.render(t), owner=t["owner"], account_id=t["account_id"])
                    for t in self._sorted(self.tokens.values())]

    def delete_tokens(self):
        with self.lock:
            for tid in [t for t in self.tokens if t != self.bootstrap_id]:
                self._drop(tid)
            return {"remaining": len(self.tokens)}

    def seed(self, spec):
        """Create tokens directly: no quota, policies optional, dates in the past, any stored status.

        Fields: SEED_FIELDS.  status: active, disabled or "revoked (exposed)";
        an expired token is seeded with expires_on in the past.  issued_on,
        modified_on and last_used_on set the bookkeeping dates (modified_on
        defaults to issued_on, last_used_on to null)."""
        with self.lock:
            unknown = sorted(set(spec) - SEED_FIELDS)
            if unknown:
                raise invalid(f"{unknown[0]}: not a seed field (known: {', '.join(sorted(SEED_FIELDS))})")
            owner = spec.get("owner", "user")
            if owner not in QUOTA:
                raise invalid("owner: must be 'user' or 'account'")
            count = spec.get("count", 1)
            if not isinstance(count, int) or not 1 <= count <= 1000:
                raise invalid("count: must be an integer from 1 to 1000")
            body = {k: spec[k] for k in ("condition", "expires_on", "not_before") if k in spec}
            body.update(name=spec.get("name", "seeded token"), policies=spec.get("policies", []))
            fields = self._validate(body, owner, seed=True)
            fields["status"] = self._stored_status(spec.get("status", "active"))
            dates = self._bookkeeping(spec)
            out = []
            for i in range(count):
                f = copy.deepcopy(fields)
                if count > 1:
                    f["name"] = f"{f['name']}-{i + 1}"
                value = new_value(owner)
                tok = self._store(owner, self.account_id if owner == "account" else None, f, value)
                tok.update(dates)
                self._reindex(tok)
                out.append(dict(self.render(tok), value=value, owner=owner))
            return out[0] if count == 1 else out

    @staticmethod
    def _stored_status(status):
        if status not in STORED_STATUSES:
            raise invalid("status: must be 'active', 'disabled' or 'revoked (exposed)' "
                          "(a token is expired when its expires_on has passed)")
        return status

    def _bookkeeping(self, data, tok=None):
        """issued_on, modified_on and last_used_on from a seed (tok None) or an admin patch of tok.

        RFC 3339, not in the future, and consistent: neither a modification nor a use before the issue."""
        now = int(self.clock())
        given = {}
        for key in ("issued_on", "modified_on", "last_used_on"):
            if key in data:
                raw = data[key]
                given[key] = None if raw is None and key == "last_used_on" else parse_time(raw, key)
                if given[key] is not None and given[key] > now:
                    raise invalid(f"{key}: must not be later than now ({fmt_time(now)})")
        issued = given.get("issued_on", tok["issued_on"] if tok else now)
        dates = {"issued_on": issued,
                 "modified_on": given.get("modified_on", tok["modified_on"] if tok else issued),
                 "last_used_on": given.get("last_used_on", tok["last_used_on"] if tok else None)}
        if dates["modified_on"] < issued:
            raise invalid("modified_on: must not be earlier than issued_on")
        if dates["last_used_on"] is not None and dates["last_used_on"] < issued:
            raise invalid("last_used_on: must not be earlier than issued_on")
        return dates

    def admin_token(self, token_id, action, data):
        """Act on one token the way Cloudflare does on its own (admin API).

        revoke: secret scanning found the value in public -> "revoked (exposed)".
        expire: expires_on becomes now, so the token is expired from now on.
        patch:  set any of ADMIN_PATCH_FIELDS (status as in seed; expires_on may lie in the past or be null)."""
        with self.lock:
            tok = self.tokens.get(token_id)
            if tok is None:
                raise ApiError(404, E_NOT_FOUND, f"no token {token_id}")
            if action == "revoke":
                tok["status"] = REVOKED
            elif action == "expire":
                tok["expires_on"] = int(self.clock())
            else:
                unknown = sorted(set(data) - ADMIN_PATCH_FIELDS)
                if unknown:
                    raise invalid(f"{unknown[0]}: not a patch field (known: {', '.join(sorted(ADMIN_PATCH_FIELDS))})")
                changes = self._bookkeeping(data, tok)
                if "status" in data:
                    changes["status"] = self._stored_status(data["status"])
                if "expires_on" in data:
                    changes["expires_on"] = None if data["expires_on"] is None else parse_time(
                        data["expires_on"], "expires_on")
                tok.update(changes)
            self._reindex(tok)
            return dict(self.render(tok), owner=tok["owner"], account_id=tok["account_id"])

    def mark_used(self, tok):
        """last_used_on = now: every authenticated API call and S3 request of the token."""
        with self.lock:
            tok["last_used_on"] = int(self.clock())

    # --- request log and faults (admin API, server.py) ----------------------
    def log_begin(self, method, path):
        with self.lock:
            self.seq += 1
            self.total += 1
            self.writes += method in WRITE_METHODS
            entry = {"seq": self.seq, "method": method, "path": path, "route": None,
                     "status": None, "token_id": None, "fault": None}
            self.log.append(entry)
            return entry

    def log_update(self, entry, **fields):
        with self.lock:
            if "route" in fields:
                key = fields["route"] or "(no route)"
                self.counts[key] = self.counts.get(key, 0) + 1
            entry.update(fields)

    def log_s3(self, entry):
        """Append one S3 gateway request (s3.py); entries never hold secrets."""
        with self.lock:
            self.s3_seq += 1
            self.s3_log.append(dict(entry, seq=self.s3_seq))

    def add_faults(self, specs):
        if not isinstance(specs, list):
            raise invalid("faults: must be a list")
        new = []
        for spec in specs:
            if not isinstance(spec, dict) or str(spec.get("action")) not in FAULT_ACTIONS:
                raise invalid(f"action: must be one of {', '.join(FAULT_ACTIONS)}")
            f = {"method": spec.get("method"), "route": spec.get("route"), "path_regex": spec.get("path_regex"),
                 "action": str(spec["action"]), "skip": int(spec.get("skip", 0)),
                 "times": spec.get("times", 1),  # null = unlimited
                 "retry_after": int(spec.get("retry_after", 1)), "delay": float(spec.get("delay", 5.0)),
                 "process": bool(spec.get("process", False))}
            if f["times"] is not None and (not isinstance(f["times"], int) or f["times"] < 1):
                raise invalid("times: must be a positive integer or null")
            if f["path_regex"] is not None:
                re.compile(f["path_regex"])
            new.append(f)
        with self.lock:
            self.faults.extend(new)
            return {"faults": copy.deepcopy(self.faults)}

    def list_faults(self):
        with self.lock:
            return {"faults": copy.deepcopy(self.faults)}

    def clear_faults(self):
        with self.lock:
            self.faults = []
            return {"faults": []}

    def take_fault(self, method, path, raw_path, route):
        """Return the first armed fault matching this request (consuming skip/times)."""
        with self.lock:
            for f in self.faults:
                if f["method"] and f["method"].upper() != method:
                    continue
                if f["route"] and f["route"] != route and f"{method} {f['route']}" != route:
                    continue
                if f["path_regex"] and not (re.search(f["path_regex"], path) or re.search(f["path_regex"], raw_path)):
                    continue
                if f["skip"] > 0:
                    f["skip"] -= 1
                    continue
                if f["times"] is not None:
                    f["times"] -= 1
                    if f["times"] == 0:
                        self.faults.remove(f)
                return dict(f)
            return None

    # --- token storage ------------------------------------------------------
    def _store(self, owner, account_id, fields, value, token_id=None):
        now = int(self.clock())
        self.created += 1
        tok = {"seq": self.created, "id": token_id or secrets.token_hex(16), "owner": owner, "account_id": account_id,
               "name": fields["name"], "status": fields.get("status") or "active",
               "issued_on": now, "modified_on": now, "last_used_on": None,
               "expires_on": fields.get("expires_on"), "not_before": fields.get("not_before"),
               "condition": fields.get("condition"), "policies": fields["policies"], "hash": digest(value)}
        self.tokens[tok["id"]] = tok
        self.by_hash[tok["hash"]] = tok["id"]
        self._index(tok)
        return tok

    def _drop(self, token_id):
        tok = self.tokens.pop(token_id)
        self.by_hash.pop(tok["hash"], None)
        self.rate.pop(token_id, None)
        self._unindex(token_id)

    # Indexes, so that no API call scans every token (the benchmarks hold 5,000+): per owner, the
    # (issued_on, seq, id) keys of its tokens in listing order (owned) and the (expires_on, seq, id)
    # keys of its active tokens with an expiry (expiring); indexed[id] = (owner, those two keys).
    # Call _reindex after changing a token's issued_on, status or expires_on.
    @staticmethod
    def _owner_key(owner, account_id):
        return (owner, account_id if owner == "account" else None)

    def _index(self, tok):
        owner = self._owner_key(tok["owner"], tok["account_id"])
        order = (tok["issued_on"], tok["seq"], tok["id"])
        bisect.insort(self.owned.setdefault(owner, []), order)
        expiry = None
        if tok["status"] == "active" and tok["expires_on"] is not None:
            expiry = (tok["expires_on"], tok["seq"], tok["id"])
            bisect.insort(self.expiring.setdefault(owner, []), expiry)
        self.indexed[tok["id"]] = (owner, order, expiry)

    def _unindex(self, token_id):
        owner, order, expiry = self.indexed.pop(token_id)
        for keys, key in ((self.owned[owner], order), (self.expiring.get(owner), expiry)):
            if key is not None:
                del keys[bisect.bisect_left(keys, key)]

    def _reindex(self, tok):
        self._unindex(tok["id"])
        self._index(tok)

    def _owner_of(self, scope, params):
        return self._owner_key(scope, params.get("account_id"))

    def _listing(self, owner, include_expired, desc, start, count):
        """(tokens start..start+count-1 of the listing, total): O(page + log n) from the indexes, plus
        O(e log n) for the e expired tokens that a listing without include_expired leaves out."""
        order = self.owned.get(owner, [])
        skip = []
        if not include_expired:
            expiring = self.expiring.get(owner, [])
            expired = expiring[:bisect.bisect_right(expiring, (self.clock(), math.inf))]
            skip = sorted(bisect.bisect_left(order, self.indexed[key[2]][1]) for key in expired)
        total = len(order) - len(skip)
        if desc:  # the descending listing is the ascending one backwards
            low, high = max(0, total - start - count), max(0, total - start)
        else:
            low, high = min(start, total), min(start + count, total)
        # Position in `order` of the low-th listed token: low plus the skipped ones before it
        # (skip[j] - j listed tokens precede skip[j]).
        pos = low + bisect.bisect_right([p - j for j, p in enumerate(skip)], low)
        skipped, out = set(skip), []
        while len(out) < high - low:
            if pos not in skipped:
                out.append(self.tokens[order[pos][2]])
            pos += 1
        return (out[::-1] if desc else out), total

    def status(self, tok):
        """The status the API reports: the stored one (active, disabled, revoked (exposed)), or
        expired for an active token whose expires_on has passed (REF §8)."""
        expired = tok["expires_on"] is not None and tok["expires_on"] <= self.clock()
        return "expired" if tok["status"] == "active" and expired else tok["status"]

    def render(self, tok):
        """Token as the API shows it: never the value; unset date-times omitted."""
        out = {"id": tok["id"], "name": tok["name"], "status": self.status(tok),
               "issued_on": fmt_time(tok["issued_on"]), "modified_on": fmt_time(tok["modified_on"]),
               "last_used_on": fmt_time(tok["last_used_on"]) if tok["last_used_on"] is not None else None}
        for key in ("expires_on", "not_before"):
            if tok[key] is not None:
                out[key] = fmt_time(tok[key])
        if tok["condition"]:
            out["condition"] = copy.deepcopy(tok["condition"])
        out["policies"] = copy.deepcopy(tok["policies"])
        return out

    @staticmethod
    def _sorted(tokens, desc=False):
        # Stable order: issued_on, then creation order (ids are random, so an
        # id tie-break would shuffle tokens issued within the same second).
        return sorted(tokens, key=lambda t: (t["issued_on"], t["seq"]), reverse=desc)

    # --- validation -----------------------------------------------------------
    def _validate(self, data, owner, update=False, seed=False, current=None):
        if not isinstance(data, dict):
            raise invalid("request body must be a JSON object")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise invalid("name: required string of 1 to 120 characters")
        fields = {"name": name, "policies": self._policies(data.get("policies"), owner, allow_empty=seed),
                  "condition": self._condition(data.get("condition"))}
        for key in ("not_before", "expires_on"):
            raw = data.get(key)
            fields[key] = None if raw is None else parse_time(raw, key)
        exp, nbf = fields["expires_on"], fields["not_before"]
        # A PUT may send back the past expires_on of an expired token (to rename or disable it);
        # a new date must lie in the future (Cloudflare documents neither case).
        if exp is not None and not seed and exp <= self.clock() and not (current and exp == current["expires_on"]):
            raise invalid("expires_on: must be in the future")
        if exp is not None and nbf is not None and exp <= nbf:
            raise invalid("expires_on: must be later than not_before")
        if update:
            # PUT replaces the token; an absent status keeps the current one
            # (Cloudflare does not document this case).
            fields["status"] = data.get("status")
            if fields["status"] is not None and fields["status"] not in SETTABLE_STATUSES:
                raise invalid("status: must be 'active' or 'disabled' ('expired' and 'revoked (exposed)' "
                              "are reported by Cloudflare, never set)")
        return fields

    def _policies(self, policies, owner, allow_empty=False):
        if not isinstance(policies, list) or not (policies or allow_empty):
            raise invalid("policies: required non-empty list")
        out = []
        for i, pol in enumerate(policies):
            where = f"policies[{i}]"
            if not isinstance(pol, dict):
                raise invalid(f"{where}: must be an object")
            if pol.get("effect") not in ("allow", "deny"):
                raise invalid(f"{where}.effect: must be 'allow' or 'deny'")
            groups = pol.get("permission_groups")
            if not isinstance(groups, list) or not groups:
                raise invalid(f"{where}.permission_groups: required non-empty list")
            pgs, scopes = [], set()
            for j, grp in enumerate(groups):
                gid = grp.get("id") if isinstance(grp, dict) else None
                known = GROUPS_BY_ID.get(gid) if isinstance(gid, str) else None
                if known is None:
                    raise invalid(f"{where}.permission_groups[{j}].id: unknown permission group {gid!r}")
                if owner == "account" and known[2] == SCOPE_USER:
                    raise invalid(f"{where}.permission_groups[{j}]: user-level group "
                                  f"{known[1]!r} cannot be granted to an account-owned token")
                pgs.append({"id": gid, "name": known[1]})
                scopes.add(known[2])
            resources = pol.get("resources")
            if not isinstance(resources, dict) or not resources:
                raise invalid(f"{where}.resources: required non-empty object")
            covered = set()
            for key, val in resources.items():
                # A group only applies to resources of its own scope (REF §2).
                hit = self._resource_scopes(key, val) & scopes
                if not hit:
                    raise invalid(f"{where}.resources: {key!r} is not a valid resource "
                                  "for the policy's permission groups")
                covered |= hit
            if scopes - covered:
                raise invalid(f"{where}.resources: no resource of scope {sorted(scopes - covered)[0]}")
            out.append({"id": secrets.token_hex(16), "effect": pol["effect"],
                        "permission_groups": pgs, "resources": copy.deepcopy(resources)})
        return out

    def _resource_scopes(self, key, val):
        """Scopes a resource entry can serve (REF §2 resource strings); empty = invalid.

        Like Cloudflare, bucket names are not checked for existence."""
        ours = (self.account_id, "*")
        if isinstance(val, dict):  # nested "all X in account Y"
            if not key.startswith(SCOPE_ACCOUNT + ".") or key[len(SCOPE_ACCOUNT) + 1:] not in ours or not val:
                return set()
            scopes = set()
            for sub, sval in val.items():
                if sval != "*":
                    return set()
                if sub == SCOPE_BUCKET + ".*":
                    scopes.add(SCOPE_BUCKET)
                elif sub.startswith(SCOPE_ZONE + "."):
                    scopes.add(SCOPE_ZONE)
                else:
                    return set()
            return scopes
        if val != "*" or not isinstance(key, str):
            return set()
        if key.startswith(SCOPE_BUCKET + "."):
            m = BUCKET_KEY.fullmatch(key[len(SCOPE_BUCKET) + 1:])
            return {SCOPE_BUCKET} if m and m.group(1) == self.account_id else set()
        if key.startswith(SCOPE_ZONE + "."):
            return {SCOPE_ZONE}
        if key.startswith(SCOPE_ACCOUNT + "."):
            return {SCOPE_ACCOUNT} if key[len(SCOPE_ACCOUNT) + 1:] in ours else set()
        if key == f"{SCOPE_USER}.{self.user_id}":
            return {SCOPE_USER}
        return set()

    @staticmethod
    def _condition(cond):
        if cond is None:
            return None
        if not isinstance(cond, dict) or set(cond) - {"request_ip", "request.ip"}:
            raise invalid("condition: only 'request_ip' is supported")
        # Legacy key "request.ip" accepted, echoed as request_ip (REF §1 ⚠).
        rip = cond.get("request_ip", cond.get("request.ip"))
        if rip is None:
            return None
        if not isinstance(rip, dict) or set(rip) - {"in", "not_in"}:
            raise invalid("condition.request_ip: must be an object with 'in' and/or 'not_in'")
        out = {}
        for key in ("in", "not_in"):
            cidrs = rip.get(key)
            if cidrs is None:
                continue
            if not isinstance(cidrs, list):
                raise invalid(f"condition.request_ip.{key}: must be a list of CIDRs")
            for cidr in cidrs:
                try:
                    # CIDR notation is required, /32 for one address (REF §1).
                    if not isinstance(cidr, str) or "/" not in cidr:
                        raise ValueError
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise invalid(f"condition.request_ip.{key}: invalid CIDR {cidr!r}") from None
            out[key] = list(cidrs)
        return {"request_ip": out} if out else None

    # --- authentication, rate limits, permissions ------------------------------
    def _authenticate(self, header, client_ip):
        if header is None:
            raise ApiError(400, E_BAD_HEADERS, "Invalid request headers", (E_AUTH_MISSING,
                           "Missing X-Auth-Key, X-Auth-Email or Authorization headers"))
        m = re.fullmatch(r"Bearer +(\S+)", header.strip(), re.I)
        if not m:
            # Real Cloudflare nests the detail in error_chain; the brief wants it flat.
            raise ApiError(400, E_BAD_HEADERS, "Invalid request headers",
                           (E_AUTH_FORMAT, "Invalid format for Authorization header"))
        tok = self.tokens.get(self.by_hash.get(digest(m.group(1))))
        now = self.clock()
        if (tok is None or self.status(tok) != "active"
                or (tok["not_before"] is not None and tok["not_before"] > now)):
            raise ApiError(401, E_INVALID_TOKEN, "Invalid API Token")
        if not self._ip_allowed(tok["condition"], client_ip):
            raise ApiError(403, E_FORBIDDEN, f"Cannot use the access token from location: {client_ip}")
        self.mark_used(tok)
        return tok

    @staticmethod
    def _ip_allowed(cond, client_ip):
        rip = (cond or {}).get("request_ip") or {}
        addr = ipaddress.ip_address(client_ip)
        addr = getattr(addr, "ipv4_mapped", None) or addr
        nets = {k: [ipaddress.ip_network(c, strict=False) for c in rip.get(k, [])] for k in ("in", "not_in")}
        if nets["in"] and not any(addr in n for n in nets["in"]):
            return False
        return not any(addr in n for n in nets["not_in"])

    def _rate(self, tok):
        """Per-token fixed window; once exceeded, blocked for rate_block seconds (REF §6)."""
        now = self.clock()
        policy = f'"default";q={self.rate_limit};w={int(self.rate_window)}'
        r = self.rate.setdefault(tok["id"], {"start": now, "count": 0, "until": 0.0})
        if now < r["until"]:
            wait = math.ceil(r["until"] - now)
            raise ApiError(429, E_GATEWAY_BASE + 429, MSG_RATE_LIMITED, headers={
                "retry-after": str(wait), "Ratelimit": f'"default";r=0;t={wait}', "Ratelimit-Policy": policy})
        if now >= r["start"] + self.rate_window:
            r.update(start=now, count=0)
        r["count"] += 1
        if r["count"] > self.rate_limit:
            wait = math.ceil(self.rate_block)
            r.update(until=now + self.rate_block, start=now + self.rate_block, count=0)
            raise ApiError(429, E_GATEWAY_BASE + 429, MSG_RATE_LIMITED, headers={
                "retry-after": str(wait), "Ratelimit": f'"default";r=0;t={wait}', "Ratelimit-Policy": policy})
        reset = max(0, math.ceil(r["start"] + self.rate_window - now))
        return {"Ratelimit": f'"default";r={self.rate_limit - r["count"]};t={reset}', "Ratelimit-Policy": policy}

    def _require(self, tok, scope, params, write):
        """x-api-token-group check (REF §1): deny beats allow, default deny."""
        forbidden = ApiError(403, E_FORBIDDEN, "Unauthorized to access requested resource")
        if scope == "user":
            perm, resources = "user_tokens", [f"{SCOPE_USER}.{self.user_id}"]
        else:
            if params["account_id"] != self.account_id:
                raise forbidden  # unknown account: same answer as no access
            perm, resources = "account_tokens", [f"{SCOPE_ACCOUNT}.{self.account_id}", f"{SCOPE_ACCOUNT}.*"]
        perm += ".write" if write else ".read"
        if not self.has_permission(tok, perm, resources):
            raise forbidden

    @staticmethod
    def has_permission(tok, perm, resources):
        """Whether a policy on one of resources grants perm; deny beats allow, default deny."""
        allowed = False
        for pol in tok["policies"]:
            if any(pol["resources"].get(r) == "*" for r in resources) and any(
                    perm in GROUPS_BY_ID[g["id"]][3] for g in pol["permission_groups"]):
                if pol["effect"] == "deny":
                    return False
                allowed = True
        return allowed

    # --- API operations -----------------------------------------------------------
    def handle_api(self, op, scope, params, query, body, auth_header, client_ip, request_headers=None):
        """Run one API call atomically. Returns (status, payload, headers, token_id)."""
        with self.lock:
            tok, headers = None, {}
            try:
                tok = self._authenticate(auth_header, client_ip)
                headers = self._rate(tok)
                if scope == "r2":  # bucket and temp-credential endpoints: r2.py
                    payload = self.r2.handle(op, params, query, body, request_headers, tok)
                else:
                    payload = getattr(self, "_op_" + op)(scope, params, query, body, tok)
                return 200, payload, headers, tok["id"]
            except ApiError as err:
                headers.update(err.headers)
                return err.status, failure(err.errors), headers, tok["id"] if tok else None

    @staticmethod
    def _json(body, required=True):
        if not body.strip():
            if required:
                raise ApiError(400, E_BAD_JSON, "Malformed JSON in request body")
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise ApiError(400, E_BAD_JSON, "Malformed JSON in request body") from None

    def _find(self, scope, params):
        tok = self.tokens.get(params["token_id"])
        if tok is None or self.indexed[tok["id"]][0] != self._owner_of(scope, params):
            raise ApiError(404, E_NOT_FOUND, "Token not found")
        return tok

    @staticmethod
    def _not_revoked(target, what):
        # REF §8: revoked (exposed) is final; neither a PUT nor a roll brings the token back.
        if target["status"] == REVOKED:
            raise ApiError(400, E_REVOKED, f"Token {target['id']} was revoked (exposed): its value was found in "
                           f"public. A revoked token cannot be {what}; create a new token.")

    def _op_verify(self, scope, params, query, body, tok):
        # Each verify endpoint accepts only its own kind of token (REF §1 Verify).
        if tok["owner"] != scope or (scope == "account" and tok["account_id"] != params["account_id"]):
            raise ApiError(401, E_INVALID_TOKEN, "Invalid API Token")
        result = {"id": tok["id"], "status": self.status(tok)}
        for key in ("expires_on", "not_before"):
            if tok[key] is not None:
                result[key] = fmt_time(tok[key])
        return success(result, [{"code": 10000, "message": "This API Token is valid and active"}])

    def _op_groups(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=False)
        name, wanted = query.get("name", [None])[0], query.get("scope", [None])[0]
        items = [{"id": g[0], "name": g[1], "scopes": [g[2]]} for g in GROUPS
                 if not (scope == "account" and g[2] == SCOPE_USER)  # account tokens cannot hold these
                 and (name is None or g[1] == name) and (wanted is None or g[2] == wanted)]
        n = len(items)
        return success(items, result_info={"page": 1, "per_page": max(n, 1), "count": n,
                                           "total_count": n, "total_pages": 1})

    @staticmethod
    def _int_param(query, key, default, low, high):
        raw = query.get(key, [None])[0]
        if raw is None:
            return default
        try:
            val = int(raw)
        except ValueError:
            val = None
        if val is None or val < low or (high is not None and val > high):
            raise invalid(f"{key}: must be an integer " + (f"from {low} to {high}" if high else f">= {low}"))
        return val

    def _op_list(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=False)
        page = self._int_param(query, "page", 1, 1, None)
        per_page = self._int_param(query, "per_page", 20, 5, 50)
        direction = query.get("direction", ["asc"])[0]
        if direction not in ("asc", "desc"):
            raise invalid("direction: must be 'asc' or 'desc'")
        inc = query.get("include_expired", ["false"])[0].lower()
        if inc not in ("true", "false", "1", "0"):
            raise invalid("include_expired: must be true or false")
        chunk, total = self._listing(self._owner_of(scope, params), inc in ("true", "1"), direction == "desc",
                                     (page - 1) * per_page, per_page)
        return success([self.render(t) for t in chunk], result_info={
            "page": page, "per_page": per_page, "count": len(chunk),
            "total_count": total, "total_pages": math.ceil(total / per_page)})

    def _op_create(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=True)
        fields = self._validate(self._json(body), scope)
        if len(self.owned.get(self._owner_of(scope, params), ())) >= self.quota[scope]:
            # Real code and wording are not published; quota from REF §6.
            raise ApiError(400, E_QUOTA, f"Token quota exceeded: at most {self.quota[scope]} "
                                         f"{scope}-owned API tokens are allowed")
        value = new_value(scope)
        new = self._store(scope, params.get("account_id"), fields, value)
        self.note_issued(value, digest(value))
        return success(dict(self.render(new), value=value))

    def _op_get(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=False)
        return success(self.render(self._find(scope, params)))

    def _op_update(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=True)
        target = self._find(scope, params)
        self._not_revoked(target, "updated")
        data = self._json(body)
        fields = self._validate(data, scope, update=True, current=target)
        # Keep policy ids the client echoes back; new policies get new ids.
        old_ids = {p["id"] for p in target["policies"]}
        for new, raw in zip(fields["policies"], data["policies"]):
            if raw.get("id") in old_ids:
                new["id"] = raw["id"]
        fields["status"] = fields["status"] or target["status"]
        target.update(fields)
        target["modified_on"] = int(self.clock())
        self._reindex(target)
        return success(self.render(target))

    def _op_delete(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=True)
        target = self._find(scope, params)
        self._drop(target["id"])
        return success({"id": target["id"]})

    def _op_roll(self, scope, params, query, body, tok):
        self._require(tok, scope, params, write=True)
        target = self._find(scope, params)
        self._not_revoked(target, "rolled")
        if not isinstance(self._json(body, required=False), dict):
            raise invalid("request body must be a JSON object")
        # An expired token gets a new value and stays expired: expires_on is kept.
        # New secret, same id and policies; the old value dies now (REF §1 Roll).
        value = new_value(scope)
        self.by_hash.pop(target["hash"], None)
        target["hash"] = digest(value)
        self.by_hash[target["hash"]] = target["id"]
        target["modified_on"] = int(self.clock())
        self.note_issued(value, digest(value))
        return success(value)
