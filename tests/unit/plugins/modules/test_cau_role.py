"""cau_role against the in-process lab: add, configure only what differs, enable/disable, remove; check mode and
bad input change nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.modules import cau_role
from unit.labproto import build_lab, patch_modules

ARGS = {'winrm_host': 'HVCLU01', 'winrm_user': 'LAB\\admin', 'winrm_password': 'pw', 'winrm_fallback_hosts': ['HV-N1', 'HV-N2']}


@pytest.fixture
def lab(monkeypatch):
    lab = build_lab('hyperv4')
    patch_modules(monkeypatch, lab, cau_role)
    return lab


def role_events(lab):
    return [e['kind'] for e in lab.recorder.events if e['kind'].startswith('cau.role_')]


def test_configure_only_what_differs_then_nothing(run_module, lab):
    # The scenario's role runs on Tuesdays every two weeks with MaxFailedNodes 1: only what differs is set.
    wanted = dict(ARGS, days_of_week=['Tuesday'], interval_weeks=2, max_failed_nodes=2, require_all_nodes_online=True)
    rc, result = run_module(cau_role, dict(wanted, _ansible_check_mode=True))
    assert rc == 0 and result['changed'] and result['changes'] == ['set MaxFailedNodes, RequireAllNodesOnline'], result
    assert role_events(lab) == []
    rc, result = run_module(cau_role, wanted)
    assert rc == 0 and result['changed'] and role_events(lab) == ['cau.role_set']
    assert result['role']['parameters']['RequireAllNodesOnline'] == 'True'
    rc, result = run_module(cau_role, wanted)
    assert rc == 0 and not result['changed'] and result['changes'] == [] and role_events(lab) == ['cau.role_set']


def test_disable_for_an_upgrade_enable_after_and_remove_and_add(run_module, lab):
    rc, result = run_module(cau_role, dict(ARGS, enabled=False))
    assert rc == 0 and result['changed'] and result['role']['state'] == 'Offline'
    rc, result = run_module(cau_role, dict(ARGS, enabled=False))
    assert rc == 0 and not result['changed']
    rc, result = run_module(cau_role, dict(ARGS, enabled=True))
    assert rc == 0 and result['changed'] and result['role']['state'] == 'Online'
    rc, result = run_module(cau_role, dict(ARGS, state='absent'))
    assert rc == 0 and result['changed'] and result['role'] is None
    rc, result = run_module(cau_role, dict(ARGS, state='absent'))
    assert rc == 0 and not result['changed']
    rc, result = run_module(cau_role, dict(ARGS, days_of_week=['Sunday'], weeks_of_month=[1], enabled=False))
    assert rc == 0 and result['changes'] == ['add the CAU clustered role', 'disable it'] and result['role']['state'] == 'Offline'
    assert result['role']['parameters']['DaysOfWeek'] == 'Sunday'
    assert role_events(lab) == ['cau.role_disabled', 'cau.role_enabled', 'cau.role_removed', 'cau.role_added', 'cau.role_disabled']


@pytest.mark.parametrize('extra, message', [
    ({'weeks_of_month': [2], 'interval_weeks': 2}, 'weeks_of_month and interval_weeks are two kinds of schedule'),
    ({'weeks_of_month': [6]}, 'weeks_of_month takes weeks 1 to 5'),
    ({'max_failed_nodes': 7}, 'max_failed_nodes must be from 0 to 3'),
    ({'plugin': 'Microsoft.HotfixPlugin'}, 'needs plugin_arguments.HotfixRootFolderPath'),
    ({'node_order': ['HV-N9']}, 'node_order names HV-N9'),
])
def test_bad_input_is_refused_and_changes_nothing(run_module, lab, extra, message):
    before = dict(lab.cau_parameters)
    rc, result = run_module(cau_role, dict(ARGS, **extra))
    assert rc == 1 and message in result['msg'], result
    assert lab.cau_parameters == before and role_events(lab) == []
