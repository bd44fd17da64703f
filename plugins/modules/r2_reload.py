#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, cloudflare_r2.credentials contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: r2_reload
short_description: Run the reload commands of what uses R2 credentials, as root or as a user, safely
version_added: 0.4.0
description:
  - Runs commands on the host that make the programs using a credential read it again (reload a service, signal
    a client), each an argument vector (no shell), as root or as a unix user, one after the other; every command
    runs even when an earlier one failed. The module fails when any command failed, with a message naming each
    one that failed.
  - Then, for each of O(profiles) whose commands all succeeded, removes the reload mark that the
    P(cloudflare_r2.credentials.provision#role) role writes with new credentials (see the role's README, reloads);
    from then on the profile's copy counts as in use. A profile whose commands did not all succeed keeps its mark.
  - "Safe against the host's own users. A command run as a user runs with that user's uid, gid and groups only (the
    child checks it cannot become root again before it runs anything). A command run as root must be a program
    that root owns, in folders that root owns, none of them writable by group or others. Every command gets a
    fixed minimal environment (C(PATH) of the system folders, C(HOME), C(USER), C(LOGNAME), C(SHELL),
    C(LANG=C.UTF-8), and C(XDG_RUNTIME_DIR) when the user has one), stdin from C(/dev/null), no other inherited
    descriptor, and a session of its own."
  - A command's output is not trusted. Only its last lines are returned, with the secrets of O(profiles) (read on
    the host) and anything that looks like a credential (a run of 16 or more key characters with a digit)
    replaced by C(<masked>), and control characters escaped.
  - Used by the provision role's render phase and, for a reload that did not succeed in an earlier run, by its
    inspect phase. Does not call Cloudflare; not in the C(cloudflare_r2.credentials.r2) action group.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Runs nothing and changes nothing; reports each command as V(would run).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  commands:
    description: The commands, run in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for messages and for O(profiles[].commands); unique in the list.
        type: str
        required: true
      argv:
        description:
          - The program and its arguments. The program is an absolute path or a name looked up in
            C(/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) only.
        type: list
        elements: str
        required: true
      user:
        description:
          - V(root) or the unix user to run as. The module must run as root, or as that user.
        type: str
        default: root
      timeout:
        description: Seconds the command may take; then every process of its session is killed and it failed.
        type: int
        default: 60
  profiles:
    description: The profiles whose reload mark goes once their commands all succeeded.
    type: list
    elements: dict
    default: []
    suboptions:
      user:
        description: The unix user the profile's files belong to.
        type: str
        required: true
      home:
        description: The folder the files are under instead of the user's home (a render root).
        type: path
      name:
        description: The profile name.
        type: str
        required: true
      commands:
        description: The names of the commands (O(commands[].name)) that must succeed first.
        type: list
        elements: str
        default: []
notes:
  - The aws credentials file is read and written with the same rules as M(cloudflare_r2.credentials.r2_client_files)
    (no link followed, an atomic write, C(0600)); only the profile's recorded fingerprint changes.
  - Run reload commands that act on what a user controls (a pid file in a home, a user service) as that user, not
    as root.
seealso:
  - module: cloudflare_r2.credentials.r2_client_files
author:
  - Cloudflare R2 credentials maintainers (@cloudflare-r2)
'''

EXAMPLES = r'''
- name: Reload the uploader after its credentials changed
  cloudflare_r2.credentials.r2_reload:
    commands:
      - name: uploader
        argv: [systemctl, reload, uploader.service]
      - name: sync client
        argv: [/usr/local/bin/r2-sync, --reload]
        user: deploy
        timeout: 30
'''

RETURN = r'''
commands:
  description: One entry per command, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The command's name.
      type: str
    user:
      description: Who it ran as.
      type: str
    state:
      description: V(succeeded), V(failed) or V(would run) (check mode).
      type: str
    rc:
      description: Its exit status (negative - killed by that signal), or V(null) when it did not run.
      type: int
    timed_out:
      description: Whether it was killed for taking longer than its timeout.
      type: bool
    seconds:
      description: How long it took.
      type: float
    output:
      description: Its last lines of output (stdout and stderr), masked (see the description).
      type: list
      elements: str
    msg:
      description: Why it failed, when it did.
      type: str
  sample:
    - name: uploader
      user: root
      state: succeeded
      rc: 0
      timed_out: false
      seconds: 0.12
      output: []
profiles:
  description: One entry per O(profiles) item - C(user), C(name) and C(state) (V(reloaded), V(pending) when a
    command failed, V(unmarked) when its file had no mark).
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.cloudflare_r2.credentials.plugins.module_utils._masked import MaskedModule
from ansible_collections.cloudflare_r2.credentials.plugins.module_utils import _client_files, _ini, _reload, _safe_io, \
    _text


class MarkError(Exception):
    pass


def profile_tree(spec):
    try:
        uid, gid, home = _safe_io.lookup_user(spec['user'])
        layout = _client_files.Layout(spec.get('home') or home)
        return layout, _safe_io.UserTree(layout.home, uid, gid)
    except (_client_files.LayoutError, _safe_io.UnsafePath, OSError) as exc:
        raise MarkError('user %s: %s' % (spec['user'], to_native(exc)))


