# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_client_files and r2_client_files_info, run in-process as modules on a folder of the running user."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import secrets
import stat

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_client_files, r2_client_files_info
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    patch_module_exits,
    run_module,
)

ME = pwd.getpwuid(os.geteuid()).pw_name
ACCOUNT = '0123456789abcdef0123456789abcdef'
KEY = secrets.token_hex(16)
SECRET = secrets.token_hex(32)
SESSION = secrets.token_urlsafe(96)


@pytest.fixture(autouse=True)
def _exits(monkeypatch):
    patch_module_exits(monkeypatch)


@pytest.fixture
def home(tmp_path):
    return str(tmp_path / 'home')


def profile(**fields):
    base = dict(name='media', access_key_id=KEY, secret_access_key=SECRET, account_id=ACCOUNT, jurisdiction='eu',
                permission='object_read_write', s3cmd=True, env_file=True, fingerprint='fp1')
    base.update(fields)
    return base


def write(home, profiles, check=False, diff=False, **args):
    params = dict(user=ME, home=home, create_home=True, profiles=profiles)
    params.update(args)
    return run_module(r2_client_files, params, check=check, diff=diff)


def info(home, **switches):
    spec = dict({'name': 'media', 's3cmd': True, 'env_file': True}, **switches)
    outcome = run_module(r2_client_files_info, {'users': [{'user': ME, 'home': home, 'profiles': [spec]}]})
    assert not outcome.failed, outcome.result.get('msg')
    return outcome.result['users'][0]


def tree(home):
    """{relative path: mode} of everything below home."""
    out = {}
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, home)] = '%04o' % stat.S_IMODE(os.lstat(path).st_mode)
    return out


def test_one_call_writes_every_file_0600_in_0700_folders_whatever_the_umask(home):
    old = os.umask(0)
    try:
        outcome = write(home, [profile(), profile(name='logs', session_token=SESSION, s3cmd=False)])
    finally:
        os.umask(old)
    assert not outcome.failed, outcome.result.get('msg')
    result = outcome.result
    assert result['changed'] is True
    assert sorted((f['kind'], f['state']) for f in result['files']) == sorted(
        [('aws_config', 'created'), ('aws_credentials', 'created'), ('rclone', 'created'), ('s3cmd', 'created'),
         ('env_file', 'created'), ('env_file', 'created'), ('s3cmd', 'absent')])
    assert tree(home) == {
        '.aws': '0700', '.aws/config': '0600', '.aws/credentials': '0600', '.config': '0700',
        '.config/r2': '0700', '.config/r2/media.env': '0600', '.config/r2/logs.env': '0600',
        '.config/rclone': '0700', '.config/rclone/rclone.conf': '0600', '.s3cfg-media': '0600'}
    assert result['profiles']['logs'] == {'state': 'present', 'access_key_id': KEY, 'fingerprint': 'fp1',
                                          'expiration': None}
    dumped = json.dumps(result)
    assert SECRET not in dumped and SESSION not in dumped


def test_second_run_changes_nothing_and_reads_back(home):
    write(home, [profile()])
    again = write(home, [profile()])
    assert again.result['changed'] is False
    assert {f['state'] for f in again.result['files']} == {'unchanged'}
    held = info(home)
    assert held['profiles']['media'] == {'access_key_id': KEY, 'fingerprint': 'fp1', 'expiration': None,
                                         'consistent': True, 'problems': []}


def test_check_mode_predicts_and_writes_nothing_and_diff_is_masked(home):
    outcome = write(home, [profile()], check=True, diff=True)
    assert outcome.result['changed'] is True and not os.path.exists(home)
    assert sorted(f['kind'] for f in outcome.result['files'] if f['state'] == 'created') == [
        'aws_config', 'aws_credentials', 'env_file', 'rclone', 's3cmd']
    headers = [d['after_header'] for d in outcome.result['diff']]
    assert '%s/.aws/credentials [media]' % home in headers and '%s/.s3cfg-media' % home in headers
    dumped = json.dumps(outcome.result)
    assert SECRET not in dumped and '********' in dumped and KEY in dumped


