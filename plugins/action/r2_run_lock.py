# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action behind r2_run_lock: runs on the controller only, for the ansible-playbook process of the run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _run_lock

display = Display()

DEFAULT_DIR = '~/.ansible/cloudflare_r2/locks'


def playbook_pid():
    """The ansible-playbook process: tasks run in worker processes forked from it."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None else os.getpid()


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            key=dict(type='str', required=True, no_log=False),
            state=dict(type='str', default='held', choices=['held', 'released']),
            lock_dir=dict(type='path'),
            timeout=dict(type='float', default=600)))
        folder = args['lock_dir'] or os.environ.get('R2_LOCK_DIR') or DEFAULT_DIR
        pid = playbook_pid()
        result.update(changed=False, key=args['key'])
        try:
            if args['state'] == 'released':
                result['released'] = _run_lock.release(folder, args['key'], pid)
                return result
            path, taken_over = _run_lock.acquire(
                folder, args['key'], pid, args['timeout'],
                waiting=lambda holder: display.display('r2_run_lock: waiting up to %ds for another run of %s (%s)'
                                                       % (args['timeout'], args['key'], _run_lock.describe(holder))))
        except _run_lock.LockError as exc:
            result.update(failed=True, msg='r2_run_lock: %s' % exc)
            return result
        result.update(path=path, pid=pid)
        if taken_over:
            result['previous'] = taken_over
        return result
