# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the cloudflare_r2.credentials
# collection and may not remain stable to outside uses. Changes may be made in ANY
# release, even a bugfix release.

"""AnsibleModule glue shared by every module that talks to Cloudflare.

The connection options live here once (documented once in the
``cloudflare_r2.credentials.connection`` doc fragment); errors from the
client and the domain model become one ``fail_json`` each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._api import (
    DEFAULT_API_URL,
    HAS_REQUESTS,
    RATE_LIMIT,
    RATE_WINDOW,
    REQUESTS_IMPORT_ERROR,
    CloudflareApiError,
    CloudflareClient,
    CloudflareError,
    check_api_token,
)
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _r2, _text
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._r2 import (
    PERMISSION_GROUP_NAMES,
    R2ValueError,
    validate_account_id,
)


# Seconds a module run may spend waiting out Cloudflare's rate limit (three five-minute lockouts).
DEADLINE = 900.0

_GOT_RE = re.compile(r'(got: )(.{%d,})\Z' % (_r2.SHOWN_MAX + 1), re.S)


class _AnsibleModule(MaskedModule):
    """AnsibleModule whose failure messages never carry a raw control character: ansible-core's own argument
    validation quotes the value it refuses ("must be one of: ..., got: <value>"), escape sequences included."""

    def fail_json(self, msg, **kwargs):
        self.warn_collected()
        # ansible-core's "must be one of: ..., got: <value>" repeats the value whole, however long it is
        msg = _GOT_RE.sub(lambda m: '%s<%d characters not shown>' % (m.group(1), len(m.group(2))), msg)
        super(_AnsibleModule, self).fail_json(msg=_text.printable(msg), **kwargs)

    def exit_json(self, **kwargs):
        self.warn_collected()
        super(_AnsibleModule, self).exit_json(**kwargs)

    def warn_collected(self):
        """Show the warnings the validators collected (an unknown jurisdiction), on every way out."""
        for message in _r2.take_warnings():
            self.warn(message)


def connection_argspec():
    return dict(
        api_token=dict(type='str', no_log=True, fallback=(env_fallback, ['CLOUDFLARE_API_TOKEN'])),
        account_id=dict(type='str', fallback=(env_fallback, ['CLOUDFLARE_ACCOUNT_ID'])),
        api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['CLOUDFLARE_API_URL'])),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=30),
        retries=dict(type='int', default=5),
        rate_limit=dict(type='int', default=RATE_LIMIT),
        rate_window=dict(type='float', default=RATE_WINDOW),
        deadline=dict(type='float', default=DEADLINE),
    )


def token_argspec():
    """The options that describe one token (r2_token, and each entry of r2_credential_set's tokens)."""
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        permission=dict(type='str', choices=list(PERMISSION_GROUP_NAMES)),
        buckets=dict(type='list', elements='raw'),
        jurisdiction=dict(type='str', default='default'),
        ip_allow=dict(type='list', elements='str'),
        ip_deny=dict(type='list', elements='str'),
        expires_on=dict(type='str'),
        not_before=dict(type='str'),
        rotate=dict(type='bool', default=False),
    )


def client_from_options(options, log=None, warn=None):
    """Build a client from a dict of the connection options (modules and plugins). ``warn`` gets the lines a user
    should see (each wait for an HTTP 429); without it they go to ``log``."""
    token = options.get('api_token')
    from_env = bool(token) and token == os.environ.get('CLOUDFLARE_API_TOKEN')
    check_api_token(token, 'api_token (from CLOUDFLARE_API_TOKEN)' if from_env else 'api_token')
    _r2.validate_endpoint(options.get('api_url') or DEFAULT_API_URL, 'api_url')
    if options.get('timeout') is not None and options['timeout'] <= 0:
        raise R2ValueError('timeout must be a positive number of seconds')
    if options.get('retries') is not None and options['retries'] < 0:
        raise R2ValueError('retries must be 0 or more')
    return CloudflareClient(
        api_token=options['api_token'],
        api_url=options.get('api_url') or DEFAULT_API_URL,
        timeout=options.get('timeout') or 30,
        validate_certs=options.get('validate_certs', True),
        retries=options.get('retries') if options.get('retries') is not None else 5,
        rate_limit=options.get('rate_limit') if options.get('rate_limit') is not None else RATE_LIMIT,
        rate_window=options.get('rate_window') if options.get('rate_window') is not None else RATE_WINDOW,
        deadline=options.get('deadline') if options.get('deadline') is not None else DEADLINE,
        log=log,
        warn=warn,
    )


class R2Module:
    """An AnsibleModule with the connection options and error translation."""

    def __init__(self, argument_spec, **kwargs):
        spec = connection_argspec()
        spec.update(argument_spec)
        self.module = _AnsibleModule(argument_spec=spec, **kwargs)
        # Masking matches exact strings: a secret quoted by repr() or JSON (a newline shown as \\n) must be masked too.
        _text.mask_escaped(self.module.no_log_values)
        self.params = self.module.params
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=str(REQUESTS_IMPORT_ERROR))
        self._client = None
        self._clients = []

    @property
    def check_mode(self):
        return self.module.check_mode

    def account_id(self):
        return validate_account_id(self.params.get('account_id'))

    def client(self):
        if self._client is None:
            self._client = self.new_client(self.params)
        return self._client

    def new_client(self, options):
        """A client of ``options`` (connection options) whose log lines go to the module's log, and whose waits for
        an HTTP 429 also become warnings of the task."""
        client = client_from_options(options, log=self.module.log)
        client.warn = self.warn_wait
        self._clients.append(client)
        return client

    def pacing(self):
        """What the request pacer of every client of this run waited (``api_pacing`` of r2_credential_set)."""
        total = {'waits': 0, 'waited_seconds': 0.0, 'rate_limited': 0, 'rate_limited_seconds': 0.0}
        for client in self._clients:
            for key in total:
                total[key] += (client.pacing or {}).get(key, 0)
        for key in ('waited_seconds', 'rate_limited_seconds'):
            total[key] = round(total[key], 1)
        return total

    def warn_wait(self, line):
        self.module.log(line)
        self.module.warn(line)

    def run(self, main):
        """Call main(); it returns the result dict. Known errors become one clean failure."""
        try:
            result = main()
        except R2ValueError as exc:
            self.module.fail_json(msg=str(exc))
        except CloudflareApiError as exc:
            self.module.fail_json(msg=str(exc), status=exc.status, cloudflare_errors=exc.errors)
        except CloudflareError as exc:
            self.module.fail_json(msg=str(exc))
        self.module.exit_json(**result)
