# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""r2_reload, run in-process as a module: real commands, and the reload mark in files of the running user."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.modules import r2_client_files, r2_reload
from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.ansible_module import (
    message_of,
    patch_module_exits,
    result_of,
    run_module,
)

ME = pwd.getpwuid(os.geteuid()).pw_name
KEY = secrets.token_hex(16)
# letters only: no look-alike rule masks it, only the module's knowledge of the profile's secret does
SECRET = ''.join(secrets.choice('abcdefghijklmnopqrstuvwxyz') for dummy in range(40))


@pytest.fixture(autouse=True)
def _exits(monkeypatch):
    patch_module_exits(monkeypatch)


@pytest.fixture
def home(tmp_path):
    """A home holding profile media (written by r2_client_files with the reload mark) and profile other."""
    home = str(tmp_path / 'home')
    profiles = [dict(name=name, access_key_id=KEY, secret_access_key=SECRET, endpoint_url='https://r2.example.com',
                     fingerprint=fingerprint)
                for name, fingerprint in (('media', 'f' * 32 + '.reload-pending'), ('other', 'e' * 32))]
    result_of(run_module(r2_client_files, dict(user=ME, home=home, create_home=True, profiles=profiles)))
    return home


def credentials(home):
    with open(os.path.join(home, '.aws', 'credentials')) as handle:
        return handle.read()


def command(name, argv, **extra):
    return dict(name=name, argv=argv, user=ME, **extra)


def reload(home, commands, profiles=None, check=False):
    spec = [dict(user=ME, home=home, name='media', commands=[c['name'] for c in commands])] \
        if profiles is None else profiles
    return run_module(r2_reload, dict(commands=commands, profiles=spec), check=check)


def test_the_mark_goes_once_every_command_succeeded_and_nothing_else_changes(home, tmp_path):
    before = credentials(home)
    touched = str(tmp_path / 'touched')
    result = result_of(reload(home, [command('one', ['touch', touched]), command('two', ['true'])]))
    assert os.path.exists(touched)
    assert [(c['name'], c['user'], c['state'], c['rc']) for c in result['commands']] == [
        ('one', ME, 'succeeded', 0), ('two', ME, 'succeeded', 0)]
    assert result['profiles'] == [{'user': ME, 'name': 'media', 'state': 'reloaded'}]
    assert result['changed'] is True
    after = credentials(home)
    assert after == before.replace('f' * 32 + '.reload-pending', 'f' * 32)
    assert 'e' * 32 in after
    # again: nothing left to unmark
    result = result_of(reload(home, [command('one', ['true'])]))
    assert result['profiles'] == [{'user': ME, 'name': 'media', 'state': 'unmarked'}]
    assert credentials(home) == after


def test_a_failed_command_keeps_the_mark_runs_the_others_and_shows_no_secret(home, tmp_path):
    before = credentials(home)
    touched = str(tmp_path / 'touched')
    cat = command('noisy', ['cat', os.path.join(home, '.aws', 'credentials')])
    outcome = reload(home, [command('broken', ['sh', '-c', 'echo "cannot reload: config error" >&2; exit 3']),
                            cat, command('last', ['touch', touched])],
                     profiles=[dict(user=ME, home=home, name='media', commands=['broken', 'noisy', 'last'])])
    message = message_of(outcome)
    assert message == 'reload broken (as %s) failed: exit status 3; its last output: cannot reload: config error' % ME
    assert os.path.exists(touched)   # every command runs, even after one failed
    result = outcome.result
    assert [c['state'] for c in result['commands']] == ['failed', 'succeeded', 'succeeded']
    assert result['profiles'][0]['state'] == 'pending'
    assert credentials(home) == before
    # the profile's secret, read on the host, is masked in what the command printed
    noisy = result['commands'][1]['output']
    assert 'aws_secret_access_key = <masked>' in noisy, noisy
    assert SECRET not in repr(result) and SECRET not in message


def test_a_timeout_fails_the_command():
    outcome = run_module(r2_reload, dict(commands=[command('slow', ['sleep', '30'], timeout=1)]))
    assert message_of(outcome) == 'reload slow (as %s) failed: did not finish within 1 seconds (killed)' % ME
    assert outcome.result['commands'][0]['timed_out'] is True


def test_check_mode_runs_nothing_and_keeps_the_mark(home, tmp_path):
    before = credentials(home)
    touched = str(tmp_path / 'touched')
    result = result_of(reload(home, [command('one', ['touch', touched])], check=True))
    assert not os.path.exists(touched)
    assert result['commands'][0]['state'] == 'would run' and result['profiles'][0]['state'] == 'pending'
    assert result['changed'] is True and credentials(home) == before


@pytest.mark.parametrize('commands, profiles, message', [
    ([dict(name='a', argv=['true']), dict(name='a', argv=['false'])], [], 'commands[1]: name: used by another'),
    ([dict(name='a', argv=[])], [], 'commands[0]: argv: a non-empty list'),
    ([dict(name='a', argv=['echo', 'a\nb'])], [], 'commands[0]: argv: a non-empty list'),
    ([dict(name='a', argv=['true'], timeout=0)], [], 'commands[0]: timeout: 1 to 3600'),
    ([dict(name='a', argv=['true'])], [dict(user=ME, name='media', commands=['b'])],
     "profiles[0]: commands: 'b' is not the name of a command"),
    ([], [dict(user=ME, name='../x')], 'profiles[0]: name: 1 to 64'),
])
def test_bad_input_fails_before_anything_runs(tmp_path, commands, profiles, message):
    touched = str(tmp_path / 'touched')
    commands = commands + [command('z', ['touch', touched])]
    assert message in message_of(run_module(r2_reload, dict(commands=commands, profiles=profiles)))
    assert not os.path.exists(touched)
