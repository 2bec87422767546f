"""The collection as users get it: the tarball `ansible-galaxy collection build` makes ships the collection, its
documentation and licence, and nothing a run or a test left in the tree (the demo's lab-run/ holds a CA key and
an inventory with passwords); Galaxy's importer accepts it."""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

pytestmark = pytest.mark.quality
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SHIPPED_DIRS = ('plugins', 'roles', 'playbooks', 'docs', 'changelogs', 'powershell', 'meta')
SHIPPED_FILES = ('README.md', 'LICENSE', 'CHANGELOG.rst', 'requirements.txt', 'MANIFEST.json', 'FILES.json')
PLANTED = 'PLANTED-SECRET-7f3a'
# What a run or a test leaves in a checkout, each with the planted secret in it.
LEFTOVERS = {
    'lab-run/hyperv4/ca.key': '-----BEGIN PRIVATE KEY-----\n%s\n' % PLANTED,
    'lab-run/hyperv4/inventory.yml': 'all:\n  vars:\n    wsfc_winrm_password: %s\n' % PLANTED,
    'tests/output/junit/result.xml': PLANTED,
    '.pytest_cache/v/cache/lastfailed': PLANTED,
    'docs/leftover.pem': PLANTED,
    'roles/rolling_update/tasks/__pycache__/x.cpython-311.pyc': PLANTED,
    'plugins/modules/node.key': PLANTED,
    'demo.log': PLANTED,
    'wsfc-rolling-0.0.1.tar.gz': PLANTED,
}


def _tracked():
    proc = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True, check=True)
    return sorted(p for p in proc.stdout.decode().split('\0') if p)


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    """A copy of the checkout's tracked files with every leftover planted, built as users build it."""
    src = tmp_path_factory.mktemp('src') / 'rolling'
    for path in _tracked():
        if os.path.isfile(os.path.join(ROOT, path)):
            os.makedirs(os.path.dirname(str(src / path)) or str(src), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), str(src / path))
    for path, text in LEFTOVERS.items():
        os.makedirs(os.path.dirname(str(src / path)), exist_ok=True)
        (src / path).write_text(text)
    out = tmp_path_factory.mktemp('dist')
    proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), str(src)],
                          capture_output=True, text=True, check=False, timeout=300,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1', PATH=BIN + os.pathsep + os.environ.get('PATH', '')))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    galaxy = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))
    path = out / ('%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version']))
    assert path.exists(), os.listdir(str(out))
    return str(path)


def test_the_tarball_ships_the_collection_and_nothing_a_run_left(tarball):
    with tarfile.open(tarball) as tar:
        members = dict((m.name, m) for m in tar.getmembers())
        files = sorted(name for name, m in members.items() if m.isfile())
        for name in files:
            assert PLANTED not in tar.extractfile(members[name]).read().decode('utf-8', 'replace'), name
    outside = [f for f in files if f.split('/')[0] not in SHIPPED_DIRS and f not in SHIPPED_FILES]
    assert not outside, 'shipped but not part of the collection: %s' % outside
    # Every tracked file of the shipped directories is shipped (the allow-list misses nothing).
    wanted = [p for p in _tracked() if p.split('/')[0] in SHIPPED_DIRS or p in SHIPPED_FILES]
    missing = sorted(set(wanted) - set(files))
    assert not missing, 'tracked but not shipped: %s' % missing
    for must in ('LICENSE', 'README.md', 'meta/runtime.yml', 'plugins/modules/cluster_gate.py',
                 'powershell/shim/90-dispatch.ps1', 'docs/windows-behaviour.md', 'playbooks/rolling_update.yml'):
        assert must in files, must
    roles = sorted(set(f.split('/')[1] for f in files if f.startswith('roles/')))
    assert roles, files
    for role in roles:
        assert 'roles/%s/README.md' % role in files and 'roles/%s/meta/main.yml' % role in files, role


def test_the_licence_is_the_one_galaxy_yml_declares():
    galaxy = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))
    assert galaxy['license'] == ['GPL-3.0-or-later']
    with open(os.path.join(ROOT, 'LICENSE')) as handle:
        text = handle.read()
    assert 'GNU GENERAL PUBLIC LICENSE' in text and 'Version 3, 29 June 2007' in text
    for field in ('repository', 'documentation', 'homepage', 'issues'):
        assert galaxy.get(field, '').startswith('https://') and 'example' not in galaxy[field], field


def test_the_roles_declare_the_ansible_floor_the_collection_declares():
    runtime = yaml.safe_load(open(os.path.join(ROOT, 'meta', 'runtime.yml')))
    floor = re.match(r'>=(\d+\.\d+)', runtime['requires_ansible']).group(1)
    for role in os.listdir(os.path.join(ROOT, 'roles')):
        meta = yaml.safe_load(open(os.path.join(ROOT, 'roles', role, 'meta', 'main.yml')))
        assert str(meta['galaxy_info']['min_ansible_version']) == floor, role


