# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the provision role: r2_provision_plan, r2_provision_entries, r2_provision_fleet,
r2_provision_result, r2_provision_render.

Documented in the .yml files of the same names; the model is module_utils/_provision.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _provision


def r2_provision_plan(credentials, hostname, settings=None, observed=None):
    """Validate and normalise one host's credentials, with the ``users`` to inspect (``inspect``); given what
    ``r2_client_files_info`` observed (``observed``, a list of users), add homes, files, fingerprints and what the
    host holds."""
    plan = _provision.normalize_host(hostname, credentials, settings)
    if not plan['errors']:
        plan['inspect'] = _provision.inspect_spec(plan, settings)
        if observed is not None:
            _provision.apply_observed(plan, observed, settings)
    return plan


def r2_provision_entries(plan):
    """r2_credential_set entries of one host, carrying what the host holds."""
    if not isinstance(plan, dict) or 'credentials' not in plan:
        raise AnsibleFilterError('r2_provision_entries: expects a plan from r2_provision_plan')
    return _provision.entries_of_host(plan)


def r2_provision_fleet(inspected):
    """The reconcile's entries from the inspect results of every host, leaving out (with a message each) the hosts
    that are one machine and write the same user's client files."""
    if not isinstance(inspected, list):
        raise AnsibleFilterError('r2_provision_fleet: expects the list of the hosts\' inspect results')
    return _provision.fleet(inspected)


def r2_provision_result(result, inspected, conflict=None):
    """The part of the r2_credential_set result that belongs to one host (from its inspect result)."""
    return _provision.result_for_host(result, inspected, conflict)


def r2_provision_report(result, host_count, retried=None):
    """The reconcile's report line (actions, API requests, rotation schedule, failure)."""
    if not isinstance(result, dict):
        raise AnsibleFilterError('r2_provision_report: expects the registered result of r2_credential_set')
    return _provision.reconcile_report(result, host_count, retried)


def r2_provision_finishing(hosts, hostvars):
    """The hosts whose render of this run took a rotation's new token (the run finishes their rotations)."""
    return _provision.finishing(list(hosts), hostvars)


def r2_provision_accounts(account_hosts, hostvars):
    """r2_credential_set's accounts option from the inventory variables of each account's first host."""
    return _provision.accounts_of(account_hosts, hostvars)


def r2_provision_signing(fleet, keys):
    """The fleet's entries with local signing where the play gives a shared token's key."""
    try:
        return _provision.with_signing_keys(fleet, keys)
    except _provision.ProvisionError as exc:
        raise AnsibleFilterError(str(exc))


def r2_provision_lock_keys(hosts, hostvars, owner, default_account):
    """The run-lock keys of every account of the hosts."""
    return _provision.lock_keys(list(hosts), hostvars, owner, default_account)


def r2_provision_render(plan, credentials, check_mode=False):
    """client_config runs and access checks of one host, from the r2_credential_set result."""
    try:
        return _provision.render_host(plan, credentials, check_mode)
    except _provision.ProvisionError as exc:
        raise AnsibleFilterError('r2_provision_render: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {
            'r2_provision_plan': r2_provision_plan,
            'r2_provision_entries': r2_provision_entries,
            'r2_provision_fleet': r2_provision_fleet,
            'r2_provision_render': r2_provision_render,
            'r2_provision_result': r2_provision_result,
            'r2_provision_report': r2_provision_report,
            'r2_provision_finishing': r2_provision_finishing,
            'r2_provision_accounts': r2_provision_accounts,
            'r2_provision_lock_keys': r2_provision_lock_keys,
            'r2_provision_signing': r2_provision_signing,
        }
