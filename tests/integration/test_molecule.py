"""Every molecule scenario (extensions/molecule/*) runs as part of the test command."""

import itertools
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSIONS = os.path.join(ROOT, 'extensions')
SCENARIOS = sorted(d for d in os.listdir(os.path.join(EXTENSIONS, 'molecule'))
                   if os.path.isfile(os.path.join(EXTENSIONS, 'molecule', d, 'molecule.yml')))
_nets = itertools.count(40)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_molecule_scenario(scenario, collections_path, tmp_path):
    lab_dir = tmp_path / 'lab'
    env = dict(os.environ, WSFC_COLLECTIONS_PATH=collections_path, WSFC_LAB_DIR=str(lab_dir),
               WSFC_LAB_NET='127.0.%d' % next(_nets), ANSIBLE_NOCOLOR='1', NO_COLOR='1',
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    try:
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'molecule'), 'test', '-s', scenario],
                              cwd=EXTENSIONS, env=env, capture_output=True, text=True, timeout=1200, check=False)
    finally:
        # destroy stops the lab; if molecule died before that, stop it here (by its PID).
        if (lab_dir / 'lab.json').exists():
            subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'lab'), 'stop', '--dir', str(lab_dir)],
                           check=False, capture_output=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for step in ('create', 'converge', 'idempotence', 'verify', 'destroy'):
        assert '%s: Executed: Successful' % step in out.replace('\x1b', ''), step
