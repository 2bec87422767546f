"""The collection set up the way AWX / Automation Controller runs it (docs/awx.md): the project's playbook that
imports the collection's, credentials injected as environment variables by the custom credential types (none in
the inventory), host names as a dynamic inventory gives them (lower-case FQDNs, mapped to the nodes by
wsfc_node_name), a limit to some nodes of a cluster, and a failed run resumed by a fresh controller."""

import collections
import json
import os
import shutil

import pytest
import yaml

from lab import cli as lab_cli
from integration.labcheck import assert_safe, events, fault, lab_state, said

pytestmark = pytest.mark.integration
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRETS = ('wsfc_winrm_user', 'wsfc_winrm_password', 'wsfc_winrm_transport', 'wsfc_bmc_user', 'wsfc_bmc_password')


def awx_inventory(state, path, fqdn=False):
    """The lab's inventory without any credential: AWX keeps those in credentials, not in the inventory. With
    ``fqdn``, each host is named as a dynamic inventory names it (``hv-n1.lab.test``), and its wsfc_node_name
    gives its node, in lower case (the cluster spells it HV-N1)."""
    with open(state['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    group = inventory['all']['children']['wsfc_cluster']
    found = {}
    for name in SECRETS:
        found[name] = group['vars'].pop(name)
    if fqdn:
        group['hosts'] = dict(('%s.lab.test' % node.lower(), dict(values, wsfc_node_name=node.lower()))
                              for node, values in group['hosts'].items())
    path.write_text(yaml.safe_dump(inventory))
    return str(path), found


def injected(found):
    """The environment the credential types of docs/awx/credential-types/ inject."""
    kinds = {}
    for name in ('wsfc-winrm.yml', 'wsfc-bmc.yml'):
        with open(os.path.join(ROOT, 'docs', 'awx', 'credential-types', name)) as handle:
            kinds[name] = yaml.safe_load(handle)['injectors']['env']
    values = {'WSFC_WINRM_USER': found['wsfc_winrm_user'], 'WSFC_WINRM_PASSWORD': found['wsfc_winrm_password'],
              'WSFC_WINRM_TRANSPORT': found['wsfc_winrm_transport'], 'WSFC_BMC_USER': found['wsfc_bmc_user'],
              'WSFC_BMC_PASSWORD': found['wsfc_bmc_password'], 'WSFC_BMC_PROTOCOL': 'ipmi'}
    env = {}
    for injectors in kinds.values():
        for variable in injectors:
            env[variable] = values[variable]
    return env


def test_the_awx_project_with_injected_credentials_fqdn_hosts_and_a_limit_updates_the_limited_nodes(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory, found = awx_inventory(state, tmp_path / 'awx-inventory.yml', fqdn=True)
    # Without the credential, the run stops before anything, naming what to set.
    proc = playbook('examples/awx-project/rolling_update.yml', inventory, {'rolling_update_poll_interval': 0.1})[0]
    assert proc.returncode != 0 and 'WSFC_WINRM_USER' in proc.stdout, proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == []
    proc = playbook('examples/awx-project/rolling_update.yml', inventory,
                    {'rolling_update_poll_interval': 0.1, 'rolling_update_allow_save_state': 'true'},
                    env=injected(found), args=['--limit', 'hv-n1.lab.test,hv-n3.lab.test'])[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert sorted(e['node'] for e in events(state, 'node.suspend_requested')) == ['HV-N1', 'HV-N3']
    pending = dict((n['name'], bool(n['pending_updates'])) for n in lab_state(state)['nodes'])
    assert pending == {'HV-N1': False, 'HV-N2': True, 'HV-N3': False, 'HV-N4': True}
    assert_safe(state)


def test_the_doctor_takes_the_bmc_credential_from_the_environment(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory, found = awx_inventory(state, tmp_path / 'awx-inventory.yml')
    proc = playbook('examples/awx-project/doctor.yml', inventory, env=injected(found))[0]
    assert 'BMC 127.' in proc.stdout and 'answers (ipmi)' in proc.stdout, proc.stdout[-4000:]
    assert "refused the login" not in proc.stdout


def test_fqdn_hosts_without_the_mapping_are_refused_naming_the_variable(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory, found = awx_inventory(state, tmp_path / 'awx-inventory.yml', fqdn=True)
    with open(inventory) as handle:
        data = yaml.safe_load(handle)
    for values in data['all']['children']['wsfc_cluster']['hosts'].values():
        del values['wsfc_node_name']
    with open(inventory, 'w') as handle:
        yaml.safe_dump(data, handle)
    proc = playbook('examples/awx-project/rolling_update.yml', inventory, {'rolling_update_poll_interval': 0.1},
                    env=injected(found))[0]
    assert proc.returncode != 0 and said(proc, 'inventory hosts that are not nodes of HVCLU01: hv-n1.lab.test'), proc.stdout[-4000:]
    assert said(proc, "set the host's wsfc_node_name to the node name")
    assert events(state, 'node.suspend_requested') == [] and events(state, 'lock.acquired') == []


def test_a_failed_upgrade_of_fqdn_hosts_resumes_from_a_fresh_controller(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory, found = awx_inventory(state, tmp_path / 'awx-inventory.yml', fqdn=True)
    opts = {'rolling_upgrade_target_build': 20348, 'rolling_upgrade_poll_interval': 0.1,
            'rolling_upgrade_node_order': ['hv-n2.lab.test', 'HV-N1']}
    homes = [tmp_path / 'controller-1', tmp_path / 'controller-2']
    for home in homes:
        home.mkdir()
    # hv-n2 comes back from its reinstall without its virtual switch: the run stops there, HV-N2 evicted.
    fault(state, 'config_mismatch', ['HV-N2'])
    proc = playbook('examples/awx-project/rolling_upgrade.yml', inventory, opts, env=dict(injected(found), HOME=str(homes[0])))[0]
    assert proc.returncode != 0 and said(proc, 'does not match the capture in the cluster database'), proc.stdout[-4000:]
    assert [n['name'] for n in lab_state(state)['nodes'] if not n['member']] == ['HV-N2']
    # The lock and the capture name the node as the cluster does.
    assert json.loads(lab_state(state)['lock'])['node'] == 'HV-N2'
    assert [e['node'] for e in events(state, 'capture.written')] == ['HV-N2']
    fault(state, 'config_mismatch', None)
    lab_cli.control(state, '/', {'action': 'repair_config', 'node': 'HV-N2'})
    shutil.rmtree(str(homes[0]))
    proc = playbook('examples/awx-project/rolling_upgrade.yml', inventory, opts, env=dict(injected(found), HOME=str(homes[1])))[0]
    assert proc.returncode == 0, proc.stdout[-6000:]
    snap = lab_state(state)
    assert all(n['member'] and n['state'] == 'Up' and n['build'] == 20348 for n in snap['nodes']), snap['nodes']
    assert snap['lock'] is None
    assert_safe(state)
    evicted = collections.Counter(e['node'] for e in events(state, 'node.evicted'))
    assert evicted == {'HV-N1': 1, 'HV-N2': 1, 'HV-N3': 1, 'HV-N4': 1}
    # The node order named hosts and nodes alike: hv-n2 first, then HV-N1.
    assert [e['node'] for e in events(state, 'node.evicted')][:2] == ['HV-N2', 'HV-N1']
