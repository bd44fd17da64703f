"""Real S3 clients (aws CLI, boto3, rclone, s3cmd) against the emulator's R2 endpoints, with
credentials made by the real modules (r2_token, r2_temp_credentials) through Prism.

Each test provisions its credentials with one run of playbooks/s3_matrix.yml, then drives
the clients (harness/s3clients.py) concurrently and compares every outcome with what R2's
permission rules say (the small models below, written from the R2 permission table, not from
the emulator's code).  All mismatches of a test are reported together, one line each.

S3 traffic goes straight to the emulator's S3 endpoints (cf.s3_endpoints); only the
modules' API traffic goes through Prism, and conftest fails a test on any contract violation.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import dataclasses
import json
import os
import stat
import time

import pytest

from harness import s3clients
from test_r2_token import assert_no_secrets

JURISDICTIONS = ('default', 'eu', 'fedramp', 'us')
# 'data' and 'other' in every jurisdiction (same names, separate buckets), 'euonly' only in eu.
BUCKETS = {'default': ('data', 'other'), 'eu': ('data', 'other', 'euonly'), 'fedramp': ('data', 'other'),
           'us': ('data', 'other')}
SEED = 'seed/readme.txt'   # in every bucket
PUB = 'pub/readme.txt'     # in every 'data' bucket, for prefix-limited credentials
WORKERS = 4                # client calls in flight (the aws CLI is CPU-bound; 2 cores)

# What each R2 permission grants (the R2 permission table: Admin R&W, Admin R, Object R&W, Object R).
CAN = {
    'admin_read_write': {'list_buckets', 'edit_buckets', 'read', 'write'},
    'admin_read_only': {'list_buckets', 'read'},
    'object_read_write': {'read', 'write'},
    'object_read_only': {'read'},
}
NEEDS = {'list_buckets': 'list_buckets', 'create_bucket': 'edit_buckets', 'delete_bucket': 'edit_buckets',
         'put_object': 'write', 'delete_object': 'write', 'get_object': 'read', 'head_object': 'read',
         'list_objects': 'read'}
S3_OPERATION = {'put_object': 'PutObject', 'get_object': 'GetObject', 'head_object': 'HeadObject',
                'list_objects': 'ListObjectsV2', 'delete_object': 'DeleteObject'}
# Operations a client skips in the matrix: `s3cmd info` (its HeadObject command) also reads the
# bucket's CORS configuration, which object permissions do not grant, so it fails for them.
SKIP = {'s3cmd': {'head_object'}}


def wrong_secret(secret):
    return ('1' if secret[0] == '0' else '0') + secret[1:]


def seed_body(jurisdiction, bucket, key):
    return ('%s of %s/%s' % (key, jurisdiction, bucket)).encode()


# --- the cases ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Token:
    id: str
    permission: str
    scope: str | None = None   # jurisdiction of its one bucket 'data'; None: account-wide / every bucket
    owner: str = 'account'

    def reaches(self, jurisdiction, bucket):
        return self.scope is None or (self.scope, 'data') == (jurisdiction, bucket)

    def endpoints(self):
        return (self.scope,) if self.scope else JURISDICTIONS

    def playbook_case(self):
        case = {'id': self.id, 'permission': self.permission, 'owner': self.owner}
        if self.scope:
            case.update(jurisdiction=self.scope, buckets=['data'])
        return case


@dataclasses.dataclass(frozen=True)
class Temp:
    id: str
    parent: str
    signing: str                  # api | local
    jurisdiction: str
    permission: str
    prefixes: tuple = ()
    actions: tuple = ()
    ttl_seconds: int = 900
    bucket: str = 'data'

    def playbook_case(self):
        case = {'id': self.id, 'parent': self.parent, 'signing': self.signing, 'bucket': self.bucket,
                'jurisdiction': self.jurisdiction, 'permission': self.permission, 'ttl_seconds': self.ttl_seconds}
        if self.prefixes:
            case['prefixes'] = list(self.prefixes)
        if self.actions:
            case['actions'] = list(self.actions)
        return case


# Long-lived tokens: four permissions x scoped/unscoped (admin: account-wide only) x jurisdiction.
TOKENS = [
    Token('arw', 'admin_read_write'),
    Token('aro', 'admin_read_only', owner='user'),
    Token('orw-all', 'object_read_write'),
    Token('oro-all', 'object_read_only', owner='user'),
] + [Token('orw-' + j, 'object_read_write', scope=j) for j in JURISDICTIONS] \
  + [Token('oro-' + j, 'object_read_only', scope=j) for j in JURISDICTIONS]
TOKEN = {t.id: t for t in TOKENS}

# Temporary credentials: API-minted and locally signed, each permission up to the parent's.
PARENTS = [Token('p-arw', 'admin_read_write'), Token('p-orw', 'object_read_write', scope='eu')]
TEMPS = [
    *[Temp('api-arw-' + p, 'p-arw', 'api', 'default', p) for p in CAN],
    *[Temp('api-orw-' + p, 'p-orw', 'api', 'eu', p) for p in ('object_read_write', 'object_read_only')],
    Temp('api-prefix', 'p-arw', 'api', 'default', 'object_read_write', prefixes=('pub/',)),
    *[Temp('loc-arw-' + p, 'p-arw', 'local', 'fedramp', p) for p in CAN],
    *[Temp('loc-orw-' + p, 'p-orw', 'local', 'eu', p) for p in ('object_read_write', 'object_read_only')],
    Temp('loc-prefix', 'p-arw', 'local', 'default', 'object_read_only', prefixes=('pub/',)),
    Temp('loc-actions', 'p-orw', 'local', 'eu', 'object_read_write', actions=('GetObject', 'HeadObject')),
    # us: the endpoint_url and, for local signing, the JWT audience of the fourth jurisdiction.
    Temp('loc-us', 'p-arw', 'local', 'us', 'object_read_write'),
    # Minted last: 2 s to live.
    Temp('api-short', 'p-arw', 'api', 'default', 'object_read_only', ttl_seconds=2),
    Temp('loc-short', 'p-arw', 'local', 'default', 'object_read_only', ttl_seconds=2),
]
TEMP = {t.id: t for t in TEMPS}


# --- the models -----------------------------------------------------------------------------
def expect_token(tok, jurisdiction, op, bucket=None):
    """'ok' or the S3 error R2 answers for a token's ``op`` on ``bucket`` at ``jurisdiction``'s endpoint."""
    if bucket and op != 'create_bucket' and bucket not in BUCKETS[jurisdiction]:
        return 'NoSuchBucket'   # also for a bucket of another jurisdiction
    need = NEEDS[op]
    if need in ('list_buckets', 'edit_buckets'):
        return 'ok' if need in CAN[tok.permission] else 'AccessDenied'
    return 'ok' if tok.reaches(jurisdiction, bucket) and need in CAN[tok.permission] else 'AccessDenied'


def expect_temp(temp, jurisdiction, op, bucket=None, key=None, prefix=None):
    """The same for a temporary credential: one bucket, its permission, its prefixes and actions."""
    if op in ('list_buckets', 'create_bucket', 'delete_bucket'):
        return 'AccessDenied'
    if bucket not in BUCKETS[jurisdiction]:
        return 'NoSuchBucket'
    if jurisdiction != temp.jurisdiction or bucket != temp.bucket or NEEDS[op] not in CAN[temp.permission]:
        return 'AccessDenied'
    if temp.actions and S3_OPERATION[op] not in temp.actions:
        return 'AccessDenied'
    target = (prefix or '') if op == 'list_objects' else key
    if temp.prefixes and not any(target.startswith(p) for p in temp.prefixes):
        return 'AccessDenied'
    return 'ok'


@dataclasses.dataclass(frozen=True)
class Step:
    op: str
    bucket: str | None = None
    key: str | None = None
    body: bytes | None = None
    prefix: str | None = None
    expect: str = 'ok'
    returns: bytes | None = None     # get_object: the body
    listed: tuple = ()               # list_objects / list_buckets: names that must be there
    unlisted: tuple = ()             # ... and names that must not
    core: bool = False               # also run by the aws CLI (see AWSCLI)


# The aws CLI costs 0.7 s of CPU a call (a new Python process that loads botocore): it runs the
# `core` steps, which tell every permission, scope and jurisdiction apart; boto3 (the same
# botocore, in-process), rclone and s3cmd run every step.
AWSCLI = 'awscli'


def for_client(client, steps):
    return [s for s in steps if s.core] if client == AWSCLI else steps


def token_steps(tok, jurisdiction, client):
    """Every row of the permission table for one token at one endpoint."""
    tag = '%s-%s-%s' % (tok.id, jurisdiction, client)
    own, body, new = 'cases/%s.txt' % tag, ('by %s' % tag).encode(), 'mk-%s' % tag

    def exp(op, bucket=None):
        return expect_token(tok, jurisdiction, op, bucket)
    creates, writes = exp('create_bucket', new) == 'ok', exp('put_object', 'data') == 'ok'
    # The aws CLI: a read, a write, and the account-level listing (unscoped) or another bucket (scoped);
    # creating a bucket with the admin tokens on one endpoint.
    admin_on_eu = tok.permission.startswith('admin') and jurisdiction == 'eu'
    steps = [
        Step('list_buckets', expect=exp('list_buckets'), listed=BUCKETS[jurisdiction], core=not tok.scope,
             unlisted=() if jurisdiction == 'eu' else ('euonly',)),
        Step('create_bucket', new, expect=exp('create_bucket', new), core=admin_on_eu),
        # the bucket just created; or, where none could be, 'other' (not empty, so safe)
        Step('delete_bucket', new, core=admin_on_eu) if creates else
        Step('delete_bucket', 'other', expect=exp('delete_bucket', 'other')),
        Step('put_object', 'data', own, body, expect=exp('put_object', 'data'), core=True),
    ]
    if writes:
        steps.append(Step('get_object', 'data', own, returns=body))
    return steps + [
        Step('get_object', 'data', SEED, expect=exp('get_object', 'data'), core=True,
             returns=seed_body(jurisdiction, 'data', SEED)),
        Step('head_object', 'data', SEED, expect=exp('head_object', 'data')),
        Step('list_objects', 'data', prefix='seed/', expect=exp('list_objects', 'data'), listed=(SEED,)),
        # a credential that may not write tries to delete an object that exists
        Step('delete_object', 'data', own if writes else SEED, expect=exp('delete_object', 'data')),
        Step('get_object', 'other', SEED, expect=exp('get_object', 'other'), core=bool(tok.scope),
             returns=seed_body(jurisdiction, 'other', SEED)),
        Step('put_object', 'other', own, body, expect=exp('put_object', 'other')),
    ]


AWSCLI_TEMPS = ('api-arw-admin_read_write', 'api-orw-object_read_only', 'api-prefix', 'loc-arw-admin_read_only',
                'loc-orw-object_read_write', 'loc-prefix', 'loc-actions')
# The aws CLI on the us endpoint (0.7 s of CPU a call): an Admin token and one token scoped to us/data;
# boto3 runs every token and temporary credential there.
AWSCLI_US = ('arw', 'orw-us')


def temp_steps(temp, client):
    """A temporary credential on its own endpoint: one bucket, its permission, prefixes, actions."""
    tag = '%s-%s' % (temp.id, client)
    area = temp.prefixes[0] if temp.prefixes else 'seed/'
    readable, own, body = area + 'readme.txt', area + tag + '.txt', ('by %s' % tag).encode()
    j = temp.jurisdiction

    def exp(op, bucket='data', key=None, prefix=None):
        return expect_temp(temp, j, op, bucket, key, prefix)
    writes = exp('put_object', key=own) == 'ok'
    steps = [
        Step('list_buckets', expect=exp('list_buckets')),
        Step('put_object', 'data', own, body, expect=exp('put_object', key=own), core=True),
    ]
    if writes:
        steps.append(Step('get_object', 'data', own, returns=body))
    steps += [
        Step('get_object', 'data', readable, expect=exp('get_object', key=readable), core=True,
             returns=seed_body(j, 'data', readable)),
        Step('head_object', 'data', readable, expect=exp('head_object', key=readable)),
        Step('list_objects', 'data', prefix=area, expect=exp('list_objects', prefix=area), listed=(readable,),
             core=bool(temp.actions)),
        Step('delete_object', 'data', own if writes else readable,
             expect=exp('delete_object', key=own if writes else readable)),
        # bound to one bucket, even with an admin permission
        Step('get_object', 'other', SEED, expect=exp('get_object', 'other', SEED),
             core=temp.permission == 'admin_read_write'),
    ]
    if temp.prefixes:  # outside the prefixes
        steps += [Step('get_object', 'data', SEED, expect=exp('get_object', key=SEED), core=True),
                  Step('list_objects', 'data', prefix='seed/', expect=exp('list_objects', prefix='seed/'), core=True),
                  Step('put_object', 'data', 'seed/' + tag, body, expect=exp('put_object', key='seed/' + tag))]
    return steps


# --- running ------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def clients():
    return s3clients.drivers()


def run_steps(driver, creds, steps, label):
    """Run ``steps`` in order with one client; returns one line per mismatch (no secret in it)."""
    problems = []
    for step in steps:
        if step.op in SKIP.get(driver.name, ()):
            continue
        out = driver.run(step.op, creds, bucket=step.bucket, key=step.key, body=step.body, prefix=step.prefix)
        want = 'ok' if step.expect == 'ok' else driver.expect_code(step.op, step.expect)
        where = '%s %s' % (step.op, '/'.join(x for x in (step.bucket, step.key or step.prefix) if x))
        line = '%-7s %-26s %-45s' % (driver.name, label, where)
        if str(out) != want:
            problems.append('%s expected %s, got %s: %s' % (line, want, out, out.detail[-300:].replace('\n', ' | ')))
        elif out.ok and step.returns is not None and out.data != step.returns:
            problems.append('%s returned %r, not %r' % (line, out.data, step.returns))
        elif out.ok and (set(step.listed) - set(out.data or ()) or set(step.unlisted) & set(out.data or ())):
            problems.append('%s listed %s (must have %s, not %s)' % (line, out.data, step.listed, step.unlisted))
    return problems


def run_jobs(jobs):
    """``jobs``: [(driver, creds, steps, label)], run concurrently (each job's steps in order)."""
    jobs = sorted(jobs, key=lambda job: job[0].name != 'awscli')  # the slow ones first
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        return [line for lines in pool.map(lambda job: run_steps(*job), jobs) for line in lines]


def expectations(jobs):
    """{client: Counter of expected outcomes}: a matrix that expects only successes proves nothing."""
    counts = {}
    for driver, dummy, steps, dummy in jobs:
        counts.setdefault(driver.name, collections.Counter()).update(s.expect for s in steps)
    return counts


def report(problems):
    return '%d mismatches (client, credential, call):\n  %s' % (len(problems), '\n  '.join(problems))


def secrets_of(creds):
    found = []
    for group in creds.values():
        for entry in group.values():
            found += [entry.get(k) for k in ('token_value', 'secret_access_key', 'session_token') if entry.get(k)]
    return found


def provision(cf, run_playbook, tmp_path, seen_secrets, tokens, temps=(), phase='create', verbosity=2):
    """One run of s3_matrix.yml; returns its credentials file, checks its mode and the run's output."""
    creds_file = tmp_path / ('creds-%s.json' % phase)
    result = run_playbook('s3_matrix.yml', verbosity=verbosity, extra_vars={
        'phase': phase, 'tokens': [t.playbook_case() for t in tokens], 'temps': [t.playbook_case() for t in temps],
        's3_endpoints': cf.s3_endpoints, 'creds_file': str(creds_file)})
    assert result.rc == 0, result.describe()[-6000:]
    assert stat.S_IMODE(os.stat(creds_file).st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    seen_secrets += secrets_of(creds)
    assert_no_secrets(result.output, seen_secrets + [cf.bootstrap_token])
    return creds


def token_creds(cf, creds, token_id, jurisdiction):
    entry = creds['tokens'][token_id]
    return {'access_key_id': entry['access_key_id'], 'secret_access_key': entry['secret_access_key'],
            'endpoint_url': cf.s3_endpoints[jurisdiction]}


def temp_creds(creds, temp_id, **changes):
    entry = dict(creds['temps'][temp_id])
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None and k != 'expiration'}


def create_buckets(cf):
    """The buckets of BUCKETS (r2_token checks that scoped buckets exist, so before the playbook)."""
    for jurisdiction, names in BUCKETS.items():
        for name in names:
            cf.create_bucket(name, jurisdiction)
    assert cf.buckets() == {j: sorted(names) for j, names in BUCKETS.items()}


def seed_objects(clients, admin):
    """SEED in every bucket and PUB in every 'data', written with boto3 by ``admin(jurisdiction)``."""
    puts = [(j, b, k) for j, names in BUCKETS.items() for b in names for k in ((SEED, PUB) if b == 'data' else (SEED,))]

    def put(job):
        jurisdiction, bucket, key = job
        return clients['boto3'].run('put_object', admin(jurisdiction), bucket=bucket, key=key,
                                    body=seed_body(jurisdiction, bucket, key))
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(put, puts))
    assert all(o.ok for o in outcomes), [str(o) for o in outcomes]


