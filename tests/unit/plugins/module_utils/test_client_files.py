# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_client_files: the one client-file layout, what is written, and what a host is read to hold."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import json
import secrets

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini

botocore_configloader = pytest.importorskip('botocore.configloader')

ACCOUNT = '0123456789abcdef0123456789abcdef'
KEY = secrets.token_hex(16)
SECRET = secrets.token_hex(32)
SESSION = secrets.token_urlsafe(96)
HOME = '/home/deploy'


def profiles_of(*raw, **defaults):
    profiles, errors = _client_files.normalize_profiles(list(raw), defaults)
    assert not errors, errors
    return profiles


def profile(**fields):
    base = dict(name='media', access_key_id=KEY, secret_access_key=SECRET, account_id=ACCOUNT, jurisdiction='eu',
                permission='object_read_write')
    base.update(fields)
    return base


def planned(profiles, files=None):
    files = dict(files or {})
    plan = _client_files.plan_user(_client_files.Layout(HOME), profiles, files.get)
    return plan, dict((path, item['new']) for path, item in plan.items() if item['new'] is not None)


# ------------------------------------------------------------------ layout

def test_default_paths_and_overrides():
    layout = _client_files.Layout(HOME)
    assert layout.files({'name': 'media'}) == {
        'aws_config': '/home/deploy/.aws/config', 'aws_credentials': '/home/deploy/.aws/credentials',
        'rclone': '/home/deploy/.config/rclone/rclone.conf', 's3cmd': '/home/deploy/.s3cfg-media',
        'env_file': '/home/deploy/.config/r2/media.env'}
    other = _client_files.Layout(HOME, {'env_dir': '/etc/r2', 's3cmd_dir': '/srv/s3', 'aws_config_file': ''})
    assert other.path('env_file', 'media') == '/etc/r2/media.env'
    assert other.path('s3cmd', 'media') == '/srv/s3/.s3cfg-media'
    assert other.path('aws_config', 'media') == '/home/deploy/.aws/config'
    assert layout.leaf_dirs() == ['/home/deploy/.aws', '/home/deploy/.config/r2', '/home/deploy/.config/rclone']


@pytest.mark.parametrize('overrides, message', [
    ({'env_dir': 'relative'}, 'env_dir: must be an absolute path'),
    ({'env_dir': '/etc/../root'}, 'env_dir: must be an absolute path without ".."'),
    ({'env_dir': '/etc/r2\n'}, 'env_dir: must be an absolute path'),
    ({'nope': '/x'}, 'unknown path option nope'),
])
def test_bad_path_overrides(overrides, message):
    with pytest.raises(_client_files.LayoutError, match=message.replace('(', r'\(')):
        _client_files.Layout(HOME, overrides)


def test_sections():
    assert _client_files.section('aws_config', 'default') == 'default'
    assert _client_files.section('aws_config', 'media') == 'profile media'
    assert _client_files.section('aws_credentials', 'media') == 'media'
    assert _client_files.section('rclone', 'media') == 'media'


# ---------------------------------------------------------------- profiles

@pytest.mark.parametrize('fields, message', [
    ({'name': 'media\n'}, 'profiles[0]: name: required'),
    ({'name': 'bad name'}, 'profiles[0]: name: required'),
    ({'access_key_id': None}, 'profiles[0] (media): access_key_id: required'),
    ({'secret_access_key': SECRET + '\n'}, 'profiles[0] (media): secret_access_key: has characters'),
    ({'session_token': 'a b'}, 'profiles[0] (media): session_token: has characters'),
    ({'account_id': ACCOUNT + '\n'}, 'profiles[0] (media): account_id: must be 32 lowercase'),
    ({'endpoint_url': 'https://x.example/\n'}, 'profiles[0] (media): endpoint_url: must be an http'),
    ({'endpoint_override': 'https://u:p@x.example'}, 'profiles[0] (media): endpoint_override: must be an http'),
    ({'account_id': None}, 'profiles[0] (media): jurisdiction: given without account_id'),
    ({'account_id': None, 'jurisdiction': None}, 'profiles[0] (media): endpoint_url: required'),
    ({'addressing_style': 'sideways'}, 'profiles[0] (media): addressing_style: must be path, virtual or auto'),
    ({'rclone': 'yes'}, 'profiles[0] (media): rclone: must be a boolean'),
    ({'expiration': 'tomorrow'}, 'profiles[0] (media): expiration: must be an RFC 3339 time'),
    ({'fingerprint': 'x\u202e'}, 'profiles[0] (media): fingerprint: must be 1 to 128'),
    ({'colour': 'blue'}, 'profiles[0] (media): unknown field(s) colour'),
    ({'state': 'gone'}, 'profiles[0] (media): state: must be present or absent'),
], ids=lambda value: None if isinstance(value, dict) else value.split(': ')[1])
def test_bad_profiles_name_the_field_and_never_the_value(fields, message):
    raw = profile(**fields)
    raw = dict((k, v) for k, v in raw.items() if v is not None)
    dummy, errors = _client_files.normalize_profiles([raw])
    assert any(e.startswith(message) for e in errors), errors
    assert SECRET not in json.dumps(errors)


