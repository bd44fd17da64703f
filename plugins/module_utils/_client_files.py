# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""The one client-file layout: where a user's S3 client files are, what the collection writes into them, and how
to read back what a host holds.

Nothing else in the collection names a client path, a section, a key or a bookkeeping key: the ``client_config``
role, the ``provision`` role (through ``_provision``), ``r2_client_files``, ``r2_client_files_info`` and
``r2_s3_check`` all come here.

| kind | default path | what the collection owns |
| --- | --- | --- |
| ``aws_config`` | ``~/.aws/config`` | ``[profile NAME]`` (``[default]`` for ``default``), merged key by key |
| ``aws_credentials`` | ``~/.aws/credentials`` | ``[NAME]``, merged, with the bookkeeping keys |
| ``rclone`` | ``~/.config/rclone/rclone.conf`` | ``[NAME]``, merged |
| ``s3cmd`` | ``~/.s3cfg-NAME`` | the whole file, marked as ours in its first line |
| ``env_file`` | ``~/.config/r2/NAME.env`` | the whole file, marked as ours in its first line |

Sources: aws CLI configuration files (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html),
rclone for R2 (https://developers.cloudflare.com/r2/examples/rclone/), s3cmd for R2
(https://developers.cloudflare.com/r2/examples/s3cmd/ ... ``host_base``, ``host_bucket``, ``access_token`` for
session tokens as s3cmd's ``Config`` reads them).

Standard library and the collection's ``_ini`` only: this runs on the hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import posixpath
import re
import shlex

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _endpoints, _ini

KINDS = ('aws_config', 'aws_credentials', 'rclone', 's3cmd', 'env_file')
INI_KINDS = ('aws_config', 'aws_credentials', 'rclone')   # merged section by section
WHOLE_KINDS = ('s3cmd', 'env_file')                       # written whole, ours only when marked
OPTIONAL_KINDS = ('rclone', 's3cmd', 'env_file')          # switched per profile

# Bookkeeping keys (ignored by the clients): how the copy was made, and when temporary credentials expire.
FINGERPRINT_KEY = 'r2_fingerprint'
# A copy whose reload commands (provision role) have not succeeded yet records its fingerprint with this suffix,
# written with the new secret in the same write: until it is gone the copy does not count as in use, and the next
# run runs the reloads again before anything else (split_pending, mark_reloaded).
RELOAD_PENDING_SUFFIX = '.reload-pending'
EXPIRATION_KEY = 'r2_expiration'
ENV_EXPIRATION_KEY = 'R2_CREDENTIALS_EXPIRATION'

# The first line of the files written whole; a file without it (or the comment line of 0.1's templates) is somebody
# else's and is never changed or removed.
MARKER = 'Written by cloudflare_r2.credentials'
MARKER_LINES = ('# %s for the R2 profile %%s; edits are overwritten.' % MARKER,
                # 0.1's templates (after ansible_managed)
                '# Cloudflare R2 profile %s, for systemd EnvironmentFile= or',
                '# s3cmd configuration for the Cloudflare R2 profile %s: s3cmd -c ')

# Per kind: (key id, secret, session token) key names, as each client reads them.
CREDENTIAL_KEYS = {
    'aws_credentials': ('aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'),
    'rclone': ('access_key_id', 'secret_access_key', 'session_token'),
    's3cmd': ('access_key', 'secret_key', 'access_token'),
    'env_file': ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'),
}
# Per kind: the key the endpoint is read from.
ENDPOINT_KEYS = {'rclone': 'endpoint', 's3cmd': 'host_base', 'env_file': 'AWS_ENDPOINT_URL_S3'}
SECRET_KEYS = tuple(sorted(set(k for keys in CREDENTIAL_KEYS.values() for k in keys[1:])))
# The only keys whose values the reader ever returns (everything else in a file may be somebody's secret).
PUBLIC_KEYS = frozenset(k.lower() for k in (
    'aws_access_key_id', 'access_key_id', 'access_key', 'AWS_ACCESS_KEY_ID', FINGERPRINT_KEY, EXPIRATION_KEY,
    ENV_EXPIRATION_KEY, 'region', 'endpoint_url', 'endpoint', 'type', 'provider', 'host_base', 'host_bucket',
    'AWS_ENDPOINT_URL_S3', 'addressing_style', 'force_path_style', 'use_https'))

# The keys whose values a diff shows: the ones the collection writes that are no secret. Every other value in a
# diff (a user's own keys in our sections, whatever their name) is masked.
DIFF_VISIBLE_KEYS = PUBLIC_KEYS | frozenset(k.lower() for k in (
    's3', 'request_checksum_calculation', 'response_checksum_validation', 'acl', 'no_check_bucket',
    'signature_v2', 'bucket_location', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_REQUEST_CHECKSUM_CALCULATION',
    'AWS_RESPONSE_CHECKSUM_VALIDATION'))

# The path overrides of client_config (option name -> what it replaces).
PATH_OPTIONS = ('aws_config_file', 'aws_credentials_file', 'rclone_config_file', 's3cmd_dir', 'env_dir')

NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}')
CREDENTIAL_RE = re.compile(r'[A-Za-z0-9+/=_.~-]{1,4096}')
FINGERPRINT_RE = re.compile(r'[A-Za-z0-9._-]{1,128}')
EXPIRATION_RE = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})')
ENDPOINT_RE = re.compile(r'(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?')
ADDRESSING = ('path', 'virtual', 'auto')
STATES = ('present', 'absent')
PROFILE_FIELDS = ('name', 'state', 'access_key_id', 'secret_access_key', 'session_token', 'endpoint_url',
                  'account_id', 'jurisdiction', 'endpoint_override', 'object_level', 'permission',
                  'addressing_style', 'rclone', 's3cmd', 'env_file', 'expiration', 'fingerprint')
