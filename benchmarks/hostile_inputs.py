"""Hostile-input campaign: tries a broad set of bad inputs on the modules, the lookup and the provision role's
validation, and counts the outcomes ("hostile inputs tried, clear errors with 0 writes, problems left"; issue 9).

    ROOT=$(R2_BUILD_DIR=/tmp/h-build bash scripts/stage.sh | tail -1)
    PYTHONPATH=$ROOT .venv/bin/python benchmarks/hostile_inputs.py [--group module|role] [--only SUBSTRING] [-v]

Self-contained and offline: the emulator (tests/emulator/cfemu, ``Emulator(s3=False)``: the Cloudflare API only)
runs in this process, and so do the modules (``main()`` with the arguments patched in, ``exit_json`` and
``fail_json`` turned into an exception, the result formatted and ``no_log``-masked as Ansible does it, as
tests/unit/utils/ansible_module.py does), the ``r2_credentials`` lookup (its ``LookupModule`` with the options
given directly) and the role's pure validation (``_provision.normalize_host``, ``apply_observed``,
``entries_of_host`` and ``fleet``). An input the role accepts is also handed, as the role would hand it, to one
``r2_credential_set`` run in check mode against the emulator (the reconcile of the whole fleet). Every case starts
from a fresh emulator state (the bootstrap token, buckets media/logs in default and media-eu in eu); the client
never sleeps between retries. Takes a few seconds; nothing is written outside this process.

Groups: ``module`` (r2_token, r2_token_info, r2_credential_set, r2_temp_credentials, the r2_credentials lookup) and
``role`` (the provision role's validation and fleet model).

What counts. Each case says whether its input is bad (an error is expected), legitimately fine (success is
expected), or a read-only filter (either is fine, as long as nothing is written and nothing is echoed). A case is

* **clean**: bad input, and exactly one clear failure (no uncaught exception, no Python traceback) whose message
  names the field (a substring given per case, and for the role the host too), the emulator saw 0 writes (no
  POST/PUT/PATCH/DELETE to the API; refused ones count too), and, when the input holds a control character, the
  message (and every warning and log line) holds no control character and not the raw value (ansible-core's
  own syslog line of the arguments, "Invoked with ...", is left out of that check: it records every non-secret
  argument as given; it is scanned for secrets like the rest);
* **valid**: fine input, and it succeeded (for the role: with no error, and the reconcile accepted the entries);
* a **problem**: anything else: accepted when it should fail, refused when it is fine, a message that does not
  name the field (or the host), an uncaught exception, a write, an echoed control character or hostile value.

The API-token cases use the emulator's bootstrap token (random, 53 characters) decorated (trailing newline,
CRLF, NUL, ANSI escape, bidi override...) and check that no form of it (raw, stripped, repr-escaped,
JSON-escaped, a 20-character slice of its random part) is in the result (message, warnings, invocation), in a
line given to ``module.log`` or to the lookup's display. Problem details never print a secret: every form is
replaced by its name, and control characters are shown escaped.

Exit status: 0 when no case is a problem, 1 otherwise (2 when the collection cannot be imported). Not part of the
timed tests.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import string
import sys
import time
import traceback
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'emulator'))

from cfemu.server import Emulator  # noqa: E402  pylint: disable=wrong-import-position

try:
    from ansible.module_utils import basic  # noqa: E402
    from ansible.module_utils import _internal as module_utils_internal  # noqa: E402
    from ansible.module_utils.common import warnings as ansible_warnings  # noqa: E402
    from ansible.module_utils.testing import patch_module_args  # noqa: E402
    from ansible.errors import AnsibleLookupError  # noqa: E402

    from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _api, _provision  # noqa: E402
    from ansible_collections.cloudflare_r2.credentials.plugins.modules import (  # noqa: E402
        r2_credential_set, r2_temp_credentials, r2_token, r2_token_info)
    from ansible_collections.cloudflare_r2.credentials.plugins.lookup import r2_credentials  # noqa: E402
    from ansible_collections.cloudflare_r2.credentials.tests.unit.utils.secret_forms import (  # noqa: E402
        DECORATIONS, forms as token_forms)
except ImportError as exc:  # pragma: no cover
    sys.stderr.write('cannot import the collection (%s): run with PYTHONPATH set to the staged collections root:\n'
                     '  ROOT=$(R2_BUILD_DIR=/tmp/h-build bash scripts/stage.sh | tail -1)\n'
                     '  PYTHONPATH=$ROOT .venv/bin/python benchmarks/hostile_inputs.py\n' % exc)
    sys.exit(2)

MODULES = {'r2_token': r2_token, 'r2_token_info': r2_token_info, 'r2_credential_set': r2_credential_set,
           'r2_temp_credentials': r2_temp_credentials}
CONTROL_CATEGORIES = frozenset(('Cc', 'Cf', 'Zl', 'Zp'))
INVOCATION_LOG = 'Invoked with '
WRITE_METHODS = frozenset(('POST', 'PUT', 'PATCH', 'DELETE'))
BUCKETS = (('default', 'media'), ('default', 'logs'), ('eu', 'media-eu'))
HEX = string.hexdigits[:16]

# What a value is decorated with (tests/unit/utils/hostile_text.py, plus CRLF and surrounding spaces).
HOSTILE = (('newline', lambda v: v + '\n'), ('crlf', lambda v: v + '\r\n'), ('nul', lambda v: v[:2] + '\x00' + v[2:]),
           ('ansi', lambda v: '\x1b[31m' + v), ('bidi', lambda v: v[:2] + '\u202e' + v[2:]),
           ('u2028', lambda v: v + '\u2028'), ('nel', lambda v: v + '\x85'), ('tab', lambda v: v + '\t'),
           ('spaces', lambda v: ' %s ' % v))
# Decorations of a token value, and the forms a secret can reach output in: the leak tests' own.
TOKEN_DECORATIONS = dict(DECORATIONS)


def has_control(text):
    return isinstance(text, str) and any(unicodedata.category(c) in CONTROL_CATEGORIES for c in text)


def mask(text, forms):
    for name, form in sorted((forms or {}).items(), key=lambda kv: -len(kv[1])):
        text = text.replace(form, '<secret:%s>' % name)
    return text


def dump(value):
    return [json.dumps(value, default=str, sort_keys=True), json.dumps(value, default=str, ensure_ascii=False),
            repr(value)]


# ------------------------------------------------------------------------------------------------- running

class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__('module exit')
        self.result = result
        self.failed = failed


LOG_LINES = []      # module.log() lines and the lookup's display lines of the current case


def _formatted(module, kwargs):
    kwargs['warnings'] = list(ansible_warnings.get_warning_messages())
    kwargs.setdefault('invocation', {'module_args': module.params})
    return basic.remove_values(kwargs, module.no_log_values)


def install_patches():
    """As tests/unit/utils/ansible_module.patch_module_exits, for the whole process; plus no sleeping clients."""
    def exit_json(self, **kwargs):
        raise ModuleExit(_formatted(self, kwargs), False)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise ModuleExit(_formatted(self, kwargs), True)

    def log(self, msg, log_args=None):
        LOG_LINES.append(msg)

    module_utils_internal.is_controller = False
    basic.AnsibleModule.exit_json = exit_json
    basic.AnsibleModule.fail_json = fail_json
    basic.AnsibleModule.log = log
    real_init = _api.CloudflareClient.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.sleep = lambda seconds: None
    _api.CloudflareClient.__init__ = init
    for name in ('vvv', 'vv', 'v', 'vvvv', 'debug', 'display', 'warning'):
        setattr(r2_credentials.display, name, lambda msg, *a, **k: LOG_LINES.append(msg))
    for name in ('CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID', 'CLOUDFLARE_API_URL'):
        os.environ.pop(name, None)


class Outcome:
    def __init__(self, failed, msg, texts, crash=None, detail=None, lines=None):
        self.failed = failed
        self.msg = msg or ''
        self.texts = texts          # every text a user or a log could see (secret scan)
        self.lines = [self.msg] + list(lines or [])   # what is shown as text: message, warnings, log lines
        self.crash = crash
        self.detail = detail        # extra context for a problem report
        self.writes = []
        self.requests = []          # every API request (method and route), for the no_calls cases


def run_module(name, params, env=None):
    ansible_warnings._global_warnings = {}
    ansible_warnings._global_deprecations = []
    saved = dict((k, os.environ.get(k)) for k in (env or {}))
    os.environ.update(env or {})
    try:
        with patch_module_args(params):
            try:
                MODULES[name].main()
            except ModuleExit as exc:
                result = exc.result
                lines = list(LOG_LINES) + [str(w) for w in result.get('warnings') or []]
                return Outcome(exc.failed, result.get('msg') if exc.failed else '', dump(result) + lines,
                               detail=result, lines=lines)
            except SystemExit as exc:
                return Outcome(True, '', list(LOG_LINES), crash='SystemExit(%s) without a result' % exc.code)
            except Exception as exc:  # pylint: disable=broad-except
                return Outcome(True, '', list(LOG_LINES), crash=_crash(exc))
        return Outcome(True, '', [], crash='main() returned without exit_json/fail_json')
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _crash(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    where = ['%s:%d' % (os.path.relpath(f.filename, os.getcwd()) if 'ansible_collections' not in f.filename
                        else f.filename.split('ansible_collections/cloudflare_r2/credentials/')[-1], f.lineno)
             for f in frames[-3:]]
    return 'uncaught %s: %s (at %s)' % (type(exc).__name__, ascii(str(exc))[:300], ' <- '.join(reversed(where)))


def run_lookup(terms, options):
    plugin = r2_credentials.LookupModule()
    plugin.set_options = lambda **kwargs: None
    plugin.get_option = options.get
    try:
        results = plugin.run(terms)
    except AnsibleLookupError as exc:
        return Outcome(True, str(exc), [str(exc)] + list(LOG_LINES), lines=list(LOG_LINES))
    except Exception as exc:  # pylint: disable=broad-except
        return Outcome(True, str(exc), [str(exc)] + list(LOG_LINES), crash=_crash(exc), lines=list(LOG_LINES))
    return Outcome(False, '', dump(results) + list(LOG_LINES), detail=results, lines=list(LOG_LINES))


# ------------------------------------------------------------------------------------------------- cases

class Case:
    """One hostile (or control) input. ``expect``: 'error' (bad input), 'ok' (fine input) or 'either' (a
    read-only filter: a clean error or a success without writes). ``field``: what the message must name.
    ``hostile``: the raw hostile value (checked for echo when it holds a control character). ``secrets``:
    {name: forms} that must appear nowhere."""

    def __init__(self, group, target, desc, run, expect='error', field=None, hostile=None, secrets_=None,
                 host=None, no_calls=False, no_echo=False):
        self.group, self.target, self.desc, self.run = group, target, desc, run
        self.expect, self.field, self.hostile, self.secrets, self.host = expect, field, hostile, secrets_ or {}, host
        # no_calls: refused before any API request at all (not only before the first write); no_echo: the raw
        # value must not be in any message or log line even without a control character (a very long value)
        self.no_calls, self.no_echo = no_calls, no_echo


class Campaign:
    def __init__(self, emu):
        self.emu = emu
        self.account = emu.account_id
        self.token = emu.bootstrap_token
        self.cases = []

    # -- the emulator ----------------------------------------------------------------------------------

    def fresh(self, seed=None):
        state = self.emu.state
        state.reset_all()
        for jurisdiction, name in BUCKETS:
            state.r2.create_bucket(jurisdiction, name)
        if seed:
            seed(state)
        state.reset_stats()
        del LOG_LINES[:]

    def writes(self):
        return ['%s -> %s' % (r.get('route') or '%s %s' % (r['method'], r['path']), r.get('status'))
                for r in self.emu.state.stats()['requests'] if r['method'] in WRITE_METHODS]

    def requests(self):
        return ['%s -> %s' % (r.get('route') or '%s %s' % (r['method'], r['path']), r.get('status'))
                for r in self.emu.state.stats()['requests']]

    def conn(self, **extra):
        params = {'api_token': self.token, 'account_id': self.account, 'api_url': self.emu.api_url, 'retries': 2,
                  'timeout': 10}
        params.update(extra)
        return dict((k, v) for k, v in params.items() if v is not None)

    # -- adding cases ----------------------------------------------------------------------------------

    def module(self, module, desc, args, expect='error', field=None, hostile=None, secrets_=None, seed=None,
               env=None, conn=None, no_calls=False, no_echo=False):
        def run():
            self.fresh(seed)
            params = self.conn(**(conn or {}))
            params.update(args)
            params = dict((k, v) for k, v in params.items() if v is not None)
            outcome = run_module(module, params, env)
            outcome.writes = self.writes()
            outcome.requests = self.requests()
            return outcome
        self.cases.append(Case('module', module, desc, run, expect, field, hostile, secrets_, no_calls=no_calls,
                               no_echo=no_echo))

    def lookup(self, desc, terms, options=None, expect='error', field=None, hostile=None, secrets_=None,
               no_calls=False, no_echo=False):
        def run():
            self.fresh()
            # the lookup's option defaults (doc fragment), as ansible-core would set them
            opts = dict(account_id=self.account, api_url=self.emu.api_url, validate_certs=True, timeout=10,
                        retries=2, jurisdiction='default', rate_limit=1200, rate_window=300.0, deadline=900.0)
            opts.update(options or {})
            outcome = run_lookup(terms, opts)
            outcome.writes = self.writes()
            outcome.requests = self.requests()
            return outcome
        self.cases.append(Case('module', 'lookup r2_credentials', desc, run, expect, field, hostile, secrets_,
                               no_calls=no_calls, no_echo=no_echo))

    def role(self, desc, credentials, settings=None, host='web1', expect='error', field=None, hostile=None,
             target='normalize_host', no_echo=False):
        def run():
            self.fresh()
            return self.role_pipeline([(host, credentials, settings)])
        self.cases.append(Case('role', target, desc, run, expect, field, hostile, host=host, no_echo=no_echo))

    def role_fleet(self, desc, hosts, expect='error', field=None, hostile=None, machines=None, check_hosts=None):
        """Several hosts through normalize_host, apply_observed and fleet; ``machines``: {host: (machine id,
        {user: files id})} of what r2_client_files_info would report."""
        def run():
            self.fresh()
            return self.role_pipeline(hosts, machines)
        self.cases.append(Case('role', 'fleet', desc, run, expect, field, hostile,
                               host=check_hosts or [h for h, dummy, dummy2 in hosts]))

    def role_settings(self, overrides):
        settings = {'account_id': self.account, 'user': 'deploy'}
        settings.update(overrides or {})
        return dict((k, v) for k, v in settings.items() if v is not None or k in overrides)

    def role_pipeline(self, hosts, machines=None):
        """What the role does with the hosts' variables up to (and with) the reconcile, in check mode."""
        errors = []
        inspected = []
        for host, credentials, settings in hosts:
            settings = self.role_settings(settings)
            try:
                plan = _provision.normalize_host(host, copy.deepcopy(credentials), settings)
            except Exception as exc:  # pylint: disable=broad-except
                return Outcome(True, '', [], crash='normalize_host: ' + _crash(exc))
            if plan['errors']:
                errors.append('; '.join(plan['errors']))     # the inspect action's message
                continue
            machine_id, files = (machines or {}).get(host, (None, {}))
            observed = [{'user': user, 'exists': True, 'home': '/home/%s' % user,
                         'files_id': files.get(user), 'profiles': {}} for user in plan['users']]
            machine = {'id': machine_id, 'hostname': 'box-%s' % machine_id} if machine_id else None
            try:
                _provision.inspect_spec(plan, settings)
                _provision.apply_observed(plan, observed, settings, machine)
                entries = _provision.entries_of_host(plan)
            except Exception as exc:  # pylint: disable=broad-except
                return Outcome(True, '', [], crash='after normalize_host: ' + _crash(exc))
            inspected.append({'host': host, 'plan': plan, 'entries': entries, 'account_id': settings['account_id']})
        if errors:
            return Outcome(True, '\n'.join(errors), list(errors))
        try:
            collected = _provision.fleet(inspected)
        except Exception as exc:  # pylint: disable=broad-except
            return Outcome(True, '', [], crash='fleet: ' + _crash(exc))
        if collected['errors']:
            messages = [collected['errors'][h] for h in sorted(collected['errors'])]
            outcome = Outcome(True, '\n'.join(messages), messages)
            outcome.detail = {'fleet_errors': collected['errors']}
            return outcome
        # the reconcile of the fleet (check mode: no write may happen)
        reconcile = run_module('r2_credential_set', self.conn(tokens=collected['tokens'],
                                                              temporary=collected['temporary'],
                                                              _ansible_check_mode=True))
        writes = self.writes()
        if reconcile.crash or reconcile.failed or writes:
            outcome = Outcome(True, reconcile.msg, reconcile.texts, lines=reconcile.lines[1:],
                              crash=('reconcile: ' + reconcile.crash) if reconcile.crash else None)
            outcome.detail = {'stage': 'reconcile (r2_credential_set, check mode)', 'writes': writes}
            outcome.writes = writes
            return outcome
        return Outcome(False, '', reconcile.texts)