def probe(cf, clients, names, creds, op='list_objects', bucket='data', prefix='seed/'):
    """One bad request with several clients at once -> ({client: code}, the S3 log entries it made)."""
    before = max([e['seq'] for e in cf.s3_requests()] or [0])
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        outcomes = dict(zip(names, pool.map(lambda n: clients[n].run(op, creds, bucket=bucket, prefix=prefix), names)))
    return {n: str(o) for n, o in outcomes.items()}, [e for e in cf.s3_requests() if e['seq'] > before]


def assert_log_consistent(entries):
    """Every decision names the rule it came from: signature first, then the permission."""
    assert entries
    for e in entries:
        if e['decision'] == 'allow':
            assert e['reason'].startswith('signature ok; ') and ' allows %s ' % e['operation'] in e['reason'], e
        elif e['error_code'] == 'AccessDenied':
            assert e['reason'].startswith('AccessDenied: '), e
        else:
            assert e['reason'].startswith(e['error_code'] + ': '), e


# --- the tests ------------------------------------------------------------------------------
def test_token_permission_matrix(cf, run_playbook, clients, tmp_path):
    """Four permissions x scoped/unscoped x four jurisdictions (us included), with boto3 on every case
    and the aws CLI on every case outside us and on AWSCLI_US there; rclone and s3cmd on one Object
    Read & Write (scoped, eu) and one Admin Read only case (us); then requests across jurisdictions."""
    seen = []
    create_buckets(cf)
    creds = provision(cf, run_playbook, tmp_path, seen, TOKENS)
    seed_objects(clients, lambda j: token_creds(cf, creds, 'arw', j))
    cf.reset_stats()

    jobs = []
    for tok in TOKENS:
        for j in tok.endpoints():
            for client in ('awscli', 'boto3'):
                if client == AWSCLI and j == 'us' and tok.id not in AWSCLI_US:
                    continue
                jobs.append((clients[client], token_creds(cf, creds, tok.id, j),
                             for_client(client, token_steps(tok, j, client)), '%s@%s' % (tok.id, j)))
    for client in ('rclone', 's3cmd'):
        for tok_id, j in (('orw-eu', 'eu'), ('aro', 'us')):
            jobs.append((clients[client], token_creds(cf, creds, tok_id, j),
                         token_steps(TOKEN[tok_id], j, client), '%s@%s' % (tok_id, j)))

    # Across jurisdictions: a scoped token on the next endpoint, where a bucket 'data' exists too
    # (AccessDenied), and 'euonly' on the endpoints that do not have it (NoSuchBucket).
    crossing = []
    for tok in (t for t in TOKENS if t.scope):
        next_door = JURISDICTIONS[(JURISDICTIONS.index(tok.scope) + 1) % len(JURISDICTIONS)]
        crossing += [(tok.id, next_door, op, 'data') for op in ('get_object', 'put_object')
                     if op == 'get_object' or tok.permission == 'object_read_write']
    crossing += [(t, j, 'get_object', 'euonly') for t, j in (
        ('arw', 'default'), ('arw', 'fedramp'), ('arw', 'us'), ('orw-eu', 'default'), ('oro-all', 'fedramp'),
        ('oro-us', 'us'), ('arw', 'eu'), ('orw-all', 'eu'), ('orw-eu', 'eu'))]
    aws_crossing = {('orw-default', 'eu', 'get_object', 'data'), ('oro-eu', 'fedramp', 'get_object', 'data'),
                    ('orw-fedramp', 'us', 'put_object', 'data'), ('orw-eu', 'default', 'get_object', 'euonly'),
                    ('arw', 'us', 'get_object', 'euonly'), ('arw', 'eu', 'get_object', 'euonly')}
    assert aws_crossing <= set(crossing)
    for case in crossing:
        tok_id, j, op, bucket = case
        step = Step(op, bucket, SEED if op == 'get_object' else 'cases/crossing-%s.txt' % tok_id, b'x',
                    expect=expect_token(TOKEN[tok_id], j, op, bucket), core=case in aws_crossing)
        for client in ('awscli', 'boto3'):
            jobs.append((clients[client], token_creds(cf, creds, tok_id, j), for_client(client, [step]),
                         '%s@%s' % (tok_id, j)))
    expected = {case: expect_token(TOKEN[case[0]], *case[1:]) for case in aws_crossing}
    assert sorted(expected.values()) == ['AccessDenied'] * 3 + ['NoSuchBucket'] * 2 + ['ok']
    for client, counts in expectations(jobs).items():
        wanted = {'ok', 'AccessDenied', 'NoSuchBucket'} if client in ('awscli', 'boto3') else {'ok', 'AccessDenied'}
        assert set(counts) == wanted, (client, counts)

    problems = run_jobs(jobs)
    assert not problems, report(problems)

    # The decisions came from the signature and the permission rules.
    ids = {creds['tokens'][t.id]['access_key_id']: t for t in TOKENS}
    log = [e for e in cf.s3_requests() if e['access_key_id'] in ids]
    assert {e['credential'] for e in log} == {'token'}
    assert_log_consistent(log)

    def one(token_id, **match):
        match['access_key_id'] = creds['tokens'][token_id]['access_key_id']
        found = [e for e in log if all(e[k] == v for k, v in match.items())]
        assert found, (token_id, match)
        return found[0]
    assert one('oro-eu', operation='GetObject', key=SEED, jurisdiction='eu')['reason'] == \
        'signature ok; object_read_only allows GetObject in eu/data'
    assert one('oro-eu', operation='PutObject', jurisdiction='eu', bucket='data')['reason'] == \
        'AccessDenied: object_read_only does not allow PutObject in eu/data'
    assert one('aro', operation='DeleteObject', jurisdiction='default')['reason'] == \
        'AccessDenied: admin_read_only does not allow DeleteObject in default/data'
    entry = one('arw', operation='CreateBucket', jurisdiction='fedramp')
    assert (entry['decision'], entry['status']) == ('allow', 200)
    assert 'admin_read_write allows CreateBucket in fedramp/mk-arw-fedramp-' in entry['reason']
    # An Object token holds no account-level permission: refused before any bucket rule.
    assert one('orw-all', operation='ListBuckets', jurisdiction='default')['reason'] == \
        'AccessDenied: no R2 permission does not allow ListBuckets in default'
    # Scoped to default/data: the eu bucket of the same name is another bucket.
    entry = one('orw-default', operation='GetObject', jurisdiction='eu', bucket='data')
    assert (entry['decision'], entry['error_code']) == ('deny', 'AccessDenied')
    assert 'does not allow GetObject in eu/data' in entry['reason']
    # us: a token scoped to us/data writes there, and its twin of the default jurisdiction does not.
    assert one('orw-us', operation='PutObject', jurisdiction='us', bucket='data', decision='allow')['reason'] == \
        'signature ok; object_read_write allows PutObject in us/data'
    entry = one('orw-us', operation='GetObject', jurisdiction='default', bucket='data')
    assert (entry['decision'], entry['error_code']) == ('deny', 'AccessDenied')
    entry = one('arw', operation='CreateBucket', jurisdiction='us')
    assert (entry['decision'], entry['status']) == ('allow', 200)
    entry = one('orw-eu', operation='GetObject', jurisdiction='default', bucket='euonly')
    assert (entry['status'], entry['reason']) == (404, "NoSuchBucket: no bucket 'euonly' in jurisdiction default")
    # Each client's requests are in the log: rclone lists before it reads; s3cmd lists with V1.
    ops = {e['operation'] for e in log if e['access_key_id'] == creds['tokens']['orw-eu']['access_key_id']}
    assert {'ListObjectsV1', 'ListObjectsV2', 'GetObject', 'HeadObject', 'PutObject', 'DeleteObject',
            'CreateBucket', 'ListBuckets'} <= ops


