#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_token
short_description: Manage Cloudflare API tokens that grant R2 access, and their S3 credentials
version_added: 0.1.0
description:
  - Creates, updates, rotates and deletes a Cloudflare API token that carries one R2 permission
    (Admin Read & Write, Admin Read only, Object Read & Write or Object Read only), optionally scoped to
    buckets in a jurisdiction.
  - The token is identified by its O(name). The module refuses to act when several tokens share that name.
  - "A token's S3 credentials are derived from it: the Access Key ID is the token id, the Secret Access Key is
    the SHA-256 hex digest of the token value. Cloudflare shows the value only once: the secret is returned
    when the token is created or rotated, never again."
  - An existing token whose permission, buckets, IP rules, validity or O(status) differ is updated in place; its
    id and secret stay the same. That includes an Admin token made by version 0.3.0 or earlier, which carries the
    R2 storage permission group alone; it gets the R2 Data Catalog group of its level too.
  - B(Dead tokens.) A token that Cloudflare reports C(expired) (its C(expires_on) passed) or C(revoked (exposed))
    (Cloudflare revokes a token whose value was found in a public repository) cannot be brought back to life.
    With O(state=present) and O(status) omitted or V(active) it is replaced - deleted and created again with the same name, so
    a new id and new S3 credentials - and RV(action) is V(reissued). Its past C(expires_on) is not carried over
    unless O(expires_on) is given.
extends_documentation_fragment:
  - cloudflare_r2.credentials.connection
  - cloudflare_r2.credentials.connection.account
  - cloudflare_r2.credentials.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Predicts C(changed) and the token without any write; never returns a secret.
  diff_mode:
    support: full
    details: Shows non-secret fields only (permission, buckets, IP rules, validity, status).
  platform:
    platforms: all