def test_a_rolled_secret_rewrites_every_file_and_a_partial_copy_is_noticed(home):
    write(home, [profile()])
    new_secret = secrets.token_hex(32)
    # a render killed after the first file: only the aws credentials hold the new secret
    path = os.path.join(home, '.aws', 'credentials')
    with open(path) as handle:
        text = handle.read()
    with open(path, 'w') as handle:
        handle.write(text.replace(SECRET, new_secret))
    held = info(home)['profiles']['media']
    assert held['access_key_id'] == '' and held['consistent'] is False
    assert sorted(p.split(':')[0] for p in held['problems']) == ['env_file', 'rclone', 's3cmd']
    repaired = write(home, [profile(secret_access_key=new_secret)])
    assert sorted(f['kind'] for f in repaired.result['files'] if f['state'] == 'changed') == [
        'env_file', 'rclone', 's3cmd']
    assert info(home)['profiles']['media']['consistent'] is True


def test_absent_removes_its_sections_and_files_only(home):
    write(home, [profile(), profile(name='keep')])
    foreign = os.path.join(home, '.s3cfg-other')
    with open(foreign, 'w') as handle:
        handle.write('[default]\naccess_key = mine\n')
    outcome = write(home, [{'name': 'media', 'state': 'absent'}, {'name': 'other', 'state': 'absent'}])
    states = dict((f['path'].replace(home, '~'), f['state']) for f in outcome.result['files'])
    assert states['~/.s3cfg-media'] == 'removed' and states['~/.config/r2/media.env'] == 'removed'
    assert states['~/.s3cfg-other'] == 'unchanged' and os.path.exists(foreign)
    with open(os.path.join(home, '.aws', 'credentials')) as handle:
        text = handle.read()
    assert '[media]' not in text and '[keep]' in text
    assert write(home, [{'name': 'media', 'state': 'absent'}]).result['changed'] is False


def test_a_planted_link_is_refused_before_any_write(home, tmp_path):
    write(home, [profile()])
    target = tmp_path / 'root-owned'
    target.write_text('precious\n')
    rclone = os.path.join(home, '.config', 'rclone', 'rclone.conf')
    os.unlink(rclone)
    os.symlink(str(target), rclone)
    before = dict((p, open(os.path.join(home, p)).read()) for p in ('.aws/credentials', '.s3cfg-media'))
    outcome = write(home, [profile(secret_access_key=secrets.token_hex(32))])
    assert outcome.failed
    message = outcome.result['msg']
    assert message.startswith('user %s: %s: refused, nothing was changed' % (ME, rclone)) and 'symbolic link' in message
    assert target.read_text() == 'precious\n'
    assert before == dict((p, open(os.path.join(home, p)).read()) for p in before)
    info_outcome = run_module(r2_client_files_info, {'users': [{'user': ME, 'home': home, 'profiles': [{'name': 'media'}]}]})
    assert info_outcome.failed and 'symbolic link' in info_outcome.result['msg']


def test_a_wider_folder_of_ours_is_tightened_and_reported(home):
    write(home, [profile()])
    os.chmod(os.path.join(home, '.aws'), 0o755)
    outcome = write(home, [profile(secret_access_key=secrets.token_hex(32))])
    assert outcome.result['tightened'] == [os.path.join(home, '.aws')]
    assert stat.S_IMODE(os.stat(os.path.join(home, '.aws')).st_mode) == 0o700


def test_bad_profiles_fail_with_one_message_and_touch_nothing(home):
    outcome = write(home, [profile(secret_access_key=SECRET + '\n'), profile(name='b', account_id='nope')])
    assert outcome.failed and not os.path.exists(home)
    assert outcome.result['msg'] == (
        'user %s: profiles[0] (media): secret_access_key: has characters an S3 credential cannot have (blanks, '
        'quotes, line breaks, ...); profiles[1] (b): account_id: must be 32 lowercase hexadecimal characters' % ME)
    assert SECRET not in json.dumps(outcome.result)


def test_a_user_that_does_not_exist(home):
    outcome = run_module(r2_client_files, {'user': 'r2-no-such-user', 'profiles': [profile()]})
    assert outcome.failed and outcome.result['msg'].startswith('user r2-no-such-user: ')
    users = run_module(r2_client_files_info, {'users': [{'user': 'r2-no-such-user', 'profiles': [{'name': 'x'}]}]})
    assert users.result['users'] == [{'user': 'r2-no-such-user', 'exists': False, 'home': None, 'profiles': {}}]


def test_info_of_a_render_root_not_made_yet_holds_nothing(home):
    held = info(home)
    assert held['exists'] is True and held['profiles']['media']['access_key_id'] == ''


def test_a_missing_folder_outside_home_is_refused_before_any_write(home, tmp_path):
    outcome = write(home, [profile()], env_dir=str(tmp_path / 'not-there'))
    assert outcome.failed and 'never created' in outcome.result['msg']
    assert 'files written before it: none' in outcome.result['msg']
    assert not os.path.exists(os.path.join(home, '.aws'))


