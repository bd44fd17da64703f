# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The one model of R2 temporary credentials (DOCS r2/api/s3/temporary-credentials.mdx): the scope and its
validation, the parent rule (never more than the parent), minting through the API, local signing, and when a
holder needs new ones (its fingerprint and the renewal window). Used by r2_temp_credentials and
r2_credential_set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import json
import time

from urllib.parse import urlparse

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _r2


# -- temporary credentials ----------------------------------------------------

TTL_MAX = 604800  # 7 days (schema r2_temp_access_creds_request.ttlSeconds maximum)

# S3 operations a locally signed credential can be limited to
# (DOCS r2/api/s3/temporary-credentials.mdx, "actions").
TEMP_ACTIONS = (
    'HeadObject', 'GetObject', 'GetBucketLocation', 'ListObjectsV1', 'ListObjectsV2', 'ListMultipartUploads',
    'ListParts', 'PutObject', 'DeleteObject', 'DeleteObjects', 'CopyObject', 'CreateMultipartUpload', 'UploadPart',
    'UploadPartCopy', 'AbortMultipartUpload', 'CompleteMultipartUpload',
)


def validate_ttl(ttl):
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1 or ttl > TTL_MAX:
        raise _r2.R2ValueError('ttl_seconds must be an integer from 1 to %d (7 days), got %r' % (TTL_MAX, ttl))
    return ttl


def validate_string_list(values, field, cap=None):
    """A list of non-empty strings without control characters (prefixes, objects), at most ``cap`` long."""
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise _r2.R2ValueError('%s must be a list of non-empty strings' % field)
    if cap is not None:
        _r2.check_length(values, field, cap)
    for index, value in enumerate(values):
        _r2.check_text(value, '%s[%d]' % (field, index))
    return list(values)


def validate_paths(prefixes, objects):
    """The key prefixes and exact keys of a temporary credential: (prefixes, objects)."""
    return (validate_string_list(prefixes, 'prefixes', _r2.PREFIXES_MAX),
            validate_string_list(objects, 'objects', _r2.OBJECTS_MAX))


def validate_actions(actions):
    actions = validate_string_list(actions, 'actions')
    unknown = [a for a in actions if a not in TEMP_ACTIONS]
    if unknown:
        raise _r2.R2ValueError('actions: unknown S3 action(s) %s; allowed: %s'
                               % (', '.join(_r2.shown(a, quote=False) for a in unknown[:10]), ', '.join(TEMP_ACTIONS)))
    return actions


def r2_grants(policies, account_id):
    """The R2 permissions a token's policies grant on this account, as (permission, buckets) pairs.

    Unlike ``_r2.decode_policies`` this reads any token, such as one that also manages
    tokens. Returns None when the policies cannot be judged locally (a deny on an
    R2 group, or resources of a shape this model does not read): Cloudflare decides then.
    """
    grants = []
    for policy in policies or []:
        names = [(g or {}).get('name') for g in policy.get('permission_groups') or []]
        held = [_r2.PERMISSION_BY_GROUP_NAME[n] for n in names if n in _r2.PERMISSION_BY_GROUP_NAME]
        if not held:
            continue
        if policy.get('effect') != 'allow':
            return None
        for permission in held:
            single = [{'effect': 'allow', 'permission_groups': [{'name': _r2.PERMISSION_GROUP_NAMES[permission]}],
                       'resources': policy.get('resources')}]
            decoded = _r2.decode_policies(single, account_id)
            if decoded[0] is None:
                return None
            grants.append(decoded)
    return grants


def parent_covers(raw_token, account_id, bucket, jurisdiction, permission):
    """Whether a parent token may grant ``permission`` on one bucket: (True|False|None, what it holds there).

    None means "cannot tell locally" (see ``r2_grants``).
    """
    grants = r2_grants(raw_token.get('policies'), account_id)
    if grants is None:
        return None, None
    held = [p for p, buckets in grants
            if p in _r2.ADMIN_PERMISSIONS or buckets is None or (jurisdiction, bucket) in buckets]
    best = max(held, key=_r2.PERMISSIONS.index) if held else None
    return any(_r2.permission_covers(p, permission) for p in held), best


