#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_s3_check
short_description: Prove from a host that R2 S3 credentials work, with one signed S3 request
version_added: 0.1.0
description:
  - Sends one read-only S3 request, signed with AWS Signature Version 4, to an R2 S3 endpoint from the host the
    module runs on, and reports whether R2 allowed it or denied it.
  - The credentials come from an aws CLI profile (O(profile)), read from C(~/.aws/credentials) and
    C(~/.aws/config) the way the aws CLI and boto3 read them, or are given directly (O(access_key_id),
    O(secret_access_key), O(session_token), O(endpoint_url)).
  - Or, with O(checks), many requests in one task, each with its own credentials, from an aws CLI profile, an
    rclone remote, an s3cmd configuration, an env file or direct values, and its own expectation; the task fails
    once, naming every check whose expectation is unmet.
  - Meant for credential rotation, to check newly written client files on each host before the old credentials
    are revoked, and to check afterwards that the old ones are refused (O(expect=denied)).
  - Uses only the Python standard library on the host. It does not call the Cloudflare API and is not part of the
    C(cloudflare_r2.credentials.r2) action group.
  - Never returns or logs a secret; secrets read from the files are masked in the module's output too.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The request only reads, so the module runs the same way in check mode and reports the real outcome.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  profile:
    description:
      - Name of an aws CLI profile to take the credentials and the endpoint from.
      - The keys C(aws_access_key_id), C(aws_secret_access_key) and C(aws_session_token) (or the older
        C(aws_security_token)) come from the section C([NAME]) of O(credentials_file); if that section has no
        C(aws_access_key_id), from C([profile NAME]) of O(config_file), as the aws CLI does.
      - The endpoint is C(endpoint_url) of the C(s3) block of the profile's C(services) section, else
        C(endpoint_url) of C([profile NAME]) in O(config_file) (C([default]) or C([profile default]) for V(default)).
        O(endpoint_url) wins over both.
      - Only static keys are checked. A profile that gets its credentials from C(credential_process),
        C(role_arn), SSO or a web identity fails with a message saying so.
      - Environment variables such as E(AWS_ACCESS_KEY_ID) or E(AWS_ENDPOINT_URL_S3) are not read, so the
        result is about the files.
      - Exactly one of O(profile), O(access_key_id) and O(checks) is required.
    type: str
  credentials_file:
    description:
      - The aws credentials file read for O(profile). Not used without O(profile) or O(checks).
      - With O(checks), the default of O(checks[].credentials_file).
      - If not set, E(AWS_SHARED_CREDENTIALS_FILE) in the environment of the module, else C(~/.aws/credentials)
        in the home of the remote (or C(become)) user.
      - A missing file is read as empty, as the aws CLI does. A link, a FIFO or another file that is not a regular
        file, or a file larger than 1 MiB, is refused.
    type: path
  config_file:
    description:
      - The aws config file read for O(profile). Not used without O(profile) or O(checks).
      - With O(checks), the default of O(checks[].config_file).
      - If not set, E(AWS_CONFIG_FILE) in the environment of the module, else C(~/.aws/config) in the home of the
        remote (or C(become)) user.
      - A missing file is read as empty; what is not a regular file is refused, as for O(credentials_file).
    type: path
  access_key_id:
    description:
      - S3 Access Key ID to check (for R2, the API token id), instead of O(profile).
    type: str
  secret_access_key:
    description:
      - S3 Secret Access Key that goes with O(access_key_id). Required with it.
    type: str
  session_token:
    description:
      - Session token of temporary credentials, sent as C(x-amz-security-token).
    type: str
  endpoint_url:
    description:
      - The S3 endpoint, C(https://ACCOUNT_ID.r2.cloudflarestorage.com) or the endpoint of the bucket's
        jurisdiction (C(https://ACCOUNT_ID.eu.r2.cloudflarestorage.com) for EU buckets).
      - Only C(scheme://host[:port]); a trailing C(/) is dropped, a path is refused.
      - Required with O(access_key_id). With O(profile) it overrides the profile's endpoint; one of them must
        give one, because the module never falls back to AWS.
    type: str
  checks:
    description:
      - Many checks in one task, instead of O(profile) or O(access_key_id) (mutually exclusive with them, with
        O(secret_access_key), O(session_token) and O(endpoint_url)).
      - Every check is made, even when another one fails, and the results are in RV(checks). The task fails when
        any check's expectation is unmet or its credentials cannot be read, with one message naming every failed
        check.
      - O(bucket), O(operation), O(key), O(prefix) and O(expect) are the defaults of the checks'
        options of the same names; O(credentials_file) and O(config_file) those of the checks with
        O(checks[].source=aws). O(retries), O(delay), O(validate_certs) and O(timeout) apply to every check.
      - At most 256 checks, one after the other.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      name:
        description:
          - Label of the check in RV(checks) and in the failure message. Unique among the checks.
        type: str
        required: true
      source:
        description:
          - Where the credentials and the endpoint come from. Options of another source are refused.
          - V(aws), the aws CLI profile O(checks[].profile), read as for O(profile) from O(checks[].credentials_file)
            and O(checks[].config_file).
          - V(rclone), the remote O(checks[].section) of the rclone configuration O(checks[].path), with
            C(access_key_id), C(secret_access_key), C(session_token) and C(endpoint) (C(https://) when it has no
            scheme, as rclone reads it).
          - V(s3cmd), the C([default]) section of the s3cmd configuration O(checks[].path), with C(access_key),
            C(secret_key), C(access_token), and the endpoint from C(host_base) and C(use_https).
          - V(env_file), the C(KEY=VALUE) file O(checks[].path), read as systemd's C(EnvironmentFile=) or a shell
            reads it, with C(AWS_ACCESS_KEY_ID), C(AWS_SECRET_ACCESS_KEY), C(AWS_SESSION_TOKEN), and the endpoint from
            C(AWS_ENDPOINT_URL_S3), else C(AWS_ENDPOINT_URL).
          - V(values), the values O(checks[].access_key_id), O(checks[].secret_access_key),
            O(checks[].session_token) and O(checks[].endpoint_url).
          - With V(rclone), V(s3cmd) and V(env_file), a missing O(checks[].path) fails the check; links, FIFOs and
            files larger than 1 MiB are refused. The CA bundle is the system's, except with V(aws) (as for
            O(profile)).
        type: str
        choices: [aws, rclone, s3cmd, env_file, values]
        default: aws
      profile:
        description:
          - The aws CLI profile, with O(checks[].source=aws) (required there).
        type: str
      credentials_file:
        description:
          - The aws credentials file, with O(checks[].source=aws). Defaults to O(credentials_file).
        type: path
      config_file:
        description:
          - The aws config file, with O(checks[].source=aws). Defaults to O(config_file).
        type: path
      path:
        description:
          - The client file, with O(checks[].source=rclone), V(s3cmd) or V(env_file) (required there), such as
            C(~/.config/rclone/rclone.conf), C(~/.s3cfg-NAME) or C(~/.config/r2/NAME.env).
        type: path
      section:
        description:
          - The rclone remote (the section of O(checks[].path)), with O(checks[].source=rclone) (required there).
        type: str
      access_key_id:
        description:
          - S3 Access Key ID, with O(checks[].source=values) (required there).
        type: str
      secret_access_key:
        description:
          - S3 Secret Access Key, with O(checks[].source=values) (required there).
        type: str
      session_token:
        description:
          - Session token of temporary credentials, with O(checks[].source=values).
        type: str
      endpoint_url:
        description:
          - The S3 endpoint, as O(endpoint_url). Required with O(checks[].source=values); with the other sources
            it overrides the endpoint of the files.
        type: str
      bucket:
        description:
          - The bucket to read from. Defaults to O(bucket).
        type: str
      operation:
        description:
          - The request, as O(operation). Defaults to O(operation).
        type: str
        choices: [get_object, list_objects, list_buckets]
      key:
        description:
          - Object key read by V(get_object). Defaults to O(key).
        type: str
      prefix:
        description:
          - Key prefix for V(list_objects). Defaults to O(prefix).
        type: str
      expect:
        description:
          - The outcome the check requires, as O(expect). Defaults to O(expect).
        type: str
        choices: [allowed, denied, any]
  bucket:
    description:
      - The bucket to read from. Required unless O(operation=list_buckets).
      - With O(checks), the default of O(checks[].bucket).
    type: str
  operation:
    description:
      - V(get_object) reads the first byte of O(key) (C(Range bytes=0-0)). A missing key (C(404 NoSuchKey)) counts
        as allowed, since R2 answers it only after the signature and the permission passed. Needs Object Read.
      - V(list_objects) lists at most one key (C(ListObjectsV2), C(max-keys=1)), optionally under O(prefix).
        Needs Object Read. Credentials limited to prefixes need an O(prefix) inside them.
      - V(list_buckets) lists the account's buckets. Only Admin permissions may; object-level credentials are
        denied.
      - With O(checks), the default of O(checks[].operation).
    type: str
    choices: [get_object, list_objects, list_buckets]
    default: get_object
  key:
    description:
      - Object key read by O(operation=get_object). It does not have to exist.
      - With O(checks), the default of O(checks[].key).
    type: str
    default: r2-credentials-check
  prefix:
    description:
      - Key prefix for O(operation=list_objects).
      - With O(checks), the default of O(checks[].prefix).
    type: str
  expect:
    description:
      - The outcome the task requires. The module fails when the outcome is another one.
      - V(allowed) (the default) needs RV(outcome=allowed).
      - V(denied) needs RV(outcome=denied), for example old credentials after a rotation (C(SignatureDoesNotMatch))
        or a deleted token (C(InvalidAccessKeyId)). Other errors, such as C(NoSuchBucket), do not count.
      - V(any) only reports (see RV(allowed), RV(outcome) and RV(code)).
      - With O(checks), the default of O(checks[].expect).
    type: str
    choices: [allowed, denied, any]
    default: allowed
  retries:
    description:
      - How many more times to send a request whose outcome is not the expected one, or that got no answer (after
        its own retry on a connection error), because a new token may take a moment to be accepted everywhere.
      - With O(checks), only the checks still failing are sent again, all together, O(delay) seconds after the
        previous round. A check whose options or credentials are unusable is not retried.
    type: int
    default: 0
    version_added: 0.2.0
  delay:
    description:
      - Seconds to wait before each retry of O(retries).
    type: float
    default: 2
    version_added: 0.2.0
  validate_certs:
    description:
      - Whether to validate the TLS certificate of the endpoint.
      - With O(profile), the CA bundle is the one the aws CLI would use (E(AWS_CA_BUNDLE), then C(ca_bundle) of
        the profile), else the system's.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the connection and the response.
    type: float
    default: 10
notes:
  - The request is signed for region C(auto) and service C(s3) and uses path-style URLs
    (C(https://host/bucket/key)), as R2 expects. Proxies come from E(HTTPS_PROXY) and E(NO_PROXY); redirects are
    not followed.
  - Denied means HTTP 401 or 403, or an authentication error code (C(AccessDenied), C(SignatureDoesNotMatch),
    C(InvalidAccessKeyId), C(ExpiredToken), C(InvalidToken) and a few more). C(RequestTimeTooSkewed) is an error
    rather than a denial, because it points at the host's clock, not at the credentials.
  - A connection error (after one retry, and O(retries)) or an invalid or incomplete profile fails the task
    (or the check) whatever O(expect) is.
  - R2 checks the signature before the permission, so a wrong secret gives C(SignatureDoesNotMatch) even on a
    bucket the token may not read.
seealso:
  - module: cloudflare_r2.credentials.r2_profile
  - module: cloudflare_r2.credentials.r2_token
  - name: R2 S3 API authentication
    description: Endpoints, region C(auto) and the credentials R2 accepts.
    link: https://developers.cloudflare.com/r2/api/s3/tokens/
  - name: aws CLI configuration files
    description: How the aws CLI reads C(config) and C(credentials).
    link: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
# Rotation: check the new credentials where they are used, then revoke the old ones.
- name: Roll the backup token (same access key id, new secret)
  cloudflare_r2.credentials.r2_token:
    name: backup-web1
    permission: object_read_write
    buckets: [backups]
    rotate: true
  delegate_to: localhost
  run_once: true
  register: backup_token
  no_log: true

- name: Write the new secret into the backup user's aws files
  cloudflare_r2.credentials.r2_profile:
    path: /home/backup/.aws/credentials
    section: backup
    values:
      aws_access_key_id: "{{ backup_token.access_key_id }}"
      aws_secret_access_key: "{{ backup_token.secret_access_key }}"
    owner: backup
    group: backup

- name: The new credentials work from this host, read as the aws CLI reads them
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup
    bucket: backups
  become: true
  become_user: backup

# Before deleting a token that the new one replaces.
- name: The new profile can list the bucket
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup-v2
    credentials_file: /home/backup/.aws/credentials
    config_file: /home/backup/.aws/config
    bucket: backups
    operation: list_objects
    prefix: web1/

- name: Delete the old token
  cloudflare_r2.credentials.r2_token:
    name: backup-web1-old
    state: absent
  delegate_to: localhost
  run_once: true

- name: The old credentials are refused now
  cloudflare_r2.credentials.r2_s3_check:
    profile: backup-old
    bucket: backups
    expect: denied
  become: true
  become_user: backup

- name: Direct values, temporary credentials, EU endpoint; just report
  cloudflare_r2.credentials.r2_s3_check:
    access_key_id: "{{ temp.access_key_id }}"
    secret_access_key: "{{ temp.secret_access_key }}"
    session_token: "{{ temp.session_token }}"
    endpoint_url: "{{ cloudflare_account_id | cloudflare_r2.credentials.r2_endpoint('eu') }}"
    bucket: reports
    expect: any
  register: probe

- name: Show the outcome
  ansible.builtin.debug:
    msg: "{{ probe.outcome }} ({{ probe.status }} {{ probe.code }})"

# After a rotation: every client file of the user holds the new credentials, and the old ones are refused.
- name: Check every client of the backup user in one task
  cloudflare_r2.credentials.r2_s3_check:
    bucket: backups
    retries: 3
    delay: 5
    checks:
      - name: aws
        profile: backup
      - name: rclone
        source: rclone
        path: ~/.config/rclone/rclone.conf
        section: backup
        operation: list_objects
        prefix: web1/
      - name: s3cmd
        source: s3cmd
        path: ~/.s3cfg-backup
      - name: systemd env file
        source: env_file
        path: /etc/r2/backup.env
      - name: old token
        source: values
        access_key_id: "{{ old_token.access_key_id }}"
        secret_access_key: "{{ old_token.secret_access_key }}"
        endpoint_url: "{{ cloudflare_account_id | cloudflare_r2.credentials.r2_endpoint }}"
        expect: denied
  become: true
  become_user: backup
  register: clients

- name: Show each check
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.outcome }} ({{ item.status }} {{ item.code }}, {{ item.attempts }} attempt(s))"
  loop: "{{ clients.checks }}"
  loop_control:
    label: "{{ item.name }}"
'''

RETURN = r'''
allowed:
  description: Whether R2 allowed the request (RV(outcome=allowed)).
  returned: without O(checks), on success or a failed expectation
  type: bool
  sample: true
outcome:
  description:
    - V(allowed) (200 or 206, or for O(operation=get_object) C(404 NoSuchKey) or C(416 InvalidRange)),
      V(denied) (an authentication or permission refusal) or V(error) (anything else, such as C(NoSuchBucket)).
  returned: without O(checks), on success or a failed expectation
  type: str
  sample: allowed
status:
  description: HTTP status of R2's answer.
  returned: without O(checks), on success or a failed expectation
  type: int
  sample: 404
code:
  description: The S3 error code of the answer, or V(null) for a success.
  returned: without O(checks), on success or a failed expectation
  type: str
  sample: NoSuchKey
message:
  description: The S3 error message (at most 300 characters), or V(null).
  returned: without O(checks), on success or a failed expectation
  type: str
  sample: The specified key does not exist.
endpoint_url:
  description: The endpoint the request went to (C(scheme://host[:port])).
  returned: without O(checks), when known
  type: str
  sample: https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com
access_key_id:
  description: The Access Key ID that signed the request. Not a secret.
  returned: without O(checks), when known
  type: str
  sample: ed17574386854bf78a67040be0a770b0
checks:
  description:
    - One result per check of O(checks), in their order.
  returned: with O(checks), on success or failure (unless an option of the module itself is wrong)
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    name:
      description: The check's O(checks[].name).
      type: str
      sample: rclone
    source:
      description: The check's O(checks[].source).
      type: str
      sample: rclone
    outcome:
      description: V(allowed), V(denied) or V(error), as RV(outcome); V(null) when no answer came.
      type: str
      sample: allowed
    status:
      description: HTTP status of R2's answer, or V(null).
      type: int
      sample: 404
    code:
      description: The S3 error code of the answer, or V(null).
      type: str
      sample: NoSuchKey
    message:
      description: The S3 error message (at most 300 characters), or V(null).
      type: str
      sample: The specified key does not exist.
    allowed:
      description: Whether R2 allowed the request.
      type: bool
      sample: true
    access_key_id:
      description: The Access Key ID that signed the request, or V(null) when the credentials could not be read.
      type: str
      sample: ed17574386854bf78a67040be0a770b0
    endpoint_url:
      description: The endpoint the request went to, or V(null).
      type: str
      sample: https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com
    attempts:
      description: How many times the request was sent (O(retries)); V(0) when the check's options or
        credentials were unusable.
      type: int
      sample: 1
    failed:
      description: Whether the check's expectation is unmet, or the check could not be made.
      type: bool
      sample: false
    msg:
      description: Why the check failed, or V(null).
      type: str
      sample: null
  sample:
    - name: aws
      source: aws
      outcome: allowed
      status: 404
      code: NoSuchKey
      message: The specified key does not exist.
      allowed: true
      access_key_id: ed17574386854bf78a67040be0a770b0
      endpoint_url: https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com
      attempts: 1
      failed: false
      msg: null
'''

import os
import pwd
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _s3_probe, _safe_io, _text

CheckError = _s3_probe.ProbeError

SOURCES = ('aws', 'rclone', 's3cmd', 'env_file', 'values')
# The credential options of each source, and the ones it needs.
SOURCE_FIELDS = {
    'aws': ('profile', 'credentials_file', 'config_file'),
    'rclone': ('path', 'section'),
    's3cmd': ('path',),
    'env_file': ('path',),
    'values': ('access_key_id', 'secret_access_key', 'session_token'),
}
REQUIRED_FIELDS = {
    'aws': ('profile',),
    'rclone': ('path', 'section'),
    's3cmd': ('path',),
    'env_file': ('path',),
    'values': ('access_key_id', 'secret_access_key', 'endpoint_url'),
}
CREDENTIAL_FIELDS = tuple(sorted(set(field for fields in SOURCE_FIELDS.values() for field in fields)))
# The request options: per check, or the module's as their defaults.
REQUEST_FIELDS = ('bucket', 'operation', 'key', 'prefix', 'expect')
# The options of one check without checks.
SINGLE_OPTIONS = ('profile', 'access_key_id', 'secret_access_key', 'session_token', 'endpoint_url')
MAX_CHECKS = 256


# ----------------------------------------------------------------- reading

def read_text(path):
    """Text of the file at ``path``, or None when it does not exist (links, FIFOs, ... are refused)."""
    try:
        data = _safe_io.read_file(os.path.abspath(path))
    except _safe_io.UnsafePath as exc:
        raise CheckError(to_native(exc))
    except (IOError, OSError) as exc:
        problem = to_native(exc.strerror or exc)
        raise CheckError(problem if problem.startswith('cannot ') else 'cannot read %s: %s' % (path, problem))
    if data is None:
        return None
    try:
        return _ini.decode(data, path)
    except _ini.IniError as exc:
        raise CheckError(to_native(exc))


def read_aws_ini(path):
    """(sections, exists) of an aws INI file read strictly, as botocore does; a missing file is empty."""
    text = read_text(path)
    if text is None:
        return {}, False
    try:
        return _ini.parse_strict(text, path), True
    except _ini.IniError as exc:
        raise CheckError(to_native(exc))


def aws_credentials(profile, credentials_file, config_file):
    """The credentials and endpoint of an aws CLI profile, as the aws CLI resolves them."""
    if not profile.strip():
        raise CheckError('profile may not be empty')
    credentials, credentials_exist = read_aws_ini(credentials_file)
    config, config_exists = read_aws_ini(config_file)
    profiles = _client_files.aws_profile_map(config)[0]
    if profile not in credentials and profile not in profiles:
        raise CheckError('profile %s not found: no [%s] in %s%s and no [%s] in %s%s' % (
            profile, profile, credentials_file, '' if credentials_exist else ' (no such file)',
            _client_files.section('aws_config', profile), config_file, '' if config_exists else ' (no such file)'))
    try:
        creds = _client_files.aws_profile(profile, credentials, config, credentials_file, config_file,
                                          env=os.environ)
    except _client_files.LayoutError as exc:
        raise CheckError(to_native(exc))
    return creds, 'profile %s' % profile, ', or endpoint_url in the profile\'s config section'


def file_credentials(kind, path, name):
    """The credentials and endpoint of an rclone remote, an s3cmd configuration or an env file."""
    text = read_text(path)
    if text is None:
        raise CheckError('%s does not exist' % path)
    key_name, secret_name = _client_files.CREDENTIAL_KEYS[kind][:2]
    title = _client_files.section(kind, name)
    where = '[%s] of %s' % (title, path) if title else path
    found = _client_files.credential_in(kind, text, name)
    if found is None:
        if title and _ini.read_ini(text).get(title) is None:
            raise CheckError('no [%s] in %s' % (title, path))
        raise CheckError('%s has no value for %s' % (where, key_name))
    access_key_id, secret, token, endpoint = found
    if not secret:
        raise CheckError('%s has no value for %s' % (where, secret_name))
    creds = {'access_key_id': access_key_id, 'secret_access_key': secret, 'session_token': token,
             'endpoint_url': endpoint, 'ca_bundle': None, 'where': where}
    who = {'rclone': 'rclone remote %s of %s' % (name, path), 's3cmd': 's3cmd configuration %s' % path,
           'env_file': 'env file %s' % path}[kind]
    hint = ', or %s in %s' % (_client_files.ENDPOINT_KEYS[kind], where)
    return creds, who, hint


# ------------------------------------------------------------------ checks

class Check(object):
    """One request to make: its label, credentials, request and, once made, its result."""

    def __init__(self, name, source, request):
        self.name, self.source, self.request = name, source, request
        self.creds = self.who = None
        self.result = {}
        self.failure = None
        self.retryable = False
        self.attempts = 0

    def resolve(self, module, fields):
        """Read the credentials of ``fields`` (the credential options of the source, and endpoint_url);
        secrets read from files are masked in everything the module returns."""
        source = self.source
        if source == 'aws':
            creds, who, hint = aws_credentials(fields['profile'], fields['credentials_file'], fields['config_file'])
        elif source == 'values':
            creds = {'access_key_id': fields['access_key_id'], 'secret_access_key': fields['secret_access_key'],
                     'session_token': fields['session_token'] or None, 'endpoint_url': None, 'ca_bundle': None}
            who, hint = None, ''
        else:
            creds, who, hint = file_credentials(source, fields['path'], fields.get('section'))
        if source != 'values':
            # read from files, so AnsibleModule does not know them
            module.no_log_values.update(v for v in (creds['secret_access_key'], creds['session_token']) if v)
            _text.mask_escaped(module.no_log_values)   # the secrets in their repr() and JSON forms too
        if fields.get('endpoint_url'):
            creds['endpoint_url'] = fields['endpoint_url']
        request = self.request
        _s3_probe.validate_target(request['operation'], request['bucket'], request['key'])
        _s3_probe.validate_credentials(creds, hint)
        self.creds = creds
        access = 'access key %s' % creds['access_key_id']
        self.who = '%s (%s)' % (who, access) if who else access

    def attempt(self, params):
        """Send the request once; ``failure`` is None when the expectation is met."""
        self.attempts += 1
        self.result = {}
        request = self.request
        try:
            outcome = _s3_probe.probe(self.creds, request['operation'], request['bucket'], request['key'],
                                      request['prefix'], params['timeout'], params['validate_certs'], self.result)
        except CheckError as exc:
            self.failure, self.retryable = to_native(exc), exc.retryable
            return
        if _s3_probe.is_met(request['expect'], outcome):
            self.failure = None
            return
        self.failure = _s3_probe.unmet_message(self.who, request['operation'], request['bucket'], request['expect'],
                                               self.result)
        self.retryable = True

    def message(self):
        if self.failure and self.attempts > 1:
            return '%s (after %d attempts)' % (self.failure, self.attempts)
        return self.failure

    def report(self):
        """The entry of RV(checks)."""
        report = dict(name=self.name, source=self.source, outcome=None, status=None, code=None, message=None,
                      allowed=False, access_key_id=None, endpoint_url=None)
        report.update(self.result)
        report.update(attempts=self.attempts, failed=self.failure is not None, msg=self.message())
        return report


def run_checks(checks, params):
    """Make every resolved check; those whose expectation is unmet (or that got no answer) again, up to
    ``retries`` times, ``delay`` seconds apart."""
    pending = [check for check in checks if check.failure is None]
    rounds = 0
    while pending:
        for check in pending:
            check.attempt(params)
        rounds += 1
        pending = [check for check in pending if check.failure is not None and check.retryable]
        if not pending or rounds > params['retries']:
            break
        time.sleep(params['delay'])


def check_of(module, index, raw, params):
    """The Check of ``checks[index]``; a problem with its options or its credentials is its failure."""
    name = raw['name']
    source = raw['source'] or 'aws'
    request = dict((field, raw[field] if raw.get(field) is not None else params[field]) for field in REQUEST_FIELDS)
    check = Check(name, source, request)
    try:
        foreign = [field for field in CREDENTIAL_FIELDS
                   if field not in SOURCE_FIELDS[source] and raw.get(field) not in (None, '')]
        if foreign:
            raise CheckError('%s not used with source=%s' % (', '.join(foreign), source))
        missing = [field for field in REQUIRED_FIELDS[source] if not raw.get(field)]
        if missing:
            raise CheckError('source=%s needs %s' % (source, ' and '.join(missing)))
        fields = dict(raw)
        for field in ('credentials_file', 'config_file'):
            fields[field] = raw.get(field) or params[field]
        check.resolve(module, fields)
    except CheckError as exc:
        check.failure = to_native(exc)
    return check


def validate_names(checks):
    if not checks:
        raise CheckError('checks may not be empty')
    if len(checks) > MAX_CHECKS:
        raise CheckError('checks: at most %d checks per task' % MAX_CHECKS)
    seen, twice = set(), []
    for index, raw in enumerate(checks):
        name = raw['name']
        if not name or not name.strip() or _ini.has_control(name):
            raise CheckError('checks[%d]: name may not be empty or hold a control character' % index)
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    if twice:
        raise CheckError('checks: each name must be unique; used more than once: %s' % ', '.join(twice))


def main_checks(module, result):
    params = module.params
    validate_names(params['checks'])
    checks = [check_of(module, index, raw, params) for index, raw in enumerate(params['checks'])]
    run_checks(checks, params)
    result['checks'] = [check.report() for check in checks]
    failed = [check for check in checks if check.failure is not None]
    if not failed:
        return None
    return '%d of %d checks failed: %s' % (len(failed), len(checks),
                                           '; '.join('%s: %s' % (check.name, check.message()) for check in failed))


def main_single(module, result):
    params = module.params
    request = dict((field, params[field]) for field in REQUEST_FIELDS)
    source = 'aws' if params['profile'] is not None else 'values'
    check = Check(None, source, request)
    check.resolve(module, params)
    run_checks([check], params)
    result.update(check.result)
    return check.message()


def main():
    module = MaskedModule(
        argument_spec=dict(
            profile=dict(type='str'),
            credentials_file=dict(type='path',
                                  fallback=(env_fallback, ['AWS_SHARED_CREDENTIALS_FILE'])),
            config_file=dict(type='path', fallback=(env_fallback, ['AWS_CONFIG_FILE'])),
            access_key_id=dict(type='str', no_log=False),
            secret_access_key=dict(type='str', no_log=True),
            session_token=dict(type='str', no_log=True),
            endpoint_url=dict(type='str'),
            checks=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', required=True),
                source=dict(type='str', default='aws', choices=list(SOURCES)),
                profile=dict(type='str'),
                credentials_file=dict(type='path'),
                config_file=dict(type='path'),
                path=dict(type='path'),
                section=dict(type='str'),
                access_key_id=dict(type='str', no_log=False),
                secret_access_key=dict(type='str', no_log=True),
                session_token=dict(type='str', no_log=True),
                endpoint_url=dict(type='str'),
                bucket=dict(type='str'),
                operation=dict(type='str', choices=list(_s3_probe.OPERATIONS)),
                key=dict(type='str', no_log=False),
                prefix=dict(type='str'),
                expect=dict(type='str', choices=list(_s3_probe.EXPECTS)),
            )),
            bucket=dict(type='str'),
            operation=dict(type='str', default='get_object', choices=list(_s3_probe.OPERATIONS)),
            key=dict(type='str', default='r2-credentials-check', no_log=False),
            prefix=dict(type='str'),
            expect=dict(type='str', default='allowed', choices=list(_s3_probe.EXPECTS)),
            retries=dict(type='int', default=0),
            delay=dict(type='float', default=2),
            validate_certs=dict(type='bool', default=True),
            timeout=dict(type='float', default=10),
        ),
        mutually_exclusive=[('profile', 'access_key_id'), ('profile', 'secret_access_key'),
                            ('profile', 'session_token')] + [('checks', name) for name in SINGLE_OPTIONS],
        required_one_of=[('profile', 'access_key_id', 'checks')],
        required_together=[('access_key_id', 'secret_access_key')],
        supports_check_mode=True,
    )
    _text.mask_escaped(module.no_log_values)   # the secrets in their repr() and JSON forms too
    params = module.params
    # the aws CLI's own files in the home of the user the module runs as, unless given (or set in the environment)
    layout = _client_files.Layout(os.environ.get('HOME') or pwd.getpwuid(os.geteuid()).pw_dir)
    for field, kind in (('credentials_file', 'aws_credentials'), ('config_file', 'aws_config')):
        params[field] = params[field] or layout.path(kind, None)
    result = dict(changed=False)
    try:
        if params['timeout'] <= 0:
            raise CheckError('timeout must be above 0')
        if params['retries'] < 0:
            raise CheckError('retries must be 0 or more')
        if params['delay'] < 0:
            raise CheckError('delay must be 0 or more')
        failure = main_checks(module, result) if params['checks'] is not None else main_single(module, result)
    except CheckError as exc:
        failure = to_native(exc)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
