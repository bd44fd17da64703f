# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""Fleet provisioning model behind the ``provision`` role (its ``r2_provision_inspect`` and ``r2_provision_render``
actions, and the ``r2_provision_*`` filters).

A host declares credentials; this turns them into

* a validated, normalised plan per host (errors name the host, the entry and the field),
* the users and profiles to look at on the host (one ``r2_client_files_info`` run; no secret leaves the host),
  and, from what it reports, the files (``_client_files``, the one layout) and what the host holds,
* ``r2_credential_set`` entries carrying what the host holds, so that one reconcile run for the whole
  fleet hands out new secrets exactly where they are needed,
* and, from the reconcile result, each host's part of it, its ``r2_client_files`` runs (one per user), the
  ``r2_s3_check`` checks of every file written, and the reloads of what uses the credentials that changed
  (``r2_reload`` commands, the ``r2 credentials changed`` handler topic), with the reload mark that keeps a copy
  from counting as in use until its commands succeeded.

Pure functions on plain data, so that the role stays thin and this stays unit-testable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import posixpath
import re
import string

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _r2, _temporary, _text

KINDS = ('token', 'temporary')
STATES = ('present', 'absent')
ADDRESSING = ('path', 'virtual', 'auto')
# whole strings only (fullmatch)
NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}')
USER_RE = re.compile(r'[a-z_][a-z0-9_.-]{0,31}\$?')
# the fields of provision_token_name_format
NAME_FORMAT_FIELDS = ('host', 'name')
PLACEHOLDER = 'CHECK-MODE-PLACEHOLDER'
CHECK_KEY = 'r2-credentials-check'

# Reloads: what uses a credential, told when the host's copy changes.
HANDLER_TOPIC = 'r2 credentials changed'
RELOAD_FIELDS = ('name', 'command', 'run_as', 'timeout', 'handler')
RUN_AS = ('root', 'user')
RELOADS_MAX = 10          # per credential (the collection's cap)
ARGV_MAX = 64
ARG_MAX = 4096
RELOAD_TIMEOUT = 60
RELOAD_TIMEOUT_MAX = 3600
RELOAD_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9 ._:@+-]{0,63}')
PROGRAM_NAME_RE = re.compile(r'[A-Za-z0-9._+-]{1,255}')
PROGRAM_PATH_RE = re.compile(r'(/[A-Za-z0-9._+@-]+)+')
# the S3 codes of a credential that is refused as such (not a permission): a written copy that gets one is lost
CREDENTIAL_REFUSED = ('InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'Unauthorized')

FIELDS = {
    'common': ('name', 'type', 'state', 'permission', 'jurisdiction', 'user', 'profile', 'endpoint_override',
               'addressing_style', 'rclone', 's3cmd', 'env_file', 'render', 'check', 'reload'),
    'token': ('buckets', 'ip_allow', 'ip_deny', 'expires_on', 'not_before', 'rotate_after', 'expire_after'),
    'temporary': ('bucket', 'ttl_seconds', 'renew_before', 'prefixes', 'objects', 'parent', 'shared'),
}
# A shared parent token (provision_shared_tokens): made once on the controller, never written on a host; the hosts
# that name it get temporary credentials of their own minted from it.
SHARED_FIELDS = ('permission', 'jurisdiction', 'buckets', 'ip_allow', 'ip_deny', 'rotate_after', 'state')
# the field of provision_shared_token_name_format
SHARED_FORMAT_FIELDS = ('name',)
# the one placeholder of a temporary credential's prefixes and objects: the inventory hostname
HOST_PLACEHOLDER = '{host}'

DEFAULT_SETTINGS = {
    'account_id': None,
    'user': None,
    'token_name_format': 'ansible:{host}/{name}',
    'jurisdiction': 'default',
    'endpoint_overrides': {},
    'addressing_style': 'path',
    'rclone': True,
    's3cmd': False,
    'env_file': False,
    'check': True,
    'ttl_seconds': 3600,
    'renew_before': None,
    'render_root': '',
    'state': None,        # 'absent' turns every credential absent (revocation)
    'rotate': False,      # rotate every credential (or those named in 'rotate_only')
    'rotate_only': [],
    'reload': [],         # the reloads of a credential that names none (provision_reload)
    'rotate_after': None,  # rotation schedule of the token credentials (provision_rotate_after)
    'expire_after': None,
    'shared_tokens': {},   # provision_shared_tokens: NAME -> the shared parent token's definition
    'shared_token_name_format': 'ansible:shared/{name}',
}


class ProvisionError(ValueError):
    pass


def token_name_format_problem(value, option='provision_token_name_format', allowed=NAME_FORMAT_FIELDS):
    """Why ``provision_token_name_format`` (or ``provision_shared_token_name_format``, whose one field is
    ``{name}``) cannot make token names, or None.

    A string whose only fields are ``{host}`` and ``{name}``, both of them (each token must be unique to its host
    and credential), with no conversion or format spec; ``{{`` and ``}}`` are literal braces.
    """
    if allowed == NAME_FORMAT_FIELDS:
        rule = ('%s: must be a string whose fields are {host} (the inventory hostname) and {name} (the credential '
                'name), both, and no other (for example "ansible:{host}/{name}"; a literal brace is written {{ or '
                '}})' % option)
    else:
        rule = ('%s: must be a string whose one field is {name} (the shared token\'s name), and no other (for '
                'example "ansible:shared/{name}"; a literal brace is written {{ or }})' % option)
    if not isinstance(value, str):
        return '%s; got %s' % (rule, _r2.shown(value))
    if _text.has_control(value):
        return '%s: must not contain %s' % (option, _r2.CONTROL_RULE)
    try:
        fields = [(field, spec, conversion) for dummy, field, spec, conversion in string.Formatter().parse(value)
                  if field is not None]
    except ValueError:
        return '%s; it has a single { or }' % rule
    for field, spec, conversion in fields:
        if field not in allowed:
            return '%s; it has the field {%s}' % (rule, _r2.shown(field, quote=False))
        if spec or conversion:
            return '%s; {%s} has a conversion or format spec' % (rule, field)
    missing = [f for f in allowed if f not in set(f for f, dummy, dummy2 in fields)]
    if missing:
        return '%s; {%s} is missing' % (rule, missing[0])
    return None


def _program_problem(program):
    if not isinstance(program, str) or _text.has_control(program):
        return 'must be a string without %s' % _r2.CONTROL_RULE
    if '/' in program:
        if not PROGRAM_PATH_RE.fullmatch(program) or '/../' in program + '/' or '/./' in program + '/':
            return 'an absolute path (letters, digits, ".", "_", "+", "@", "-"; no "." or ".." folder)'
        return None
    if not PROGRAM_NAME_RE.fullmatch(program) or program in ('.', '..'):
        return 'a program name (found in the system folders of PATH) or an absolute path'
    return None


def normalize_reloads(value, where):
    """Validate the reloads of a credential (or ``provision_reload``); returns (reloads, errors).

    Each reload is either a command (``command``: the program and its arguments, no shell; ``run_as``: ``root``,
    the default, or ``user``, the credential's user; ``timeout`` in seconds) or ``handler: true`` (notify the
    ``r2 credentials changed`` topic). ``name`` names it in messages (default: the program's name, or ``handler``).
    """
    errors, out = [], []
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], ['%s: must be a list of reloads (each a dict with command or handler)' % where]
    if len(value) > RELOADS_MAX:
        return [], ['%s: at most %d reloads per credential (the collection\'s cap), got %d'
                    % (where, RELOADS_MAX, len(value))]
    for index, item in enumerate(value):
        here = '%s[%d]' % (where, index)
        if not isinstance(item, dict):
            errors.append('%s: must be a dict with command or handler' % here)
            continue
        unknown = sorted(_r2.shown(k, quote=False) for k in item if k not in RELOAD_FIELDS)
        if unknown:
            errors.append('%s: unknown field(s) %s (known: %s)' % (here, ', '.join(unknown), ', '.join(RELOAD_FIELDS)))
            continue
        handler = item.get('handler', False)
        command = item.get('command')
        if not _is_bool(handler):
            errors.append('%s: handler: must be a boolean' % here)
            continue
        if bool(handler) == (command is not None):
            errors.append('%s: one of command (a list: the program and its arguments) or handler: true, not both'
                          % here)
            continue
        reload = {'handler': bool(handler), 'command': None, 'run_as': None, 'timeout': None}
        if handler:
            extra = [f for f in ('run_as', 'timeout') if f in item]
            if extra:
                errors.append('%s: %s: only with command' % (here, extra[0]))
                continue
            default_name = 'handler'
        else:
            if not isinstance(command, list) or not command or len(command) > ARGV_MAX:
                errors.append('%s: command: must be a list of 1 to %d strings, the program and its arguments (no '
                              'shell)' % (here, ARGV_MAX))
                continue
            bad = [i for i, a in enumerate(command)
                   if not isinstance(a, str) or not a or len(a) > ARG_MAX or _text.has_control(a)]
            if bad:
                errors.append('%s: command[%d]: must be a non-empty string of at most %d characters without %s'
                              % (here, bad[0], ARG_MAX, _r2.CONTROL_RULE))
                continue
            problem = _program_problem(command[0])
            if problem:
                errors.append('%s: command[0]: %s' % (here, problem))
                continue
            run_as = item.get('run_as', 'root')
            if run_as not in RUN_AS:
                errors.append('%s: run_as: must be root or user (the credential\'s user)' % here)
                continue
            timeout = item.get('timeout', RELOAD_TIMEOUT)
            if _is_bool(timeout) or not isinstance(timeout, int) or not 0 < timeout <= RELOAD_TIMEOUT_MAX:
                errors.append('%s: timeout: must be an integer from 1 to %d (seconds)' % (here, RELOAD_TIMEOUT_MAX))
                continue
            reload.update(command=list(command), run_as=run_as, timeout=timeout)
            default_name = posixpath.basename(command[0])[:64] or 'command'
        name = item.get('name', default_name)
        if not isinstance(name, str) or not RELOAD_NAME_RE.fullmatch(name):
            errors.append('%s: name: 1 to 64 letters, digits, blanks, ".", "_", ":", "@", "+" or "-", starting with a '
                          'letter or digit' % here)
            continue
        reload['name'] = name
        out.append(reload)
    return out, errors


