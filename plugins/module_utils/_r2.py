# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The R2 domain model: permissions, resource keys, endpoints, S3 credentials.

Pure functions and one service class (``TokenStore``) on top of
``_api.CloudflareClient``. Sources: Cloudflare docs r2/api/tokens.mdx,
fundamentals/api/how-to/create-via-api.mdx, r2/reference/data-location.mdx.
Temporary credentials are in ``_temporary``, the bucket pre-flight in
``_buckets``, the reconcile engine in ``_reconcile``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress
import re

from urllib.parse import urlsplit

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _endpoints, _text
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    CloudflareAuthError,
    CloudflareNotFound,
    CloudflareUncertainWrite,
)

JURISDICTIONS = _endpoints.JURISDICTIONS
JURISDICTION_RE = _endpoints.JURISDICTION_RE

# Lowest to highest rank. Rank is for display and sorting only: the real
# relation is a partial order (admin_read_only cannot write objects, so it
# does not cover object_read_write); use ``permission_covers``.
PERMISSIONS = ('object_read_only', 'object_read_write', 'admin_read_only', 'admin_read_write')
ADMIN_PERMISSIONS = ('admin_read_only', 'admin_read_write')
OBJECT_PERMISSIONS = ('object_read_only', 'object_read_write')

# Dashboard permission -> its R2 storage permission group (DOCS r2/api/s3/tokens.mdx).
PERMISSION_GROUP_NAMES = {
    'admin_read_write': 'Workers R2 Storage Write',
    'admin_read_only': 'Workers R2 Storage Read',
    'object_read_write': 'Workers R2 Storage Bucket Item Write',
    'object_read_only': 'Workers R2 Storage Bucket Item Read',
}
PERMISSION_BY_GROUP_NAME = dict((v, k) for k, v in PERMISSION_GROUP_NAMES.items())
# Every group of a dashboard permission: the Admin levels also cover R2 Data Catalog (Cloudflare changelog
# 2026-07-09 "R2 Data Catalog now supports read-only API tokens"; DOCS r2/api/tokens.mdx). A token with the storage
# group alone (made by collection 0.3.0 and earlier) decodes to the same level and is brought in line in place.
PERMISSION_GROUPS = {
    'admin_read_write': ('Workers R2 Storage Write', 'Workers R2 Data Catalog Write'),
    'admin_read_only': ('Workers R2 Storage Read', 'Workers R2 Data Catalog Read'),
    'object_read_write': ('Workers R2 Storage Bucket Item Write',),
    'object_read_only': ('Workers R2 Storage Bucket Item Read',),
}
# Token statuses (reference section 8): set by the owner, or observed only (no API call brings those back).
SETTABLE_STATUSES = ('active', 'disabled')
# Cloudflare's token quotas per owner (reference section 6, fundamentals/api/reference/limits).
TOKEN_QUOTAS = {'account': 500, 'user': 50}
DEAD_STATUSES = ('expired', 'revoked (exposed)')

# Capabilities per permission, from the dashboard descriptions (DOCS
# r2/api/s3/tokens.mdx; r2/api/s3/temporary-credentials.mdx "Scopes").
_CAPABILITIES = {
    'object_read_only': frozenset(('list_objects', 'read_objects')),
    'object_read_write': frozenset(('list_objects', 'read_objects', 'write_objects')),
    'admin_read_only': frozenset(('list_objects', 'read_objects', 'list_buckets', 'read_bucket_config', 'all_buckets')),
    'admin_read_write': frozenset(('list_objects', 'read_objects', 'write_objects', 'list_buckets',
                                   'read_bucket_config', 'write_bucket_config', 'all_buckets')),
}

RESOURCE_ACCOUNT = 'com.cloudflare.api.account.%s'
RESOURCE_BUCKET_PREFIX = 'com.cloudflare.edge.r2.bucket.'
RESOURCE_ALL_BUCKETS = 'com.cloudflare.edge.r2.bucket.*'

