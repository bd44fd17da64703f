# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_profile: one section of an INI-style client file, everything else byte for byte."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import grp
import json
import os
import pwd
import stat

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_profile
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    message_of,
    patch_module_exits,
    result_of,
    run_module,
)

# long, random-looking fakes: no_log masks by value, short ones would mask unrelated text
SECRET = 'Zq8Xv3Lm0Rt7Yp2Wk5Hs9Dn4Gb6Jc1Fa8Ue3Io0Pq7Mw2Nx5By9Tz4Kr6Vs1Cd8E'
SECRET_2 = 'Hn5Tq0Wc7Xp2Lr9Mz4Kb6Yd1Fs8Ga3Je0Uv5Io7Pk2Nw9Rb4Qt6Sm1Zx8Cy3Dh'
SESSION = 'IQoJb3JpZ2luX2VjEJr2s3cr3tS3ss10nT0k3nQx7Vb4Nm1Lk8Jh5Gf2Ds9Ap6Zw3Xc0Ve7Rt4Yu1Io8Pl5Km2Nj9'
KEY_ID = 'ed17574386854bf78a67040be0a770b0'
ENDPOINT = 'https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com'

FOREIGN = (
    '# my hand-written profiles\n'
    '[default]\n'
    'aws_access_key_id = AKIAFOREIGN\n'
    'aws_secret_access_key = foreign-secret-value-0123456789\n'
    '\n'
    '; staging account, keep\n'
    '[staging]\n'
    'aws_access_key_id=AKIASTAGING\n'
    'aws_secret_access_key=staging-secret-value-0123456789\n'
)


@pytest.fixture(autouse=True)
def _exits(monkeypatch):
    patch_module_exits(monkeypatch)


def run(check=False, diff=False, **args):
    return run_module(r2_profile, args, check=check, diff=diff)


def ok(**args):
    return result_of(run(**args))


def failed(**args):
    return message_of(run(**args))


def read(path):
    with open(str(path)) as handle:
        return handle.read()


def write(path, text):
    with open(str(path), 'w') as handle:
        handle.write(text)


def config_values():
    return dict(region='auto', endpoint_url=ENDPOINT, s3=dict(addressing_style='path'),
                request_checksum_calculation='when_required', response_checksum_validation='when_required')


def cred_values(secret=SECRET, session=None):
    return dict(aws_access_key_id=KEY_ID, aws_secret_access_key=secret, aws_session_token=session)


def parse(path):
    parser = configparser.RawConfigParser()  # what botocore uses: strict about duplicates
    parser.read(str(path))
    return parser


# ------------------------------------------------------------------ create

def test_creates_the_file_with_the_section_0600(tmp_path):
    path = tmp_path / 'config'
    result = ok(path=str(path), section='profile backup', values=config_values())
    assert result['changed'] is True and result['created'] is True
    assert read(path) == (
        '[profile backup]\n'
        'region = auto\n'
        'endpoint_url = %s\n'
        's3 =\n'
        '  addressing_style = path\n'
        'request_checksum_calculation = when_required\n'
        'response_checksum_validation = when_required\n' % ENDPOINT)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert result['added'] == ['region', 'endpoint_url', 's3', 's3.addressing_style',
                               'request_checksum_calculation', 'response_checksum_validation']
    assert not [name for name in os.listdir(str(tmp_path)) if name != 'config'], 'temporary file left behind'


def test_new_file_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        ok(path=str(tmp_path / 'credentials'), section='backup', values=cred_values())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(tmp_path / 'credentials')).st_mode) == 0o600


def test_missing_folder_fails_clearly(tmp_path):
    msg = failed(path=str(tmp_path / 'nope' / 'config'), section='x', values={'a': 'b'})
    assert 'the folder of' in msg and 'does not exist' in msg


def test_values_required_with_present(tmp_path):
    assert 'values' in failed(path=str(tmp_path / 'c'), section='x')


# ------------------------------------------------------- merge into others