def settings_with_defaults(settings):
    merged = dict(DEFAULT_SETTINGS)
    merged.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    return merged


def _is_bool(value):
    return isinstance(value, bool)


def _buckets(entry, jurisdiction, where, errors):
    """Token buckets as (jurisdiction, name), all in the credential's jurisdiction."""
    try:
        buckets = _r2.normalize_buckets(entry.get('buckets'), jurisdiction, 'buckets')
    except _r2.R2ValueError as exc:
        errors.append('%s: %s' % (where, exc))
        return []
    other = sorted(set(j for j, n in buckets if j != jurisdiction))
    if other:
        errors.append('%s: buckets: every bucket must be in the credential\'s jurisdiction %r (found %s): one profile '
                      'reaches one endpoint; declare one credential per jurisdiction'
                      % (where, jurisdiction, ', '.join(other)))
    return buckets


def normalize_shared(name, settings):
    """The definition of the shared parent token ``name`` (``provision_shared_tokens``): (definition, errors).

    The definition is what every host that names it must agree on; its ``entry`` is the token's
    ``r2_credential_set`` entry (no holder: the token is never written on a host, and a rotation rolls it in place,
    so that every temporary credential minted from it is minted again)."""
    where = 'provision_shared_tokens.%s' % name
    defs = settings['shared_tokens'] or {}
    if not isinstance(defs, dict):
        return None, ['provision_shared_tokens: must be a dict of shared token name to its definition']
    raw = defs.get(name)
    if not isinstance(raw, dict):
        return None, ['shared: %r is not defined in provision_shared_tokens (a dict of name to permission, '
                      'jurisdiction, buckets ...)' % name]
    errors = []
    unknown = sorted(_r2.shown(k, quote=False) for k in raw if k not in SHARED_FIELDS)
    if unknown:
        return None, ['%s: unknown field(s) %s (known: %s)' % (where, ', '.join(unknown), ', '.join(SHARED_FIELDS))]
    state = raw.get('state', 'present')
    if state not in STATES:
        return None, ['%s: state: must be present or absent' % where]
    jurisdiction = raw.get('jurisdiction', settings['jurisdiction'])
    try:
        _r2.validate_jurisdiction(jurisdiction)
    except _r2.R2ValueError as exc:
        return None, ['%s: %s' % (where, exc)]
    permission = raw.get('permission')
    if state == 'present' and permission not in _r2.PERMISSIONS:
        return None, ['%s: permission: %s one of %s' % (where, 'required,' if permission is None else 'must be',
                                                        ', '.join(_r2.PERMISSIONS[::-1]))]
    format_problem = token_name_format_problem(settings['shared_token_name_format'],
                                               'provision_shared_token_name_format', SHARED_FORMAT_FIELDS)
    if format_problem:
        return None, [format_problem]
    key = settings['shared_token_name_format'].format(name=name)
    shared = {'name': name, 'key': key, 'state': state, 'permission': permission, 'jurisdiction': jurisdiction}
    try:
        _r2.validate_token_name(key, 'token name', rotation_room=True)
        shared['buckets'] = _r2.normalize_buckets(raw.get('buckets'), jurisdiction, 'buckets')
        if permission in _r2.ADMIN_PERMISSIONS and shared['buckets']:
            raise _r2.R2ValueError('buckets: must be empty with permission %s (admin permissions cover every '
                                   'bucket)' % permission)
        for field in ('ip_allow', 'ip_deny'):
            shared[field] = None if raw.get(field) is None else _r2.normalize_cidrs(raw[field], field)
        shared['rotate_after'], dummy = _r2.validate_schedule(raw.get('rotate_after'), None, None)
    except _r2.R2ValueError as exc:
        errors.append('%s: %s' % (where, exc))
        return None, errors
    return shared, errors