# Every pattern is matched against the whole string (fullmatch): ``re.match`` with ``$`` lets a trailing newline
# through.
ACCOUNT_ID_RE = re.compile(r'[0-9a-fA-F]{32}')
# A token id, which is also its S3 Access Key ID (and a temporary credential's parent).
TOKEN_ID_RE = re.compile(r'[0-9a-fA-F]{32}')
BUCKET_NAME_RE = re.compile(r'[a-z0-9][a-z0-9-]{1,61}[a-z0-9]')
# An S3 Secret Access Key of R2: the SHA-256 hex of a token value (s3_secret).
S3_SECRET_RE = re.compile(r'[0-9a-f]{64}')
TOKEN_NAME_MAX = 120
# The name of the second token of a gap-free rotation (r2_credential_set): NAME + NEXT_SUFFIX. Reserved, so no
# name given by a user may end with it.
NEXT_SUFFIX = '~next'
_BUCKET_KEY_RE = re.compile(r'com\.cloudflare\.edge\.r2\.bucket\.([0-9a-fA-F]{32})_([a-z][a-z0-9]*)_(.+)')

# The collection's caps on list lengths, checked before any API call (Cloudflare states none for these; they keep
# a mistake such as a generated list of 20,000 prefixes from reaching the API). Documented with each option.
PREFIXES_MAX = 100        # temporary credentials: prefixes
OBJECTS_MAX = 100         # temporary credentials: objects
BUCKETS_MAX = 500         # buckets of one token
IP_RULES_MAX = 100        # ip_allow, ip_deny of one token (each)
ENTRIES_MAX = 5000        # r2_credential_set: tokens, temporary (each)
HOST_CREDENTIALS_MAX = 200  # provision role: provision_credentials of one host
# How long a value may be to be shown in a message at all.
SHOWN_MAX = 200

CONTROL_RULE = ('control characters (C0 or C1 controls, DEL, tab, Unicode format characters such as bidi '
                'overrides, line or paragraph separators)')


class R2ValueError(ValueError):
    """Invalid input. The message names the option and the rule it breaks."""


# -- permissions ------------------------------------------------------------

def permission_covers(parent, child):
    """True when a credential with ``parent`` may grant ``child``."""
    return _CAPABILITIES[child] <= _CAPABILITIES[parent]


def to_api_permission(permission):
    """object_read_only -> object-read-only (the temp-credentials API spelling)."""
    return permission.replace('_', '-')


# -- validation -------------------------------------------------------------

def shown(value, quote=True):
    """A value fit for a message (see _text.shown)."""
    return _text.shown(value, quote, SHOWN_MAX)


def check_text(value, field):
    """Refuse control characters in a string (a name, label, key or path given by the user)."""
    if isinstance(value, str) and _text.has_control(value):
        raise R2ValueError('%s: must not contain %s' % (field, CONTROL_RULE))
    return value


def check_length(values, field, cap):
    """Refuse a list longer than the collection's cap for it (before any API call)."""
    if values is not None and len(values) > cap:
        raise R2ValueError('%s: at most %d entries (the collection\'s cap), got %d' % (field, cap, len(values)))
    return values


def validate_account_id(account_id, field='account_id'):
    if not account_id:
        raise R2ValueError('%s is required: set the %s option or the CLOUDFLARE_ACCOUNT_ID environment variable'
                           % (field, field))
    if not isinstance(account_id, str) or not ACCOUNT_ID_RE.fullmatch(account_id):
        length = len(account_id) if isinstance(account_id, str) else 0
        raise R2ValueError('%s must be 32 hexadecimal characters (a Cloudflare account id), got %d characters'
                           % (field, length) if length != 32 else
                           '%s must be 32 hexadecimal characters (a Cloudflare account id)' % field)
    return account_id.lower()


def validate_token_id(token_id, field='parent_access_key_id'):
    """A token id given by the user (it goes into an API path or body): exactly 32 hexadecimal characters."""
    if not isinstance(token_id, str) or not TOKEN_ID_RE.fullmatch(token_id):
        raise R2ValueError('%s must be 32 hexadecimal characters (a Cloudflare token id, which is also its S3 Access '
                           'Key ID)' % field)
    return token_id