def test_duplicate_names_and_caps():
    dummy, errors = _client_files.normalize_profiles([profile(), profile()])
    assert errors == ['profiles[1] (media): name: used by another profile']
    dummy, errors = _client_files.normalize_profiles([profile(name='p%d' % i) for i in range(257)])
    assert errors == ['profiles: at most 256 profiles per user']


def test_endpoints():
    eu, default, override = profiles_of(profile(), profile(name='b', jurisdiction=None),
                                        profile(name='c', endpoint_override='http://127.0.0.1:9000/'))
    assert eu['endpoint'] == 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT
    assert default['endpoint'] == 'https://%s.r2.cloudflarestorage.com' % ACCOUNT
    assert override['endpoint'] == 'http://127.0.0.1:9000'
    assert eu['object_level'] is True and eu['rclone'] is True and eu['s3cmd'] is False


# --------------------------------------------------------------- rendering

def test_what_each_client_reads(tmp_path):
    media = profile(session_token=SESSION, expiration='2026-12-01T10:00:00Z', fingerprint='fp1', s3cmd=True,
                    env_file=True)
    dummy, files = planned(profiles_of(media))
    for path, text in files.items():
        (tmp_path / path.replace('/', '_')).write_text(text)
    config = botocore_configloader.raw_config_parse(str(tmp_path / '_home_deploy_.aws_config'))
    assert config['profile media'] == {
        'region': 'auto', 'endpoint_url': 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT,
        's3': {'addressing_style': 'path'}, 'request_checksum_calculation': 'when_required',
        'response_checksum_validation': 'when_required'}
    credentials = botocore_configloader.raw_config_parse(str(tmp_path / '_home_deploy_.aws_credentials'))
    assert credentials['media'] == {'aws_access_key_id': KEY, 'aws_secret_access_key': SECRET,
                                    'aws_session_token': SESSION, 'r2_expiration': '2026-12-01T10:00:00Z',
                                    'r2_fingerprint': 'fp1'}
    rclone = configparser.ConfigParser(interpolation=None)
    rclone.read_string(files['/home/deploy/.config/rclone/rclone.conf'])
    assert dict(rclone['media']) == {
        'type': 's3', 'provider': 'Cloudflare', 'access_key_id': KEY, 'secret_access_key': SECRET,
        'session_token': SESSION, 'endpoint': 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT, 'region': 'auto',
        'acl': 'private', 'force_path_style': 'true', 'no_check_bucket': 'true'}
    s3cmd = configparser.RawConfigParser()  # s3cmd reads its file with configparser too
    s3cmd.read_string(files['/home/deploy/.s3cfg-media'])
    assert dict(s3cmd['default']) == {
        'access_key': KEY, 'secret_key': SECRET, 'access_token': SESSION,
        'host_base': '%s.eu.r2.cloudflarestorage.com' % ACCOUNT, 'host_bucket': '%s.eu.r2.cloudflarestorage.com' % ACCOUNT,
        'use_https': 'True', 'signature_v2': 'False', 'bucket_location': 'auto'}
    assert _ini.read_env(files['/home/deploy/.config/r2/media.env']) == {
        'AWS_ACCESS_KEY_ID': KEY, 'AWS_SECRET_ACCESS_KEY': SECRET, 'AWS_SESSION_TOKEN': SESSION,
        'AWS_ENDPOINT_URL_S3': 'https://%s.eu.r2.cloudflarestorage.com' % ACCOUNT, 'AWS_DEFAULT_REGION': 'auto',
        'AWS_REGION': 'auto', 'AWS_REQUEST_CHECKSUM_CALCULATION': 'when_required',
        'AWS_RESPONSE_CHECKSUM_VALIDATION': 'when_required', 'R2_CREDENTIALS_EXPIRATION': '2026-12-01T10:00:00Z'}
    assert _client_files.is_ours(files['/home/deploy/.s3cfg-media'], 'media')
    assert not _client_files.is_ours(files['/home/deploy/.s3cfg-media'], 'other')