MAX_PROFILES = 256


class LayoutError(ValueError):
    """A message naming the field and the rule; never a value that may be secret."""


# ------------------------------------------------------------------- paths

class Layout(object):
    """The client files of one user: ``home`` and the optional path overrides (absolute paths)."""

    def __init__(self, home, overrides=None):
        if not isinstance(home, str) or not home.startswith('/') or _ini.has_control(home):
            raise LayoutError('home: must be an absolute path')
        self.home = posixpath.normpath(home)
        overrides = dict((k, v) for k, v in (overrides or {}).items() if v)
        for option, value in overrides.items():
            if option not in PATH_OPTIONS:
                raise LayoutError('unknown path option %s (known: %s)' % (option, ', '.join(PATH_OPTIONS)))
            if not isinstance(value, str) or not value.startswith('/') or _ini.has_control(value) \
                    or '/../' in value + '/':
                raise LayoutError('%s: must be an absolute path without ".." (or empty for the default)' % option)
        self.overrides = dict((k, posixpath.normpath(v)) for k, v in overrides.items())

    def _path(self, option, *default):
        return self.overrides.get(option) or posixpath.join(self.home, *default)

    def path(self, kind, profile):
        """The file of ``kind`` for ``profile`` (a profile name)."""
        if kind == 'aws_config':
            return self._path('aws_config_file', '.aws', 'config')
        if kind == 'aws_credentials':
            return self._path('aws_credentials_file', '.aws', 'credentials')
        if kind == 'rclone':
            return self._path('rclone_config_file', '.config', 'rclone', 'rclone.conf')
        if kind == 's3cmd':
            return posixpath.join(self.overrides.get('s3cmd_dir') or self.home, '.s3cfg-%s' % profile)
        if kind == 'env_file':
            return posixpath.join(self.overrides.get('env_dir') or posixpath.join(self.home, '.config', 'r2'),
                                  '%s.env' % profile)
        raise LayoutError('unknown kind %s' % kind)

    def files(self, profile):
        """{kind: path} of every file a profile can have, whether it is switched on or not."""
        return dict((kind, self.path(kind, profile['name'])) for kind in KINDS)

    def wanted(self, profile):
        """{kind: path} of the files a present profile is written into."""
        if profile['state'] != 'present':
            return {}
        return dict((kind, path) for kind, path in self.files(profile).items()
                    if kind not in OPTIONAL_KINDS or profile[kind])

    def leaf_dirs(self):
        """The folders that hold only client files (tightened to 0700), as opposed to shared ones (~/.config)."""
        kinds = ('aws_config', 'aws_credentials', 'rclone', 'env_file')
        return sorted(set(posixpath.dirname(self.path(kind, 'x')) for kind in kinds) - set([self.home]))


def section(kind, name):
    """The section a profile owns in an INI file of ``kind`` (None for the env file)."""
    if kind == 'aws_config':
        return 'default' if name == 'default' else 'profile %s' % name
    if kind in ('aws_credentials', 'rclone'):
        return name
    if kind == 's3cmd':
        return 'default'
    return None


