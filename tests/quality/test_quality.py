"""Linters and Ansible's own checks, run as part of the one test command."""

import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.quality
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(cmd, collections_path, home=None, **kw):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1', NO_COLOR='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    if home:
        env['HOME'] = home
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, **kw)


def test_ansible_lint_production_profile(collections_path, tmp_path):
    # A private HOME: ansible-lint must see this tree, not a copy of the collection some earlier
    # tool left under ~/.ansible/collections.
    proc = run([os.path.join(BIN, 'ansible-lint'), '--profile', 'production', '--offline'], collections_path,
               timeout=900, home=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_ansible_test_sanity_without_ignore_files(collections_path, tmp_path):
    assert not os.path.exists(os.path.join(ROOT, 'tests', 'sanity')), 'sanity ignore files are not allowed'
    proc = subprocess.run(
        [os.path.join(ROOT, 'tools', 'sanity')], cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800,
        env=dict(os.environ, SANITY_WORKDIR=str(tmp_path), PYTHON=sys.executable,
                 PATH=BIN + os.pathsep + os.environ.get('PATH', '')))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, '\n'.join(line for line in out.splitlines() if 'ERROR' in line or 'FATAL' in line)[-8000:]
    assert 'Running sanity test "validate-modules"' in out and 'Running sanity test "pylint"' in out


def modules():
    return sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if f.endswith('.py'))


@pytest.mark.parametrize('module', modules())
def test_ansible_doc_renders(collections_path, module):
    proc = run([os.path.join(BIN, 'ansible-doc'), '-t', 'module', 'wsfc.rolling.%s' % module], collections_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'winrm_host' in proc.stdout or 'bmc' in proc.stdout


def test_every_module_is_in_an_action_group():
    runtime = yaml.safe_load(open(os.path.join(ROOT, 'meta', 'runtime.yml')))
    grouped = set(m for group in runtime['action_groups'].values() for m in group)
    assert grouped == set(modules())