def shared_entry(shared, rotate=False):
    """The ``r2_credential_set`` token entry of a shared parent token."""
    entry = {'name': shared['key'], 'label': 'shared token %s' % shared['name'], 'state': shared['state']}
    if shared['state'] == 'present':
        entry.update(permission=shared['permission'], jurisdiction=shared['jurisdiction'],
                     buckets=[{'name': n, 'jurisdiction': j} for j, n in shared['buckets']],
                     ip_allow=shared['ip_allow'], ip_deny=shared['ip_deny'], rotate=bool(rotate),
                     rotate_after=shared['rotate_after'], held_access_key_id=None, fingerprint='',
                     held_fingerprint=None)
    return entry


def with_host(values, hostname):
    """Prefixes and objects with ``{host}`` replaced by the inventory hostname (other text is left to the path
    rules, which refuse control characters)."""
    if not isinstance(values, list):
        return values
    return [v.replace(HOST_PLACEHOLDER, '%s' % (hostname,)) if isinstance(v, str) else v for v in values]


def normalize_host(hostname, credentials, settings):
    """Validate and normalise one host's credentials; returns {'errors', 'credentials', 'users'}."""
    settings = settings_with_defaults(settings)
    # the inventory name as messages show it: a control character in it would reach every terminal and log
    shown_host = _text.printable('%s' % (hostname,))
    errors = []
    out = []
    prefix = '%s: provision_credentials' % shown_host
    root = settings['render_root']
    if root and (not isinstance(root, str) or not root.startswith('/') or _text.has_control(root)):
        return {'errors': ['%s: provision_render_root: must be empty or an absolute path without %s'
                           % (shown_host, _r2.CONTROL_RULE)], 'credentials': [], 'users': []}
    if credentials is None:
        credentials = []
    if not isinstance(credentials, list):
        return {'errors': ['%s: must be a list of credentials' % prefix], 'credentials': [], 'users': []}
    if len(credentials) > _r2.HOST_CREDENTIALS_MAX:
        return {'errors': ['%s: at most %d credentials per host (the collection\'s cap), got %d'
                           % (prefix, _r2.HOST_CREDENTIALS_MAX, len(credentials))], 'credentials': [], 'users': []}
    try:
        _r2.validate_account_id(settings['account_id'], 'provision_account_id')
    except _r2.R2ValueError as exc:
        errors.append('%s: %s' % (shown_host, exc))
    # checked once for the host: one message, and no token name made from it
    name_format = settings['token_name_format']
    format_problem = token_name_format_problem(name_format)
    if format_problem:
        errors.append('%s: %s' % (shown_host, format_problem))
    overrides = settings['endpoint_overrides'] or {}
    if not isinstance(overrides, dict):
        errors.append('%s: provision_endpoint_overrides: must be a dict of jurisdiction to URL' % shown_host)
        overrides = {}
    for jurisdiction, url in overrides.items():
        try:
            _r2.validate_jurisdiction(jurisdiction, 'provision_endpoint_overrides')
        except _r2.R2ValueError as exc:
            errors.append('%s: %s' % (shown_host, exc))
        else:
            try:
                _r2.validate_endpoint(url, 'provision_endpoint_overrides.%s' % jurisdiction, path=False)
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (shown_host, exc))
    default_reloads, reload_errors = normalize_reloads(settings['reload'], '%s: provision_reload' % shown_host)
    errors.extend(reload_errors)
    names = {}
    for index, entry in enumerate(credentials):
        where = '%s[%d]' % (prefix, index)
        if not isinstance(entry, dict):
            errors.append('%s: must be a dict' % where)
            continue
        name = entry.get('name')
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            errors.append('%s: name: required, 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or '
                          'digit' % where)
            continue
        where = '%s[%d] (%s)' % (prefix, index, name)
        if name in names:
            errors.append('%s: name: used by another credential of this host' % where)
            continue
        kind = entry.get('type', 'temporary' if 'shared' in entry else 'token')
        if kind not in KINDS:
            errors.append('%s: type: must be token or temporary' % where)
            continue
        known = FIELDS['common'] + FIELDS[kind]
        # field names are the user's text (a YAML key may also be a number): shown, never echoed raw
        unknown = sorted(_r2.shown(k, quote=False) for k in entry if k not in known)
        if unknown:
            errors.append('%s: unknown field(s) %s for type %s (known: %s)'
                          % (where, ', '.join(unknown), kind, ', '.join(sorted(known))))
            continue
        state = settings['state'] or entry.get('state', 'present')
        if state not in STATES:
            errors.append('%s: state: must be present or absent' % where)
            continue
        shared = None
        if entry.get('shared') is not None:
            if not isinstance(entry['shared'], str) or not NAME_RE.fullmatch(entry['shared']):
                errors.append('%s: shared: the name of a shared token of provision_shared_tokens, 1 to 64 letters, '
                              'digits, ".", "_" or "-"' % where)
                continue
            if entry.get('parent') is not None:
                errors.append('%s: parent: give parent or shared, not both' % where)
                continue
            shared, shared_errors = normalize_shared(entry['shared'], settings)
            if shared_errors:
                errors.extend('%s: %s' % (where, e) for e in shared_errors)
                continue
            if shared['state'] == 'absent' and state == 'present':
                errors.append('%s: shared: provision_shared_tokens.%s has state absent (its token is deleted); '
                              'remove this credential or set its state absent too' % (where, entry['shared']))
                continue
        jurisdiction = entry.get('jurisdiction', shared['jurisdiction'] if shared else settings['jurisdiction'])
        try:
            _r2.validate_jurisdiction(jurisdiction)
        except _r2.R2ValueError as exc:
            errors.append('%s: %s' % (where, exc))
            continue
        permission = entry.get('permission', shared['permission'] if shared else (
            'object_read_only' if kind == 'temporary' else None))
        if state == 'present' and permission not in _r2.PERMISSIONS:
            errors.append('%s: permission: %s one of %s' % (
                where, 'required,' if permission is None else 'must be', ', '.join(_r2.PERMISSIONS[::-1])))
            continue
        user = entry.get('user', settings['user'])
        if not isinstance(user, str) or not USER_RE.fullmatch(user):
            errors.append('%s: user: required (here or as provision_user), a unix user name' % where)
            continue
        flags = {}
        for flag in ('rclone', 's3cmd', 'env_file', 'render', 'check'):
            value = entry.get(flag, settings.get(flag, True))
            if not _is_bool(value):
                errors.append('%s: %s: must be a boolean' % (where, flag))
            flags[flag] = bool(value)
        addressing = entry.get('addressing_style', settings['addressing_style'])
        if addressing not in ADDRESSING:
            errors.append('%s: addressing_style: must be path, virtual or auto' % where)
        endpoint = entry.get('endpoint_override')
        if endpoint is not None:
            try:
                _r2.validate_endpoint(endpoint, 'endpoint_override', path=False)
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (where, exc))
                endpoint = None
        if endpoint is None and overrides:
            if jurisdiction not in overrides:
                errors.append('%s: jurisdiction: %r has no endpoint in provision_endpoint_overrides (this host reaches '
                              'R2 only through the overrides: add one, or set endpoint_override)'
                              % (where, jurisdiction))
            endpoint = overrides.get(jurisdiction)
        if endpoint is None and settings['account_id'] and _r2.ACCOUNT_ID_RE.fullmatch(str(settings['account_id'])):
            endpoint = _r2.endpoint_url(settings['account_id'].lower(), jurisdiction)
        profile = entry.get('profile', name)
        if not isinstance(profile, str) or not NAME_RE.fullmatch(profile):
            errors.append('%s: profile: 1 to 64 letters, digits, ".", "_" or "-"' % where)
        cred = {
            'name': name, 'type': kind, 'state': state, 'permission': permission, 'jurisdiction': jurisdiction,
            'user': user, 'profile': profile, 'endpoint': (endpoint or '').rstrip('/'), 'addressing_style': addressing,
            'label': 'host %s, credential %s' % (shown_host, name),
            'key': None if format_problem else name_format.format(host=hostname, name=name),
        }
        cred.update(flags)
        if 'reload' in entry:
            cred['reload'], reload_errors = normalize_reloads(entry['reload'], '%s: reload' % where)
            errors.extend(reload_errors)
            if cred['reload'] and not cred['render']:
                errors.append('%s: reload: needs render: true (nothing of this credential is written on the host)'
                              % where)
        else:
            cred['reload'] = [dict(r) for r in default_reloads] if cred['render'] else []
        if not cred['render']:
            cred.update(rclone=False, s3cmd=False, env_file=False, check=False)
        if kind == 'token':
            cred['buckets'] = _buckets(entry, jurisdiction, where, errors)
            if permission in _r2.ADMIN_PERMISSIONS and cred['buckets']:
                errors.append('%s: buckets: must be empty with permission %s (admin permissions cover every bucket)'
                              % (where, permission))
            for field in ('ip_allow', 'ip_deny', 'expires_on', 'not_before'):
                cred[field] = entry.get(field)
            for field in ('rotate_after', 'expire_after'):
                cred[field] = entry.get(field, settings[field])
            try:
                for field in ('ip_allow', 'ip_deny'):
                    if cred[field] is not None:
                        cred[field] = _r2.normalize_cidrs(cred[field], field)
                for field in ('expires_on', 'not_before'):
                    if cred[field]:
                        cred[field] = _r2.normalize_time(cred[field], field)
                # the one schedule rule (r2_credential_set checks it again): seconds from here on
                cred['rotate_after'], cred['expire_after'] = _r2.validate_schedule(
                    cred['rotate_after'], cred['expire_after'], cred['expires_on'])
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (where, exc))
            if cred['key'] is not None:
                try:
                    # with room for the rotation's ~next: checked here, so that only this host fails
                    _r2.validate_token_name(cred['key'], 'token name', rotation_room=True)
                except _r2.R2ValueError as exc:
                    errors.append('%s: %s (made from provision_token_name_format)' % (where, exc))
        else:
            bucket = entry.get('bucket')
            try:
                _r2.validate_bucket_name(bucket, 'bucket')
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (where, exc))
            cred['bucket'] = bucket
            ttl = entry.get('ttl_seconds', settings['ttl_seconds'])
            try:
                cred['ttl_seconds'] = _temporary.validate_ttl(ttl)
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (where, exc))
                cred['ttl_seconds'] = None
            renew = entry.get('renew_before', settings['renew_before'])
            if renew is not None and cred['ttl_seconds'] and (
                    _is_bool(renew) or not isinstance(renew, int) or renew < 0 or renew >= cred['ttl_seconds']):
                errors.append('%s: renew_before: must be an integer from 0 to less than ttl_seconds (%s)'
                              % (where, cred['ttl_seconds']))
            cred['renew_before'] = renew
            try:
                cred['prefixes'], cred['objects'] = _temporary.validate_paths(
                    with_host(entry.get('prefixes'), hostname), with_host(entry.get('objects'), hostname))
            except _r2.R2ValueError as exc:
                errors.append('%s: %s' % (where, exc))
                cred['prefixes'], cred['objects'] = [], []
            if cred['key'] is not None:
                try:
                    _r2.check_text(cred['key'], 'name')
                except _r2.R2ValueError as exc:
                    errors.append('%s: %s (made from provision_token_name_format)' % (where, exc))
            cred['parent'] = entry.get('parent')
            cred['shared'] = shared['name'] if shared else None
            if shared:
                cred['parent_key'] = shared['key']
                cred['shared_token'] = shared
                refusal = _temporary.parent_refusal(
                    {'bucket': bucket, 'jurisdiction': jurisdiction, 'permission': permission}, shared['key'],
                    {'buckets': shared['buckets'], 'permission': shared['permission']}) if state == 'present' else None
                if refusal:
                    errors.append('%s: %s (provision_shared_tokens.%s)' % (where, refusal, shared['name']))
        names[name] = cred
        out.append(cred)
    profiles = {}
    for cred in out:
        if cred['render']:
            owner = profiles.setdefault((cred['user'], cred['profile']), cred['name'])
            if owner != cred['name']:
                errors.append('%s: provision_credentials (%s): profile: %r of user %s is already written by credential '
                              '%r; give one of them another profile'
                              % (shown_host, cred['name'], cred['profile'], cred['user'], owner))
        elif cred['type'] == 'temporary':
            errors.append('%s: provision_credentials (%s): render: temporary credentials exist only to be written on '
                          'the host; render must be true' % (shown_host, cred['name']))
    for cred in out:
        if cred['type'] == 'temporary' and cred['parent'] is not None and cred['state'] == 'present':
            parent = names.get(cred['parent'])
            if parent is None or parent['type'] != 'token' or parent['state'] != 'present':
                errors.append('%s: provision_credentials (%s): parent: %s is not a token credential of this host '
                              'with state present' % (shown_host, cred['name'], _r2.shown(cred['parent'])))
            else:
                cred['parent_key'] = parent['key']
    for cred in out:
        cred['selected_for_rotation'] = bool(settings['rotate']) and (
            not settings['rotate_only'] or cred['name'] in settings['rotate_only'])
    # The shared tokens this host's run brings: those it uses, and those whose definition says absent (deleted by
    # the next run of any host that sees the definition). A rotation rolls a shared token when the run rotates
    # every credential or names it in rotate_only.
    shared_tokens = {}
    for cred in out:
        if cred.get('shared_token') and cred['state'] == 'present':
            shared_tokens[cred['shared']] = cred['shared_token']
    defs = settings['shared_tokens'] if isinstance(settings['shared_tokens'], dict) else {}
    for name in sorted(defs, key=str):
        if isinstance(defs[name], dict) and defs[name].get('state') == 'absent' and isinstance(name, str) \
                and NAME_RE.fullmatch(name) and name not in shared_tokens:
            shared, shared_errors = normalize_shared(name, settings)
            if shared_errors:
                errors.extend('%s: %s' % (shown_host, e) for e in shared_errors)
            else:
                shared_tokens[name] = shared
    shared_out = []
    for name, shared in sorted(shared_tokens.items()):
        rotate = bool(settings['rotate']) and (not settings['rotate_only'] or name in settings['rotate_only'])
        shared_out.append(dict(shared, rotate=rotate))
    users = sorted(set(c['user'] for c in out if c['render']))
    return {'errors': errors, 'credentials': out, 'users': users, 'shared': shared_out}