def read_parent(client, account_id, parent_id, field='parent_access_key_id'):
    """The parent token, if the API token may read it; None otherwise.

    When both owners answer 404 (the API token may read tokens, and there is no token with that id) the id is
    wrong: refused here, before the mint, which Cloudflare would refuse with a message about permissions.
    """
    _r2.validate_token_id(parent_id, field)   # it goes into the path
    missing = 0
    for path in ('/accounts/%s/tokens/%s' % (account_id, parent_id), '/user/tokens/%s' % parent_id):
        try:
            return client.call('GET', path)
        except _api.CloudflareNotFound:
            missing += 1
        except (_api.CloudflarePermissionError, _api.CloudflareAuthError):
            continue
    if missing == 2:
        raise _r2.R2ValueError('%s: there is no token with id %s in account %s or among the API token user\'s tokens; '
                               'give the id (Access Key ID) of an existing token' % (field, parent_id, account_id))
    return None


def temp_refusal_message(scope, parent_permission=None):
    held = ' (the parent holds %s on it)' % parent_permission if parent_permission else ''
    return ('permission: %s on bucket %r is higher than the parent token %s allows%s; temporary credentials can '
            'never exceed their parent' % (scope['permission'], scope['bucket'], scope['parent_access_key_id'], held))


def _error_summary(exc):
    return '; '.join('%s %s' % (e.get('code'), e.get('message')) for e in exc.errors if isinstance(e, dict)) or str(exc)


def mint_temporary_credentials(client, account_id, scope, parent=None):
    """POST temp-access-credentials for one scope (bucket, jurisdiction, permission, ttl_seconds, prefixes,
    objects, parent_access_key_id); returns the credentials with ``expires_at`` (epoch seconds).

    ``parent`` is the parent token as read from the API, when it could be read: then a permission above the
    parent's is refused here, before the write. Cloudflare's own refusal is reworded the same way.
    """
    _r2.validate_token_id(scope['parent_access_key_id'])
    if parent is not None:
        allowed, held = parent_covers(parent, account_id, scope['bucket'], scope['jurisdiction'], scope['permission'])
        if allowed is False:
            raise _r2.R2ValueError(temp_refusal_message(scope, held))
    body = {
        'bucket': scope['bucket'],
        'parentAccessKeyId': scope['parent_access_key_id'],
        'permission': _r2.to_api_permission(scope['permission']),
        'ttlSeconds': scope['ttl_seconds'],
    }
    if scope.get('prefixes'):
        body['prefixes'] = scope['prefixes']
    if scope.get('objects'):
        body['objects'] = scope['objects']
    # The response carries no expiry: it is computed from the time of the request.
    issued = int(time.time())
    try:
        result = client.call('POST', '/accounts/%s/r2/temp-access-credentials' % account_id, body=body)
    except _api.CloudflareApiError as exc:
        text = str(exc).lower()
        if exc.status in (400, 403) and ('parent' in text or 'permission' in text) and 'ttl' not in text:
            raise _r2.R2ValueError('%s (Cloudflare: %s)' % (temp_refusal_message(scope), _error_summary(exc)))
        raise
    return {
        'access_key_id': result['accessKeyId'],
        'secret_access_key': result['secretAccessKey'],
        'session_token': result['sessionToken'],
        'expires_at': issued + scope['ttl_seconds'],
    }


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def sign_temporary_credentials(account_id, parent_access_key_id, parent_secret_access_key, bucket, permission,
                               ttl_seconds, endpoint, prefixes=None, objects=None, actions=None, now=None):
    """Cloudflare's local signing recipe for temporary credentials; makes no API call.

    DOCS r2/api/s3/temporary-credentials.mdx ("Generate locally") and the runnable
    example r2/examples/authenticate-r2-temp-credentials.mdx: an HS256 JWT signed
    with the parent's Secret Access Key; secret = SHA-256 hex of the JWT; session
    token = base64("jwt/" + JWT); access key id = the parent's.
    """
    _r2.validate_token_id(parent_access_key_id)
    # The audience is the S3 host the credential is used on: an endpoint without one would sign an empty audience.
    audience = urlparse(endpoint).netloc if isinstance(endpoint, str) else ''
    if not audience:
        raise _r2.R2ValueError('endpoint_url: must be an http:// or https:// URL with a host (the host is the '
                               'credentials\' audience)')
    issued = int(now if now is not None else time.time())
    claims = {
        'bucket': bucket,
        'scope': _r2.to_api_permission(permission),
        'sub': account_id,
        'iss': parent_access_key_id,
        # The audience is the S3 host the credential is used on, so it is bound to one jurisdiction.
        'aud': audience,
        'iat': issued,
        'exp': issued + ttl_seconds,
    }
    if actions:
        claims['actions'] = list(actions)
    if prefixes or objects:
        claims['paths'] = {}
        if prefixes:
            claims['paths']['prefixPaths'] = list(prefixes)
        if objects:
            claims['paths']['objectPaths'] = list(objects)
    header = {'alg': 'HS256', 'typ': 'JWT'}
    signing_input = '%s.%s' % (_b64url(json.dumps(header, separators=(',', ':')).encode('utf-8')),
                               _b64url(json.dumps(claims, separators=(',', ':')).encode('utf-8')))
    signature = hmac.new(parent_secret_access_key.encode('utf-8'), signing_input.encode('ascii'), hashlib.sha256)
    jwt = '%s.%s' % (signing_input, _b64url(signature.digest()))
    return {
        'access_key_id': parent_access_key_id,
        'secret_access_key': hashlib.sha256(jwt.encode('ascii')).hexdigest(),
        'session_token': base64.b64encode(('jwt/' + jwt).encode('ascii')).decode('ascii'),
        'expires_at': issued + ttl_seconds,
    }