def validate_bucket_name(name, field='buckets'):
    if not isinstance(name, str) or not BUCKET_NAME_RE.fullmatch(name):
        raise R2ValueError('%s: invalid bucket name %s: R2 bucket names are 3-63 characters of lowercase letters, '
                           'digits and hyphens, and cannot start or end with a hyphen' % (field, shown(name)))
    return name


# Warnings met while validating (an unknown jurisdiction); the caller shows them (R2Module.run, the lookup).
_WARNINGS = []


def take_warnings():
    """The warnings collected since the last call, once each, in order."""
    taken = []
    for message in _WARNINGS:
        if message not in taken:
            taken.append(message)
    del _WARNINGS[:]
    return taken


def validate_jurisdiction(value, field='jurisdiction'):
    """A known jurisdiction, or any lowercase name (Cloudflare may add one) with a warning."""
    if not _endpoints.is_jurisdiction(value):
        raise R2ValueError('%s: %s, got %s' % (field, _endpoints.JURISDICTION_RULE, shown(value)))
    if value not in JURISDICTIONS:
        # one warning per name and run, wherever it is used
        _WARNINGS.append('jurisdiction: %r is not a jurisdiction this collection knows (%s); it is used as given, '
                         'with the endpoint https://<ACCOUNT_ID>.%s.r2.cloudflarestorage.com. If it is a typo, the '
                         'bucket check fails.' % (value, ', '.join(JURISDICTIONS), value))
    return value


def jurisdiction_order(jurisdiction):
    """Sort key: the known jurisdictions in their order, then any other by name."""
    if jurisdiction in JURISDICTIONS:
        return (JURISDICTIONS.index(jurisdiction), '')
    return (len(JURISDICTIONS), jurisdiction)


def validate_endpoint(url, field='endpoint_url', path=True):
    """An S3 endpoint URL given by the user: http(s), a host (and port), no user info, query or fragment, no blank
    or control character; without a path unless ``path``. Returns it without a trailing slash."""
    rule = ('%s: must be an http:// or https:// URL with a host%s, without user name or password, query, fragment, '
            'blanks or %s' % (field, '' if path else ' and without a path', CONTROL_RULE))
    if not isinstance(url, str) or _text.has_control(url) or any(c.isspace() for c in url):
        raise R2ValueError(rule)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise R2ValueError(rule)
    if (parts.scheme not in ('http', 'https') or not parts.hostname or '@' in parts.netloc or not port_ok
            or parts.query or parts.fragment or '?' in url or '#' in url or (not path and parts.path not in ('', '/'))):
        raise R2ValueError(rule)
    return url.rstrip('/')


def normalize_buckets(buckets, default_jurisdiction='default', field='buckets'):
    """Turn names or {name, jurisdiction} dicts into sorted (jurisdiction, name) pairs."""
    validate_jurisdiction(default_jurisdiction)
    check_length(buckets, field, BUCKETS_MAX)
    seen = set()
    result = []
    for index, item in enumerate(buckets or []):
        where = '%s[%d]' % (field, index)
        if isinstance(item, dict):
            unknown = set(item) - set(('name', 'jurisdiction'))
            if unknown:
                raise R2ValueError('%s: unknown key(s) %s; a bucket is a name or a dict with name and jurisdiction'
                                   % (where, ', '.join(sorted(shown(k) for k in unknown))))
            name = item.get('name')
            jurisdiction = item.get('jurisdiction') or default_jurisdiction
        else:
            name, jurisdiction = item, default_jurisdiction
        validate_bucket_name(name, where)
        validate_jurisdiction(jurisdiction, '%s.jurisdiction' % where)
        key = (jurisdiction, name)
        if key in seen:
            raise R2ValueError('%s: bucket %r in jurisdiction %r is listed twice' % (where, name, jurisdiction))
        seen.add(key)
        result.append(key)
    return sorted(result)


