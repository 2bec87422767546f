"""The versions the collection declares are the versions that work: a controller with the oldest ansible-core the
collection supports (meta/runtime.yml) and the oldest Python packages requirements.txt allows, and one with the
newest ansible-core and packages on the Python it needs, each runs the rolling update against the lab, and a
clean failure (a wrong password) shows as the module's message, never as an exception."""

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from integration.labcheck import assert_safe, events, lab_state

pytestmark = pytest.mark.quality
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def floors():
    """The oldest ansible-core (meta/runtime.yml) and the floor of every requirement in requirements.txt."""
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        core = re.match(r'>=(\d+\.\d+\.\d+)$', yaml.safe_load(handle)['requires_ansible']).group(1)
    pins = ['ansible-core==%s' % core]
    with open(os.path.join(ROOT, 'requirements.txt')) as handle:
        for line in handle:
            line = line.split('#')[0].strip()
            if line:
                name, floor = re.match(r'^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)', line).groups()
                pins.append('%s==%s' % (name, floor))
    return pins


def newest_python():
    """An interpreter for the newest ansible-core (it needs Python 3.12 or later): under pyenv or on PATH (a pyenv
    shim on PATH may name a version that is not installed: each candidate must start)."""
    candidates = []
    for pattern in ('~/.pyenv/versions/3.13*/bin/python', '~/.pyenv/versions/3.12*/bin/python'):
        candidates += sorted(glob.glob(os.path.expanduser(pattern)), reverse=True)
    candidates += [found for found in (shutil.which('python3.13'), shutil.which('python3.12')) if found]
    for python in candidates:
        if subprocess.run([python, '-c', 'import sys; assert sys.version_info >= (3, 12)'],
                          capture_output=True, check=False).returncode == 0:
            return python
    return None


CONTROLLERS = {
    'oldest': lambda: (sys.executable, floors()),
    'newest': lambda: (newest_python(), ['ansible-core', 'pywinrm', 'requests-ntlm', 'pyghmi']),
}


@pytest.fixture(scope='module', params=sorted(CONTROLLERS))
def controller(request, tmp_path_factory):
    python, packages = CONTROLLERS[request.param]()
    if python is None:
        pytest.skip('no Python 3.12 or later on this machine for the newest ansible-core')
    venv = tmp_path_factory.mktemp('controller-' + request.param) / 'venv'
    subprocess.run([python, '-m', 'venv', str(venv)], check=True, timeout=300)
    proc = subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
                          + packages, capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    versions = subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'list', '--format=freeze'],
                              capture_output=True, text=True, check=True).stdout
    return {'name': request.param, 'bin': str(venv / 'bin'), 'versions': versions}


def run(controller, collections_path, inventory, extra, tmp_path, playbook='rolling_update.yml'):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1',
               ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'),
               PATH=controller['bin'] + os.pathsep + os.environ.get('PATH', ''))
    cmd = [os.path.join(controller['bin'], 'ansible-playbook'), '-i', inventory,
           os.path.join(ROOT, 'playbooks', playbook)]
    for name, value in extra.items():
        cmd += ['-e', '%s=%s' % (name, value)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)


def test_the_rolling_update_works_on_the_oldest_and_newest_supported_versions(controller, start_lab, collections_path, tmp_path):
    state = start_lab('hyperv4')
    wrong = run(controller, collections_path, state['inventory'], {'wsfc_winrm_password': 'not-the-password'}, tmp_path)
    out = wrong.stdout + wrong.stderr
    assert wrong.returncode != 0 and '(ntlm transport): the specified credentials were rejected by the server' in out, controller['versions'] + out[-4000:]
    assert 'An exception occurred during task execution' not in out and 'Traceback' not in out, out[-4000:]
    bmc = run(controller, collections_path, state['inventory'], {'wsfc_bmc_password': 'not-the-password',
              'rolling_upgrade_target_build': 20348, 'rolling_upgrade_capture_dir': str(tmp_path / 'captures')},
              tmp_path, 'rolling_upgrade.yml')
    out = bmc.stdout + bmc.stderr
    assert bmc.returncode != 0 and "refused the login of 'ADMIN' over IPMI" in out, out[-4000:]
    assert 'An exception occurred during task execution' not in out and 'Traceback' not in out, out[-4000:]
    assert events(state, 'node.suspend_requested') == []
    proc = run(controller, collections_path, state['inventory'],
               {'rolling_update_poll_interval': 0.1, 'rolling_update_allow_save_state': 'true'}, tmp_path)
    assert proc.returncode == 0, controller['versions'] + proc.stdout[-6000:] + proc.stderr[-2000:]
    for node in lab_state(state)['nodes']:
        assert node['state'] == 'Up' and node['pending_updates'] == [], node
    assert_safe(state)
