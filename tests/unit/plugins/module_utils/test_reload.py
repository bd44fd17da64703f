# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reload runner: real processes, as root and as another unix user (``nobody``) of this machine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import sys
import time

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _reload

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason='runs commands as root and as another user')
PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable


def nobody():
    try:
        return pwd.getpwnam('nobody')
    except KeyError:
        pytest.skip('no user nobody on this machine')


def test_credentials_are_masked_in_output_and_ordinary_text_is_not():
    secret = secrets.token_hex(32)
    token = secrets.token_urlsafe(30)
    session = secrets.token_urlsafe(120)
    text = 'AWS_SECRET_ACCESS_KEY=%s token %s session=%s' % (secret, token, session)
    masked = _reload.mask_output(text)
    assert secret not in masked and token not in masked and session not in masked
    assert masked.startswith('AWS_SECRET_ACCESS_KEY=<masked>')
    for ordinary in ('reload refused: /etc/uploader/uploader.conf: line 3: unknown option', 'configuration_reloaded',
                     'Job for uploader.service failed because the control process exited with error code.'):
        assert _reload.mask_output(ordinary) == ordinary
    # a secret the caller knows is masked even when it looks like a word
    known = 'correcthorsebatterystaple'
    assert _reload.mask_output('it is %s!' % known, [known]) == 'it is <masked>!'


def test_output_lines_are_the_last_ones_printable_and_cut():
    data = ('\n'.join('line %d' % i for i in range(50)) + '\n\x1b[31mred\x1b[0m\n' + 'x' * 1000 + '\n\n').encode()
    lines = _reload.output_lines(data)
    assert len(lines) == _reload.OUTPUT_LINES
    assert lines[-2] == '\\x1b[31mred\\x1b[0m'
    assert lines[-1] == 'x' * _reload.LINE_LIMIT + '...'
    assert _reload.output_lines(b'\xff\xfe bytes') == ['\ufffd\ufffd bytes']


def test_a_program_is_an_absolute_path_or_a_name_in_the_system_folders():
    assert _reload.resolve('true', as_root=False) in ('/usr/bin/true', '/bin/true')
    for program in ('bin/true', './true', '/usr/bin/../bin/true', 'no-such-program-r2'):
        with pytest.raises(_reload.ReloadError):
            _reload.resolve(program, as_root=False)


@AS_ROOT
def test_root_runs_only_what_root_alone_can_change(tmp_path):
    assert _reload.resolve('true', as_root=True)
    # a link is resolved: what runs is what was checked (a link in a folder others can write is no way in)
    link = tmp_path / 'true'
    os.symlink(_reload.resolve('true', as_root=False), str(link))
    assert _reload.resolve(str(link), as_root=True) == os.path.realpath(str(link))
    script = tmp_path / 'reload.sh'
    script.write_text('#!/bin/sh\nexit 0\n')
    os.chmod(str(script), 0o755)
    # the folders above it (/tmp) are writable by others: anyone could swap it
    with pytest.raises(_reload.ReloadError, match='writable by group or others'):
        _reload.resolve(str(script), as_root=True)
    # the same as a user: what the user runs as itself is the user's business
    assert _reload.resolve(str(script), as_root=False) == str(script)
    owned = '/usr/local/sbin/r2-reload-test-%s' % secrets.token_hex(4)
    shutil.copy(str(script), owned)
    try:
        os.chown(owned, nobody().pw_uid, 0)
        with pytest.raises(_reload.ReloadError, match='not root'):
            _reload.resolve(owned, as_root=True)
        os.chown(owned, 0, 0)
        os.chmod(owned, 0o775)
        with pytest.raises(_reload.ReloadError, match='writable by group or others'):
            _reload.resolve(owned, as_root=True)
        os.chmod(owned, 0o755)
        assert _reload.resolve(owned, as_root=True) == owned
    finally:
        os.unlink(owned)