def normalize_cidrs(values, field):
    """Validate CIDRs; a bare address becomes /32 or /128 (Cloudflare requires CIDR notation)."""
    check_length(values, field, IP_RULES_MAX)
    result = []
    for index, value in enumerate(values or []):
        try:
            if _text.has_control(str(value)):
                raise ValueError(value)
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise R2ValueError('%s[%d]: %s is not a valid IPv4 or IPv6 address or CIDR (for example 192.0.2.0/24)'
                               % (field, index, shown(value)))
        result.append(str(network))
    return sorted(set(result))


def parse_time(value, field):
    """Parse an RFC 3339 / ISO 8601 time; naive times are taken as UTC. Returns an aware datetime."""
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith('Z') or text.endswith('z'):
            text = text[:-1] + '+00:00'
        try:
            if _text.has_control(str(value)):
                raise ValueError(value)
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise R2ValueError('%s: %s is not an RFC 3339 date-time such as 2030-01-31T12:00:00Z'
                               % (field, shown(value)))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc).replace(microsecond=0)


def format_time(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ') if value else None


def normalize_time(value, field):
    return format_time(parse_time(value, field)) if value else None


# A duration: seconds as an integer, or a number and a unit (s, m, h, d, w), such as 90d or 12h.
DURATION_RE = re.compile(r'([0-9]{1,9})([smhdw]?)')
DURATION_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
DURATION_MAX = 36500 * 86400  # 100 years: any schedule fits, and a date that far ahead is still a date


def parse_duration(value, field, allow_zero=False):
    """Seconds of a duration given as an integer or as ``<number><unit>`` (s, m, h, d, w); None stays None."""
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        match = None
    elif isinstance(value, int):
        match = DURATION_RE.fullmatch(str(value)) if value >= 0 else None
    else:
        match = DURATION_RE.fullmatch(value) if isinstance(value, str) else None
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2)] if match else None
    if seconds is None or (seconds == 0 and not allow_zero):
        raise R2ValueError('%s: must be a duration: a %snumber of seconds, or a number with a unit s, m, h, d or w '
                           '(for example 90d or 12h), got %s' % (field, '' if allow_zero else 'positive ', shown(value)))
    if seconds > DURATION_MAX:
        raise R2ValueError('%s: at most 36500d (100 years), got %s' % (field, shown(value)))
    return seconds


def validate_schedule(rotate_after, expire_after, expires_on=None):
    """(rotate_after, expire_after) of a token in seconds, each None when not set (r2_credential_set, provision).

    A token that expires must be rotated before it does: expire_after needs a shorter rotate_after, and the gap
    between the two is the time a run has to rotate it (make it longer than the time between runs).
    """
    rotate_after = parse_duration(rotate_after, 'rotate_after')
    expire_after = parse_duration(expire_after, 'expire_after')
    if expire_after is not None:
        if expires_on:
            raise R2ValueError('expire_after: give expire_after or expires_on, not both')
        if rotate_after is None:
            raise R2ValueError('expire_after: needs rotate_after, shorter than it, so that the token is rotated '
                               'before it expires (a token that expires unrotated breaks its holder)')
        if expire_after <= rotate_after:
            raise R2ValueError('expire_after: %s leaves no room for the scheduled rotation after rotate_after '
                               '(%s); it must be longer than rotate_after, by at least the time between two runs'
                               % (format_duration(expire_after), format_duration(rotate_after)))
    return rotate_after, expire_after


