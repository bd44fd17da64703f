# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit filters: r2_audit_plan reads only the provision role's non-secret variables from hostvars."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from collections.abc import Mapping

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudflare_r2.credentials.plugins.filter import audit
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _audit

ACCOUNT = '0123456789abcdef0123456789abcdef'
SECRET = 'cfat_' + 'Qm7Zt2Wx9Lp4Rk8Vn3Hs6Jd1Fb5Gc0Ya' + 'Ue2Io4'


class HostVars(Mapping):
    """hostvars as a filter meets them: a mapping of host to a mapping of variables; records what is read."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.read = []

    def __getitem__(self, host):
        return Variables(self.hosts[host], self.read, host)

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)


class Variables(Mapping):
    def __init__(self, variables, read, host):
        self.variables, self.read, self.host = variables, read, host

    def __getitem__(self, name):
        self.read.append((self.host, name))
        return self.variables[name]

    def __iter__(self):
        return iter(self.variables)

    def __len__(self):
        return len(self.variables)


def inventory():
    common = {'provision_account_id': ACCOUNT, 'provision_api_token': SECRET, 'ansible_host': '192.0.2.7'}
    return HostVars({
        'web1': dict(common, provision_credentials=[{'name': 'app'}], provision_api_url='http://127.0.0.1:9/v4'),
        'web2': dict(common, provision_credentials=[{'name': 'app'}, {'name': 'db'}]),
        'localhost': {},
    })


def test_plan_from_hostvars_reads_only_the_roles_variables_never_the_api_token():
    hostvars = inventory()
    plan = audit.r2_audit_plan(['web1', 'web2', 'localhost'], hostvars, ['web2'])
    [account] = plan['accounts']
    assert account['declared'] == ['ansible:web1/app', 'ansible:web2/app', 'ansible:web2/db']
    assert account['connection'] == {'host': 'web2'}
    assert set(name for dummy, name in hostvars.read) <= set(_audit.HOST_VARIABLES)
    assert 'provision_api_token' not in _audit.HOST_VARIABLES
    assert SECRET not in repr(plan)


def test_every_host_given_counts_and_the_targets_pick_the_accounts():
    plan = audit.r2_audit_plan(['web1', 'web2'], inventory())
    assert plan['accounts'][0]['connection'] == {'host': 'web1', 'api_url': 'http://127.0.0.1:9/v4'}
    assert audit.r2_audit_plan(['web1', 'web2'], inventory(), ['localhost'])['accounts'] == []


@pytest.mark.parametrize('args,message', [
    (('web1', {}), "expects the list of the inventory's hosts"),
    ((['web1'], ['web1']), 'its first argument must be hostvars'),
])
def test_plan_refuses_wrong_arguments(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        audit.r2_audit_plan(*args)


def test_report_filter():
    plan = audit.r2_audit_plan(['web1'], inventory())
    listing = {'item': plan['accounts'][0], 'tokens': [{'id': '1' * 32, 'name': 'ansible:web0/app', 'findings': []}]}
    result = audit.r2_audit_report([listing])
    assert [t['name'] for t in result['accounts'][0]['orphans']] == ['ansible:web0/app']
    with pytest.raises(AnsibleFilterError, match='expects the results of the r2_token_info loop'):
        audit.r2_audit_report({'results': []})


def test_the_filters_are_registered_and_documented():
    filters = audit.FilterModule().filters()
    assert sorted(filters) == ['r2_audit_plan', 'r2_audit_report']
    folder = os.path.dirname(audit.__file__)
    for name in filters:
        with open(os.path.join(folder, name + '.yml')) as handle:
            doc = yaml.safe_load(handle)
        assert doc['DOCUMENTATION']['name'] == name and doc['DOCUMENTATION']['version_added'] == '0.4.0'
        assert doc['EXAMPLES'] and doc['RETURN']['_value']['description']
