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
  - Then, once every file of the host is written and proved, one M(cloudflare_r2.credentials.r2_reload) run runs
    the reload commands of the credentials whose copy changed, each command once (see the role's README,
    reloads). A credential with reload commands is written with a reload mark, which that run removes once its
    commands succeeded; a reload that fails fails the host with a message naming it, and the copy does not count
    as in use (a rotation does not finish for it) until a later run ran the reload again.
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
    details: Predicts the writes (with placeholders for secrets a check-mode reconcile did not make) and the reloads
      that would run (RV(reloads)); no S3 check, no reload.
  diff_mode:
    support: full
    details: The sections and files before and after, secrets masked.
  platform:
    platforms: posix
options:
  mode:
    description:
      - V(rotate) tries every new secret from the host before writing it; so does any mode when the reconcile
        started a rotation for the host (action C(rotation_started)), whatever started it.
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
reloads:
  description: One line per reload command - its name, whom it ran as, whether it succeeded, failed or would run
    (check mode), and for which credentials.
  returned: always
  type: list
  elements: str
  sample: ["reload uploader (as root) succeeded for media"]
  version_added: 0.4.0
rotation_started:
  description:
    - Whether the host now holds the new token of a rotation this run started (written, checked, reloaded), so
      that the run finishes it (the provision playbook's last plays, the role's C(main) entry point).
  returned: always
  type: bool
  version_added: 0.4.0
handler_credentials:
  description:
    - The credentials whose copy changed and that name the handler (C(handler=true)), for the handlers of the
      C(r2 credentials changed) topic - C(name), C(type), C(user), C(profile), C(action) (what the reconcile did),
      C(access_key_id), C(expiration) and C(files) (kind to path). No secret.
  returned: always
  type: list
  elements: dict
  version_added: 0.4.0
modules:
  description: The modules this task ran on the host, in order.
  returned: always
  type: list
  elements: str
  sample: [cloudflare_r2.credentials.r2_client_files, cloudflare_r2.credentials.r2_s3_check]
'''