def test_several_profiles_make_one_write_per_file_and_foreign_content_survives():
    foreign = '# mine\n[default]\naws_access_key_id = AKIAFOREIGN\naws_secret_access_key = %s\n' % SECRET[::-1]
    plan, files = planned(profiles_of(profile(), profile(name='logs')), {'/home/deploy/.aws/credentials': foreign})
    text = files['/home/deploy/.aws/credentials']
    assert text.startswith(foreign) and '[media]' in text and '[logs]' in text
    assert sorted(plan) == ['/home/deploy/.aws/config', '/home/deploy/.aws/credentials',
                            '/home/deploy/.config/r2/logs.env', '/home/deploy/.config/r2/media.env',
                            '/home/deploy/.config/rclone/rclone.conf', '/home/deploy/.s3cfg-logs',
                            '/home/deploy/.s3cfg-media']
    # the diffs show the new sections with every secret masked
    dumped = json.dumps([item['diffs'] for item in plan.values()])
    assert SECRET not in dumped and SECRET[::-1] not in dumped and '********' in dumped


def test_absent_and_switched_off_remove_only_what_is_ours():
    media = profile(s3cmd=True, env_file=True)
    dummy, files = planned(profiles_of(media))
    foreign_s3cfg = '[default]\naccess_key = mine\n'
    files['/home/deploy/.s3cfg-logs'] = foreign_s3cfg
    plan, after = planned(profiles_of({'name': 'media', 'state': 'absent'}, {'name': 'logs', 'state': 'absent'}),
                          files)
    assert '/home/deploy/.s3cfg-media' not in after and '/home/deploy/.config/r2/media.env' not in after
    assert after['/home/deploy/.s3cfg-logs'] == foreign_s3cfg
    assert '[media]' not in after['/home/deploy/.aws/credentials']
    # rclone switched off: the remote goes, the aws profile stays
    plan, after = planned(profiles_of(profile(rclone=False)), files)
    assert '[media]' not in after['/home/deploy/.config/rclone/rclone.conf']
    assert '[media]' in after['/home/deploy/.aws/credentials']
    # files of 0.1's templates are recognised as ours
    old_env = '#\n# Ansible managed\n#\n# Cloudflare R2 profile media, for systemd EnvironmentFile= or `set -a`\n'
    old_s3cfg = '#\n# Ansible managed\n#\n# s3cmd configuration for the Cloudflare R2 profile media: s3cmd -c /x\n'
    assert _client_files.is_ours(old_env, 'media') and _client_files.is_ours(old_s3cfg, 'media')
    assert not _client_files.is_ours(old_env, 'logs')
    assert not _client_files.is_ours('AWS_ACCESS_KEY_ID=x\n# Cloudflare R2 profile media, for systemd EnvironmentFile= or\n',
                                     'media')
    assert not _client_files.is_ours('# my notes on the Cloudflare R2 profile media\n', 'media')


def test_a_whole_file_that_is_not_ours_is_never_overwritten():
    mine = '[default]\naccess_key = mine\nsecret_key = %s\n' % SECRET[::-1]
    with pytest.raises(_client_files.LayoutError) as error:
        planned(profiles_of(profile(s3cmd=True)), {'/home/deploy/.s3cfg-media': mine})
    assert str(error.value).startswith('/home/deploy/.s3cfg-media: the file exists and was not written by')
    assert SECRET[::-1] not in str(error.value)


