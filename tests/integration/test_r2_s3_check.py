"""r2_s3_check through one real ansible-playbook run (-vvvv) against the emulator's S3 endpoint.

The playbook makes a token (r2_token, through Prism) and temporary credentials (r2_temp_credentials), writes an
aws config/credentials pair into tmp_path, and checks every profile with r2_s3_check: allowed, denied for each
reason R2 gives, expect=denied, a failed expectation, check mode, and after the token is deleted. The test then
reads the emulator's S3 log (each decision, signature first), compares with the real aws CLI run on the same
files, and scans the output for every secret.

A second playbook checks every kind of client file in one task with ``checks`` (an aws profile, rclone remotes, an
s3cmd configuration, an env file with temporary credentials, direct values): allowed and denied as expected,
unmet expectations retried and reported in one message, and every file refused after the token is deleted.
"""

import json
import os
import sys
import textwrap

from test_r2_token import assert_no_secrets

PLAYBOOK = textwrap.dedent('''\
    - name: r2_s3_check against the emulator
      hosts: localhost
      gather_facts: false
      module_defaults:
        group/cloudflare_r2.credentials.r2:
          api_url: "{{ cf_api_url }}"
      vars:
        files: {credentials_file: "{{ aws_dir }}/credentials", config_file: "{{ aws_dir }}/config"}
      tasks:
        - name: A token with Object Read & Write on default/data only
          cloudflare_r2.credentials.r2_token:
            name: s3-check
            permission: object_read_write
            buckets: [data]
          register: tok
          no_log: true

        - name: Temporary read credentials for data, from that token
          cloudflare_r2.credentials.r2_temp_credentials:
            bucket: data
            permission: object_read_only
            parent_access_key_id: "{{ tok.access_key_id }}"
            ttl_seconds: 600
          register: temp
          no_log: true

        - name: The wrong secret (last hex digit changed)
          ansible.builtin.set_fact:
            wrong_secret: "{{ tok.secret_access_key[:-1] ~ ('1' if tok.secret_access_key[-1] == '0' else '0') }}"
          no_log: true

        - name: Folder for the aws files
          ansible.builtin.file:
            path: "{{ aws_dir }}"
            state: directory
            mode: "0700"

        - name: The aws credentials file
          ansible.builtin.copy:
            dest: "{{ files.credentials_file }}"
            mode: "0600"
            content: |
              [default]
              aws_access_key_id = {{ tok.access_key_id }}
              aws_secret_access_key = {{ tok.secret_access_key }}

              [good]
              aws_access_key_id = {{ tok.access_key_id }}
              aws_secret_access_key = {{ tok.secret_access_key }}

              [wrong]
              aws_access_key_id = {{ tok.access_key_id }}
              aws_secret_access_key = {{ wrong_secret }}

              [temp]
              aws_access_key_id = {{ temp.access_key_id }}
              aws_secret_access_key = {{ temp.secret_access_key }}
              aws_session_token = {{ temp.session_token }}
          no_log: true

        - name: The aws config file
          ansible.builtin.copy:
            dest: "{{ files.config_file }}"
            mode: "0600"
            content: |
              [default]
              region = auto
              endpoint_url = {{ s3_endpoint }}

              {% for name in ['good', 'wrong', 'temp'] %}
              [profile {{ name }}]
              region = auto
              endpoint_url = {{ s3_endpoint }}/
              s3 =
                addressing_style = path

              {% endfor %}

        - name: The secrets, for the test to look for in the output
          ansible.builtin.copy:
            dest: "{{ secrets_file }}"
            mode: "0600"
            content: "{{ [tok.token_value, tok.secret_access_key, wrong_secret, temp.secret_access_key,
                          temp.session_token] | to_json }}"
          no_log: true

        - name: Allowed - a missing key in its own bucket (NoSuchKey after auth)
          cloudflare_r2.credentials.r2_s3_check:
            profile: good
            bucket: data
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: good_get

        - name: Allowed - list_objects, default profile, files from the environment
          cloudflare_r2.credentials.r2_s3_check:
            profile: default
            bucket: data
            operation: list_objects
            prefix: nothing/
          environment:
            AWS_SHARED_CREDENTIALS_FILE: "{{ files.credentials_file }}"
            AWS_CONFIG_FILE: "{{ files.config_file }}"
          register: good_list

        - name: Denied - a bucket outside the token's scope
          cloudflare_r2.credentials.r2_s3_check:
            profile: good
            bucket: other
            expect: denied
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: out_of_scope

        - name: Denied - an object token cannot list buckets
          cloudflare_r2.credentials.r2_s3_check:
            profile: good
            operation: list_buckets
            expect: denied
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: no_list_buckets

        - name: Error - no such bucket (expect any only reports)
          cloudflare_r2.credentials.r2_s3_check:
            profile: good
            bucket: ghost
            expect: any
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: ghost

        - name: Denied - the wrong secret, as expected
          cloudflare_r2.credentials.r2_s3_check:
            profile: wrong
            bucket: data
            expect: denied
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: wrong

        - name: The wrong secret, expected to work - fails
          cloudflare_r2.credentials.r2_s3_check:
            profile: wrong
            bucket: data
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: wrong_failed
          ignore_errors: true

        - name: Allowed - temporary credentials with their session token, list_objects
          cloudflare_r2.credentials.r2_s3_check:
            profile: temp
            bucket: data
            operation: list_objects
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: temp_list

        - name: Allowed - the same as direct values, in check mode
          cloudflare_r2.credentials.r2_s3_check:
            access_key_id: "{{ temp.access_key_id }}"
            secret_access_key: "{{ temp.secret_access_key }}"
            session_token: "{{ temp.session_token }}"
            endpoint_url: "{{ s3_endpoint }}"
            bucket: data
            key: "dir/ä b+c%20~.txt"
          check_mode: true
          register: temp_direct

        - name: Denied - temporary credentials without their session token
          cloudflare_r2.credentials.r2_s3_check:
            access_key_id: "{{ temp.access_key_id }}"
            secret_access_key: "{{ temp.secret_access_key }}"
            endpoint_url: "{{ s3_endpoint }}"
            bucket: data
            expect: denied
          register: temp_no_token

        - name: The aws CLI with the same profiles of the same files
          ansible.builtin.command:
            argv: ["{{ aws_bin }}", s3api, list-objects-v2, --bucket, data, --max-keys, "1", --profile, "{{ item }}"]
          environment:
            AWS_SHARED_CREDENTIALS_FILE: "{{ files.credentials_file }}"
            AWS_CONFIG_FILE: "{{ files.config_file }}"
            AWS_MAX_ATTEMPTS: "1"
          loop: [temp, wrong, good]
          register: aws_cli
          changed_when: false
          failed_when: false

        - name: Delete the token
          cloudflare_r2.credentials.r2_token:
            name: s3-check
            state: absent

        - name: Denied - the deleted token's credentials
          cloudflare_r2.credentials.r2_s3_check:
            profile: good
            bucket: data
            expect: denied
            credentials_file: "{{ files.credentials_file }}"
            config_file: "{{ files.config_file }}"
          register: deleted

        - name: Write the results for the test
          ansible.builtin.copy:
            dest: "{{ results_file }}"
            mode: "0600"
            content: "{{ {'good_get': good_get, 'good_list': good_list, 'out_of_scope': out_of_scope,
                          'no_list_buckets': no_list_buckets, 'ghost': ghost, 'wrong': wrong,
                          'wrong_failed': wrong_failed, 'temp_list': temp_list, 'temp_direct': temp_direct,
                          'temp_no_token': temp_no_token, 'deleted': deleted,
                          'aws_cli': aws_cli.results | items2dict(key_name='item', value_name='stderr'),
                          'aws_cli_rc': aws_cli.results | items2dict(key_name='item', value_name='rc'),
                          'key_ids': {'token': tok.access_key_id, 'temp': temp.access_key_id}} | to_json }}"
    ''')