# ------------------------------------------------------------------------------------------------- judging

def judge(case, outcome):
    """(verdict, [reasons]): verdict 'clean', 'valid' or 'problem'."""
    reasons = []
    if outcome.crash:
        return 'problem', [outcome.crash]
    for name, forms in case.secrets.items():
        for form_name, form in sorted(forms.items()):
            if any(form in text for text in outcome.texts if isinstance(text, str)):
                reasons.append('%s (%s form) appears in the output or a log line' % (name, form_name))
    if not outcome.failed:
        if case.expect == 'error':
            reasons.append('accepted (no error)%s' % (
                '; %d write(s): %s' % (len(outcome.writes), ', '.join(outcome.writes[:5])) if outcome.writes else
                '; no write'))
        elif case.expect == 'either' and outcome.writes:
            reasons.append('read-only filter made %d write(s)' % len(outcome.writes))
        return ('problem', reasons) if reasons else ('valid', [])
    if case.expect == 'ok':
        reasons.append('refused a valid input')
        return 'problem', reasons
    msg = outcome.msg
    if not msg.strip():
        reasons.append('failed without a message')
    if 'Traceback (most recent call last)' in msg:
        reasons.append('the message is a Python traceback')
    if case.field and case.field not in msg:
        reasons.append('the message does not name %r' % case.field)
    hosts = case.host if isinstance(case.host, list) else [case.host] if case.host else []
    for host in hosts:
        if not has_control(host) and host not in msg:
            reasons.append('the message does not name the host %r' % host)
    if outcome.writes:
        reasons.append('%d write(s) before the error: %s' % (len(outcome.writes), ', '.join(outcome.writes[:5])))
    elif case.no_calls and outcome.requests:
        reasons.append('%d API request(s) before the error (a bad option is refused before any request): %s'
                       % (len(outcome.requests), ', '.join(outcome.requests[:5])))
    if isinstance(outcome.detail, dict) and str(outcome.detail.get('stage', '')).startswith('reconcile'):
        reasons.append('accepted by the host\'s inspect, refused only by the reconcile: every host of the fleet '
                       'fails')
    # message, warnings, log lines; not ansible-core's own syslog record of the arguments ("Invoked with ..."),
    # which holds every non-secret argument as given (it is scanned for secrets like everything else)
    shown = [t for t in outcome.lines if isinstance(t, str) and not t.startswith(INVOCATION_LOG)]
    hostile = case.hostile
    if has_control(hostile) or (isinstance(hostile, list) and any(has_control(h) for h in hostile)):
        values = hostile if isinstance(hostile, list) else [hostile]
        if any(has_control(text) for text in shown):
            chars = sorted(set('U+%04X' % ord(c) for text in shown for c in text
                               if unicodedata.category(c) in CONTROL_CATEGORIES))
            reasons.append('control character(s) %s in the message or a log line' % ', '.join(chars))
        if any(v in text for v in values if isinstance(v, str) and v.strip() for text in shown):
            reasons.append('the raw hostile value is echoed')
    elif case.no_echo and isinstance(hostile, str) and hostile.strip():
        if any(hostile.strip() in text for text in shown if isinstance(text, str)):
            reasons.append('the raw hostile value is echoed')
    return ('problem', reasons) if reasons else ('clean', [])


