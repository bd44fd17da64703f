"""The audit playbook (cloudflare_r2.credentials.audit) against a seeded emulator account, in three real runs.

The account holds a token for every finding, managed tokens of hosts inside and outside --limit (one with a
name format of its own), a rotation in flight, a token declared absent, orphans (account- and user-owned) and
tokens outside the managed name formats. With a host whose declarations cannot be read, prune=true is refused
before any request. Then prune=true --check must report 100% of the findings and orphans, no false orphan, and
write nothing; and prune=true must delete exactly the orphans. The API token comes from provision_api_token
(CLOUDFLARE_API_TOKEN is unset); no token value may appear in any output.
"""

from __future__ import annotations

import datetime
import json
import re

import yaml

from harness import paths

DAY = 86400
FINDINGS = ('revoked_exposed', 'expired', 'disabled', 'expires_soon', 'not_rotated', 'unused', 'no_expiry',
            'no_ip_restriction')
READ_GROUP = '6a018a9f2fc74eb6b293b0c548f38b39'   # Workers R2 Storage Bucket Item Read
ALLOW = {'request_ip': {'in': ['192.0.2.0/24']}}

# name -> (owner, what makes it stand out, the findings it must have, its state in the report or None if it
# is outside every managed name format)
TOKENS = {
    'ansible:web1/app': ('account', {}, [], 'declared'),
    'ansible:web1/app~next': ('account', {}, [], 'rotation in flight'),
    'ansible:web2/app': ('account', {'status': 'revoked (exposed)'}, ['revoked_exposed'], 'declared'),
    'ansible:web2/db': ('account', {'expires_on': -DAY}, ['expired'], 'declared'),
    # hosts outside --limit: their tokens are declared all the same
    'ansible:ops1/admin': ('account', {'status': 'disabled'}, ['disabled'], 'declared'),
    'r2-logs.custom1': ('account', {'expires_on': 5 * DAY}, ['expires_soon'], 'declared'),
    'ansible:web1/old': ('account', {'modified_on': -400 * DAY, 'issued_on': -500 * DAY}, ['not_rotated'],
                         'declared absent'),
    # orphans: a host that left the inventory, a credential a host no longer declares, the custom format
    'ansible:gone/app': ('account', {'last_used_on': -120 * DAY, 'issued_on': -200 * DAY}, ['unused'], 'orphan'),
    'ansible:gone/app~next': ('account', {'last_used_on': None, 'issued_on': -100 * DAY}, ['unused'], 'orphan'),
    'ansible:web2/retired': ('account', {'expires_on': None}, ['no_expiry'], 'orphan'),
    'r2-cache.custom9': ('account', {'condition': {}}, ['no_ip_restriction'], 'orphan'),
    # outside the name formats: counted, never touched
    'backup-web1': ('account', {'expires_on': None, 'condition': {}}, None, None),
    'ansible:web1/app two': ('account', {}, None, None),
    'Ansible:web1/app': ('account', {}, None, None),
    'ansible:gone/app~next~next': ('account', {}, None, None),
    'r2-logs.': ('account', {}, None, None),
    # user-owned tokens (the bootstrap token is outside the format too)
    'ansible:u1/sync': ('user', {}, [], 'declared'),
    'ansible:gone/sync': ('user', {'status': 'disabled'}, ['disabled'], 'orphan'),
}


def at(offset):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now + datetime.timedelta(seconds=offset)).strftime('%Y-%m-%dT%H:%M:%SZ')


def seed(cf):
    """Every token of TOKENS, each with nothing to report but what it stands out by; returns name -> id, and the
    values (none may appear in any output)."""
    ids, values = {}, []
    policies = [{'effect': 'allow', 'permission_groups': [{'id': READ_GROUP}],
                 'resources': {'com.cloudflare.edge.r2.bucket.%s_default_media' % cf.account_id: '*'}}]
    for name, (owner, fields, dummy, dummy2) in TOKENS.items():
        # offsets from now, in seconds (None: unset); modified_on defaults to issued_on
        times = {'issued_on': -10 * DAY, 'last_used_on': -3600, 'expires_on': 200 * DAY}
        times.update((k, v) for k, v in fields.items() if k not in ('status', 'condition'))
        spec = dict(((k, None if v is None else at(v)) for k, v in times.items()), owner=owner, name=name,
                    policies=policies, condition=fields.get('condition', ALLOW), status=fields.get('status', 'active'))
        if spec['expires_on'] is None:
            del spec['expires_on']
        seeded = cf.seed_token(**spec)
        ids[name] = seeded['id']
        values.append(seeded['value'])
    return ids, values


