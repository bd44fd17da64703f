"""The provision playbook on local hosts (files rendered under a per-host root): bad input, per host and field.

The full story on real unix users (su, sshd), with the real S3 clients, rotation and revocation, is the molecule
scenario extensions/molecule/provision; these runs check what a user sees when the inventory is wrong:
one message per problem naming the host and the field, and no API write that the mistake could leave half-done.
"""

from __future__ import annotations

import json
import os
import re

import yaml

from harness import paths

GOOD = {'name': 'media', 'permission': 'object_read_only', 'buckets': ['fleet-ok']}


def inventory(tmp_path, cf, hosts, **group_vars):
    """An inventory of local hosts in group r2_clients, rendering under tmp_path/HOST."""
    variables = {
        'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
        'provision_user': 'root', 'provision_account_id': cf.account_id, 'provision_api_url': cf.api_url,
        'provision_endpoint_overrides': cf.s3_endpoints, 'provision_check_retries': 0,
    }
    variables.update(group_vars)
    for host, host_vars in hosts.items():
        host_vars.setdefault('provision_render_root', str(tmp_path / 'render' / host))
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'r2_clients': {'hosts': hosts, 'vars': variables}}))
    return ['-i', str(path)]


def writes(cf):
    return [(r['method'], r['route']) for r in cf.stats()['requests'] if r['method'] != 'GET']


def test_bad_input_fails_each_host_with_host_and_field_and_the_good_host_is_provisioned(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = {
        'good': {'provision_credentials': [GOOD]},
        'unknown-field': {'provision_credentials': [dict(GOOD, colour='blue')]},
        'bad-ttl': {'provision_credentials': [{'name': 'upload', 'type': 'temporary', 'bucket': 'fleet-ok',
                                               'ttl_seconds': 604801}]},
        'no-endpoint': {'provision_credentials': [dict(GOOD, jurisdiction='fedramp', buckets=[])],
                        'provision_endpoint_overrides': {'default': cf.s3_endpoints['default']}},
        'no-user': {'provision_credentials': [GOOD], 'provision_user': 'r2-no-such-user', 'provision_render_root': ''},
        # checked against the role's argument spec (by the inspect task, no task of its own)
        'bad-var': {'provision_credentials': [GOOD], 'provision_check_retries': 'often'},
    }
    cf.reset_stats()
    result = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts))
    output = result.output
    assert result.rc != 0
    for message in (
            'unknown-field: provision_credentials[0] (media): unknown field(s) colour for type token',
            'bad-ttl: provision_credentials[0] (upload): ttl_seconds must be an integer from 1 to 604800',
            "no-endpoint: provision_credentials[0] (media): jurisdiction: 'fedramp' has no endpoint in "
            'provision_endpoint_overrides',
            "no-user: provision_credentials: user(s) r2-no-such-user do not exist on this host",
            "bad-var: validation of the provision role's variables failed"):
        assert message in output, message
    recap = result.recap
    assert recap['good']['failed'] == 0 and recap['good']['changed'] > 0
    assert all(recap[host]['failed'] == 1 for host in hosts if host != 'good'), recap
    # only the good host's token was made; nothing for the hosts that failed
    assert writes(cf) == [('POST', 'POST /accounts/{account_id}/tokens')]
    assert [t['name'] for t in cf.tokens() if t['owner'] == 'account'] == ['ansible:good/media']
    assert os.path.exists(tmp_path / 'render' / 'good' / 'root' / '.aws' / 'credentials')


def test_errors_the_modules_find_stop_the_whole_reconcile_before_any_write(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = {
        'web1': {'provision_credentials': [GOOD]},
        'web2': {'provision_credentials': [dict(GOOD, buckets=['not-there'])]},
    }
    cf.reset_stats()
    result = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts))
    assert result.rc != 0
    assert ("tokens[1] (host web2, credential media): buckets: bucket(s) 'not-there' do not exist in jurisdiction "
            "'default'") in result.output
    assert writes(cf) == [] and not [t for t in cf.tokens() if t['owner'] == 'account']

    hosts = {'web1': {'provision_credentials': [
        GOOD, {'name': 'upload', 'type': 'temporary', 'parent': 'media', 'bucket': 'fleet-ok',
               'permission': 'object_read_write'}]}}
    cf.reset_stats()
    result = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts))
    assert result.rc != 0
    assert ("temporary[0] (host web1, credential upload): permission: object_read_write is higher than its parent "
            "token 'ansible:web1/media' allows (object_read_only)") in result.output
    assert writes(cf) == []


