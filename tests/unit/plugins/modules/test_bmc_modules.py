"""bmc_power, bmc_boot and bmc_info as Ansible runs them, against the lab's BMCs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.wsfc.rolling.plugins.modules import bmc_boot, bmc_info, bmc_power
from lab import cli as lab_cli
from unit.labproto import bmc_args


@pytest.fixture
def lab(bmc_lab):
    return bmc_lab


def args(lab, node='HV-N2', protocol='ipmi', **kw):
    return bmc_args(lab, node, protocol, **kw)


def sent(lab):
    return [e for e in lab_cli.control(lab, '/events') if e['kind'] in ('bmc.power', 'bmc.boot')]


@pytest.mark.parametrize('protocol', ['ipmi', 'redfish'])
def test_bmc_power_check_mode_change_and_idempotence(run_module, lab, protocol):
    node = 'HV-N2' if protocol == 'ipmi' else 'HV-N3'
    before = len(sent(lab))
    rc, result = run_module(bmc_power, args(lab, node, protocol, state='powered_off', _ansible_check_mode=True,
                                            _ansible_diff=True))
    assert rc == 0 and result['changed'] and result['diff'] == {'before': {'power': 'on'}, 'after': {'power': 'off'}}
    assert len(sent(lab)) == before  # check mode sends nothing
    rc, result = run_module(bmc_power, args(lab, node, protocol, state='powered_off', poll_interval=0.05))
    assert rc == 0 and result['changed'] and result['power_state'] == 'off'
    rc, result = run_module(bmc_power, args(lab, node, protocol, state='powered_off', poll_interval=0.05))
    assert rc == 0 and result['changed'] is False and result['actions'] == []
    rc, result = run_module(bmc_power, args(lab, node, protocol, state='powered_on', poll_interval=0.05))
    assert rc == 0 and result['changed'] and result['power_state'] == 'on'
    rc, result = run_module(bmc_power, args(lab, node, protocol, state='restarted', graceful=False, poll_interval=0.05))
    assert rc == 0 and result['changed'] and result['actions'] == ['cycle']


@pytest.mark.parametrize('protocol', ['ipmi', 'redfish'])
def test_bmc_boot_sets_reads_back_and_is_idempotent(run_module, lab, protocol):
    rc, result = run_module(bmc_boot, args(lab, 'HV-N4', protocol, device='network', _ansible_check_mode=True))
    assert rc == 0 and result['changed'] and result['boot']['device'] == 'none'
    rc, result = run_module(bmc_boot, args(lab, 'HV-N4', protocol, device='network', _ansible_diff=True))
    assert rc == 0 and result['changed'] and result['boot'] == {'device': 'network', 'persistent': False, 'uefi': True}
    assert result['diff']['before']['device'] == 'none'
    rc, result = run_module(bmc_boot, args(lab, 'HV-N4', protocol, device='network'))
    assert rc == 0 and result['changed'] is False
    rc, result = run_module(bmc_boot, args(lab, 'HV-N4', protocol, device='none'))
    assert rc == 0 and result['changed'] and result['boot']['device'] == 'none'


def test_bmc_info_and_errors(run_module, lab):
    rc, result = run_module(bmc_info, args(lab, 'HV-N1', 'redfish'))
    assert rc == 0 and result['power_state'] == 'on' and result['system']['model'] == 'Lab Server 2U'
    rc, result = run_module(bmc_info, args(lab, 'HV-N1', 'ipmi', password='wrong'))
    assert rc == 1 and result['error_type'] == 'AuthenticationFailure' and 'refused' in result['msg']
    assert 'wrong' not in str(result.get('invocation', ''))  # no_log
    before = len(sent(lab))
    rc, result = run_module(bmc_boot, args(lab, 'HV-N1', 'ipmi', device='floppy'))
    assert rc == 1 and 'value of device must be one of' in result['msg']
    rc, result = run_module(bmc_power, args(lab, 'HV-N1', 'smash', state='powered_on', port=1))
    assert rc == 1 and 'value of protocol must be one of' in result['msg']
    rc, result = run_module(bmc_power, args(lab, 'HV-N1', 'ipmi', state='powered_off', graceful_timeout=0))
    assert rc == 1 and 'graceful_timeout must be greater than 0' in result['msg']
    assert len(sent(lab)) == before