def home_of(user, homes, settings):
    if settings['render_root']:
        return posixpath.join(settings['render_root'], user)
    return (homes or {}).get(user)


def fingerprint(cred, files):
    """Summary of how the host uses a credential; a change means the host needs the secret again."""
    material = dict((k, cred[k]) for k in ('user', 'profile', 'endpoint', 'addressing_style', 'type'))
    material['files'] = files
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode('utf-8')).hexdigest()[:32]


def _switches(cred):
    return dict((kind, cred[kind]) for kind in _client_files.OPTIONAL_KINDS)


def inspect_spec(plan, settings):
    """The ``users`` of the one ``r2_client_files_info`` call of a host: every user with every rendered profile."""
    settings = settings_with_defaults(settings)
    users = {}
    for cred in plan['credentials']:
        if not cred['render']:
            continue
        spec = users.setdefault(cred['user'], {'user': cred['user'], 'profiles': []})
        if settings['render_root']:
            spec['home'] = home_of(cred['user'], {}, settings)
        spec['profiles'].append(dict(_switches(cred), name=cred['profile'], session=cred['type'] == 'temporary'))
    return [users[user] for user in sorted(users)]


def apply_observed(plan, observed_users, settings, machine=None):
    """Add the home, the files, the fingerprint and what the host holds (``held``) to every credential of a plan,
    from the ``users`` result of ``r2_client_files_info`` (empty for a revocation, which reads nothing). Sets
    ``missing_users``: the users that do not exist on the host.

    Also sets what ``fleet`` compares between hosts: ``machine``, the identity of the machine the host is (the
    ``machine`` result of ``r2_client_files_info``, None when unknown), and ``holders``, per user, the folder its
    client files are under (``home``) and that folder's real identity (``files_id``, None when unknown)."""
    settings = settings_with_defaults(settings)
    plan['render_root'] = settings['render_root']
    observed = dict((u.get('user'), u) for u in observed_users or [])
    homes = dict((user, u.get('home')) for user, u in observed.items() if u.get('exists'))
    plan['machine'] = machine if isinstance(machine, dict) and machine.get('id') else None
    plan['holders'] = dict((user, {'home': u.get('home'), 'files_id': u.get('files_id')})
                           for user, u in observed.items() if u.get('exists'))
    missing = sorted(set(c['user'] for c in plan['credentials'] if c['render'] and c['user'] not in homes
                         and not settings['render_root']))
    for cred in plan['credentials']:
        home = home_of(cred['user'], homes, settings)
        cred['home'] = home
        cred['files'] = {}
        if cred['render'] and home:
            profile = dict(_switches(cred), name=cred['profile'], state='present')
            cred['files'] = _client_files.Layout(home).wanted(profile)
        cred['fingerprint'] = fingerprint(cred, cred['files'])
        held = ((observed.get(cred['user']) or {}).get('profiles') or {}).get(cred['profile']) or {}
        # a copy written with its reload mark is the copy the files hold; whether it is in use is reload_pending
        held_fingerprint, pending = _client_files.split_pending(held.get('fingerprint'))
        cred['held'] = (held.get('access_key_id') or '', held_fingerprint, held.get('expiration'))
        cred['reload_pending'] = bool(pending and cred['held'][0] and cred['render'] and cred['state'] == 'present')
    plan['missing_users'] = missing
    return plan


