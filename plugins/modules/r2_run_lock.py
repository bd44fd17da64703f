#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_run_lock
short_description: Hold a lock on the controller for the rest of the playbook run
version_added: 0.3.0
description:
  - Takes a named lock on the controller for the C(ansible-playbook) process that runs the task, and keeps it until
    that process ends. A second run that asks for the same lock waits for it, up to O(timeout) seconds, then fails
    with a message naming the run that holds it. Nothing else is changed.
  - The P(cloudflare_r2.credentials.provision#role) role's playbooks take the lock of the account (and owner) in
    a play of their own, before any host is inspected. Two provision, rotate or revoke runs of one account on one
    controller (a cron job that overlaps, a second terminal) run one after the other, and the second one reads
    what the first one rendered.
  - The lock file holds the process id, its start time and the host name. A lock whose process is gone (a
    finished or killed run) is free, so a killed run never blocks the next one. A lock taken under another host
    name (a lock folder shared between machines) cannot be checked and counts as held for 24 hours.
  - The lock covers the runs that use the same O(lock_dir). By default the folder is per user, so runs of two unix
    users on one controller are serialized only when both set the same O(lock_dir) (for example a folder of
    their group). The folder must be a real folder of this user or root that other users cannot write; a link
    or a world-writable folder is refused, since whoever may write there can hold or remove every run's lock.
  - The lock covers one machine;
    several controllers are covered by M(cloudflare_r2.credentials.r2_credential_set) itself (duplicate tokens are
    detected after each create and resolved).
  - Runs on the controller only; the target host is not contacted.
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
    details: Takes the lock in check mode too, so that a check run reads a consistent state.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  key:
    description:
      - Name of the lock. The lock file is named after it when it is 1 to 128 letters, digits, C(.), C(_) or C(-),
        else after its SHA-256 digest.
    type: str
    required: true
  state:
    description: V(held) takes the lock (waiting for it); V(released) gives it up before the run ends.
    type: str
    choices: [held, released]
    default: held
  lock_dir:
    description:
      - Folder of the lock files on the controller, created 0700 when missing. Default C($R2_LOCK_DIR), else
        C(~/.ansible/cloudflare_r2/locks). Must belong to this user or root and not be writable by other users.
    type: path
  timeout:
    description: Seconds to wait for another run that holds the lock; V(0) fails at once.
    type: float
    default: 600
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: One run of this account at a time on this controller
  cloudflare_r2.credentials.r2_run_lock:
    key: "account-{{ cloudflare_account_id }}"
    timeout: 300
  run_once: true
'''

RETURN = r'''
path:
  description: The lock file.
  returned: when the lock is held
  type: str
pid:
  description: The process that holds the lock (this run's ansible-playbook).
  returned: when the lock is held
  type: int
previous:
  description: The run that held the lock before (a finished or killed run), with C(pid), C(host) and C(since).
  returned: when the lock was taken over
  type: dict
released:
  description: Whether V(state=released) gave the lock up (false when this run did not hold it).
  returned: with O(state=released)
  type: bool
'''
