"""No form of a Cloudflare API token reaches any output: hostile values and transport failures (issue 9, build 1).

Real ansible-playbook runs against the emulator, at default verbosity and at -vvvv, with ANSIBLE_LOG_PATH set;
stdout, stderr and the log file are searched for every form of every token value: as given, stripped, escaped by
repr() and by JSON (ASCII and UTF-8), and a 20-character slice of its random part (a partial leak such as
``Bearer cfut_...``), and for anything shaped like a token. The values are long and random, so that no_log
masking cannot be garbled by a short one.

- ``secret_leaks.yml``, one run per verbosity: one inventory host per hostile value, given to r2_token_info and
  the r2_credentials lookup (with and without no_log, and as term 1 after a good token), and for some values to
  r2_token, r2_credential_set and r2_temp_credentials too; then the good token through a closed loopback port and
  through connection resets. What every task registered is checked as well (the messages, and that each host
  sent its value unchanged).
- the same run, at -vvvv, first takes the good token through the life of a credential (play 0 of
  ``secret_leaks.yml``; the tokens seeded, then revoked, expired, disabled or aged through the emulator's admin
  API): r2_token replaces a token Cloudflare revoked (exposed) and disables the new one; r2_credential_set rotates
  a token on its schedule (``rotate_after``), reissues an expired and a disabled one and mints again from the
  rotated one, then finishes the rotation; r2_token_info reports them. Every secret the emulator issued (token
  values, their S3 secrets, temporary credentials) and the seeded tokens' values are scanned for too.
- the provision playbook with a hostile ``provision_api_token`` (or CLOUDFLARE_API_TOKEN), one run per value (the
  role reads one token per run); at -vvvv also the good token through a closed port, and a run that succeeds.

Every refusal is a message that names the option (``api_token``, ``term N``, ``provision_api_token``), given once
(per host for the role), from before any request; the emulator saw no write.

Failure reports never show a token value: a leak is reported by output, case and form, with the value masked.
Every module gets every hostile value in-process in tests/unit/plugins/module_utils/test_module.py; the client's
messages and log lines in test_api.py; the lookup's in tests/unit/plugins/lookup/test_r2_credentials.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from harness import paths

# the unit tests' secret forms (stdlib only): one definition of a token and of the forms it can leak in
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'unit', 'utils'))
from secret_forms import forms, new_token  # noqa: E402  pylint: disable=wrong-import-position

SHAPES = (re.compile(r'cf[au]t_[A-Za-z0-9]{40}'),)


# name -> how the hostile value is made from a fresh token t (45 characters); decorations stay out of
# secret_forms.SLICE
DECORATIONS = {
    'nl': lambda t: t + '\n',                      # written as a YAML `|` block
    'crlf': lambda t: t + '\r\n',
    'lead_space': lambda t: '  ' + t,
    'trail_space': lambda t: t + '  ',
    'nul': lambda t: t[:36] + '\x00' + t[36:],
    'ansi': lambda t: '\x1b[31m' + t + '\x1b[0m',
    'line_sep': lambda t: t + '\u2028',
    'rlo': lambda t: t[:36] + '\u202e' + t[36:],
    'non_ascii': lambda t: t[:36] + '\u00e9\u0434' + t[36:],
    'quote_backslash': lambda t: t[:34] + '"' + t[34:40] + '\\' + t[40:],
    # also given as CLOUDFLARE_API_TOKEN to the whole run: `export CLOUDFLARE_API_TOKEN=$(cat token.txt)` of a file
    # saved with CRLF keeps the \r
    'env_cr': lambda t: t + '\r',
    'empty': lambda t: '',
}


def hostile_values():
    """{case: (value, token it was made from)}"""
    values = {}
    for name, make in DECORATIONS.items():
        token = new_token()
        values[name] = (make(token), token)
    return values


def find_leaks(outputs, secret_forms):
    """[(output name, secret name, form name, context)] with the secret masked in the context.

    ``outputs``: {name: text}; ``secret_forms``: {secret name: {form name: text}}.
    """
    leaks = []
    for out_name, text in outputs.items():
        for secret_name, its_forms in secret_forms.items():
            for form_name, form in its_forms.items():
                start = text.find(form)
                if start < 0:
                    continue
                line_start = text.rfind('\n', 0, start) + 1
                line_end = text.find('\n', start + len(form))
                line = text[line_start:line_end if line_end >= 0 else len(text)]
                masked = line
                for other in sorted(its_forms.values(), key=len, reverse=True):
                    masked = masked.replace(other, '<%s:%s>' % (secret_name, form_name))
                # what is left of a partial form is masked by its shape
                for shape in SHAPES:
                    masked = shape.sub('<token-shaped>', masked)
                leaks.append((out_name, secret_name, form_name, repr(masked[:400]), text.count(form)))
        for shape in SHAPES:
            if shape.search(text):
                leaks.append((out_name, 'token-shaped text', shape.pattern, '', len(shape.findall(text))))
    return leaks


def fail_on_leaks(leaks):
    if leaks:
        pytest.fail('%d leak(s):\n%s' % (len(leaks), '\n'.join(
            '  %s: %s (%s form, %d time(s)): %s' % (out, name, form, count, context)
            for out, name, form, context, count in leaks)), pytrace=False)


def outputs_of(result, log_path):
    texts = {'stdout': result.stdout, 'stderr': result.stderr}
    texts['log file'] = log_path.read_text(errors='replace') if log_path.exists() else ''
    # kept beside the log for whoever reads a failure (tmp_path: the test's own folder)
    (log_path.parent / 'output.txt').write_text(result.describe(), errors='replace')
    return texts


FAILURE_RE = re.compile(r'^(?:fatal|failed): \[[^\]\n]*\][^\n]*?FAILED! => (?:\{\n(?:[^\n]*\n)*?\}$|[^\n]*$)', re.M)


def failure_blocks(stdout):
    """Each ``fatal: [host]: FAILED! => {...}`` of the default callback, on one line or (-vvvv) indented."""
    return FAILURE_RE.findall(stdout)


def writes(cf):
    return [(r['method'], r['route']) for r in cf.stats()['requests'] if r['method'] != 'GET']


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_hostile_vars(path, values):
    """A YAML vars file ``hostile: {case: value}``; the nl case as a `|` block, as users write it."""
    lines = ['hostile:']
    for name, (value, dummy) in values.items():
        if name == 'nl':
            lines += ['  nl: |', '    ' + value.rstrip('\n')]
        else:
            lines.append('  %s: %s' % (name, json.dumps(value)))
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    assert yaml.safe_load(path.read_text(encoding='utf-8'))['hostile'] == dict((k, v[0]) for k, v in values.items())


def case_inventory(path, names, all_modules):
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python()}
    hosts = dict((n, {'all_modules': n in all_modules}) for n in names)
    path.write_text(yaml.safe_dump({'leak_cases': {'hosts': hosts, 'vars': local}}))
    return path


def message_of(result):
    return result.get('msg') if isinstance(result, dict) else None


def check_refusal(problems, where, result, option, secret_forms):
    """A refusal: failed, with a message naming ``option``, from before any request."""
    if not isinstance(result, dict) or not result.get('failed'):
        problems.append('%s: did not fail (%s)' % (where, 'skipped' if (result or {}).get('skipped') else 'ok'))
        return
    msg = message_of(result) or ''
    if option not in msg:
        problems.append('%s: the message does not name %s: %r' % (where, option, mask(msg, secret_forms)))
    if 'HTTP' in msg or 'connection error' in msg:
        problems.append('%s: refused only by the API, not before the request: %r' % (where, mask(msg, secret_forms)))


def mask(text, secret_forms):
    for name, its_forms in secret_forms.items():
        for form_name, form in sorted(its_forms.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(form, '<%s:%s>' % (name, form_name))
    return text


# Every value goes to r2_token_info and the lookup; these also to r2_token, r2_credential_set and
# r2_temp_credentials (tests/unit/plugins/module_utils/test_module.py gives every module every value, in-process).
ALL_MODULES_CASES = ('nl', 'nul', 'non_ascii', 'quote_backslash')
# at -vvvv (more output, same code paths) the values whose escaped forms differ most, and the transport play
VVVV_CASES = ('nl', 'nul', 'ansi', 'non_ascii', 'quote_backslash', 'env_cr')
ALL_MODULES_CASES_VVVV = ('nl', 'quote_backslash')
# What play 0 (the life of a credential, at -vvvv) must have done, as it registered it (no secret in it).
LIFECYCLE_EXPECTED = {
    'failed': [],
    'set_check': {'summary': {'rotation_started': 1, 'reissued': 2, 'minted': 1}, 'due': ['leak-life-a']},
    'set_rotated': {'summary': {'rotation_started': 1, 'reissued': 2, 'minted': 1}, 'due': ['leak-life-a'],
                    'replaced': ['disabled', 'expired']},
    'set_finished': {'summary': {'rotation_finished': 1, 'unchanged': 2, 'kept': 1}, 'changed': True},
    'info': ['leak-life-a', 'leak-life-b', 'leak-life-c', 'leak-life-token'],
}
# the values and S3 secrets of 4 tokens (r2_token reissued 1; r2_credential_set made 1 rotation's new token and
# reissued 2) and 1 temporary credential (secret and session token)
LIFECYCLE_SECRETS_MIN = 2 * 4 + 2
LIFE_BUCKET = 'leak-life'
# Workers R2 Storage Bucket Item Read and Write (reference section 2)
LIFE_GROUPS = {'object_read_only': '6a018a9f2fc74eb6b293b0c548f38b39',
               'object_read_write': '2efd5506f9c8494dacb1fa10a3e7d5b6'}


def seed_lifecycle(cf):
    """The tokens of play 0, made and then killed or aged the way Cloudflare would: {key: token id} for the play,
    and the seeded values (never issued through the API, scanned for as well)."""
    cf.create_bucket(LIFE_BUCKET)

    def seed(name, permission):
        return cf.seed_token(owner='account', name=name, policies=[{
            'effect': 'allow', 'permission_groups': [{'id': LIFE_GROUPS[permission]}],
            'resources': {'com.cloudflare.edge.r2.bucket.%s_default_%s' % (cf.account_id, LIFE_BUCKET): '*'}}])
    seeded = {'token': seed('leak-life-token', 'object_read_only')}
    for key in ('a', 'b', 'c'):
        seeded[key] = seed('leak-life-' + key, 'object_read_write')
    cf.revoke_token(seeded['token']['id'])        # found in public: revoked (exposed)
    cf.patch_token(seeded['a']['id'], issued_on='2025-06-01T00:00:00Z', modified_on='2025-06-01T00:00:00Z')
    cf.expire_token(seeded['b']['id'])
    cf.patch_token(seeded['c']['id'], status='disabled')
    return (dict((key, token['id']) for key, token in seeded.items()),
            dict(('seeded %s' % key, forms(token['value'], token['value'])) for key, token in seeded.items()))


def check_lifecycle(problems, lifecycle, revoked_id):
    """What play 0 did: r2_token reissued the revoked token and disabled it; r2_credential_set listed and started
    the due rotation, reissued the expired and the disabled token, minted again, then finished the rotation."""
    if not isinstance(lifecycle, dict):
        problems.append('lifecycle: play 0 left no result')
        return
    for key, expected in LIFECYCLE_EXPECTED.items():
        got = lifecycle.get(key)
        if key == 'info':
            got = sorted(got or [])
        if got != expected:
            problems.append('lifecycle %s: %r, expected %r' % (key, got, expected))
    token = lifecycle.get('token') or {}
    if (token.get('predicted'), token.get('predicted_id'), token.get('reissued'), token.get('disabled')) != (
            'reissued', None, 'reissued', 'disabled') or token.get('reissued_id') in (None, revoked_id):
        problems.append('lifecycle token: %r' % token)


@pytest.mark.parametrize('verbosity', [0, 4], ids=['default', 'vvvv'])
def test_hostile_api_tokens_and_transport_failures_never_reach_output(cf, run_playbook, tmp_path, verbosity):
    values = hostile_values()
    if verbosity:
        values = dict((k, v) for k, v in values.items() if k in VVVV_CASES)
    good = cf.bootstrap_token
    secret_forms = dict((name, forms(value, token)) for name, (value, token) in values.items())
    secret_forms['good token'] = forms(good, good)
    vars_file = tmp_path / 'hostile.yml'
    write_hostile_vars(vars_file, values)
    result_file = tmp_path / 'results.json'
    log_path = tmp_path / 'ansible.log'
    lifecycle = bool(verbosity)
    life_ids = {}
    if lifecycle:
        life_ids, seeded_forms = seed_lifecycle(cf)
        secret_forms.update(seeded_forms)
    cf.reset_stats()
    result = run_playbook(
        'secret_leaks.yml', direct=True, verbosity=verbosity, timeout=300,
        args=['-i', str(case_inventory(tmp_path / 'cases.yml', values, ALL_MODULES_CASES_VVVV if verbosity
                                       else ALL_MODULES_CASES)), '--forks', '8'],
        extra_vars={'hostile_vars_file': str(vars_file), 'result_file': str(result_file), 'good_token': good,
                    'closed_port': closed_port(), 'lifecycle': lifecycle, 'life_ids': life_ids},
        env={'ANSIBLE_LOG_PATH': str(log_path), 'CLOUDFLARE_API_TOKEN': values['env_cr'][0]})
    # every secret the emulator issued in play 0 (reissued, rotated, minted): in no output either
    issued = cf.issued_secrets()
    secret_forms.update(('issued secret %d' % i, forms(v, v)) for i, v in enumerate(issued))
    leaks = find_leaks(outputs_of(result, log_path), secret_forms)
    registered = json.loads(result_file.read_text()) if result_file.exists() else {}
    # what the modules' and the lookup's own results carry (written to files, not output): also no form
    for name, data in sorted(registered.items()):
        leaks += [('%s registered' % name,) + leak[1:] for leak in find_leaks(
            {'x': json.dumps(dict((k, v) for k, v in data.items() if k != 'sent'), ensure_ascii=False)},
            secret_forms) if leak[1] != 'token-shaped text']
    problems = []
    if result.rc != 0:
        problems.append('the run failed (rc=%s): a task not allowed to fail did:\n%s' % (
            result.rc, mask(result.output[-3000:], secret_forms)))
    if sorted(registered) != sorted(list(values) + ['transport'] + (['lifecycle'] if lifecycle else [])):
        problems.append('results written: %s' % sorted(registered))
    if lifecycle:
        check_lifecycle(problems, registered.get('lifecycle'), life_ids['token'])
        if len(issued) < LIFECYCLE_SECRETS_MIN:
            problems.append('lifecycle: the emulator issued %d secrets, expected at least %d (the scan looked for '
                            'too little)' % (len(issued), LIFECYCLE_SECRETS_MIN))
    elif issued:
        problems.append('the emulator issued %d secrets in a run with no lifecycle play' % len(issued))
    for name, (value, dummy) in values.items():
        data = registered.get(name)
        if data is None:
            continue
        # the value reached the tasks as given (else this test proves nothing)
        if base64.b64decode(data['sent']).decode('utf-8') != value:
            problems.append('%s: the tasks did not get the hostile value unchanged' % name)
        modules = ['r2_token_info']
        if name in (ALL_MODULES_CASES_VVVV if verbosity else ALL_MODULES_CASES):
            modules += ['r2_token', 'r2_credential_set', 'r2_temp_credentials']
        for module in modules:
            check_refusal(problems, '%s %s' % (name, module), data[module], 'api_token', secret_forms)
        if name == 'env_cr':
            check_refusal(problems, '%s from CLOUDFLARE_API_TOKEN' % name, data['env_fallback'], 'api_token',
                          secret_forms)
        check_refusal(problems, '%s lookup' % name, data['lookup'], 'term 0', secret_forms)
        check_refusal(problems, '%s lookup (no_log)' % name, data['lookup_no_log'], '', secret_forms)
        check_refusal(problems, '%s query term 1' % name, data['lookup_term1'], 'term 1', secret_forms)
    transport = registered.get('transport', {})
    for key, data in sorted(transport.items()):
        if not isinstance(data, dict) or not data.get('failed'):
            problems.append('transport %s: did not fail' % key)
    # the lookup names the term of a transport failure
    for key in ('closed_lookup', 'reset_lookup'):
        if 'term 0' not in (message_of(transport.get(key)) or ''):
            problems.append('transport %s: the message does not name term 0: %r'
                            % (key, mask(message_of(transport.get(key)) or '', secret_forms)))
    if writes(cf):
        problems.append('the emulator saw writes: %s' % writes(cf))
    fired = [r for r in cf.stats()['requests'] if r.get('fault') == 'reset']
    if not fired:
        problems.append('no request met the reset fault: the transport part did not run')
    fail_on_leaks(leaks)
    assert not problems, '\n'.join(problems)


# --- the provision playbook ---------------------------------------------------------------------------------------

# One run per value: the role reads one provision_api_token per run (the reconcile's), so a few: the case (a
# `|` block), quoting, and the value from CLOUDFLARE_API_TOKEN (provision_api_token left empty). At -vvvv also the
# good token: through a closed port (a transport failure), and a run that succeeds.
ROLE_CASES = ('nl', 'quote_backslash', 'env_cr')
ROLE_CASES_VVVV = ('nl', 'closed_port')


def provision_inventory(tmp_path, cf, vars_file, api_url, hosts=2):
    variables = {
        'ansible_connection': 'local', 'ansible_python_interpreter': paths.venv_python(),
        'provision_user': 'root', 'provision_account_id': cf.account_id, 'provision_api_url': api_url,
        'provision_endpoint_overrides': cf.s3_endpoints, 'provision_check_retries': 0,
        'provision_retries': 1, 'provision_timeout': 3,
    }
    host_vars = dict(('web%d' % i, {
        'provision_credentials': [{'name': 'media', 'permission': 'object_read_only', 'buckets': ['fleet-ok']}],
        'provision_render_root': str(tmp_path / 'render' / ('web%d' % i))}) for i in range(hosts))
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'r2_clients': {'hosts': host_vars, 'vars': variables}}))
    return ['-i', str(path), '-e', '@' + str(vars_file)]


def run_provision_case(cf, run_playbook, case_dir, name, value, verbosity):
    """One provision run with provision_api_token (or, for env_cr, CLOUDFLARE_API_TOKEN) set to ``value``."""
    case_dir.mkdir()
    vars_file = case_dir / 'token.yml'
    env = {'ANSIBLE_LOG_PATH': str(case_dir / 'ansible.log')}
    api_url = 'http://127.0.0.1:%d/client/v4' % closed_port() if name == 'closed_port' else cf.api_url
    if name == 'env_cr':
        vars_file.write_text('provision_api_token: ""\n', encoding='utf-8')
        env['CLOUDFLARE_API_TOKEN'] = value
    elif name == 'nl':
        vars_file.write_text('provision_api_token: |\n  %s\n' % value.rstrip('\n'), encoding='utf-8')
    else:
        vars_file.write_text('provision_api_token: %s\n' % json.dumps(value), encoding='utf-8')
    if name != 'env_cr':
        assert yaml.safe_load(vars_file.read_text(encoding='utf-8'))['provision_api_token'] == value
    result = run_playbook('provision_fleet', verbosity=verbosity, timeout=240,
                          args=provision_inventory(case_dir, cf, vars_file, api_url), env=env)
    return result, outputs_of(result, case_dir / 'ansible.log')


def check_role_refusal(problems, name, result, secret_forms, case_dir):
    """Failed once per host at most, each failure naming the variable; no request, no credentials on any host."""
    text = mask(result.output, secret_forms)
    if result.rc == 0:
        problems.append('%s: the run succeeded' % name)
    if name == 'closed_port':
        # a good token through a transport failure: the reconcile's message, by type and path
        if 'connection error' not in text:
            problems.append('%s: no connection error reported:\n%s' % (name, text[-2500:]))
        return
    # the value from CLOUDFLARE_API_TOKEN: either name tells the user where to look
    options = ('CLOUDFLARE_API_TOKEN', 'provision_api_token') if name == 'env_cr' else ('provision_api_token',)
    # one clear message: each host fails once for the token (in one phase: not again in the reconcile's report or
    # its render), naming the variable; the run goes no further than the check
    failures = [f for f in failure_blocks(mask(result.stdout, secret_forms)) if 'api_token' in f.lower()]
    per_host = {}
    for failure in failures:
        per_host.setdefault(re.match(r'\w+: \[([^\]\s]+)', failure).group(1), []).append(failure)
    if not failures:
        problems.append('%s: no failure names the token problem:\n%s' % (name, text[-2500:]))
    for host, its in sorted(per_host.items()):
        if len(its) > 1:
            problems.append('%s: host %s fails %d times for the token (one clear message wanted):\n  %s'
                            % (name, host, len(its), '\n  '.join(f[:400] for f in its)))
    for failure in failures:
        if not any(option in failure for option in options):
            problems.append('%s: a failure does not name %s: %s' % (name, ' or '.join(options), failure[:600]))
            break
    if re.search(r'HTTP \d{3}|connection error', text):
        problems.append('%s: a request was made with the hostile token' % name)
    if any(os.path.exists(case_dir / 'render' / h / 'root' / '.aws' / 'credentials') for h in ('web0', 'web1')):
        problems.append('%s: a host got credentials' % name)


@pytest.mark.parametrize('verbosity', [0, 4], ids=['default', 'vvvv'])
def test_provision_with_a_hostile_api_token_fails_once_naming_the_variable_and_prints_no_form_of_it(
        cf, run_playbook, tmp_path, verbosity):
    cf.create_bucket('fleet-ok')
    values = hostile_values()
    good = cf.bootstrap_token
    values['closed_port'] = (good, good)
    cases = ROLE_CASES if verbosity == 0 else ROLE_CASES_VVVV
    secret_forms = dict((name, forms(*values[name])) for name in cases)
    secret_forms['good token'] = forms(good, good)
    cf.reset_stats()
    # the runs are independent (own inventory, render root, log): two at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict((name, pool.submit(run_provision_case, cf, run_playbook, tmp_path / name, name,
                                       values[name][0], verbosity)) for name in cases)
    leaks, problems = [], []
    for name in cases:
        result, outputs = runs[name].result()
        leaks += [('%s run: %s' % (name, leak[0]),) + leak[1:] for leak in find_leaks(outputs, secret_forms)]
        check_role_refusal(problems, name, result, secret_forms, tmp_path / name)
    if writes(cf):
        problems.append('the emulator saw writes: %s' % writes(cf))
    if [t for t in cf.tokens() if t['owner'] == 'account']:
        problems.append('account tokens were made')
    if verbosity:
        # and a run that works, with the good token in provision_api_token: no form of it, nor of any secret the
        # emulator issued, in the output of a run that writes every host's profiles
        result, outputs = run_provision_case(cf, run_playbook, tmp_path / 'good', 'good', good, verbosity)
        issued = dict(('issued secret %d' % i, forms(v, v)) for i, v in enumerate(cf.issued_secrets()))
        leaks += [('good run: %s' % leak[0],) + leak[1:] for leak in find_leaks(outputs, dict(secret_forms, **issued))]
        if result.rc != 0:
            problems.append('good: the run failed:\n%s' % mask(result.output[-3000:], secret_forms))
        elif not issued:
            problems.append('good: the emulator issued no secret')
    fail_on_leaks(leaks)
    assert not problems, '\n'.join(problems)