def _shared_files(hosts):
    """{(machine, user, files_id): [(host, home)]} of the users whose client files two or more hosts write with a
    profile of the same name (aliases that write different profiles into the same files do not meet)."""
    claims = {}
    profiles = {}
    for item in hosts:
        plan = item.get('plan') or {}
        machine = plan.get('machine') or {}
        if not machine.get('id'):
            continue   # a machine that could not be identified is compared with none
        for user, holder in sorted((plan.get('holders') or {}).items()):
            if (holder or {}).get('files_id'):
                key = (machine['id'], machine.get('hostname'), user, holder['files_id'])
                claims.setdefault(key, []).append((item.get('host'), holder.get('home')))
                profiles[(key, item.get('host'))] = set(c.get('profile') for c in plan.get('credentials') or []
                                                        if c.get('render') and c.get('user') == user)
    shared = {}
    for key, holders in claims.items():
        met = [h for h in holders if any(profiles[(key, h[0])] & profiles[(key, o[0])] for o in holders if o != h)]
        if len(met) > 1:
            shared[key] = met
    return shared


def fleet(inspected):
    """What one reconcile gets from the inspect results of every host (each as ``r2_provision_inspect`` returns it:
    ``host``, ``plan``, ``entries``, ``account_id``).

    Two hosts that are the same machine (inventory aliases) and write the client files of the same user in the same
    folder would hand each other's token out and roll it on every run: neither is reconciled, and each gets a
    message naming both hosts, the user and the folder. Returns ``tokens`` and ``temporary`` (the entries of the
    other hosts, in order), ``hosts`` and ``accounts`` (theirs), ``errors`` ({host: message}) and ``retried``
    (lines naming the reloads of earlier runs that the inspect of a host ran again, or would run in check mode).
    """
    hosts = [i for i in (inspected or []) if isinstance(i, dict) and isinstance(i.get('entries'), dict)]
    errors = {}
    shared = sorted(_shared_files(hosts).items(), key=lambda item: item[1][0][0] or '')
    for (dummy, machine_name, user, dummy2), holders in shared:
        for host, home in holders:
            for other, other_home in holders:
                if other == host:
                    continue
                where = home if other_home == home else '%s, as %s on %s' % (home, other_home, other)
                message = ('hosts %s and %s are the same machine (%s) and write the same profiles of user %s in the '
                           'same folder (%s): each run would hand out one host\'s token and roll the other\'s, so '
                           'neither is provisioned. Keep one of them in the inventory, or give them different '
                           'users, profiles or provision_render_root'
                           % tuple(_text.printable('%s' % v) for v in (host, other, machine_name, user, where)))
                errors[host] = '%s; %s' % (errors[host], message) if host in errors else message
    # two hosts whose credentials get the same token name (a provision_token_name_format such as "{host}{name}"
    # makes "web1" + "app" and "web" + "1app" alike) would share one token: neither is reconciled
    owners = {}
    for item in hosts:
        for entry in (item['entries'].get('tokens') or []) + (item['entries'].get('temporary') or []):
            owners.setdefault(entry.get('name'), []).append(item.get('host'))
    for name, names_hosts in sorted(owners.items(), key=lambda pair: '%s' % (pair[0],)):
        distinct = sorted(set('%s' % h for h in names_hosts))
        if len(distinct) < 2:
            continue
        for host in distinct:
            together = ', '.join(_text.printable(h) for h in distinct)
            message = ('hosts %s make the same token name %s from provision_token_name_format, so they would share '
                       'one token: neither is provisioned. Use a format that keeps host and credential apart (the '
                       'default "ansible:{host}/{name}")' % (together, _r2.shown(name)))
            errors[host] = '%s; %s' % (errors[host], message) if host in errors else message
    # A shared token is one token for every host that names it: they must agree on it, and it lives in one account.
    shared, shared_hosts = {}, {}
    for item in hosts:
        if item.get('host') in errors:
            continue
        for entry in item['entries'].get('shared') or []:
            entry = dict(entry, account_id=item.get('account_id'))
            first = shared.setdefault(entry['name'], entry)
            shared_hosts.setdefault(entry['name'], []).append(item.get('host'))
            if first != entry:
                other = shared_hosts[entry['name']][0]
                what = ('accounts %s and %s: a shared token lives in one account; give each account\'s its own '
                        'name' % (first.get('account_id'), entry.get('account_id'))
                        if first.get('account_id') != entry.get('account_id') else
                        'different definitions (provision_shared_tokens must be the same for every host that names '
                        'it, for example set in group_vars/all)')
                message = 'shared token %s: hosts %s and %s give it %s' % (
                    _r2.shown(entry['name']), _text.printable('%s' % other), _text.printable('%s' % item.get('host')),
                    what)
                errors[item.get('host')] = '%s; %s' % (errors[item['host']], message) \
                    if item.get('host') in errors else message
    kept = [i for i in hosts if i.get('host') not in errors]
    # the reloads an inspect ran again (or would run, in check mode) for copies an earlier run wrote, for the report
    retried = ['%s: %s' % (_text.printable('%s' % i.get('host')), line) for i in kept for line in i.get('reloads') or []]
    accounts = []
    for item in kept:
        if item.get('account_id') not in accounts:
            accounts.append(item.get('account_id'))
    # every entry names its host's account: one reconcile run covers every account of the fleet
    used = set(e['name'] for i in kept for e in i['entries'].get('shared') or [])
    # token name -> shared token name, from the hosts' plans (normalize_shared made both)
    shared_names = dict((t['key'], t['name']) for i in kept for t in (i.get('plan') or {}).get('shared') or [])
    account_hosts = {}
    for item in kept:
        account_hosts.setdefault(item.get('account_id'), item.get('host'))
    return {
        'tokens': [dict(e, account_id=i.get('account_id')) for i in kept for e in i['entries'].get('tokens') or []] +
        [e for name, e in sorted(shared.items()) if name in used],
        'temporary': [dict(e, account_id=i.get('account_id')) for i in kept
                      for e in i['entries'].get('temporary') or []],
        'hosts': [i.get('host') for i in kept],
        'accounts': accounts,
        # the first host of each account, whose variables give the account's API token, URL and quota
        'account_hosts': account_hosts,
        # token name -> shared token name, for the signing keys the play may give (with_signing_keys)
        'shared_tokens': dict((key, name) for key, name in shared_names.items() if key in used),
        'errors': errors,
        'retried': retried,
    }