def test_a_file_the_clients_refuse_is_one_clear_error(home):
    write(home, [profile()])
    path = os.path.join(home, '.aws', 'credentials')
    with open(path, 'a') as handle:
        handle.write('\n[media]\naws_access_key_id = second\n')
    outcome = write(home, [profile(secret_access_key=secrets.token_hex(32))])
    assert outcome.failed and outcome.result['msg'].startswith('user %s: section [media] appears 2 times' % ME)


def test_check_mode_predicts_an_owner_or_mode_fix(home):
    write(home, [profile()])
    os.chmod(os.path.join(home, '.aws', 'credentials'), 0o644)
    outcome = write(home, [profile()], check=True)
    states = dict((f['kind'], f['state']) for f in outcome.result['files'])
    assert states['aws_credentials'] == 'changed' and states['aws_config'] == 'unchanged'
    assert outcome.result['changed'] is True
    assert stat.S_IMODE(os.stat(os.path.join(home, '.aws', 'credentials')).st_mode) == 0o644


def test_a_foreign_s3cmd_file_is_left_alone_with_a_clear_error(home):
    os.makedirs(home)
    foreign = os.path.join(home, '.s3cfg-media')
    with open(foreign, 'w') as handle:
        handle.write('[default]\naccess_key = mine\n')
    outcome = write(home, [profile()])
    assert outcome.failed and 'was not written by cloudflare_r2.credentials' in outcome.result['msg']
    assert open(foreign).read() == '[default]\naccess_key = mine\n'
    assert not os.path.exists(os.path.join(home, '.aws'))


# -- issue 9: which machine and which files, so that two aliases of one host can be told ------------------

def test_info_reports_the_machine_and_the_real_identity_of_the_users_files(home, tmp_path):
    write(home, [profile()])
    outcome = run_module(r2_client_files_info, {'users': [
        {'user': ME, 'home': home, 'profiles': [{'name': 'media'}]},
        {'user': ME, 'home': home + '/', 'profiles': [{'name': 'media'}]},   # the same folder, spelt otherwise
        {'user': ME, 'home': str(tmp_path / 'other'), 'profiles': [{'name': 'media'}]}]})
    assert not outcome.failed, outcome.result.get('msg')
    first, same, other = outcome.result['users']
    info_of_home = os.stat(home)
    assert first['files_id'] == '%d:%d' % (info_of_home.st_dev, info_of_home.st_ino) == same['files_id']
    assert other['files_id'] != first['files_id']
    machine = outcome.result['machine']
    assert set(machine) == {'id', 'hostname'} and machine['hostname']
    if os.path.exists('/etc/machine-id') or os.path.exists('/proc/sys/kernel/random/boot_id'):
        assert machine['id'] and machine['id'].split(':')[0] in ('machine-id', 'boot-id')
        raw = [open(p).read().strip() for p in ('/etc/machine-id', '/proc/sys/kernel/random/boot_id')
               if os.path.exists(p)]
        assert not [r for r in raw if r and r in json.dumps(outcome.result)]   # the machine id itself is not shown


def test_a_render_root_not_made_yet_is_identified_by_its_nearest_folder(tmp_path):
    base = os.stat(str(tmp_path))
    assert r2_client_files_info.folder_identity(str(tmp_path / 'render' / 'web1' / 'root')) == \
        '%d:%d/render/web1/root' % (base.st_dev, base.st_ino)
    assert r2_client_files_info.folder_identity(str(tmp_path / 'render' / 'web2' / 'root')) != \
        r2_client_files_info.folder_identity(str(tmp_path / 'render' / 'web1' / 'root'))


def test_machine_identity_falls_back_to_the_boot_id_and_to_nothing(tmp_path):
    machine_id, boot_id = tmp_path / 'machine-id', tmp_path / 'boot_id'
    machine_id.write_text('\n')                                   # empty, as in some containers
    boot_id.write_text('5a8c0d1e-2f3a-4b5c-6d7e-8f9a0b1c2d3e\n')
    sources = (('machine-id', str(machine_id)), ('boot-id', str(boot_id)))
    found = r2_client_files_info.machine_identity(sources)
    assert found['id'].startswith('boot-id:') and '5a8c0d1e' not in found['id']
    assert r2_client_files_info.machine_identity(sources) == found
    assert r2_client_files_info.machine_identity((('machine-id', str(tmp_path / 'none')),))['id'] is None