def outcome(result):
    return (result.get('failed', False), result['outcome'], result['status'], result['code'])


def test_s3_check_profiles_and_outcomes(cf, run_playbook, tmp_path):
    cf.create_bucket('data')
    cf.create_bucket('other')
    playbook = tmp_path / 's3_check.yml'
    playbook.write_text(PLAYBOOK, encoding='utf-8')
    aws_dir, secrets_file, results_file = tmp_path / 'aws', tmp_path / 'secrets.json', tmp_path / 'results.json'
    result = run_playbook(str(playbook), verbosity=4, extra_vars={
        's3_endpoint': cf.s3_endpoints['default'], 'aws_dir': str(aws_dir), 'secrets_file': str(secrets_file),
        'results_file': str(results_file), 'aws_bin': os.path.join(os.path.dirname(os.path.abspath(sys.executable)), 'aws')})
    assert result.rc == 0, result.describe()[-6000:]
    secrets = json.loads(secrets_file.read_text())
    assert len(secrets) == 5 and all(len(s) >= 40 for s in secrets)
    assert_no_secrets(result.output + results_file.read_text(), secrets + [cf.bootstrap_token])

    r = json.loads(results_file.read_text())
    endpoint = cf.s3_endpoints['default']
    assert outcome(r['good_get']) == (False, 'allowed', 404, 'NoSuchKey')
    assert r['good_get']['allowed'] is True and r['good_get']['changed'] is False
    assert (r['good_get']['endpoint_url'], r['good_get']['access_key_id']) == (endpoint, r['key_ids']['token'])
    assert outcome(r['good_list']) == (False, 'allowed', 200, None)
    assert outcome(r['out_of_scope']) == (False, 'denied', 403, 'AccessDenied')
    assert outcome(r['no_list_buckets']) == (False, 'denied', 403, 'AccessDenied')
    assert outcome(r['ghost']) == (False, 'error', 404, 'NoSuchBucket') and r['ghost']['allowed'] is False
    assert outcome(r['wrong']) == (False, 'denied', 403, 'SignatureDoesNotMatch')
    assert outcome(r['wrong_failed']) == (True, 'denied', 403, 'SignatureDoesNotMatch')
    assert r['wrong_failed']['msg'].startswith(
        'profile wrong (access key %s): get_object on bucket data at %s: expected allowed, but R2 denied it '
        '(HTTP 403 SignatureDoesNotMatch: ' % (r['key_ids']['token'], endpoint))
    assert outcome(r['temp_list']) == (False, 'allowed', 200, None)
    assert r['temp_list']['access_key_id'] == r['key_ids']['temp'] != r['key_ids']['token']
    assert outcome(r['temp_direct']) == (False, 'allowed', 404, 'NoSuchKey')
    assert outcome(r['temp_no_token']) == (False, 'denied', 403, 'InvalidToken')
    assert outcome(r['deleted']) == (False, 'denied', 403, 'InvalidAccessKeyId')

    # The emulator verified each signature (botocore, over the headers signed) before deciding.
    log = [e for e in cf.s3_requests() if e['access_key_id'] in r['key_ids'].values()]
    decisions = [(e['operation'], e['bucket'], e['credential'], e['status'], e['error_code']) for e in log]
    assert decisions == [
        ('GetObject', 'data', 'token', 404, 'NoSuchKey'),
        ('ListObjectsV2', 'data', 'token', 200, None),
        ('GetObject', 'other', 'token', 403, 'AccessDenied'),
        ('ListBuckets', None, 'token', 403, 'AccessDenied'),
        ('GetObject', 'ghost', 'token', 404, 'NoSuchBucket'),
        ('GetObject', 'data', 'token', 403, 'SignatureDoesNotMatch'),
        ('GetObject', 'data', 'token', 403, 'SignatureDoesNotMatch'),
        ('ListObjectsV2', 'data', 'temp-api', 200, None),
        ('GetObject', 'data', 'temp-api', 404, 'NoSuchKey'),
        ('GetObject', 'data', 'temp-api', 403, 'InvalidToken'),
        ('ListObjectsV2', 'data', 'temp-api', 200, None),  # the aws CLI
        ('ListObjectsV2', 'data', 'token', 403, 'SignatureDoesNotMatch'),
        ('ListObjectsV2', 'data', 'token', 200, None),
        ('GetObject', 'data', None, 403, 'InvalidAccessKeyId'),
    ], decisions
    assert all(e['reason'].startswith('signature ok; ') for e in log if e['decision'] == 'allow')
    assert [e['key'] for e in log if e['credential'] == 'temp-api'][1] == 'dir/ä b+c%20~.txt'

    # The aws CLI, given the same profiles of the same files, got the same answers.
    assert (r['aws_cli_rc']['temp'], r['aws_cli_rc']['good']) == (0, 0) != r['aws_cli_rc']['wrong'], r['aws_cli']
    assert 'SignatureDoesNotMatch' in r['aws_cli']['wrong']


