# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the audit playbook: r2_audit_plan, r2_audit_report.

Documented in the .yml files of the same names; the model is module_utils/_audit.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _audit


def r2_audit_plan(hosts, hostvars, targets=None):
    """The accounts to audit and the token names every host of ``hosts`` declares, read from ``hostvars`` (only
    the provision role's variables of ``_audit.HOST_VARIABLES``; never the API token)."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('r2_audit_plan: expects the list of the inventory\'s hosts (groups[\'all\'])')
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('r2_audit_plan: its first argument must be hostvars')
    items = []
    for host in hosts:
        variables = hostvars[host]
        items.append({'host': host, 'vars': dict((name, variables.get(name)) for name in _audit.HOST_VARIABLES)})
    return _audit.plan(items, targets)


def r2_audit_report(listings, problems=None):
    """The audit report from the registered r2_token_info loop over the plan's accounts (its ``results``)."""
    if not isinstance(listings, (list, tuple)):
        raise AnsibleFilterError('r2_audit_report: expects the results of the r2_token_info loop over the accounts')
    return _audit.report(listings, problems)


class FilterModule(object):
    def filters(self):
        return {
            'r2_audit_plan': r2_audit_plan,
            'r2_audit_report': r2_audit_report,
        }
