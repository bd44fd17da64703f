#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_provision_inspect
short_description: The provision role's inspect phase for one host, in one task
version_added: 0.2.0
description:
  - Validates what a host declares (on the controller; one message naming the host, the credential and the field
    per problem), then reads what the host holds with one run of M(cloudflare_r2.credentials.r2_client_files_info)
    for every user of the host (no secret leaves the host), and returns the host's plan and its entries for
    M(cloudflare_r2.credentials.r2_credential_set).
  - A copy of a credential that an earlier run wrote but whose reload commands did not succeed (its reload mark)
    is finished first, before the reconcile may count it as in use - its files are checked with one
    M(cloudflare_r2.credentials.r2_s3_check) run and its reloads run again with one
    M(cloudflare_r2.credentials.r2_reload) run. A reload that fails again fails the host (nothing changes for it);
    a copy that the check refuses as a credential (expired, deleted) counts as lost, so the reconcile hands out a
    new one. Only hosts with such a copy run these two modules.
  - Used by the P(cloudflare_r2.credentials.provision#role) role; register the result, the render phase reads it.
  - Does not call Cloudflare.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads the host the same way in check mode; reports the reloads it would run again (RV(reloads)) and
      runs nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  credentials:
    description: The host's credentials (the role's C(provision_credentials)).
    type: list
    elements: dict
    required: true
  settings:
    description: The role-wide settings (see the role's C(vars/main.yml)).
    type: dict
    required: true
  mode:
    description: V(revoke) reads nothing (and connects to nothing), so an unreachable host's tokens can go.
    type: str
    choices: [provision, rotate, revoke]
    default: provision
  validate:
    description:
      - Check the provision role's variables (C(provision_*)) against the role's C(inspect) entry point argument spec
        first, as C(ansible.builtin.validate_argument_spec) would, without a task of its own per host. The
        collection's playbooks set it and include the role with C(rolespec_validate=false).
    type: bool
    default: false
  validate_certs:
    description: Validate the TLS certificates of the S3 endpoints (the check of a copy whose reloads run again).
    type: bool
    default: true
    version_added: 0.4.0
  retries:
    description: Retries of that check.
    type: int
    default: 0
    version_added: 0.4.0
  delay:
    description: Seconds between those retries.
    type: float
    default: 2
    version_added: 0.4.0
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Inspect
  cloudflare_r2.credentials.r2_provision_inspect:
    credentials: "{{ provision_credentials }}"
    settings: "{{ _provision_settings }}"
    mode: "{{ provision_mode }}"
  register: __provision_inspect
'''

RETURN = r'''
plan:
  description:
    - The host's normalised credentials with their files, fingerprints and what the host holds. No secret.
    - Also C(machine) (which machine the host is) and C(holders) (per user, the folder of its client files and that
      folder's identity), with which P(cloudflare_r2.credentials.r2_provision_fleet#filter) tells two inventory
      aliases of one machine apart.
  returned: success
  type: dict
entries:
  description: The host's C(tokens) and C(temporary) entries for M(cloudflare_r2.credentials.r2_credential_set).
  returned: success
  type: dict
host:
  description: The inventory hostname (the reconcile hands each host its part of the result by it).
  returned: success
  type: str
account_id:
  description: The account the host's credentials belong to.
  returned: success
  type: str
reloads:
  description: The reloads of copies an earlier run wrote that this task ran again (or would run, in check mode),
    one line each.
  returned: when there were some
  type: list
  elements: str
  version_added: 0.4.0
modules:
  description: The modules this task ran on the host, in order.
  returned: always
  type: list
  elements: str
  sample: [cloudflare_r2.credentials.r2_client_files_info]
'''
