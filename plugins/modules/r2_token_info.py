#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_token_info
short_description: List Cloudflare API tokens and decode their R2 permissions
version_added: 0.1.0
description:
  - Lists the account-owned or user-owned API tokens, optionally filtered by name, and decodes each one's
    policies into the R2 permission, the buckets with their jurisdictions, the IP rules and the validity.
  - Never returns token values or secrets; Cloudflare does not return them after creation.
  - Makes one API request per 50 tokens and nothing else.
  - Each token comes with its hygiene findings (RV(tokens[].findings)), the checks audit tools such as cnspec and
    prowler make and the states in which a token no longer works - V(revoked_exposed), V(expired), V(disabled),
    V(expires_soon), V(not_rotated), V(unused), V(no_expiry), V(no_ip_restriction). The playbook
    C(cloudflare_r2.credentials.audit) reports them for the tokens an inventory manages.
extends_documentation_fragment:
  - cloudflare_r2.credentials.connection
  - cloudflare_r2.credentials.connection.account
  - cloudflare_r2.credentials.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: N/A
  platform:
    platforms: all
options:
  name:
    description:
      - Only the token with exactly this name.
    type: str
  name_prefix:
    description:
      - Only tokens whose name starts with this prefix.
    type: str
  owner:
    description:
      - List account-owned (V(account)) or user-owned (V(user)) tokens.
    type: str
    choices: [account, user]
    default: account
  query:
    description:
      - A JMESPath expression applied to the list of decoded tokens; its result is returned as RV(query_result).
      - For example V([?permission=='object_read_write'].name).
      - Needs the Python library C(jmespath) on the host the module runs on.
    type: str
  not_rotated_after:
    description:
      - A token that got no new secret for this long has the finding V(not_rotated). Counted from the token's
        C(modified_on) (rolling its value updates it), else its C(issued_on), as cnspec does.
      - A duration - a number of seconds, or a number with a unit C(s), C(m), C(h), C(d) or C(w), such as V(365d).
    type: raw
    default: 365d
    version_added: 0.4.0
  unused_after:
    description:
      - A token last used this long ago has the finding V(unused); so has a token never used that was issued at
        least this long ago (a newer one that has not been used yet has not).
      - A duration, as O(not_rotated_after).
    type: raw
    default: 90d
    version_added: 0.4.0
  expires_within:
    description:
      - A token that expires within this time has the finding V(expires_soon); V(0) turns the finding off.
      - A duration, as O(not_rotated_after).
    type: raw
    default: 30d
    version_added: 0.4.0
seealso:
  - module: cloudflare_r2.credentials.r2_token
  - module: cloudflare_r2.credentials.r2_credential_set
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: All tokens this inventory made
  cloudflare_r2.credentials.r2_token_info:
    name_prefix: "r2-"
  register: r2_tokens

- name: Names of tokens that can write objects in EU buckets
  cloudflare_r2.credentials.r2_token_info:
    query: "[?permission=='object_read_write' && buckets[?jurisdiction=='eu']].name"
  register: eu_writers

- name: One user-owned token
  cloudflare_r2.credentials.r2_token_info:
    name: ci-reader
    owner: user
  register: ci_reader

- name: Tokens that do not work any more, or got no new secret for 90 days
  cloudflare_r2.credentials.r2_token_info:
    not_rotated_after: 90d
    query: "[?findings[?contains(['revoked_exposed', 'expired', 'disabled', 'not_rotated'], code)]].name"
  register: to_replace