# -- the scope of one temporary credential, and when its holder needs new ones ----------------------------------

# Fingerprint key of "the API token in use" as parent (its id is only needed when minting).
API_TOKEN_PARENT = 'api-token'
SCOPE_KEYS = ('bucket', 'jurisdiction', 'permission', 'prefixes', 'objects')


def scope_from(options):
    """The validated scope of one temporary credential, from r2_temp_credentials' options or an entry of
    r2_credential_set's ``temporary`` (bucket, jurisdiction, permission, ttl_seconds, prefixes, objects,
    parent_access_key_id)."""
    _r2.validate_bucket_name(options['bucket'], 'bucket')
    _r2.validate_jurisdiction(options['jurisdiction'])
    prefixes, objects = validate_paths(options['prefixes'], options['objects'])
    if options['parent_access_key_id']:
        # it goes into an API path (reading the parent) and the request body, or into the signed claims
        _r2.validate_token_id(options['parent_access_key_id'])
    return {
        'bucket': options['bucket'],
        'jurisdiction': options['jurisdiction'],
        'permission': options['permission'],
        'ttl_seconds': validate_ttl(options['ttl_seconds']),
        'prefixes': prefixes,
        'objects': objects,
        'parent_access_key_id': options['parent_access_key_id'],
    }


def renew_window(scope, renew_before):
    """Seconds before expiry at which a holder's credentials are minted again (default a quarter of the TTL)."""
    renew = scope['ttl_seconds'] // 4 if renew_before is None else renew_before
    if renew < 0 or renew >= scope['ttl_seconds']:
        raise _r2.R2ValueError('renew_before: must be from 0 to less than ttl_seconds (%d), got %d'
                               % (scope['ttl_seconds'], renew))
    return renew


def parent_refusal(scope, parent_name, parent_spec):
    """Why a token spec (of the same run) cannot be the parent of ``scope``, or None; no API call needed."""
    if parent_spec['buckets'] and (scope['jurisdiction'], scope['bucket']) not in parent_spec['buckets']:
        return ('bucket: %r (%s) is not among the buckets of its parent token %r'
                % (scope['bucket'], scope['jurisdiction'], parent_name))
    if not _r2.permission_covers(parent_spec['permission'], scope['permission']):
        return ('permission: %s is higher than its parent token %r allows (%s); temporary credentials can never '
                'exceed their parent' % (scope['permission'], parent_name, parent_spec['permission']))
    return None


def fingerprint(holder, scope, parent_key):
    """What a holder's credentials were minted for: the holder's own fingerprint, the parent, the scope."""
    material = {'holder': holder or '', 'parent': parent_key, 'scope': dict((k, scope[k]) for k in SCOPE_KEYS)}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode('utf-8')).hexdigest()[:32]


def due(held, scope, parent_key, now, force=False):
    """Whether a holder needs new credentials. ``held`` has the holder's fingerprint (``fingerprint``), what it
    holds (``held_access_key_id``, ``held_fingerprint``) and ``held_expires_at`` (epoch seconds or None);
    ``scope`` has ``renew_before``."""
    if force or not held['held_access_key_id']:
        return True
    if held['held_fingerprint'] != fingerprint(held['fingerprint'], scope, parent_key):
        return True
    expires = held['held_expires_at']
    return expires is None or expires - now <= scope['renew_before']