# ---------------------------------------------------------------- profiles

def _where(index, raw):
    name = raw.get('name') if isinstance(raw, dict) else None
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        return 'profiles[%d] (%s)' % (index, name)
    return 'profiles[%d]' % index


def _bool(raw, field, default, where, errors):
    value = raw.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.append('%s: %s: must be a boolean' % (where, field))
        return default
    return value


def _endpoint_of(raw, where, errors):
    for field in ('endpoint_override', 'endpoint_url'):
        value = raw.get(field)
        if value:
            if not isinstance(value, str) or not ENDPOINT_RE.fullmatch(value):
                errors.append('%s: %s: must be an http:// or https:// URL (host, optional port and path; no query, '
                              'user or control character)' % (where, field))
                return ''
            return value.rstrip('/')
    account_id = raw.get('account_id')
    jurisdiction = raw.get('jurisdiction') or 'default'
    if not account_id:
        if raw.get('jurisdiction'):
            errors.append('%s: jurisdiction: given without account_id and no endpoint_url or endpoint_override; '
                          'set account_id to compute the endpoint' % where)
        else:
            errors.append('%s: endpoint_url: required (or account_id, with jurisdiction, to compute it, or '
                          'endpoint_override)' % where)
        return ''
    if not isinstance(account_id, str) or not re.fullmatch(r'[0-9a-f]{32}', account_id):
        errors.append('%s: account_id: must be 32 lowercase hexadecimal characters' % where)
        return ''
    if not _endpoints.is_jurisdiction(jurisdiction):
        errors.append('%s: jurisdiction: %s' % (where, _endpoints.JURISDICTION_RULE))
        return ''
    return _endpoints.endpoint_url(account_id, jurisdiction)


def normalize_profiles(profiles, defaults=None):
    """Validate and normalise profiles (the fields of ``PROFILE_FIELDS``); returns (profiles, errors).

    ``defaults``: state, addressing_style, rclone, s3cmd, env_file. Every problem is one "profiles[i] (name): field:
    rule" string; no value is ever echoed (it may be a secret).
    """
    defaults = dict({'state': 'present', 'addressing_style': 'path', 'rclone': True, 's3cmd': False,
                     'env_file': False}, **dict((k, v) for k, v in (defaults or {}).items() if v is not None))
    errors, out, names = [], [], set()
    if not isinstance(profiles, list):
        return [], ['profiles: must be a list of profiles']
    if len(profiles) > MAX_PROFILES:
        return [], ['profiles: at most %d profiles per user' % MAX_PROFILES]
    for index, raw in enumerate(profiles):
        where = _where(index, raw)
        if not isinstance(raw, dict):
            errors.append('%s: must be a dict' % where)
            continue
        unknown = sorted(set(raw) - set(PROFILE_FIELDS))
        if unknown:
            errors.append('%s: unknown field(s) %s (known: %s)' % (
                where, ', '.join(k if isinstance(k, str) and not _ini.has_control(k) else '?' for k in unknown),
                ', '.join(PROFILE_FIELDS)))
        name = raw.get('name')
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            errors.append('%s: name: required, 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or '
                          'digit' % where)
            continue
        if name in names:
            errors.append('%s: name: used by another profile' % where)
        names.add(name)
        state = raw.get('state') or defaults['state']
        if state not in STATES:
            errors.append('%s: state: must be present or absent' % where)
            continue
        profile = {'name': name, 'state': state}
        for flag in OPTIONAL_KINDS:
            profile[flag] = state == 'present' and _bool(raw, flag, defaults[flag], where, errors)
        out.append(profile)
        if state == 'absent':
            continue
        for field in ('access_key_id', 'secret_access_key', 'session_token'):
            value = raw.get(field)
            if value in (None, '') and field == 'session_token':
                profile[field] = None
            elif not isinstance(value, str) or not value:
                errors.append('%s: %s: required' % (where, field))
            elif not CREDENTIAL_RE.fullmatch(value):
                errors.append('%s: %s: has characters an S3 credential cannot have (blanks, quotes, line breaks, '
                              '...)' % (where, field))
            else:
                profile[field] = value
        profile['endpoint'] = _endpoint_of(raw, where, errors)
        style = raw.get('addressing_style') or defaults['addressing_style']
        if style not in ADDRESSING:
            errors.append('%s: addressing_style: must be path, virtual or auto' % where)
        profile['addressing_style'] = style
        permission = raw.get('permission')
        if permission is not None and not (isinstance(permission, str) and re.fullmatch(r'[a-z_]{1,32}', permission)):
            errors.append('%s: permission: must be one of admin_read_write, admin_read_only, object_read_write, '
                          'object_read_only' % where)
            permission = None
        profile['object_level'] = _bool(raw, 'object_level', (permission or '').startswith('object_'), where, errors)
        for field, pattern, rule in (('expiration', EXPIRATION_RE, 'an RFC 3339 time such as 2026-12-01T10:00:00Z'),
                                     ('fingerprint', FINGERPRINT_RE, '1 to 128 letters, digits, ".", "_" or "-"')):
            value = raw.get(field)
            if value in (None, ''):
                profile[field] = None
            elif not isinstance(value, str) or not pattern.fullmatch(value):
                errors.append('%s: %s: must be %s' % (where, field, rule))
                profile[field] = None
            else:
                profile[field] = value
    return out, errors


