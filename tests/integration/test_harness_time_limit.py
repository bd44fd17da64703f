"""The harness's time limit for ansible-playbook runs (harness.playbook.TimeLimit).

A limit is the run's nominal time x R2_TEST_TIMEOUT_FACTOR x the load per CPU, capped by
the test's pytest-timeout budget, so that a slow machine stretches it and a hung run is
still killed (with all its children) and reported before pytest-timeout fires.
"""

import os
import time

import pytest

from harness import playbook


@pytest.fixture
def load(monkeypatch):
    """Set the load factor the limits see: ``load(2.5)``."""
    def set_load(value):
        monkeypatch.setattr(playbook, 'load_factor', lambda: value)
    set_load(1.0)
    return set_load


def test_limit_scales_with_the_factor_and_the_load(monkeypatch, load):
    monkeypatch.delenv('R2_TEST_TIMEOUT_FACTOR', raising=False)
    assert playbook.TimeLimit(100).seconds == pytest.approx(100 * playbook.DEFAULT_FACTOR)
    assert playbook.TimeLimit().nominal == playbook.DEFAULT_TIMEOUT
    monkeypatch.setenv('R2_TEST_TIMEOUT_FACTOR', '3.5')
    load(2.0)
    limit = playbook.TimeLimit(100)
    assert limit.seconds == pytest.approx(700)
    assert not limit.capped
    assert '100s nominal x factor 3.5 (R2_TEST_TIMEOUT_FACTOR) x load 2.00' in limit.describe()
    # the highest load seen during the run counts
    load(3.0)
    limit.update_load()
    load(1.0)
    limit.update_load()
    assert limit.seconds == pytest.approx(1050)


@pytest.mark.parametrize('value', ['0', '-1', 'slow'])
def test_a_bad_factor_is_refused(monkeypatch, value):
    monkeypatch.setenv('R2_TEST_TIMEOUT_FACTOR', value)
    with pytest.raises(ValueError, match='R2_TEST_TIMEOUT_FACTOR'):
        playbook.TimeLimit(10)


def test_load_factor_is_clamped(monkeypatch):
    monkeypatch.setattr(playbook.os, 'getloadavg', lambda: (0.1, 0.1, 0.1))
    assert playbook.load_factor() == 1.0
    monkeypatch.setattr(playbook.os, 'getloadavg', lambda: (1000.0, 0, 0))
    assert playbook.load_factor() == playbook.MAX_LOAD_FACTOR


def test_the_deadline_caps_the_limit_with_a_margin(monkeypatch, load):
    monkeypatch.setenv('R2_TEST_TIMEOUT_FACTOR', '2')
    now = time.monotonic()
    limit = playbook.TimeLimit(600, deadline=now + 900)
    assert limit.capped
    assert limit.end == pytest.approx(now + 900 - playbook.DEADLINE_MARGIN, abs=1)
    assert 'pytest-timeout budget' in limit.describe()
    # little time left: the margin shrinks to a quarter of it instead of leaving nothing
    limit = playbook.TimeLimit(600, deadline=now + 20)
    assert limit.end == pytest.approx(now + 15, abs=1)
    # a short run is not capped
    assert not playbook.TimeLimit(60, deadline=now + 900).capped


def _sleepers(marker):
    found = []
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if argv[:2] == [b'sleep', marker.encode()]:
            found.append(int(pid))
    return found


@pytest.mark.parametrize('how', ['timeout', 'deadline'])
def test_a_hung_run_is_killed_with_its_children_and_reported(cf, run_playbook, monkeypatch, how):
    monkeypatch.setenv('R2_TEST_TIMEOUT_FACTOR', '1')
    marker = '%d.%d' % (300 + os.getpid() % 100, time.monotonic_ns() % 1000)  # seconds, unique
    if how == 'timeout':
        kwargs = {'timeout': 15}  # x the real load factor: the task is reached on a busy machine too
    else:
        kwargs = {'timeout': 600, 'deadline': time.monotonic() + 20}  # less a quarter: 15 s
    result = run_playbook('harness_hang.yml', extra_vars={'hang_seconds': marker}, **kwargs)
    assert result.timed_out and result.rc != 0
    assert result.limit.seconds - 1 <= result.elapsed < result.limit.seconds + 15, result.describe()
    assert '[harness] ansible-playbook killed after' in result.output.splitlines()[-1]
    assert 'KILLED BY THE HARNESS' in result.describe()
    if how == 'deadline':
        assert result.limit.capped and 'pytest-timeout budget' in result.describe()
    else:
        # ansible's workers setsid(): a process group kill would miss this grandchild
        assert 'TASK [Hang for longer than the limit]' in result.output, result.describe()
    time.sleep(0.5)
    assert not _sleepers(marker), 'the hung task outlived the kill'


def test_a_run_reports_its_time(cf, run_playbook):
    result = run_playbook('harness_selftest.yml', timeout=120)
    assert result.rc == 0, result.describe()
    assert not result.timed_out
    assert 0 < result.elapsed < result.limit.seconds
    assert 'after %.1fs' % result.elapsed in result.describe()
