# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The one reconcile engine of tokens and temporary credentials (r2_token, r2_credential_set, the provision role).

``plan_token`` is pure: from a token entry, its spec and the tokens the listing holds under its name (and
``NAME~next``), it decides the steps (create, update, roll, rotate, reissue a dead token, delete ...) and the
action reported. ``apply_steps`` runs them through a ``_r2.TokenStore``. ``CredentialSet`` is r2_credential_set:
validate every entry, read what the writes need, plan, apply every entry, settle a race, report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _buckets, _r2, _temporary

NEXT_SUFFIX = _r2.NEXT_SUFFIX
# Cloudflare's token quotas per owner; token_quota overrides.
QUOTA = _r2.TOKEN_QUOTAS
# Steps that give a token a new value: what was minted from its old value stops working.
RENEWING_STEPS = frozenset(('create', 'roll', 'create_next', 'roll_next'))
# Steps that write the token's spec (permission groups and buckets are needed, buckets are checked).
SPEC_STEPS = frozenset(('create', 'update', 'create_next', 'finish'))
# Seconds between the answer to the last create and the listing that looks for a concurrent run's twin
# (settle_created). A token stored in second S was stored before its answer came, so one second after the answer
# the listing reaches Cloudflare after S + 1: every rival stored in the same second S is in it.
SETTLE_SECONDS = 1.0


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


def dead(raw, single):
    """Why a listed token cannot serve its holder any more, or None.

    ``expired`` and ``revoked (exposed)`` (Cloudflare revoked a leaked value) cannot be brought back: a new token
    replaces them. A ``disabled`` token was withdrawn by someone: r2_credential_set (``single`` false) replaces it
    too, with a new secret, rather than trusting the old one again; r2_token enables it when its status asks so.
    """
    status = (raw or {}).get('status')
    if status in _r2.DEAD_STATUSES or (status == 'disabled' and not single):
        return status
    return None


def secret_born(raw, held):
    """When the token's current secret was made, as far as the listing tells (an aware datetime, or None).

    A rotation makes a new token, so with a holder (``held``) the secret is as old as the token (``issued_on``); a
    roll in place for a holder that lost its secret leaves ``issued_on`` as it was, which makes the next scheduled
    rotation come early, never late. Without a holder a rotation rolls in place, which updates ``modified_on``;
    any other edit does too, so an edit can postpone the schedule of a token nobody holds.
    """
    times = [raw.get('issued_on')] if held else [raw.get('issued_on'), raw.get('modified_on')]
    parsed = []
    for value in times:
        try:
            parsed.append(_r2.parse_time(value, 'issued_on'))
        except (_r2.R2ValueError, TypeError):
            continue
    return max(parsed) if parsed else None


def rotation_due_on(entry, raw):
    """When the token is due for its scheduled rotation (``rotate_after`` seconds after its secret was made)."""
    if not entry.get('rotate_after') or raw is None:
        return None
    born = secret_born(raw, entry.get('held_access_key_id'))
    if born is None:
        return datetime.datetime.now(datetime.timezone.utc)   # no date to go by: due now
    return born + datetime.timedelta(seconds=entry['rotate_after'])


# -- the plan (pure) ------------------------------------------------------------------------------------------

