# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml: every module that takes the connection options is in the r2 action group, and says so."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def modules():
    folder = os.path.join(COLLECTION, 'plugins', 'modules')
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith('.py') and not name.startswith('_'))


def test_every_connection_module_is_in_the_action_group():
    with open(os.path.join(COLLECTION, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    assert runtime['requires_ansible'] == '>=2.16.0'
    group = runtime['action_groups']['r2']
    assert group == sorted(group), 'keep the action group alphabetical'
    connection_modules = []
    for name in modules():
        with open(os.path.join(COLLECTION, 'plugins', 'modules', name + '.py')) as handle:
            source = handle.read()
        if 'cloudflare_r2.credentials.connection' in source:
            connection_modules.append(name)
            assert 'cloudflare_r2.credentials.connection.action_group' in source, name
    assert connection_modules and group == connection_modules


def test_galaxy_metadata_for_lint_and_build():
    with open(os.path.join(COLLECTION, 'galaxy.yml')) as handle:
        galaxy = yaml.safe_load(handle)
    assert (galaxy['namespace'], galaxy['name']) == ('cloudflare_r2', 'credentials')
    assert {'cloud', 'security', 'storage'} <= set(galaxy['tags'])
    for ignored in ('tests/output', '.ansible', 'collections', '.venv', 'node_modules'):
        assert ignored in galaxy['build_ignore'], ignored
    assert re.match(r'^\d+\.\d+\.\d+$', galaxy['version'])
