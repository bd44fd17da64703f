# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""Token hygiene: the findings of one token (``r2_token_info``), and the audit of the tokens an inventory manages
(the ``r2_audit_plan`` and ``r2_audit_report`` filters behind ``playbooks/audit.yml``).

* ``findings(token, now, limits)``: what audit tools (cnspec, prowler) flag on a token, and its dead states.
* ``plan(hosts, targets)``: from the provision role's variables of every inventory host, the accounts (and owners)
  to audit, the token name formats they use and the token names their hosts declare.
* ``report(listings)``: from one ``r2_token_info`` listing per account, the managed tokens with their findings, the
  quota in use, the orphans (managed names no inventory host declares) and the entries that delete them.

Pure functions on plain data. A token name outside every managed name format is never an orphan, whatever it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import string

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _provision, _r2, _text

# In the order a report lists them: dead states first, then what audit tools flag.
FINDINGS = ('revoked_exposed', 'expired', 'disabled', 'expires_soon', 'not_rotated', 'unused', 'no_expiry',
            'no_ip_restriction')
# r2_token_info's defaults: cnspec's "not rotated in 365 days", and 90 days without use.
LIMIT_DEFAULTS = {'not_rotated_after': '365d', 'unused_after': '90d', 'expires_within': '30d'}
# Cloudflare's token quotas (https://developers.cloudflare.com/fundamentals/api/reference/limits/); Enterprise
# accounts can ask for more.
QUOTAS = _r2.TOKEN_QUOTAS
REVOKED_EXPOSED = 'revoked (exposed)'

# The provision role's variables the audit reads from each host (never provision_api_token).
HOST_VARIABLES = ('provision_account_id', 'provision_owner', 'provision_token_name_format', 'provision_credentials',
                  'provision_api_url', 'provision_validate_certs', 'provision_timeout', 'provision_retries',
                  'provision_lock', 'provision_lock_timeout', 'provision_lock_dir')
_CONNECTION = (('provision_api_url', 'api_url'), ('provision_validate_certs', 'validate_certs'),
               ('provision_timeout', 'timeout'), ('provision_retries', 'retries'),
               ('provision_rate_limit', 'rate_limit'), ('provision_rate_window', 'rate_window'),
               ('provision_deadline', 'deadline'))
OWNERS = ('account', 'user')


# -- findings of one token ----------------------------------------------------

def limits(not_rotated_after=None, unused_after=None, expires_within=None):
    """The thresholds in seconds, from durations (``_r2.parse_duration``: seconds or ``90d``); None is the default.
    ``expires_within`` 0 turns ``expires_soon`` off."""
    given = {'not_rotated_after': not_rotated_after, 'unused_after': unused_after, 'expires_within': expires_within}
    out = {}
    for field, value in given.items():
        value = LIMIT_DEFAULTS[field] if value is None else value
        out[field] = _r2.parse_duration(value, field, allow_zero=field == 'expires_within')
        if out[field] is None:
            # an empty string: the default, as an omitted option
            out[field] = _r2.parse_duration(LIMIT_DEFAULTS[field], field)
    return out


def _when(token, field):
    """The token's time ``field`` as an aware datetime, or None when unset (or not a time: nothing to measure)."""
    value = token.get(field)
    if not value:
        return None
    try:
        return _r2.parse_time(value, field)
    except _r2.R2ValueError:
        return None


_UNITS = (('day', 86400), ('hour', 3600), ('minute', 60), ('second', 1))


