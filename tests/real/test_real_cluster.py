"""Validate on your own cluster before your first run (opt-in; skipped, and reported as skipped, without it).

    WSFC_REAL_INVENTORY=/path/to/inventory.yml pytest -m real_cluster tests/real

runs, read-only: the doctor, cluster_info and a check-mode rolling update (nothing on the cluster
changes). With a second opt-in, WSFC_REAL_DRAIN_NODE=<node name>, it also drains that node (live
migration only, as the runbook does) and resumes it with failback: the one test that changes the
cluster, and only the node named. The inventory is the one the runbooks use (group wsfc_cluster,
wsfc_winrm_* variables); ansible-playbook and the collection come from this checkout's venv.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.environ.get('WSFC_REAL_INVENTORY')
DRAIN_NODE = os.environ.get('WSFC_REAL_DRAIN_NODE')

pytestmark = [
    pytest.mark.real_cluster,
    pytest.mark.skipif(not INVENTORY, reason='set WSFC_REAL_INVENTORY to an inventory of your cluster to run these'),
]


def ansible(collections_path, args, timeout=3600):
    command = [os.path.join(os.path.dirname(sys.executable), args[0])] + args[1:]
    environ = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_CALLBACK_RESULT_FORMAT='yaml')
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout, check=False)


def test_the_doctor_finds_nothing_to_fix(collections_path):
    proc = ansible(collections_path, ['ansible-playbook', '-i', INVENTORY, os.path.join(ROOT, 'playbooks', 'doctor.yml')])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_cluster_info_reads_the_cluster(collections_path):
    proc = ansible(collections_path, ['ansible-playbook', '-i', INVENTORY, os.path.join(ROOT, 'playbooks', 'cluster_report.yml')])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_a_check_mode_rolling_update_changes_nothing(collections_path):
    proc = ansible(collections_path, ['ansible-playbook', '-i', INVENTORY, '--check',
                                      os.path.join(ROOT, 'playbooks', 'rolling_update.yml')])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


@pytest.mark.skipif(not DRAIN_NODE, reason='set WSFC_REAL_DRAIN_NODE to a node name to drain and resume it')
def test_drain_and_resume_one_named_node(collections_path, tmp_path):
    playbook = tmp_path / 'drain_resume.yml'
    playbook.write_text('''---
- name: Drain and resume one node
  hosts: "{{ node }}"
  gather_facts: false
  module_defaults:
    group/wsfc.rolling.winrm:
      winrm_host: "{{ wsfc_cluster_address }}"
      winrm_user: "{{ wsfc_winrm_user }}"
      winrm_password: "{{ wsfc_winrm_password }}"
      winrm_transport: "{{ wsfc_winrm_transport | default('ntlm') }}"
      winrm_ca_path: "{{ wsfc_winrm_ca_path | default(omit) }}"
  tasks:
    - name: Check that taking it out is safe
      wsfc.rolling.cluster_gate:
        name: "{{ node }}"
        node_hosts: "{{ dict(groups['wsfc_cluster'] | zip(groups['wsfc_cluster'] | map('extract', hostvars, 'wsfc_winrm_host'))) }}"
      delegate_to: localhost
    - name: Drain it (live migration only)
      wsfc.rolling.cluster_node:
        name: "{{ node }}"
        state: paused
      delegate_to: localhost
    - name: Resume it with failback
      wsfc.rolling.cluster_node:
        name: "{{ node }}"
        state: up
      delegate_to: localhost
''')
    proc = ansible(collections_path, ['ansible-playbook', '-i', INVENTORY, str(playbook), '-e', json.dumps({'node': DRAIN_NODE})])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