def resolve_duplicates(name, found, nexts, held, extra):
    """Pick the token of a name that two tokens share (two runs at once, a lost create, a person).

    The holder's key id says which one is in use: that one stays and the others go (into ``extra``). A C(~next)
    token the holder does not hold is an abandoned rotation, so with no holder match every C(~next) but one goes
    too (the one left is deleted or reused as for a single one). Returns (found, nexts, problem), problem being the
    message when the holder cannot tell which token of the name is in use.
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


def plan_token(entry, spec, found, nexts, account_id, owner, label, single=False, now=None):
    """The steps that bring one token to its entry, and the action they are reported as.

    ``entry`` has the options of a token (name, state, rotate, expires_on, not_before) and what its holder holds
    (held_access_key_id, fingerprint, held_fingerprint; None and '' when there is no holder). ``found`` and
    ``nexts`` are the listed tokens named ``name`` and ``name~next``. ``single`` is r2_token: no holder, so
    several tokens of the name are refused (DuplicateTokenError, before any write) and ``~next`` is not its
    business. ``entry`` may carry a schedule in seconds: ``rotate_after`` (a token whose secret is older is
    rotated as with ``rotate``; ``plan['due_on']`` says when) and ``expire_after`` (new tokens expire that long
    after they are made). Raises R2ValueError for input that only now can be judged (validity kept from the token).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    held = entry.get('held_access_key_id')
    plan = {'entry': entry, 'label': label, 'steps': [], 'duplicates': [], 'dead': None}
    if single:
        if len(found) > 1:
            raise _r2.DuplicateTokenError(entry['name'], found)
        nexts = []
    if entry['state'] == 'absent':
        # every token of the name goes, however many there are
        plan['duplicates'] = found[1:] + nexts[1:]
        found, nexts = found[:1], nexts[:1]
    else:
        found, nexts, problem = resolve_duplicates(entry['name'], found, nexts, held, plan['duplicates'])
        if problem:
            plan.update(action='failed', failure='%s: %s' % (label, problem), raw=None, next=None, current=None)
            return plan
    steps = plan['steps']
    if plan['duplicates']:
        steps.append('delete_duplicates')
    raw = plan['raw'] = found[0] if found else None
    nxt = plan['next'] = nexts[0] if nexts else None
    current = plan['current'] = _r2.decode_token(raw, account_id, owner) if raw else None
    if entry['state'] == 'absent':
        if nxt:
            steps.append('delete_next')
        if raw:
            steps.append('delete')
        plan['action'] = 'deleted' if steps else 'absent'
        return plan

    spec = _r2.merge_unmanaged(spec, current)
    plan['dead'] = dead(raw, single) if spec.get('status') in (None, 'active') else None
    if plan['dead'] and not entry.get('expires_on') and spec['expires_on'] and \
            _r2.parse_time(spec['expires_on'], 'expires_on') <= now:
        # the replacement of an expired token does not inherit the expiry that killed it
        spec['expires_on'] = None
    plan['due_on'] = rotation_due_on(entry, raw)
    rotate = entry['rotate'] or bool(plan['due_on'] and plan['due_on'] <= now)
    if (entry.get('expires_on') or entry.get('not_before')) and spec['expires_on']:
        # One of the pair was given and the other kept from the token: check them together.
        try:
            _r2.validate_validity(spec['expires_on'], spec['not_before'])
        except _r2.R2ValueError as exc:
            raise _r2.R2ValueError('%s: %s' % (label, exc) if not single else str(exc))
    plan['spec'] = spec
    if nxt is not None and dead(nxt, single):
        # a rotation's new token that died before it was taken: start over
        steps.append('delete_next')
        plan['next_deleted'], nxt = nxt, None
    if nxt and held is not None and held == nxt.get('id'):
        # The holder has the new token: finish the rotation (the renaming PUT also applies the spec, with the new
        # token's own expiry when the schedule set one).
        if raw:
            steps.append('delete')
        steps.append('finish')
        plan['action'] = 'rotation_finished'
        if entry.get('expire_after') and not entry.get('expires_on'):
            spec['expires_on'] = _r2.normalize_time(nxt.get('expires_on'), 'expires_on')
        plan['due_on'] = rotation_due_on(entry, nxt)
        return plan
    if nxt and not rotate and 'delete_next' not in steps:
        steps.append('delete_next')
    if raw is None:
        steps.append('create')
        plan['action'] = 'created'
    elif plan['dead']:
        # A token that cannot work again is replaced: same name, new id and secret (what Terraform's provider does
        # since v5.19, reference section 8). Deleted first: it serves nobody, and the quota stays as it was.
        steps.extend(('delete', 'create'))
        plan['action'] = 'reissued'
    else:
        # a dead token is as disabled as it gets: no PUT tries to set that
        status_drift = spec.get('status') and spec['status'] != raw.get('status') and not (
            spec['status'] == 'disabled' and raw.get('status') in _r2.DEAD_STATUSES)
        if _r2.comparable_token(current) != _r2.comparable_token(spec) or status_drift:
            steps.append('update')
        lost = held is not None and held != raw.get('id')
        moved = (entry.get('fingerprint') or '') != (entry.get('held_fingerprint') or '') and held is not None
        if rotate and held is None:
            # No holder to hand a second token to: roll in place (what was minted from it is minted again).
            steps.append('roll')
            plan['action'] = 'rolled'
        elif rotate:
            steps.append('roll_next' if nxt else 'create_next')
            plan['action'] = 'rotation_started'
        elif lost or moved:
            steps.append('roll')
            plan['action'] = 'rolled'
        elif 'update' in steps:
            plan['action'] = 'updated'
        elif 'delete_next' in steps:
            plan['action'] = 'rotation_abandoned'
        else:
            plan['action'] = 'deduplicated' if plan['duplicates'] else 'unchanged'
    plan['next'] = nxt
    if entry.get('expire_after') and set(steps) & set(('create', 'create_next')):
        # a new token expires expire_after from now; the current one keeps its expiry until it is replaced
        plan['new_expires_on'] = _r2.format_time(now + datetime.timedelta(seconds=entry['expire_after']))
    if entry.get('expire_after') and 'roll' in steps:
        # a roll in place makes a new secret too: it gets a whole expire_after, so the next rotation comes first
        spec['expires_on'] = _r2.format_time(now + datetime.timedelta(seconds=entry['expire_after']))
        if 'update' not in steps:
            steps.insert(steps.index('roll'), 'update')
    if entry.get('rotate_after'):
        # due: the schedule started this rotation (a dead token is reissued, not rotated)
        plan['due'] = bool(raw is not None and not plan['dead'] and plan['due_on'] and plan['due_on'] <= now)
        if set(steps) & RENEWING_STEPS:
            # the holder gets a new secret: that one falls due rotate_after from now
            plan['due_on'] = now + datetime.timedelta(seconds=entry['rotate_after'])
    return plan