# --------------------------------------------------------------- rendering

def _split_endpoint(endpoint):
    scheme, rest = endpoint.split('://', 1)
    return scheme, rest.split('/', 1)[0]


def section_values(kind, profile):
    """The keys the collection manages in a profile's section of an INI file of ``kind``; None removes a key."""
    if kind == 'aws_config':
        return {'region': 'auto', 'endpoint_url': profile['endpoint'],
                's3': {'addressing_style': profile['addressing_style']},
                'request_checksum_calculation': 'when_required', 'response_checksum_validation': 'when_required'}
    if kind == 'aws_credentials':
        key, secret, session = CREDENTIAL_KEYS[kind]
        # aws_security_token is the older name of the session token, which botocore reads first: never leave one
        return {key: profile['access_key_id'], secret: profile['secret_access_key'], session: profile['session_token'],
                'aws_security_token': None, EXPIRATION_KEY: profile['expiration'],
                FINGERPRINT_KEY: profile['fingerprint']}
    if kind == 'rclone':
        key, secret, session = CREDENTIAL_KEYS[kind]
        return {'type': 's3', 'provider': 'Cloudflare', key: profile['access_key_id'],
                secret: profile['secret_access_key'], session: profile['session_token'],
                'endpoint': profile['endpoint'], 'region': 'auto', 'acl': 'private',
                'force_path_style': {'path': True, 'virtual': False}.get(profile['addressing_style']),
                'no_check_bucket': True if profile['object_level'] else None}
    raise LayoutError('%s is written whole' % kind)


def whole_text(kind, profile, path):
    """The text of a file the collection writes whole (s3cmd configuration, env file)."""
    key, secret, session = CREDENTIAL_KEYS[kind]
    if kind == 's3cmd':
        scheme, netloc = _split_endpoint(profile['endpoint'])
        notes = ['%s for the R2 profile %s; edits are overwritten.' % (MARKER, profile['name']),
                 's3cmd configuration: s3cmd -c %s' % path]
        if profile['expiration']:
            notes.append('Temporary credentials, valid until %s' % profile['expiration'])
        host_bucket = '%%(bucket)s.%s' % netloc if profile['addressing_style'] == 'virtual' else netloc
        return _ini.comment_lines(notes) + _ini.render_ini([('default', [
            (key, profile['access_key_id']), (secret, profile['secret_access_key']), (session, profile['session_token']),
            ('host_base', netloc), ('host_bucket', host_bucket), ('use_https', 'True' if scheme == 'https' else 'False'),
            ('signature_v2', 'False'), ('bucket_location', 'auto')])])
    if kind == 'env_file':
        notes = ['%s for the R2 profile %s; edits are overwritten.' % (MARKER, profile['name']),
                 'For systemd EnvironmentFile= or `set -a; . FILE; set +a`.']
        return _ini.comment_lines(notes) + _ini.render_env([
            (key, profile['access_key_id']), (secret, profile['secret_access_key']), (session, profile['session_token']),
            ('AWS_ENDPOINT_URL_S3', profile['endpoint']), ('AWS_DEFAULT_REGION', 'auto'), ('AWS_REGION', 'auto'),
            ('AWS_REQUEST_CHECKSUM_CALCULATION', 'when_required'),
            ('AWS_RESPONSE_CHECKSUM_VALIDATION', 'when_required'), (ENV_EXPIRATION_KEY, profile['expiration'])])
    raise LayoutError('%s is merged section by section' % kind)