def test_diffs_mask_every_secret_looking_key_and_continuation_lines():
    foreign = ('[media]\naws_access_key_id = AKIA\naws_security_token = %s\nsse_customer_key = %s\n'
               'credential_process =\n  /bin/get --password %s\n' % (SESSION, SECRET, SECRET[::-1]))
    plan, after = planned(profiles_of(profile()), {'/home/deploy/.aws/credentials': foreign})
    dumped = json.dumps(plan['/home/deploy/.aws/credentials']['diffs'])
    assert SESSION not in dumped and SECRET not in dumped and SECRET[::-1] not in dumped
    # the stale older name of the session token is removed: botocore would read it first
    assert 'aws_security_token' not in after['/home/deploy/.aws/credentials']


def test_values_from_the_host_leave_it_only_well_formed():
    dummy, files = planned(profiles_of(profile(fingerprint='fp1')))
    path = '/home/deploy/.aws/credentials'
    files[path] = files[path].replace('r2_fingerprint = fp1', 'r2_fingerprint = \x1b[31mred')
    files[path] = files[path].replace(KEY, 'AKIA\x1b]0;x')
    held = _client_files.held(_client_files.Layout(HOME), {'name': 'media', 'rclone': False, 's3cmd': False,
                                                           'env_file': False}, files.get)
    assert held['fingerprint'] is None and held['access_key_id'] == ''
    assert '\x1b' not in json.dumps(held)


# ----------------------------------------------------------------- reading

def held_of(files, **switches):
    spec = dict({'name': 'media', 'rclone': True, 's3cmd': True, 'env_file': True, 'session': False}, **switches)
    return _client_files.held(_client_files.Layout(HOME), spec, files.get)


def test_held_reads_back_what_was_written():
    dummy, files = planned(profiles_of(profile(s3cmd=True, env_file=True, fingerprint='fp1')))
    assert held_of(files) == {'access_key_id': KEY, 'fingerprint': 'fp1', 'expiration': None, 'consistent': True,
                              'problems': []}


@pytest.mark.parametrize('path, change, problem', [
    ('/home/deploy/.config/rclone/rclone.conf', (SECRET, SECRET[::-1]), 'rclone: /home/deploy/.config/rclone/rclone.conf holds another secret'),
    ('/home/deploy/.s3cfg-media', (KEY, KEY[::-1]), 's3cmd: /home/deploy/.s3cfg-media holds another access key id'),
    ('/home/deploy/.config/r2/media.env', None, 'env_file: no complete credential'),
    ('/home/deploy/.aws/config', None, 'aws_config: no [profile media]'),
], ids=['rclone-secret', 's3cmd-key', 'env-missing', 'config-missing'])
def test_files_that_disagree_are_reported_without_values(path, change, problem):
    dummy, files = planned(profiles_of(profile(s3cmd=True, env_file=True)))
    if change:
        files[path] = files[path].replace(*change)
    else:
        del files[path]
    held = held_of(files)
    assert held['access_key_id'] == '' and held['consistent'] is False
    assert any(p.startswith(problem) for p in held['problems']), held['problems']
    assert SECRET not in json.dumps(held) and SECRET[::-1] not in json.dumps(held)


def test_a_temporary_credential_needs_its_session_token_everywhere():
    dummy, files = planned(profiles_of(profile()))
    assert held_of(files, s3cmd=False, env_file=False, session=True)['access_key_id'] == ''
    dummy, files = planned(profiles_of(profile(session_token=SESSION)))
    assert held_of(files, s3cmd=False, env_file=False, session=True)['access_key_id'] == KEY


def test_credential_in_each_kind():
    dummy, files = planned(profiles_of(profile(s3cmd=True, env_file=True, endpoint_override='http://127.0.0.1:9000')))
    for kind, path in (('aws_credentials', '/home/deploy/.aws/credentials'), ('rclone', '/home/deploy/.config/rclone/rclone.conf'),
                       ('s3cmd', '/home/deploy/.s3cfg-media'), ('env_file', '/home/deploy/.config/r2/media.env')):
        found = _client_files.credential_in(kind, files[path], 'media')
        assert found[:3] == (KEY, SECRET, None)
        if kind != 'aws_credentials':
            assert found[3] == 'http://127.0.0.1:9000'
    assert _client_files.credential_in('rclone', files['/home/deploy/.config/rclone/rclone.conf'], 'other') is None


# --------------------------------------------------- strict reading (botocore)

STRICT_FILES = [
    '[default]\nregion = auto\n',
    '[profile a]\nendpoint_url = https://x.example\ns3 =\n  addressing_style = path\n  max_concurrent_requests = 20\n',
    '# c\n; c\n[profile  spaced]\nk: v\n[services s]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n',
    '[a]\r\nk = v\r\n\r\n[b]\r\nk2 = v2\r\n',
]