'''

RETURN = r'''
tokens:
  description:
    - The matching tokens in the shape of the RV(cloudflare_r2.credentials.r2_token#module:token) return value of
      M(cloudflare_r2.credentials.r2_token), sorted by name then id. Never contains secrets.
  returned: always
  type: list
  elements: dict
  sample:
    - id: ed17574386854bf78a67040be0a770b0
      name: backup-web1
      owner: account
      status: active
      permission: object_read_write
      buckets: [{"name": "backups", "jurisdiction": "eu"}]
      all_buckets: false
      expires_on: null
      not_before: null
      ip_allow: []
      ip_deny: []
      issued_on: "2026-11-28T10:00:00Z"
      modified_on: "2026-11-28T10:00:00Z"
      last_used_on: null
      findings:
        - code: no_expiry
          message: never expires (expires_on is not set)
        - code: no_ip_restriction
          message: no ip_allow list, so it works from any address
  contains:
    findings:
      description:
        - The token's hygiene findings, in this order, each with its C(code) and a short C(message) (naming the
          time and the limit where one applies). An empty list is a token with nothing to report.
        - V(revoked_exposed) - Cloudflare revoked it because its value was found exposed (status
          C(revoked (exposed)), GitHub secret scanning); it cannot be restored.
        - V(expired) - its C(expires_on) passed (or its status is C(expired)).
        - V(disabled) - its status is C(disabled).
        - V(expires_soon) - it expires within O(expires_within).
        - V(not_rotated) - no new secret for O(not_rotated_after).
        - V(unused) - not used for O(unused_after) (C(last_used_on)), or never used and issued that long ago.
        - V(no_expiry) - no C(expires_on).
        - V(no_ip_restriction) - no IP allow list (C(ip_allow) empty), so the token works from any address.
      type: list
      elements: dict
      version_added: 0.4.0
quota:
  description:
    - Tokens of the owner in use, whatever O(name) and O(name_prefix) select (expired ones included), and
      Cloudflare's quota for the owner - 500 account-owned tokens per account, 50 user-owned tokens per user
      (Enterprise accounts can ask for more).
  returned: always
  type: dict
  sample: {"used": 212, "limit": 500}
  version_added: 0.4.0
query_result:
  description: The result of O(query) applied to RV(tokens).
  returned: when O(query) is set
  type: raw
'''

import datetime
import traceback

try:
    import jmespath
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError:
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._module import R2Module
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _audit, _r2, _text


def main():
    r2 = R2Module(
        argument_spec=dict(
            name=dict(type='str'),
            name_prefix=dict(type='str'),
            owner=dict(type='str', default='account', choices=['account', 'user']),
            query=dict(type='str'),
            not_rotated_after=dict(type='raw', default=_audit.LIMIT_DEFAULTS['not_rotated_after']),
            unused_after=dict(type='raw', default=_audit.LIMIT_DEFAULTS['unused_after']),
            expires_within=dict(type='raw', default=_audit.LIMIT_DEFAULTS['expires_within']),
        ),
        supports_check_mode=True,
    )
    if r2.params['query'] and not HAS_JMESPATH:
        r2.module.fail_json(msg=missing_required_lib('jmespath'), exception=JMESPATH_IMPORT_ERROR)
    r2.run(lambda: run(r2))


def run(r2):
    params = r2.params
    account_id = r2.account_id()
    compiled = None
    if params['query']:
        try:
            compiled = jmespath.compile(params['query'])
        except jmespath.exceptions.JMESPathError as exc:
            # jmespath's message quotes the expression, control characters included
            raise _r2.R2ValueError('query: not a valid JMESPath expression: %s' % _text.printable(str(exc)))
    limits = _audit.limits(params['not_rotated_after'], params['unused_after'], params['expires_within'])
    store = _r2.TokenStore(r2.client(), account_id, params['owner'])
    listing = store.list()
    now = datetime.datetime.now(datetime.timezone.utc)
    tokens = []
    for raw in listing:
        name = raw.get('name') or ''
        if params['name'] is not None and name != params['name']:
            continue
        if params['name_prefix'] and not name.startswith(params['name_prefix']):
            continue
        token = _r2.decode_token(raw, account_id, params['owner'])
        token['findings'] = _audit.findings(token, now, limits)
        tokens.append(token)
    tokens.sort(key=lambda t: (t['name'] or '', t['id'] or ''))
    quota = {'used': len(listing), 'limit': _audit.QUOTAS[params['owner']]}
    result = {'changed': False, 'tokens': tokens, 'quota': quota}
    if compiled is not None:
        result['query_result'] = compiled.search(tokens)
    return result


if __name__ == '__main__':
    main()