def is_ours(text, name):
    """Whether a file written whole for profile ``name`` carries the collection's mark: our first line, or 0.1's
    comment line for that profile among the leading comment lines (0.1 put ``ansible_managed`` first)."""
    marks = [line % name for line in MARKER_LINES]
    for line in _ini.split_lines(text)[:6]:
        if not line.startswith('#'):
            return False
        if any(line.startswith(mark) for mark in marks):
            return True
    return False


def secret_values(profile):
    return [v for v in (profile.get('secret_access_key'), profile.get('session_token')) if v]


def mask(kind, text):
    """A file's (or section's) text for a diff: every value replaced but those of DIFF_VISIBLE_KEYS."""
    def is_secret(key):
        return key.lower() not in DIFF_VISIBLE_KEYS
    if kind == 'env_file':
        out = []
        for line in _ini.split_lines(text):
            match = _ini.ENV_RE.fullmatch(line.strip())
            if match and is_secret(match.group('key')) and match.group('value'):
                line = '%s=%s\n' % (match.group('key'), _ini.MASK)
            out.append(line)
        return ''.join(out)
    return _ini.mask_section(text, is_secret)


# ---------------------------------------------------------------- planning

def plan_user(layout, profiles, read):
    """What to do with one user's files: {path: {'kind', 'old' (text or None), 'new' (text or None: remove),
    'wanted' (a present profile is written into it), 'diffs': [(header, before, after)]}}, for every file any
    profile touches.

    ``read(path)`` returns a file's text or None when it does not exist (``_safe_io`` refuses what is unsafe).
    Section edits of several profiles in one file are applied one after the other, so one write per file.
    """
    plan = {}

    def entry(kind, path):
        if path not in plan:
            text = read(path)
            plan[path] = {'kind': kind, 'old': text, 'new': text, 'diffs': [], 'wanted': False}
        return plan[path]

    for profile in profiles:
        wanted = layout.wanted(profile)
        for kind, path in layout.files(profile).items():
            if kind in wanted:
                entry(kind, path)['wanted'] = True
            if kind in INI_KINDS:
                state = 'present' if kind in wanted else 'absent'
                current = entry(kind, path)
                if current['new'] is None and state == 'absent':
                    continue
                title = section(kind, profile['name'])
                values = section_values(kind, profile) if state == 'present' else None
                new_text, before, after, _report = _ini.apply(current['new'] or '', title, values, state)
                if new_text != (current['new'] or '') or current['new'] is None:
                    current['new'] = new_text
                    current['diffs'].append(('%s [%s]' % (path, title), mask(kind, before), mask(kind, after)))
            else:
                current = entry(kind, path)
                if kind in wanted:
                    if current['old'] is not None and not is_ours(current['old'], profile['name']):
                        raise LayoutError('%s: the file exists and was not written by cloudflare_r2.credentials '
                                          '(no mark in its first line): move it away, or give the profile another '
                                          'name; nothing was changed' % path)
                    text = whole_text(kind, profile, path)
                    if text != current['new']:
                        current['diffs'].append((path, mask(kind, current['new'] or ''), mask(kind, text)))
                        current['new'] = text
                elif current['new'] is not None and is_ours(current['new'], profile['name']):
                    current['diffs'].append((path, mask(kind, current['new']), ''))
                    current['new'] = None
    return plan


# ----------------------------------------------------------------- reading

def text_reader(tree, refused, errors):
    """``read(path)`` for ``plan_user`` and ``held``: the text of a file of ``tree`` (a ``_safe_io.UserTree``, or None
    for a home not made yet: nothing there), or None when it does not exist. A refusal or a file that is not UTF-8
    (``errors``: the exception classes) raises ``refused(path, exc)``."""
    def read(path):
        if tree is None:
            return None
        try:
            data = tree.read(path)
            return None if data is None else _ini.decode(data, path)
        except errors as exc:
            raise refused(path, exc)
    return read


def _lenient_section(text, title):
    if text is None:
        return None
    return _ini.read_ini(text).get(title)