# -- applying a plan ----------------------------------------------------------------------------------------------

class TokenApplier:
    """Runs the steps of token plans through one store; remembers when it last created a token."""

    def __init__(self, store, check_mode=False):
        self.store = store
        self.check_mode = check_mode
        self.last_create = 0.0

    def apply(self, plan):
        """Run a plan's steps; returns the state after them: ``raw`` (the token of the name) and ``value`` (a new
        token value, or None). In check mode nothing is written and the state is the predicted one.

        A failing step raises with ``plan['state']`` holding the state so far: a token created or rolled before
        the failure has its new value only there, and its holder must still get it.
        """
        state = plan['state'] = {'raw': plan['raw'], 'value': None}
        if self.check_mode:
            if set(plan['steps']) & set(('create', 'delete', 'finish', 'create_next')):
                state['raw'] = None if plan['action'] != 'rotation_finished' else plan['next']
            return state
        for step in plan['steps']:
            self.step(plan, step, state)
        return state

    @staticmethod
    def new_spec(plan):
        """The spec of a token this plan creates (with the scheduled expiry, when there is one)."""
        if plan.get('new_expires_on'):
            return dict(plan['spec'], expires_on=plan['new_expires_on'])
        return plan['spec']

    def step(self, plan, step, state):
        store, spec = self.store, plan.get('spec')
        if step == 'delete_duplicates':
            for token in plan['duplicates']:
                store.delete(token['id'])
        elif step == 'delete_next':
            store.delete((plan.get('next_deleted') or plan['next'])['id'])
        elif step == 'delete':
            store.delete(state['raw']['id'])
            state['raw'] = None
        elif step == 'finish':
            state['raw'] = store.update(plan['next']['id'], spec, plan['next'])
        elif step == 'create':
            spec = self.new_spec(plan)
            state['raw'] = store.create(spec)
            self.last_create = time.monotonic()
            state['value'] = state['raw'].get('value')
            plan['created'] = state['raw']
            if _r2.comparable_token(_r2.decode_token(state['raw'], store.account_id, store.owner)) \
                    != _r2.comparable_token(spec) or (spec.get('status') and
                                                      spec['status'] != state['raw'].get('status')):
                # A timed-out create was adopted, or the token is to be disabled (a create takes no status):
                # bring it to the spec.
                state['raw'] = store.update(state['raw']['id'], spec, state['raw'])
        elif step == 'update':
            state['raw'] = store.update(state['raw']['id'], spec, state['raw'])
        elif step == 'roll':
            state['value'] = store.roll(state['raw']['id'])
        elif step == 'create_next':
            plan['next'] = store.create(dict(self.new_spec(plan), name=plan['entry']['name'] + NEXT_SUFFIX))
            self.last_create = time.monotonic()
            plan['created'] = plan['next']
            state['value'] = plan['next'].get('value')
        elif step == 'roll_next':
            state['value'] = store.roll(plan['next']['id'])


def predicted_token(spec, current, owner):
    """The token a check-mode run would make or leave (no id for a token it would create)."""
    token = dict(current or {'id': None, 'name': spec['name'], 'owner': owner, 'status': 'active',
                             'issued_on': None, 'modified_on': None, 'last_used_on': None})
    token.update(_r2.comparable_token(spec))
    token['all_buckets'] = spec['permission'] in _r2.OBJECT_PERMISSIONS and not spec['buckets']
    if spec.get('status'):
        token['status'] = spec['status']
    return token


# -- r2_token: one token, no holder ---------------------------------------------------------------------------

def diff_view(token):
    if token is None:
        return {}
    view = _r2.comparable_token(token)
    view.update({'name': token.get('name'), 'owner': token.get('owner'), 'status': token.get('status')})
    return view