def inventory(tmp_path, cf):
    """web1, web2 and u1 run (--limit); ops1 and custom1 are hosts outside the limit; localhost declares nothing."""
    hosts = {
        'web1': {'provision_credentials': [
            {'name': 'app', 'permission': 'object_read_only', 'buckets': ['media']},
            {'name': 'old', 'state': 'absent'},
            {'name': 'cache', 'type': 'temporary', 'bucket': 'media'},   # no token of its own
        ]},
        'web2': {'provision_credentials': [{'name': 'app', 'permission': 'object_read_only'},
                                           {'name': 'db', 'permission': 'object_read_only'}]},
        'ops1': {'provision_credentials': [{'name': 'admin', 'permission': 'admin_read_only'}]},
        'custom1': {'provision_token_name_format': 'r2-{name}.{host}',
                    'provision_credentials': [{'name': 'logs', 'permission': 'object_read_only'}]},
        'u1': {'provision_owner': 'user', 'provision_credentials': [{'name': 'sync', 'permission': 'admin_read_only'}]},
    }
    variables = {'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
                 'provision_account_id': cf.account_id, 'provision_api_url': cf.api_url,
                 'provision_api_token': cf.bootstrap_token, 'provision_lock_dir': str(tmp_path / 'locks')}
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'r2_clients': {'hosts': hosts, 'vars': variables}}))
    (tmp_path / 'locks').mkdir(mode=0o700)
    return ['-i', str(path), '--limit', 'web1,web2,u1']


def task_output(output, task):
    """The JSON result the default callback prints for ``task`` (a run_once task: one host)."""
    match = re.search(r'TASK \[%s\] \*+\n(?:.*\n)*?ok: \[[^\]]+\] => (\{\n(?:.*\n)*?\})\n' % re.escape(task), output)
    assert match, 'no output of task %r' % task
    return json.loads(match.group(1))


def report_lines(output):
    return task_output(output, 'Report')['msg']


def parse(lines):
    """From the report lines: {(owner, name): (id, state, [codes])}, the orphan names per owner, the quotas."""
    tokens, orphans, quotas, outside = {}, {}, {}, {}
    owner = current = None
    for line in lines:
        head = re.fullmatch(r'account ([0-9a-f]{32}), (account|user)-owned tokens: (\d+) of (\d+) in use', line)
        if head:
            owner = head.group(2)
            quotas[owner] = (int(head.group(3)), int(head.group(4)))
            continue
        managed = re.fullmatch(r'  managed tokens: \d+ \(.*\); outside the name format, never touched: (\d+)', line)
        if managed:
            outside[owner] = int(managed.group(1))
            continue
        token = re.fullmatch(r'  (\S.*) \(id ([0-9a-f]{32}), ([a-z ()]+), (declared|rotation in flight|'
                             r'declared absent|ORPHAN)\)(: no findings)?', line)
        if token:
            current = (owner, token.group(1))
            tokens[current] = (token.group(2), token.group(4).lower(), [])
            continue
        finding = re.fullmatch(r'    ([a-z_]+): .+', line)
        if finding:
            tokens[current][2].append(finding.group(1))
            continue
        listed = re.fullmatch(r'  orphans \(no inventory host declares them\): \d+ token\(s\): (.*); prune=true '
                              r'deletes them', line)
        if listed:
            orphans[owner] = sorted(listed.group(1).split(', '))
    return tokens, orphans, quotas, outside


