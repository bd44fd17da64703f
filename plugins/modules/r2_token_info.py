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
seealso:
  - module: cloudflare_r2.credentials.r2_token
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
query_result:
  description: The result of O(query) applied to RV(tokens).
  returned: when O(query) is set
  type: raw
'''

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
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _text


def main():
    r2 = R2Module(
        argument_spec=dict(
            name=dict(type='str'),
            name_prefix=dict(type='str'),
            owner=dict(type='str', default='account', choices=['account', 'user']),
            query=dict(type='str'),
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
    store = _r2.TokenStore(r2.client(), account_id, params['owner'])
    tokens = []
    for raw in store.list():
        name = raw.get('name') or ''
        if params['name'] is not None and name != params['name']:
            continue
        if params['name_prefix'] and not name.startswith(params['name_prefix']):
            continue
        tokens.append(_r2.decode_token(raw, account_id, params['owner']))
    tokens.sort(key=lambda t: (t['name'] or '', t['id'] or ''))
    result = {'changed': False, 'tokens': tokens}
    if compiled is not None:
        result['query_result'] = compiled.search(tokens)
    return result


if __name__ == '__main__':
    main()