def reconcile_token(r2):
    """r2_token: bring the one token of O(name) to the options; returns the module result."""
    params = r2.params
    account_id = r2.account_id()
    owner = params['owner']
    spec = _r2.token_spec(params) if params['state'] == 'present' else None
    if spec is None:
        _r2.validate_token_name(params['name'])
    else:
        spec['status'] = params.get('status')
    store = _r2.TokenStore(r2.client(), account_id, owner)
    entry = dict(params, held_access_key_id=None, fingerprint='', held_fingerprint=None)
    plan = plan_token(entry, spec, store.find(params['name']), [], account_id, owner, 'name', single=True)
    current = plan['current']
    checker = _buckets.BucketChecker(store.client, account_id, params.get('check_buckets', True))
    try:
        # every read before the first write: the buckets, the permission groups of the spec
        if set(plan['steps']) & SPEC_STEPS:
            checker.check(plan['spec']['buckets'] or [])
            store.permission_group_ids(plan['spec']['permission'])
    finally:
        for message in checker.take_warnings():
            r2.module.warn(message)
    state = TokenApplier(store, r2.check_mode).apply(plan)
    result = {'changed': bool(plan['steps']), 'action': plan['action']}
    if params['state'] == 'absent':
        result.update(token=current, endpoints={})
        if r2.module._diff:
            result['diff'] = {'before': diff_view(current), 'after': {}}
        return result
    spec = plan['spec']
    if r2.check_mode and 'create' in plan['steps']:
        token = predicted_token(spec, None, owner)
    elif r2.check_mode:
        token = predicted_token(spec, current, owner) if 'update' in plan['steps'] else current
    else:
        token = _r2.decode_token(state['raw'], account_id, owner)
    if state['value']:
        result.update(_r2.s3_credentials(token['id'], state['value']))
        result['token_value'] = state['value']
    else:
        result['access_key_id'] = token['id']
    result['token'] = token
    result['endpoints'] = _r2.endpoints_for(account_id, spec['permission'], spec['buckets'])
    if r2.module._diff:
        result['diff'] = {'before': diff_view(current), 'after': diff_view(token)}
    return result


# -- r2_credential_set: many tokens and temporary credentials, with holders ----------------------------------

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
                entry['rotate_after'], entry['expire_after'] = _r2.validate_schedule(
                    entry.get('rotate_after'), entry.get('expire_after'), entry.get('expires_on'))
                if entry.get('signing_key') and not _r2.S3_SECRET_RE.fullmatch(entry['signing_key']):
                    raise _r2.R2ValueError('signing_key: must be the token\'s Secret Access Key, 64 lowercase '
                                           'hexadecimal characters (the SHA-256 of its value) and nothing else; the '
                                           'value is not shown')
            elif entry['rotate']:
                raise _r2.R2ValueError('rotate: cannot rotate a token with state=absent')
            else:
                for field in ('rotate_after', 'expire_after'):
                    if entry.get(field) not in (None, ''):
                        raise _r2.R2ValueError('%s: only with state=present (a deleted token has no schedule)' % field)
        except _r2.R2ValueError as exc:
            raise _r2.R2ValueError('%s: %s' % (label, exc))
        specs.append(spec)
    return specs


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
            scope = _temporary.scope_from(entry)
            if entry['parent'] and entry['parent_access_key_id']:
                raise _r2.R2ValueError('parent: give parent or parent_access_key_id, not both')
            if entry['parent'] and entry['parent'] not in specs:
                raise _r2.R2ValueError('parent: %s is not a token of this run with state=present'
                                       % _r2.shown(entry['parent']))
            if entry['parent']:
                refusal = _temporary.parent_refusal(scope, entry['parent'], specs[entry['parent']])
                if refusal:
                    raise _r2.R2ValueError(refusal)
            if entry.get('signing') == 'local':
                # signed with the parent's secret, which the run has only for a parent token of its own
                parent = next((t for t in token_entries if t['name'] == entry['parent']), None) if entry['parent'] \
                    else None
                if parent is None or not parent.get('signing_key'):
                    raise _r2.R2ValueError('signing: local needs parent, a token of this run with its '
                                           'signing_key given')
            if entry.get('endpoint_url'):
                entry['endpoint_url'] = _r2.validate_endpoint(entry['endpoint_url'], 'endpoint_url', path=False)
            scope['renew_before'] = _temporary.renew_window(scope, entry['renew_before'])
        except _r2.R2ValueError as exc:
            raise _r2.R2ValueError('%s: %s' % (label, exc))
        scopes.append(scope)
    return scopes


def held_expiry(entry):
    """When the holder's temporary credentials expire (epoch seconds), or None when it has no usable record."""
    if not entry['held_expiration']:
        return None
    try:
        return _r2.parse_time(entry['held_expiration'], 'held_expiration').timestamp()
    except _r2.R2ValueError:
        # A garbled record on the holder is not the user's input error: mint again.
        return None


