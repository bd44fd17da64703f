# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action behind r2_provision_inspect: validate on the controller, one r2_client_files_info run on the host.

A copy that an earlier run wrote but whose reloads did not succeed (its reload mark) is finished first, before the
reconcile can count it as in use: its files are checked with a real S3 request (r2_s3_check) and its reloads run
again (r2_reload). Only hosts with such a copy run these two modules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import ArgumentValueError
from ansible.plugins.action import ActionBase

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _provision, _text
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import CloudflareError, check_api_token

INFO_MODULE = 'cloudflare_r2.credentials.r2_client_files_info'
CHECK_MODULE = 'cloudflare_r2.credentials.r2_s3_check'
RELOAD_MODULE = 'cloudflare_r2.credentials.r2_reload'
# The provision role's own argument spec (its one truth for the role's variables), read once per run: the
# playbooks check the variables here instead of in a task of their own per host (rolespec_validate: false).
ROLE_SPECS = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'provision', 'meta', 'argument_specs.yml')


def _role_spec(entry_point):
    try:
        with open(ROLE_SPECS, 'rb') as handle:
            return yaml.safe_load(handle)['argument_specs'][entry_point]['options']
    except (IOError, OSError, KeyError, TypeError, yaml.YAMLError):
        return None


INSPECT_SPEC = _role_spec('inspect')


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if self._task.args.get('validate') and INSPECT_SPEC:
            # as validate_argument_spec does it: the role's variables, templated, against its entry point's spec
            provided = self._templar.template(dict((name, task_vars[name]) for name in INSPECT_SPEC if name in task_vars))
            checked = ArgumentSpecValidator(INSPECT_SPEC).validate(provided, validate_role_argument_spec=True)
            # checked here, before any host is read, with a message that names the variable and not the value; the
            # reconcile runs on the controller, where an empty provision_api_token means CLOUDFLARE_API_TOKEN
            token, field = provided.get('provision_api_token'), 'provision_api_token'
            if not token and os.environ.get('CLOUDFLARE_API_TOKEN'):
                token, field = os.environ['CLOUDFLARE_API_TOKEN'], 'CLOUDFLARE_API_TOKEN (provision_api_token is empty)'
            if token:
                try:
                    check_api_token(token, field)
                except CloudflareError as exc:
                    checked.errors.append(ArgumentValueError(str(exc)))
            if checked.error_messages:
                result.update(failed=True, argument_errors=[_text.printable(m) for m in checked.error_messages],
                              msg='%s: validation of the provision role\'s variables failed:\n%s'
                                  % (_text.printable(task_vars.get('inventory_hostname')),
                                     '\n'.join(_text.printable(m) for m in checked.error_messages)))
                return result
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            credentials=dict(type='raw', required=True),   # checked by normalize_host, one message per problem
            settings=dict(type='dict', required=True),
            mode=dict(type='str', default='provision', choices=['provision', 'rotate', 'revoke']),
            validate=dict(type='bool', default=False),
            # the S3 check of a copy whose reloads are run again
            validate_certs=dict(type='bool', default=True),
            retries=dict(type='int', default=0),
            delay=dict(type='float', default=2)))
        mode = args['mode']
        host = task_vars.get('inventory_hostname')
        plan = _provision.normalize_host(host, args.get('credentials'), args.get('settings'))
        result.update(changed=False, modules=[])
        if plan['errors']:
            result.update(failed=True, msg='; '.join(plan['errors']))
            return result
        plan['inspect'] = _provision.inspect_spec(plan, args.get('settings'))
        observed, machine = [], None
        # a revocation reads nothing (and connects to nothing): an unreachable host's tokens go all the same
        try:
            if mode != 'revoke' and plan['inspect']:
                held = self._execute_module(module_name=INFO_MODULE, module_args={'users': plan['inspect']},
                                            task_vars=task_vars)
                result['modules'].append(INFO_MODULE)
                if held.get('failed') or held.get('unreachable'):
                    held['modules'] = result['modules']
                    return held
                observed = held.get('users') or []
                machine = held.get('machine')
            _provision.apply_observed(plan, observed, args.get('settings'), machine)
            if mode != 'revoke' and plan['missing_users']:
                result.update(failed=True, msg='%s: provision_credentials: user(s) %s do not exist on this host '
                                               '(credential field user, or provision_user); create them first'
                                               % (_text.printable(host), ', '.join(plan['missing_users'])))
                return result
            if mode != 'revoke' and _provision.pending_of(plan):
                problem = self._reload_again(host, plan, args, task_vars, result)
                if problem:
                    result.update(failed=True, msg=problem)
                    return result
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(host=host, plan=plan, entries=_provision.entries_of_host(plan),
                      account_id=_provision.settings_with_defaults(args.get('settings'))['account_id'])
        return result

    def _reload_again(self, host, plan, args, task_vars, result):
        """Finish the copies an earlier run wrote whose reloads did not succeed: check their files, then run their
        reloads again. Returns the host's failure message, or None (the copies now count as in use, or as lost when
        the check refused them as credentials). In check mode only reports what would run."""
        shown = _text.printable('%s' % host)
        if self._task.check_mode:
            result['reloads'] = _provision.reload_report(_provision.reload_spec(plan, _provision.pending_of(plan)))
            return None
        checks = _provision.retry_checks(plan)
        if checks:
            checked = self._execute_module(module_name=CHECK_MODULE, module_args=dict(
                checks=checks, validate_certs=args['validate_certs'], retries=args['retries'], delay=args['delay']),
                task_vars=task_vars)
            result['modules'].append(CHECK_MODULE)
            if checked.get('unreachable'):
                return '%s: unreachable: %s' % (shown, checked.get('msg'))
            problem = _provision.judge_retry(plan, checked.get('checks'))
            if problem or (checked.get('failed') and not checked.get('checks')):
                return ('%s: the credentials an earlier run wrote (whose reloads did not succeed) cannot be checked, so '
                        'their reloads are not run again and nothing changes for this host: %s'
                        % (shown, problem or checked.get('msg')))
        spec = _provision.reload_spec(plan, _provision.pending_of(plan))
        if not spec['profiles']:
            return None
        outcome = self._execute_module(module_name=RELOAD_MODULE, module_args=_provision.module_args(spec),
                                       task_vars=task_vars)
        result['modules'].append(RELOAD_MODULE)
        result['changed'] = bool(outcome.get('changed'))
        result['reloads'] = _provision.reload_report(spec, outcome)
        if outcome.get('failed') or outcome.get('unreachable'):
            return _provision.reload_failure(shown, spec, outcome, retried=True)
        for cred in _provision.pending_of(plan):
            cred['reload_pending'] = False
        return None
