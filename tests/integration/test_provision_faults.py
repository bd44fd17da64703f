"""Two provision runs at once, answers lost after Cloudflare applied a DELETE, one entry failing: one token per
credential, and every host gets what was applied for it.

Runs start together from threads, each its own ansible-playbook with its own work folder (the harness gives every
run its own ANSIBLE_HOME and ANSIBLE_LOCAL_TEMP). "One controller" shares the run lock folder; "two controllers"
also have their own lock folder and their own copy of the collection, so only Cloudflare's side can keep them
apart. Token creates are slowed in the emulator so that the two runs overlap where it hurts.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess

from harness import paths
from test_provision import inventory, writes

CRED = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['fleet-ok']}
HOSTS = ('web1', 'web2')
SLOW_CREATE = {'method': 'POST', 'route': 'POST /accounts/{account_id}/tokens', 'action': 'timeout', 'delay': 2,
               'times': None}


def managed(cf):
    return sorted((t['name'], t['id']) for t in cf.tokens() if t['owner'] == 'account' and
                  t['name'].startswith('ansible:'))


def resets(cf):
    return len([r for r in cf.stats()['requests'] if r.get('fault') == 'reset'])


def aws_lists(tmp_path, host, profile='media'):
    """The real aws CLI, reading the files the run rendered for the host's user."""
    home = tmp_path / 'render' / host / 'root'
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('AWS_'))
    env.update(AWS_CONFIG_FILE=str(home / '.aws' / 'config'), AWS_SHARED_CREDENTIALS_FILE=str(home / '.aws' /
                                                                                              'credentials'),
               AWS_PROFILE=profile)
    done = subprocess.run([os.path.join(paths.venv_bin(), 'aws'), 's3api', 'list-objects-v2', '--bucket', 'fleet-ok'],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode == 0, done.stderr[-500:]


def both(run_playbook, args, envs, collections=(None, None), playbook='provision_fleet'):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run_playbook, playbook, args=args, env=env, collections_path=path, timeout=300)
                   for env, path in zip(envs, collections)]
        return [f.result() for f in futures]


def assert_one_token_per_credential_and_every_host_works(cf, tmp_path):
    names = [name for name, dummy in managed(cf)]
    assert names == sorted('ansible:%s/media' % h for h in HOSTS), managed(cf)
    for host in HOSTS:
        works, detail = aws_lists(tmp_path, host)
        assert works, (host, detail)


def test_two_runs_on_one_controller_run_one_after_the_other(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    args = inventory(tmp_path, cf, dict((h, {'provision_credentials': [CRED]}) for h in HOSTS))
    lock_dir = str(tmp_path / 'locks')
    cf.add_faults([SLOW_CREATE])
    first, second = both(run_playbook, args, [{'R2_LOCK_DIR': lock_dir}] * 2)
    cf.clear_faults()
    for result in (first, second):
        assert result.rc == 0, result.output[-3000:]
    # the run that got the lock second waited for it, then found everything done
    waited = [r for r in (first, second) if 'waiting up to 600s for another run of account-' in r.output]
    assert len(waited) == 1
    assert '%d host(s): unchanged %d;' % (len(HOSTS), len(HOSTS)) in waited[0].output
    creates = [w for w in writes(cf) if w[0] == 'POST']
    assert len(creates) == len(HOSTS)
    assert_one_token_per_credential_and_every_host_works(cf, tmp_path)
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args, env={'R2_LOCK_DIR': lock_dir})
    assert again.rc == 0 and again.changed == 0 and writes(cf) == []


def test_two_controllers_at_once_leave_one_token_per_credential(cf, run_playbook, collections_path, tmp_path):
    cf.create_bucket('fleet-ok')
    args = inventory(tmp_path, cf, dict((h, {'provision_credentials': [CRED]}) for h in HOSTS))
    checkout = tmp_path / 'checkout2'
    shutil.copytree(collections_path, checkout, symlinks=True)
    cf.add_faults([SLOW_CREATE])
    runs = both(run_playbook, args, [{'R2_LOCK_DIR': str(tmp_path / 'locks-a')}, {'R2_LOCK_DIR': str(tmp_path / 'locks-b')}],
                collections=(collections_path, str(checkout)))
    cf.clear_faults()
    # both created every name; each name's later token was deleted by the run that made it, before rendering it
    assert len([w for w in writes(cf) if w[0] == 'POST']) == 2 * len(HOSTS)
    assert len([w for w in writes(cf) if w[0] == 'DELETE']) == len(HOSTS)
    for result in runs:
        if result.rc != 0:
            assert 'another run created a token named' in result.output, result.output[-3000:]
            assert 'leaves the credential to that run' in result.output
    assert_one_token_per_credential_and_every_host_works(cf, tmp_path)
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    assert writes(cf) == []


