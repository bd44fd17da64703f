"""Integration-test fixtures: the emulated Cloudflare API behind a contract check.

Fixtures:

``cf`` (session)
    emulator + Prism (``--errors``) + recording proxy, see ``harness.CloudflareStack``:
    ``api_url`` (for modules), ``direct_api_url`` (fault tests only), ``admin_url``,
    ``account_id``, ``user_id``, ``bootstrap_token``, ``stats()``, ``reset_stats()``,
    ``add_faults(list)``, ``clear_faults()``, ``seed_token(**fields)``, ``tokens()``,
    ``wipe_tokens()``, ``configure(**settings)``, ``verify(value, owner)``,
    ``contract_violations()``, ``clear_violations()``, ``exchanges()``.
``run_playbook(playbook, extra_vars=None, env=None, verbosity=0, check=False, diff=False, direct=False,
timeout=None)``
    runs the real ansible-playbook; returns ``harness.PlaybookResult`` (rc, stdout,
    stderr, output, recap, changed, failed, elapsed, timed_out).  ``timeout`` is the run's
    nominal time on an idle machine (default 600 s); the harness scales it by
    ``R2_TEST_TIMEOUT_FACTOR`` (default 2) and the load average, and caps it so that the run
    is killed, with its output reported, before the test's own pytest-timeout expires.

Every test that uses ``cf`` starts from a clean emulator (tokens but the
bootstrap one wiped, stats reset, faults cleared) and fails if its traffic
through ``api_url`` broke the API contract (a 422/401/404 from Prism itself or
an ``sl-violations`` header), unless it cleared the violations on purpose with
``cf.clear_violations()``.  The session ends with "prism: N requests, M violations".
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from harness import CloudflareStack, paths
from harness import run_playbook as _run_playbook

_SUMMARIES: list = []     # this process's stack summaries
_REMOTE: list = []        # summaries sent by xdist workers (controller only)
_STACKS: dict = {}


def _worker_id() -> str:
    return os.environ.get('PYTEST_XDIST_WORKER', 'main')


def pytest_configure(config):
    # Stage once in the controller so that xdist workers do not race on the copy;
    # workers inherit R2_COLLECTIONS_PATH through the environment.
    if not hasattr(config, 'workerinput') and not os.environ.get('R2_COLLECTIONS_PATH'):
        paths.collections_path()


@pytest.fixture(scope='session')
def collections_path() -> str:
    """The folder containing ansible_collections/ with the collection under test."""
    return paths.collections_path()


@pytest.fixture(scope='session')
def cf(collections_path):  # pylint: disable=redefined-outer-name,unused-argument
    """Emulator + Prism + recorder, once per session (per xdist worker)."""
    workdir = paths.output_dir(_worker_id())
    for name in os.listdir(workdir):
        target = os.path.join(workdir, name)
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            os.unlink(target)
    stack = CloudflareStack(workdir=workdir).start()
    _STACKS['cf'] = stack
    try:
        yield stack
    finally:
        summary = stack.summary()
        summary['worker'] = _worker_id()
        _SUMMARIES.append(summary)
        _STACKS.pop('cf', None)
        stack.stop()


@pytest.fixture(autouse=True)
def _cf_isolation(request):
    """Clean emulator state before each test that uses ``cf``; mark it for the contract check."""
    if 'cf' not in request.fixturenames:
        yield
        return
    stack = request.getfixturevalue('cf')
    stack.reset()
    request.node._r2_cf = stack  # pylint: disable=protected-access
    yield


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item, settings):
    """pytest-timeout arms the test's timer now: remember when it fires (``time.monotonic()``)."""
    if settings.timeout:
        item._r2_deadline = time.monotonic() + settings.timeout  # pylint: disable=protected-access


@pytest.fixture
def run_playbook(cf, collections_path, request):  # pylint: disable=redefined-outer-name
    """``run_playbook(playbook, extra_vars=None, env=None, verbosity=0, check=False, diff=False, direct=False,
    timeout=None)``; every run ends before the test's pytest-timeout (``harness.playbook.TimeLimit``)."""
    def run(playbook, *args, **kwargs):
        # read at call time: with timeout_func_only the timer is armed after the fixtures
        kwargs.setdefault('deadline', getattr(request.node, '_r2_deadline', None))
        kwargs.setdefault('collections_path', collections_path)
        return _run_playbook(cf, playbook, *args, **kwargs)
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, '_r2_cf', None)
    if stack is None or call.when != 'call' or stack.recorder is None:
        return
    violations = stack.contract_violations()
    if not violations:
        return
    text = 'API contract violated (traffic through cf.api_url, checked by Prism against the OpenAPI spec):\n' + \
        stack.format_violations(violations) + '\nPrism log: %s' % stack.prism.log_path
    stack.recorder.reset()  # reported here; do not blame the next test
    if report.failed:
        report.sections.append(('API contract', text))
    else:
        report.outcome = 'failed'
        report.longrepr = text


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    config = session.config
    if hasattr(config, 'workeroutput'):
        config.workeroutput['r2_contract'] = json.dumps(_SUMMARIES)
        return
    summaries = _SUMMARIES + _REMOTE
    if any(s.get('unexplained_log_violations') for s in summaries) and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    data = getattr(node, 'workeroutput', {}).get('r2_contract')
    if data:
        _REMOTE.extend(json.loads(data))


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pylint: disable=unused-argument
    if hasattr(config, 'workeroutput'):
        return
    summaries = _SUMMARIES + _REMOTE
    if not summaries:
        return
    requests = sum(s['requests'] for s in summaries)
    acknowledged = sum(s['acknowledged'] for s in summaries)
    violations = sum(s['violations'] for s in summaries) - acknowledged
    line = 'prism: %d requests, %d violations' % (requests, violations)
    if acknowledged:
        line += ' (+%d provoked on purpose by tests and cleared)' % acknowledged
    terminalreporter.write_sep('-', 'API contract')
    terminalreporter.write_line(line)
    for summary in summaries:
        if summary.get('unexplained_log_violations'):
            terminalreporter.write_line('prism log %s shows violations the recorder did not see:\n  %s' % (
                summary['prism_log'], '\n  '.join(summary['log_sample'])), red=True)