# ------------------------------------------------------------------------------------------------- the cases

def module_cases(c):
    acct, token = c.account, c.token
    tok = dict(name='hostile-ok', permission='object_read_write', buckets=['media'])

    # -- r2_token: names
    for label, make in HOSTILE:
        value = make('hostile-name')
        c.module('r2_token', 'name with %s' % label, dict(tok, name=value), field='name', hostile=value)
    c.module('r2_token', "name ending '~next'", dict(tok, name='web1~next'), field='name')
    c.module('r2_token', 'name of 121 characters', dict(tok, name='n' * 121), field='name')
    c.module('r2_token', 'name of 120 characters (the limit)', dict(tok, name='n' * 120), expect='ok')
    c.module('r2_token', 'name with non-ASCII letters and an inner space', dict(tok, name='médias de l\u2019été'),
             expect='ok')
    c.module('r2_token', 'state=absent, name with ANSI escape', {'name': '\x1b[2Jgone', 'state': 'absent'},
             field='name', hostile='\x1b[2Jgone')
    c.module('r2_token', "state=absent, name ending '~next'", {'name': 'x~next', 'state': 'absent'}, field='name')
    c.module('r2_token', 'two existing tokens share the name', dict(tok, name='dup'), field='name',
             seed=lambda s: [s.seed({'owner': 'account', 'name': 'dup'}) for dummy in range(2)])
    # -- r2_token: buckets
    for label, value in (('trailing newline', 'media\n'), ('ANSI escape', 'med\x1b[31mia'), ('bidi', 'med\u202eia')):
        c.module('r2_token', 'bucket name with %s (check_buckets=false)' % label,
                 dict(tok, buckets=[value], check_buckets=False), field='buckets', hostile=value)
    c.module('r2_token', 'bucket name in upper case', dict(tok, buckets=['Media']), field='buckets')
    c.module('r2_token', 'bucket listed twice', dict(tok, buckets=['media', 'media']), field='buckets')
    c.module('r2_token', '501 buckets', dict(tok, buckets=['b%03d' % i for i in range(501)], check_buckets=False),
             field='buckets')
    c.module('r2_token', 'bucket dict with an unknown key', dict(tok, buckets=[{'name': 'media', 'nmae': 'x'}]),
             field='buckets')
    c.module('r2_token', 'bucket dict with jurisdiction "eu\\n"',
             dict(tok, buckets=[{'name': 'media-eu', 'jurisdiction': 'eu\n'}]), field='jurisdiction', hostile='eu\n')
    c.module('r2_token', 'bucket that does not exist', dict(tok, buckets=['no-such-bucket']), field='buckets')
    c.module('r2_token', 'bucket as a number', dict(tok, buckets=[42], check_buckets=False), field='buckets')
    c.module('r2_token', 'admin permission with buckets', dict(tok, permission='admin_read_write'), field='buckets')
    # -- r2_token: account, options
    for label, value in (('trailing newline', acct + '\n'), ('bidi', acct[:4] + '\u202e' + acct[4:]),
                         ('31 characters', acct[:31]), ('not hex', 'z' * 32)):
        c.module('r2_token', 'account_id with %s' % label, dict(tok), conn={'account_id': value}, field='account_id',
                 hostile=value)
    c.module('r2_token', 'jurisdiction "eu\\n"', dict(tok, buckets=['media-eu'], jurisdiction='eu\n'),
             field='jurisdiction', hostile='eu\n')
    c.module('r2_token', 'jurisdiction with ANSI escape', dict(tok, jurisdiction='\x1b[31meu'), field='jurisdiction',
             hostile='\x1b[31meu')
    c.module('r2_token', 'permission "object_read_write\\n"', dict(tok, permission='object_read_write\n'),
             field='permission', hostile='object_read_write\n')
    c.module('r2_token', 'permission "root"', dict(tok, permission='root'), field='permission')
    c.module('r2_token', 'owner with ANSI escape', dict(tok, owner='user\x1b[0m'), field='owner', hostile='user\x1b[0m')
    for label, value in (('not an address', ['not-an-ip']), ('trailing newline', ['10.0.0.0/8\n']),
                         ('ANSI escape', ['10.0.0.1\x1b[31m']), ('prefix /33', ['10.0.0.0/33']),
                         ('101 entries', ['10.0.%d.1' % i for i in range(101)])):
        c.module('r2_token', 'ip_allow %s' % label, dict(tok, ip_allow=value), field='ip_allow',
                 hostile=value[0] if len(value) == 1 else None)
    c.module('r2_token', 'ip_deny "::1/200"', dict(tok, ip_deny=['::1/200']), field='ip_deny')
    for label, value in (('"tomorrow"', 'tomorrow'), ('with a trailing newline', '2030-01-01T00:00:00Z\n'),
                         ('in the past', '2001-01-01T00:00:00Z'), ('month 13', '2030-13-01T00:00:00Z'),
                         ('with ANSI escape', '2030-01-01\x1b[31m')):
        c.module('r2_token', 'expires_on %s' % label, dict(tok, expires_on=value), field='expires_on',
                 hostile=value)
    c.module('r2_token', 'not_before after expires_on',
             dict(tok, expires_on='2030-01-01T00:00:00Z', not_before='2031-01-01T00:00:00Z'), field='not_before')
    c.module('r2_token', 'timeout 0', dict(tok), conn={'timeout': 0}, field='timeout')
    c.module('r2_token', 'rate_limit -1', dict(tok), conn={'rate_limit': -1}, field='rate_limit')
    c.module('r2_token', 'rate_window 0', dict(tok), conn={'rate_window': 0}, field='rate_window')
    c.module('r2_token', 'deadline -5', dict(tok), conn={'deadline': -5}, field='deadline')
    c.module('r2_token', 'retries -1', dict(tok), conn={'retries': -1}, field='retries')
    # -- r2_token: api_url (not a URL, a newline, user info, another scheme)
    api = c.emu.api_url
    for label, value in (('"not a url"', 'not a url'), ('trailing newline', api + '\n'),
                         ('user:password@', api.replace('http://', 'http://u:p@')), ('ftp://', 'ftp://x/client/v4'),
                         ('with a query', api + '?x=1')):
        c.module('r2_token', 'api_url %s' % label, dict(tok), conn={'api_url': value}, field='api_url',
                 hostile=value)
    # -- r2_token: the API token
    for label in ('newline', 'crlf', 'nul', 'ansi', 'line_separator', 'rlo', 'tab', 'leading_spaces', 'inner_space',
                  'bearer_prefix'):
        value = TOKEN_DECORATIONS[label](token)
        c.module('r2_token', 'api_token with %s' % label, dict(tok), conn={'api_token': value}, field='api_token',
                 hostile=value, secrets_={'api_token': token_forms(value, token)})
    value = token + '\n'
    c.module('r2_token', 'CLOUDFLARE_API_TOKEN with a trailing newline', dict(tok), conn={'api_token': None},
             env={'CLOUDFLARE_API_TOKEN': value}, field='CLOUDFLARE_API_TOKEN', hostile=value,
             secrets_={'api_token': token_forms(value, token)})
    unknown = 'cfut_' + secrets.token_urlsafe(30).replace('-', 'a').replace('_', 'b')[:40] + secrets.token_hex(4)
    c.module('r2_token', 'api_token well-formed but unknown (401)', dict(tok), conn={'api_token': unknown},
             field='api_token', secrets_={'api_token': token_forms(unknown, unknown)})
    c.module('r2_token', 'no api_token at all', dict(tok), conn={'api_token': None}, field='api_token')
    c.module('r2_token', 'a valid token (control case)', dict(tok), expect='ok')

    # -- r2_token_info
    for label in ('newline', 'crlf', 'trailing_space', 'zero_width', 'non_ascii', 'quote_backslash'):
        value = TOKEN_DECORATIONS[label](token)
        c.module('r2_token_info', 'api_token with %s' % label, {}, conn={'api_token': value}, field='api_token',
                 hostile=value, secrets_={'api_token': token_forms(value, token)})
    c.module('r2_token_info', 'name filter with a trailing newline (read-only)', {'name': 'web1\n'}, expect='either',
             field='name', hostile='web1\n')
    c.module('r2_token_info', 'name_prefix with ANSI escape (read-only)', {'name_prefix': '\x1b[31mweb'},
             expect='either', field='name_prefix', hostile='\x1b[31mweb')
    for label, value in (('ANSI escape', '[?name==`\x1b[31m`'), ('bidi', '[?name==\u202e'),
                         ('newline', "[?name=='a'\n]]")):
        c.module('r2_token_info', 'invalid query with %s' % label, {'query': value}, field='query', hostile=value)
    c.module('r2_token_info', 'owner "account\\n"', {'owner': 'account\n'}, field='owner', hostile='account\n')
    c.module('r2_token_info', 'account_id with a trailing newline', {}, conn={'account_id': acct + '\n'},
             field='account_id', hostile=acct + '\n')
    c.module('r2_token_info', 'a valid query (control case)', {'query': '[].name'}, expect='ok')

    # -- r2_temp_credentials
    temp = dict(bucket='media', permission='object_read_only', ttl_seconds=900)
    local = dict(temp, signing='local', parent_access_key_id='f' * 32, parent_secret_access_key='e' * 64)
    for label, make in HOSTILE:
        value = make('media')
        c.module('r2_temp_credentials', 'bucket with %s' % label, dict(temp, bucket=value, check_bucket=False),
                 field='bucket', hostile=value)
    c.module('r2_temp_credentials', 'bucket that does not exist', dict(temp, bucket='no-such-bucket'), field='bucket')
    for label, value in (('"abc?x=1"', 'abc?x=1'), ('"../../../user/tokens/verify"', '../../../user/tokens/verify'),
                         ('32 hex + newline', 'f' * 32 + '\n'), ('31 hex', 'f' * 31),
                         ('bidi', 'f' * 16 + '\u202e' + 'f' * 15)):
        c.module('r2_temp_credentials', 'parent_access_key_id %s' % label, dict(temp, parent_access_key_id=value),
                 field='parent_access_key_id', hostile=value)
    absent = secrets.token_hex(16)
    c.module('r2_temp_credentials', 'parent token absent from the account (well-formed id)',
             dict(temp, parent_access_key_id=absent), field='parent_access_key_id')
    for value in (0, 604801, -1):
        c.module('r2_temp_credentials', 'ttl_seconds %r' % value, dict(temp, ttl_seconds=value), field='ttl_seconds')
    c.module('r2_temp_credentials', "ttl_seconds '1h'", dict(temp, ttl_seconds='1h'), field='ttl_seconds')
    c.module('r2_temp_credentials', 'ttl_seconds 604800 (the limit)', dict(temp, ttl_seconds=604800), expect='ok')
    for label, value in (('newline', ['logs/\n']), ('ANSI escape', ['\x1b[31mlogs/']), ('U+2028', ['a\u2028b/']),
                         ('NUL', ['logs\x00/']), ('an empty string', ['']), ('a number', [42]),
                         ('a dict', [{'a': 1}])):
        c.module('r2_temp_credentials', 'prefixes entry with %s' % label, dict(temp, prefixes=value),
                 field='prefixes', hostile=value[0] if isinstance(value[0], str) else None)
    c.module('r2_temp_credentials', '20,000 prefixes', dict(temp, prefixes=['p%05d/' % i for i in range(20000)]),
             field='prefixes')
    c.module('r2_temp_credentials', 'objects entry with NEL', dict(temp, objects=['a\x85b']), field='objects',
             hostile='a\x85b')
    c.module('r2_temp_credentials', '101 objects', dict(temp, objects=['o%d' % i for i in range(101)]),
             field='objects')
    c.module('r2_temp_credentials', 'prefixes with spaces and non-ASCII (fine)',
             dict(temp, prefixes=['my logs/', 'donn\u00e9es/']), expect='ok')
    for label, value in (('"not a url"', 'not a url'), ('"http://"', 'http://'), ('"ftp://x"', 'ftp://x'),
                         ('"http://u:p@h"', 'http://u:p@h'), ('with a query', 'https://h.example/?x=1'),
                         ('with a trailing newline', 'https://h.example\n'), ('port 0', 'https://h.example:0'),
                         ('port 99999', 'https://h.example:99999')):
        c.module('r2_temp_credentials', 'local signing, endpoint_url %s' % label, dict(local, endpoint_url=value),
                 field='endpoint_url', hostile=value)
    c.module('r2_temp_credentials', 'signing=api, endpoint_url "not a url"', dict(temp, endpoint_url='not a url'),
             field='endpoint_url')
    c.module('r2_temp_credentials', 'local signing with a good endpoint (fine)',
             dict(local, endpoint_url='https://127.0.0.1:9000'), expect='ok')
    c.module('r2_temp_credentials', 'local signing without parent_secret_access_key',
             dict(local, parent_secret_access_key=None), field='parent_secret_access_key')
    c.module('r2_temp_credentials', 'local signing, parent_secret_access_key with a trailing newline',
             dict(local, parent_secret_access_key='e' * 64 + '\n'), field='parent_secret_access_key',
             hostile='e' * 64 + '\n', secrets_={'parent_secret': token_forms('e' * 64 + '\n', 'e' * 64)})
    c.module('r2_temp_credentials', 'actions with signing=api', dict(temp, actions=['GetObject']), field='actions')
    c.module('r2_temp_credentials', 'local signing, action "GetObject\\n"', dict(local, actions=['GetObject\n']),
             field='actions', hostile='GetObject\n')
    c.module('r2_temp_credentials', 'permission "object-read-only" (API spelling)',
             dict(temp, permission='object-read-only'), field='permission')
    c.module('r2_temp_credentials', 'jurisdiction "eu\\r\\n"', dict(temp, bucket='media-eu', jurisdiction='eu\r\n'),
             field='jurisdiction', hostile='eu\r\n')
    for label in ('newline', 'quote_backslash'):
        value = TOKEN_DECORATIONS[label](token)
        c.module('r2_temp_credentials', 'api_token with %s' % label, dict(temp), conn={'api_token': value},
                 field='api_token', hostile=value, secrets_={'api_token': token_forms(value, token)})
    c.module('r2_temp_credentials', 'a valid request (control case)', dict(temp), expect='ok')

    # -- r2_credential_set
    entry = dict(name='set-a', permission='object_read_write', buckets=['media'])
    for label, make in (h for h in HOSTILE if h[0] in ('newline', 'ansi', 'bidi', 'nel', 'tab', 'spaces')):
        value = make('set-a')
        c.module('r2_credential_set', 'tokens[0].name with %s' % label, {'tokens': [dict(entry, name=value)]},
                 field='name', hostile=value)
    c.module('r2_credential_set', 'tokens[0].name of 116 characters (no room for ~next)',
             {'tokens': [dict(entry, name='n' * 116)]}, field='name')
    c.module('r2_credential_set', 'tokens[0].name of 115 characters (fine)', {'tokens': [dict(entry, name='n' * 115)]},
             expect='ok')
    c.module('r2_credential_set', "tokens[0].name ending '~next'", {'tokens': [dict(entry, name='set-a~next')]},
             field='name')
    c.module('r2_credential_set', 'two token entries with the same name', {'tokens': [entry, dict(entry)]},
             field='name')
    c.module('r2_credential_set', 'a temporary entry named like a token entry',
             {'tokens': [entry], 'temporary': [{'name': 'set-a', 'bucket': 'media', 'parent': 'set-a'}]},
             field='name')
    c.module('r2_credential_set', 'tokens[0].label with ANSI escape', {'tokens': [dict(entry, label='\x1b[31mweb1')]},
             field='label', hostile='\x1b[31mweb1')
    c.module('r2_credential_set', 'tokens[0].jurisdiction "eu\\n"',
             {'tokens': [dict(entry, buckets=['media-eu'], jurisdiction='eu\n')]}, field='jurisdiction',
             hostile='eu\n')
    c.module('r2_credential_set', 'tokens[0].permission with U+2028',
             {'tokens': [dict(entry, permission='object_read_write\u2028')]}, field='permission',
             hostile='object_read_write\u2028')
    c.module('r2_credential_set', 'tokens[0].buckets ["media-eu\\n"] (check_buckets=false)',
             {'tokens': [dict(entry, buckets=['media-eu\n'], jurisdiction='eu')], 'check_buckets': False},
             field='buckets', hostile='media-eu\n')
    c.module('r2_credential_set', 'tokens[0].ip_allow garbage', {'tokens': [dict(entry, ip_allow=['10.0.0.300'])]},
             field='ip_allow')
    c.module('r2_credential_set', 'tokens[0].expires_on garbage', {'tokens': [dict(entry, expires_on='soon')]},
             field='expires_on')
    c.module('r2_credential_set', '5001 token entries',
             {'tokens': [{'name': 'n%d' % i, 'state': 'absent'} for i in range(5001)]}, field='tokens')
    c.module('r2_credential_set', 'two existing tokens share the name, held_access_key_id with ANSI escape',
             {'tokens': [dict(entry, name='dup', held_access_key_id='\x1b[2J\x1b[31mgotcha')]}, field='name',
             hostile='\x1b[2J\x1b[31mgotcha',
             seed=lambda s: [s.seed({'owner': 'account', 'name': 'dup'}) for dummy in range(2)])
    c.module('r2_credential_set', 'token_quota -1', {'tokens': [entry], 'token_quota': -1}, field='token_quota')
    # several accounts, local signing (0.5.0)
    for label, value in (('a newline', c.account + '\n'), ('an ANSI escape', '\x1b[31m' + c.account[8:])):
        c.module('r2_credential_set', 'tokens[0].account_id with %s' % label,
                 {'tokens': [dict(entry, account_id=value)]}, field='account_id', hostile=value)
        c.module('r2_credential_set', 'accounts[0].account_id with %s' % label,
                 {'tokens': [entry], 'accounts': [{'account_id': value}]}, field='accounts[0].account_id',
                 hostile=value)
    c.module('r2_credential_set', 'accounts[0].api_url with a newline',
             {'tokens': [dict(entry, account_id='f' * 32)],
              'accounts': [{'account_id': 'f' * 32, 'api_url': 'https://x.example.test\n'}]},
             field='api_url', hostile='https://x.example.test\n')
    key = secrets.token_hex(32)
    c.module('r2_credential_set', 'tokens[0].signing_key with a trailing newline',
             {'tokens': [dict(entry, signing_key=key + '\n')]}, field='signing_key',
             secrets_={'signing_key': {'raw': key, 'given': key + '\n', 'json': json.dumps(key + '\n')}})
    c.module('r2_credential_set', 'temporary[0] signing=local without a signing_key',
             {'tokens': [entry], 'temporary': [dict(name='tmp-l', bucket='media', parent='set-a', signing='local')]},
             field='signing')
    tmp = dict(name='tmp-a', bucket='media', permission='object_read_only', ttl_seconds=3600)
    c.module('r2_credential_set', 'temporary[0].bucket with a trailing newline',
             {'temporary': [dict(tmp, bucket='media\n')]}, field='bucket', hostile='media\n')
    c.module('r2_credential_set', 'temporary[0].name with bidi', {'temporary': [dict(tmp, name='tmp\u202ea')]},
             field='name', hostile='tmp\u202ea')
    c.module('r2_credential_set', 'temporary[0].parent_access_key_id "abc?x=1"',
             {'temporary': [dict(tmp, parent_access_key_id='abc?x=1')]}, field='parent_access_key_id')
    c.module('r2_credential_set', 'temporary[0].parent_access_key_id "../../../user/tokens/verify"',
             {'temporary': [dict(tmp, parent_access_key_id='../../../user/tokens/verify')]},
             field='parent_access_key_id')
    c.module('r2_credential_set', 'temporary[0].parent_access_key_id of a token absent from the account',
             {'temporary': [dict(tmp, parent_access_key_id=secrets.token_hex(16))]}, field='parent_access_key_id')
    c.module('r2_credential_set', 'temporary[0].parent not an entry of the run',
             {'temporary': [dict(tmp, parent='nobody')]}, field='parent')
    c.module('r2_credential_set', 'temporary[0].parent with ANSI escape',
             {'temporary': [dict(tmp, parent='\x1b[31mnobody')]}, field='parent', hostile='\x1b[31mnobody')
    c.module('r2_credential_set', 'temporary[0].parent is a token entry with state=absent',
             {'tokens': [{'name': 'set-a', 'state': 'absent'}], 'temporary': [dict(tmp, parent='set-a')]},
             field='parent')
    c.module('r2_credential_set', "temporary[0] bucket outside its parent token's buckets",
             {'tokens': [entry], 'temporary': [dict(tmp, bucket='logs', parent='set-a')]}, field='bucket')
    c.module('r2_credential_set', 'temporary[0].prefixes: 20,000', {'temporary': [
        dict(tmp, prefixes=['p%05d/' % i for i in range(20000)])]}, field='prefixes')
    c.module('r2_credential_set', 'temporary[0].prefixes entry with a tab', {'temporary': [
        dict(tmp, prefixes=['logs/\t'])]}, field='prefixes', hostile='logs/\t')
    for value in (0, 604801):
        c.module('r2_credential_set', 'temporary[0].ttl_seconds %d' % value,
                 {'temporary': [dict(tmp, ttl_seconds=value)]}, field='ttl_seconds')
    c.module('r2_credential_set', "temporary[0].ttl_seconds '1h'", {'temporary': [dict(tmp, ttl_seconds='1h')]},
             field='ttl_seconds')
    c.module('r2_credential_set', 'temporary[0].renew_before = ttl_seconds',
             {'temporary': [dict(tmp, renew_before=3600)]}, field='renew_before')
    c.module('r2_credential_set', 'temporary[0].held_expiration garbage (re-mints: fine)',
             {'temporary': [dict(tmp, held_access_key_id='a' * 32, held_expiration='\x1b[31mnever')]}, expect='ok')
    for label in ('newline', 'cr'):
        value = TOKEN_DECORATIONS[label](token)
        c.module('r2_credential_set', 'api_token with %s' % label, {'tokens': [entry]}, conn={'api_token': value},
                 field='api_token', hostile=value, secrets_={'api_token': token_forms(value, token)})
    c.module('r2_credential_set', 'a valid token and temporary (control case)',
             {'tokens': [entry], 'temporary': [dict(tmp, parent='set-a')]}, expect='ok')

    # -- the r2_credentials lookup
    for label in ('newline', 'crlf', 'nul', 'ansi', 'rlo', 'leading_spaces', 'zero_width'):
        value = TOKEN_DECORATIONS[label](token)
        c.lookup('term with %s' % label, [value], field='term 0', hostile=value,
                 secrets_={'term': token_forms(value, token)})
    value = token + '\n'
    c.lookup('second term with a newline', [token, value], field='term 1', hostile=value,
             secrets_={'term': token_forms(value, token)})
    c.lookup('account_id with a trailing newline', [token], {'account_id': acct + '\n'}, field='account_id',
             hostile=acct + '\n')
    c.lookup('jurisdiction "eu\\n"', [token], {'jurisdiction': 'eu\n'}, field='jurisdiction', hostile='eu\n')
    c.lookup('api_url with a trailing newline', [token], {'api_url': c.emu.api_url + '\n'}, field='api_url',
             hostile=c.emu.api_url + '\n', secrets_={'term': token_forms(token, token)})
    c.lookup('a well-formed unknown token', [unknown], field='term 0',
             secrets_={'term': token_forms(unknown, unknown)})
    c.lookup('a term that is not a string (42)', [42], field='term 0')
    c.lookup('a valid token (control case)', [token], expect='ok')