@pytest.fixture(scope='module')
def fresh_venv(tmp_path_factory):
    """A new virtual environment with Galaxy's importer (and so ansible-builder), as a user or a Galaxy server has
    it: nothing of this checkout's .venv."""
    venv = tmp_path_factory.mktemp('importer') / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
    python = str(venv / 'bin' / 'python')
    proc = subprocess.run([python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'galaxy-importer'],
                          capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv


def test_galaxy_importer_accepts_the_tarball(tarball, fresh_venv, tmp_path):
    config = tmp_path / 'galaxy-importer.cfg'
    # Galaxy's own defaults (ansible-doc and ansible-lint on the collection, the changelog checked); ansible-test
    # needs a container runtime and is run separately by tools/sanity.
    config.write_text('[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_DOC = True\n'
                      'CHECK_CHANGELOG = True\nLOG_LEVEL_MAIN = INFO\n')
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=str(config), HOME=str(tmp_path), ANSIBLE_NOCOLOR='1',
               PATH=str(fresh_venv / 'bin') + os.pathsep + os.environ.get('PATH', ''))
    env.pop('ANSIBLE_COLLECTIONS_PATH', None)
    proc = subprocess.run([str(fresh_venv / 'bin' / 'python'), '-m', 'galaxy_importer.main', tarball],
                          cwd=str(tmp_path), capture_output=True, text=True, check=False, timeout=1200, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert 'ansible-lint run complete' in out and 'Importer processing completed successfully' in out, out[-3000:]
    problems = [line for line in out.splitlines() if line.startswith(('ERROR', 'WARNING'))]
    assert not problems, '\n'.join(problems)
    assert os.path.exists(str(tmp_path / 'importer_result.json')), out[-3000:]


def test_ansible_builder_finds_the_collections_requirements_and_creates_the_build_context(tarball, fresh_venv, tmp_path):
    """An execution environment as docs/awx.md builds it: ansible-builder reads meta/execution-environment.yml of
    the installed collection (introspect) and writes the build context of docs/awx/execution-environment.yml with
    the collection from the tarball (create; building the image needs a container runtime, not here)."""
    bin_dir = fresh_venv / 'bin'
    env = dict(os.environ, HOME=str(tmp_path), ANSIBLE_NOCOLOR='1', PATH=str(bin_dir) + os.pathsep + os.environ.get('PATH', ''))
    env.pop('ANSIBLE_COLLECTIONS_PATH', None)
    installed = tmp_path / 'collections'
    proc = subprocess.run([str(bin_dir / 'ansible-galaxy'), 'collection', 'install', '-p', str(installed), tarball],
                          capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([str(bin_dir / 'ansible-builder'), 'introspect', '--sanitize', str(installed)],
                          capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = yaml.safe_load(proc.stdout)
    python = ' '.join(found['python'])
    assert 'pywinrm[credssp,kerberos]>=' in python and 'requests-ntlm>=' in python and 'pyghmi>=' in python, python
    assert any(line.startswith('krb5-devel [platform:rpm compile]') for line in found['system']), found['system']
    with open(os.path.join(ROOT, 'docs', 'awx', 'execution-environment.yml')) as handle:
        definition = yaml.safe_load(handle)
    definition['dependencies']['galaxy'] = {'collections': [{'name': tarball, 'type': 'file'}]}
    (tmp_path / 'ee.yml').write_text(yaml.safe_dump(definition))
    proc = subprocess.run([str(bin_dir / 'ansible-builder'), 'create', '-f', str(tmp_path / 'ee.yml'),
                           '-c', str(tmp_path / 'context')], capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Containerfile for podman, Dockerfile where ansible-builder finds no podman: the same content.
    build_file = [tmp_path / 'context' / n for n in ('Containerfile', 'Dockerfile') if (tmp_path / 'context' / n).is_file()]
    assert build_file and 'ansible-galaxy collection install' in build_file[0].read_text()
    assert os.path.basename(tarball) in (tmp_path / 'context' / '_build' / 'requirements.yml').read_text()


@pytest.fixture(scope='module')
def docs_tools(tarball, tmp_path_factory):
    """A new virtual environment with Ansible's documentation and changelog tools and Sphinx (what a docsite and a
    release are built with), the tarball installed beside it; returns (venv, its environment, the installed
    collection's directory)."""
    base = tmp_path_factory.mktemp('docs')
    venv = base / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
    proc = subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                           'antsibull-docs', 'antsibull-changelog', 'sphinx', 'sphinx-ansible-theme>=0.9.0', 'ansible-pygments'],
                          capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installed = base / 'collections'
    env = dict(os.environ, HOME=str(base), ANSIBLE_NOCOLOR='1', ANSIBLE_COLLECTIONS_PATH=str(installed),
               PATH=str(venv / 'bin') + os.pathsep + BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-p', str(installed), tarball],
                          capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv, env, installed / 'ansible_collections' / 'wsfc' / 'rolling'


def test_antsibull_docs_finds_no_documentation_error_in_the_installed_collection(docs_tools):
    """The collection's documentation as Ansible's documentation tooling reads it (what a docsite is built from):
    every module, plugin and role argument spec, from the installed tarball."""
    venv, env, collection = docs_tools
    proc = subprocess.run([str(venv / 'bin' / 'antsibull-docs'), 'lint-collection-docs', '--plugin-docs', '.'],
                          cwd=str(collection), capture_output=True, text=True, check=False, timeout=600, env=env)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout[-5000:] + proc.stderr[-3000:]


def test_the_collection_docsite_builds(docs_tools, tmp_path):
    """The docsite as antsibull-docs sets it up (sphinx-init, then its build script: every plugin's page, then
    Sphinx with warnings as errors). With no network, references into the Ansible docsite (intersphinx) cannot be
    resolved: those are the only warnings allowed; a reference within this collection that does not resolve, or
    any other warning, fails."""
    venv, env, _collection = docs_tools
    site = tmp_path / 'site'
    site.mkdir(mode=0o700)
    proc = subprocess.run([str(venv / 'bin' / 'antsibull-docs'), 'sphinx-init', '--use-current', '--dest-dir', str(site),
                           'wsfc.rolling'], capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = subprocess.run(['bash', str(site / 'build.sh')], cwd=str(site), capture_output=True, text=True, check=False,
                          timeout=900, env=dict(env, NO_COLOR='1'))
    # Sphinx colours its warnings where it thinks a terminal reads them (under CI=true too): the colour codes go.
    out = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)
    warnings = [line.split('WARNING: ', 1)[1] for line in out.splitlines() if 'WARNING: ' in line]
    external = re.compile(r"undefined label: '(?!ansible_collections\.wsfc\.rolling\.)[^']+' \[ref\.ref\]$")
    unexpected = [w for w in warnings if not external.match(w) and not w.startswith('failed to reach any of the inventories')]
    assert not unexpected, '\n'.join(unexpected)
    pages = dict((name, (site / 'build' / 'html' / 'collections' / 'wsfc' / 'rolling' / name))
                 for name in ('index.html', 'cluster_gate_module.html', 'run_report_filter.html', 'rolling_update_role.html',
                              'per_cluster_strategy.html'))
    missing = [name for name, path in pages.items() if not path.is_file()]
    assert not missing, (missing, out[-3000:])
    assert 'Check that a failover cluster node can be taken out safely right now' in pages['cluster_gate_module.html'].read_text()


def test_the_changelog_is_generated_from_the_fragments(docs_tools, tmp_path):
    """antsibull-changelog accepts every fragment (lint), CHANGELOG.rst is what it generates from
    changelogs/changelog.yaml, and a release of the galaxy.yml version takes every fragment into it."""
    venv, env, _collection = docs_tools
    tool = str(venv / 'bin' / 'antsibull-changelog')
    copy = tmp_path / 'rolling'
    for path in _tracked():
        if os.path.isfile(os.path.join(ROOT, path)):
            os.makedirs(os.path.dirname(str(copy / path)) or str(copy), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), str(copy / path))
    proc = subprocess.run([tool, 'lint'], cwd=str(copy), capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    proc = subprocess.run([tool, 'generate'], cwd=str(copy), capture_output=True, text=True, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(ROOT, 'CHANGELOG.rst')) as handle:
        assert (copy / 'CHANGELOG.rst').read_text() == handle.read(), 'CHANGELOG.rst is not what antsibull-changelog generates'
    fragments = sorted(os.listdir(str(copy / 'changelogs' / 'fragments')))
    entries = []
    for name in fragments:
        with open(str(copy / 'changelogs' / 'fragments' / name)) as handle:
            entries.extend(text for section in yaml.safe_load(handle).values() for text in section)
    version = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))['version']
    proc = subprocess.run([tool, 'release', '--version', version, '--date', '2026-12-01'], cwd=str(copy), capture_output=True,
                          text=True, check=False, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    released = ' '.join((copy / 'CHANGELOG.rst').read_text().split())
    assert 'v%s' % version in released and entries
    lost = [text for text in entries if ' '.join(text.split())[:60].replace('``', '') not in released.replace('``', '')]
    assert not lost, lost
