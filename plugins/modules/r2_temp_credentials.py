#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_temp_credentials
short_description: Mint short-lived R2 S3 credentials for one bucket
version_added: 0.1.0
description:
  - Returns temporary S3 credentials (access key, secret, session token) for one R2 bucket, derived from a parent
    API token, with a permission no higher than the parent's and optionally limited to key prefixes or exact
    objects.
  - With O(signing=api) (the default) Cloudflare mints them through its Temporary Credentials API, authorised by
    O(api_token).
  - With O(signing=local) the module signs them itself, following Cloudflare's documented local-signing recipe
    (an HS256 JWT signed with the parent's Secret Access Key), and makes no API call. Only local signing can
    limit the credentials to S3 O(actions).
  - The expiry is computed from O(ttl_seconds) at the time of the request, since Cloudflare does not return it.
extends_documentation_fragment:
  - cloudflare_r2.credentials.connection
  - cloudflare_r2.credentials.connection.account
  - cloudflare_r2.credentials.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Always runs, also in check mode, and returns real credentials, because its whole purpose is its output and
        it changes nothing durable (like M(community.crypto.openssl_privatekey_pipe)). Later tasks in a C(--check)
        run can use the result.
  diff_mode:
    support: N/A
  platform:
    platforms: all
options:
  bucket:
    description:
      - The one bucket the credentials are for.
    type: str
    required: true
  jurisdiction:
    description:
      - Jurisdiction of O(bucket). Decides the returned RV(endpoint_url) and, for O(signing=local), the JWT audience.
      - V(default), V(eu), V(fedramp) or V(us). Any other lowercase name (a jurisdiction Cloudflare adds
        later) is used as given, with a warning; the bucket check refuses a typo.
    type: str
    default: default
  permission:
    description:
      - Permission of the credentials. It cannot be higher than the parent's on O(bucket)
        (V(admin_read_write) covers everything; V(admin_read_only) covers V(object_read_only);
        V(object_read_write) covers V(object_read_only)).
    type: str
    choices: [admin_read_write, admin_read_only, object_read_write, object_read_only]
    default: object_read_only
  ttl_seconds:
    description:
      - Lifetime in seconds, from 1 to 604800 (7 days).
    type: int
    default: 900
  prefixes:
    description:
      - Limit the credentials to object keys starting with one of these prefixes. A list of non-empty strings
        without control characters.
      - At most 100 prefixes. Cloudflare states no limit; this is the collection's cap, checked before any API
        call.
    type: list
    elements: raw
  objects:
    description:
      - Limit the credentials to exactly these object keys. A list of non-empty strings without control
        characters.
      - At most 100 objects (the collection's cap, checked before any API call; Cloudflare states no limit).
    type: list
    elements: raw
  actions:
    description:
      - Limit the credentials to these S3 operations, for example V(GetObject) and V(HeadObject).
      - One of V(HeadObject), V(GetObject), V(GetBucketLocation), V(ListObjectsV1), V(ListObjectsV2),
        V(ListMultipartUploads), V(ListParts), V(PutObject), V(DeleteObject), V(DeleteObjects), V(CopyObject),
        V(CreateMultipartUpload), V(UploadPart), V(UploadPartCopy), V(AbortMultipartUpload),
        V(CompleteMultipartUpload).
      - Only with O(signing=local); Cloudflare's API does not support it yet.
    type: list
    elements: raw
  signing:
    description:
      - V(api) asks Cloudflare's Temporary Credentials API; V(local) signs locally without any API call.
    type: str
    choices: [api, local]
    default: api
  parent_access_key_id:
    description:
      - Access Key ID (token id) of the parent token, 32 hexadecimal characters.
      - With O(signing=api) it defaults to the id of O(api_token) itself, found through Cloudflare's verify
        endpoint. Required with O(signing=local).
    type: str
  parent_secret_access_key:
    description:
      - Secret Access Key of the parent token (SHA-256 hex of its value). Required with O(signing=local), not
        used otherwise.
    type: str
  endpoint_url:
    description:
      - S3 endpoint the credentials will be used on, when it is not the jurisdiction's public endpoint (a proxy,
        a private gateway). Returned as RV(endpoint_url); with O(signing=local) its host is the JWT audience.
      - An V(http://) or V(https://) URL with a host, optionally a port and a path; no user name or password, query,
        fragment, blanks or control characters.
    type: str
  check_bucket:
    description:
      - Before minting, confirm through the R2 bucket list that O(bucket) exists in O(jurisdiction). Skipped,
        with a warning, when O(api_token) may not list buckets, and with O(signing=local), which makes no API
        call.
    type: bool
    default: true
notes:
  - C(changed) is always false. Nothing durable changes; each run returns fresh credentials, so the module works
    in idempotence checks (molecule) and in C(--check) runs. Register the result with C(no_log=true).
  - The parent's permission is compared locally when O(api_token) may read the parent token; otherwise
    Cloudflare's refusal is reported with the same message.
  - Temporary credentials stop working when their parent token is rolled or deleted.
seealso:
  - module: cloudflare_r2.credentials.r2_token
  - name: R2 temporary credentials
    description: Cloudflare's documentation of both ways to mint them.
    link: https://developers.cloudflare.com/r2/api/s3/temporary-credentials/
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Fifteen minutes of read access to one prefix, minted by Cloudflare
  cloudflare_r2.credentials.r2_temp_credentials:
    bucket: reports
    jurisdiction: eu
    permission: object_read_only
    prefixes: ["2026/q4/"]
    ttl_seconds: 900
  register: reader
  no_log: true

- name: An upload-only credential for one object, signed locally (no API call)
  cloudflare_r2.credentials.r2_temp_credentials:
    account_id: "{{ cloudflare_account_id }}"
    bucket: uploads
    permission: object_read_write
    objects: ["incoming/{{ inventory_hostname }}.tar.gz"]
    actions: [PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload]
    signing: local
    parent_access_key_id: "{{ parent.access_key_id }}"
    parent_secret_access_key: "{{ parent.secret_access_key }}"
  register: upload
  no_log: true
'''

RETURN = r'''
access_key_id:
  description: S3 Access Key ID. For O(signing=local) it is the parent's.
  returned: always
  type: str
secret_access_key:
  description: S3 Secret Access Key. Sensitive.
  returned: always
  type: str
session_token:
  description: S3 session token, sent as C(X-Amz-Security-Token) (C(AWS_SESSION_TOKEN)). Sensitive.
  returned: always
  type: str
expiration:
  description: When the credentials expire (RFC 3339, UTC), computed from O(ttl_seconds) at request time.
  returned: always
  type: str
  sample: "2026-11-28T12:15:00Z"
endpoint_url:
  description: S3 endpoint for O(bucket) (its jurisdiction's, or O(endpoint_url)).
  returned: always
  type: str
  sample: https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com
scope:
  description: What the credentials were granted.
  returned: always
  type: dict
  contains:
    bucket:
      description: The bucket.
      type: str
    jurisdiction:
      description: Its jurisdiction.
      type: str
    permission:
      description: The permission.
      type: str
    prefixes:
      description: Key prefixes, or empty for the whole bucket.
      type: list
      elements: str
    objects:
      description: Exact keys, or empty.
      type: list
      elements: str
    actions:
      description: S3 operations (local signing), or empty for all the permission allows.
      type: list
      elements: str
    ttl_seconds:
      description: Lifetime asked for.
      type: int
    parent_access_key_id:
      description: The parent token's id.
      type: str
    signing:
      description: V(api) or V(local).
      type: str
'''

import datetime

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._module import R2Module
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _buckets, _r2, _temporary


def validate(params):
    scope = _temporary.scope_from(params)
    scope.update(actions=_temporary.validate_actions(params['actions']), signing=params['signing'])
    if params['endpoint_url']:
        _r2.validate_endpoint(params['endpoint_url'])
    if scope['signing'] == 'local':
        if params['parent_secret_access_key'] and not _r2.S3_SECRET_RE.fullmatch(params['parent_secret_access_key']):
            raise _r2.R2ValueError('parent_secret_access_key: must be the parent\'s Secret Access Key, 64 hexadecimal '
                                   'characters (the SHA-256 of its token value) and nothing else; the value is not '
                                   'shown')
        if not params['parent_secret_access_key']:
            raise _r2.R2ValueError('parent_secret_access_key is required with signing=local: the credentials are '
                                   'signed with the parent token\'s Secret Access Key')
        if not params['parent_access_key_id']:
            raise _r2.R2ValueError('parent_access_key_id is required with signing=local')
    elif scope['actions']:
        raise _r2.R2ValueError('actions: only supported with signing=local (Cloudflare\'s Temporary Credentials API '
                               'cannot limit operations yet)')
    return scope


def mint_via_api(r2, account_id, scope):
    client = r2.client()
    if not scope['parent_access_key_id']:
        dummy, verified = _r2.verify_token(client, account_id)
        scope['parent_access_key_id'] = verified['id']
    # A missing bucket first: it is the more basic mistake, and out of any parent's scope.
    checker = _buckets.BucketChecker(client, account_id, r2.params['check_bucket'], option='check_bucket')
    try:
        checker.check([(scope['jurisdiction'], scope['bucket'])], 'bucket')
    finally:
        for message in checker.take_warnings():
            r2.module.warn(message)
    return _temporary.mint_temporary_credentials(client, account_id, scope,
                                                 _temporary.read_parent(client, account_id, scope['parent_access_key_id']))


def main():
    r2 = R2Module(
        argument_spec=dict(
            bucket=dict(type='str', required=True),
            jurisdiction=dict(type='str', default='default'),
            permission=dict(type='str', default='object_read_only', choices=list(_r2.PERMISSION_GROUP_NAMES)),
            ttl_seconds=dict(type='int', default=900),
            # raw: Ansible would quietly turn a dict into a string; these must be strings.
            prefixes=dict(type='list', elements='raw'),
            objects=dict(type='list', elements='raw'),
            actions=dict(type='list', elements='raw'),
            signing=dict(type='str', default='api', choices=['api', 'local']),
            parent_access_key_id=dict(type='str', no_log=False),
            parent_secret_access_key=dict(type='str', no_log=True),
            endpoint_url=dict(type='str'),
            check_bucket=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    r2.run(lambda: run(r2))


def run(r2):
    account_id = r2.account_id()
    scope = validate(r2.params)
    endpoint = (r2.params['endpoint_url'] or _r2.endpoint_url(account_id, scope['jurisdiction'])).rstrip('/')
    if scope['signing'] == 'local':
        creds = _temporary.sign_temporary_credentials(
            account_id, scope['parent_access_key_id'], r2.params['parent_secret_access_key'], scope['bucket'],
            scope['permission'], scope['ttl_seconds'], endpoint, scope['prefixes'], scope['objects'],
            scope['actions'])
    else:
        creds = mint_via_api(r2, account_id, scope)
    expires = datetime.datetime.fromtimestamp(creds.pop('expires_at'), datetime.timezone.utc)
    result = dict(creds, changed=False, endpoint_url=endpoint, scope=scope, expiration=_r2.format_time(expires))
    return result


if __name__ == '__main__':
    main()