def role_cases(c):
    app = {'name': 'app', 'permission': 'object_read_write', 'buckets': ['media']}
    tmp = {'name': 'tmp', 'type': 'temporary', 'bucket': 'media', 'permission': 'object_read_only'}

    def w(**kw):
        return [dict(app, **kw)]

    def t(**kw):
        return [dict(tmp, **kw)]

    c.role('valid token and temporary (control case)', [app, dict(tmp, parent='app')], expect='ok')
    # shared mode (0.5.0)
    shared_defs = {'shared_tokens': {'writers': {'permission': 'object_read_write', 'buckets': ['media']}}}
    shared = {'name': 'up', 'shared': 'writers', 'bucket': 'media', 'prefixes': ['{host}/']}
    c.role('shared credential (control case)', [shared], settings=shared_defs, expect='ok')
    for label, make in (h for h in HOSTILE if h[0] in ('newline', 'ansi', 'bidi')):
        value = make('writers')
        c.role('shared name with %s' % label, [dict(shared, shared=value)], settings=shared_defs, field='shared',
               hostile=value)
        c.role('prefix with %s after {host}' % label, [dict(shared, prefixes=['{host}/' + make('x')])],
               settings=shared_defs, field='prefixes', hostile=make('x'))
    c.role('shared token definition with an ANSI escape in its field name', [shared],
           settings={'shared_tokens': {'writers': {'permission': 'object_read_write', '\x1b[2Jx': 1}}},
           field='provision_shared_tokens.writers', hostile='\x1b[2Jx')
    c.role('shared token name format with {host}', [shared],
           settings=dict(shared_defs, shared_token_name_format='shared/{host}/{name}'),
           field='provision_shared_token_name_format')
    # provision_api_token: the inspect action checks it with check_api_token(value, 'provision_api_token')
    for label in ('newline', 'ansi', 'trailing_space'):
        value = TOKEN_DECORATIONS[label](c.token)
        forms = token_forms(value, c.token)

        def check_token(value=value):
            try:
                _api.check_api_token(value, 'provision_api_token')
            except _api.CloudflareError as exc:
                return Outcome(True, str(exc), [str(exc)])
            except Exception as exc:  # pylint: disable=broad-except
                return Outcome(True, '', [], crash=_crash(exc))
            return Outcome(False, '', [])
        c.cases.append(Case('role', 'inspect: api token', 'provision_api_token with %s' % label, check_token,
                            field='provision_api_token', hostile=value, secrets_={'provision_api_token': forms}))
    # names
    for label, make in (h for h in HOSTILE if h[0] in ('newline', 'nul', 'ansi', 'bidi', 'spaces')):
        value = make('app')
        c.role('credential name with %s' % label, w(name=value), field='name', hostile=value)
    c.role('credential name "-app"', w(name='-app'), field='name')
    c.role('credential name of 65 characters', w(name='a' * 65), field='name')
    c.role('credential name 42', w(name=42), field='name')
    c.role('two credentials with the same name', [app, dict(app)], field='name')
    c.role('unknown field "bukets"', [{'name': 'app', 'permission': 'object_read_write', 'bukets': ['media']}],
           field='bukets')
    c.role('unknown field with an ANSI escape and a newline',
           [{'name': 'app', 'permission': 'object_read_write', 'bad\x1b[2Jfield\n': 1}], field='unknown field',
           hostile='bad\x1b[2Jfield\n')
    c.role('unknown field 1 (a YAML number key)', [{'name': 'app', 'permission': 'object_read_write', 1: 'y'}],
           field='unknown field')
    c.role('type "magic"', w(type='magic'), field='type')
    c.role('state "gone"', w(state='gone'), field='state')
    # users and profiles
    for label, value in (('"deploy\\n"', 'deploy\n'), ('"Deploy"', 'Deploy'), ('"-x"', '-x'), ('33 characters', 'u' * 33),
                         ('"de ploy"', 'de ploy'), ('42', 42), ('with ANSI escape', '\x1b[31mroot')):
        c.role('user %s' % label, w(user=value), field='user', hostile=value if isinstance(value, str) else None)
    c.role('provision_user "deploy\\n"', [app], settings={'user': 'deploy\n'}, field='user', hostile='deploy\n')
    for label, value in (('"default\\n"', 'default\n'), ('"../x"', '../x'), ('"a b"', 'a b'), ('".hidden"', '.hidden'),
                         ('65 characters', 'p' * 65), ('with bidi', 'pro\u202efile')):
        c.role('profile %s' % label, w(profile=value), field='profile', hostile=value)
    c.role('two credentials, one profile', [app, dict(app, name='app2', profile='app')], field='profile')
    # buckets
    for label, value in (('"media\\n"', 'media\n'), ('"Media"', 'Media'), ('"ab"', 'ab'), ('with NUL', 'me\x00dia')):
        c.role('bucket %s' % label, w(buckets=[value]), field='buckets', hostile=value)
    c.role('bucket of another jurisdiction', w(buckets=[{'name': 'media-eu', 'jurisdiction': 'eu'}]), field='buckets')
    c.role('bucket listed twice', w(buckets=['media', 'media']), field='buckets')
    c.role('501 buckets', w(buckets=['b%03d' % i for i in range(501)]), field='buckets')
    c.role('admin permission with buckets', w(permission='admin_read_write'), field='buckets')
    c.role('temporary bucket "media\\n"', t(bucket='media\n'), field='bucket', hostile='media\n')
    # endpoints
    for label, value in (('"not a url"', 'not a url'), ('"http://"', 'http://'), ('"ftp://x"', 'ftp://x'),
                         ('"http://u:p@h"', 'http://u:p@h'), ('with a path', 'https://h.example/bucket'),
                         ('with a newline', 'https://h.example\n'), ('port 99999', 'https://h.example:99999')):
        c.role('endpoint_override %s' % label, w(endpoint_override=value), field='endpoint_override', hostile=value)
    c.role('provision_endpoint_overrides with an unknown jurisdiction',
           [app], settings={'endpoint_overrides': {'mars': 'https://h.example'}}, field='provision_endpoint_overrides')
    c.role('provision_endpoint_overrides jurisdiction with ANSI escape',
           [app], settings={'endpoint_overrides': {'\x1b[31meu': 'https://h.example'}},
           field='provision_endpoint_overrides', hostile='\x1b[31meu')
    c.role('provision_endpoint_overrides.default "http://u:p@h"',
           [app], settings={'endpoint_overrides': {'default': 'http://u:p@h'}}, field='provision_endpoint_overrides')
    c.role('provision_endpoint_overrides not a dict', [app], settings={'endpoint_overrides': 'https://h.example'},
           field='provision_endpoint_overrides')
    c.role('provision_endpoint_overrides without the credential\'s jurisdiction',
           w(jurisdiction='eu', buckets=['media-eu']), settings={'endpoint_overrides': {'default': 'https://h.example'}},
           field='jurisdiction')
    # jurisdictions, permissions, flags
    for label, value in (('"eu\\n"', 'eu\n'), ('"EU"', 'EU'), ('with bidi', 'e\u202eu')):
        c.role('jurisdiction %s' % label, w(jurisdiction=value), field='jurisdiction', hostile=value)
    c.role('provision_jurisdiction "eu\\n"', [app], settings={'jurisdiction': 'eu\n'}, field='jurisdiction',
           hostile='eu\n')
    c.role('permission "object_read_write\\n"', w(permission='object_read_write\n'), field='permission',
           hostile='object_read_write\n')
    c.role('permission missing', [{'name': 'app', 'buckets': ['media']}], field='permission')
    c.role('rclone "yes" (a string)', w(rclone='yes'), field='rclone')
    c.role('addressing_style "virtual\\n"', w(addressing_style='virtual\n'), field='addressing_style',
           hostile='virtual\n')
    c.role('ip_allow garbage', w(ip_allow=['10.0.0.0/8\n']), field='ip_allow', hostile='10.0.0.0/8\n')
    c.role('expires_on garbage', w(expires_on='next tuesday'), field='expires_on')
    c.role('provision_account_id with a trailing newline', [app],
           settings={'account_id': c.account + '\n'}, field='provision_account_id', hostile=c.account + '\n')
    c.role('provision_account_id "abc"', [app], settings={'account_id': 'abc'}, field='provision_account_id')
    # temporary credentials
    for value in (0, 604801, '1h', True):
        c.role('ttl_seconds %r' % (value,), t(ttl_seconds=value), field='ttl_seconds')
    c.role('provision_ttl_seconds 0', [tmp], settings={'ttl_seconds': 0}, field='ttl_seconds')
    for value in (3600, -1, True, '5m'):
        c.role('renew_before %r (ttl 3600)' % (value,), t(ttl_seconds=3600, renew_before=value), field='renew_before')
    for label, value in (('with a newline', ['in/\n']), ('with ANSI escape', ['\x1b[31min/']), ('a string', 'in/'),
                         ('an empty entry', ['']), ('20,000 entries', ['p%05d/' % i for i in range(20000)])):
        c.role('prefixes %s' % label, t(prefixes=value), field='prefixes',
               hostile=value[0] if isinstance(value, list) and len(value) == 1 else None)
    c.role('objects with U+2028', t(objects=['a\u2028b']), field='objects', hostile='a\u2028b')
    c.role('parent not a credential of the host', t(parent='nobody'), field='parent')
    c.role('parent with ANSI escape', t(parent='\x1b[31mnobody'), field='parent', hostile='\x1b[31mnobody')
    c.role('temporary with render false', t(render=False), field='render')
    # the shape of provision_credentials
    c.role('provision_credentials a string', 'app', field='provision_credentials')
    c.role('provision_credentials a dict', {'app': app}, field='provision_credentials')
    c.role('201 credentials', [dict(app, name='c%d' % i, profile='c%d' % i) for i in range(201)],
           field='provision_credentials')
    c.role('a credential that is a string', ['app'], field='provision_credentials[0]')
    # provision_token_name_format
    for value in ('{hostname}/{name}', '{0}/{1}', '{', '}{host}{name}', 42, '{host}', '{name}', '{host!r}/{name}',
                  '{host:>10}/{name}', '{host.__class__}/{name}', '{host[0]}/{name}', '{host}/{name}\n', ''):
        c.role('provision_token_name_format %s' % ascii(value), [app], settings={'token_name_format': value},
               field='provision_token_name_format', hostile=value if isinstance(value, str) else None)
    c.role("provision_token_name_format ending '~next'", [app], settings={'token_name_format': '{host}/{name}~next'},
           field='token name')
    # long host names: the token name 'ansible:{host}/app' is len(host) + 12 characters; 115 leaves room for '~next'
    for length, expect in ((103, 'ok'), (104, 'error'), (108, 'error'), (109, 'error')):
        host = 'h' * length
        c.role('host name of %d characters (token name of %d)' % (length, length + 12), [app], host=host,
               expect=expect, field='token name' if expect == 'error' else None)
    # hostile host names (an inventory or a dynamic inventory plugin is input too)
    for label, host in (('a trailing newline', 'web1\n'), ('ANSI escape', 'web1\x1b[31m'), ('bidi', 'web\u202e1')):
        c.role('host name with %s' % label, [app], host=host, field='token name', hostile=host)
    c.role('host name with a space (fine)', [app], host='web 1', expect='ok')
    # render_root
    c.role('provision_render_root with a newline', [app], settings={'render_root': '/srv/r2\n'},
           field='provision_render_root', hostile='/srv/r2\n')
    c.role('provision_render_root relative', [app], settings={'render_root': 'srv/r2'},
           field='provision_render_root')
    # fleet: hosts that resolve to the same machine, user and client files
    same = {'web1': ('m1', {'deploy': 'f1'}), 'web1-alias': ('m1', {'deploy': 'f1'})}
    c.role_fleet('two inventory aliases of one machine, user and files',
                 [('web1', [app], None), ('web1-alias', [app], None)], machines=same, field='same machine')
    c.role_fleet('three aliases of one machine',
                 [('a1', [app], None), ('a2', [app], None), ('a3', [app], None)],
                 machines=dict((h, ('m1', {'deploy': 'f1'})) for h in ('a1', 'a2', 'a3')), field='same machine')
    c.role_fleet('one machine, two users (fine)',
                 [('web1', [app], None), ('web1-alias', [dict(app, user='backup')], None)],
                 machines={'web1': ('m1', {'deploy': 'f1'}), 'web1-alias': ('m1', {'backup': 'f2'})}, expect='ok')
    c.role_fleet('two machines, same user (fine)', [('web1', [app], None), ('web2', [app], None)],
                 machines={'web1': ('m1', {'deploy': 'f1'}), 'web2': ('m2', {'deploy': 'f1'})}, expect='ok')
    c.role_fleet('aliases whose machine is unknown (fine: not compared)',
                 [('web1', [app], None), ('web1-alias', [app], None)], expect='ok')
    c.role_fleet('aliases of one machine, one of them with a space in its name',
                 [('web1', [app], None), ('web 1', [app], None)],
                 machines={'web1': ('m1', {'deploy': 'f1'}), 'web 1': ('m1', {'deploy': 'f1'})},
                 field='same machine')
    # two hosts whose token names collide: '{host}{name}' makes 'web1app' of (web1, app) and of (web, 1app)
    c.role_fleet("token_name_format '{host}{name}': hosts web1/app and web/1app make one token name",
                 [('web1', [app], {'token_name_format': '{host}{name}'}),
                  ('web', [dict(app, name='1app')], {'token_name_format': '{host}{name}'})],
                 field='token name', check_hosts=['web1', 'web'])

    def fleet_garbage():
        self_ = c
        self_.fresh()
        try:
            collected = _provision.fleet([None, 'x', {'host': 'a'}, {'host': 'b', 'entries': None}])
        except Exception as exc:  # pylint: disable=broad-except
            return Outcome(True, '', [], crash='fleet: ' + _crash(exc))
        if collected['errors'] or collected['tokens']:
            return Outcome(True, json.dumps(collected['errors']), [])
        return Outcome(False, '', [])
    c.cases.append(Case('role', 'fleet', 'inspect results that are not results (ignored)', fleet_garbage, 'ok'))