def test_adds_a_section_after_the_others_and_keeps_them_byte_for_byte(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    result = ok(path=str(path), section='backup', values=cred_values())
    assert result['changed'] is True and result['created'] is False
    assert read(path) == FOREIGN + '\n[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (KEY_ID, SECRET)
    parser = parse(path)
    assert parser.get('staging', 'aws_access_key_id') == 'AKIASTAGING'
    assert parser.get('backup', 'aws_secret_access_key') == SECRET


def test_file_without_final_newline(tmp_path):
    path = tmp_path / 'credentials'
    write(path, '[other]\na = 1')
    ok(path=str(path), section='backup', values={'aws_access_key_id': KEY_ID})
    assert read(path) == '[other]\na = 1\n\n[backup]\naws_access_key_id = %s\n' % KEY_ID


def test_updates_in_place_keeps_comments_unknown_keys_and_other_sections(tmp_path):
    path = tmp_path / 'credentials'
    original = (
        '[default]\n'
        'aws_access_key_id = AKIAFOREIGN\n'
        '\n'
        '[backup]\n'
        '# rotated by ansible\n'
        'aws_access_key_id = %s\n'
        'aws_secret_access_key = %s\n'
        'metadata_service_timeout = 5\n'
        '; trailing note about staging\n'
        '\n'
        '[staging]\n'
        'aws_access_key_id = AKIASTAGING\n' % (KEY_ID, SECRET))
    write(path, original)
    result = ok(path=str(path), section='backup', values=cred_values(secret=SECRET_2, session=SESSION))
    assert result['changed'] is True
    assert result['updated'] == ['aws_secret_access_key'] and result['added'] == ['aws_session_token']
    assert read(path) == original.replace(
        'aws_secret_access_key = %s\nmetadata_service_timeout = 5\n' % SECRET,
        'aws_secret_access_key = %s\nmetadata_service_timeout = 5\naws_session_token = %s\n' % (SECRET_2, SESSION))


def test_null_removes_a_key_and_only_that_key(tmp_path):
    path = tmp_path / 'credentials'
    write(path, '[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n'
          'r2_expiration = 2030-01-01T00:00:00Z\nkeep = me\n' % (KEY_ID, SECRET, SESSION))
    result = ok(path=str(path), section='backup', values=dict(cred_values(), r2_expiration=None))
    assert sorted(result['removed']) == ['aws_session_token', 'r2_expiration']
    assert read(path) == '[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\nkeep = me\n' % (KEY_ID, SECRET)


def test_value_already_right_keeps_its_spelling(tmp_path):
    path = tmp_path / 'config'
    write(path, '[profile backup]\nregion=auto\n')
    result = ok(path=str(path), section='profile  backup', values={'region': 'auto'})
    assert result['changed'] is False and read(path) == '[profile backup]\nregion=auto\n'


def test_keys_case_insensitive_and_duplicates_collapsed(tmp_path):
    path = tmp_path / 'credentials'
    write(path, '[backup]\nAWS_ACCESS_KEY_ID = old\nother = 1\naws_access_key_id = older\n')
    ok(path=str(path), section='backup', values={'aws_access_key_id': KEY_ID})
    assert read(path) == '[backup]\naws_access_key_id = %s\nother = 1\n' % KEY_ID
    assert parse(path).get('backup', 'aws_access_key_id') == KEY_ID


def test_crlf_file_keeps_its_line_endings(tmp_path):
    path = tmp_path / 'rclone.conf'
    with open(str(path), 'wb') as handle:
        handle.write(b'[other]\r\ntype = local\r\n')
    ok(path=str(path), section='backup', values={'type': 's3'})
    with open(str(path), 'rb') as handle:
        assert handle.read() == b'[other]\r\ntype = local\r\n\r\n[backup]\r\ntype = s3\r\n'


def test_refuses_duplicate_sections(tmp_path):
    path = tmp_path / 'config'
    write(path, '[x]\na = 1\n[x]\nb = 2\n')
    assert 'appears 2 times' in failed(path=str(path), section='x', values={'a': '1'})


def test_bool_and_int_values(tmp_path):
    path = tmp_path / 'rclone.conf'
    ok(path=str(path), section='r', values={'no_check_bucket': True, 'chunk_size': 5, 'empty': ''})
    assert read(path) == '[r]\nno_check_bucket = true\nchunk_size = 5\nempty =\n'
    assert ok(path=str(path), section='r', values={'no_check_bucket': True, 'chunk_size': 5, 'empty': ''})[
        'changed'] is False


@pytest.mark.parametrize('values, fragment', [
    ({'a': 'x\ny'}, 'the value of a contains a line break'),
    ({'a\n': 'x'}, 'must be a non-empty string'),
    ({'a=b': 'x'}, 'may not contain'),
    ({'a': ['x']}, 'is a list'),
    ({'a': 'x', 'A': 'y'}, 'given twice'),
    ({'s3': {'n': {'deep': 'x'}}}, 'one level of nesting'),
])
def test_bad_values_fail_without_echoing_them(tmp_path, values, fragment):
    msg = failed(path=str(tmp_path / 'c'), section='x', values=values)
    assert fragment in msg
    assert not os.path.exists(str(tmp_path / 'c'))


@pytest.mark.parametrize('section', ['a]b', 'a\nb', ' '])
def test_bad_section_names(tmp_path, section):
    assert 'section' in failed(path=str(tmp_path / 'c'), section=section, values={'a': 'b'})


# ----------------------------------------------------------------- nested

def test_nested_block_merges_and_keeps_foreign_subkeys(tmp_path):
    path = tmp_path / 'config'
    original = (
        '[profile backup]\n'
        'region = auto\n'
        's3 =\n'
        '    max_concurrent_requests = 20\n'
        '    # tuned for the backup box\n'
        '    addressing_style = virtual\n'
        'output = json\n')
    write(path, original)
    result = ok(path=str(path), section='profile backup',
                values={'region': 'auto', 's3': {'addressing_style': 'path', 'payload_signing_enabled': False}})
    assert result['updated'] == ['s3.addressing_style'] and result['added'] == ['s3.payload_signing_enabled']
    assert read(path) == (
        '[profile backup]\n'
        'region = auto\n'
        's3 =\n'
        '    max_concurrent_requests = 20\n'
        '    # tuned for the backup box\n'
        '    addressing_style = path\n'
        '    payload_signing_enabled = false\n'
        'output = json\n')
    parser = parse(path)
    assert parser.get('profile backup', 's3').split() == ['max_concurrent_requests', '=', '20', 'addressing_style',
                                                          '=', 'path', 'payload_signing_enabled', '=', 'false']
    assert ok(path=str(path), section='profile backup',
              values={'region': 'auto', 's3': {'addressing_style': 'path', 'payload_signing_enabled': False}})[
        'changed'] is False


def test_scalar_turned_into_nested_and_null_subkey(tmp_path):
    path = tmp_path / 'config'
    write(path, '[profile p]\ns3 = broken\n')
    ok(path=str(path), section='profile p', values={'s3': {'addressing_style': 'path', 'gone': None}})
    assert read(path) == '[profile p]\ns3 =\n  addressing_style = path\n'
    ok(path=str(path), section='profile p', values={'s3': {'addressing_style': None}})
    assert read(path) == '[profile p]\ns3 =\n'


def test_nested_rendered_block_reads_back_with_the_aws_parser(tmp_path):
    path = tmp_path / 'config'
    ok(path=str(path), section='profile backup', values=config_values())
    value = parse(path).get('profile backup', 's3')
    assert value.strip() == 'addressing_style = path'


# ----------------------------------------------------------------- absent

def test_absent_removes_only_its_section(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    ok(path=str(path), section='backup', values=cred_values(session=SESSION))
    result = ok(path=str(path), section='backup', state='absent')
    assert result['changed'] is True
    assert sorted(result['removed']) == ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token']
    assert read(path) == FOREIGN
    assert ok(path=str(path), section='backup', state='absent')['changed'] is False


def test_absent_in_the_middle_keeps_the_next_sections_comment(tmp_path):
    path = tmp_path / 'credentials'
    write(path, '[a]\nx = 1\n\n[backup]\n# mine\nk = v\n\n; about c\n[c]\ny = 2\n')
    ok(path=str(path), section='backup', state='absent')
    assert read(path) == '[a]\nx = 1\n\n; about c\n[c]\ny = 2\n'


def test_absent_missing_file_is_fine(tmp_path):
    result = ok(path=str(tmp_path / 'none'), section='backup', state='absent')
    assert result['changed'] is False and not os.path.exists(str(tmp_path / 'none'))


def test_absent_does_not_touch_the_mode(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    os.chmod(str(path), 0o640)
    assert ok(path=str(path), section='backup', state='absent', mode='0600')['changed'] is False
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640


# ------------------------------------------------------------ idempotence

def test_second_run_changes_nothing_and_does_not_rewrite(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    args = dict(path=str(path), section='backup', values=cred_values(session=SESSION), mode='0600')
    assert ok(**args)['changed'] is True
    inode = os.stat(str(path)).st_ino
    mtime = os.stat(str(path)).st_mtime_ns
    second = ok(**args)
    assert second['changed'] is False and second['added'] == second['updated'] == second['removed'] == []
    assert (os.stat(str(path)).st_ino, os.stat(str(path)).st_mtime_ns) == (inode, mtime)


# ------------------------------------------------------------- check mode

def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    os.chmod(str(path), 0o644)
    result = ok(path=str(path), section='backup', values=cred_values(), mode='0600', check=True)
    assert result['changed'] is True and result['added'] == ['aws_access_key_id', 'aws_secret_access_key']
    assert read(path) == FOREIGN and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert sorted(os.listdir(str(tmp_path))) == ['credentials']


def test_check_mode_new_file_in_missing_folder(tmp_path):
    path = tmp_path / 'not-yet' / 'config'
    result = ok(path=str(path), section='profile x', values=config_values(), check=True, diff=True)
    assert result['changed'] is True and result['created'] is True
    assert not os.path.exists(str(tmp_path / 'not-yet'))
    assert result['diff'][1]['after']['mode'] == '0600'


def test_check_mode_predicts_no_change_when_in_sync(tmp_path):
    path = tmp_path / 'credentials'
    ok(path=str(path), section='backup', values=cred_values())
    assert ok(path=str(path), section='backup', values=cred_values(), check=True)['changed'] is False


def test_check_mode_mode_only_change(tmp_path):
    path = tmp_path / 'credentials'
    ok(path=str(path), section='backup', values=cred_values())
    os.chmod(str(path), 0o644)
    assert ok(path=str(path), section='backup', values=cred_values(), mode='0600', check=True)['changed'] is True
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


# ------------------------------------------------------------------- diff

def test_diff_is_the_section_only_with_secrets_masked(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN + '\n[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (KEY_ID, SECRET))
    result = ok(path=str(path), section='backup', values=cred_values(secret=SECRET_2, session=SESSION), diff=True)
    text_diff = result['diff'][0]
    assert text_diff['before'] == '[backup]\naws_access_key_id = %s\naws_secret_access_key = ********\n' % KEY_ID
    assert text_diff['after'] == ('[backup]\naws_access_key_id = %s\naws_secret_access_key = ********\n'
                                  'aws_session_token = ********\n' % KEY_ID)
    assert text_diff['before_header'].endswith('credentials [backup]')
    assert 'staging' not in json.dumps(result['diff'])


def test_no_secret_anywhere_in_the_result(tmp_path):
    path = tmp_path / 'rclone.conf'
    write(path, '[backup]\nsecret_access_key = %s\n' % SECRET)
    result = ok(path=str(path), section='backup', diff=True, secret_keys=['sse_customer_key'],
                values={'type': 's3', 'access_key_id': KEY_ID, 'secret_access_key': SECRET_2, 'session_token': SESSION,
                        'sse_customer_key': 'Cu5t0mErK3yV4luE9Xq2Wm7Lp4Rt1Yh8Gd3Fs6Ja0', 'endpoint': ENDPOINT})
    dumped = json.dumps(result)
    for secret in (SECRET, SECRET_2, SESSION, 'Cu5t0mErK3yV4luE9Xq2Wm7Lp4Rt1Yh8Gd3Fs6Ja0'):
        assert secret not in dumped
    assert 'sse_customer_key = ********' in result['diff'][0]['after']
    # non-secret values stay readable, in the diff and in the invocation
    assert 'endpoint = %s' % ENDPOINT in result['diff'][0]['after']
    invocation_values = result['invocation']['module_args']['values']
    assert invocation_values['endpoint'] == ENDPOINT and invocation_values['type'] == 's3'
    assert invocation_values['secret_access_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_failure_output_has_no_secret(tmp_path):
    path = tmp_path / 'config'
    write(path, '[x]\n[x]\n')
    outcome = run(path=str(path), section='x', values={'aws_secret_access_key': SECRET})
    assert outcome.failed and SECRET not in json.dumps(outcome.result)


# ------------------------------------------------------------ mode/owner

def test_mode_is_enforced_on_existing_file_before_the_write(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    os.chmod(str(path), 0o644)
    result = ok(path=str(path), section='backup', values=cred_values(), mode='0600', diff=True)
    assert result['changed'] is True
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert result['diff'][1] == {'before': {'path': str(path), 'mode': '0644'},
                                 'after': {'path': str(path), 'mode': '0600'}}
    # attributes only: changed without a content change
    os.chmod(str(path), 0o644)
    again = ok(path=str(path), section='backup', values=cred_values(), mode='0600')
    assert again['changed'] is True and again['added'] == [] and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_owner_and_group(tmp_path):
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    path = tmp_path / 'credentials'
    ok(path=str(path), section='backup', values=cred_values(), owner=me, group=group, mode='0640')
    info = os.stat(str(path))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (os.getuid(), os.getgid(), 0o640)


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to give a file away')
def test_owner_change_as_root(tmp_path):
    nobody = pwd.getpwnam('nobody')
    path = tmp_path / 'credentials'
    ok(path=str(path), section='backup', values=cred_values(), owner='nobody', group=str(nobody.pw_gid))
    info = os.stat(str(path))
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o600)
    # an update keeps the owner (the new content is moved in with the old file's attributes)
    ok(path=str(path), section='backup', values=cred_values(secret=SECRET_2), owner='nobody')
    assert os.stat(str(path)).st_uid == nobody.pw_uid


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_a_symlink_is_refused_and_its_target_untouched(tmp_path, state):
    target = tmp_path / 'real'
    write(target, FOREIGN + '[backup]\nk = v\n')
    before = (read(target), os.stat(str(target)))
    link = tmp_path / 'credentials'
    os.symlink(str(target), str(link))
    message = failed(path=str(link), section='backup', values=cred_values() if state == 'present' else None,
                     state=state)
    assert 'symbolic link' in message and str(link) in message
    after = os.stat(str(target))
    assert read(target) == before[0] and (after.st_mode, after.st_uid, after.st_ino) == (
        before[1].st_mode, before[1].st_uid, before[1].st_ino)
    assert os.path.islink(str(link))


def test_a_fifo_or_a_hard_link_is_refused(tmp_path):
    fifo = tmp_path / 'credentials'
    os.mkfifo(str(fifo))
    assert 'it is a FIFO' in failed(path=str(fifo), section='backup', values=cred_values())
    shared = tmp_path / 'shared'
    write(shared, FOREIGN)
    os.link(str(shared), str(tmp_path / 'config'))
    assert 'hard link' in failed(path=str(tmp_path / 'config'), section='backup', values=cred_values())
    assert read(shared) == FOREIGN


def test_absent_keeps_foreign_trailing_blank_lines(tmp_path):
    path = tmp_path / 'credentials'
    write(path, '[a]\nx = 1\n\n[backup]\nk = v\n\n[c]\ny = 2\n\n\n')
    ok(path=str(path), section='backup', state='absent')
    assert read(path) == '[a]\nx = 1\n\n[c]\ny = 2\n\n\n'


def test_default_section_and_reading_back_with_configparser(tmp_path):
    path = tmp_path / 'config'
    write(path, '[profile other]\nregion = us-east-1\n')
    ok(path=str(path), section='default', values=config_values())
    parser = parse(path)
    assert parser.get('default', 'endpoint_url') == ENDPOINT
    assert parser.get('profile other', 'region') == 'us-east-1'


def test_surrounding_blanks_are_not_a_perpetual_change(tmp_path):
    path = tmp_path / 'config'
    ok(path=str(path), section='p', values={'region': ' auto '})
    assert read(path) == '[p]\nregion = auto\n'
    assert ok(path=str(path), section='p', values={'region': ' auto '})['changed'] is False


def test_a_link_a_user_made_above_the_file_is_not_followed(tmp_path):
    """The owner's ~/.config is a link to a root folder: root neither reads nor hands over the file behind it."""
    home = tmp_path / 'alice'
    home.mkdir()
    os.chown(str(home), 12345, 12345)
    rootdir = tmp_path / 'root-config'
    (rootdir / 'rclone').mkdir(parents=True)
    target = rootdir / 'rclone' / 'rclone.conf'
    write(target, '[root]\nsecret_access_key = %s\n' % SECRET)
    os.symlink(str(rootdir), str(home / '.config'))
    message = failed(path=str(home / '.config' / 'rclone' / 'rclone.conf'), section='alice', values=cred_values(),
                     owner='12345', group='12345')
    assert 'symbolic link' in message and SECRET not in message
    info = os.stat(str(target))
    assert (info.st_uid, read(target)) == (0, '[root]\nsecret_access_key = %s\n' % SECRET)


def test_a_secret_is_never_left_in_a_file_others_can_read(tmp_path):
    path = tmp_path / 'credentials'
    write(path, FOREIGN)
    os.chmod(str(path), 0o644)
    ok(path=str(path), section='profile x', values={'region': 'auto'})
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644   # no secret: the file keeps its mode
    result = ok(path=str(path), section='backup', values=cred_values())
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
