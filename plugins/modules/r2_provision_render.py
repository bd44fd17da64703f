#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_provision_render
short_description: The provision role's render phase for one host, in one task
version_added: 0.2.0
description:
  - Writes the credentials the reconcile handed to a host and proves them, with at most one module run per step on
    the host. In a rotation, first one M(cloudflare_r2.credentials.r2_s3_check) run tries every new secret from the
    host before anything is written. Then one M(cloudflare_r2.credentials.r2_client_files) run per user writes the
    new profiles and removes the revoked ones. Then one M(cloudflare_r2.credentials.r2_s3_check) run proves every
    file written (aws profile, rclone remote, s3cmd file, env file) with a real S3 request that reads it.
  - The host's plan and its part of the reconcile result (with the new secrets) are read from the host's
    variables named by O(inspected) and O(result), never from the task's arguments, so no secret is templated into
    the task. The result holds no secret; register it under the name in O(result) to replace the secrets.
  - Used by the P(cloudflare_r2.credentials.provision#role) role. Does not call Cloudflare.
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
    details: Predicts the writes (with placeholders for secrets a check-mode reconcile did not make); no S3 check.
  diff_mode:
    support: full
    details: The sections and files before and after, secrets masked.
  platform:
    platforms: posix
options:
  mode:
    description: V(rotate) tries every new secret from the host before writing it.
    type: str
    choices: [provision, rotate, revoke]
    default: provision
  inspected:
    description: Name of the host variable with the registered result of M(cloudflare_r2.credentials.r2_provision_inspect).
    type: str
    default: __provision_inspect
  result:
    description: Name of the host variable with the host's part of the reconcile result.
    type: str
    default: __provision_result
  validate_certs:
    description: Validate the TLS certificates of the S3 endpoints.
    type: bool
    default: true
  retries:
    description: Retries of a check that did not pass yet (a new token may take a moment to be accepted).
    type: int
    default: 0
  delay:
    description: Seconds between those retries.
    type: float
    default: 2
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Render
  cloudflare_r2.credentials.r2_provision_render:
    mode: "{{ provision_mode }}"
    retries: 5
  register: __provision_result   # replaces the secrets the reconcile handed to this host
'''

RETURN = r'''
users:
  description: Per user, what M(cloudflare_r2.credentials.r2_client_files) did (C(files), C(profiles), C(tightened)).
  returned: always
  type: dict
checks:
  description: The results of the checks of every file written (no secret).
  returned: always
  type: list
  elements: dict
trials:
  description: In a rotation, the results of trying every new secret from the host.
  returned: always
  type: list
  elements: dict
modules:
  description: The modules this task ran on the host, in order.
  returned: always
  type: list
  elements: str
  sample: [cloudflare_r2.credentials.r2_client_files, cloudflare_r2.credentials.r2_s3_check]
'''
