# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: r2_credentials
short_description: S3 credentials of existing Cloudflare API tokens
version_added: 0.1.0
description:
  - For each API token value given, returns its S3 credentials for R2 and the S3 endpoint of a jurisdiction.
  - The Access Key ID is the token id, found by asking Cloudflare's verify endpoint with the token itself (user
    tokens at C(/user/tokens/verify), account tokens at C(/accounts/{account_id}/tokens/verify)). The Secret
    Access Key is the SHA-256 hex digest of the value, computed locally.
  - B(A lookup runs again every time the variable that holds it is used) (templating is lazy), making one verify
    request each time. Resolve it once with M(ansible.builtin.set_fact) and C(no_log=true), and never use it to
    mint anything.
  - Runs on the controller.
extends_documentation_fragment:
  - cloudflare_r2.credentials.connection.account
  - cloudflare_r2.credentials.connection.plugins
options:
  _terms:
    description: One or more API token values. Secrets; they are never shown in errors.
    required: true
    type: list
    elements: str
  jurisdiction:
    description:
      - Jurisdiction whose S3 endpoint is returned as C(endpoint_url).
      - V(default), V(eu), V(fedramp) or V(us). Any other lowercase name (a jurisdiction Cloudflare adds
        later) is used as given, with a warning; the bucket check refuses a typo.
    type: str
    default: default
    vars:
      - name: ansible_cloudflare_r2_jurisdiction
notes:
  - Late-binding environment variables C(CLOUDFLARE_ACCOUNT_ID) and C(CLOUDFLARE_API_URL) are used only for options
    not set by any other means (lookup arguments, variables, C(ANSIBLE_CLOUDFLARE_R2_*) environment variables,
    C(ansible.cfg) section C([cloudflare_r2])).
  - A token value that Cloudflare refuses (unknown, rolled, deleted, expired, disabled) fails the lookup with a
    message that names the position of the term, not its value.
seealso:
  - module: cloudflare_r2.credentials.r2_token
  - plugin: cloudflare_r2.credentials.r2_s3_secret
    plugin_type: filter
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Credentials of a token kept in the vault, resolved once
  ansible.builtin.set_fact:
    backup_s3: "{{ lookup('cloudflare_r2.credentials.r2_credentials', vault_backup_token, jurisdiction='eu') }}"
  no_log: true

- name: Several tokens at once
  ansible.builtin.set_fact:
    all_s3: "{{ query('cloudflare_r2.credentials.r2_credentials', token_a, token_b) }}"
  no_log: true
'''

RETURN = r'''
_raw:
  description: One dict per token value, in the order given.
  type: list
  elements: dict
  contains:
    access_key_id:
      description: S3 Access Key ID (the token id).
      type: str
    secret_access_key:
      description: S3 Secret Access Key (SHA-256 hex of the value). Sensitive.
      type: str
    endpoint_url:
      description: S3 endpoint of O(jurisdiction).
      type: str
    owner:
      description: V(user) or V(account), by which verify endpoint accepted the token.
      type: str
    status:
      description: Token status reported by verify.
      type: str
    expires_on:
      description: Token expiry, if any.
      type: str
'''

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    HAS_REQUESTS,
    CloudflareAuthError,
    CloudflareClient,
    CloudflareError,
    check_api_token,
    check_rate_options,
)
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2

display = Display()

# Tool-native variables, applied only when no Ansible source set the option.
LATE_ENV = {'account_id': 'CLOUDFLARE_ACCOUNT_ID', 'api_url': 'CLOUDFLARE_API_URL'}


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not HAS_REQUESTS:
            raise AnsibleLookupError('r2_credentials needs the Python library "requests" on the controller')
        options = dict((name, self._templated(self.get_option(name))) for name in
                       ('account_id', 'api_url', 'validate_certs', 'timeout', 'retries', 'rate_limit', 'rate_window',
                        'deadline', 'jurisdiction'))
        for name, env in LATE_ENV.items():
            if os.environ.get(env) and (not options.get(name) or self._from_default(name)):
                options[name] = os.environ[env]
        try:
            account_id = _r2.validate_account_id(options['account_id'])
            _r2.validate_endpoint(options['api_url'], 'api_url')
            endpoint = _r2.endpoint_url(account_id, options['jurisdiction'])
            check_rate_options(options['rate_limit'], options['rate_window'], options['deadline'])
        except (_r2.R2ValueError, CloudflareError) as exc:
            raise AnsibleLookupError('r2_credentials: %s' % exc)
        for message in _r2.take_warnings():
            display.warning('r2_credentials: %s' % message)

        results = []
        for index, value in enumerate(terms):
            try:
                check_api_token(value, 'term %d' % index)
            except CloudflareError as exc:
                raise AnsibleLookupError('r2_credentials: %s' % exc)
            # one client (and one request pacer) per term: Cloudflare's rate limit counts per token
            client = CloudflareClient(value, api_url=options['api_url'], timeout=options['timeout'],
                                      validate_certs=options['validate_certs'], retries=options['retries'],
                                      rate_limit=options['rate_limit'], rate_window=options['rate_window'],
                                      deadline=options['deadline'], log=display.vvv,
                                      warn=lambda line: display.warning('r2_credentials: %s' % line))
            try:
                owner, verified = _r2.verify_token(client, account_id)
            except CloudflareAuthError:
                raise AnsibleLookupError('r2_credentials: Cloudflare does not accept the token value of term %d (not '
                                         'valid for account %s as a user or account token: unknown, rolled, '
                                         'deleted, disabled, expired or not yet valid)' % (index, account_id))
            except CloudflareError as exc:
                raise AnsibleLookupError('r2_credentials: term %d: %s' % (index, exc))
            results.append({
                'access_key_id': verified['id'],
                'secret_access_key': _r2.s3_secret(value),
                'endpoint_url': endpoint,
                'owner': owner,
                'status': verified.get('status'),
                'expires_on': verified.get('expires_on'),
            })
        return results

    def _templated(self, value):
        """Options taken from variables can arrive untemplated (``{{ cf_account_id }}``)."""
        if isinstance(value, str) and self._templar is not None and ('{{' in value or '{%' in value):
            return self._templar.template(value)
        return value

    def _from_default(self, name):
        """True when an option only has its documented default (no Ansible source set it)."""
        try:
            return self.get_option_and_origin(name)[1] == 'default'
        except AttributeError:  # ansible-core < 2.17 has no origin; assume set
            return False
