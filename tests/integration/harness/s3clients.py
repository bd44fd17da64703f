"""Real S3 clients driven against the emulator's R2 endpoints: aws CLI, boto3, rclone, s3cmd.

Every driver has the same interface::

    driver.run(op, creds, bucket=None, key=None, body=None, prefix=None) -> Outcome

``op`` is one of ``OPS`` (boto3 also has ``copy_object`` and ``multipart_upload``);
``creds`` is ``{access_key_id, secret_access_key, session_token?, endpoint_url}``.
``Outcome(ok, code, detail, data)``: ``code`` is the S3 error code parsed from
the client's own output (``AccessDenied``, ``NoSuchBucket``,
``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, ``ExpiredToken``,
``InvalidToken``, ``Unauthorized`` ...).  A HEAD answer has no body, so no
client can know its code: for a failure on a HEAD request ``code`` is the HTTP
status (``'403'``, ``'404'``, ``'400'``), and ``driver.head_ops`` lists the
operations whose first request is a HEAD for that client (``expect_code``
translates).  ``data`` is the object body (get_object), the keys
(list_objects) or the bucket names (list_buckets) on success.

Configuration, the way a user would write it (REF
/work/shared/reference/toolchain-and-clients.md):

- aws CLI: its own process (``.venv/bin/aws s3api``); a ``[profile x]`` config
  and a credentials file, passed only through AWS_CONFIG_FILE,
  AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE; every other AWS_* variable removed.
- boto3: in-process, path style, region ``auto``, checksums ``when_required``,
  one attempt.
- rclone: an ``rclone.conf`` through RCLONE_CONFIG (``provider = Cloudflare``,
  ``no_check_bucket``), AWS_CA_BUNDLE removed (it breaks rclone here).
- s3cmd: a config file through ``-c`` (path style, SigV4, ``bucket_location = auto``).

Secrets never go on a command line: they are written to 0600 files in a 0700
temporary folder that is removed after the call.  ``detail`` has every secret of
``creds`` masked, so it is safe in assertion messages.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

OPS = ('list_buckets', 'create_bucket', 'delete_bucket', 'put_object', 'get_object', 'head_object',
       'list_objects', 'delete_object')
HTTP_STATUS_CODES = {'400': 'BadRequest', '403': 'Forbidden', '404': 'NotFound', '301': 'MovedPermanently'}
TIMEOUT = 60


@dataclasses.dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str | None
    detail: str
    data: object = None

    def __str__(self) -> str:
        return 'ok' if self.ok else (self.code or 'error')


def mask(text: str, creds: dict) -> str:
    """``text`` with every secret of ``creds`` (and its URL-encoded form) replaced by ``***``."""
    for name in ('secret_access_key', 'session_token'):
        value = creds.get(name)
        if value:
            for form in (value, urllib.parse.quote(value, safe=''), urllib.parse.quote_plus(value)):
                text = text.replace(form, '***')
    return text


def _write_secret(folder: str, name: str, text: str) -> str:
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return path


class _SecretDir:
    """A 0700 temporary folder, removed on exit."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix='s3c-')  # mkdtemp: mode 0700
        os.chmod(self.path, 0o700)
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _clean_env(home: str) -> dict:
    """The test process's environment without any AWS_* or RCLONE_* variable, with HOME in the temp folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'RCLONE_', 'BOTO_'))}
    env['HOME'] = home
    env['LC_ALL'] = 'C.UTF-8'
    return env


def _run(argv, env, stdin=b'') -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=TIMEOUT, check=False)


def _hostport(endpoint_url: str) -> tuple:
    parsed = urllib.parse.urlsplit(endpoint_url)
    return parsed.netloc, parsed.scheme


class Driver:
    name = '?'
    ops = frozenset(OPS)
    head_ops = frozenset()  # operations whose first request is a HEAD (its failure carries no S3 code)

    def run(self, op, creds, bucket=None, key=None, body=None, prefix=None) -> Outcome:
        if op not in self.ops:
            raise ValueError('%s does not support %s' % (self.name, op))
        try:
            outcome = self._run(op, creds, bucket, key, body, prefix)
        except subprocess.TimeoutExpired:
            outcome = Outcome(False, 'Timeout', '%s %s timed out after %ss' % (self.name, op, TIMEOUT))
        return dataclasses.replace(outcome, detail=mask(outcome.detail, creds)[-1500:])

    def expect_code(self, op: str, code: str) -> str:
        """The code this client reports for ``op`` failing with the S3 error ``code``."""
        if op in self.head_ops:
            return {'AccessDenied': '403', 'SignatureDoesNotMatch': '403', 'InvalidAccessKeyId': '403',
                    'InvalidToken': '403', 'NoSuchBucket': '404', 'NoSuchKey': '404', 'ExpiredToken': '400',
                    'Unauthorized': '401'}.get(code, code)
        return code

    def _run(self, op, creds, bucket, key, body, prefix) -> Outcome:
        raise NotImplementedError


# --- aws CLI ---------------------------------------------------------------------------
AWS_ERROR = re.compile(r'An error occurred \(([^)]+)\) when calling the (\w+) operation(?:[^:]*): ?(.*)')


class AwsCli(Driver):
    """``aws s3api`` as its own process, configured only through a config/credentials file pair."""

    name = 'awscli'
    head_ops = frozenset({'head_object'})

    def __init__(self, aws_bin: str | None = None):
        self.aws = aws_bin or os.path.join(os.path.dirname(os.path.abspath(sys.executable)), 'aws')

    @staticmethod
    def write_config(folder: str, creds: dict) -> dict:
        config = _write_secret(folder, 'config', '\n'.join([
            '[profile x]',
            'region = auto',
            'endpoint_url = %s' % creds['endpoint_url'],
            'output = json',
            'request_checksum_calculation = when_required',
            'response_checksum_validation = when_required',
            'max_attempts = 1',
            'retry_mode = standard',
            's3 =',
            '  addressing_style = path',
            '']))
        lines = ['[x]', 'aws_access_key_id = %s' % creds['access_key_id'],
                 'aws_secret_access_key = %s' % creds['secret_access_key']]
        if creds.get('session_token'):
            lines.append('aws_session_token = %s' % creds['session_token'])
        credentials = _write_secret(folder, 'credentials', '\n'.join(lines) + '\n')
        env = _clean_env(folder)
        env.update({'AWS_CONFIG_FILE': config, 'AWS_SHARED_CREDENTIALS_FILE': credentials, 'AWS_PROFILE': 'x'})
        return env

    def _run(self, op, creds, bucket, key, body, prefix):
        with _SecretDir() as folder:
            env = self.write_config(folder, creds)
            out_file = os.path.join(folder, 'object.out')
            args = {
                'list_buckets': ['list-buckets'],
                'create_bucket': ['create-bucket', '--bucket', bucket],
                'delete_bucket': ['delete-bucket', '--bucket', bucket],
                'put_object': ['put-object', '--bucket', bucket, '--key', key, '--body', os.path.join(folder, 'body')],
                'get_object': ['get-object', '--bucket', bucket, '--key', key, out_file],
                'head_object': ['head-object', '--bucket', bucket, '--key', key],
                'list_objects': ['list-objects-v2', '--bucket', bucket] + (['--prefix', prefix] if prefix else []),
                'delete_object': ['delete-object', '--bucket', bucket, '--key', key],
            }[op]
            if op == 'put_object':
                with open(os.path.join(folder, 'body'), 'wb') as handle:
                    handle.write(body or b'')
            proc = _run([self.aws, 's3api'] + args + ['--output', 'json'], env)
            stderr = proc.stderr.decode('utf-8', 'replace')
            if proc.returncode != 0:
                match = AWS_ERROR.search(stderr)
                code = match.group(1) if match else None
                return Outcome(False, code, stderr.strip())
            data = None
            if op == 'get_object':
                with open(out_file, 'rb') as handle:
                    data = handle.read()
            elif op in ('list_objects', 'list_buckets'):
                parsed = json.loads(proc.stdout or b'{}')
                data = [o['Key'] for o in parsed.get('Contents', [])] if op == 'list_objects' else \
                    [b['Name'] for b in parsed.get('Buckets', [])]
            return Outcome(True, None, 'rc=0', data)


# --- boto3 -----------------------------------------------------------------------------
class Boto3(Driver):
    """boto3 in-process: one client per credential set (clients are thread-safe, sessions are not)."""

    name = 'boto3'
    head_ops = frozenset({'head_object'})
    ops = frozenset(OPS + ('copy_object', 'multipart_upload'))

    def __init__(self):
        import boto3  # pylint: disable=import-outside-toplevel
        from botocore.config import Config  # pylint: disable=import-outside-toplevel
        self._session = boto3.session.Session()
        self._config = Config(signature_version='s3v4', s3={'addressing_style': 'path'},
                              request_checksum_calculation='when_required',
                              response_checksum_validation='when_required',
                              retries={'max_attempts': 1, 'mode': 'standard'}, connect_timeout=10, read_timeout=30)
        self._lock = threading.Lock()

    def client(self, creds):
        with self._lock:
            return self._session.client(
                's3', region_name='auto', endpoint_url=creds['endpoint_url'], config=self._config,
                aws_access_key_id=creds['access_key_id'], aws_secret_access_key=creds['secret_access_key'],
                aws_session_token=creds.get('session_token') or None)

    def _run(self, op, creds, bucket, key, body, prefix):
        from botocore.exceptions import BotoCoreError, ClientError  # pylint: disable=import-outside-toplevel
        s3 = self.client(creds)
        data = None
        try:
            if op == 'list_buckets':
                data = [b['Name'] for b in s3.list_buckets().get('Buckets', [])]
            elif op == 'create_bucket':
                s3.create_bucket(Bucket=bucket)
            elif op == 'delete_bucket':
                s3.delete_bucket(Bucket=bucket)
            elif op == 'put_object':
                s3.put_object(Bucket=bucket, Key=key, Body=body or b'')
            elif op == 'get_object':
                data = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
            elif op == 'head_object':
                s3.head_object(Bucket=bucket, Key=key)
            elif op == 'list_objects':
                data = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix or '').get('Contents', [])]
            elif op == 'delete_object':
                s3.delete_object(Bucket=bucket, Key=key)
            elif op == 'copy_object':
                # body is the source key in the same bucket
                s3.copy_object(Bucket=bucket, Key=key, CopySource={'Bucket': bucket, 'Key': body})
            elif op == 'multipart_upload':
                upload = s3.create_multipart_upload(Bucket=bucket, Key=key)['UploadId']
                try:
                    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=body or b'x')
                    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={
                        'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
                except ClientError:
                    try:
                        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
                    except ClientError:
                        pass
                    raise
        except ClientError as err:
            error = err.response.get('Error', {})
            return Outcome(False, error.get('Code'), '%s: %s' % (error.get('Code'), error.get('Message', '')))
        except BotoCoreError as err:
            return Outcome(False, None, '%s: %s' % (type(err).__name__, err))
        return Outcome(True, None, 'ok', data)


# --- rclone ----------------------------------------------------------------------------
# aws-sdk-go v1 errors as rclone prints them: "AccessDenied: Access Denied (...)\n\tstatus code: 403, ..."
# The code is the word after ": " (or at the start of a line), not rclone's own "error in ListJSON: ".
RCLONE_ERROR = re.compile(r'(?m)(?:^|: )([A-Z][A-Za-z0-9]+): [^\n]*\n\s*status code: (\d{3})')


class Rclone(Driver):
    """rclone (Debian 1.60) with an rclone.conf given through RCLONE_CONFIG."""

    name = 'rclone'
    # rclone is a sync tool: it reads, stats and deletes a key by listing its folder and
    # filtering (`cat DIR/ --include /LEAF`): a ListObjectsV2, then the GetObject or DeleteObject,
    # and no HeadObject.  Looking a key up directly (`cat DIR/LEAF`, `deletefile`,
    # `lsjson --stat`) starts with a HeadObject, and rclone 1.60 takes a 403 there for "not
    # found" and goes on listing the key as a folder.  So with rclone, reading a key needs
    # ListObjectsV2 on its folder too.
    head_ops = frozenset()

    def __init__(self, rclone_bin: str = 'rclone'):
        self.rclone = shutil.which(rclone_bin) or rclone_bin

    @staticmethod
    def write_config(folder: str, creds: dict) -> dict:
        lines = ['[r2]', 'type = s3', 'provider = Cloudflare',
                 'access_key_id = %s' % creds['access_key_id'],
                 'secret_access_key = %s' % creds['secret_access_key'],
                 'endpoint = %s' % creds['endpoint_url'],
                 'region = auto', 'no_check_bucket = true', 'acl = private',
                 'no_head = true']  # no HeadObject after an upload
        if creds.get('session_token'):
            lines.append('session_token = %s' % creds['session_token'])
        path = _write_secret(folder, 'rclone.conf', '\n'.join(lines) + '\n')
        env = _clean_env(folder)  # AWS_CA_BUNDLE must not be set for rclone on this machine
        env['RCLONE_CONFIG'] = path
        env['XDG_CACHE_HOME'] = os.path.join(folder, 'cache')
        return env

    def _run(self, op, creds, bucket, key, body, prefix):
        with _SecretDir() as folder:
            env = self.write_config(folder, creds)
            path = 'r2:%s' % (bucket or '')
            if key:
                path += '/' + key
            folder_path, leaf = 'r2:%s/%s' % (bucket, (key or '').rpartition('/')[0]), (key or '').rpartition('/')[2]
            by_listing = [folder_path.rstrip('/') + '/', '--include', '/' + leaf, '--max-depth', '1']
            args = {
                'list_buckets': ['lsjson', 'r2:'],
                # with no_check_bucket, `mkdir` would not even try to create the bucket
                'create_bucket': ['mkdir', '--s3-no-check-bucket=false', path],
                'delete_bucket': ['rmdir', path],
                'put_object': ['rcat', path],
                'get_object': ['cat'] + by_listing,
                'head_object': ['lsjson', '--no-modtime', '--no-mimetype'] + by_listing,
                'list_objects': ['lsjson', '--recursive', '--files-only', '--no-modtime', '--no-mimetype',
                                 path + '/' + (prefix or '')],
                'delete_object': ['delete'] + by_listing,
            }[op]
            flags = ['--retries', '1', '--low-level-retries', '1', '--contimeout', '10s', '--timeout', '30s']
            proc = _run([self.rclone] + args + flags, env, stdin=body or b'')
            stderr = proc.stderr.decode('utf-8', 'replace')
            if proc.returncode != 0:
                return Outcome(False, self._code(stderr, op), stderr.strip())
            data = None
            if op == 'get_object':
                data = proc.stdout
                if not data:  # the listing matched nothing (the tests never store empty objects)
                    return Outcome(False, 'NoSuchKey', 'rclone cat matched no object: ' + stderr.strip())
            elif op == 'head_object':
                if not json.loads(proc.stdout or b'[]'):
                    return Outcome(False, 'NoSuchKey', 'rclone lsjson matched no object')
            elif op in ('list_objects', 'list_buckets'):
                entries = json.loads(proc.stdout or b'[]')
                if op == 'list_objects':
                    data = [((prefix or '') + e['Path']) for e in entries]
                else:
                    data = [e['Path'] for e in entries]
            return Outcome(True, None, 'rc=0', data)

    @staticmethod
    def _code(stderr, op):
        match = RCLONE_ERROR.search(stderr)
        if not match:
            if 'directory not found' in stderr:  # rclone's word for NoSuchBucket on a listing
                return 'NoSuchBucket'
            if re.search(r"object not found|is a directory or doesn't exist", stderr):
                return '404'
            return None
        code, status = match.groups()
        # A HEAD error has no body: the SDK names the HTTP status ("Forbidden", "NotFound").
        return status if HTTP_STATUS_CODES.get(status) == code else code


# --- s3cmd -----------------------------------------------------------------------------
S3CMD_ERROR = re.compile(r'S3 error: (\d{3}) \(([^)]+)\)')


class S3cmd(Driver):
    """s3cmd (Debian 2.3) with its configuration given through ``-c``."""

    name = 's3cmd'
    # `get` and `info` start with HeadObject.  `info` then also reads the bucket's policy,
    # CORS and the object's ACL, and fails on GetBucketCors with object permissions.
    head_ops = frozenset({'head_object', 'get_object'})

    def __init__(self, s3cmd_bin: str = 's3cmd'):
        self.s3cmd = shutil.which(s3cmd_bin) or s3cmd_bin

    @staticmethod
    def write_config(folder: str, creds: dict) -> str:
        hostport, scheme = _hostport(creds['endpoint_url'])
        lines = ['[default]',
                 'access_key = %s' % creds['access_key_id'],
                 'secret_key = %s' % creds['secret_access_key'],
                 'access_token = %s' % (creds.get('session_token') or ''),
                 'host_base = %s' % hostport,
                 'host_bucket = %s' % hostport,  # no %(bucket)s: path-style requests
                 'use_https = %s' % ('True' if scheme == 'https' else 'False'),
                 'signature_v2 = False',
                 'bucket_location = auto',
                 'check_ssl_certificate = True',
                 'guess_mime_type = False',
                 'progress_meter = False',
                 'preserve_attrs = False',
                 'socket_timeout = 30',
                 'max_retries = 1']
        return _write_secret(folder, 's3cfg', '\n'.join(lines) + '\n')

    def _run(self, op, creds, bucket, key, body, prefix):
        with _SecretDir() as folder:
            config = self.write_config(folder, creds)
            env = _clean_env(folder)
            uri = 's3://%s' % (bucket or '')
            if key:
                uri += '/' + key
            local = os.path.join(folder, 'object')
            if op == 'put_object':
                with open(local, 'wb') as handle:
                    handle.write(body or b'')
            args = {
                'list_buckets': ['ls'],
                'create_bucket': ['mb', uri],
                'delete_bucket': ['rb', uri],
                'put_object': ['put', local, uri],
                'get_object': ['get', '--force', uri, local],
                'head_object': ['info', uri],
                'list_objects': ['ls', '--recursive', uri + '/' + (prefix or '')],
                'delete_object': ['del', uri],
            }[op]
            proc = _run([self.s3cmd, '-c', config, '--no-progress'] + args, env)
            stderr = proc.stderr.decode('utf-8', 'replace')
            stdout = proc.stdout.decode('utf-8', 'replace')
            if proc.returncode != 0 or 'ERROR:' in stderr:
                match = S3CMD_ERROR.search(stderr)
                code = '404' if re.search(r"Source object '.*' does not exist", stderr) else None
                if match:
                    status, code = match.groups()
                    code = status if HTTP_STATUS_CODES.get(status) == code.replace(' ', '') else code
                return Outcome(False, code, (stderr or stdout).strip())
            data = None
            if op == 'get_object':
                with open(local, 'rb') as handle:
                    data = handle.read()
            elif op == 'list_objects':
                data = [line.split('s3://%s/' % bucket, 1)[1] for line in stdout.splitlines()
                        if 's3://%s/' % bucket in line]
            elif op == 'list_buckets':
                data = [line.split('s3://', 1)[1] for line in stdout.splitlines() if 's3://' in line]
            return Outcome(True, None, 'rc=0', data)


def drivers() -> dict:
    """``{name: driver}`` for the four clients."""
    return {d.name: d for d in (AwsCli(), Boto3(), Rclone(), S3cmd())}