CHECKS_PLAYBOOK = textwrap.dedent('''\
    - name: r2_s3_check checks - every client file kind in one task
      hosts: localhost
      gather_facts: false
      module_defaults:
        group/cloudflare_r2.credentials.r2:
          api_url: "{{ cf_api_url }}"
      vars:
        host_port: "{{ s3_endpoint | urlsplit('netloc') }}"
      tasks:
        - name: A token with Object Read & Write on default/data only
          cloudflare_r2.credentials.r2_token:
            name: s3-checks
            permission: object_read_write
            buckets: [data]
          register: tok
          no_log: true

        - name: Temporary read credentials for data, from that token
          cloudflare_r2.credentials.r2_temp_credentials:
            bucket: data
            permission: object_read_only
            parent_access_key_id: "{{ tok.access_key_id }}"
            ttl_seconds: 600
          register: temp
          no_log: true

        - name: The wrong secret (last hex digit changed)
          ansible.builtin.set_fact:
            wrong_secret: "{{ tok.secret_access_key[:-1] ~ ('1' if tok.secret_access_key[-1] == '0' else '0') }}"
          no_log: true

        - name: Folders for the client files
          ansible.builtin.file:
            path: "{{ home }}/{{ item }}"
            state: directory
            mode: "0700"
          loop: [.aws, .config/rclone, .config/r2]

        # The files as _client_files renders them (section_values for aws and rclone, whole_text for s3cmd
        # and the env file), written by hand here.
        - name: The aws credentials file
          ansible.builtin.copy:
            dest: "{{ home }}/.aws/credentials"
            mode: "0600"
            content: |
              [good]
              aws_access_key_id = {{ tok.access_key_id }}
              aws_secret_access_key = {{ tok.secret_access_key }}
          no_log: true

        - name: The aws config file
          ansible.builtin.copy:
            dest: "{{ home }}/.aws/config"
            mode: "0600"
            content: |
              [profile good]
              region = auto
              endpoint_url = {{ s3_endpoint }}
              s3 =
                addressing_style = path
              request_checksum_calculation = when_required
              response_checksum_validation = when_required

        - name: The rclone configuration (the good remote and one with the wrong secret)
          ansible.builtin.copy:
            dest: "{{ home }}/.config/rclone/rclone.conf"
            mode: "0600"
            content: |
              {% for name, secret in [('good', tok.secret_access_key), ('wrong', wrong_secret)] %}
              [{{ name }}]
              type = s3
              provider = Cloudflare
              access_key_id = {{ tok.access_key_id }}
              secret_access_key = {{ secret }}
              endpoint = {{ s3_endpoint }}
              region = auto
              acl = private
              force_path_style = true
              no_check_bucket = true

              {% endfor %}
          no_log: true

        - name: The s3cmd configuration
          ansible.builtin.copy:
            dest: "{{ home }}/.s3cfg-good"
            mode: "0600"
            content: |
              # Written by cloudflare_r2.credentials for the R2 profile good; edits are overwritten.
              # s3cmd configuration: s3cmd -c {{ home }}/.s3cfg-good
              [default]
              access_key = {{ tok.access_key_id }}
              secret_key = {{ tok.secret_access_key }}
              host_base = {{ host_port }}
              host_bucket = {{ host_port }}
              use_https = False
              signature_v2 = False
              bucket_location = auto
          no_log: true

        - name: The env file, with the temporary credentials and their session token
          ansible.builtin.copy:
            dest: "{{ home }}/.config/r2/temp.env"
            mode: "0600"
            content: |
              # Written by cloudflare_r2.credentials for the R2 profile temp; edits are overwritten.
              # For systemd EnvironmentFile= or `set -a; . FILE; set +a`.
              AWS_ACCESS_KEY_ID={{ temp.access_key_id }}
              AWS_SECRET_ACCESS_KEY={{ temp.secret_access_key }}
              AWS_SESSION_TOKEN={{ temp.session_token }}
              AWS_ENDPOINT_URL_S3={{ s3_endpoint }}
              AWS_DEFAULT_REGION=auto
              AWS_REGION=auto
              AWS_REQUEST_CHECKSUM_CALCULATION=when_required
              AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
          no_log: true

        - name: The secrets, for the test to look for in the output
          ansible.builtin.copy:
            dest: "{{ secrets_file }}"
            mode: "0600"
            content: "{{ [tok.token_value, tok.secret_access_key, wrong_secret, temp.secret_access_key,
                          temp.session_token] | to_json }}"
          no_log: true

        - name: Every kind of client file, allowed and denied as expected
          cloudflare_r2.credentials.r2_s3_check:
            bucket: data
            credentials_file: "{{ home }}/.aws/credentials"
            config_file: "{{ home }}/.aws/config"
            checks:
              - name: aws
                profile: good
              - name: rclone
                source: rclone
                path: "{{ home }}/.config/rclone/rclone.conf"
                section: good
                operation: list_objects
                prefix: nothing/
              - name: s3cmd
                source: s3cmd
                path: "{{ home }}/.s3cfg-good"
              - name: env file
                source: env_file
                path: "{{ home }}/.config/r2/temp.env"
                operation: list_objects
              - name: rclone wrong secret
                source: rclone
                path: "{{ home }}/.config/rclone/rclone.conf"
                section: wrong
                expect: denied
              - name: out of scope
                source: s3cmd
                path: "{{ home }}/.s3cfg-good"
                bucket: other
                expect: denied
              - name: temp without token
                source: values
                access_key_id: "{{ temp.access_key_id }}"
                secret_access_key: "{{ temp.secret_access_key }}"
                endpoint_url: "{{ s3_endpoint }}"
                expect: denied
          register: mixed

        - name: Unmet expectations - retried, then one failure naming each
          cloudflare_r2.credentials.r2_s3_check:
            bucket: data
            retries: 1
            delay: 0
            checks:
              - name: still good
                source: rclone
                path: "{{ home }}/.config/rclone/rclone.conf"
                section: good
              - name: wrong but expected to work
                source: rclone
                path: "{{ home }}/.config/rclone/rclone.conf"
                section: wrong
              - name: no such file
                source: env_file
                path: "{{ home }}/.config/r2/missing.env"
          register: unmet
          ignore_errors: true

        - name: Delete the token
          cloudflare_r2.credentials.r2_token:
            name: s3-checks
            state: absent

        - name: After the deletion every file with the token is refused
          cloudflare_r2.credentials.r2_s3_check:
            bucket: data
            expect: denied
            credentials_file: "{{ home }}/.aws/credentials"
            config_file: "{{ home }}/.aws/config"
            checks:
              - name: aws
                profile: good
              - name: rclone
                source: rclone
                path: "{{ home }}/.config/rclone/rclone.conf"
                section: good
              - name: s3cmd
                source: s3cmd
                path: "{{ home }}/.s3cfg-good"
          check_mode: true
          register: deleted

        - name: Write the results for the test
          ansible.builtin.copy:
            dest: "{{ results_file }}"
            mode: "0600"
            content: "{{ {'mixed': mixed, 'unmet': unmet, 'deleted': deleted,
                          'key_ids': {'token': tok.access_key_id, 'temp': temp.access_key_id}} | to_json }}"
    ''')