def entries_of_host(plan):
    """``r2_credential_set`` entries for one host, with what the host holds (``apply_observed``)."""
    tokens, temporary = [], []
    for cred in plan['credentials']:
        if cred['render']:
            held, held_fp, held_exp = cred.get('held') or ('', None, None)
        else:
            held, held_fp, held_exp = None, None, None
        if cred['type'] == 'token':
            entry = {'name': cred['key'], 'label': cred['label'], 'state': cred['state']}
            if cred['state'] == 'present':
                entry.update(
                    permission=cred['permission'], jurisdiction=cred['jurisdiction'],
                    buckets=[{'name': n, 'jurisdiction': j} for j, n in cred['buckets']],
                    ip_allow=cred['ip_allow'], ip_deny=cred['ip_deny'], expires_on=cred['expires_on'],
                    not_before=cred['not_before'], held_access_key_id=held, fingerprint=cred['fingerprint'],
                    held_fingerprint=held_fp, rotate=cred['selected_for_rotation'],
                    rotate_after=cred['rotate_after'], expire_after=cred['expire_after'])
            tokens.append(entry)
        elif cred['state'] == 'present':
            entry = {'name': cred['key'], 'label': cred['label'], 'bucket': cred['bucket'],
                     'jurisdiction': cred['jurisdiction'], 'permission': cred['permission'],
                     # the host's S3 endpoint: the audience of credentials signed locally
                     'endpoint_url': cred['endpoint'] or None,
                     'ttl_seconds': cred['ttl_seconds'], 'renew_before': cred['renew_before'],
                     'prefixes': cred['prefixes'], 'objects': cred['objects'],
                     'parent': cred.get('parent_key'), 'held_access_key_id': held, 'held_expiration': held_exp,
                     'fingerprint': cred['fingerprint'], 'held_fingerprint': held_fp,
                     'force': cred['selected_for_rotation']}
            temporary.append(entry)
    shared = [shared_entry(t, t.get('rotate')) for t in plan.get('shared') or []]
    return {'tokens': tokens, 'temporary': temporary, 'shared': shared}


def check_of(cred):
    """The S3 request that proves a rendered credential works, or None when no bucket is known."""
    if cred['type'] == 'temporary':
        key = CHECK_KEY
        if cred['objects']:
            key = cred['objects'][0]
        elif cred['prefixes']:
            key = cred['prefixes'][0] + CHECK_KEY
        return {'bucket': cred['bucket'], 'operation': 'get_object', 'key': key}
    if cred['buckets']:
        return {'bucket': cred['buckets'][0][1], 'operation': 'get_object', 'key': CHECK_KEY}
    if cred['permission'] in _r2.ADMIN_PERMISSIONS:
        return {'bucket': None, 'operation': 'list_buckets', 'key': None}
    return None


def result_for_host(result, inspected, conflict=None):
    """The part of an ``r2_credential_set`` result that belongs to one host: {credentials, error, work}.

    ``inspected`` is the host's inspect result (its ``entries``, and its ``plan``); ``work`` says whether its
    render has anything to do: a credential with new material, a profile to remove, or a failure to report. A
    converged host skips its render task. The host gets every entry that was applied for it, new secrets
    included, even when another of its entries failed; ``error`` is then the failures of its own entries only
    (or the reconcile's message when it failed before its writes, or ``conflict``, a reason to leave the host out).
    """
    result = result or {}
    inspected = inspected or {}
    entries = inspected.get('entries', inspected)   # the entries alone are accepted too
    names = set(e['name'] for e in (entries or {}).get('tokens', []) + (entries or {}).get('temporary', []))
    credentials = dict((k, v) for k, v in (result.get('credentials') or {}).items() if k in names)
    removes = any(c['state'] == 'absent' and c['render'] for c in (inspected.get('plan') or {}).get('credentials', []))
    failures = result.get('failures') or {}
    if conflict:
        error = conflict
    elif failures:
        error = '; '.join(failures[name] for name in sorted(names) if name in failures)
    else:
        # failed_when: false clears "failed": a module failure is the result with a message
        error = result.get('msg') or ''
    work = bool(error) or removes or not names <= set(credentials) or any(
        c.get('new_material') for c in credentials.values())
    if not work:
        # nothing new: nothing secret either, and none is kept by a render that is skipped
        credentials = dict((k, dict((f, v) for f, v in c.items() if f not in ('secret_access_key', 'session_token')))
                           for k, c in credentials.items())
    return {'credentials': credentials, 'error': error, 'work': work}


