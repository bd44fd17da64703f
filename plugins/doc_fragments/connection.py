# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The API token, for every module that calls the Cloudflare API (modules extend
    # this and ACCOUNT). Lookups that authenticate with the token they look up use
    # only ACCOUNT and PLUGINS.
    DOCUMENTATION = r'''
options:
  api_token:
    description:
      - Cloudflare API token used to call the API (sent as an C(Authorization) bearer header).
      - Never logged; the module treats it as a secret.
      - If not set, the value of the E(CLOUDFLARE_API_TOKEN) environment variable is used. Modules read the
        environment of the host they run on (normally the controller, through C(delegate_to) or a local connection).
      - To manage account-owned tokens the token needs C(Account API Tokens Write) (C(Read) for read-only modules);
        for user-owned tokens it needs C(API Tokens Write) (or C(Read)).
    type: str
notes:
  - Calls the Cloudflare API from the host the module runs on; use C(delegate_to=localhost) or C(run_once) when
    running against an inventory, so that each play makes as few API calls as possible.
  - Cloudflare allows 1200 API requests per 5 minutes per API token and then refuses every call of that token for
    five minutes (HTTP 429). Each module run paces its own requests to stay under that (O(rate_limit),
    O(rate_window)); what other clients of the token spend (parallel tasks, other runs and tools) shows in
    Cloudflare's C(Ratelimit) header, and the run waits for the reset when it leaves less than the reserve. An
    HTTP 429 that still comes is waited out within O(deadline), with a warning; past it the task fails with the
    time to try again.
requirements:
  - requests >= 2.20
'''

    # Account and transport options shared by every module and plugin.
    ACCOUNT = r'''
options:
  account_id:
    description:
      - Cloudflare account id, 32 hexadecimal characters. Required.
      - R2 resources are account-scoped, so this is needed for user-owned tokens too.
      - If not set, the value of the E(CLOUDFLARE_ACCOUNT_ID) environment variable is used (for plugins, after
        their own variables, E(ANSIBLE_CLOUDFLARE_R2_ACCOUNT_ID) and C(ansible.cfg)).
    type: str
  api_url:
    description:
      - Base URL of the Cloudflare v4 API.
      - Change it only for a proxy, a gateway or a local emulator.
      - If not set, the value of the E(CLOUDFLARE_API_URL) environment variable is used, then the default (for
        plugins, after their own variables, E(ANSIBLE_CLOUDFLARE_R2_API_URL) and C(ansible.cfg)).
    type: str
    default: https://api.cloudflare.com/client/v4
  validate_certs:
    description:
      - Whether to validate the TLS certificate of O(api_url).
      - Proxy settings (E(HTTPS_PROXY), E(NO_PROXY)) and E(REQUESTS_CA_BUNDLE) are taken from the environment.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: float
    default: 30
  retries:
    description:
      - How many times a failed call is retried.
      - Retried are connection errors and HTTP 408, 502, 503 and 504, with bounded, jittered exponential backoff
        (at most 60 seconds per wait), and HTTP 429 after the wait C(retry-after) asks for (up to Cloudflare's
        five-minute lockout, within O(deadline)).
      - A token create is never resent blindly after an uncertain outcome (timeout, reset, 5xx); the tokens are
        listed by name first, so a retry cannot make a second token.
    type: int
    default: 5
  rate_limit:
    description:
      - How many requests the API token may make per O(rate_window) seconds. Cloudflare allows 1200 per 300
        seconds per token and, past that, refuses every call of the token for five minutes.
      - Each run (a module run, or one token of a lookup) keeps 10% of it in reserve and spaces its requests so
        that no O(rate_window) seconds hold more than the rest (1080 by default) at Cloudflare. The first ones go
        at once, later ones wait until the oldest leaves the window (by default 1080 requests at once, the next
        1080 after 300 seconds, and so on). Every attempt counts, reads and retries too.
      - Runs at the same time that use one token each keep their own count; Cloudflare's C(Ratelimit) header
        shows what the others spend, and below the reserve a run waits for its reset.
      - Set it to your token's limit if Cloudflare granted another one. V(0) turns the pacing off (an HTTP 429 is
        still waited out within O(deadline)).
    type: int
    default: 1200
    version_added: 0.5.0
  rate_window:
    description:
      - The seconds in which O(rate_limit) requests are allowed (Cloudflare's window is 300 seconds).
    type: float
    default: 300
    version_added: 0.5.0
  deadline:
    description:
      - Seconds from the start of the run within which a rate limit is waited out. An HTTP 429 is retried after
        the wait C(retry-after) asks for (up to the five-minute lockout; each wait is a warning of the task and
        uses one of O(retries)), and a C(Ratelimit) header showing the token's budget spent by other clients is
        waited for until its reset. A wait that would end past the deadline fails the task at once with the time
        (UTC) to try again.
      - The run's own pacing (O(rate_limit)) is not bounded by it. V(0) never waits for a rate limit.
    type: float
    default: 900
    version_added: 0.5.0
'''

    # Where plugins (lookups) also read the ACCOUNT options from. Precedence, highest
    # first: lookup arguments, variables, ANSIBLE_CLOUDFLARE_R2_* environment
    # variables, ansible.cfg [cloudflare_r2], then (applied by the plugin, only for
    # an option still unset) the tool-native CLOUDFLARE_* environment variables.
    PLUGINS = r'''
options:
  account_id:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_ACCOUNT_ID
    ini:
      - section: cloudflare_r2
        key: account_id
    vars:
      - name: ansible_cloudflare_r2_account_id
  api_url:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_API_URL
    ini:
      - section: cloudflare_r2
        key: api_url
    vars:
      - name: ansible_cloudflare_r2_api_url
  validate_certs:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_VALIDATE_CERTS
    ini:
      - section: cloudflare_r2
        key: validate_certs
    vars:
      - name: ansible_cloudflare_r2_validate_certs
  timeout:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_TIMEOUT
    ini:
      - section: cloudflare_r2
        key: timeout
    vars:
      - name: ansible_cloudflare_r2_timeout
  retries:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_RETRIES
    ini:
      - section: cloudflare_r2
        key: retries
    vars:
      - name: ansible_cloudflare_r2_retries
  rate_limit:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_RATE_LIMIT
    ini:
      - section: cloudflare_r2
        key: rate_limit
    vars:
      - name: ansible_cloudflare_r2_rate_limit
  rate_window:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_RATE_WINDOW
    ini:
      - section: cloudflare_r2
        key: rate_window
    vars:
      - name: ansible_cloudflare_r2_rate_window
  deadline:
    env:
      - name: ANSIBLE_CLOUDFLARE_R2_DEADLINE
    ini:
      - section: cloudflare_r2
        key: deadline
    vars:
      - name: ansible_cloudflare_r2_deadline
'''

    # Attributes of modules in the cloudflare_r2.credentials.r2 action group.
    ACTION_GROUP = r'''
attributes:
  action_group:
    description: Use C(group/cloudflare_r2.credentials.r2) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - cloudflare_r2.credentials.r2
'''