PROBE = '''
import json, os
print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
                  "env": dict(os.environ), "cwd": os.getcwd(), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
                  "umask": os.umask(0), "sid": os.getsid(0) == os.getpid()}))
try:
    os.setuid(0)
    print("ROOT AGAIN")
except OSError:
    pass
'''


def probe(user):
    import json
    ran = _reload.run([PYTHON, '-c', PROBE], user, 30)
    assert ran['rc'] == 0 and not ran['timed_out'], ran
    lines = ran['output'].decode().splitlines()
    return json.loads(lines[0]), lines[1:]


@AS_ROOT
def test_as_a_user_the_command_has_that_users_identity_only_and_a_minimal_environment():
    entry = nobody()
    leaked_r, leaked_w = os.pipe()
    os.set_inheritable(leaked_r, True)
    os.environ['R2_TEST_SECRET_OF_THE_MODULE'] = secrets.token_hex(16)
    try:
        seen, rest = probe('nobody')
    finally:
        del os.environ['R2_TEST_SECRET_OF_THE_MODULE']
        os.close(leaked_r)
        os.close(leaked_w)
    assert (seen['uid'], seen['euid'], seen['gid']) == (entry.pw_uid, entry.pw_uid, entry.pw_gid)
    assert 0 not in seen['groups'] or entry.pw_gid == 0
    assert rest == []   # it could not become root again
    assert set(seen['env']) - set(['XDG_RUNTIME_DIR']) == set(['PATH', 'LANG', 'HOME', 'USER', 'LOGNAME', 'SHELL'])
    assert seen['env']['PATH'] == _reload.SYSTEM_PATH and seen['env']['USER'] == 'nobody'
    # stdin, stdout, stderr and the descriptor listing the folder: nothing of the module's
    assert seen['fds'] == [0, 1, 2, 3], seen['fds']
    assert seen['umask'] == 0o022 and seen['sid']


@AS_ROOT
def test_as_root_the_environment_is_minimal_too():
    seen, rest = probe('root')
    assert seen['uid'] == 0 and seen['env']['HOME'] == pwd.getpwuid(0).pw_dir
    assert set(seen['env']) <= set(('PATH', 'LANG', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'XDG_RUNTIME_DIR'))
    assert rest == ['ROOT AGAIN']   # root stays root: the probe's own check works


def test_stdin_is_empty_and_the_exit_status_is_reported():
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert _reload.run(['cat'], user, 30)['rc'] == 0
    assert _reload.run(['false'], user, 30)['rc'] == 1
    with pytest.raises(_reload.ReloadError, match='does not exist'):
        _reload.run(['true'], 'r2-no-such-user', 30)
    with pytest.raises(_reload.ReloadError, match='non-empty list'):
        _reload.run([], user, 30)


def test_a_command_that_takes_too_long_is_killed_with_what_it_started():
    user = pwd.getpwuid(os.geteuid()).pw_name
    started = time.monotonic()
    ran = _reload.run(['sh', '-c', 'sleep 60 & echo started; sleep 60'], user, 1)
    assert ran['timed_out'] and ran['rc'] < 0 and time.monotonic() - started < 15, ran
    assert ran['output'] == b'started\n'


def test_what_a_command_leaves_running_does_not_hold_the_run_and_output_is_bounded():
    user = pwd.getpwuid(os.geteuid()).pw_name
    started = time.monotonic()
    ran = _reload.run(['sh', '-c', 'sleep 5 & echo daemon started'], user, 30)
    assert ran['rc'] == 0 and not ran['timed_out'] and time.monotonic() - started < 4, ran
    assert ran['output'] == b'daemon started\n'
    ran = _reload.run([PYTHON, '-c', 'import sys; sys.stdout.write("x" * 3000000 + "END")'], user, 30)
    assert ran['rc'] == 0 and len(ran['output']) == _reload.READ_LIMIT and ran['output'].endswith(b'END')