def test_audit_reports_every_finding_and_orphan_and_prune_deletes_exactly_the_orphans(cf, run_playbook, tmp_path):
    ids, values = seed(cf)
    values.append(cf.bootstrap_token)
    args = inventory(tmp_path, cf)
    before = dict((t['id'], t['name']) for t in cf.tokens())
    cf.reset_stats()
    env = {'CLOUDFLARE_API_TOKEN': None}   # the token comes from provision_api_token

    # a host whose declarations cannot be read: prune is refused before any request
    broken = tmp_path / 'broken.yml'
    broken.write_text(yaml.safe_dump({'all': {'hosts': {'web9': {'provision_account_id': cf.account_id,
                                                                 'provision_credentials': 'app'}}}}))
    refused = run_playbook('audit_playbook', extra_vars={'prune': 'true'}, args=args + ['-i', str(broken)], env=env,
                           timeout=120)
    assert refused.rc != 0
    assert not [v for v in values if v in refused.output]
    assert 'prune: refused, since the tokens of these hosts cannot be told from orphans: web9: ' \
        'provision_credentials: must be a list' in refused.output, refused.describe()[-4000:]
    assert cf.stats()['requests'] == []

    checked = run_playbook('audit_playbook', extra_vars={'prune': 'true'}, check=True, args=args, env=env,
                           timeout=120)
    assert checked.rc == 0, checked.describe()[-6000:]
    assert not [v for v in values if v in checked.output]
    lines = report_lines(checked.output)
    print('\n'.join(lines))   # the report of the seeded account, for the record
    tokens, orphans, quotas, outside = parse(lines)
    expected = dict(((owner, name), (ids[name], state, codes))
                    for name, (owner, dummy, codes, state) in TOKENS.items() if state is not None)
    # every managed token with exactly its findings and state, nothing else (no false orphan, none outside)
    assert tokens == expected
    assert set(c for dummy, dummy2, found in expected.values() for c in found) == set(FINDINGS)
    want_orphans = dict((o, sorted(n for n, (own, dummy, dummy2, s) in TOKENS.items() if own == o and s == 'orphan'))
                        for o in ('account', 'user'))
    assert orphans == want_orphans
    users = len([t for t in cf.tokens() if t['owner'] == 'user'])   # the bootstrap token and two seeded
    assert quotas == {'account': (16, 500), 'user': (users, 50)}
    assert outside == {'account': 5, 'user': users - 2}
    assert 'findings: revoked_exposed 1, expired 1, disabled 1, expires_soon 1, not_rotated 1, unused 2, no_expiry 1, ' \
        'no_ip_restriction 1' in '\n'.join(lines)
    # check mode: what prune would delete, and no write at all
    assert 'would delete (check mode) 4 orphan account-owned token(s) of account %s' % cf.account_id in checked.output
    assert 'would delete (check mode) 1 orphan user-owned token(s) of account %s' % cf.account_id in checked.output
    assert [r for r in cf.stats()['requests'] if r['method'] != 'GET'] == []
    assert dict((t['id'], t['name']) for t in cf.tokens()) == before

    pruned = run_playbook('audit_playbook', extra_vars={'prune': 'true'}, args=args, env=env, timeout=120)
    assert pruned.rc == 0, pruned.describe()[-6000:]
    assert not [v for v in values if v in pruned.output]
    assert report_lines(pruned.output) == lines
    gone = set(ids[name] for name, spec in TOKENS.items() if spec[3] == 'orphan')
    after = dict((t['id'], t['name']) for t in cf.tokens())
    assert after == dict((i, n) for i, n in before.items() if i not in gone)
    deletes = [r for r in cf.stats()['requests'] if r['method'] != 'GET']
    assert sorted((r['method'], r['status']) for r in deletes) == [('DELETE', 200)] * len(gone)
    assert 'deleted 4 orphan account-owned token(s) of account %s' % cf.account_id in pruned.output
    assert 'deleted 1 orphan user-owned token(s) of account %s: ansible:gone/sync; Cloudflare DELETE requests: 1' \
        % cf.account_id in pruned.output
    assert 'Cloudflare DELETE requests: 4' in pruned.output
