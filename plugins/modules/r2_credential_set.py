#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: r2_credential_set
short_description: Reconcile many R2 tokens and temporary credentials with one token listing
version_added: 0.1.0
description:
  - Brings a whole set of R2 API tokens (S3 access keys) and temporary credentials to the desired state in one
    run. The tokens of the account (or user) are listed B(once) and every entry is reconciled against that
    listing. A fleet of N hosts costs the same listing as one host, which keeps inventory-wide runs inside
    Cloudflare's rate limit (1200 requests per 5 minutes).
  - Every entry is validated, and every read the run needs (bucket listings, permission groups, parent tokens)
    is done, before the first write. Bad input fails the whole run with one message naming the entry
    (O(tokens[].label) when given) and the field; nothing is changed then.
  - This is the engine of the P(cloudflare_r2.credentials.provision#role) role. For one token use
    M(cloudflare_r2.credentials.r2_token); for one temporary credential M(cloudflare_r2.credentials.r2_temp_credentials).
  - B(Holders.) A token or temporary credential is meant to be held by someone (a host's client files). Give
    what the holder currently has (O(tokens[].held_access_key_id), O(tokens[].held_fingerprint), and for
    temporary credentials also O(temporary[].held_expiration)) and the module hands out new secret material
    exactly when the holder needs it - a token whose holder lost its secret is rolled, temporary credentials
    are minted again only close to their expiry - and returns no secret otherwise.
  - B(Rotation without a gap.) With O(tokens[].rotate=true) a second token named O(tokens[].name) plus
    C(~next) is created with the same permissions and its credentials are returned; the current token keeps
    working. Once the holder has the new credentials, a later run with O(tokens[].held_access_key_id) set to
    the new id deletes the old token and renames the new one to O(tokens[].name). A C(~next) token whose id the
    holder does not have is deleted by the next run, so an interrupted rotation heals itself either way.
  - B(Failures.) Once the writes start, a failed entry does not stop the others. Every entry is applied where it
    can be, each one's result (new secrets included) is in RV(credentials), and the module fails at the end with
    every failure in RV(failures) and one message. A temporary credential whose parent failed is not minted. A
    failure that every later write would meet too (the API token refused, a missing permission, the rate limit,
    Cloudflare unreachable) stops the writes after it; they are reported as not attempted. A DELETE of a token
    that is gone already (its answer was lost and the retry got HTTP 404) counts as done.
  - B(Duplicates and concurrent runs.) Token names are not unique on Cloudflare. When two tokens share the name
    of an entry, the one whose id the holder has (O(tokens[].held_access_key_id)) is kept and the others are
    deleted (RV(credentials.action=deduplicated)); when the holder has none of them, the entry fails with the
    ids of all of them and nothing is changed for it. After creating tokens the run lists the tokens once more.
    When another run (another controller) created the same name at the same time, the earlier token stays, and
    the run whose copy is the later one deletes it and fails that entry, so that exactly one token per name is
    left and handed out. On one controller the P(cloudflare_r2.credentials.provision#role) role's playbooks
    also hold a lock for the whole run (see the README).
extends_documentation_fragment:
  - cloudflare_r2.credentials.connection
  - cloudflare_r2.credentials.connection.account
  - cloudflare_r2.credentials.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports what would be created, changed, rolled, deleted or minted, without any write and without
        returning secrets.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  owner:
    description:
      - V(account) manages account-owned tokens, V(user) the tokens of the user the API token belongs to.
    type: str
    choices: [account, user]
    default: account
  tokens:
    description:
      - The long-lived tokens. Names must be unique in the list.
      - At most 5000 entries (the collection's cap, checked before any API call).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Token name; it identifies the token and must be unique in the account (or user).
          - At most 115 characters (Cloudflare allows 120 and a rotation adds C(~next)), without surrounding
            whitespace or control characters, and not ending with C(~next) (reserved for rotation).
        type: str
        required: true
      label:
        description:
          - How error messages name this entry (for example the host and the credential name). No control
            characters.
        type: str
      state:
        description: V(present) or V(absent). V(absent) also deletes a left-over C(~next) token.
        type: str
        choices: [present, absent]
        default: present
      permission:
        description: One of the four R2 permissions. Required with O(tokens[].state=present).
        type: str
        choices: [admin_read_write, admin_read_only, object_read_write, object_read_only]
      buckets:
        description:
          - Buckets for object permissions, as names (in O(tokens[].jurisdiction)) or dicts with C(name) and
            C(jurisdiction). Empty means every bucket.
          - At most 500 buckets (the collection's cap).
        type: list
        elements: raw
      jurisdiction:
        description: Jurisdiction of the buckets given by name.
        type: str
        choices: [default, eu, fedramp]
        default: default
      ip_allow:
        description:
          - Client IP ranges allowed to use the token; omitted leaves the token's as they are.
          - At most 100 entries (the collection's cap).
        type: list
        elements: str
      ip_deny:
        description:
          - Client IP ranges refused; omitted leaves the token's as they are.
          - At most 100 entries (the collection's cap).
        type: list
        elements: str
      expires_on:
        description: RFC 3339 expiry; omitted leaves it as it is, an empty string removes it.
        type: str
      not_before:
        description: RFC 3339 start of validity; omitted leaves it as it is, an empty string removes it.
        type: str
      held_access_key_id:
        description:
          - The access key id the holder currently has with its secret, or an empty string when the holder has
            no usable copy. Omitted means "not tracked", and the token is managed without regard to any holder.
          - When given and it is not the token's id (the holder lost its files, or holds another key), the token's
            value is rolled and the new secret returned. When it is the id of the C(~next) token, a pending
            rotation is finished.
        type: str
      fingerprint:
        description:
          - An opaque summary of how the holder uses the credential (files, endpoint, user). When it differs from
            O(tokens[].held_fingerprint) the holder needs the secret again, so the value is rolled.
        type: str
      held_fingerprint:
        description: The fingerprint recorded with the holder's copy.
        type: str
      rotate:
        description:
          - Start a rotation (see the description). The current token keeps working until the holder reports the
            new id. Without a holder (O(tokens[].held_access_key_id) omitted) the value is rolled in place instead.
        type: bool
        default: false
  temporary:
    description:
      - Temporary credentials, minted through Cloudflare's temporary-credentials API from a parent token.
        Names must be unique in the list and distinct from the token names.
      - At most 5000 entries (the collection's cap, checked before any API call).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The key of this entry in RV(credentials). Not a Cloudflare object. No control characters.
        type: str
        required: true
      label:
        description: How error messages name this entry. No control characters.
        type: str
      bucket:
        description: The one bucket the credentials are for.
        type: str
        required: true
      jurisdiction:
        description: The bucket's jurisdiction.
        type: str
        choices: [default, eu, fedramp]
        default: default
      permission:
        description: Permission of the credentials; never more than the parent's.
        type: str
        choices: [admin_read_write, admin_read_only, object_read_write, object_read_only]
        default: object_read_only
      ttl_seconds:
        description: Lifetime, from 1 to 604800 (7 days).
        type: int
        default: 3600
      prefixes:
        description:
          - Limit to these key prefixes (no control characters).
          - At most 100 prefixes (the collection's cap; Cloudflare states no limit).
        type: list
        elements: str
      objects:
        description:
          - Limit to these exact keys (no control characters).
          - At most 100 objects (the collection's cap; Cloudflare states no limit).
        type: list
        elements: str
      parent:
        description:
          - Name of a token of O(tokens) to mint from. Deleting or rolling that token revokes the temporary
            credentials minted from it, which is how revocation and rotation reach them.
          - Mutually exclusive with O(temporary[].parent_access_key_id). With neither, the parent is the API
            token itself (one verify request, only when minting).
        type: str
      parent_access_key_id:
        description: Access key id (token id) of a parent token not managed here, 32 hexadecimal characters.
        type: str
      renew_before:
        description:
          - Mint again when the held credentials expire within this many seconds. Default a quarter of
            O(temporary[].ttl_seconds).
        type: int
      held_access_key_id:
        description:
          - Access key id of the holder's copy, or an empty string when it has none. Omitted or empty, the
            credentials are minted on every run.
        type: str
      held_expiration:
        description: Expiry (RFC 3339) recorded with the holder's copy.
        type: str
      fingerprint:
        description:
          - Opaque summary of how the holder uses the credential. The module mixes in the scope and the parent
            token's id, so that a changed scope or parent mints again; the result is returned as
            RV(credentials.fingerprint) for the holder to record.
        type: str
        default: ''
      held_fingerprint:
        description: The fingerprint recorded with the holder's copy.
        type: str
      force:
        description: Mint new credentials whatever the holder has (rotation).
        type: bool
        default: false
  token_quota:
    description:
      - Most tokens the owner may hold; the run fails before any write if it would need more (a rotation holds a
        second token per credential while it runs). Default Cloudflare's quota, 500 account-owned or 50
        user-owned tokens.
    type: int
  check_buckets:
    description:
      - Before creating or changing a token, or minting, check that its buckets exist in their jurisdictions
        (one bucket listing per jurisdiction per run). Cloudflare accepts tokens for missing buckets, which then
        grant nothing.
    type: bool
    default: true
notes:
  - B(Secrets are returned in RV(credentials)). Always use C(no_log=true) on the task.
  - When writes fail, the module fails with the results of every entry that was applied in RV(credentials), new
    secrets included, so that a caller can still hand them out, and the failures in RV(failures).
  - The API token needs C(Account API Tokens Write) (or C(API Tokens Write) for O(owner=user)) and, to check
    buckets, C(Workers R2 Storage Read). To mint temporary credentials from a token, it needs
    C(Workers R2 Storage Write).
seealso:
  - module: cloudflare_r2.credentials.r2_token
  - module: cloudflare_r2.credentials.r2_temp_credentials
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Two hosts' tokens and a temporary credential, with one listing
  cloudflare_r2.credentials.r2_credential_set:
    account_id: "{{ r2_account_id }}"
    tokens:
      - name: "web1:media"
        permission: object_read_write
        buckets: [media]
        jurisdiction: eu
        held_access_key_id: "{{ web1_media_key_id | default('') }}"
      - name: "web2:media"
        permission: object_read_only
        buckets: [media]
        jurisdiction: eu
    temporary:
      - name: "web1:upload"
        parent: "web1:media"
        bucket: media
        jurisdiction: eu
        permission: object_read_write
        prefixes: [incoming/]
        ttl_seconds: 7200
  no_log: true
  register: fleet

- name: Start a rotation; the old token keeps working until the holder reports the new one
  cloudflare_r2.credentials.r2_credential_set:
    tokens:
      - name: "web1:media"
        permission: object_read_write
        buckets: [media]
        jurisdiction: eu
        held_access_key_id: "{{ web1_media_key_id }}"   # the holder's current key: the rotation is tracked
        rotate: true
  no_log: true
  register: rotation
'''

RETURN = r'''
credentials:
  description:
    - One entry per token and temporary credential, keyed by name. An entry that failed is only here when it got
      new secret material before its failure (with RV(credentials.failed)); its message is in RV(failures).
  returned: always
  type: dict
  contains:
    kind:
      description: V(token) or V(temporary).
      type: str
    action:
      description:
        - What the run did (or would do in check mode). Tokens - V(created), V(updated), V(rolled),
          V(unchanged), V(deleted), V(absent), V(rotation_started), V(rotation_finished),
          V(rotation_abandoned) (a C(~next) token the holder never took was deleted), V(deduplicated) (other
          tokens of the name were deleted, the holder's stayed). Temporary - V(minted), V(kept).
      type: str
    changed:
      description: Whether this entry changed anything.
      type: bool
    new_material:
      description: Whether this entry returns a new secret that the holder must receive.
      type: bool
    access_key_id:
      description: S3 Access Key ID (the token id; for RV(credentials.action=rotation_started) the new token's).
      type: str
    secret_access_key:
      description: S3 Secret Access Key. Sensitive.
      type: str
      returned: when RV(credentials.new_material) is true (not in check mode)
    session_token:
      description: Session token of temporary credentials. Sensitive.
      type: str
      returned: when a temporary credential was minted (not in check mode)
    expiration:
      description: Expiry of temporary credentials (RFC 3339, UTC), computed from the TTL at request time.
      type: str
      returned: for temporary credentials
    fingerprint:
      description: The fingerprint the holder should record with the credentials.
      type: str
    token:
      description: The token after the run (decoded), or null when absent.
      type: dict
      returned: for tokens
    failed:
      description: Set on the result of an entry whose later step failed after it got new secret material (for
        example a created token whose update failed); its failure is in RV(failures).
      type: bool
      returned: on such an entry
failures:
  description:
    - The entries that failed, by name, each with its message (naming the entry and the field or the Cloudflare
      error). Empty when the run succeeded; the module fails when it is not.
  returned: always
  type: dict
  sample: {"ansible:web3/media": "tokens[2] (host web3, credential media): Cloudflare API error on POST ..."}
summary:
  description: Number of entries per action, and C(failed) for the entries in RV(failures).
  returned: always
  type: dict
  sample: {unchanged: 198, rolled: 1, created: 1}
api_requests:
  description: Cloudflare API requests this run made, by method, with the total.
  returned: always
  type: dict
  sample: {GET: 5, POST: 1, total: 6}
'''

import datetime
import hashlib
import json
import time

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import CloudflareError
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._module import R2Module, token_argspec
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2

NEXT_SUFFIX = _r2.NEXT_SUFFIX
# Cloudflare's token quotas per owner (cloudflare-r2-api.md, limits); token_quota overrides.
QUOTA = {'account': 500, 'user': 50}
# Steps that give a token a new value: what was minted from its old value stops working.
RENEWING_STEPS = frozenset(('create', 'roll', 'create_next', 'roll_next'))
# Seconds between the answer to the last create and the listing that looks for a concurrent run's twin
# (settle_created). A token stored in second S was stored before its answer came, so one second after the answer
# the listing reaches Cloudflare after S + 1: every rival stored in the same second S is in it.
SETTLE_SECONDS = 1.0
# Fingerprint key of "the API token in use" as parent (its id is only needed when minting).
API_TOKEN_PARENT = 'api-token'


class EntryFailed(Exception):
    """One entry's write failed; ``partial`` is its result so far when that holds a new secret."""

    def __init__(self, error, partial=None):
        super(EntryFailed, self).__init__(str(error))
        self.error = error
        self.partial = partial


def account_wide(error):
    """The message of a failure that every further write would meet too (the API token refused or rate limited,
    Cloudflare unreachable), or None for a failure of one entry."""
    if isinstance(error, (_api.CloudflareAuthError, _api.CloudflarePermissionError, _api.CloudflareRateLimited)):
        return str(error)
    if isinstance(error, _api.CloudflareTransportError) and not isinstance(error, _api.CloudflareUncertainWrite):
        return str(error)
    return None


def where(kind, index, entry):
    """How a message names an entry: its label, else its name (neither shown when it holds a control character)."""
    return '%s[%d] (%s)' % (kind, index, _r2.shown(entry.get('label') or entry.get('name'), quote=False))


def check_label(entry):
    """An entry's label (how messages name it) must be fit for a message."""
    if entry.get('label') is not None:
        _r2.check_text(entry['label'], 'label')


def validate_tokens(entries):
    _r2.check_length(entries, 'tokens', _r2.ENTRIES_MAX)
    specs = []
    names = set()
    for index, entry in enumerate(entries):
        label = where('tokens', index, entry)
        try:
            check_label(entry)
            # the one rule for token names (no control character, no ~next, room for the rotation's ~next)
            _r2.validate_token_name(entry['name'], rotation_room=True)
            if entry['name'] in names:
                raise _r2.R2ValueError('name: %s is used by another entry' % _r2.shown(entry['name']))
            names.add(entry['name'])
            spec = None
            if entry['state'] == 'present':
                if not entry['permission']:
                    raise _r2.R2ValueError('permission: required with state=present')
                spec = _r2.token_spec(entry, rotation_room=True)
            elif entry['rotate']:
                raise _r2.R2ValueError('rotate: cannot rotate a token with state=absent')
        except _r2.R2ValueError as exc:
            raise _r2.R2ValueError('%s: %s' % (label, exc))
        specs.append(spec)
    return specs


def parent_refusal(entry, scope, parent_spec):
    """Why a token of this run cannot be the parent of ``scope``, or None (checked before any API call)."""
    if parent_spec['buckets'] and (scope['jurisdiction'], scope['bucket']) not in parent_spec['buckets']:
        return ('bucket: %r (%s) is not among the buckets of its parent token %r'
                % (scope['bucket'], scope['jurisdiction'], entry['parent']))
    if not _r2.permission_covers(parent_spec['permission'], scope['permission']):
        return ('permission: %s is higher than its parent token %r allows (%s); temporary credentials can never '
                'exceed their parent' % (scope['permission'], entry['parent'], parent_spec['permission']))
    return None


def validate_temporary(entries, token_entries, token_specs):
    _r2.check_length(entries, 'temporary', _r2.ENTRIES_MAX)
    # the present tokens of this run, by name (absent ones have no spec)
    specs = dict((t['name'], spec) for t, spec in zip(token_entries, token_specs) if spec is not None)
    names = set(t['name'] for t in token_entries)
    scopes = []
    for index, entry in enumerate(entries):
        label = where('temporary', index, entry)
        try:
            check_label(entry)
            if not entry['name']:
                raise _r2.R2ValueError('name: required')
            _r2.check_text(entry['name'], 'name')
            if entry['name'] in names:
                raise _r2.R2ValueError('name: %s is used by another entry' % _r2.shown(entry['name']))
            names.add(entry['name'])
            _r2.validate_bucket_name(entry['bucket'], 'bucket')
            prefixes, objects = _r2.validate_paths(entry['prefixes'], entry['objects'])
            if entry['parent_access_key_id']:
                _r2.validate_token_id(entry['parent_access_key_id'])
            scope = {
                'bucket': entry['bucket'],
                'jurisdiction': entry['jurisdiction'],
                'permission': entry['permission'],
                'ttl_seconds': _r2.validate_ttl(entry['ttl_seconds']),
                'prefixes': prefixes,
                'objects': objects,
                'parent_access_key_id': entry['parent_access_key_id'],
            }
            if entry['parent'] and entry['parent_access_key_id']:
                raise _r2.R2ValueError('parent: give parent or parent_access_key_id, not both')
            if entry['parent'] and entry['parent'] not in specs:
                raise _r2.R2ValueError('parent: %s is not a token of this run with state=present'
                                       % _r2.shown(entry['parent']))
            if entry['parent']:
                refusal = parent_refusal(entry, scope, specs[entry['parent']])
                if refusal:
                    raise _r2.R2ValueError(refusal)
            renew = entry['renew_before']
            if renew is None:
                renew = scope['ttl_seconds'] // 4
            if renew < 0 or renew >= scope['ttl_seconds']:
                raise _r2.R2ValueError('renew_before: must be from 0 to less than ttl_seconds (%d), got %d'
                                       % (scope['ttl_seconds'], renew))
            scope['renew_before'] = renew
            held = entry['held_expiration']
            scope['held_expires_at'] = None
            if held:
                try:
                    scope['held_expires_at'] = _r2.parse_time(held, 'held_expiration').timestamp()
                except _r2.R2ValueError:
                    # A garbled record on the holder is not the user's input error: mint again.
                    scope['held_expires_at'] = None
        except _r2.R2ValueError as exc:
            raise _r2.R2ValueError('%s: %s' % (label, exc))
        scopes.append(scope)
    return scopes


def temp_fingerprint(entry, scope, parent_id):
    material = {'holder': entry['fingerprint'] or '', 'parent': parent_id,
                'scope': dict((k, scope[k]) for k in ('bucket', 'jurisdiction', 'permission', 'prefixes', 'objects'))}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode('utf-8')).hexdigest()[:32]


class Reconciler:
    def __init__(self, r2):
        self.r2 = r2
        self.params = r2.params
        self.check_mode = r2.check_mode
        self.account_id = r2.account_id()
        self.owner = self.params['owner']
        self.results = {}
        self.failures = {}
        self.last_create = 0.0
        self._bucket_cache = {}
        self._api_parent = None
        self.now = None
        self.client = None

    # -- reads ---------------------------------------------------------------

    def existing_buckets(self, jurisdiction):
        if jurisdiction not in self._bucket_cache:
            try:
                self._bucket_cache[jurisdiction] = _r2.bucket_names(self.client, self.account_id, jurisdiction)
            except _r2.CloudflarePermissionError:
                self._bucket_cache[jurisdiction] = None
                self.r2.module.warn('check_buckets: could not list the buckets of jurisdiction %r (the API token '
                                    'may not list buckets); their existence was not checked' % jurisdiction)
        return self._bucket_cache[jurisdiction]

    def check_buckets(self, label, buckets, field):
        if not self.params['check_buckets']:
            return
        for jurisdiction, name in buckets:
            existing = self.existing_buckets(jurisdiction)
            if existing is not None and name not in existing:
                raise _r2.R2ValueError('%s: %s: bucket %r does not exist in jurisdiction %r of account %s (a bucket '
                                       'is reachable only in the jurisdiction it was created in)'
                                       % (label, field, name, jurisdiction, self.account_id))

    def api_parent(self):
        """The API token as a parent: its id, and the token itself when it may be read."""
        if self._api_parent is None:
            dummy, verified = _r2.verify_token(self.client, self.account_id)
            try:
                parent = _r2.read_parent(self.client, self.account_id, verified['id'])
            except _r2.R2ValueError:
                parent = None   # the API token exists (it was verified): it just cannot be read back here
            self._api_parent = (verified['id'], parent)
        return self._api_parent

    # -- plan ----------------------------------------------------------------

    @staticmethod
    def resolve_duplicates(name, found, nexts, held, extra):
        """Pick the token of a name that two tokens share (two runs at once, a lost create, a person).

        The holder's key id says which one is in use: that one stays and the others go (into ``extra``). A
        C(~next) token the holder does not hold is an abandoned rotation, so with no holder match every C(~next)
        but one goes too (the one left is deleted or reused as for a single one). Returns (found, nexts, problem),
        problem being the message when the holder cannot tell which token of the name is in use.
        """
        problem = None
        if len(found) > 1:
            kept = [t for t in found if held and t.get('id') == held]
            if not kept and held and any(t.get('id') == held for t in nexts):
                # the holder has the new token of a rotation: every token of the old name is on its way out
                kept = found[:1]
            if kept:
                extra.extend(t for t in found if t is not kept[0])
                found = kept
            else:
                problem = str(_r2.DuplicateTokenError(name, found)).replace(' Nothing was changed.', '') + (
                    ' The holder holds none of them (held access key id %s), so this run cannot tell which one '
                    'is in use; nothing was changed for this entry.' % ('empty' if not held else _r2.shown(held)))
                return found, nexts, problem
        if len(nexts) > 1:
            kept = [t for t in nexts if held and t.get('id') == held] or nexts[:1]
            extra.extend(t for t in nexts if t is not kept[0])
            nexts = kept
        return found, nexts, problem

    def plan_tokens(self, entries, specs, listing):
        by_name = {}
        for raw in listing:
            by_name.setdefault(raw.get('name'), []).append(raw)
        plans = []
        for index, (entry, spec) in enumerate(zip(entries, specs)):
            label = where('tokens', index, entry)
            held = entry['held_access_key_id']
            found = by_name.get(entry['name'], [])
            nexts = by_name.get(entry['name'] + NEXT_SUFFIX, [])
            plan = {'entry': entry, 'label': label, 'steps': [], 'duplicates': []}
            if entry['state'] == 'absent':
                # every token of the name goes, however many there are
                plan['duplicates'] = found[1:] + nexts[1:]
                found, nexts = found[:1], nexts[:1]
            else:
                found, nexts, problem = self.resolve_duplicates(entry['name'], found, nexts, held, plan['duplicates'])
                if problem:
                    plan.update(action='failed', failure='%s: %s' % (label, problem), raw=None, next=None,
                                current=None)
                    plans.append(plan)
                    continue
            if plan['duplicates']:
                plan['steps'].append('delete_duplicates')
            plan['raw'] = found[0] if found else None
            plan['next'] = nexts[0] if nexts else None
            plan['current'] = _r2.decode_token(plan['raw'], self.account_id, self.owner) if plan['raw'] else None
            nxt = plan['next']
            if entry['state'] == 'absent':
                if nxt:
                    plan['steps'].append('delete_next')
                if plan['raw']:
                    plan['steps'].append('delete')
                plan['action'] = 'deleted' if plan['steps'] else 'absent'
                plans.append(plan)
                continue
            spec = _r2.merge_unmanaged(spec, plan['current'])
            if (entry['expires_on'] or entry['not_before']) and spec['expires_on']:
                # One of the pair was given and the other kept from the token: check them together.
                try:
                    _r2.validate_validity(spec['expires_on'], spec['not_before'])
                except _r2.R2ValueError as exc:
                    raise _r2.R2ValueError('%s: %s' % (label, exc))
            plan['spec'] = spec
            if nxt and held is not None and held == nxt.get('id'):
                # The holder has the new token: finish the rotation (the renaming PUT also applies the spec).
                if plan['raw']:
                    plan['steps'].append('delete')
                plan['steps'].append('finish')
                plan['action'] = 'rotation_finished'
                plans.append(plan)
                continue
            if nxt and not entry['rotate']:
                plan['steps'].append('delete_next')
            if plan['raw'] is None:
                plan['steps'].append('create')
                plan['action'] = 'created'
            else:
                if _r2.comparable_token(plan['current']) != _r2.comparable_token(spec):
                    plan['steps'].append('update')
                lost = held is not None and held != plan['raw'].get('id')
                moved = (entry['fingerprint'] or '') != (entry['held_fingerprint'] or '') and held is not None
                if entry['rotate'] and held is None:
                    # No holder to hand a second token to: roll in place (what was minted from it is minted again).
                    plan['steps'].append('roll')
                    plan['action'] = 'rolled'
                elif entry['rotate']:
                    plan['steps'].append('roll_next' if nxt else 'create_next')
                    plan['action'] = 'rotation_started'
                elif lost or moved:
                    plan['steps'].append('roll')
                    plan['action'] = 'rolled'
                elif 'update' in plan['steps']:
                    plan['action'] = 'updated'
                elif 'delete_next' in plan['steps']:
                    plan['action'] = 'rotation_abandoned'
                else:
                    plan['action'] = 'deduplicated' if plan['duplicates'] else 'unchanged'
            if set(plan['steps']) & set(('create', 'update', 'create_next')) and spec['buckets']:
                self.check_buckets(label, spec['buckets'], 'buckets')
            plans.append(plan)
        return plans

    # -- apply ---------------------------------------------------------------

    def apply_token(self, store, plan):
        """Run the planned steps of one token; returns its result (with the secret when there is a new one).

        A step that fails raises EntryFailed carrying the result so far: a token created or rolled before the
        failure has its new secret only there, and its holder must still get it.
        """
        entry, spec = plan['entry'], plan.get('spec')
        result = {'kind': 'token', 'action': plan['action'], 'changed': bool(plan['steps']),
                  'new_material': False, 'fingerprint': entry['fingerprint'] or ''}
        state = {'raw': plan['raw'], 'value': None}
        try:
            for step in plan['steps'] if not self.check_mode else ():
                self.apply_step(store, plan, step, state)
        except (_r2.R2ValueError, CloudflareError) as exc:
            self.token_result(plan, result, state)
            raise EntryFailed(exc, result if result['new_material'] else None)
        if self.check_mode:
            result['new_material'] = bool(set(plan['steps']) & RENEWING_STEPS)
            if set(plan['steps']) & set(('create', 'delete', 'finish', 'create_next')):
                state['raw'] = None if plan['action'] != 'rotation_finished' else plan['next']
        self.token_result(plan, result, state)
        return result

    def apply_step(self, store, plan, step, state):
        entry, spec = plan['entry'], plan.get('spec')
        if step == 'delete_duplicates':
            for token in plan['duplicates']:
                store.delete(token['id'])
        elif step == 'delete_next':
            store.delete(plan['next']['id'])
        elif step == 'delete':
            store.delete(state['raw']['id'])
            state['raw'] = None
        elif step == 'finish':
            state['raw'] = store.update(plan['next']['id'], spec, plan['next'])
        elif step == 'create':
            state['raw'] = store.create(spec)
            self.last_create = time.monotonic()
            state['value'] = state['raw'].get('value')
            plan['created'] = state['raw']
            if _r2.comparable_token(_r2.decode_token(state['raw'], self.account_id, self.owner)) \
                    != _r2.comparable_token(spec):
                # Only when a timed-out create was adopted: bring it to the spec.
                state['raw'] = store.update(state['raw']['id'], spec, state['raw'])
        elif step == 'update':
            state['raw'] = store.update(state['raw']['id'], spec, state['raw'])
        elif step == 'roll':
            state['value'] = store.roll(state['raw']['id'])
        elif step == 'create_next':
            plan['next'] = store.create(dict(spec, name=entry['name'] + NEXT_SUFFIX))
            self.last_create = time.monotonic()
            plan['created'] = plan['next']
            state['value'] = plan['next'].get('value')
        elif step == 'roll_next':
            state['value'] = store.roll(plan['next']['id'])

    def token_result(self, plan, result, state):
        raw = state['raw']
        # During a rotation the holder is handed the new token; the current one stays as it is.
        effective = plan['next'] if plan['action'] == 'rotation_started' else raw
        result['access_key_id'] = effective['id'] if effective and effective.get('id') else None
        result['token'] = _r2.decode_token(raw, self.account_id, self.owner) if raw else None
        if state['value']:
            result['new_material'] = True
            result.update(_r2.s3_credentials(result['access_key_id'], state['value']))
        plan['effective'] = effective

    def settle_created(self, store, token_plans):
        """After the creates of this run, look once more: a second run that created the same names at the same time
        (another controller, which no local lock covers) left a second token of each.

        Of the tokens of a name, the earliest created (then the lowest id) stays; every run decides the same way,
        so the run whose token it is hands it out and the others delete their own copy before rendering it.
        Returns {name: message} of the entries this run gave up.
        """
        created = [p for p in token_plans if p.get('created') and not p.get('failed')]
        if not created:
            return {}
        # issued_on has a resolution of one second: once the second of the last create is over, a rival stored in
        # the same second is in the listing, and both runs see the same tie and break it by id the same way.
        wait = SETTLE_SECONDS - (time.monotonic() - self.last_create)
        if wait > 0:
            self.client.sleep(wait)
        by_name = {}
        for raw in store.list():
            by_name.setdefault(raw.get('name'), []).append(raw)
        lost = {}
        for plan in created:
            mine = plan['created']
            same = by_name.get(mine.get('name'), [])
            if len(same) < 2:
                continue
            first = min(same, key=lambda t: (_r2.parse_time(t.get('issued_on') or '9999-01-01', 'issued_on'),
                                             t.get('id') or ''))
            if first.get('id') == mine.get('id'):
                continue
            try:
                store.delete(mine['id'])
            except (_r2.R2ValueError, CloudflareError) as exc:
                # still a working token whose secret this run has: handed out; the next run deduplicates
                self.r2.module.warn('%s: another run created a token named %s at the same time (id %s), and this '
                                    'run could not delete its own copy (id %s): %s'
                                    % (plan['label'], _r2.shown(mine.get('name')), first.get('id'), mine.get('id'),
                                       exc))
                continue
            plan['failed'] = True
            self.results.pop(plan['entry']['name'], None)
            lost[plan['entry']['name']] = (
                '%s: another run created a token named %r at the same time (id %s); this run deleted its own copy '
                '(id %s) and leaves the credential to that run. Run again if that run did not finish.'
                % (plan['label'], mine.get('name'), first.get('id'), mine.get('id')))
        return lost

    def plan_temporary(self, entries, scopes, token_plans):
        by_name = dict((p['entry']['name'], p) for p in token_plans)
        plans = []
        for index, (entry, scope) in enumerate(zip(entries, scopes)):
            plans.append({'entry': entry, 'scope': scope, 'label': where('temporary', index, entry),
                          'parent_plan': by_name.get(entry['parent']) if entry['parent'] else None})
        return plans

    def due(self, plan, parent_key):
        """Whether the holder needs new temporary credentials."""
        entry, scope = plan['entry'], plan['scope']
        if entry['force'] or not entry['held_access_key_id']:
            return True
        if entry['held_fingerprint'] != temp_fingerprint(entry, scope, parent_key):
            return True
        expires = scope['held_expires_at']
        return expires is None or expires - self.now <= scope['renew_before']

    def run(self):
        tokens = self.params['tokens'] or []
        temporary = self.params['temporary'] or []
        specs = validate_tokens(tokens)
        scopes = validate_temporary(temporary, tokens, specs)
        self.client = self.r2.client()
        store = _r2.TokenStore(self.client, self.account_id, self.owner)
        listing = store.list() if tokens else []
        token_plans = self.plan_tokens(tokens, specs, listing)
        temp_plans = self.plan_temporary(temporary, scopes, token_plans)
        self.now = time.time()

        # Reads for the writes ahead, before any write: permission groups, buckets, the API token as parent.
        for plan in token_plans:
            if set(plan['steps']) & set(('create', 'update', 'create_next', 'finish')):
                store.permission_group_id(plan['spec']['permission'])
        for plan in temp_plans:
            parent_plan = plan['parent_plan']
            if parent_plan is not None and parent_plan.get('failure'):
                plan['mint'] = True   # reported as failed with its parent
                continue
            if parent_plan is not None:
                # A parent made or rolled in this run invalidates what was minted from its old value.
                renewed = set(parent_plan['steps']) & RENEWING_STEPS
                known = parent_plan['next'] if parent_plan['action'] == 'rotation_finished' else parent_plan['raw']
                plan['mint'] = bool(renewed) or self.due(plan, known['id'])
            elif plan['scope']['parent_access_key_id']:
                plan['mint'] = self.due(plan, plan['scope']['parent_access_key_id'])
            else:
                # The API token as parent: fingerprinted by role, so a converged run needs no verify request.
                plan['mint'] = self.due(plan, API_TOKEN_PARENT)
            if plan['mint']:
                self.check_buckets(plan['label'], [(plan['scope']['jurisdiction'], plan['scope']['bucket'])],
                                   'bucket')
                if parent_plan is None and not self.check_mode:
                    if plan['scope']['parent_access_key_id']:
                        plan['parent_id'] = plan['scope']['parent_access_key_id']
                        parent_raw = _r2.read_parent(self.client, self.account_id, plan['parent_id'],
                                                     '%s: parent_access_key_id' % plan['label'])
                    else:
                        plan['parent_id'], parent_raw = self.api_parent()
                    # Refused here, before any write, when the parent could be read (a parent token of this run
                    # was checked against its spec in validate_temporary).
                    scope = dict(plan['scope'], parent_access_key_id=plan['parent_id'])
                    if parent_raw is not None:
                        allowed, held = _r2.parent_covers(parent_raw, self.account_id, scope['bucket'],
                                                          scope['jurisdiction'], scope['permission'])
                        if allowed is False:
                            raise _r2.R2ValueError('%s: %s' % (plan['label'], _r2.temp_refusal_message(scope, held)))

        self.check_quota(listing, token_plans)

        # Writes. A failure of one entry does not stop the others: each entry's result (new secrets included) is
        # returned, and every failure is reported at the end. A failure that concerns the whole account (the API
        # token refused, rate limited, Cloudflare unreachable) stops the writes that follow it.
        failures = self.failures
        stop = None
        for plan in token_plans:
            name = plan['entry']['name']
            if plan.get('failure') or (stop and plan['steps']):
                # an entry with nothing to write still gets its result after an account-wide failure
                plan['failed'] = True
                failures[name] = plan.get('failure') or '%s: not attempted: %s' % (plan['label'], stop)
                continue
            try:
                self.results[name] = self.apply_token(store, plan)
            except EntryFailed as exc:
                plan['failed'] = True
                failures[name] = '%s: %s' % (plan['label'], exc.error)
                if exc.partial:
                    self.results[name] = dict(exc.partial, failed=True)
                stop = stop or account_wide(exc.error)
        if not self.check_mode and not stop:
            try:
                failures.update(self.settle_created(store, token_plans))
            except (_r2.R2ValueError, CloudflareError) as exc:
                # the tokens made are real and handed out; a twin made by another controller, if any, is resolved
                # by the next run (the holder's key id says which one is in use)
                self.r2.module.warn('could not list the tokens again after creating them, so a token of the same '
                                    'name made by another run at the same time was not looked for: %s' % exc)
        for plan in temp_plans:
            name = plan['entry']['name']
            parent_plan = plan['parent_plan']
            if stop and plan['mint']:
                failures[name] = '%s: not attempted: %s' % (plan['label'], stop)
                continue
            if parent_plan is not None and parent_plan.get('failed') and plan['mint']:
                failures[name] = '%s: parent token %r failed (see its entry)' % (plan['label'], parent_plan['entry']['name'])
                continue
            try:
                self.results[name] = self.apply_temporary(plan)
            except (_r2.R2ValueError, CloudflareError) as exc:
                failures[name] = '%s: %s' % (plan['label'], exc)
                stop = stop or account_wide(exc)
        if failures:
            shown = list(failures.values())
            self.r2.module.fail_json(
                msg='%d of %d entries failed; every other entry was applied and its result (new secrets included) '
                    'is in credentials: %s%s' % (len(failures), len(token_plans) + len(temp_plans),
                                                 '; '.join(shown[:20]),
                                                 ' (and %d more, see failures)' % (len(shown) - 20) if len(shown) > 20 else ''),
                changed=any(r['changed'] for r in self.results.values()) or any(
                    p.get('created') for p in token_plans),
                failures=failures, credentials=self.results, summary=self.summary(),
                api_requests=self.requests_by_method())
        return {
            'changed': any(r['changed'] for r in self.results.values()),
            'credentials': self.results,
            'failures': {},
            'summary': self.summary(),
            'api_requests': self.requests_by_method(),
        }

    def summary(self):
        counts = {}
        for name, result in self.results.items():
            if name not in self.failures:
                counts[result['action']] = counts.get(result['action'], 0) + 1
        if self.failures:
            counts['failed'] = len(self.failures)
        return counts

    def check_quota(self, listing, plans):
        """Fail before any write when the run would take the account (or user) over its token quota."""
        quota = self.params['token_quota'] or QUOTA[self.owner]
        adds = sum(1 for p in plans for step in p['steps'] if step in ('create', 'create_next'))
        removes = sum(1 for p in plans for step in p['steps'] if step in ('delete', 'delete_next')) + sum(
            len(p['duplicates']) for p in plans)
        if adds and len(listing) + adds - removes > quota:
            raise _r2.R2ValueError(
                'token_quota: this run would make %d tokens (%d now, %d to create, %d to delete) and the %s holds '
                'at most %d; a rotation needs a second token per credential while it runs. Rotate in batches '
                '(limit the hosts or the credentials) or delete unused tokens. Nothing was changed.'
                % (len(listing) + adds - removes, len(listing), adds, removes, self.owner, quota))

    def requests_by_method(self):
        counts = {'total': 0}
        for key, count in self.client.stats.items():
            method = key.split(' ', 1)[0]
            counts[method] = counts.get(method, 0) + count
            counts['total'] += count
        return counts

    def apply_temporary(self, plan):
        entry, scope = plan['entry'], plan['scope']
        result = {'kind': 'temporary', 'changed': bool(plan['mint']), 'new_material': bool(plan['mint']),
                  'action': 'minted' if plan['mint'] else 'kept'}
        if not plan['mint']:
            result.update(access_key_id=entry['held_access_key_id'], fingerprint=entry['held_fingerprint'],
                          expiration=entry['held_expiration'])
            return result
        if self.check_mode:
            result.update(access_key_id=None, fingerprint=None, expiration=None)
            return result
        parent_plan = plan['parent_plan']
        if parent_plan is not None:
            plan['parent_id'] = parent_plan['effective']['id']
            parent_key = plan['parent_id']
        else:
            parent_key = scope['parent_access_key_id'] or API_TOKEN_PARENT
        scope = dict(scope, parent_access_key_id=plan['parent_id'])
        # The parent was checked before the first write; Cloudflare's own refusal is still reworded.
        creds = _r2.mint_temporary_credentials(self.client, self.account_id, scope)
        expires = datetime.datetime.fromtimestamp(creds.pop('expires_at'), datetime.timezone.utc)
        result.update(creds, expiration=_r2.format_time(expires),
                      fingerprint=temp_fingerprint(entry, scope, parent_key))
        return result


def main():
    token_options = dict(
        token_argspec(),
        label=dict(type='str'),
        held_access_key_id=dict(type='str', no_log=False),
        fingerprint=dict(type='str'),
        held_fingerprint=dict(type='str'),
    )
    temp_options = dict(
        name=dict(type='str', required=True),
        label=dict(type='str'),
        bucket=dict(type='str', required=True),
        jurisdiction=dict(type='str', default='default', choices=list(_r2.JURISDICTIONS)),
        permission=dict(type='str', default='object_read_only', choices=list(_r2.PERMISSION_GROUP_NAMES)),
        ttl_seconds=dict(type='int', default=3600),
        prefixes=dict(type='list', elements='str'),
        objects=dict(type='list', elements='str'),
        parent=dict(type='str'),
        parent_access_key_id=dict(type='str', no_log=False),
        renew_before=dict(type='int'),
        held_access_key_id=dict(type='str', no_log=False),
        held_expiration=dict(type='str'),
        fingerprint=dict(type='str', default=''),
        held_fingerprint=dict(type='str'),
        force=dict(type='bool', default=False),
    )
    r2 = R2Module(
        argument_spec=dict(
            owner=dict(type='str', default='account', choices=['account', 'user']),
            # no_log=False: the name trips the secret heuristic, but the entries hold no secret
            tokens=dict(type='list', elements='dict', default=[], options=token_options, no_log=False),
            temporary=dict(type='list', elements='dict', default=[], options=temp_options),
            check_buckets=dict(type='bool', default=True),
            token_quota=dict(type='int', no_log=False),
        ),
        supports_check_mode=True,
    )
    r2.run(lambda: Reconciler(r2).run())


if __name__ == '__main__':
    main()
