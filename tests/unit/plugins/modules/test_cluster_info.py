from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cluster_info
from unit.labproto import build_lab, patch_modules

ARGS = {'winrm_host': 'HV-N2', 'winrm_user': 'LAB\\admin', 'winrm_password': 'secret'}


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cluster_info)
    return lab


def test_reads_everything_in_one_round_trip(run_module, lab):
    rc, result = run_module(cluster_info, ARGS)
    assert rc == 0 and result['changed'] is False
    assert result['round_trips'] == 1 and len(lab.protocols[0].requests) == 1
    assert result['cluster']['name'] == 'HVCLU01' and result['cluster']['answered_by'] == 'HV-N2'
    assert result['cluster']['functional_level_name'] == 'Windows Server 2019'
    assert [n['name'] for n in result['nodes']] == ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']
    assert result['health']['healthy'] is True and result['health']['quorum']['margin'] == 2
    assert result['cau_role']['group_name'].startswith('CAU')
    # The password is a secret: Ansible masks no_log values wherever they would appear.
    assert 'secret' not in repr(result)


def test_check_mode_reads_the_same_and_changes_nothing(run_module, lab):
    before = lab.snapshot()
    rc, result = run_module(cluster_info, dict(ARGS, _ansible_check_mode=True))
    assert rc == 0 and result['changed'] is False and len(result['nodes']) == 4
    after = lab.snapshot()
    before.pop('time'), after.pop('time')
    assert before == after


def test_unknown_cluster_name_fails_with_not_found(run_module, lab):
    rc, result = run_module(cluster_info, dict(ARGS, cluster_name='PRODCLU'))
    assert rc == 1 and result['failed'] is True
    assert result['error_type'] == 'NotFound'
    assert result['msg'] == "Cluster 'PRODCLU' not found: HV-N2 belongs to cluster 'HVCLU01'"


def test_cluster_service_stopped_fails_with_the_windows_error(run_module, lab):
    lab.set_cluster_service('HV-N2', 'Stopped')
    rc, result = run_module(cluster_info, ARGS)
    assert rc == 1 and result['error_type'] == 'RemoteCommandError'
    assert 'The cluster service is not running' in result['msg']
    assert result['error_records'][0]['category'] == 'ConnectionError'


@pytest.mark.parametrize('args, message', [
    ({'winrm_port': 99999}, 'winrm_port must be between 1 and 65535, got 99999'),
    ({'winrm_password': None}, 'winrm_password is required with winrm_transport ntlm'),
    ({'winrm_ca_path': '/missing/ca.pem'}, 'winrm_ca_path not found: /missing/ca.pem'),
])
def test_bad_connection_options_fail_cleanly(run_module, lab, args, message):
    merged = dict(ARGS)
    merged.update(args)
    merged = dict((k, v) for k, v in merged.items() if v is not None)
    rc, result = run_module(cluster_info, merged)
    assert rc == 1 and result['error_type'] == 'InvalidOption' and message in result['msg']
    assert lab.protocols == []


def test_unknown_transport_is_refused_by_the_argspec(run_module, lab):
    rc, result = run_module(cluster_info, dict(ARGS, winrm_transport='telnet'))
    assert rc == 1 and 'value of winrm_transport must be one of' in result['msg']


def test_env_fallback_supplies_connection_options(run_module, lab, monkeypatch):
    monkeypatch.setenv('WSFC_WINRM_HOST', 'HV-N4')
    monkeypatch.setenv('WSFC_WINRM_USER', 'LAB\\admin')
    monkeypatch.setenv('WSFC_WINRM_PASSWORD', 'x')
    rc, result = run_module(cluster_info, {})
    assert rc == 0 and result['cluster']['answered_by'] == 'HV-N4'
