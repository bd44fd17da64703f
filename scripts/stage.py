"""Stage the collection into a real ansible_collections/<ns>/<name>/ tree.

ansible-test refuses symlinks and needs the collection to live at
``.../ansible_collections/cloudflare_r2/credentials``; CI clones the repo into
an arbitrary folder.  This copies the files git knows about (tracked plus
untracked-but-not-ignored, so uncommitted work is included) and deletes
anything else from the destination, like ``rsync --delete``.  Unchanged files
(same size and mtime) are not copied again.

Usage: stage.py REPO_ROOT DEST_COLLECTION_DIR
Prints nothing; scripts/stage.sh prints the collections root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Paths (relative to the repo root) that are never staged.  They are CI or
# developer tooling, not part of the collection, and some would break
# ansible-test sanity or leak into the built tarball.
EXCLUDE_PREFIXES = (
    '.ci/',
    '.build/',
    '.venv/',
    '.cache/',
    '.ansible/',
    'collections/',
    'tests/output/',
    'tests/tools/',
)
EXCLUDE_NAMES = ('__pycache__', '.pytest_cache', 'node_modules')
# Folders of the destination that are kept although not in the repo list:
# the stage's own .git (see stage.sh) and ansible-test's output/venv cache.
KEEP_IN_DEST = ('.git', 'tests/output')


def list_files(repo: str) -> list[str]:
    """Return repo-relative paths of the files to stage."""
    if os.path.exists(os.path.join(repo, '.git')):
        out = subprocess.run(
            ['git', '-C', repo, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
            check=True, stdout=subprocess.PIPE,
        ).stdout.decode('utf-8', 'surrogateescape')
        paths = [p for p in out.split('\0') if p]
    else:  # not a git checkout (e.g. an unpacked tarball): walk the tree
        paths = []
        for root, dirs, files in os.walk(repo):
            dirs[:] = [d for d in dirs if d not in EXCLUDE_NAMES and d != '.git']
            for name in files:
                paths.append(os.path.relpath(os.path.join(root, name), repo))
    result = []
    for path in sorted(set(paths)):
        if path.startswith(EXCLUDE_PREFIXES):
            continue
        if any(part in EXCLUDE_NAMES for part in path.split('/')):
            continue
        full = os.path.join(repo, path)
        # ls-files --cached still lists files deleted in the work tree
        if not os.path.lexists(full) or os.path.isdir(full):
            continue
        result.append(path)
    return result


def sync(repo: str, dest: str) -> None:
    files = list_files(repo)
    wanted = set(files)
    os.makedirs(dest, exist_ok=True)
    for rel in files:
        src = os.path.join(repo, rel)
        dst = os.path.join(dest, rel)
        if os.path.islink(src):
            # ansible-test rejects symlinks pointing outside; copy the target content
            src = os.path.realpath(src)
        try:
            s = os.stat(src)
            d = os.lstat(dst)
            if (not os.path.islink(dst) and d.st_size == s.st_size and int(d.st_mtime) == int(s.st_mtime)
                    and (d.st_mode & 0o777) == (s.st_mode & 0o777)):
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(dst) or os.path.isdir(dst):
            remove(dst)
        shutil.copy2(src, dst)
    # delete what is no longer wanted (but keep KEEP_IN_DEST)
    for root, dirs, names in os.walk(dest, topdown=True):
        rel_root = os.path.relpath(root, dest)
        dirs[:] = [d for d in dirs if not _kept(os.path.normpath(os.path.join(rel_root, d)))]
        for name in names:
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel not in wanted:
                os.unlink(os.path.join(root, name))
    for root, dirs, names in os.walk(dest, topdown=False):
        rel_root = os.path.relpath(root, dest)
        if rel_root == '.' or _kept(rel_root) or any(rel_root.startswith(k + os.sep) for k in KEEP_IN_DEST):
            continue
        if not os.listdir(root):
            os.rmdir(root)


def _kept(rel: str) -> bool:
    return rel in KEEP_IN_DEST


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sync(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