options:
  name:
    description:
      - Name of the token, its identity. At most 120 characters, without surrounding whitespace or control
        characters, and not ending with C(~next), which is reserved for the second token of a rotation by
        M(cloudflare_r2.credentials.r2_credential_set) (that module removes such a token it does not expect).
      - Use a deterministic name (for example built from the inventory hostname) so that reruns find it.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the token; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Whether the token is owned by the account (V(account), listed under the account and kept until revoked)
        or by the user of O(api_token) (V(user), which stops working when that user leaves the account).
      - Cloudflare allows 500 account tokens per account and 50 user tokens per user.
    type: str
    choices: [account, user]
    default: account
  permission:
    description:
      - The R2 permission. Required with O(state=present).
      - V(admin_read_write) is Admin Read & Write (create, list and delete buckets, read and write every object).
      - V(admin_read_only) is Admin Read only (list buckets, read bucket configuration, list and read objects).
      - V(object_read_write) is Object Read & Write (read, write, list and delete objects in O(buckets)).
      - V(object_read_only) is Object Read only (read and list objects in O(buckets)).
    type: str
    choices: [admin_read_write, admin_read_only, object_read_write, object_read_only]
  buckets:
    description:
      - Buckets an object permission is limited to, as names or as dicts with C(name) and C(jurisdiction).
      - Empty or omitted with an object permission means every bucket of the account, in every jurisdiction.
      - Not allowed with admin permissions, which always cover the whole account.
      - Bucket names are 3 to 63 characters of lowercase letters, digits and hyphens, not starting or ending
        with a hyphen.
      - See O(check_buckets) for the check that they exist.
      - At most 500 buckets (the collection's cap, checked before any API call).
    type: list
    elements: raw
  jurisdiction:
    description:
      - Jurisdiction of the buckets given by name only in O(buckets). A bucket is reachable only through the
        S3 endpoint of its jurisdiction.
      - V(default), V(eu), V(fedramp) or V(us). Any other lowercase name (a jurisdiction Cloudflare adds
        later) is used as given, with a warning; the bucket check refuses a typo.
    type: str
    default: default
  ip_allow:
    description:
      - Client addresses allowed to use the token (and its S3 credentials), as CIDRs; a bare address is taken as
        C(/32) or C(/128). Sent as C(condition.request_ip.in).
      - At most 100 entries (the collection's cap).
      - Omitted leaves the current rule of an existing token alone; V([]) removes it.
    type: list
    elements: str
  ip_deny:
    description:
      - Client addresses refused, as CIDRs. Sent as C(condition.request_ip.not_in).
      - At most 100 entries (the collection's cap).
      - Omitted leaves the current rule of an existing token alone; V([]) removes it.
    type: list
    elements: str
  expires_on:
    description:
      - When the token stops working, as an RFC 3339 date-time such as V(2030-01-31T00:00:00Z) (naive times are
        UTC). Must be in the future and after O(not_before).
      - Omitted leaves the current expiry of an existing token alone; an empty string removes it.
    type: str
  not_before:
    description:
      - When the token starts working, as an RFC 3339 date-time.
      - Omitted leaves the current value of an existing token alone; an empty string removes it.
    type: str
  check_buckets:
    description:
      - Before a create or an update that sets O(buckets), confirm through the R2 bucket list that each bucket exists
        in its jurisdiction, because Cloudflare accepts a token for a misspelled bucket and the token then grants
        nothing. One list request per jurisdiction involved; none on runs that change nothing.
      - Skipped, with a warning, when O(api_token) may not list buckets (it needs C(Workers R2 Storage Read)).
    type: bool
    default: true
  status:
    description:
      - V(disabled) disables the token without deleting it (same id and secret), so that V(active) can enable it
        again later. A new token is made with this status (a create takes none, so a disabled one is disabled
        right after, before the module returns).
      - Omitted leaves the status of an existing token as it is; a new token is active.
    type: str
    choices: [active, disabled]
    version_added: 0.4.0
  rotate:
    description:
      - Roll the token value, keeping the token id and so the Access Key ID. The new value and Secret Access Key
        are returned once; the old value and secret stop working at once.
      - Rotates on every run where it is V(true); a token that does not exist yet is simply created.
    type: bool
    default: false
notes:
  - The secret is returned only when a token is created or rotated. Register the result with C(no_log=true) on the
    task and store the secret somewhere safe at once; a later run cannot return it again (rotate to get a new one).
  - In check mode nothing is written and no secret is returned; C(access_key_id) is null for a token that would be
    created. Tasks that need the secret must run with C(check_mode=false) or be skipped in check mode.
  - O(ip_allow), O(ip_deny), O(expires_on) and O(not_before) also apply to the S3 credentials.
seealso:
  - module: cloudflare_r2.credentials.r2_token_info
  - name: Cloudflare R2 API tokens
    description: How R2 tokens map to S3 credentials.
    link: https://developers.cloudflare.com/r2/api/tokens/
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Object Read & Write on two EU buckets, as an account token
  cloudflare_r2.credentials.r2_token:
    name: "backup-{{ inventory_hostname }}"
    permission: object_read_write
    jurisdiction: eu
    buckets:
      - backups
      - name: logs
        jurisdiction: default
    ip_allow:
      - 192.0.2.0/24
  delegate_to: localhost
  register: backup_token
  no_log: true

- name: Read-only admin token that expires
  cloudflare_r2.credentials.r2_token:
    name: inventory-reader
    permission: admin_read_only
    expires_on: "2030-01-01T00:00:00Z"
  register: reader
  no_log: true

- name: Rotate the secret, keep the Access Key ID
  cloudflare_r2.credentials.r2_token:
    name: "backup-{{ inventory_hostname }}"
    permission: object_read_write
    jurisdiction: eu
    buckets: [backups, {name: logs, jurisdiction: default}]
    rotate: true
  register: rotated
  no_log: true

- name: Connection options once for every module of the collection
  module_defaults:
    group/cloudflare_r2.credentials.r2:
      account_id: "{{ cloudflare_account_id }}"
      api_token: "{{ vault_cloudflare_api_token }}"
  block:
    - name: Delete the token
      cloudflare_r2.credentials.r2_token:
        name: old-token
        state: absent
'''

RETURN = r'''
action:
  description:
    - What the run did (or would do in check mode) - V(created), V(updated), V(rolled) (O(rotate=true)),
      V(reissued) (a dead token replaced), V(unchanged), V(deleted) or V(absent).
  returned: always
  type: str
  sample: reissued
  version_added: 0.4.0
token:
  description:
    - The token as it is after the run (before deletion for O(state=absent); null when there was none).
    - Never contains the token value.
  returned: always
  type: dict
  contains:
    id:
      description: Token id (also the S3 Access Key ID). Null in check mode for a token that would be created.
      type: str
      sample: ed17574386854bf78a67040be0a770b0
    name:
      description: Token name.
      type: str
    owner:
      description: V(account) or V(user).
      type: str
    status:
      description:
        - V(active), V(disabled), V(expired) or V(revoked (exposed)) (Cloudflare revoked the token after finding
          its value in a public repository).
      type: str
    permission:
      description: The R2 permission, or null if the token's policies are not a single R2 permission.
      type: str
      sample: object_read_write
    permission_groups:
      description: Names of the Cloudflare permission groups the token carries.
      type: list
      elements: str
      sample: ["Workers R2 Data Catalog Write", "Workers R2 Storage Write"]
      version_added: 0.4.0
    buckets:
      description: Buckets the permission is limited to, each with C(name) and C(jurisdiction); empty for all.
      type: list
      elements: dict
      sample: [{"name": "backups", "jurisdiction": "eu"}]
    all_buckets:
      description: True for an object permission over every bucket of the account.
      type: bool
    expires_on:
      description: Expiry (RFC 3339, UTC) or null.
      type: str
    not_before:
      description: Start of validity (RFC 3339, UTC) or null.
      type: str
    ip_allow:
      description: Allowed client CIDRs.
      type: list
      elements: str
    ip_deny:
      description: Refused client CIDRs.
      type: list
      elements: str
    issued_on:
      description: Creation time.
      type: str
    modified_on:
      description: Last modification time.
      type: str
    last_used_on:
      description: Last use, or null.
      type: str
endpoints:
  description: S3 endpoint URL per jurisdiction the token reaches. Empty for O(state=absent).
  returned: always
  type: dict
  sample: {"eu": "https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com"}
access_key_id:
  description: S3 Access Key ID (the token id). Null in check mode for a token that would be created.
  returned: when O(state=present)
  type: str
  sample: ed17574386854bf78a67040be0a770b0
secret_access_key:
  description:
    - S3 Secret Access Key (SHA-256 hex of the token value). Sensitive; register with C(no_log=true).
  returned: when the token was created or rotated (not in check mode)
  type: str
token_value:
  description:
    - The token value itself, usable as an API token. Sensitive; shown by Cloudflare only once.
  returned: when the token was created or rotated (not in check mode)
  type: str
'''

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._module import R2Module, token_argspec
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._reconcile import reconcile_token


def main():
    r2 = R2Module(
        argument_spec=dict(
            token_argspec(),
            owner=dict(type='str', default='account', choices=['account', 'user']),
            status=dict(type='str', choices=['active', 'disabled']),
            check_buckets=dict(type='bool', default=True),
        ),
        required_if=[('state', 'present', ['permission'])],
        supports_check_mode=True,
    )
    r2.run(lambda: reconcile_token(r2))


if __name__ == '__main__':
    main()
