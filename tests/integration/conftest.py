import itertools
import json
import os
import subprocess
import sys

import pytest

from lab import cli as lab_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The project's controller settings (internal_poll_interval), as ansible-playbook started in ROOT reads them.
ANSIBLE_CFG = os.path.join(ROOT, 'ansible.cfg')


@pytest.fixture
def playbook(collections_path, tmp_path):
    """Run ansible-playbook from this venv; returns (CompletedProcess, result JSON written by the play or None)."""

    def run(path, inventory, extra_vars=None, check=False, env=None, args=()):
        out_file = tmp_path / ('result-%d.json' % len(os.listdir(tmp_path)))
        extra = dict(extra_vars or {}, result_file=str(out_file))
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
               os.path.join(ROOT, path), '-e', json.dumps(extra)]
        if check:
            cmd.append('--check')
        cmd.extend(args)
        environ = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1',
                       ANSIBLE_HOST_KEY_CHECKING='false', ANSIBLE_RETRY_FILES_ENABLED='false',
                       ANSIBLE_CALLBACK_RESULT_FORMAT='yaml', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'),
                       ANSIBLE_CONFIG=ANSIBLE_CFG)
        environ.update(env or {})
        proc = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=600, check=False)
        result = json.loads(out_file.read_text()) if out_file.exists() else None
        return proc, result
    return run


_untouched_nets = itertools.count(220 + 10 * int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:] or 0))


@pytest.fixture(scope='module')
def untouched_lab(tmp_path_factory):
    """One hyperv4 lab for a test module's bad-input cases: none of them may change it (each test asserts it)."""
    run_dir = str(tmp_path_factory.mktemp('bad-input-lab'))
    state = lab_cli.start('hyperv4', run_dir, net='127.0.%d' % next(_untouched_nets))
    state['inventory'] = run_dir + '/inventory.yml'
    yield state
    lab_cli.stop(run_dir)