def test_temporary_credentials(cf, run_playbook, clients, tmp_path):
    """API-minted and locally signed credentials: permissions up to the parent's, one bucket,
    prefixes, actions; then a missing, a tampered and a wrong secret or session token, and expiry."""
    seen = []
    create_buckets(cf)
    creds = provision(cf, run_playbook, tmp_path, seen, PARENTS, TEMPS, verbosity=3)
    minted_at = time.time()
    seed_objects(clients, lambda j: token_creds(cf, creds, 'p-arw', j))
    cf.reset_stats()
    for temp in TEMPS:
        entry = creds['temps'][temp.id]
        assert entry['endpoint_url'] == cf.s3_endpoints[temp.jurisdiction]
        parent_id = creds['tokens'][temp.parent]['access_key_id']
        assert (entry['access_key_id'] == parent_id) == (temp.signing == 'local'), temp.id

    long_lived = [t for t in TEMPS if t.ttl_seconds > 2]
    jobs = [(clients['boto3'], temp_creds(creds, t.id), temp_steps(t, 'boto3'), t.id) for t in long_lived]
    # The aws CLI on every permission, parent, signing, prefixes and actions, not on every combination.
    jobs += [(clients[AWSCLI], temp_creds(creds, t), for_client(AWSCLI, temp_steps(TEMP[t], AWSCLI)), t)
             for t in AWSCLI_TEMPS]
    # rclone and s3cmd with a session token: one API-minted and one locally signed credential.
    jobs += [(clients[c], temp_creds(creds, t), temp_steps(TEMP[t], c), t)
             for t in ('api-orw-object_read_write', 'loc-prefix') for c in ('rclone', 's3cmd')]
    # Locally signed: the JWT audience is one endpoint, so another jurisdiction's 'data' is refused;
    # API-minted from a parent scoped to eu/data: default/data is outside the parent's scope.
    for temp_id, j in (('loc-arw-object_read_only', 'eu'), ('loc-orw-object_read_write', 'default'),
                       ('api-orw-object_read_only', 'default')):
        jobs += [(clients[c], temp_creds(creds, temp_id, endpoint_url=cf.s3_endpoints[j]),
                  [Step('get_object', 'data', SEED, expect='AccessDenied')], '%s@%s' % (temp_id, j))
                 for c in ('awscli', 'boto3')]
    # Multipart and copy (boto3): allowed for a writer inside its prefix, refused across it.
    api_prefix = temp_creds(creds, 'api-prefix')
    jobs.append((clients['boto3'], api_prefix, [
        Step('multipart_upload', 'data', 'pub/multi.bin', b'm' * 1024),
        Step('copy_object', 'data', 'pub/copy.txt', PUB),  # body: the source key
        Step('get_object', 'data', 'pub/copy.txt', returns=seed_body('default', 'data', PUB)),
        Step('copy_object', 'data', 'pub/stolen.txt', SEED, expect='AccessDenied'),
        Step('multipart_upload', 'data', 'seed/multi.bin', b'm', expect='AccessDenied'),
    ], 'api-prefix'))
    for client, counts in expectations(jobs).items():
        assert {'ok', 'AccessDenied'} <= set(counts), (client, counts)
    problems = run_jobs(jobs)
    assert not problems, report(problems)

    log = cf.s3_requests()
    kinds = {e['access_key_id']: e['credential'] for e in log if e['credential']}
    for temp in long_lived:
        assert kinds[creds['temps'][temp.id]['access_key_id']] == 'temp-' + temp.signing
    temp_log = [e for e in log if e['credential'] in ('temp-api', 'temp-local')]
    assert_log_consistent(temp_log)
    reasons = {e['reason'] for e in temp_log}
    assert 'signature ok; temp-api object_read_only credential (parent: admin_read_write) allows GetObject in ' \
           'default/data' in reasons
    assert 'AccessDenied: temp-local object_read_only credential (parent: admin_read_write) does not allow ' \
           'PutObject in fedramp/data' in reasons
    assert 'signature ok; temp-local object_read_write credential (parent: admin_read_write) allows PutObject in ' \
           'us/data' in reasons
    assert "AccessDenied: key 'seed/readme.txt' is outside the credential's prefixes/objects" in reasons
    assert "AccessDenied: listing prefix 'seed/' is outside the credential's prefixes" in reasons
    assert "AccessDenied: the JWT 'actions' do not include ListObjectsV2" in reasons
    assert "AccessDenied: the JWT 'actions' do not include PutObject" in reasons
    assert "AccessDenied: temp-api credential bound to bucket 'data' does not allow GetObject in default/other" in reasons
    assert any(r.startswith('AccessDenied: JWT audience') and r.endswith('is not this endpoint (eu)') for r in reasons)

    # Authentication failures, with all four clients at once (a listing: none of them starts with a HEAD).
    every = ('awscli', 'boto3', 'rclone', 's3cmd')
    api, local = creds['temps']['api-arw-object_read_only'], creds['temps']['loc-arw-object_read_only']
    jwt = base64.b64decode(local['session_token'])[4:].decode()
    header, claims, signature = jwt.split('.')
    escalated = json.loads(base64.urlsafe_b64decode(claims + '=' * (-len(claims) % 4)))
    escalated['scope'] = 'admin-read-write'
    escalated_claims = base64.urlsafe_b64encode(json.dumps(escalated).encode()).decode().rstrip('=')
    forged = base64.b64encode(('jwt/%s.%s.%s' % (header, escalated_claims, signature)).encode()).decode()
    cases = [
        # (what, credentials, S3 code, credential kind in the log, reason fragment)
        ('api: no session token', temp_creds(creds, 'api-arw-object_read_only', session_token=None),
         'InvalidToken', 'temp-api', 'needs its x-amz-security-token'),
        ('api: another session token', temp_creds(creds, 'api-arw-object_read_only',
                                                  session_token=creds['temps']['api-arw-admin_read_only']['session_token']),
         'InvalidToken', 'temp-api', 'is not the session token of'),
        ('api: wrong secret', temp_creds(creds, 'api-arw-object_read_only',
                                         secret_access_key=wrong_secret(api['secret_access_key'])),
         'SignatureDoesNotMatch', 'temp-api', 'secret of temporary credential'),
        # Without its session token a local credential is the parent's key with a secret that is not the parent's.
        ('local: no session token', temp_creds(creds, 'loc-arw-object_read_only', session_token=None),
         'SignatureDoesNotMatch', 'token', 'secret of token'),
        ('local: JWT claims changed (scope raised)', temp_creds(creds, 'loc-arw-object_read_only', session_token=forged),
         'SignatureDoesNotMatch', 'temp-local', 'session-token JWT is not signed with the current secret'),
        ('local: not a JWT', temp_creds(creds, 'loc-arw-object_read_only',
                                        session_token=base64.b64encode(b'not-a-jwt').decode()),
         'InvalidToken', 'temp-local', 'is not a local-signed (jwt/...) session token'),
        ('local: wrong secret', temp_creds(creds, 'loc-arw-object_read_only',
                                           secret_access_key=wrong_secret(local['secret_access_key'])),
         'SignatureDoesNotMatch', 'temp-local', 'temporary secret derived from the session-token JWT'),
    ]
    # Both short-lived credentials are past their 2 s now (the playbook ran on after minting them).
    time.sleep(max(0.0, minted_at + 2.5 - time.time()))
    for temp_id, fragment in (('api-short', 'expired'), ('loc-short', "past its 'exp'")):
        cases.append(('%s: after its ttl_seconds=2' % temp_id, temp_creds(creds, temp_id), 'ExpiredToken',
                      'temp-' + TEMP[temp_id].signing, fragment))
    for temp_id, control in (('api-short', 'api-arw-object_read_only'), ('loc-short', 'loc-prefix')):
        assert creds['temps'][temp_id]['expiration'] < creds['temps'][control]['expiration']
    failures = []
    for what, bad, code, kind, fragment in cases:
        codes, entries = probe(cf, clients, every, bad)
        if codes != dict.fromkeys(every, code):
            failures.append('%s: expected %s from every client, got %s' % (what, code, codes))
        summary = {(e['credential'], e['decision'], e['error_code']) for e in entries}
        if summary != {(kind, 'deny', code)} or not all(fragment in e['reason'] for e in entries):
            failures.append('%s: S3 log %s' % (what, [(e['credential'], e['error_code'], e['reason']) for e in entries]))
    # The control: an unexpired credential of each kind still works with the same call.
    for temp_id in ('api-arw-object_read_only', 'loc-prefix'):
        codes, dummy = probe(cf, clients, every, temp_creds(creds, temp_id),
                             prefix='pub/' if TEMP[temp_id].prefixes else 'seed/')
        if codes != dict.fromkeys(every, 'ok'):
            failures.append('%s (control): %s' % (temp_id, codes))
    assert not failures, '\n'.join(failures)
    assert_no_secrets(json.dumps(cf.s3_requests()), seen)