# Jurisdiction values that must never reach an API path, a header (cf-r2-jurisdiction) or a resource key: header
# and path injection, case, length, separators of the resource key ('_'), URL-encoded line breaks.
BAD_JURISDICTIONS = (
    ('header injection "eu\\r\\nX-Evil: 1"', 'eu\r\nX-Evil: 1'), ('"eu\\nX-Evil: 1"', 'eu\nX-Evil: 1'),
    ('"../"', '../'), ('"../../user/tokens"', '../../user/tokens'), ('"eu/.."', 'eu/..'),
    ('URL-encoded CRLF "eu%0d%0aX-Evil:1"', 'eu%0d%0aX-Evil:1'), ('upper case "EU"', 'EU'), ('"Us"', 'Us'),
    ('10,000 characters', 'e' * 10000), ('33 characters', 'j' * 33), ('one letter "e"', 'e'),
    ('"eu_1" (the resource key separator)', 'eu_1'), ('"e u"', 'e u'), ('" eu"', ' eu'), ('NUL', 'e\x00u'),
    ('bidi', 'e\u202eu'), ('zero-width space', 'e\u200bu'), ('"1eu" (a digit first)', '1eu'),
    ('an empty string', ''),
)
# A duration (rotate_after, expire_after, the r2_token_info thresholds) that is not one.
BAD_DURATIONS = (
    ('"90 days"', '90 days'), ('"90D"', '90D'), ('"1.5d"', '1.5d'), ('"-1"', '-1'), ('-5', -5), ('"1e3"', '1e3'),
    ('True', True), ('a list', ['90d']), ('a dict', {'d': 90}), ('10 digits', '9' * 10), ('"d"', 'd'),
    ('"90dd"', '90dd'), ('10,000 characters', '9' * 10000), ('"90d\\n"', '90d\n'), ('"90d\\r\\n"', '90d\r\n'),
    ('ANSI escape', '\x1b[31m90d'), ('bidi', '9\u202e0d'), ('NUL', '90\x00d'), ('U+2028', '90d\u2028'),
    ('NEL', '90d\x85'), ('a tab', '90d\t'), ('" 90d"', ' 90d'), ('full-width digits', '\uff19\uff10d'),
)
# Durations that parse but that no date can hold (year 9999 is the end of the calendar).
HUGE_DURATIONS = (('"999999999w"', '999999999w'), ('"3000000d"', '3000000d'))