@pytest.mark.parametrize('text', STRICT_FILES)
def test_strict_reading_is_botocores(tmp_path, text):
    path = tmp_path / 'config'
    path.write_bytes(text.encode('utf-8'))
    assert _ini.parse_strict(text, str(path)) == botocore_configloader.raw_config_parse(str(path))


@pytest.mark.parametrize('text', STRICT_FILES)
def test_lenient_reading_agrees_on_the_keys_we_use(text):
    strict = _ini.parse_strict(text, 'x')
    lenient = _ini.read_ini(text)
    for title, values in strict.items():
        assert lenient[_ini.normalize_section(title)] == values


@pytest.mark.parametrize('text, message', [
    ('k = v\n[a]\n', 'line 1 comes before any [section] header'),
    ('[a]\n[a]\n', 'section [a] appears twice'),
    ('[a]\nk = 1\nk = %s\n' % SECRET, 'key k appears twice'),
    ('[a]\n%s\n' % SECRET, 'line(s) 2 are neither'),
], ids=['before-header', 'duplicate-section', 'duplicate-key', 'bare-line'])
def test_strict_errors_never_quote_a_line(text, message):
    with pytest.raises(_ini.IniError) as error:
        _ini.parse_strict(text, '/x/config')
    assert message in str(error.value) and SECRET not in str(error.value)


def test_lines_split_only_where_the_clients_split_them():
    # \x0b, \x1c and U+2028 split str.splitlines() but not configparser's lines
    assert len(_ini.split_lines('a\x0bb\x1cc\u2028d\n')) == 1
    assert _ini.split_lines('a\r\nb\rc\nd') == ['a\r\n', 'b\r', 'c\n', 'd']


@pytest.mark.parametrize('text', ['x\n', 'x\u202e', 'x\x00', 'x\x7f', 'x\x85', 'x\u2028', 'x\u200b'])
def test_control_characters(text):
    assert _ini.has_control(text)


def test_plain_text_is_no_control_and_a_tab_only_where_allowed():
    assert not _ini.has_control('a b c-d_é')
    # what is written refuses a tab (issue 9: some clients read it differently); a reader may allow it
    assert _ini.has_control('a\tb') and not _ini.has_control('a\tb', allow_tab=True)


def test_the_reload_mark_is_recorded_with_the_fingerprint_and_removed_alone():
    assert _client_files.split_pending(_client_files.pending_fingerprint('f' * 32)) == ('f' * 32, True)
    assert _client_files.split_pending('f' * 32) == ('f' * 32, False)
    assert _client_files.split_pending(None) == (None, False)
    assert _client_files.FINGERPRINT_RE.fullmatch(_client_files.pending_fingerprint('f' * 32))
    secret = secrets.token_hex(32)
    text = ('# mine\r\n[other]\r\naws_access_key_id = x\r\nr2_fingerprint = e.reload-pending\r\n\r\n'
            '[media]\r\naws_access_key_id = %s\r\naws_secret_access_key = %s\r\nR2_Fingerprint = %s\r\n'
            'my_key = kept ; comment\r\n' % ('a' * 32, secret, _client_files.pending_fingerprint('f' * 32)))
    marked = _client_files.mark_reloaded(text, 'media')
    assert marked == text.replace('R2_Fingerprint = %s' % _client_files.pending_fingerprint('f' * 32),
                                  'R2_Fingerprint = ' + 'f' * 32)
    assert _client_files.mark_reloaded(marked, 'media') is None   # nothing left to remove
    assert _client_files.mark_reloaded(text, 'absent') is None and _client_files.mark_reloaded(None, 'media') is None
    # what held() reads back: the fingerprint with its mark, which _provision splits
    layout = _client_files.Layout('/home/deploy')
    files = {layout.path('aws_credentials', 'media'): marked.replace('\r\n', '\n'),
             layout.path('aws_config', 'media'): '[profile media]\nregion = auto\n'}
    held = _client_files.held(layout, {'name': 'media', 'rclone': False, 's3cmd': False, 'env_file': False},
                              files.get)
    assert held['fingerprint'] == 'f' * 32 and held['access_key_id'] == 'a' * 32