def span(seconds):
    """A time span for a message, rounded down: its largest whole unit, and the next one below 10 of the largest
    (400 days, 4 days 23 hours, 5 hours, 1 minute 30 seconds)."""
    seconds = int(max(0, seconds))
    for index, (unit, size) in enumerate(_UNITS):
        if seconds >= size or unit == 'second':
            count, rest = divmod(seconds, size)
            text = '%d %s%s' % (count, unit, '' if count == 1 else 's')
            if count < 10 and unit != 'second' and rest >= _UNITS[index + 1][1]:
                smaller, smaller_size = _UNITS[index + 1]
                text += ' %d %s%s' % (rest // smaller_size, smaller, '' if rest // smaller_size == 1 else 's')
            return text


def findings(token, now, limits_seconds):
    """The findings of one decoded token (``_r2.decode_token``) at ``now`` (an aware datetime), each a dict
    ``{code, message}`` in the order of ``FINDINGS``; ``limits_seconds`` as ``limits()`` returns them.

    ``not_rotated`` counts from ``modified_on`` (rolling the value updates it), else ``issued_on``, as cnspec does.
    ``unused``: ``last_used_on`` older than the limit, or never used and issued at least that long ago (a young
    token that has not been used yet is not flagged). A time limit is reached at exactly its length.
    """
    out = []
    status = token.get('status')
    expires = _when(token, 'expires_on')
    if status == REVOKED_EXPOSED:
        out.append(('revoked_exposed', 'revoked by Cloudflare because its value was found exposed (for example in a '
                                       'public repository); it no longer works and cannot be restored: replace it'))
    if status == 'expired' or (expires is not None and expires <= now):
        out.append(('expired', 'its expiry %s has passed' % _r2.format_time(expires) if expires else 'status expired'))
    if status == 'disabled':
        out.append(('disabled', 'Cloudflare refuses it until it is enabled again (status disabled)'))
    within = limits_seconds['expires_within']
    if expires is not None and now < expires and within and (expires - now).total_seconds() <= within:
        out.append(('expires_soon', 'expires on %s, in %s (warned %s ahead)'
                    % (_r2.format_time(expires), span((expires - now).total_seconds()), _r2.format_duration(within))))
    limit = limits_seconds['not_rotated_after']
    field = 'modified_on' if _when(token, 'modified_on') else 'issued_on'
    rotated = _when(token, field)
    if rotated is not None and (now - rotated).total_seconds() >= limit:
        out.append(('not_rotated', 'no new secret for %s (%s %s); the limit is %s'
                    % (span((now - rotated).total_seconds()), field, _r2.format_time(rotated),
                       _r2.format_duration(limit))))
    limit = limits_seconds['unused_after']
    used = _when(token, 'last_used_on')
    issued = _when(token, 'issued_on')
    if used is not None:
        if (now - used).total_seconds() >= limit:
            out.append(('unused', 'last used %s ago (%s); the limit is %s'
                        % (span((now - used).total_seconds()), _r2.format_time(used), _r2.format_duration(limit))))
    elif issued is None:
        out.append(('unused', 'never used (issue date unknown)'))
    elif (now - issued).total_seconds() >= limit:
        out.append(('unused', 'never used since it was issued %s ago (%s); the limit is %s'
                    % (span((now - issued).total_seconds()), _r2.format_time(issued), _r2.format_duration(limit))))
    if expires is None:
        out.append(('no_expiry', 'never expires (expires_on is not set)'))
    if not token.get('ip_allow'):
        denied = len(token.get('ip_deny') or [])
        out.append(('no_ip_restriction', 'no ip_allow list, so it works from any address%s'
                    % (' but the %d range(s) of ip_deny' % denied if denied else '')))
    return [{'code': code, 'message': message} for code, message in out]


# -- managed names -------------------------------------------------------------

def name_pattern(name_format):
    """The fullmatch pattern of the token names a valid ``provision_token_name_format`` makes: its literal parts as
    they are, ``{host}`` any text, ``{name}`` a credential name (``_provision.NAME_RE``); a field that appears twice
    is the same text both times. None for a format the provision role refuses (it makes no names)."""
    if _provision.token_name_format_problem(name_format):
        return None
    parts = []
    seen = set()
    for literal, field, dummy, dummy2 in string.Formatter().parse(name_format):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if field in seen:
            parts.append('(?P=%s)' % field)
        else:
            seen.add(field)
            parts.append('(?P<%s>%s)' % (field, '.+' if field == 'host' else _provision.NAME_RE.pattern))
    return re.compile(''.join(parts), re.DOTALL)


def base_name(name):
    """A rotation's second token ``NAME~next`` belongs to NAME."""
    return name[:-len(_r2.NEXT_SUFFIX)] if name.endswith(_r2.NEXT_SUFFIX) else name


def is_managed(name, patterns):
    """Whether ``name`` is a token name the provision role makes with one of ``patterns`` (or its ``~next``): it
    matches a pattern whole, and is a name r2_credential_set accepts (no control character, room for ``~next``)."""
    if not isinstance(name, str):
        return False
    base = base_name(name)
    try:
        _r2.validate_token_name(base, rotation_room=True)
    except _r2.R2ValueError:
        return False
    return any(pattern.fullmatch(base) for pattern in patterns)


# -- the accounts of an inventory ----------------------------------------------

def _declared(credentials):
    """(present, absent): the names of a host's token credentials, by the state they declare. Lenient on purpose:
    a credential the provision role would refuse still declares its name, so its token is never called an orphan."""
    present, absent = [], []
    for entry in credentials:
        if not isinstance(entry, dict) or not isinstance(entry.get('name'), str):
            continue   # the role never made a token for it
        if entry.get('type', 'token') == 'temporary':
            continue   # no Cloudflare token of its own
        (absent if entry.get('state') == 'absent' else present).append(entry['name'])
    return present, absent


def plan(hosts, targets=None):
    """What to audit, from the provision role's variables of every inventory host.

    ``hosts``: one ``{'host': inventory name, 'vars': {variable: value}}`` per host of the inventory (variables of
    ``HOST_VARIABLES``; unset ones missing or None, taken as the role's defaults). ``targets``: the hosts of the run
    (default all); only their accounts are audited, but every host's credentials count as declared, so that a
    run limited to some hosts never calls another host's token an orphan.

    Returns ``accounts``, one per (owner, account id) of the targets, each with ``account_id``, ``owner``,
    ``formats`` (the name formats of its hosts), ``hosts``, ``declared`` and ``absent`` (token names declared
    present, and only absent), ``connection`` (the connection settings of its first target host, unset ones
    left out; never the API token) with ``host`` (that host), and ``lock`` (the provision run lock of the
    account); and ``problems``: hosts whose declarations cannot be read (a prune is refused while there is one).
    User-owned tokens belong to a user, not to an account: every user-owned host's names count for each of them.
    """
    targets = None if targets is None else set('%s' % t for t in targets)
    groups = {}
    order = []
    problems = []
    for item in hosts or []:
        host = '%s' % item.get('host')
        # the inventory name as messages show it (as _provision does)
        shown_host = _text.printable(host)
        variables = dict((k, v) for k, v in (item.get('vars') or {}).items() if v is not None)
        credentials = variables.get('provision_credentials') or []
        if not isinstance(credentials, list):
            problems.append('%s: provision_credentials: must be a list; the audit cannot tell which tokens it '
                            'declares' % shown_host)
            continue
        present, absent = _declared(credentials)
        account_id = variables.get('provision_account_id') or ''
        if not isinstance(account_id, str) or not _r2.ACCOUNT_ID_RE.fullmatch(account_id):
            if present or absent:
                problems.append('%s: provision_account_id: must be 32 hexadecimal characters; the audit cannot tell '
                                'which account its tokens are in' % shown_host)
            continue
        owner = variables.get('provision_owner') or 'account'
        if owner not in OWNERS:
            problems.append('%s: provision_owner: must be account or user, got %s' % (shown_host, _r2.shown(owner)))
            continue
        name_format = variables.get('provision_token_name_format') or _provision.DEFAULT_SETTINGS['token_name_format']
        problem = _provision.token_name_format_problem(name_format)
        if problem:
            problems.append('%s: %s' % (shown_host, problem))
            continue
        key = (owner, account_id.lower())
        group = groups.get(key)
        if group is None:
            group = groups[key] = {'account_id': account_id.lower(), 'owner': owner, 'formats': [], 'hosts': [],
                                   'present': set(), 'absent': set(), 'settings': None}
            order.append(key)
        if name_format not in group['formats']:
            group['formats'].append(name_format)
        group['hosts'].append(host)
        group['present'].update(name_format.format(host=host, name=n) for n in present)
        group['absent'].update(name_format.format(host=host, name=n) for n in absent)
        if group['settings'] is None and (targets is None or host in targets):
            group['settings'] = dict(variables, host=host)
    user_groups = [groups[k] for k in order if k[0] == 'user']
    accounts = []
    for key in order:
        group = groups[key]
        if group['settings'] is None:
            continue   # none of the run's hosts uses it
        members = user_groups if key[0] == 'user' else [group]
        formats = []
        for member in members:
            formats.extend(f for f in member['formats'] if f not in formats)
        present = set().union(*[m['present'] for m in members])
        absent = set().union(*[m['absent'] for m in members]) - present
        settings = group['settings']
        connection = dict((option, settings[variable]) for variable, option in _CONNECTION if variable in settings)
        accounts.append({
            'account_id': group['account_id'],
            'owner': group['owner'],
            'formats': formats,
            'hosts': sorted(set(h for m in members for h in m['hosts'])),
            'declared': sorted(present),
            'absent': sorted(absent),
            'connection': dict(connection, host=settings['host']),
            'lock': {
                # "false" from an INI inventory is false, as the role's `when: provision_lock | bool` reads it
                'enabled': boolean(settings.get('provision_lock', True), strict=False),
                # the key of roles/provision/tasks/lock.yml: a prune and a provision run of one account take turns
                'key': _provision.lock_key(group['owner'], group['account_id']),
                'timeout': settings.get('provision_lock_timeout', 600),
                'lock_dir': settings.get('provision_lock_dir') or None,
            },
        })
    return {'accounts': accounts, 'problems': problems}


# -- the report ----------------------------------------------------------------

def _account_report(account, listing):
    patterns = [p for p in (name_pattern(f) for f in account['formats']) if p is not None]
    declared = set(account['declared'])
    absent = set(account['absent'])
    tokens = sorted(listing.get('tokens') or [], key=lambda t: ('%s' % t.get('name'), '%s' % t.get('id')))
    managed, orphans, outside = [], [], 0
    for token in tokens:
        name = token.get('name')
        if not is_managed(name, patterns):
            outside += 1
            continue
        base = base_name(name)
        if base in declared:
            state = 'rotation in flight' if base != name else 'declared'
        elif base in absent:
            state = 'declared absent'
        else:
            state = 'orphan'
        entry = {'id': token.get('id'), 'name': name, 'status': token.get('status'), 'state': state,
                 'findings': list(token.get('findings') or [])}
        managed.append(entry)
        if state == 'orphan':
            orphans.append(entry)
    quota = listing.get('quota') or {}
    used = quota.get('used', len(tokens))
    limit = quota.get('limit', QUOTAS.get(account['owner']))
    prune = sorted(set(base_name(t['name']) for t in orphans))
    counts = {}
    for entry in managed:
        for finding in entry['findings']:
            counts[finding['code']] = counts.get(finding['code'], 0) + 1
    return {
        'account_id': account['account_id'],
        'owner': account['owner'],
        'formats': list(account['formats']),
        'connection': dict(account.get('connection') or {}),
        'quota': {'used': used, 'limit': limit},
        'managed': managed,
        'orphans': orphans,
        'outside': outside,
        'finding_counts': counts,
        # r2_credential_set entries: state absent deletes every token of the name and its ~next
        'prune': [{'name': name, 'state': 'absent', 'label': 'orphan %s' % name} for name in prune],
    }


def _lines(account):
    owner = 'account-owned' if account['owner'] == 'account' else 'user-owned'
    quota = account['quota']
    states = {}
    for entry in account['managed']:
        states[entry['state']] = states.get(entry['state'], 0) + 1
    order = ('declared', 'rotation in flight', 'declared absent', 'orphan')
    by_state = ', '.join('%d %s' % (states[s], s) for s in order if s in states)
    lines = [
        'account %s, %s tokens: %s of %s in use' % (account['account_id'], owner, quota['used'], quota['limit']),
        '  name format%s: %s' % ('s' if len(account['formats']) > 1 else '', ', '.join(account['formats'])),
        '  managed tokens: %d (%s); outside the name format, never touched: %d'
        % (len(account['managed']), by_state or 'none', account['outside']),
    ]
    for entry in account['managed']:
        state = entry['state'].upper() if entry['state'] == 'orphan' else entry['state']
        lines.append('  %s (id %s, %s, %s)%s' % (entry['name'], entry['id'], entry['status'], state,
                                                 '' if entry['findings'] else ': no findings'))
        lines.extend('    %s: %s' % (f['code'], f['message']) for f in entry['findings'])
    counts = account['finding_counts']
    lines.append('  findings: %s' % (', '.join('%s %d' % (code, counts[code]) for code in FINDINGS if code in counts)
                                     or 'none'))
    if account['orphans']:
        lines.append('  orphans (no inventory host declares them): %d token(s): %s; prune=true deletes them'
                     % (len(account['orphans']), ', '.join(e['name'] for e in account['orphans'])))
    else:
        lines.append('  orphans (no inventory host declares them): none')
    return lines


def report(listings, problems=None):
    """The audit report from the ``r2_token_info`` results of the plan's accounts (each with its ``item``, the
    account of ``plan()``, as a loop registers them). Returns ``accounts`` (see ``_account_report``), ``orphans``
    (their number), ``prune`` (whether any account has an entry to delete), ``problems`` and ``lines`` (the report
    as text, one string per line)."""
    accounts = []
    lines = []
    for listing in listings or []:
        account = listing.get('item') or {}
        result = _account_report(account, listing)
        accounts.append(result)
        lines.extend(_lines(result))
    problems = list(problems or [])
    if problems:
        lines.append('problems (prune is refused while there are any): %d' % len(problems))
        lines.extend('  %s' % p for p in problems)
    if not accounts:
        lines.append('no account to audit: no host of this run sets provision_account_id')
    return {'accounts': accounts, 'orphans': sum(len(a['orphans']) for a in accounts),
            'prune': any(a['prune'] for a in accounts), 'problems': problems, 'lines': lines}