def issue10_cases(c):
    """The options of issue 10: r2_credential_set's rotate_after and expire_after, r2_token's status, jurisdiction
    names (an open list now: any lowercase name of letters and digits), r2_token_info's thresholds. Each bad value
    is refused before any API request (no_calls), naming the field."""
    tok = dict(name='hostile-ok', permission='object_read_write', buckets=['media'])
    entry = dict(name='set-a', permission='object_read_write', buckets=['media'])
    tmp = dict(name='tmp-a', bucket='media', permission='object_read_only', ttl_seconds=3600)

    def existing(state):
        state.seed({'owner': 'account', 'name': 'set-a'})

    def shown_value(value):
        return value if isinstance(value, str) else None

    def long(value):
        # a short plain value may be quoted in the message (_text.shown); a long one is shown by its length only
        return isinstance(value, str) and len(value) > 200

    # -- r2_credential_set: rotate_after, expire_after
    for label, value in BAD_DURATIONS:
        c.module('r2_credential_set', 'tokens[0].rotate_after %s' % label,
                 {'tokens': [dict(entry, rotate_after=value)]}, field='rotate_after', hostile=shown_value(value),
                 no_calls=True, no_echo=long(value))
    for label, value in BAD_DURATIONS[::3] + BAD_DURATIONS[13:]:
        c.module('r2_credential_set', 'tokens[0].expire_after %s' % label,
                 {'tokens': [dict(entry, rotate_after='30d', expire_after=value)]}, field='expire_after',
                 hostile=shown_value(value), no_calls=True, no_echo=long(value))
    for label, value in (('0', 0), ('"0"', '0'), ('"0d"', '0d')):
        c.module('r2_credential_set', 'tokens[0].rotate_after %s' % label, {'tokens': [dict(entry, rotate_after=value)]},
                 field='rotate_after', no_calls=True)
    for label, value in HUGE_DURATIONS:
        c.module('r2_credential_set', 'tokens[0].rotate_after %s, token exists' % label,
                 {'tokens': [dict(entry, rotate_after=value)]}, field='rotate_after', seed=existing, no_calls=True)
        c.module('r2_credential_set', 'tokens[0].expire_after %s on a new token' % label,
                 {'tokens': [dict(entry, rotate_after='30d', expire_after=value)]}, field='expire_after',
                 no_calls=True)
    c.module('r2_credential_set', 'tokens[0].expire_after without rotate_after',
             {'tokens': [dict(entry, expire_after='90d')]}, field='expire_after', no_calls=True)
    c.module('r2_credential_set', 'tokens[0].expire_after equal to rotate_after',
             {'tokens': [dict(entry, rotate_after='90d', expire_after='90d')]}, field='expire_after', no_calls=True)
    c.module('r2_credential_set', 'tokens[0].expire_after shorter than rotate_after (7d < 2w)',
             {'tokens': [dict(entry, rotate_after='2w', expire_after='7d')]}, field='expire_after', no_calls=True)
    c.module('r2_credential_set', 'tokens[0].expire_after with expires_on',
             {'tokens': [dict(entry, rotate_after='30d', expire_after='60d', expires_on='2031-01-01T00:00:00Z')]},
             field='expire_after', no_calls=True)
    c.module('r2_credential_set', 'tokens[0] state=absent with rotate_after ANSI escape',
             {'tokens': [{'name': 'set-a', 'state': 'absent', 'rotate_after': '\x1b[31m90d'}]}, field='rotate_after',
             hostile='\x1b[31m90d', no_calls=True)
    c.module('r2_credential_set', 'tokens[0] state=absent with expire_after "soon"',
             {'tokens': [{'name': 'set-a', 'state': 'absent', 'expire_after': 'soon'}]}, field='expire_after',
             no_calls=True)
    for label, value in (('"90d"', '90d'), ('3600 (seconds)', 3600), ('"12h"', '12h'), ('"1w"', '1w')):
        c.module('r2_credential_set', 'tokens[0].rotate_after %s (fine)' % label,
                 {'tokens': [dict(entry, rotate_after=value)]}, expect='ok')
    c.module('r2_credential_set', 'tokens[0].rotate_after 90d on an existing token (fine)',
             {'tokens': [dict(entry, rotate_after='90d')]}, expect='ok', seed=existing)
    c.module('r2_credential_set', 'tokens[0].rotate_after 999999999 (seconds: 31 years), token exists (fine)',
             {'tokens': [dict(entry, rotate_after=999999999)]}, expect='ok', seed=existing)
    c.module('r2_credential_set', 'tokens[0].expire_after 999999999 (seconds: 31 years) on a new token (fine)',
             {'tokens': [dict(entry, rotate_after='30d', expire_after=999999999)]}, expect='ok')
    c.module('r2_credential_set', 'tokens[0] rotate_after 90d, expire_after 120d (fine)',
             {'tokens': [dict(entry, rotate_after='90d', expire_after='120d')]}, expect='ok')

    # -- r2_token: status (active or disabled; expired and revoked (exposed) are observed, never set)
    for label, value in (('"disabled\\n"', 'disabled\n'), ('ANSI escape', '\x1b[31mactive'), ('bidi', 'act\u202eive'),
                         ('"expired"', 'expired'), ('"revoked (exposed)"', 'revoked (exposed)'), ('"Active"', 'Active'),
                         ('"active "', 'active '), ('a list', ['active']), ('10,000 characters', 'a' * 10000),
                         ('"enabled"', 'enabled')):
        c.module('r2_token', 'status %s' % label, dict(tok, status=value), field='status', hostile=shown_value(value),
                 no_calls=True, no_echo=long(value))
    c.module('r2_token', 'state=absent, status with ANSI escape', {'name': 'x', 'state': 'absent',
                                                                   'status': '\x1b[31mdisabled'},
             field='status', hostile='\x1b[31mdisabled', no_calls=True)
    c.module('r2_token', 'status disabled (fine)', dict(tok, status='disabled'), expect='ok')

    # -- jurisdictions, everywhere one is given
    for label, value in BAD_JURISDICTIONS:
        long_value = len(value) > 200
        c.module('r2_token', 'jurisdiction %s' % label, dict(tok, jurisdiction=value, check_buckets=False),
                 field='jurisdiction', hostile=value, no_calls=True, no_echo=long_value)
        if value:   # an empty jurisdiction in a bucket dict is the option's (not given)
            c.module('r2_token', 'buckets[0].jurisdiction %s' % label,
                     dict(tok, buckets=[{'name': 'media', 'jurisdiction': value}], check_buckets=False),
                     field='jurisdiction', hostile=value, no_calls=True, no_echo=long_value)
        c.module('r2_credential_set', 'tokens[0].jurisdiction %s' % label,
                 {'tokens': [dict(entry, jurisdiction=value)], 'check_buckets': False}, field='jurisdiction',
                 hostile=value, no_calls=True, no_echo=long_value)
        c.module('r2_credential_set', 'temporary[0].jurisdiction %s' % label,
                 {'temporary': [dict(tmp, jurisdiction=value)], 'check_buckets': False}, field='jurisdiction',
                 hostile=value, no_calls=True, no_echo=long_value)
        c.module('r2_temp_credentials', 'jurisdiction %s' % label,
                 dict(bucket='media', jurisdiction=value, check_bucket=False), field='jurisdiction', hostile=value,
                 no_calls=True, no_echo=long_value)
        c.lookup('jurisdiction %s' % label, [c.token], {'jurisdiction': value}, field='jurisdiction', hostile=value,
                 no_calls=True, no_echo=long_value)
    c.module('r2_token', 'jurisdiction "mars" (well-formed, unknown to Cloudflare): the bucket check refuses it',
             dict(tok, jurisdiction='mars'), field='jurisdiction')
    c.module('r2_temp_credentials', 'jurisdiction "mars": the bucket check refuses it',
             dict(bucket='media', jurisdiction='mars'), field='jurisdiction')
    c.module('r2_token', 'jurisdiction "us", every bucket (fine)', dict(tok, buckets=[], jurisdiction='us'),
             expect='ok')
    c.lookup('jurisdiction "us" (fine)', [c.token], {'jurisdiction': 'us'}, expect='ok')

    # -- r2_token_info thresholds: read-only, but a bad threshold is still bad input
    for field in ('not_rotated_after', 'unused_after', 'expires_within'):
        for label, value in BAD_DURATIONS:
            c.module('r2_token_info', '%s %s' % (field, label), {field: value}, field=field,
                     hostile=shown_value(value), no_calls=True, no_echo=long(value))
    c.module('r2_token_info', 'not_rotated_after 0', {'not_rotated_after': 0}, field='not_rotated_after',
             no_calls=True)
    c.module('r2_token_info', 'unused_after "0d"', {'unused_after': '0d'}, field='unused_after', no_calls=True)
    for label, value in HUGE_DURATIONS:
        # durations are capped at 100 years (_r2.DURATION_MAX), thresholds too: one clear error, no call
        c.module('r2_token_info', 'not_rotated_after %s' % label, {'not_rotated_after': value},
                 field='not_rotated_after', no_calls=True)
    for label, args in (('expires_within 0 (off)', {'expires_within': 0}),
                        ('expires_within "0"', {'expires_within': '0'}),
                        ('thresholds as durations', {'not_rotated_after': '52w', 'unused_after': '12h',
                                                     'expires_within': 86400})):
        c.module('r2_token_info', '%s (fine)' % label, args, expect='ok')