def test_answers_lost_after_an_applied_delete_during_revoke_and_rotation(cf, run_playbook, tmp_path):
    """Straight to the emulator (direct): through Prism a reset would arrive as Prism's own HTTP 500."""
    cf.create_bucket('fleet-ok')
    args = inventory(tmp_path, cf, dict((h, {'provision_credentials': [CRED]}) for h in HOSTS))
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    before = dict(managed(cf))
    args = inventory(tmp_path, cf, dict((h, {'provision_credentials': [CRED]}) for h in HOSTS),
                     provision_api_url=cf.direct_api_url)

    # a finishing rotation: Cloudflare deletes the old token, the answer is lost, the retry meets a 404
    cf.reset_stats()
    cf.add_faults([{'method': 'DELETE', 'route': 'DELETE /accounts/{account_id}/tokens/{token_id}',
                    'action': 'reset', 'process': True, 'times': 2}])
    rotated = run_playbook('rotate_fleet', args=args)
    cf.clear_faults()
    assert resets(cf) == 2
    assert rotated.rc == 0, rotated.output[-3000:]
    after = dict(managed(cf))
    assert sorted(after) == sorted(before) and not set(after.values()) & set(before.values())
    assert_one_token_per_credential_and_every_host_works(cf, tmp_path)

    # a revocation: both answers lost; every token goes and every host's profile with it, in one run
    cf.reset_stats()
    cf.add_faults([{'method': 'DELETE', 'route': 'DELETE /accounts/{account_id}/tokens/{token_id}',
                    'action': 'reset', 'process': True, 'times': 2}])
    revoked = run_playbook('provision_fleet', args=args, extra_vars={'provision_mode': 'revoke'})
    cf.clear_faults()
    assert resets(cf) == 2
    assert revoked.rc == 0, revoked.output[-3000:]
    assert managed(cf) == []
    for host in HOSTS:
        credentials = tmp_path / 'render' / host / 'root' / '.aws' / 'credentials'
        assert not credentials.exists() or '[media]' not in credentials.read_text(), host


def test_a_failed_entry_fails_its_host_alone_and_what_was_applied_for_it_is_rendered(cf, run_playbook, tmp_path):
    """web1's token is created but its temporary credential fails: web1 gets the token's secret all the same (the
    next run does not roll it), web2 is provisioned, and only web1 fails, with its own entry's message."""
    cf.create_bucket('fleet-ok')
    upload = {'name': 'upload', 'type': 'temporary', 'parent': 'media', 'bucket': 'fleet-ok',
              'permission': 'object_read_only', 'ttl_seconds': 3600}
    hosts = {'web1': {'provision_credentials': [CRED, upload]}, 'web2': {'provision_credentials': [CRED]}}
    args = inventory(tmp_path, cf, hosts, provision_api_url=cf.direct_api_url)
    cf.add_faults([{'method': 'POST', 'route': 'POST /accounts/{account_id}/r2/temp-access-credentials',
                    'action': '500', 'times': 1}])
    first = run_playbook('provision_fleet', args=args)
    cf.clear_faults()
    assert first.rc != 0, first.output[-6000:]
    assert first.recap['web2']['failed'] == 0 and first.recap['web1']['failed'] == 1, first.recap
    assert 'web1: temporary[0] (host web1, credential upload): ' in first.output, first.output[-3000:]
    assert '1 of 3 entries failed' in first.output
    for host in HOSTS:
        works, detail = aws_lists(tmp_path, host)
        assert works, (host, detail)
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0, again.output[-3000:]
    # the token web1 holds is kept: the only write is the temporary credential that failed before
    assert writes(cf) == [('POST', 'POST /accounts/{account_id}/r2/temp-access-credentials')]
    works, detail = aws_lists(tmp_path, 'web1', profile='upload')
    assert works, detail