def test_check_mode_predicts_without_writing_and_a_converged_run_lists_once(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = dict(('web%d' % i, {'provision_credentials': [GOOD]}) for i in range(3))
    args = inventory(tmp_path, cf, hosts)
    cf.reset_stats()
    predicted = run_playbook('provision_fleet', args=args, check=True)
    assert predicted.rc == 0, predicted.output[-3000:]
    assert '"3 host(s): created 3;' in predicted.output
    assert writes(cf) == [] and not os.path.exists(tmp_path / 'render' / 'web0' / 'root' / '.aws' / 'credentials')
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert '[WARNING]' not in first.output, first.output   # a clean run warns of nothing
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    assert '[WARNING]' not in again.output, again.output
    requests = [(r['method'], r['route']) for r in cf.stats()['requests']]
    assert requests == [('GET', 'GET /accounts/{account_id}/tokens')], json.dumps(requests)


def test_main_entry_point_runs_the_three_phases_in_one_play(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = dict(('web%d' % i, {'provision_credentials': [GOOD]}) for i in range(2))
    args = inventory(tmp_path, cf, hosts)
    first = run_playbook('provision_one_play', args=args)
    assert first.rc == 0, first.output[-3000:]
    assert '"2 host(s): created 2;' in first.output
    names = sorted(t['name'] for t in cf.tokens() if t['owner'] == 'account')
    assert names == ['ansible:web0/media', 'ansible:web1/media']
    cf.reset_stats()
    again = run_playbook('provision_one_play', args=args)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    assert len(cf.stats()['requests']) == 1


def test_revoke_deletes_the_tokens_of_a_host_that_cannot_be_reached(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = dict(('web%d' % i, {'provision_credentials': [GOOD]}) for i in range(2))
    first = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts))
    assert first.rc == 0, first.output[-3000:]
    # web1 is gone: nothing listens on 127.0.0.9:1 (loopback only)
    hosts['web1'].update(ansible_connection='ssh', ansible_host='127.0.0.9', ansible_port=1,
                         ansible_ssh_args='-o ConnectTimeout=3 -o StrictHostKeyChecking=no')
    revoked = run_playbook('provision_fleet', args=inventory(tmp_path, cf, hosts), extra_vars={'provision_mode': 'revoke'})
    assert revoked.recap['web1']['unreachable'] == 1 and revoked.recap['web0']['failed'] == 0, revoked.recap
    assert '"2 host(s): deleted 2;' in revoked.output
    assert not [t for t in cf.tokens() if t['owner'] == 'account']
    assert not os.path.exists(tmp_path / 'render' / 'web0' / 'root' / '.aws' / 'credentials') or \
        '[media]' not in (tmp_path / 'render' / 'web0' / 'root' / '.aws' / 'credentials').read_text()


def test_no_secret_stays_in_hostvars_or_reaches_a_fact_cache(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = {'web0': {'provision_credentials': [dict(GOOD, s3cmd=True, env_file=True)]},
             'web1': {'provision_credentials': [GOOD, {'name': 'upload', 'type': 'temporary', 'parent': 'media',
                                                       'bucket': 'fleet-ok', 'permission': 'object_read_only'}]}}
    cache, dump = tmp_path / 'facts', tmp_path / 'dump'
    dump.mkdir()
    env = {'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile', 'ANSIBLE_CACHE_PLUGIN_CONNECTION': str(cache),
           'ANSIBLE_GATHERING': 'implicit'}
    result = run_playbook('provision_then_dump', args=inventory(tmp_path, cf, hosts), env=env,
                          extra_vars={'dump_dir': str(dump)})
    assert result.rc == 0, result.describe()[-4000:]
    secrets = cf.issued_secrets()
    assert len(secrets) >= 2 * 2 + 2  # token value and S3 secret of 2 tokens, secret and session of 1 temporary
    dumped = dict((p.name, p.read_text()) for p in dump.iterdir())
    assert sorted(dumped) == ['localhost.json', 'web0.json', 'web1.json']
    assert '__provision_inspect' in dumped['web0.json'] and '__provision_result' in dumped['web0.json']  # the role's
    for name, text in dumped.items():
        assert not [s for s in secrets if s in text], name
    cached = sorted(p for p in cache.rglob('*') if p.is_file())
    assert [p.name.rsplit('_', 1)[-1] for p in cached] == ['web0', 'web1'], cached
    for path in cached:
        assert not [s for s in secrets if s in path.read_text(errors='replace')], path
    assert not [s for s in secrets if s in result.output]


def test_a_render_killed_half_way_is_repaired_and_every_file_proved(cf, run_playbook, tmp_path):
    cf.create_bucket('fleet-ok')
    hosts = {'web0': {'provision_credentials': [dict(GOOD, s3cmd=True, env_file=True)]}}
    args = inventory(tmp_path, cf, hosts)
    first = run_playbook('provision_fleet', args=args)
    assert first.rc == 0, first.describe()[-4000:]
    home = tmp_path / 'render' / 'web0' / 'root'
    credentials = home / '.aws' / 'credentials'
    # as if a roll had been killed right after the aws credentials were written: the other files hold the old
    # secret (the one here is a well-formed stand-in; what matters is that the files disagree)
    text = credentials.read_text()
    secret = [line.split(' = ', 1)[1] for line in text.splitlines() if line.startswith('aws_secret_access_key')][0]
    credentials.write_text(text.replace(secret, secret[::-1]))
    cf.reset_stats()
    repaired = run_playbook('provision_fleet', args=args, verbosity=1)
    assert repaired.rc == 0, repaired.describe()[-4000:]
    assert writes(cf) == [('PUT', 'PUT /accounts/{account_id}/tokens/{token_id}/value')]  # the token is rolled
    # every file of the profile was proved by its own S3 request, each allowed
    checked = re.findall(r'"name": "media \((\w+)\)",(?:\s*"[^"]+": (?:"[^"]*"|[\w.-]+),)*?\s*"outcome": "allowed"',
                         repaired.output)
    assert sorted(checked) == ['aws_credentials', 'env_file', 'rclone', 's3cmd'], checked
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc == 0 and again.changed == 0 and writes(cf) == [], again.describe()[-3000:]


def test_a_long_host_name_a_bad_name_format_and_two_aliases_of_one_machine_fail_alone(cf, run_playbook, tmp_path):
    """Issue 9: each of these used to block or fight the fleet. A host name whose token name fits Cloudflare's 120
    characters but not the rotation's 115 failed the reconcile of every host; a bad provision_token_name_format was
    a raw Python error; two aliases of one machine and user rolled each other's token on every run."""
    cf.create_bucket('fleet-ok')
    long_host = 'h' * (118 - len('ansible:/media'))   # its token name: 118 characters
    shared = str(tmp_path / 'render' / 'one-machine')
    hosts = {
        'ok1': {'provision_credentials': [GOOD]},
        'ok2': {'provision_credentials': [GOOD]},
        long_host: {'provision_credentials': [GOOD]},
        'bad-format': {'provision_credentials': [GOOD, dict(GOOD, name='logs')],
                       'provision_token_name_format': '{hostname}/{name}'},
        # two inventory names of one machine, writing the same user's files
        'alias-a': {'provision_credentials': [GOOD], 'provision_render_root': shared},
        'alias-b': {'provision_credentials': [GOOD], 'provision_render_root': shared},
    }
    args = inventory(tmp_path, cf, hosts)
    cf.reset_stats()
    first = run_playbook('provision_fleet', args=args)
    output = first.output
    assert first.rc != 0
    recap = first.recap
    assert recap['ok1']['failed'] == 0 and recap['ok2']['failed'] == 0, recap
    assert all(recap[host]['failed'] == 1 for host in (long_host, 'bad-format', 'alias-a', 'alias-b')), recap
    assert ("%s: provision_credentials[0] (media): token name: at most 115 characters here (a rotation adds '~next' "
            "and Cloudflare allows 120), got 118" % long_host) in output
    # one message for the host (not one per credential), naming the variable and the rule; no Python error
    failure = json.loads(re.search(r'^fatal: \[bad-format\]: FAILED! => (.*)$', output, re.M).group(1))['msg']
    assert failure == ('bad-format: provision_token_name_format: must be a string whose fields are {host} (the '
                       'inventory hostname) and {name} (the credential name), both, and no other (for example '
                       '"ansible:{host}/{name}"; a literal brace is written {{ or }}); it has the field {hostname}')
    assert 'Traceback' not in output and 'KeyError' not in output
    for host, other in (('alias-a', 'alias-b'), ('alias-b', 'alias-a')):
        assert ('%s: hosts %s and %s are the same machine' % (host, host, other)) in output, output[-4000:]
    assert 'write the same profiles of user root in the same folder (%s/root)' % shared in output
    # only the two good hosts got tokens; the others none
    assert writes(cf) == [('POST', 'POST /accounts/{account_id}/tokens')] * 2
    made = sorted(t['name'] for t in cf.tokens() if t['owner'] == 'account')
    assert made == ['ansible:ok1/media', 'ansible:ok2/media']
    assert not os.path.exists(os.path.join(shared, 'root', '.aws', 'credentials'))

    # the next run: the good hosts are converged, and the aliases are still left alone (no token made or rolled)
    cf.reset_stats()
    again = run_playbook('provision_fleet', args=args)
    assert again.rc != 0 and writes(cf) == [], again.describe()[-3000:]
    assert all(again.recap[host]['failed'] == 1 for host in ('alias-a', 'alias-b')), again.recap
    assert again.recap['ok1']['changed'] == 0 and again.recap['ok1']['failed'] == 0, again.recap