def coverage_problem(host, inspected, handed):
    """Why a host cannot render (a message), or None: it was inspected and the reconcile covered all its entries."""
    entries = (inspected or {}).get('entries')
    if not isinstance(handed, dict) or entries is None:
        return ('%s: no reconcile result for this host. The reconcile runs once per play for the hosts inspected '
                'before it; with strategy free, or a host that joined late, run the phases in separate plays (see '
                'playbooks/provision.yml)' % host)
    names = set(e['name'] for e in entries['tokens'] + entries['temporary'])
    if names - set(handed.get('credentials') or {}) and not handed.get('error'):
        return '%s: the reconcile result does not cover this host\'s credentials' % host
    return None


def failure_of(host, handed):
    """The message a host fails with after rendering what was applied for it, or None."""
    if isinstance(handed, dict) and handed.get('error'):
        return '%s: %s' % (host, handed['error'])
    return None


def checks_of(cred, check):
    """``r2_s3_check`` ``checks`` items proving every file a credential was written into."""
    items = []
    base = dict((k, v) for k, v in check.items() if v is not None)
    for kind, path in sorted(cred['files'].items()):
        label = '%s (%s)' % (cred['name'], kind)
        if kind == 'aws_config':
            continue   # read with the credentials file, as the aws CLI reads the profile
        if kind == 'aws_credentials':
            item = dict(base, name=label, source='aws', profile=cred['profile'], credentials_file=path,
                        config_file=cred['files']['aws_config'])
        elif kind == 'rclone':
            item = dict(base, name=label, source='rclone', path=path, section=cred['profile'])
        else:
            item = dict(base, name=label, source=kind, path=path)
        items.append(item)
    return items


def render_host(plan, credentials, check_mode=False):
    """The ``r2_client_files`` runs (one per user) and the checks of one host, from the reconcile result.

    Only credentials with new material are written (the others are already on the host); revoked ones are
    removed in the same call. ``checks`` prove every file written (aws profile, rclone, s3cmd, env file) with the
    files themselves; ``trials`` are the same requests with the values, for a rotation to try a new secret from
    the host before it replaces the old one (``rotating``: the reconcile started one for this host). ``reloads``
    are the ``r2_reload`` commands and marks of the credentials written (``reload_spec``), ``changed`` what the
    handlers of the ``r2 credentials changed`` topic learn of those that name the handler.
    """
    users = {}
    checks, trials = [], []
    written = []
    for cred in plan['credentials']:
        if not cred['render']:
            continue
        got = (credentials or {}).get(cred['key']) or {}
        if not cred.get('home') and cred['state'] != 'absent':
            continue
        run = users.setdefault(cred['user'], {'user': cred['user'], 'profiles': []})
        if plan.get('render_root'):
            run['home'] = cred['home']
        if cred['state'] == 'absent':
            # a token's profile only once the token is gone: a host whose token still exists keeps it, and the next
            # run tries again (temporary credentials are no Cloudflare object: theirs goes at once)
            if cred['type'] == 'temporary' or cred['key'] in (credentials or {}):
                run['profiles'].append({'name': cred['profile'], 'state': 'absent'})
            continue
        if not got.get('new_material'):
            continue
        secret = got.get('secret_access_key') or (PLACEHOLDER if check_mode else None)
        if secret is None:
            raise ProvisionError('%s: the reconcile returned no secret for new material' % cred['label'])
        profile = dict(_switches(cred), **{
            'name': cred['profile'],
            'state': 'present',
            'access_key_id': got.get('access_key_id') or PLACEHOLDER,
            'secret_access_key': secret,
            'endpoint_override': cred['endpoint'],
            'permission': cred['permission'],
            'addressing_style': cred['addressing_style'],
            'fingerprint': got.get('fingerprint') or cred['fingerprint'],
        })
        if commands_of(cred):
            # in the same write as the secret: the copy counts as in use only once its reload commands succeeded
            profile['fingerprint'] = _client_files.pending_fingerprint(profile['fingerprint'])
        if cred['type'] == 'temporary':
            profile['session_token'] = got.get('session_token') or PLACEHOLDER
            profile['expiration'] = got.get('expiration') or None
        run['profiles'].append(profile)
        written.append(dict(cred, got=got))
        check = check_of(cred)
        if cred['check'] and check:
            checks.extend(checks_of(cred, check))
            trials.append(dict(((k, v) for k, v in check.items() if v is not None), name=cred['name'],
                               source='values', access_key_id=profile['access_key_id'], secret_access_key=secret,
                               session_token=profile.get('session_token'), endpoint_url=cred['endpoint']))
    runs = [dict(users[user], create_home=bool(plan.get('render_root'))) for user in sorted(users)
            if users[user]['profiles']]
    # a rotation started here (the rotate playbook, or any run whose reconcile started one) tries its new secrets
    # from the host before they replace the old ones
    rotating = any(cred['got'].get('action') == 'rotation_started' for cred in written)
    return {'runs': runs, 'checks': checks, 'trials': trials, 'rotating': rotating,
            'reloads': reload_spec(plan, written),
            'changed': [changed_entry(cred, cred['got']) for cred in written
                        if any(r['handler'] for r in cred['reload'])]}


# ------------------------------------------------------------------ reloads

def commands_of(cred):
    return [r for r in cred.get('reload') or [] if r['command']]


def reload_spec(plan, creds):
    """The ``r2_reload`` arguments for credentials whose copy changed (or is still to be reloaded): every command
    once per host (the same program, arguments, user and timeout named by several credentials runs once, in the
    order the credentials name them), and the profiles whose reload mark goes once their commands succeeded.

    Returns {'commands': [{name, argv, user, timeout, credentials}], 'profiles': [{user, name, commands[, home]}]}.
    """
    commands, by_identity, names = [], {}, set()
    profiles = []
    for cred in creds:
        mine = []
        for reload in commands_of(cred):
            user = 'root' if reload['run_as'] == 'root' else cred['user']
            identity = (tuple(reload['command']), user, reload['timeout'])
            command = by_identity.get(identity)
            if command is None:
                name, number = reload['name'], 2
                while name in names:
                    name, number = '%s #%d' % (reload['name'], number), number + 1
                names.add(name)
                command = {'name': name, 'argv': list(reload['command']), 'user': user,
                           'timeout': reload['timeout'], 'credentials': []}
                by_identity[identity] = command
                commands.append(command)
            if cred['name'] not in command['credentials']:
                command['credentials'].append(cred['name'])
            if command['name'] not in mine:
                mine.append(command['name'])
        if mine or cred.get('reload_pending'):
            profile = {'user': cred['user'], 'name': cred['profile'], 'commands': mine}
            if plan.get('render_root'):
                profile['home'] = cred['home']
            profiles.append(profile)
    return {'commands': commands, 'profiles': profiles}


def module_args(spec):
    """``r2_reload``'s options from a ``reload_spec`` (without what is only for messages)."""
    return {'commands': [dict((k, c[k]) for k in ('name', 'argv', 'user', 'timeout')) for c in spec['commands']],
            'profiles': spec['profiles']}


def changed_entry(cred, got):
    """What the handlers of ``r2 credentials changed`` learn of one credential whose copy changed: no secret."""
    return {'name': cred['name'], 'type': cred['type'], 'user': cred['user'], 'profile': cred['profile'],
            'action': got.get('action'), 'access_key_id': got.get('access_key_id'),
            'expiration': got.get('expiration'), 'files': dict(cred['files'])}


