"""The execution environment of extensions/ee/ with the real ansible-builder, without a container runtime.

The collection is built into a tarball (from the staged collection, as scripts/test.sh's build step does), placed
where the EE definition expects it, and ``ansible-builder create`` writes the build context. Then the context's
galaxy and builder stages are done here as the container build would do them: ``ansible-galaxy collection install
-r requirements.yml`` in the context's _build folder (the image's /build), offline, then ``ansible-builder
introspect`` over the installed collections, which must list the collection's Python and system requirements
(meta/execution-environment.yml: requirements.txt and bindep.txt). No network, no image pulled.
"""

from __future__ import annotations

import filecmp
import glob
import os
import shutil
import subprocess

import yaml

from harness import paths

EE_DIR = os.path.join(paths.REPO, 'extensions', 'ee')
FROM_COLLECTION = '# from collection cloudflare_r2.credentials'


def run(argv, cwd, timeout=120):
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOME=os.path.join(cwd, '.ansible-home'))
    for name in ('ANSIBLE_CONFIG', 'ANSIBLE_COLLECTIONS_PATH'):
        env.pop(name, None)
    proc = subprocess.run(argv, cwd=cwd, env=env, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout)
    assert proc.returncode == 0, '$ %s\n%s' % (' '.join(argv), proc.stdout[-3000:])
    return proc.stdout


def tool(name):
    path = os.path.join(paths.venv_bin(), name)
    assert os.path.exists(path), '%s is missing: scripts/bootstrap.sh installs it (tests/requirements.txt)' % path
    return path


def requirement_lines(path):
    """The requirement lines of a pip or bindep file, without comments."""
    with open(path) as handle:
        lines = [line.split('#', 1)[0].strip() for line in handle]
    return [line for line in lines if line]


def load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_builder_context_installs_the_collection_and_its_requirements(collections_path, tmp_path):
    source = os.path.join(collections_path, 'ansible_collections', 'cloudflare_r2', 'credentials')
    work = str(tmp_path)
    run([tool('ansible-galaxy'), 'collection', 'build', source, '--output-path', os.path.join(work, 'dist')], work)
    tarball, = glob.glob(os.path.join(work, 'dist', 'cloudflare_r2-credentials-*.tar.gz'))

    # A copy of extensions/ee/ with the tarball under the name requirements.yml installs (docs/awx.md)
    ee_dir = os.path.join(work, 'ee')
    shutil.copytree(EE_DIR, ee_dir)
    definition = load(os.path.join(ee_dir, 'execution-environment.yml'))
    requirements = load(os.path.join(ee_dir, definition['dependencies']['galaxy']))
    entry, = requirements['collections']
    assert entry['type'] == 'file'
    build_file, = definition['additional_build_files']
    shutil.copy(tarball, os.path.join(ee_dir, build_file['src']))
    # the galaxy stage runs in /build, which is the context's _build: the tarball must land where entry names it
    assert os.path.join(build_file['dest'], os.path.basename(build_file['src'])) == entry['name']

    context = os.path.join(work, 'context')
    output = run([tool('ansible-builder'), 'create', '-f', os.path.join(ee_dir, 'execution-environment.yml'),
                  '-c', context, '--output-filename', 'Containerfile'], work)
    assert 'No matches' not in output and 'does not exist' not in output, output
    with open(os.path.join(context, 'Containerfile')) as handle:
        containerfile = handle.read()
    assert 'ARG EE_BASE_IMAGE="%s"' % definition['images']['base_image']['name'] in containerfile
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml' in containerfile
    assert 'introspect.py introspect' in containerfile
    # the EE's ansible-core is the release line the collection is tested with
    core = definition['dependencies']['ansible_core']['package_pip']
    assert core in requirement_lines(os.path.join(paths.REPO, 'tests', 'requirements.txt'))
    assert 'ARG ANSIBLE_INSTALL_REFS="%s %s"' % (
        core, definition['dependencies']['ansible_runner']['package_pip']) in containerfile
    build = os.path.join(context, '_build')
    assert load(os.path.join(build, 'requirements.yml')) == requirements
    assert filecmp.cmp(os.path.join(build, entry['name']), tarball, shallow=False)

    # The galaxy stage: the context's requirements, from its own folder, offline
    installed = os.path.join(work, 'ee-collections')
    run([tool('ansible-galaxy'), 'collection', 'install', '--offline', '-r', 'requirements.yml', '-p', installed],
        build)
    collection = os.path.join(installed, 'ansible_collections', 'cloudflare_r2', 'credentials')
    assert load(os.path.join(collection, 'meta', 'execution-environment.yml'))['dependencies'] == {
        'python': 'requirements.txt', 'system': 'bindep.txt'}

    # The builder stage: what the collection needs, as ansible-builder finds it
    pip_out, bindep_out = os.path.join(work, 'pip.txt'), os.path.join(work, 'bindep.txt')
    output = run([tool('ansible-builder'), 'introspect', '--sanitize', installed,
                  '--write-pip', pip_out, '--write-bindep', bindep_out], work)
    introspected = yaml.safe_load(output.split('\n', 1)[1])  # after the "# Dependency data for ..." line
    python = requirement_lines(os.path.join(paths.REPO, 'requirements.txt'))
    system = requirement_lines(os.path.join(paths.REPO, 'bindep.txt'))
    assert {line.split('>')[0] for line in python} == {'requests', 'jmespath'}
    assert system == ['ca-certificates']
    assert introspected == {'python': ['%s  %s' % (line, FROM_COLLECTION) for line in python],
                            'system': ['%s  %s' % (line, FROM_COLLECTION) for line in system]}
    assert requirement_lines(pip_out) == python
    assert requirement_lines(bindep_out) == system
    # the final stage installs the system list with bindep: it parses, and gives ca-certificates on this platform
    listed = run([tool('bindep'), '-f', bindep_out, '--list_all=newline'], work)
    assert listed.split() == ['ca-certificates']
