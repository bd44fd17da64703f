# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's ``main()`` in-process and get back what the controller would receive.

``patch_module_exits(monkeypatch)`` makes ``AnsibleModule.exit_json`` and ``fail_json`` raise
``ModuleExit`` instead of printing and exiting. The result is formatted as ``_return_formatted`` does it:
``invocation`` added, ``no_log`` values scrubbed, warnings collected. So a test that finds no secret in
``ModuleExit.result`` has checked the module's real output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.module_utils import basic
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


def _formatted(module, kwargs):
    kwargs['warnings'] = list(warnings.get_warning_messages())
    kwargs.setdefault('invocation', {'module_args': module.params})
    return basic.remove_values(kwargs, module.no_log_values)


def patch_module_exits(monkeypatch):
    """Make exit_json/fail_json raise ModuleExit (for this test only)."""
    def exit_json(self, **kwargs):
        raise ModuleExit(_formatted(self, kwargs), False)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise ModuleExit(_formatted(self, kwargs), True)

    monkeypatch.setattr(warnings, '_global_warnings', {})
    # Importing any controller code (a filter or lookup test in the same process) makes module warnings go to
    # the controller's display instead of the result: run the module as a module.
    monkeypatch.setattr(module_utils_internal, 'is_controller', False)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)


def run_module(module, params, check=False, diff=False):
    """The ModuleExit of ``module.main()`` run with ``params`` (check and diff mode as asked)."""
    params = dict(params)
    if check:
        params['_ansible_check_mode'] = True
    if diff:
        params['_ansible_diff'] = True
    with patch_module_args(params):
        with pytest.raises(ModuleExit) as exit_info:
            module.main()
    return exit_info.value


def result_of(outcome):
    """The result of a run that must have succeeded."""
    assert not outcome.failed, outcome.result.get('msg')
    return outcome.result


def message_of(outcome):
    """The message of a run that must have failed."""
    assert outcome.failed, outcome.result
    return outcome.result['msg']