def credential_in(kind, text, name):
    """(access key id, secret, session token, endpoint) that a file of ``kind`` holds for profile ``name``, or None.

    Read the way each client reads: INI sections for aws credentials, rclone and s3cmd, KEY=VALUE for env files.
    """
    if text is None:
        return None
    key, secret, session = CREDENTIAL_KEYS[kind]
    if kind == 'env_file':
        values = _ini.read_env(text)
        # the aws CLI's order: the service's own endpoint, then the global one
        endpoint = values.get(ENDPOINT_KEYS[kind]) or values.get('AWS_ENDPOINT_URL')
    else:
        values = _lenient_section(text, section(kind, name))
        if values is None:
            return None
        if kind == 's3cmd':
            base = values.get('host_base')
            scheme = 'https' if str(values.get('use_https', 'True')).lower() in ('true', 'yes', '1', 'on') else 'http'
            endpoint = '%s://%s' % (scheme, base) if base else None
        else:
            endpoint = values.get(ENDPOINT_KEYS.get(kind, 'endpoint'))
            if endpoint and '://' not in endpoint:
                endpoint = 'https://' + endpoint   # rclone's default scheme
    lower = dict((k.lower(), v) for k, v in values.items() if isinstance(v, str))
    found = tuple(lower.get(k.lower()) or None for k in (key, secret, session)) + (endpoint or None,)
    return found if found[0] else None


def _well_formed(value, pattern):
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _digest(found):
    return hashlib.sha256(('%s\0%s\0%s' % found[:3]).encode('utf-8')).hexdigest()


def held(layout, profile, read):
    """What a host holds for one profile, without a secret: {'access_key_id', 'fingerprint', 'expiration',
    'consistent', 'problems'}.

    ``profile`` needs ``name``, the switches (``rclone``, ``s3cmd``, ``env_file``) and ``session`` (whether the
    credential has a session token). ``consistent`` is true when every wanted file holds the same key id, secret and
    session token (compared here, on the host) and the aws config section exists; otherwise ``problems`` says which
    file disagrees and the key id is empty, so the next run hands the secret out again.
    """
    files = layout.wanted(dict(profile, state='present'))
    result = {'access_key_id': '', 'fingerprint': None, 'expiration': None, 'consistent': False, 'problems': []}
    texts = dict((kind, read(path)) for kind, path in files.items())
    creds_section = _lenient_section(texts['aws_credentials'], section('aws_credentials', profile['name'])) or {}
    lower = dict((k.lower(), v) for k, v in creds_section.items() if isinstance(v, str))
    # the host's user can write anything there: only well-formed values leave the host
    result['fingerprint'] = _well_formed(lower.get(FINGERPRINT_KEY), FINGERPRINT_RE)
    result['expiration'] = _well_formed(lower.get(EXPIRATION_KEY), EXPIRATION_RE)
    if _lenient_section(texts['aws_config'], section('aws_config', profile['name'])) is None:
        result['problems'].append('aws_config: no [%s] in %s' % (section('aws_config', profile['name']),
                                                                 files['aws_config']))
    reference = None
    for kind in ('aws_credentials', 'rclone', 's3cmd', 'env_file'):
        if kind not in files:
            continue
        found = credential_in(kind, texts[kind], profile['name'])
        if found is None or not found[1] or (profile.get('session') and not found[2]):
            result['problems'].append('%s: no complete credential in %s' % (kind, files[kind]))
            continue
        if reference is None:
            reference = (kind, found)
        elif found[0] != reference[1][0]:
            result['problems'].append('%s: %s holds another access key id than %s' % (kind, files[kind],
                                                                                      reference[0]))
        elif _digest(found) != _digest(reference[1]):
            result['problems'].append('%s: %s holds another secret than %s' % (kind, files[kind], reference[0]))
    if reference is not None and reference[0] == 'aws_credentials' and not result['problems']:
        key_id = _well_formed(reference[1][0], CREDENTIAL_RE)
        if key_id is None:
            result['problems'].append('aws_credentials: the access key id in %s is not one' % files['aws_credentials'])
        else:
            result['access_key_id'] = key_id
            result['consistent'] = True
    return result


# ------------------------------------------------------- reload bookkeeping

def pending_fingerprint(fingerprint):
    """The fingerprint to record with a copy whose reloads have not run yet."""
    return (fingerprint or '') + RELOAD_PENDING_SUFFIX


def split_pending(fingerprint):
    """(fingerprint, pending) of a recorded fingerprint: the suffix of a copy whose reloads are pending removed."""
    if isinstance(fingerprint, str) and fingerprint.endswith(RELOAD_PENDING_SUFFIX):
        return fingerprint[:-len(RELOAD_PENDING_SUFFIX)] or None, True
    return fingerprint, False


