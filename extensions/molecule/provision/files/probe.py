"""S3 probes run on a test host, as the host's user, by the provision scenario (ansible.builtin.script).

Each probe runs one real client reading only the files the provision role rendered: the aws CLI (its own
process), boto3, rclone, s3cmd, or the aws CLI with nothing but the environment file. Argument: a JSON list of
{client, profile, op: list|put|list_buckets, bucket, key, prefix, home, credentials_file, rclone_config,
s3cmd_config, env_file}. Prints a JSON list of {client, profile, op, bucket, outcome: allowed|denied|missing|error,
detail}; never a secret (error output is reduced to S3 error codes and HTTP statuses).
"""

import configparser
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

DENIED = re.compile(r'AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|'
                    r'\b403\b|Forbidden')
CODES = re.compile(r'\b(AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|'
                   r'NoSuchBucket|NoSuchKey|[45]\d\d)\b')
# a bucket of another jurisdiction does not exist at this endpoint
MISSING = re.compile(r'NoSuchBucket|directory not found|does not exist', re.IGNORECASE)
BIN = os.path.dirname(sys.executable)


def run(argv, env):
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=120, check=False)
    return proc.returncode, proc.stdout


def base_env(probe):
    env = dict(os.environ)
    env.pop('AWS_CA_BUNDLE', None)  # this machine exports one that rclone cannot load
    for name in [k for k in env if k.startswith('AWS_')]:
        env.pop(name)
    env['HOME'] = probe['home']
    if probe.get('credentials_file'):
        env['AWS_SHARED_CREDENTIALS_FILE'] = probe['credentials_file']
        env['AWS_CONFIG_FILE'] = os.path.join(os.path.dirname(probe['credentials_file']), 'config')
    return env


def endpoint_of(probe):
    """The endpoint the client would use, read from the file it reads (None when there is none)."""
    parser = configparser.RawConfigParser(strict=False)
    if probe['client'] in ('aws', 'boto3'):
        env = base_env(probe)
        parser.read(env.get('AWS_CONFIG_FILE', os.path.join(probe['home'], '.aws', 'config')))
        section = 'default' if probe['profile'] == 'default' else 'profile ' + probe['profile']
        return parser.get(section, 'endpoint_url', fallback=None)
    if probe['client'] == 'rclone':
        parser.read(probe['rclone_config'])
        return parser.get(probe['profile'], 'endpoint', fallback=None)
    if probe['client'] == 's3cmd':
        parser.read(probe['s3cmd_config'])
        host = parser.get('default', 'host_base', fallback=None)
        return 'http://' + host if host else None
    with open(probe['env_file']) as handle:
        found = re.search(r'^AWS_ENDPOINT_URL_S3=(.*)$', handle.read(), re.MULTILINE)
    return found.group(1) if found else None


def on_loopback(url):
    # The tests touch only 127.0.0.0/8: a client without a loopback endpoint would go to AWS.
    try:
        return bool(url) and ipaddress.ip_address(urlsplit(url).hostname or '').is_loopback
    except ValueError:
        return False


def aws_argv(probe, body):
    op, bucket = probe['op'], probe.get('bucket')
    if op == 'list_buckets':
        return ['s3api', 'list-buckets']
    if op == 'list':
        argv = ['s3api', 'list-objects-v2', '--bucket', bucket, '--max-items', '1']
        return argv + (['--prefix', probe['prefix']] if probe.get('prefix') else [])
    return ['s3api', 'put-object', '--bucket', bucket, '--key', probe['key'], '--body', body]


def probe_aws(probe, body):
    return run([os.path.join(BIN, 'aws'), '--profile', probe['profile']] + aws_argv(probe, body), base_env(probe))


def probe_env(probe, body):
    env = base_env(probe)
    env['AWS_CONFIG_FILE'] = env['AWS_SHARED_CREDENTIALS_FILE'] = os.devnull
    with open(probe['env_file']) as handle:
        for line in handle:
            if '=' in line and not line.lstrip().startswith('#'):
                key, value = line.rstrip('\n').split('=', 1)
                env[key.strip()] = value
    return run([os.path.join(BIN, 'aws')] + aws_argv(probe, body), env)


def probe_boto3(probe, body):
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel
    os.environ.clear()
    os.environ.update(base_env(probe))
    s3 = boto3.Session(profile_name=probe['profile']).client('s3')
    try:
        if probe['op'] == 'list_buckets':
            s3.list_buckets()
        elif probe['op'] == 'list':
            s3.list_objects_v2(Bucket=probe['bucket'], MaxKeys=1, Prefix=probe.get('prefix') or '')
        else:
            with open(body, 'rb') as handle:
                s3.put_object(Bucket=probe['bucket'], Key=probe['key'], Body=handle.read())
        return 0, ''
    except ClientError as exc:
        return 1, '%s %s' % (exc.response.get('Error', {}).get('Code'),
                             exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode'))


def probe_rclone(probe, body):
    remote = probe['profile'] + ':'
    argv = ['rclone', '--config', probe['rclone_config'], '--retries', '1', '--low-level-retries', '1']
    if probe['op'] == 'list_buckets':
        argv += ['lsd', remote]
    elif probe['op'] == 'list':
        argv += ['lsf', '--max-depth', '1', remote + probe['bucket'] + '/' + (probe.get('prefix') or '')]
    else:
        argv += ['copyto', body, remote + probe['bucket'] + '/' + probe['key']]
    return run(argv, base_env(probe))


def probe_s3cmd(probe, body):
    argv = ['s3cmd', '-c', probe['s3cmd_config'], '--no-progress']
    if probe['op'] == 'list_buckets':
        argv += ['ls']
    elif probe['op'] == 'list':
        argv += ['ls', 's3://%s/%s' % (probe['bucket'], probe.get('prefix') or '')]
    else:
        argv += ['put', body, 's3://%s/%s' % (probe['bucket'], probe['key'])]
    return run(argv, base_env(probe))


def main():
    probes = json.loads(sys.argv[1])
    results = []
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as handle:
        handle.write('written by the provision scenario\n')
        body = handle.name
    try:
        for probe in probes:
            if not on_loopback(endpoint_of(probe)):
                results.append({'client': probe['client'], 'profile': probe['profile'], 'op': probe['op'],
                                'bucket': probe.get('bucket'), 'outcome': 'error',
                                'detail': 'no loopback endpoint in the files: not run'})
                continue
            rc, output = globals()['probe_' + probe['client']](probe, body)
            if rc == 0:
                outcome = 'allowed'
            elif DENIED.search(output):
                outcome = 'denied'
            elif MISSING.search(output):
                outcome = 'missing'
            else:
                outcome = 'error'
            results.append({'client': probe['client'], 'profile': probe['profile'], 'op': probe['op'],
                            'bucket': probe.get('bucket'), 'outcome': outcome,
                            'detail': ' '.join(sorted(set(CODES.findall(output))))})
    finally:
        os.unlink(body)
    print(json.dumps(results))


if __name__ == '__main__':
    main()