def issue10_role_cases(c):
    """Jurisdiction names through the provision role's validation (a credential's, the role-wide default, the
    endpoint overrides' keys)."""
    app = {'name': 'app', 'permission': 'object_read_write'}
    for label, value in BAD_JURISDICTIONS:
        if value == '':
            continue   # an empty jurisdiction is the role default (not given), covered by the valid cases
        long_value = len(value) > 200
        c.role('jurisdiction %s' % label, [dict(app, jurisdiction=value)], field='jurisdiction', hostile=value,
               no_echo=long_value)
        c.role('provision_jurisdiction %s' % label, [app], settings={'jurisdiction': value}, field='jurisdiction',
               hostile=value, no_echo=long_value)
        c.role('provision_endpoint_overrides key %s' % label, [app],
               settings={'endpoint_overrides': {value: 'https://h.example'}}, field='provision_endpoint_overrides',
               hostile=value, no_echo=long_value)
    c.role('jurisdiction "us", every bucket (fine)', [dict(app, jurisdiction='us')], expect='ok')


# ------------------------------------------------------------------------------------------------- report

def shown_text(text, forms):
    return ascii(mask(text, forms))[1:-1]


def self_check():
    """The judge must see a leak in every form, an echoed control character and a write (else the counts lie)."""
    token = 'cfut_' + ''.join(secrets.choice(string.ascii_letters) for dummy in range(40))
    value = token + '\n'
    forms = token_forms(value, token)
    case = Case('module', 'self-check', 'self-check', None, field='api_token', hostile=value,
                secrets_={'api_token': forms})
    for form in forms.values():
        verdict, dummy = judge(case, Outcome(True, 'api_token: bad (%s)' % form, ['x', form]))
        assert verdict == 'problem', 'the judge missed a leak'
    assert judge(case, Outcome(True, 'api_token: bad \x1b[31m', []))[0] == 'problem', 'missed a control character'
    written = Outcome(True, 'api_token: bad', [])
    written.writes = ['POST /x -> 400']
    assert judge(case, written)[0] == 'problem', 'the judge missed a write'
    assert judge(case, Outcome(True, 'api_token: bad', []))[0] == 'clean'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--group', choices=['module', 'role'], help='only this group')
    parser.add_argument('--only', help='only cases whose description or target contains this')
    parser.add_argument('-v', '--verbose', action='store_true', help='print every case with its verdict')
    options = parser.parse_args()
    self_check()
    install_patches()
    start = time.monotonic()
    emu = Emulator(s3=False).start()
    try:
        campaign = Campaign(emu)
        module_cases(campaign)
        issue10_cases(campaign)
        role_cases(campaign)
        issue10_role_cases(campaign)
        cases = [case for case in campaign.cases if (not options.group or case.group == options.group)
                 and (not options.only or options.only in case.desc or options.only in case.target)]
        results = []
        for case in cases:
            outcome = case.run()
            verdict, reasons = judge(case, outcome)
            results.append((case, outcome, verdict, reasons))
            if options.verbose:
                forms = dict((k, v) for f in case.secrets.values() for k, v in f.items())
                print('%-8s %-22s %s%s' % (verdict, case.target, ascii(case.desc)[1:-1],
                                           (' | ' + shown_text(outcome.msg, forms)[:160]) if outcome.msg else ''))
    finally:
        emu.stop()
    elapsed = time.monotonic() - start

    print('hostile inputs campaign (%d cases, %.1f s; emulator in-process, no S3)' % (len(results), elapsed))
    print()
    for group in ('module', 'role'):
        rows = [r for r in results if r[0].group == group]
        if not rows:
            continue
        print('## %s' % group)
        print('%-24s %6s %14s %7s %9s' % ('target', 'tried', 'clean errors', 'valid', 'problems'))
        targets = []
        for row in rows:
            if row[0].target not in targets:
                targets.append(row[0].target)
        for target in targets + ['total']:
            sub = [r for r in rows if target in ('total', r[0].target)]
            counts = [sum(1 for r in sub if r[2] == kind) for kind in ('clean', 'valid', 'problem')]
            print('%-24s %6d %14d %7d %9d' % tuple([target, len(sub)] + counts))
        print()
    problems = [r for r in results if r[2] == 'problem']
    print('## problems (%d)' % len(problems))
    for index, (case, outcome, dummy, reasons) in enumerate(problems, 1):
        forms = dict(('%s:%s' % (name, k), v) for name, f in case.secrets.items() for k, v in f.items())
        print('%d. [%s] %s: %s' % (index, case.group, case.target, ascii(case.desc)[1:-1]))
        for reason in reasons:
            print('   - %s' % reason)
        if outcome.msg:
            print('   message: %s' % shown_text(outcome.msg, forms)[:700])
        detail = outcome.detail if isinstance(outcome.detail, dict) else {}
        if detail.get('stage'):
            print('   at: %s%s' % (detail['stage'], ('; writes: %s' % detail['writes']) if detail.get('writes') else ''))
        if detail.get('fleet_errors') is not None and not outcome.msg:
            print('   fleet errors: %s' % shown_text(json.dumps(detail['fleet_errors']), forms))
    if not problems:
        print('none')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