def read_profile(spec):
    """(tree, path, text, secrets) of the aws credentials file of a profile; the secrets are for masking."""
    layout, tree = profile_tree(spec)
    path = layout.path('aws_credentials', spec['name'])
    try:
        data = tree.read(path)
        text = None if data is None else _ini.decode(data, path)
    except (_safe_io.UnsafePath, _ini.IniError, OSError) as exc:
        raise MarkError('user %s: %s: refused, nothing was changed: %s' % (spec['user'], path, to_native(exc)))
    found = _client_files.credential_in('aws_credentials', text, spec['name'])
    return tree, path, text, [v for v in (found or ())[1:3] if v]


def describe(report):
    """The message of a failed command: its name, who it ran as, why, and its last lines (masked)."""
    tail = ('; its last output: %s' % ' | '.join(report['output'][-3:])) if report['output'] else ''
    return 'reload %s (as %s) failed: %s%s' % (report['name'], report['user'], report['msg'], tail)


def validate(module):
    problems = []
    names = set()
    for index, command in enumerate(module.params['commands']):
        where = 'commands[%d]' % index
        name = command['name']
        if not name or _text.has_control(name):
            problems.append('%s: name: must not be empty or hold a control character' % where)
        elif name in names:
            problems.append('%s: name: used by another command' % where)
        names.add(name)
        argv = command['argv']
        if not argv or any(not a or _text.has_control(a) for a in argv):
            problems.append('%s: argv: a non-empty list of non-empty strings without control characters' % where)
        if not command['user'] or _text.has_control(command['user']):
            problems.append('%s: user: root or a unix user name' % where)
        if not 0 < command['timeout'] <= 3600:
            problems.append('%s: timeout: 1 to 3600 seconds' % where)
    for index, profile in enumerate(module.params['profiles']):
        where = 'profiles[%d]' % index
        if not _client_files.NAME_RE.fullmatch(profile['name'] or ''):
            problems.append('%s: name: 1 to 64 letters, digits, ".", "_" or "-"' % where)
        if not profile['user'] or _text.has_control(profile['user']):
            problems.append('%s: user: a unix user name' % where)
        unknown = [c for c in profile['commands'] if c not in names]
        if unknown:
            problems.append('%s: commands: %s is not the name of a command' % (where, _text.shown(unknown[0])))
    return problems


def main():
    module = MaskedModule(
        argument_spec=dict(
            commands=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                argv=dict(type='list', elements='str', required=True),
                user=dict(type='str', default='root'),
                timeout=dict(type='int', default=60))),
            profiles=dict(type='list', elements='dict', default=[], options=dict(
                user=dict(type='str', required=True),
                home=dict(type='path'),
                name=dict(type='str', required=True),
                commands=dict(type='list', elements='str', default=[]))),
        ),
        supports_check_mode=True,
    )
    result = dict(changed=False, commands=[], profiles=[])
    problems = validate(module)
    if problems:
        module.fail_json(msg='; '.join(problems), **result)
    outcomes = {}
    runs = []
    for command in module.params['commands']:
        report = dict(name=command['name'], user=command['user'], state='would run', rc=None, timed_out=False,
                      seconds=0.0, output=[], msg=None)
        result['commands'].append(report)
        if module.check_mode:
            result['changed'] = True
            continue
        # the commands run before any secret is read on the host: no child starts with one in its memory
        try:
            ran = _reload.run(command['argv'], command['user'], command['timeout'])
        except _reload.ReloadError as exc:
            report.update(state='failed', msg=to_native(exc))
            outcomes[command['name']] = False
            continue
        result['changed'] = True
        runs.append((report, ran))
        ok = ran['rc'] == 0 and not ran['timed_out']
        outcomes[command['name']] = ok
        report.update(state='succeeded' if ok else 'failed', rc=ran['rc'], timed_out=ran['timed_out'],
                      seconds=ran['seconds'])
        if ran['timed_out']:
            report['msg'] = 'did not finish within %d seconds (killed)' % command['timeout']
        elif ran['rc'] < 0:
            report['msg'] = 'killed by signal %d' % -ran['rc']
        elif ran['rc'] != 0:
            report['msg'] = 'exit status %d' % ran['rc']
    failures = []
    secrets = set()
    for spec in module.params['profiles']:
        entry = dict(user=spec['user'], name=spec['name'], state='pending')
        result['profiles'].append(entry)
        try:
            tree, path, text, found = read_profile(spec)
            secrets.update(found)
            if module.check_mode or not all(outcomes.get(name) for name in spec['commands']):
                continue
            new_text = _client_files.mark_reloaded(text, spec['name'])
            if new_text is None:
                entry['state'] = 'unmarked'
                continue
            tree.write(path, to_bytes(new_text, errors='surrogate_or_strict'))
            entry['state'] = 'reloaded'
            result['changed'] = True
        except (MarkError, _safe_io.UnsafePath, _ini.IniError, OSError) as exc:
            failures.append('profile %s of user %s: %s' % (spec['name'], spec['user'], to_native(exc)))
    module.no_log_values.update(secrets)
    _text.mask_escaped(module.no_log_values)
    forms = set()
    for value in secrets:
        forms.update(_text.escaped_forms(value))
    for report, ran in runs:
        report['output'] = _reload.output_lines(ran['output'], forms)
    failures = [describe(r) for r in result['commands'] if r['state'] == 'failed'] + failures
    if failures:
        module.fail_json(msg='; '.join(failures), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