class CredentialSet:
    """The entries of one account in an r2_credential_set run: every entry validated and every read done before
    the first write; one listing. ``run_credential_sets`` runs one per account."""

    def __init__(self, r2, account_id, tokens, temporary, quota=None):
        self.r2 = r2
        self.params = r2.params
        self.check_mode = r2.check_mode
        self.account_id = account_id
        self.owner = self.params['owner']
        self.tokens = tokens
        self.temporary = temporary
        self.quota = quota
        self.results = {}
        self.failures = {}
        self._api_parent = None
        self.now = None
        # set by run_credential_sets: one client per API token and URL
        self.client = None
        self.buckets = None
        self.applier = None
        self.store = None
        self.listing = []
        self.token_plans = []
        self.temp_plans = []
        self.specs = self.scopes = None
        self.unreadable = None
        # several accounts in the run: a read that fails fails this account's entries, not the run
        self.isolated = False

    # -- reads ---------------------------------------------------------------

    def api_parent(self):
        """The API token as a parent: its id, and the token itself when it may be read."""
        if self._api_parent is None:
            dummy, verified = _r2.verify_token(self.client, self.account_id)
            try:
                parent = _temporary.read_parent(self.client, self.account_id, verified['id'])
            except _r2.R2ValueError:
                parent = None   # the API token exists (it was verified): it just cannot be read back here
            self._api_parent = (verified['id'], parent)
        return self._api_parent

    # -- plan ----------------------------------------------------------------

    def plan_tokens(self, entries, specs, listing):
        by_name = {}
        for raw in listing:
            by_name.setdefault(raw.get('name'), []).append(raw)
        plans = []
        for index, (entry, spec) in enumerate(zip(entries, specs)):
            label = where('tokens', index, entry)
            plan = plan_token(entry, spec, by_name.get(entry['name'], []),
                              by_name.get(entry['name'] + NEXT_SUFFIX, []), self.account_id, self.owner, label,
                              now=datetime.datetime.fromtimestamp(self.now, datetime.timezone.utc))
            if set(plan['steps']) & SPEC_STEPS and plan['spec']['buckets']:
                self.buckets.check(plan['spec']['buckets'], 'buckets', label)
            plans.append(plan)
        return plans

    def plan_temporary(self, entries, scopes, token_plans):
        by_name = dict((p['entry']['name'], p) for p in token_plans)
        plans = []
        for index, (entry, scope) in enumerate(zip(entries, scopes)):
            plans.append({'entry': entry, 'scope': scope, 'label': where('temporary', index, entry),
                          'held': dict(entry, held_expires_at=held_expiry(entry)),
                          'parent_plan': by_name.get(entry['parent']) if entry['parent'] else None})
        return plans

    def due(self, plan, parent_key):
        """Whether the holder needs new temporary credentials."""
        return _temporary.due(plan['held'], plan['scope'], parent_key, self.now, plan['entry']['force'])

    def plan_mints(self, temp_plans):
        """Which temporary credentials are minted, and their parents read and checked, before any write."""
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
                plan['mint'] = self.due(plan, _temporary.API_TOKEN_PARENT)
            if not plan['mint']:
                continue
            self.buckets.check([(plan['scope']['jurisdiction'], plan['scope']['bucket'])], 'bucket', plan['label'])
            if parent_plan is None and not self.check_mode:
                if plan['scope']['parent_access_key_id']:
                    plan['parent_id'] = plan['scope']['parent_access_key_id']
                    parent_raw = _temporary.read_parent(self.client, self.account_id, plan['parent_id'],
                                                        '%s: parent_access_key_id' % plan['label'])
                else:
                    plan['parent_id'], parent_raw = self.api_parent()
                # Refused here, before any write, when the parent could be read (a parent token of this run
                # was checked against its spec in validate_temporary).
                scope = dict(plan['scope'], parent_access_key_id=plan['parent_id'])
                if parent_raw is not None:
                    allowed, held = _temporary.parent_covers(parent_raw, self.account_id, scope['bucket'],
                                                             scope['jurisdiction'], scope['permission'])
                    if allowed is False:
                        raise _r2.R2ValueError('%s: %s' % (plan['label'], _temporary.temp_refusal_message(scope, held)))

    def quota_problem(self):
        """Why this run would take the account (or user) over its token quota, or None: checked for every account
        before the first write anywhere."""
        quota = self.quota if self.quota is not None else (self.params['token_quota'] or QUOTA[self.owner])
        reserve = self.params['token_quota_reserve']
        plans = self.token_plans
        adds = sum(1 for p in plans for step in p['steps'] if step in ('create', 'create_next'))
        removes = sum(1 for p in plans for step in p['steps'] if step in ('delete', 'delete_next')) + sum(
            len(p['duplicates']) for p in plans)
        after = len(self.listing) + adds - removes
        if not adds or after <= quota - reserve:
            return None
        rotating = sum(1 for p in plans if 'create_next' in p['steps'])
        return ('token_quota: account %s: this run needs %d tokens (%d now, %d to create%s, %d to delete) and the '
                '%s may hold %d (quota %d minus token_quota_reserve %d). To fit, share one parent token among many '
                'holders and give each its own temporary credentials (r2_credential_set temporary entries with a '
                'parent; in the provision role, shared: NAME on the credential), rotate in batches, or delete '
                'unused tokens.'
                % (self.account_id, after, len(self.listing), adds,
                   ' (%d of them a rotation\'s second token)' % rotating if rotating else '', removes, self.owner,
                   max(0, quota - reserve), quota, reserve))

    # -- apply ---------------------------------------------------------------

    def apply_token(self, plan):
        """Run the planned steps of one token; returns its result (with the secret when there is a new one).

        A step that fails raises EntryFailed carrying the result so far: a token created or rolled before the
        failure has its new secret only there, and its holder must still get it.
        """
        entry = plan['entry']
        result = {'kind': 'token', 'action': plan['action'], 'changed': bool(plan['steps']),
                  'new_material': False, 'fingerprint': entry['fingerprint'] or ''}
        try:
            state = self.applier.apply(plan)
        except (_r2.R2ValueError, _api.CloudflareError) as exc:
            self.token_result(plan, result, plan['state'])
            raise EntryFailed(exc, result if result['new_material'] else None)
        if self.check_mode:
            result['new_material'] = bool(set(plan['steps']) & RENEWING_STEPS)
        self.token_result(plan, result, state)
        return result

    def token_result(self, plan, result, state):
        raw = state['raw']
        # During a rotation the holder is handed the new token; the current one stays as it is.
        effective = plan['next'] if plan['action'] == 'rotation_started' else raw
        result['access_key_id'] = effective['id'] if effective and effective.get('id') else None
        result['token'] = _r2.decode_token(raw, self.account_id, self.owner) if raw else None
        if state['value']:
            result['new_material'] = True
            result.update(_r2.s3_credentials(result['access_key_id'], state['value']))
        if plan['dead']:
            result['replaced_status'] = plan['dead']
        if plan.get('due_on'):
            result['rotate_due_on'] = _r2.format_time(plan['due_on'])
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
        wait = SETTLE_SECONDS - (time.monotonic() - self.applier.last_create)
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
            except (_r2.R2ValueError, _api.CloudflareError) as exc:
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
            parent_key = scope['parent_access_key_id'] or _temporary.API_TOKEN_PARENT
        scope = dict(scope, parent_access_key_id=plan['parent_id'])
        if entry.get('signing') == 'local':
            creds = self.sign_locally(plan, scope)
        else:
            # The parent was checked before the first write; Cloudflare's own refusal is still reworded.
            creds = _temporary.mint_temporary_credentials(self.client, self.account_id, scope)
        expires = datetime.datetime.fromtimestamp(creds.pop('expires_at'), datetime.timezone.utc)
        result.update(creds, expiration=_r2.format_time(expires),
                      fingerprint=_temporary.fingerprint(entry['fingerprint'], scope, parent_key))
        return result

    def sign_locally(self, plan, scope):
        """Cloudflare's local signing recipe with the parent's secret: no API call. A parent made or rolled in this
        run signs with its new secret (the one given is then stale, and said so once)."""
        parent_plan = plan['parent_plan']
        parent = parent_plan['entry']
        fresh = (self.results.get(parent['name']) or {}).get('secret_access_key')
        if fresh and fresh != parent['signing_key'] and not parent_plan.get('stale_warned'):
            parent_plan['stale_warned'] = True
            self.r2.module.warn('%s: this run gave the token a new secret, so its signing_key is out of date; '
                                'the temporary credentials minted from it were signed with the new one. Store the '
                                'new secret where the play reads it (it is in credentials[%r]).'
                                % (parent_plan['label'], parent['name']))
        endpoint = plan['entry'].get('endpoint_url') or _r2.endpoint_url(self.account_id, scope['jurisdiction'])
        return _temporary.sign_temporary_credentials(
            self.account_id, scope['parent_access_key_id'], fresh or parent['signing_key'], scope['bucket'],
            scope['permission'], scope['ttl_seconds'], endpoint, scope['prefixes'], scope['objects'])

    # -- the run ---------------------------------------------------------------

    def validate(self):
        """Every entry of the account, before any request."""
        self.specs = validate_tokens(self.tokens)
        self.scopes = validate_temporary(self.temporary, self.tokens, self.specs)

    def prepare(self):
        """The reads for the writes ahead (listing, buckets, permission groups, parents) and the plan; no write.

        A Cloudflare error here concerns the whole account (its API token refused, Cloudflare unreachable): every
        entry of the account fails with it and the other accounts go on. Bad input raises R2ValueError."""
        self.buckets = _buckets.BucketChecker(self.client, self.account_id, self.params['check_buckets'])
        self.store = _r2.TokenStore(self.client, self.account_id, self.owner)
        self.applier = TokenApplier(self.store, self.check_mode)
        self.now = time.time()
        try:
            self.listing = self.store.list() if self.tokens else []
            # Reads for the writes ahead, before any write: buckets, permission groups, the API token as parent.
            self.token_plans = self.plan_tokens(self.tokens, self.specs, self.listing)
            self.temp_plans = self.plan_temporary(self.temporary, self.scopes, self.token_plans)
            for plan in self.token_plans:
                if set(plan['steps']) & SPEC_STEPS:
                    self.store.permission_group_ids(plan['spec']['permission'])
            self.plan_mints(self.temp_plans)
        except _api.CloudflareError as exc:
            if not self.isolated:
                raise
            self.unreadable = 'account %s: not attempted: %s' % (self.account_id, exc)
        finally:
            for message in self.buckets.take_warnings():
                self.r2.module.warn(message)

    def apply(self):
        """The writes. A failure of one entry does not stop the others: each entry's result (new secrets included)
        is returned, and every failure is reported at the end. A failure that concerns the whole account (the API
        token refused, rate limited, Cloudflare unreachable) stops the writes that follow it."""
        failures = self.failures
        if self.unreadable:
            for index, entry in enumerate(self.tokens):
                failures[entry['name']] = '%s: %s' % (where('tokens', index, entry), self.unreadable)
            for index, entry in enumerate(self.temporary):
                failures[entry['name']] = '%s: %s' % (where('temporary', index, entry), self.unreadable)
            return
        token_plans, temp_plans, store = self.token_plans, self.temp_plans, self.store
        stop = None
        for plan in token_plans:
            name = plan['entry']['name']
            if plan.get('failure') or (stop and plan['steps']):
                # an entry with nothing to write still gets its result after an account-wide failure
                plan['failed'] = True
                failures[name] = plan.get('failure') or '%s: not attempted: %s' % (plan['label'], stop)
                continue
            try:
                self.results[name] = self.apply_token(plan)
            except EntryFailed as exc:
                plan['failed'] = True
                failures[name] = '%s: %s' % (plan['label'], exc.error)
                if exc.partial:
                    self.results[name] = dict(exc.partial, failed=True)
                stop = stop or account_wide(exc.error)
        if not self.check_mode and not stop:
            try:
                failures.update(self.settle_created(store, token_plans))
            except (_r2.R2ValueError, _api.CloudflareError) as exc:
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
            except (_r2.R2ValueError, _api.CloudflareError) as exc:
                failures[name] = '%s: %s' % (plan['label'], exc)
                stop = stop or account_wide(exc)

    def entry_count(self):
        return len(self.tokens) + len(self.temporary)

    def schedule_parts(self):
        """The tokens whose scheduled rotation this run started (or would, in check mode), and when the next one
        falls due (a datetime, or None)."""
        if self.now is None:
            return [], []
        now = datetime.datetime.fromtimestamp(self.now, datetime.timezone.utc)
        due = [p['entry']['name'] for p in self.token_plans if p.get('due')]
        later = [p['due_on'] for p in self.token_plans if p.get('due_on') and p['due_on'] > now and not p.get('failed')]
        return due, later

    def summary(self):
        counts = {}
        for name, result in self.results.items():
            if name not in self.failures:
                counts[result['action']] = counts.get(result['action'], 0) + 1
        if self.failures:
            counts['failed'] = len(self.failures)
        return counts

    def requests_by_method(self, shared_client=False):
        """This account's requests; of a client that serves other accounts too, those under its own path."""
        return requests_by_method([self.client], '/accounts/%s/' % self.account_id if shared_client else None)


