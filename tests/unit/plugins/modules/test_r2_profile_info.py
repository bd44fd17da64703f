# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_profile_info: what a host's client files hold, never a secret value."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import json
import os
import pwd
import secrets

import pytest
import yaml

from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_profile, r2_profile_info
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    message_of,
    patch_module_exits,
    result_of,
    run_module,
)

# long and random: found in the output only if the module leaked it
SECRET = secrets.token_hex(32)
SESSION = secrets.token_urlsafe(96)
RCLONE_SECRET = secrets.token_hex(32)
S3CMD_SECRET = secrets.token_hex(32)
S3CMD_SESSION = secrets.token_urlsafe(96)
ENV_SECRET = secrets.token_hex(32)
ENV_SESSION = secrets.token_urlsafe(96)
PASSWORD = secrets.token_urlsafe(24)
SSE_KEY = secrets.token_urlsafe(32)
ALL_SECRETS = (SECRET, SESSION, RCLONE_SECRET, S3CMD_SECRET, S3CMD_SESSION, ENV_SECRET, ENV_SESSION, PASSWORD,
               SSE_KEY)
KEY_ID = 'ed17574386854bf78a67040be0a770b0'
ENDPOINT = 'https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com'
EXPIRATION = '2026-11-28T11:00:00Z'
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name

S3CFG = (
    '# Ansible managed\n'
    '# s3cmd configuration for the Cloudflare R2 profile backup: s3cmd -c ~/.s3cfg-backup\n'
    '[default]\n'
    'access_key = %s\n'
    'secret_key = %s\n'
    'access_token = %s\n'
    'host_base = 0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com\n'
    'use_https = True\n'
    'gpg_passphrase = %s\n' % (KEY_ID, S3CMD_SECRET, S3CMD_SESSION, PASSWORD))

ENV = (
    '# Ansible managed\n'
    'AWS_ACCESS_KEY_ID=%s\n'
    'AWS_SECRET_ACCESS_KEY=%s\n'
    'AWS_SESSION_TOKEN=%s\n'
    'AWS_ENDPOINT_URL_S3=%s\n'
    'AWS_REGION=auto\n'
    'R2_CREDENTIALS_EXPIRATION=%s\n' % (KEY_ID, ENV_SECRET, ENV_SESSION, ENDPOINT, EXPIRATION))


@pytest.fixture(autouse=True)
def _exits(monkeypatch):
    patch_module_exits(monkeypatch)


def run(check=False, **args):
    return run_module(r2_profile_info, args, check=check)


def ok(**args):
    return result_of(run(**args))


def failed(**args):
    return message_of(run(**args))


def write(path, text, mode=0o600):
    with open(str(path), 'w') as handle:
        handle.write(text)
    os.chmod(str(path), mode)
    return str(path)


def profile(path, section, values):
    """Write a section the way the client_config role does, with r2_profile."""
    result_of(run_module(r2_profile, dict(path=str(path), section=section, values=values)))
    return str(path)


@pytest.fixture
def host(tmp_path):
    """The client files client_config writes for one profile, with a foreign profile next to it."""
    (tmp_path / '.aws').mkdir()
    config = profile(tmp_path / '.aws' / 'config', 'profile backup', dict(
        region='auto', endpoint_url=ENDPOINT, s3=dict(addressing_style='path'),
        request_checksum_calculation='when_required', response_checksum_validation='when_required'))
    credentials = str(tmp_path / '.aws' / 'credentials')
    write(credentials, '[default]\naws_access_key_id = AKIAFOREIGN\naws_secret_access_key =\n')
    profile(credentials, 'backup', dict(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                                        aws_session_token=SESSION, r2_expiration=EXPIRATION))
    rclone = profile(tmp_path / 'rclone.conf', 'backup', dict(
        type='s3', provider='Cloudflare', access_key_id=KEY_ID, secret_access_key=RCLONE_SECRET, endpoint=ENDPOINT,
        region='auto', acl='private', force_path_style=True, sse_customer_key=SSE_KEY))
    return dict(config=config, credentials=credentials, rclone=rclone,
                s3cmd=write(tmp_path / 's3cfg-backup', S3CFG), env=write(tmp_path / 'backup.env', ENV, 0o640))