def pending_of(plan):
    """The credentials whose copy on the host was written by an earlier run whose reloads did not succeed."""
    return [c for c in plan['credentials'] if c.get('reload_pending')]


def retry_checks(plan):
    """The ``r2_s3_check`` checks of the files of every pending copy, to run before its reloads again."""
    items = []
    for cred in pending_of(plan):
        check = check_of(cred)
        if cred['check'] and check:
            items.extend(checks_of(cred, check))
    return items


def judge_retry(plan, reports):
    """After the checks of ``retry_checks``: the pending copies refused as credentials (an expired or deleted one)
    no longer count as held, so that the reconcile hands out new ones; returns the message of checks that failed
    otherwise (the endpoint unreachable, a permission), or None."""
    failed = {}
    for report in reports or []:
        if report.get('failed'):
            failed.setdefault(report.get('name', '').rsplit(' (', 1)[0], []).append(report)
    problems = []
    for cred in pending_of(plan):
        mine = failed.get(cred['name'])
        if not mine:
            continue
        if all(r.get('code') in CREDENTIAL_REFUSED for r in mine):
            cred['held'] = ('', cred['held'][1], cred['held'][2])
            cred['reload_pending'] = False
        else:
            problems.extend('%s: %s' % (r.get('name'), r.get('msg')) for r in mine)
    return '; '.join(problems) or None


def reload_report(spec, outcome=None):
    """One line per command: what ran (or would run: ``outcome`` None), as whom, for which credentials."""
    states = dict((c.get('name'), c) for c in (outcome or {}).get('commands') or [])
    lines = []
    for command in spec['commands']:
        state = (states.get(command['name']) or {}).get('state') if outcome is not None else 'would run'
        lines.append('reload %s (as %s) %s for %s'
                     % (command['name'], command['user'], state or 'not run', ', '.join(command['credentials'])))
    return lines


def reload_failure(host, spec, outcome, retried=False):
    """The message a host fails with when a reload failed: each failed reload, the credentials it was for, and what
    that means (the copy is not in use: a rotation does not finish, and the next run runs the reload again)."""
    reports = dict((c.get('name'), c) for c in (outcome or {}).get('commands') or [])
    parts, waiting = [], []
    for command in spec['commands']:
        report = reports.get(command['name']) or {}
        if report.get('state') == 'succeeded':
            continue
        tail = report.get('output') or []
        parts.append('reload %s (as %s) for %s failed: %s%s' % (
            command['name'], command['user'], ', '.join(command['credentials']),
            report.get('msg') or 'not run', ('; its last output: %s' % ' | '.join(tail[-3:])) if tail else ''))
        waiting.extend(c for c in command['credentials'] if c not in waiting)
    if not parts:
        return '%s: %s' % (host, (outcome or {}).get('msg') or 'the reloads failed')
    what = ('were written by an earlier run and are still not in use: nothing changes for this host until their '
            'reloads succeed (a rotation in progress keeps its old token)' if retried else
            'are written and checked, but do not count as in use until their reloads succeed: a rotation does not '
            'finish for them (their old token stays), and the next run runs the reloads again before anything else')
    return '%s: %s. The new credentials of %s %s' % (host, '; '.join(parts), ', '.join(waiting), what)


# ------------------------------------------------------------------ the reconcile's report, the finishing pass

def reconcile_report(result, host_count, retried=None):
    """The one line the reconcile prints: what it did per action, its API requests, the rotation schedule (which
    tokens were due, when the next falls due), and its failure. No secret is in ``result``'s parts used here."""
    result = result or {}
    # registered with failed_when false: a message is there only when the module failed
    failed = result.get('msg')
    summary = ', '.join('%s %s' % (k, v) for k, v in sorted((result.get('summary') or {}).items()))
    line = '%d host(s): %s; Cloudflare API requests %s' % (
        host_count, summary or ('nothing done' if failed else 'nothing to do'),
        ', '.join('%s %s' % (k, v) for k, v in sorted((result.get('api_requests') or {}).items())))
    schedule = result.get('schedule') or {}
    if schedule.get('due'):
        line += '; rotation due for %d token(s): %s' % (len(schedule['due']), ', '.join(schedule['due']))
    if schedule.get('next_due_on'):
        line += '; next rotation due on %s' % schedule['next_due_on']
    if failed:
        line += '; FAILED: %s' % failed
    if retried:
        line += '; reloads of copies an earlier run wrote, run again first: %s' % '; '.join(retried)
    return line


def finishing(hosts, hostvars):
    """The hosts whose render of this run wrote, checked and reloaded a rotation's new token: a second reconcile
    of the same run finishes their rotations (deletes the old token, renames the new one)."""
    return [host for host in hosts
            if ((hostvars[host].get('__provision_result') or {}) if host in hostvars else {}).get('rotation_started')]


def with_signing_keys(fleet, keys):
    """The fleet's ``tokens`` and ``temporary`` with local signing where the play gives a shared token's Secret
    Access Key (``provision_shared_signing_keys``: shared token name -> key): that token carries it as its
    ``signing_key`` and the temporary credentials minted from it are signed on the controller, with no API call
    per host. Returns {'tokens', 'temporary'}; use it only in a task with no_log."""
    keys = keys or {}
    if not isinstance(keys, dict):
        raise ProvisionError('provision_shared_signing_keys: must be a dict of shared token name to its Secret '
                             'Access Key')
    names = (fleet or {}).get('shared_tokens') or {}
    signed = set(token for token, name in names.items() if keys.get(name))
    tokens = [dict(e, signing_key=keys[names[e['name']]]) if e['name'] in signed else e
              for e in (fleet or {}).get('tokens') or []]
    temporary = [dict(e, signing='local') if e.get('parent') in signed else e
                 for e in (fleet or {}).get('temporary') or []]
    return {'tokens': tokens, 'temporary': temporary}


# the variables of a host that give its account's connection (set in the inventory, group_vars per account)
ACCOUNT_VARS = (('api_token', 'provision_api_token'), ('api_url', 'provision_api_url'),
                ('token_quota', 'provision_token_quota'))


def accounts_of(account_hosts, hostvars):
    """r2_credential_set's ``accounts``: per account of the run, the API token, API URL and quota that the first
    host of that account sets in the inventory (an account whose hosts set none uses the reconcile's own)."""
    out = []
    for account_id, host in sorted((account_hosts or {}).items(), key=lambda pair: '%s' % (pair[0],)):
        acct = {'account_id': account_id}
        own = hostvars[host] if host in hostvars else {}
        for option, var in ACCOUNT_VARS:
            if var in own and own[var] not in (None, ''):
                acct[option] = own[var]
        out.append(acct)
    return out


def lock_key(owner, account_id):
    """The run lock of one owner and account (the provision role's lock task, the audit playbook's prune)."""
    return '%s-%s' % (owner, ('%s' % (account_id or '')).lower())


def lock_keys(hosts, hostvars, owner, default_account):
    """The run-lock keys of every account the hosts name (sorted, so that two runs take them in the same order)."""
    keys = set()
    for host in hosts:
        own = hostvars[host] if host in hostvars else {}
        keys.add(lock_key(owner, own.get('provision_account_id') or default_account))
    return sorted(keys)