def requests_by_method(clients, path_part=None):
    counts = {'total': 0}
    for client in clients:
        for key, count in client.stats.items():
            method, path = key.split(' ', 1)
            if path_part and path_part not in path:
                continue
            counts[method] = counts.get(method, 0) + count
            counts['total'] += count
    return counts


def account_groups(r2):
    """The entries of the run by account, in the order the accounts first appear, and each account's options.

    An entry names its account with ``account_id`` (default: the module's); ``accounts`` gives an account its own
    API token and quota. Entry names are unique across the run (results are keyed by them)."""
    params = r2.params
    default = r2.account_id()
    options = {}
    for index, acct in enumerate(params.get('accounts') or []):
        account_id = _r2.validate_account_id(acct.get('account_id'), 'accounts[%d].account_id' % index).lower()
        if account_id in options:
            raise _r2.R2ValueError('accounts[%d].account_id: %s is listed twice' % (index, account_id))
        if acct.get('token_quota') is not None and acct['token_quota'] < 1:
            raise _r2.R2ValueError('accounts[%d].token_quota: must be 1 or more' % index)
        options[account_id] = acct
    groups = {}
    for kind in ('tokens', 'temporary'):
        for index, entry in enumerate(params[kind] or []):
            account_id = default.lower()
            if entry.get('account_id'):
                try:
                    account_id = _r2.validate_account_id(entry['account_id']).lower()
                except _r2.R2ValueError as exc:
                    raise _r2.R2ValueError('%s: %s' % (where(kind, index, entry), exc))
            groups.setdefault(account_id, {'tokens': [], 'temporary': []})[kind].append(entry)
    if not groups:
        groups[default.lower()] = {'tokens': [], 'temporary': []}
    names = {}
    for account_id, group in groups.items():
        for kind in ('tokens', 'temporary'):
            for entry in group[kind]:
                other = names.setdefault(entry['name'], account_id)
                if other != account_id:
                    raise _r2.R2ValueError('%s: name: %s is also the name of an entry of account %s; names are unique '
                                           'across the accounts of a run' % (kind, _r2.shown(entry['name']), other))
    return groups, options


