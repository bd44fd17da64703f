# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper, not part of the collection: counts module executions per host and writes them to a JSON file."""

from __future__ import annotations

DOCUMENTATION = """
    name: module_counts
    type: aggregate
    short_description: Count module executions per host, by module, into a JSON file
    description:
      - Used by benchmarks/provision_runs.py only (ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins,
        ANSIBLE_CALLBACKS_ENABLED=module_counts).
      - One execution per task result that ran a module on the host; one per loop item, and one per attempt of a task
        with until/retries. Skipped tasks and items, unreachable hosts and the action plugins that run on the
        controller only (set_fact, assert, debug, include_*, meta, validate_argument_spec, ...) are not counted.
      - Tasks delegated to localhost count for C(controller), tasks delegated to another host for that host.
    options:
      path:
        description:
          - 'The JSON file written at the end of the playbook: C({"hosts": {HOST: {MODULE: N}}, "controller": {MODULE: N}}).'
        env:
          - name: R2_BENCH_MODULE_COUNTS
        type: path
        required: true
"""

import collections
import json

from ansible.plugins.callback import CallbackBase

# Actions that never run a module on the target (ansible.builtin, short names): the includes and meta, and the
# action plugins that do not call one (validate_argument_spec: the argument spec check of include_role).
CONTROLLER_ONLY = frozenset((
    'add_host', 'assert', 'debug', 'fail', 'group_by', 'import_role', 'import_tasks', 'include', 'include_role',
    'include_tasks', 'include_vars', 'meta', 'pause', 'set_fact', 'set_stats', 'validate_argument_spec',
))
# The collection's actions that run no module at all (the run lock is a file on the controller).
COLLECTION_CONTROLLER_ONLY = frozenset(('cloudflare_r2.credentials.r2_run_lock',))
LOCALHOST = frozenset(('localhost', '127.0.0.1', '::1'))
CONTROLLER = 'controller'


def module_name(task):
    """The task's module as a FQCN (ansible.legacy.* reads as ansible.builtin.*)."""
    name = getattr(task, 'resolved_action', None) or task.action
    if name.startswith('ansible.legacy.'):
        name = 'ansible.builtin.' + name[len('ansible.legacy.'):]
    elif '.' not in name:
        name = 'ansible.builtin.' + name
    return name


def runs_module(name):
    if name in COLLECTION_CONTROLLER_ONLY:
        return False
    return not (name.startswith('ansible.builtin.') and name.rsplit('.', 1)[-1] in CONTROLLER_ONLY)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'module_counts'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._counts = collections.defaultdict(collections.Counter)

    def _target(self, result):
        """Where the module ran: the host, the delegated host, or 'controller' for localhost."""
        delegate = result.task.delegate_to
        if not delegate:
            return result.host.name
        delegate = str(delegate)
        if '{{' in delegate:  # not templated on the task the callback sees; the result knows the host
            delegate = (result.result.get('_ansible_delegated_vars') or {}).get('ansible_host') or delegate
        return CONTROLLER if delegate in LOCALHOST else delegate

    def _count(self, result):
        name = module_name(result.task)
        ran = result.result.get('modules')
        if isinstance(ran, list) and name.startswith('cloudflare_r2.credentials.r2_provision_'):
            # the provision role's action plugins run their modules themselves and list them in their result
            for module in ran:
                self._counts[self._target(result)][module] += 1
            return
        if runs_module(name):
            # attempts: set (and kept even under no_log) when the task has until/retries
            self._counts[self._target(result)][name] += int(result.result.get('attempts') or 1)

    def _count_task(self, result):
        # a loop's final result: its items were counted one by one (the results of no_log items are censored,
        # skipped ones included, so the list says less than the item callbacks)
        if not isinstance(result.result.get('results'), list):
            self._count(result)

    def v2_runner_on_ok(self, result):
        self._count_task(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):  # pylint: disable=unused-argument
        self._count_task(result)

    def v2_runner_item_on_ok(self, result):
        self._count(result)

    def v2_runner_item_on_failed(self, result):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        hosts = {name: {} for name in stats.processed}
        hosts.update((name, dict(sorted(counts.items()))) for name, counts in self._counts.items() if name != CONTROLLER)
        report = {'hosts': dict(sorted(hosts.items())), CONTROLLER: dict(sorted(self._counts[CONTROLLER].items()))}
        with open(self.get_option('path'), 'w', encoding='utf-8') as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