def test_rotate_then_delete(cf, run_playbook, clients, tmp_path):
    """rotate: the old secret stops working at once, the new one works, children of the old secret die;
    state=absent: every client gets InvalidAccessKeyId."""
    tokens = [TOKEN['arw'], TOKEN['orw-eu'], Token('oro-user', 'object_read_only', owner='user')]
    temps = [Temp('r-api', 'arw', 'api', 'default', 'object_read_only'),
             Temp('r-local', 'orw-eu', 'local', 'eu', 'object_read_write')]
    home = {'arw': 'default', 'orw-eu': 'eu', 'oro-user': 'us'}
    pair, every = ('awscli', 'boto3'), ('awscli', 'boto3', 'rclone', 's3cmd')
    seen, failures = [], []

    def expect(what, names, creds, code, reason=None):
        """A listing with ``names`` at once: each must answer ``code``, each log entry give ``reason``."""
        codes, entries = probe(cf, clients, names, creds)
        if codes != dict.fromkeys(names, code):
            failures.append('%s: expected %s, got %s' % (what, code, codes))
        if reason is not None and {e['reason'] for e in entries} != {reason}:
            failures.append('%s: expected the reason %r, got %s' % (what, reason, [e['reason'] for e in entries]))

    create_buckets(cf)
    before = provision(cf, run_playbook, tmp_path, seen, tokens, temps)
    seed_objects(clients, lambda j: token_creds(cf, before, 'arw', j))
    old = {t: token_creds(cf, before, t, j) for t, j in home.items()}
    for token_id, creds in old.items():
        expect('%s before the rotate' % token_id, pair, creds, 'ok')
    for temp_id in ('r-api', 'r-local'):
        expect('%s before the rotate' % temp_id, pair, temp_creds(before, temp_id), 'ok')
    assert not failures, '\n'.join(failures)

    after = provision(cf, run_playbook, tmp_path, seen, tokens, phase='rotate')
    new = {t: token_creds(cf, after, t, j) for t, j in home.items()}
    for token_id in home:
        same_key = new[token_id]['access_key_id'] == old[token_id]['access_key_id']
        new_secret = new[token_id]['secret_access_key'] != old[token_id]['secret_access_key']
        assert same_key and new_secret, token_id
        expect('%s old secret' % token_id, pair, old[token_id], 'SignatureDoesNotMatch',
               'SignatureDoesNotMatch: secret of token %s does not verify' % old[token_id]['access_key_id'])
        expect('%s new secret' % token_id, pair, new[token_id], 'ok')
    arw_id, orw_id = old['arw']['access_key_id'], old['orw-eu']['access_key_id']
    expect('r-api after its parent was rolled', pair, temp_creds(before, 'r-api'), 'AccessDenied',
           'AccessDenied: parent token %s was rolled' % arw_id)
    expect('r-local after its parent was rolled', pair, temp_creds(before, 'r-local'), 'SignatureDoesNotMatch',
           'SignatureDoesNotMatch: session-token JWT is not signed with the current secret of token %s' % orw_id)
    assert not failures, '\n'.join(failures)

    provision(cf, run_playbook, tmp_path, seen, tokens, phase='delete')
    assert [t['name'] for t in cf.tokens()] == ['emulator bootstrap']
    for token_id in home:
        gone = 'InvalidAccessKeyId: no token or temporary credential %s' % new[token_id]['access_key_id']
        expect('%s deleted' % token_id, every, new[token_id], 'InvalidAccessKeyId', gone)
        expect('%s deleted, old secret' % token_id, ('boto3',), old[token_id], 'InvalidAccessKeyId', gone)
        listed = clients['boto3'].run('list_buckets', new[token_id])  # the account-level call as well
        if str(listed) != 'InvalidAccessKeyId':
            failures.append('%s deleted: ListBuckets gave %s' % (token_id, listed))
    expect('r-api after its parent was deleted', pair, temp_creds(before, 'r-api'), 'AccessDenied',
           'AccessDenied: parent token %s was deleted' % arw_id)
    # a locally signed credential's access key is its parent's id: unknown now
    expect('r-local after its parent was deleted', pair, temp_creds(before, 'r-local'), 'InvalidAccessKeyId',
           'InvalidAccessKeyId: no token or temporary credential %s' % orw_id)
    assert not failures, '\n'.join(failures)