def checks_of(result):
    return [(c['name'], c['source'], c['outcome'], c['status'], c['code'], c['failed'], c['attempts'])
            for c in result['checks']]


def test_s3_check_checks_of_every_client_file(cf, run_playbook, tmp_path):
    cf.create_bucket('data')
    cf.create_bucket('other')
    playbook = tmp_path / 's3_checks.yml'
    playbook.write_text(CHECKS_PLAYBOOK, encoding='utf-8')
    home, secrets_file, results_file = tmp_path / 'home', tmp_path / 'secrets.json', tmp_path / 'results.json'
    result = run_playbook(str(playbook), verbosity=4, extra_vars={
        's3_endpoint': cf.s3_endpoints['default'], 'home': str(home), 'secrets_file': str(secrets_file),
        'results_file': str(results_file)})
    assert result.rc == 0, result.describe()[-6000:]
    secrets = json.loads(secrets_file.read_text())
    assert len(secrets) == 5 and all(len(s) >= 40 for s in secrets)
    assert_no_secrets(result.output + results_file.read_text(), secrets + [cf.bootstrap_token])

    r = json.loads(results_file.read_text())
    endpoint = cf.s3_endpoints['default']
    token, temp = r['key_ids']['token'], r['key_ids']['temp']
    assert not r['mixed'].get('failed') and r['mixed']['changed'] is False
    assert checks_of(r['mixed']) == [
        ('aws', 'aws', 'allowed', 404, 'NoSuchKey', False, 1),
        ('rclone', 'rclone', 'allowed', 200, None, False, 1),
        ('s3cmd', 's3cmd', 'allowed', 404, 'NoSuchKey', False, 1),
        ('env file', 'env_file', 'allowed', 200, None, False, 1),
        ('rclone wrong secret', 'rclone', 'denied', 403, 'SignatureDoesNotMatch', False, 1),
        ('out of scope', 's3cmd', 'denied', 403, 'AccessDenied', False, 1),
        ('temp without token', 'values', 'denied', 403, 'InvalidToken', False, 1),
    ]
    assert [(c['access_key_id'], c['endpoint_url']) for c in r['mixed']['checks']] == \
        [(token, endpoint)] * 3 + [(temp, endpoint), (token, endpoint), (token, endpoint), (temp, endpoint)]

    unmet = r['unmet']
    assert unmet['failed'] is True
    assert checks_of(unmet) == [
        ('still good', 'rclone', 'allowed', 404, 'NoSuchKey', False, 1),
        ('wrong but expected to work', 'rclone', 'denied', 403, 'SignatureDoesNotMatch', True, 2),
        ('no such file', 'env_file', None, None, None, True, 0),
    ]
    rclone_conf = home / '.config' / 'rclone' / 'rclone.conf'
    assert unmet['msg'].startswith(
        '2 of 3 checks failed: wrong but expected to work: rclone remote wrong of %s (access key %s): get_object '
        'on bucket data at %s: expected allowed, but R2 denied it (HTTP 403 SignatureDoesNotMatch: '
        % (rclone_conf, token, endpoint)), unmet['msg']
    assert unmet['msg'].endswith(' (after 2 attempts); no such file: %s does not exist'
                                 % (home / '.config' / 'r2' / 'missing.env')), unmet['msg']

    assert not r['deleted'].get('failed')
    assert checks_of(r['deleted']) == [
        (name, name, 'denied', 403, 'InvalidAccessKeyId', False, 1) for name in ('aws', 'rclone', 's3cmd')]

    # What the emulator decided, in order, after verifying each signature.
    log = [e for e in cf.s3_requests() if e['access_key_id'] in (token, temp)]
    decisions = [(e['operation'], e['bucket'], e['credential'], e['status'], e['error_code']) for e in log]
    assert decisions == [
        ('GetObject', 'data', 'token', 404, 'NoSuchKey'),
        ('ListObjectsV2', 'data', 'token', 200, None),
        ('GetObject', 'data', 'token', 404, 'NoSuchKey'),
        ('ListObjectsV2', 'data', 'temp-api', 200, None),
        ('GetObject', 'data', 'token', 403, 'SignatureDoesNotMatch'),
        ('GetObject', 'other', 'token', 403, 'AccessDenied'),
        ('GetObject', 'data', 'temp-api', 403, 'InvalidToken'),
        ('GetObject', 'data', 'token', 404, 'NoSuchKey'),
        ('GetObject', 'data', 'token', 403, 'SignatureDoesNotMatch'),
        ('GetObject', 'data', 'token', 403, 'SignatureDoesNotMatch'),  # the retry
        ('GetObject', 'data', None, 403, 'InvalidAccessKeyId'),
        ('GetObject', 'data', None, 403, 'InvalidAccessKeyId'),
        ('GetObject', 'data', None, 403, 'InvalidAccessKeyId'),
    ], decisions
    assert all(e['reason'].startswith('signature ok; ') for e in log if e['decision'] == 'allow')