def format_duration(seconds):
    """The shortest exact form of a duration, for messages (90d, 36h, 45s)."""
    for unit in ('w', 'd', 'h', 'm'):
        if seconds and seconds % DURATION_UNITS[unit] == 0:
            return '%d%s' % (seconds // DURATION_UNITS[unit], unit)
    return '%ds' % seconds


def validate_validity(expires_on, not_before, now=None):
    """Both are normalized strings or None. expires_on must be in the future and after not_before."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if expires_on:
        exp = parse_time(expires_on, 'expires_on')
        if exp <= now:
            raise R2ValueError('expires_on must be in the future, got %s' % expires_on)
        if not_before and exp <= parse_time(not_before, 'not_before'):
            raise R2ValueError('expires_on (%s) must be after not_before (%s)' % (expires_on, not_before))


def validate_token_name(name, field='name', rotation_room=False):
    """The one rule for a token name given by the user (r2_token, r2_credential_set, the provision role).

    Not empty, no surrounding whitespace, no control character, not ending with NEXT_SUFFIX (reserved for the
    second token of a rotation) and at most TOKEN_NAME_MAX characters, or, with ``rotation_room`` (a name that
    r2_credential_set may rotate), room left for NEXT_SUFFIX. Messages never show the name.
    """
    if not isinstance(name, str) or not name.strip():
        raise R2ValueError('%s must not be empty' % field)
    check_text(name, field)
    if name != name.strip():
        raise R2ValueError('%s: must not begin or end with whitespace' % field)
    if name.endswith(NEXT_SUFFIX):
        raise R2ValueError('%s: must not end with %r (reserved for the second token of a rotation)'
                           % (field, NEXT_SUFFIX))
    if len(name) > TOKEN_NAME_MAX:
        raise R2ValueError('%s must be at most %d characters (Cloudflare limit), got %d'
                           % (field, TOKEN_NAME_MAX, len(name)))
    if rotation_room and len(name) + len(NEXT_SUFFIX) > TOKEN_NAME_MAX:
        raise R2ValueError('%s: at most %d characters here (a rotation adds %r and Cloudflare allows %d), got %d'
                           % (field, TOKEN_NAME_MAX - len(NEXT_SUFFIX), NEXT_SUFFIX, TOKEN_NAME_MAX, len(name)))
    return name


# -- resources and policies -------------------------------------------------

def bucket_resource(account_id, jurisdiction, bucket):
    return '%s%s_%s_%s' % (RESOURCE_BUCKET_PREFIX, account_id, jurisdiction, bucket)


def build_resources(account_id, permission, buckets):
    """Resources for one R2 policy (DOCS r2/api/tokens.mdx, create-via-api.mdx)."""
    if permission in ADMIN_PERMISSIONS:
        return {RESOURCE_ACCOUNT % account_id: '*'}
    if buckets:
        return dict((bucket_resource(account_id, j, b), '*') for j, b in buckets)
    # All buckets of the account: the nested "all X within account Y" form.
    return {RESOURCE_ACCOUNT % account_id: {RESOURCE_ALL_BUCKETS: '*'}}


def build_policies(account_id, permission, buckets, group_ids):
    """The one allow policy of a token; ``group_ids`` are the ids of PERMISSION_GROUPS[permission], in order."""
    return [{
        'effect': 'allow',
        'permission_groups': [{'id': group_id} for group_id in group_ids],
        'resources': build_resources(account_id, permission, buckets),
    }]


def policy_group_names(policies, group_names_by_id=None):
    """The sorted permission group names of a token's policies (a group without a known name is its id)."""
    names = set()
    for policy in policies if isinstance(policies, list) else []:
        for group in (policy or {}).get('permission_groups') or []:
            group = group or {}
            names.add(group.get('name') or (group_names_by_id or {}).get(group.get('id')) or group.get('id') or '?')
    return sorted(names)


def decode_policies(policies, account_id, group_names_by_id=None):
    """Map a token's policies back to (permission, buckets).

    Returns (permission, buckets) where buckets is a sorted list of
    (jurisdiction, name) or None for "all buckets"; permission is None when the
    policies are not exactly one allow policy of the groups of one permission
    (PERMISSION_GROUPS; an Admin level also with its storage group alone) on
    this account (a token this collection did not write).
    """
    if not isinstance(policies, list) or len(policies) != 1:
        return None, None
    policy = policies[0] or {}
    if policy.get('effect') != 'allow' or not policy.get('permission_groups'):
        return None, None
    names = policy_group_names(policies, group_names_by_id)
    permission = None
    for candidate, groups in PERMISSION_GROUPS.items():
        if names in (sorted(groups), [groups[0]]):
            permission = candidate
    if permission is None:
        return None, None
    resources = policy.get('resources') or {}
    account_key = RESOURCE_ACCOUNT % account_id
    if permission in ADMIN_PERMISSIONS:
        return (permission, None) if resources == {account_key: '*'} else (None, None)
    if resources == {account_key: {RESOURCE_ALL_BUCKETS: '*'}}:
        return permission, None
    buckets = []
    for key, value in resources.items():
        match = _BUCKET_KEY_RE.fullmatch(key) if isinstance(key, str) else None
        if value != '*' or not match or match.group(1).lower() != account_id or not JURISDICTION_RE.fullmatch(match.group(2)):
            return None, None
        buckets.append((match.group(2), match.group(3)))
    return (permission, sorted(buckets)) if buckets else (None, None)


# -- endpoints and S3 credentials --------------------------------------------

def endpoint_url(account_id, jurisdiction='default'):
    """S3 endpoint of a jurisdiction (DOCS r2/reference/data-location.mdx)."""
    return _endpoints.endpoint_url(account_id, validate_jurisdiction(jurisdiction))


def reachable_jurisdictions(permission, buckets):
    if permission in OBJECT_PERMISSIONS and buckets:
        return sorted(set(j for j, dummy in buckets), key=jurisdiction_order)
    return list(JURISDICTIONS)


def endpoints_for(account_id, permission, buckets):
    return dict((j, endpoint_url(account_id, j)) for j in reachable_jurisdictions(permission, buckets))


def s3_secret(token_value):
    """Secret Access Key = SHA-256 hex of the token value (DOCS r2/api/tokens.mdx)."""
    return hashlib.sha256(token_value.encode('utf-8')).hexdigest()


def s3_credentials(token_id, token_value):
    return {'access_key_id': token_id, 'secret_access_key': s3_secret(token_value)}


# -- tokens -----------------------------------------------------------------

def condition_ips(condition):
    """(ip_allow, ip_deny) from a token condition; accepts both key spellings."""
    condition = condition or {}
    request_ip = condition.get('request_ip') or condition.get('request.ip') or {}
    return sorted(request_ip.get('in') or []), sorted(request_ip.get('not_in') or [])


def build_condition(ip_allow, ip_deny):
    request_ip = {}
    if ip_allow:
        request_ip['in'] = list(ip_allow)
    if ip_deny:
        request_ip['not_in'] = list(ip_deny)
    # Cloudflare now spells the key request_ip (cloudflare-go ef963f9c, 2025).
    return {'request_ip': request_ip} if request_ip else {}


def decode_token(raw, account_id, owner):
    """The collection's public, secret-free view of a token."""
    permission, buckets = decode_policies(raw.get('policies'), account_id)
    ip_allow, ip_deny = condition_ips(raw.get('condition'))
    return {
        'id': raw.get('id'),
        'name': raw.get('name'),
        'owner': owner,
        'status': raw.get('status'),
        'permission': permission,
        'permission_groups': policy_group_names(raw.get('policies')),
        'buckets': [{'name': b, 'jurisdiction': j} for j, b in buckets] if buckets else [],
        'all_buckets': bool(permission in OBJECT_PERMISSIONS and buckets is None),
        'expires_on': normalize_time(raw.get('expires_on'), 'expires_on') if raw.get('expires_on') else None,
        'not_before': normalize_time(raw.get('not_before'), 'not_before') if raw.get('not_before') else None,
        'ip_allow': ip_allow,
        'ip_deny': ip_deny,
        'issued_on': raw.get('issued_on'),
        'modified_on': raw.get('modified_on'),
        'last_used_on': raw.get('last_used_on'),
    }


class TokenStore:
    """Token CRUD for one owner (user or account) through a CloudflareClient."""

    def __init__(self, client, account_id, owner='account'):
        if owner not in ('account', 'user'):
            raise R2ValueError('owner must be account or user, got %r' % owner)
        self.client = client
        self.account_id = account_id
        self.owner = owner
        self.base = '/user/tokens' if owner == 'user' else '/accounts/%s/tokens' % account_id
        self._group_ids = {}

    def list(self):
        # include_expired: an expired token still holds its name; missing it
        # would make the next run create a second token with the same name.
        return list(self.client.paginate(self.base, params={'include_expired': 'true'}, per_page=50))

    def find(self, name, tokens=None):
        return [t for t in (self.list() if tokens is None else tokens) if t.get('name') == name]

    def permission_group_ids(self, permission):
        """Resolve the ids of a permission's groups by name, once per store (they have changed before)."""
        for name in PERMISSION_GROUPS[permission]:
            if name not in self._group_ids:
                groups = self.client.call('GET', self.base + '/permission_groups', params={'name': name}) or []
                matches = [g for g in groups if g.get('name') == name]
                if len(matches) != 1:
                    raise R2ValueError('Cloudflare returned %d permission groups named %r; expected exactly one'
                                       % (len(matches), name))
                self._group_ids[name] = matches[0]['id']
        return [self._group_ids[name] for name in PERMISSION_GROUPS[permission]]

    def body(self, spec, current=None):
        """Request body for create (current None) or a whole-token update."""
        body = {
            'name': spec['name'],
            'policies': build_policies(self.account_id, spec['permission'], spec['buckets'],
                                       self.permission_group_ids(spec['permission'])),
        }
        condition = build_condition(spec['ip_allow'], spec['ip_deny'])
        if condition:
            body['condition'] = condition
        for field in ('expires_on', 'not_before'):
            if spec.get(field):
                body[field] = spec[field]
        if current is not None:
            # PUT replaces the whole token: keep its status unless the spec sets one, and send an empty
            # condition explicitly so that removed IP rules are really removed. (A create takes no status:
            # iam_create_payload has none, so a token to be disabled is disabled by a PUT after its create.)
            status = spec.get('status') or current.get('status')
            if status in SETTABLE_STATUSES:
                body['status'] = status
            body['condition'] = condition
        return body

    def create(self, spec):
        """Create a token; returns the raw token with its value.

        The POST is never resent blindly: after an uncertain outcome the name is
        looked up again, and a token found there is adopted (its value is rolled,
        since a value is only ever shown once).
        """
        body = self.body(spec)
        attempts = self.client.retries + 1
        for attempt in range(attempts):
            try:
                return self.client.call('POST', self.base, body=body)
            except CloudflareUncertainWrite:
                if attempt + 1 >= attempts:
                    raise
                self.client.log('cloudflare: token create outcome unknown; listing tokens by name before any retry')
                found = self.find(spec['name'])
                if len(found) > 1:
                    raise DuplicateTokenError(spec['name'], found)
                if found:
                    token = dict(found[0])
                    token['value'] = self.roll(token['id'])
                    return token
                self.client.sleep(self.client._backoff(attempt))
        raise AssertionError('unreachable')  # pragma: no cover

    def update(self, token_id, spec, current):
        return self.client.call('PUT', '%s/%s' % (self.base, token_id), body=self.body(spec, current))

    def roll(self, token_id):
        return self.client.call('PUT', '%s/%s/value' % (self.base, token_id), body={})

    def delete(self, token_id):
        """Delete a token; one that is gone already counts as deleted.

        A 404 here follows a listing made moments before: the answer to an earlier attempt was lost (a connection
        reset after Cloudflare applied the DELETE, which the client then retried) or another run deleted it. Either
        way the token is gone, which is what was asked.
        """
        try:
            return self.client.call('DELETE', '%s/%s' % (self.base, token_id))
        except CloudflareNotFound:
            self.client.log('cloudflare: DELETE %s/<id>: the token is gone already (HTTP 404); counted as deleted'
                            % self.base)
            return None


class DuplicateTokenError(R2ValueError):
    def __init__(self, name, tokens):
        ids = ', '.join(sorted(t.get('id') or '?' for t in tokens))
        super(DuplicateTokenError, self).__init__(
            'name: %d tokens are named %r (ids: %s); the name must identify one token. Delete or rename the '
            'extra tokens, then run again. Nothing was changed.' % (len(tokens), name, ids))
        self.ids = ids


# -- token specs (r2_token, r2_credential_set) ---------------------------------

def token_spec(params, rotation_room=False):
    """Validate every option before any API call; returns the spec of the token (see validate_token_name for
    ``rotation_room``)."""
    validate_token_name(params['name'], rotation_room=rotation_room)
    permission = params['permission']
    buckets = normalize_buckets(params['buckets'], params['jurisdiction'])
    if permission in ADMIN_PERMISSIONS and buckets:
        raise R2ValueError('buckets: must be empty with permission=%s: admin permissions cover every bucket of '
                           'the account; use object_read_write or object_read_only to limit a token to buckets'
                           % permission)
    spec = {
        'name': params['name'],
        'permission': permission,
        'buckets': buckets or None,
        'ip_allow': None if params['ip_allow'] is None else normalize_cidrs(params['ip_allow'], 'ip_allow'),
        'ip_deny': None if params['ip_deny'] is None else normalize_cidrs(params['ip_deny'], 'ip_deny'),
        'expires_on': params['expires_on'],
        'not_before': params['not_before'],
    }
    for field in ('expires_on', 'not_before'):
        if spec[field] not in (None, ''):
            spec[field] = normalize_time(spec[field], field)
    given_expiry = spec['expires_on'] or None
    given_start = spec['not_before'] or None
    if given_expiry:
        validate_validity(given_expiry, given_start)
    return spec


def merge_unmanaged(spec, current):
    """Options left out (None) keep the current token's value; '' clears a time."""
    merged = dict(spec)
    for field in ('ip_allow', 'ip_deny', 'expires_on', 'not_before'):
        if merged[field] is None:
            merged[field] = current.get(field) if current else None
        if merged[field] in ('', []):
            merged[field] = [] if field.startswith('ip_') else None
    for field in ('ip_allow', 'ip_deny'):
        merged[field] = merged[field] or []
    return merged


def comparable_token(view):
    """The compared fields of a decoded token, or of a spec, in one shape."""
    if view is None:
        return None
    buckets = view.get('buckets')
    if buckets and isinstance(buckets[0], dict):
        buckets = sorted((b['jurisdiction'], b['name']) for b in buckets)
    permission = view.get('permission')
    return {
        'permission': permission,
        # a spec has no groups: it stands for every group of its permission (an Admin token of 0.3.0 differs)
        'permission_groups': view['permission_groups'] if 'permission_groups' in view else (
            sorted(PERMISSION_GROUPS[permission]) if permission in PERMISSION_GROUPS else []),
        'buckets': [{'name': b, 'jurisdiction': j} for j, b in buckets] if buckets else [],
        'ip_allow': list(view.get('ip_allow') or []),
        'ip_deny': list(view.get('ip_deny') or []),
        'expires_on': view.get('expires_on'),
        'not_before': view.get('not_before'),
    }


# -- verify -----------------------------------------------------------------

def verify_token(client, account_id=None):
    """Verify the client's own bearer token; returns (owner, result).

    User tokens verify at /user/tokens/verify and account tokens only at
    /accounts/{id}/tokens/verify (reference section 1). The value's prefix
    (cfut_/cfat_) says which to ask first; older values try both.
    """
    token = client.session.headers.get('Authorization', '')[len('Bearer '):]
    order = ['user', 'account']
    if token.startswith('cfat_'):
        order = ['account', 'user']
    if not account_id:
        order = ['user']
    last_error = None
    for owner in order:
        path = '/user/tokens/verify' if owner == 'user' else '/accounts/%s/tokens/verify' % account_id
        try:
            return owner, client.call('GET', path)
        except CloudflareAuthError as exc:
            last_error = exc
    raise last_error
