# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters r2_endpoint and r2_s3_secret; documented in r2_endpoint.yml and r2_s3_secret.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import CloudflareError, check_api_token


def r2_endpoint(account_id, jurisdiction='default'):
    """S3 endpoint URL of an account in a jurisdiction."""
    try:
        url = _r2.endpoint_url(_r2.validate_account_id(account_id), jurisdiction)
    except _r2.R2ValueError as exc:
        raise AnsibleFilterError('r2_endpoint: %s' % exc)
    for message in _r2.take_warnings():
        Display().warning('r2_endpoint: %s' % message)
    return url


def r2_s3_secret(token_value):
    """S3 Secret Access Key of an API token value (SHA-256 hex of the value)."""
    if not isinstance(token_value, str) or not token_value:
        # The value itself is never echoed: it is a secret.
        raise AnsibleFilterError('r2_s3_secret: expects a non-empty token value string, got %s'
                                 % type(token_value).__name__)
    try:
        # a value with a newline would silently give a secret that Cloudflare never accepts
        check_api_token(token_value, 'the token value')
    except CloudflareError as exc:
        raise AnsibleFilterError('r2_s3_secret: %s' % exc)
    return _r2.s3_secret(token_value)


class FilterModule(object):
    def filters(self):
        return {
            'r2_endpoint': r2_endpoint,
            'r2_s3_secret': r2_s3_secret,
        }
