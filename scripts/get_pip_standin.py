"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads ``get-pip-<version>.py`` from an Ansible CI host that is
not reachable from this project's machines, unless it finds a cached copy at
``~/.ansible/test/cache/get_pip_<version>.py``.  scripts/bootstrap.sh copies
this file there.  It does what get-pip does, with the pip wheel that the
standard library's ``ensurepip`` bundles: ``pip install --upgrade
--force-reinstall <args>`` (ansible-test passes ``pip==<version>`` and maybe
``--no-setuptools``/``--no-wheel``, which plain pip does not know).
"""
import glob
import os
import sys


def _bundled_pip():
    candidates = []
    try:
        import ensurepip
        candidates += glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))
    except ImportError:
        pass
    candidates += glob.glob('/usr/share/python-wheels/pip-*.whl')  # Debian's python3-pip-whl
    return sorted(candidates)[-1] if candidates else None


def main():
    wheel = _bundled_pip()
    if wheel:
        sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    return pip_main(['install', '--upgrade', '--force-reinstall'] + args)


if __name__ == '__main__':
    sys.exit(main())