def run_credential_sets(r2):
    """r2_credential_set: one CredentialSet per account. Every account is validated, read and planned, and every
    account's quota checked, before the first write anywhere; then each account is applied. A failure in one
    account leaves the others' results applied and reported."""
    groups, options = account_groups(r2)
    clients = {}
    sets = []
    for account_id, group in groups.items():
        acct = options.get(account_id, {})
        sets.append((CredentialSet(r2, account_id, group['tokens'], group['temporary'],
                                   quota=acct.get('token_quota')), acct))
    for cset, dummy in sets:
        cset.validate()
    for cset, acct in sets:
        # one client (and one request pacer) per API token and URL: Cloudflare's rate limit counts per token
        key = (acct.get('api_token') or r2.params.get('api_token'), acct.get('api_url') or r2.params.get('api_url'))
        if key not in clients:
            clients[key] = _account_client(r2, cset.account_id, acct)
        cset.client = clients[key]
    for cset, dummy in sets:
        cset.isolated = len(sets) > 1
        cset.prepare()
    problems = [p for p in (cset.quota_problem() for cset, dummy in sets if not cset.unreadable) if p]
    if problems:
        raise _r2.R2ValueError('%s Nothing was changed in any account.' % ' '.join(problems))
    for cset, dummy in sets:
        cset.apply()
    results, failures, due, later, accounts = {}, {}, [], [], {}
    for cset, dummy in sets:
        results.update(cset.results)
        failures.update(cset.failures)
        d, l = cset.schedule_parts()
        due.extend(d)
        later.extend(l)
        shared_client = sum(1 for other, dummy2 in sets if other.client is cset.client) > 1
        accounts[cset.account_id] = {'summary': cset.summary(), 'api_requests': cset.requests_by_method(shared_client),
                                     'entries': cset.entry_count()}
    summary = {}
    for cset, dummy in sets:
        for action, count in cset.summary().items():
            summary[action] = summary.get(action, 0) + count
    schedule = {'due': sorted(due), 'next_due_on': _r2.format_time(min(later)) if later else None}
    api_requests = requests_by_method(list(clients.values()))
    total = sum(cset.entry_count() for cset, dummy in sets)
    changed = any(r['changed'] for r in results.values())
    if failures:
        shown = list(failures.values())
        r2.module.fail_json(
            msg='%d of %d entries failed; every other entry was applied and its result (new secrets included) '
                'is in credentials: %s%s' % (len(failures), total, '; '.join(shown[:20]),
                                             ' (and %d more, see failures)' % (len(shown) - 20) if len(shown) > 20 else ''),
            changed=changed or any(p.get('created') for cset, dummy in sets for p in cset.token_plans),
            failures=failures, credentials=results, summary=summary, schedule=schedule, api_requests=api_requests,
            accounts=accounts, api_pacing=r2.pacing())
    return {'changed': changed, 'credentials': results, 'failures': {}, 'summary': summary, 'schedule': schedule,
            'api_requests': api_requests, 'accounts': accounts, 'api_pacing': r2.pacing()}


def _account_client(r2, account_id, acct):
    """The client of an account's API token and URL, with the module's other connection options."""
    if not acct.get('api_token') and not acct.get('api_url'):
        return r2.client()
    options = dict(r2.params)
    try:
        if acct.get('api_token'):
            options['api_token'] = _api.check_api_token(acct['api_token'], 'accounts[%s].api_token' % account_id)
        if acct.get('api_url'):
            options['api_url'] = _r2.validate_endpoint(acct['api_url'], 'accounts[%s].api_url' % account_id)
        return r2.new_client(options)
    except _api.CloudflareInputError as exc:
        raise _r2.R2ValueError(str(exc))
