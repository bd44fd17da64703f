"""Run one playbook against emulator + Prism + recorder and check the contract.

    cd tests/integration && python -m harness.run_playbook PLAYBOOK [-e KEY=VALUE]... [-v] [--check] [--diff]
                                                    [--timeout SECONDS]

Exit status: ansible-playbook's, or 3 if it passed but the traffic broke the
API contract.  ``R2_COLLECTIONS_PATH`` selects the collections root (default:
stage the repo with scripts/stage.sh); scripts/test.sh's build step points it
at a freshly installed tarball.  Time limit: ``--timeout`` nominal seconds
(default 600) x ``R2_TEST_TIMEOUT_FACTOR`` (default 2) x the load average per
CPU (1 to 4); past it ansible-playbook and its children are killed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import paths
from .playbook import DEFAULT_TIMEOUT, run_playbook
from .stack import CloudflareStack


def _extra_var(text: str):
    if text.startswith('@'):
        with open(text[1:], 'r', encoding='utf-8') as handle:
            return json.load(handle)
    key, sep, value = text.partition('=')
    if not sep:
        raise argparse.ArgumentTypeError('expected KEY=VALUE or @file.json')
    return {key: value}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m harness.run_playbook', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('playbook')
    parser.add_argument('-e', '--extra-vars', action='append', type=_extra_var, default=[])
    parser.add_argument('-v', '--verbose', action='count', default=0)
    parser.add_argument('--check', action='store_true')
    parser.add_argument('--diff', action='store_true')
    parser.add_argument('--direct', action='store_true', help='bypass Prism and the recorder')
    parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT,
                        help='nominal time limit in seconds on an idle machine (scaled by '
                             'R2_TEST_TIMEOUT_FACTOR and the load average; default %(default)s)')
    args = parser.parse_args(argv)

    extra = {}
    for item in args.extra_vars:
        extra.update(item)
    collections = paths.collections_path()
    print('harness: collections path %s' % collections, flush=True)
    with CloudflareStack(workdir=None) as cf:
        print('harness: emulator %s, prism %s, recorder %s (logs in %s)' % (
            cf.direct_api_url, cf.prism.url, cf.api_url, cf.workdir), flush=True)
        env = {'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'False'}
        result = run_playbook(cf, args.playbook, extra_vars=extra, env=env, verbosity=args.verbose,
                              check=args.check, diff=args.diff, direct=args.direct,
                              collections_path=collections, timeout=args.timeout)
        sys.stdout.write(result.output)
        print('harness: ansible-playbook ran %.1fs (limit %s)' % (result.elapsed, result.limit.describe()),
              flush=True)
        violations = cf.contract_violations()
        summary = cf.summary()
    print('prism: %d requests, %d violations' % (summary['requests'], summary['violations']))
    if violations:
        print('CONTRACT VIOLATIONS:\n' + '\n'.join(
            '  %s %s -> %s\n    %s' % (v['method'], v['path'], v['status'], '\n    '.join(v['violations']))
            for v in violations))
    if summary['unexplained_log_violations']:
        print('Prism log shows violations the recorder did not see (%s):\n  %s' % (
            summary['prism_log'], '\n  '.join(summary['log_sample'])))
    if result.rc != 0:
        print('harness: ansible-playbook %s (rc=%d)' % (
            'killed by the time limit' if result.timed_out else 'failed', result.rc))
        return result.rc
    if violations or summary['unexplained_log_violations']:
        return 3
    print('harness: %s passed' % os.path.basename(args.playbook))
    return 0


if __name__ == '__main__':
    sys.exit(main())
