"""cluster_validate against the in-process lab: verdict per category, safe by default, disruptive storage tests only
on request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cluster_validate
from unit.labproto import build_lab, patch_modules

ARGS = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw', 'winrm_fallback_hosts': ['HV-N1', 'HV-N2']}


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cluster_validate)
    return lab


def validated(lab):
    return [e for e in lab.recorder.events if e['kind'] == 'cluster.validated']


def test_the_default_categories_pass_on_a_healthy_cluster_and_storage_is_left_out(run_module, lab):
    rc, result = run_module(cluster_validate, ARGS)
    assert rc == 0 and result['changed'] is False and result['result'] == 'Passed', result
    assert [c['category'] for c in result['categories']] == ['Inventory', 'Network', 'System Configuration', 'Cluster Configuration']
    assert all(c['report'].startswith('C:\\Windows\\Cluster\\Reports\\wsfc-rolling-validate-') for c in result['categories'])
    assert result['msg'] == 'Cluster validation: Passed; every category passed'


def test_warnings_and_failures_per_category_and_fail_on(run_module, lab):
    lab.faults['validation'] = {'Network': {'level': 'warning', 'message': 'Node HV-N2 has one network adapter.'}}
    rc, result = run_module(cluster_validate, ARGS)
    assert rc == 0 and result['result'] == 'Warning' and result['summary']['Warning'] == ['Network']
    assert 'Network Warning (Node HV-N2 has one network adapter.)' in result['msg']
    rc, result = run_module(cluster_validate, dict(ARGS, fail_on='warnings'))
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed'
    lab.set_power('HV-N4', 'Off')
    rc, result = run_module(cluster_validate, dict(ARGS, fail_on='never'))
    assert rc == 0 and result['result'] == 'Failed' and 'Inventory' in result['summary']['Failed']
    rc, result = run_module(cluster_validate, ARGS)
    assert rc == 1 and result['error_type'] == 'UnsafeToProceed' and 'Node HV-N4 could not be reached' in result['msg']


def test_storage_tests_that_take_disks_offline_need_the_opt_in(run_module, lab):
    rc, result = run_module(cluster_validate, dict(ARGS, categories=['Storage'], disks=['Cluster Disk 1']))
    assert rc == 1 and result['error_type'] == 'InvalidOption' and 'allow_disruptive_storage_tests=true' in result['msg']
    assert validated(lab) == []
    rc, result = run_module(cluster_validate, dict(ARGS, categories=['Storage'], fail_on='never'))
    assert rc == 0 and result['result'] == 'Warning' and 'were skipped' in result['msg']
    assert lab.recorder.violations == []
    before = len(validated(lab))
    rc, result = run_module(cluster_validate, dict(ARGS, categories=['Nonsense']))
    assert rc == 1 and 'Nonsense' in result['msg'] and len(validated(lab)) == before