def test_reports_every_client_file_without_a_secret(host):
    result = ok(files=[dict(path=host['config']), dict(path=host['credentials']), dict(path=host['rclone']),
                       dict(path=host['s3cmd']), dict(path=host['env'], format='env')],
                secret_keys=['SSE_customer_key'])
    assert result['changed'] is False
    config, credentials, rclone, s3cmd, env = result['files']
    assert config == dict(path=host['config'], exists=True, mode='0600', owner=ME, group=MY_GROUP, sections={
        # only the keys the collection uses come back (checksum settings and the like are not returned)
        'profile backup': {'values': {'region': 'auto', 'endpoint_url': ENDPOINT, 's3': {'addressing_style': 'path'}},
                           'secrets': []}})
    assert credentials['sections'] == {
        'default': {'values': {'aws_access_key_id': 'AKIAFOREIGN'}, 'secrets': []},
        'backup': {'values': {'aws_access_key_id': KEY_ID, 'r2_expiration': EXPIRATION},
                   'secrets': ['aws_secret_access_key', 'aws_session_token']}}
    assert rclone['sections']['backup'] == {
        'values': {'type': 's3', 'provider': 'Cloudflare', 'access_key_id': KEY_ID, 'endpoint': ENDPOINT,
                   'region': 'auto', 'force_path_style': 'true'},
        'secrets': ['secret_access_key', 'sse_customer_key']}
    assert s3cmd['sections']['default'] == {
        'values': {'access_key': KEY_ID, 'host_base': ENDPOINT.rsplit('/', maxsplit=1)[-1], 'use_https': 'True'},
        'secrets': ['access_token', 'gpg_passphrase', 'secret_key']}
    assert env == dict(path=host['env'], exists=True, mode='0640', owner=ME, group=MY_GROUP, sections={
        'env': {'values': {'AWS_ACCESS_KEY_ID': KEY_ID, 'AWS_ENDPOINT_URL_S3': ENDPOINT,
                           'R2_CREDENTIALS_EXPIRATION': EXPIRATION},
                'secrets': ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']}})
    dumped = json.dumps(result)
    for secret in ALL_SECRETS:
        assert secret not in dumped


def test_extra_secret_keys_are_withheld_in_nested_blocks_too(tmp_path):
    path = write(tmp_path / 'config', '[profile p]\nregion = auto\ns3 =\n  sse_key = %s\n  addressing_style = path\n'
                 'credential_process = /bin/get %s\n' % (SSE_KEY, PASSWORD))
    plain = ok(files=[dict(path=path)])
    # a key the collection does not use is never returned, secret-looking or not
    assert plain['files'][0]['sections']['profile p']['values'] == {'region': 'auto', 's3': {'addressing_style': 'path'}}
    assert SSE_KEY not in json.dumps(plain) and PASSWORD not in json.dumps(plain)
    withheld = ok(files=[dict(path=path)], secret_keys=['SSE_KEY', 'credential_process'])
    assert withheld['files'][0]['sections']['profile p'] == {
        'values': {'region': 'auto', 's3': {'addressing_style': 'path'}},
        'secrets': ['credential_process', 's3.sse_key']}
    assert SSE_KEY not in json.dumps(withheld) and PASSWORD not in json.dumps(withheld)


def test_only_the_asked_sections(host):
    result = ok(files=[dict(path=host['credentials'], sections=['backup', 'missing']),
                       dict(path=host['config'], sections=['profile   backup']),
                       dict(path=host['env'], format='env', sections=['other'])])
    credentials, config, env = result['files']
    assert list(credentials['sections']) == ['backup'] and list(config['sections']) == ['profile backup']
    assert env['exists'] is True and env['sections'] == {}


def test_missing_file_is_not_an_error(tmp_path):
    result = ok(files=[dict(path=str(tmp_path / 'nope' / 'credentials')),
                       dict(path=str(tmp_path / 'x.env'), format='env')])
    assert result['files'][0] == dict(path=str(tmp_path / 'nope' / 'credentials'), exists=False, mode=None,
                                      owner=None, group=None, sections={})
    assert result['files'][1]['exists'] is False


@pytest.mark.parametrize('target', ['credentials', 'gone', '/dev/zero'])
def test_a_symlink_is_refused_whatever_it_points_to(host, tmp_path, target):
    os.symlink(host.get(target, target if target.startswith('/') else str(tmp_path / target)), str(tmp_path / 'link'))
    outcome = run(files=[dict(path=str(tmp_path / 'link'))])
    assert outcome.failed and 'symbolic link' in outcome.result['msg']
    for secret in ALL_SECRETS:
        assert secret not in json.dumps(outcome.result)


def test_a_fifo_is_refused_without_hanging(tmp_path):
    os.mkfifo(str(tmp_path / 'credentials'))
    assert 'it is a FIFO' in failed(files=[dict(path=str(tmp_path / 'credentials'))])


def test_a_foreign_value_is_never_returned(tmp_path):
    password = 'pw-' + 'Zq8' * 12
    path = write(tmp_path / 'app.env', 'DATABASE_URL=postgres://app:%s@db/app\nAPI_KEY=%s\n'
                 'AWS_ACCESS_KEY_ID=%s\n' % (password, password, KEY_ID))
    result = ok(files=[dict(path=path, format='env')])
    assert result['files'][0]['sections']['env']['values'] == {'AWS_ACCESS_KEY_ID': KEY_ID}
    assert password not in json.dumps(result)


def test_a_file_that_cannot_be_read_fails_naming_it(tmp_path):
    msg = failed(files=[dict(path=str(tmp_path))])
    assert msg.startswith('cannot read %s: ' % tmp_path)


def test_an_unreadable_file_fails_without_its_content(host, monkeypatch):
    real_read = r2_profile_info._safe_io.UserTree.read

    def as_if_not_root(tree, path, *args, **kwargs):
        if path == host['credentials']:
            raise IOError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_read(tree, path, *args, **kwargs)
    if os.geteuid() == 0:  # root reads any file
        monkeypatch.setattr(r2_profile_info._safe_io.UserTree, 'read', as_if_not_root)
    os.chmod(host['credentials'], 0)
    outcome = run(files=[dict(path=host['env'], format='env'), dict(path=host['credentials'])])
    assert outcome.failed and outcome.result['msg'].startswith('cannot read %s: ' % host['credentials'])
    assert 'Permission denied' in outcome.result['msg']
    assert [f['path'] for f in outcome.result['files']] == [host['env']]
    dumped = json.dumps(outcome.result)
    for secret in ALL_SECRETS:
        assert secret not in dumped


def test_check_mode_reports_the_same(host):
    args = dict(files=[dict(path=host['credentials'])])
    assert ok(check=True, **args) == ok(**args)


def test_bad_format_is_refused(tmp_path):
    assert 'format' in failed(files=[dict(path=str(tmp_path / 'c'), format='yaml')])


def test_return_docs_match_the_result(host):
    result = ok(files=[dict(path=host['credentials'])])
    documented = yaml.safe_load(r2_profile_info.RETURN)
    assert set(result) - {'changed', 'invocation', 'warnings'} == set(documented)
    assert set(result['files'][0]) == set(documented['files']['contains'])
