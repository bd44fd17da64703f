# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's run lock, with real processes: held while its process lives, free once it is gone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import multiprocessing
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _run_lock

KEY = 'account-0123456789abcdef0123456789abcdef'


@pytest.fixture
def sleeper():
    """A live process that is not this one (the other run)."""
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_run_waits_then_fails_naming_the_holder_and_the_first_keeps_it(tmp_path, sleeper):
    path, previous = _run_lock.acquire(str(tmp_path), KEY, sleeper.pid, 0)
    assert previous is None and os.path.basename(path) == KEY + '.lock'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    waited = []
    with pytest.raises(_run_lock.LockError) as caught:
        _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0.3, waiting=waited.append)
    message = str(caught.value)
    assert 'another run of this account is in progress (pid %d on ' % sleeper.pid in message
    assert 'Nothing was changed' in message and 'provision_lock_timeout' in message
    assert [h['pid'] for h in waited] == [sleeper.pid]
    assert json.loads(open(path).read())['pid'] == sleeper.pid
    # another account is another lock
    assert _run_lock.acquire(str(tmp_path), 'account-other', os.getpid(), 0)[1] is None


def test_the_lock_of_a_run_that_ended_or_was_killed_is_free(tmp_path, sleeper):
    _run_lock.acquire(str(tmp_path), KEY, sleeper.pid, 0)
    sleeper.kill()
    sleeper.wait()
    path, previous = _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0)
    assert previous['pid'] == sleeper.pid
    assert json.loads(open(path).read())['pid'] == os.getpid()


def test_a_reused_pid_does_not_hold_the_lock(tmp_path, sleeper):
    path = tmp_path / (KEY + '.lock')
    holder = _run_lock.me(sleeper.pid)
    assert holder['start'] is not None
    holder['start'] = str(int(holder['start']) - 1)   # a live pid, but not the process that took the lock
    path.write_text(json.dumps(holder))
    assert _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0)[1] == holder


def test_the_same_run_takes_its_own_lock_again_and_only_the_holder_releases_it(tmp_path, sleeper):
    _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0)
    assert _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0)[1] is None
    assert _run_lock.release(str(tmp_path), KEY, sleeper.pid) is False
    assert _run_lock.release(str(tmp_path), KEY, os.getpid()) is True
    assert _run_lock.acquire(str(tmp_path), KEY, sleeper.pid, 0)[1] is None


def test_a_key_that_is_not_a_plain_name_gets_a_digest_file_name(tmp_path):
    path, dummy = _run_lock.acquire(str(tmp_path), 'account-../../etc/x\n', os.getpid(), 0)
    assert os.path.dirname(path) == str(tmp_path) and len(os.path.basename(path)) == 32 + len('.lock')


def _contend(folder, pid, queue):
    try:
        _run_lock.acquire(folder, KEY, pid, 0)
        queue.put(('won', pid))
    except _run_lock.LockError:
        queue.put(('lost', pid))


def test_runs_that_start_together_get_the_lock_exactly_once(tmp_path):
    holders = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']) for dummy in range(6)]
    try:
        for round_ in range(5):
            folder = str(tmp_path / str(round_))
            queue = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=_contend, args=(folder, h.pid, queue)) for h in holders]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join(30)
            outcomes = [queue.get(timeout=5)[0] for dummy in procs]
            assert outcomes.count('won') == 1, outcomes
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()


def test_a_guard_held_by_another_process_does_not_stretch_the_wait(tmp_path):
    """The guard is only ever tried (LOCK_NB): a process that holds it cannot make a run wait past its timeout."""
    _run_lock.check_folder(str(tmp_path))
    guard = str(tmp_path / (KEY + '.lock.guard'))
    holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, os, sys, time\n'
                               'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n'
                               'fcntl.flock(fd, fcntl.LOCK_EX)\nprint("held", flush=True)\ntime.sleep(60)', guard],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        start = time.monotonic()
        with pytest.raises(_run_lock.LockError, match='another run of this account is in progress'):
            _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0.5)
        assert time.monotonic() - start < 30
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_folder_others_may_write_or_a_link_is_refused(tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(_run_lock.LockError, match='not be writable by other users'):
        _run_lock.acquire(str(shared), KEY, os.getpid(), 0)
    link = tmp_path / 'link'
    link.symlink_to(tmp_path / 'elsewhere')
    (tmp_path / 'elsewhere').mkdir(mode=0o700)
    with pytest.raises(_run_lock.LockError, match='is not a folder'):
        _run_lock.acquire(str(link), KEY, os.getpid(), 0)
    assert not os.listdir(str(tmp_path / 'elsewhere'))


def test_a_lock_from_another_host_name_is_held_for_a_day_then_free(tmp_path, sleeper):
    path = tmp_path / (KEY + '.lock')
    holder = dict(_run_lock.me(sleeper.pid), host='other-controller')
    path.write_text(json.dumps(holder))
    with pytest.raises(_run_lock.LockError, match='other-controller'):
        _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0)
    later = time.time() + _run_lock.FOREIGN_MAX_AGE + 60
    assert _run_lock.acquire(str(tmp_path), KEY, os.getpid(), 0, clock=lambda: later)[1]['host'] == 'other-controller'