def mark_reloaded(text, name):
    """The text of an aws credentials file with the reload mark of profile ``name`` removed (its recorded
    fingerprint without RELOAD_PENDING_SUFFIX), or None when there is no mark to remove. Every other byte stays."""
    if text is None:
        return None
    title = section('aws_credentials', name)
    values = _lenient_section(text, title)
    if values is None:
        return None
    found = [(k, v) for k, v in values.items() if isinstance(k, str) and k.lower() == FINGERPRINT_KEY]
    if len(found) != 1 or not isinstance(found[0][1], str):
        return None
    fingerprint, pending = split_pending(found[0][1].strip())
    if not pending:
        return None
    new_text, dummy, dummy2, dummy3 = _ini.apply(text, title, {found[0][0]: fingerprint}, 'present')
    return new_text


# ------------------------------------------------------- the aws CLI's reading

OTHER_SOURCES = ('credential_process', 'role_arn', 'sso_session', 'sso_start_url', 'web_identity_token_file')


def aws_profile_map(sections):
    """({profile: (section, values)}, {services name: values}) as botocore's build_profile_map sees them."""
    profiles, services = {}, {}
    for title, values in sections.items():
        if title == 'default':
            profiles['default'] = (title, values)
            continue
        if title.startswith('profile'):
            target = profiles
        elif title.startswith('services'):
            target = services
        else:
            continue
        try:
            parts = shlex.split(title)
        except ValueError:
            continue
        if len(parts) == 2:
            target[parts[1]] = (title, values) if target is profiles else values
    return profiles, services


def _text(values, name):
    value = values.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def aws_profile(profile, credentials, config, credentials_file, config_file, env=None):
    """Credentials and endpoint of an aws CLI profile, resolved as botocore resolves them, from the sections
    (``_ini.parse_strict``) of the credentials and the config file: {access_key_id, secret_access_key,
    session_token, endpoint_url, ca_bundle, where}. Raises LayoutError (no value in any message)."""
    env = env or {}
    profiles, services = aws_profile_map(config or {})
    credentials = credentials or {}
    config_section, values_of_config = profiles.get(profile, (section('aws_config', profile), None))
    key, secret, session = CREDENTIAL_KEYS['aws_credentials']
    if key in credentials.get(profile, {}):
        where, values = '[%s] of %s' % (profile, credentials_file), credentials[profile]
    elif values_of_config is not None and key in values_of_config:
        where, values = '[%s] of %s' % (config_section, config_file), values_of_config
    else:
        if profile not in credentials and values_of_config is None:
            raise LayoutError('profile %s not found: no [%s] in %s and no [%s] in %s' % (
                profile, profile, credentials_file, config_section, config_file))
        others = [name for name in OTHER_SOURCES if values_of_config and name in values_of_config]
        hint = (' (it uses %s, which this module does not run: it checks static keys only)' % ', '.join(others)
                if others else '')
        raise LayoutError('profile %s has no %s: neither in [%s] of %s nor in [%s] of %s%s'
                          % (profile, key, profile, credentials_file, config_section, config_file, hint))
    found = {'access_key_id': _text(values, key), 'secret_access_key': _text(values, secret)}
    for name, value in ((key, found['access_key_id']), (secret, found['secret_access_key'])):
        if value is None:
            raise LayoutError('profile %s: %s has no value for %s' % (profile, where, name))
    # botocore looks at the older name first
    found['session_token'] = _text(values, 'aws_security_token') or _text(values, session)
    values_of_config = values_of_config or {}
    endpoint = _text(values_of_config, 'endpoint_url')
    if values_of_config.get('services'):
        name = str(values_of_config['services']).strip()
        if name not in services:
            raise LayoutError('profile %s: [%s] of %s names services %s, but there is no [services %s] in it'
                              % (profile, config_section, config_file, _ini.shown(name), _ini.shown(name)))
        s3_block = services[name].get('s3')
        if isinstance(s3_block, dict) and _text(s3_block, 'endpoint_url'):
            endpoint = _text(s3_block, 'endpoint_url')
    found.update(endpoint_url=endpoint, ca_bundle=env.get('AWS_CA_BUNDLE') or _text(values_of_config, 'ca_bundle'),
                 where=where)
    return found
