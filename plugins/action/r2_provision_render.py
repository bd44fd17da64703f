# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action behind r2_provision_render: on the host, the rotation trials (one r2_s3_check run), one r2_client_files
run per user, then one r2_s3_check run proving every file written, then one r2_reload run for the reload commands
of the credentials whose copy changed (only on hosts that have some).

The host's plan and its part of the reconcile result (with the new secrets) are read from the host's variables
(the registered inspect result and the fact the reconcile handed out), never from the task's arguments, so no
secret is ever templated into a task or shown with it. The result holds no secret; registered under the name of
the fact that held the secrets, it replaces them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _provision

FILES_MODULE = 'cloudflare_r2.credentials.r2_client_files'
CHECK_MODULE = 'cloudflare_r2.credentials.r2_s3_check'
RELOAD_MODULE = 'cloudflare_r2.credentials.r2_reload'
# what a module result may pass on (never its invocation: the arguments hold the secrets)
KEPT = {FILES_MODULE: ('files', 'profiles', 'tightened', 'home', 'msg'), CHECK_MODULE: ('checks', 'msg'),
        RELOAD_MODULE: ('commands', 'profiles', 'msg')}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def _run(self, name, args, task_vars, result):
        """Run one module on the host; returns its result cut down to KEPT, with failed/changed."""
        raw = self._execute_module(module_name=name, module_args=args, task_vars=task_vars)
        result['modules'].append(name)
        kept = dict((k, raw[k]) for k in KEPT[name] if k in raw)
        kept.update(failed=bool(raw.get('failed') or raw.get('unreachable')), changed=bool(raw.get('changed')))
        if raw.get('unreachable'):
            result['unreachable'] = True
        if name == FILES_MODULE and raw.get('diff'):
            result.setdefault('diff', []).extend(raw['diff'])
        return kept

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            mode=dict(type='str', default='provision', choices=['provision', 'rotate', 'revoke']),
            inspected=dict(type='str', default='__provision_inspect'),
            result=dict(type='str', default='__provision_result'),
            validate_certs=dict(type='bool', default=True),
            retries=dict(type='int', default=0),
            delay=dict(type='float', default=2)))
        host = task_vars.get('inventory_hostname')
        check_mode = bool(self._task.check_mode)
        inspected = task_vars.get(args['inspected']) or {}
        handed = task_vars.get(args['result'])
        result.update(changed=False, modules=[], users={}, checks=[], trials=[], reloads=[], handler_credentials=[],
                      rotation_started=False)
        problem = _provision.coverage_problem(host, inspected, handed)
        if problem:
            result.update(failed=True, msg=problem)
            return result
        try:
            render = _provision.render_host(inspected['plan'], handed['credentials'], check_mode)
        except _provision.ProvisionError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        check_args = dict((k, args[k]) for k in ('validate_certs', 'retries', 'delay'))
        try:
            if (args['mode'] == 'rotate' or render['rotating']) and not check_mode and render['trials']:
                trial = self._run(CHECK_MODULE, dict(check_args, checks=render['trials']), task_vars, result)
                result['trials'] = trial.get('checks', [])
                if trial['failed']:
                    result.update(failed=True, msg='%s: a new credential does not work from this host, nothing was '
                                                   'written: %s' % (host, trial.get('msg')))
                    return result
            for run in render['runs']:
                module_args = dict((k, run[k]) for k in ('user', 'profiles', 'create_home'))
                if run.get('home'):
                    module_args['home'] = run['home']
                written = self._run(FILES_MODULE, module_args, task_vars, result)
                result['users'][run['user']] = dict((k, v) for k, v in written.items() if k != 'msg')
                result['changed'] = result['changed'] or written['changed']
                if written['failed']:
                    result.update(failed=True, msg='%s: %s' % (host, written.get('msg')))
                    return result
            if not check_mode and render['checks']:
                checked = self._run(CHECK_MODULE, dict(check_args, checks=render['checks']), task_vars, result)
                result['checks'] = checked.get('checks', [])
                if checked['failed']:
                    result.update(failed=True, msg='%s: %s' % (host, checked.get('msg')))
                    return result
            # every file of the host is written and proved: now what uses the credentials reads them again
            spec = render['reloads']
            if spec['profiles']:
                if check_mode:
                    result['reloads'] = _provision.reload_report(spec)
                else:
                    outcome = self._run(RELOAD_MODULE, _provision.module_args(spec), task_vars, result)
                    result['reloads'] = _provision.reload_report(spec, outcome)
                    result['changed'] = True
                    if outcome['failed']:
                        result.update(failed=True, msg=_provision.reload_failure(host, spec, outcome))
                        return result
            # for the play's handlers of the "r2 credentials changed" topic (no secret)
            result['handler_credentials'] = render['changed']
            # the host holds a rotation's new token, written, checked and reloaded: the run finishes it
            result['rotation_started'] = bool(render['rotating']) and not check_mode
            # what was applied for this host is written above; its own failed entries fail it now
            failure = _provision.failure_of(host, handed)
            if failure:
                result.update(failed=True, msg=failure)
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
