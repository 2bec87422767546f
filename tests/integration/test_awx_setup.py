"""The collection set up the way AWX / Automation Controller runs it (docs/awx.md): the project's playbook that
imports the collection's, credentials injected as environment variables by the custom credential types (none in
the inventory), a limit to some nodes of a cluster."""

import os

import pytest
import yaml

from integration.labcheck import assert_safe, events, lab_state

pytestmark = pytest.mark.integration
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRETS = ('wsfc_winrm_user', 'wsfc_winrm_password', 'wsfc_winrm_transport', 'wsfc_bmc_user', 'wsfc_bmc_password')


def awx_inventory(state, path):
    """The lab's inventory without any credential: AWX keeps those in credentials, not in the inventory."""
    with open(state['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    found = {}
    for name in SECRETS:
        found[name] = inventory['all']['children']['wsfc_cluster']['vars'].pop(name)
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


def test_the_awx_project_with_injected_credentials_and_a_limit_updates_the_limited_nodes(start_lab, playbook, tmp_path):
    state = start_lab('hyperv4')
    inventory, found = awx_inventory(state, tmp_path / 'awx-inventory.yml')
    # Without the credential, the run stops before anything, naming what to set.
    proc = playbook('examples/awx-project/rolling_update.yml', inventory, {'rolling_update_poll_interval': 0.1})[0]
    assert proc.returncode != 0 and 'WSFC_WINRM_USER' in proc.stdout, proc.stdout[-3000:]
    assert events(state, 'node.suspend_requested') == []
    proc = playbook('examples/awx-project/rolling_update.yml', inventory,
                    {'rolling_update_poll_interval': 0.1, 'rolling_update_allow_save_state': 'true'},
                    env=injected(found), args=['--limit', 'HV-N1,HV-N3'])[0]
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
