from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.session import ClusterSession
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import ConnectionFailure, InvalidOption, UnsafeToProceed
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions
from unit.labproto import LabProtocol, build_lab


def session(lab, hosts, exclude=None):
    used = []

    def factory(options):
        used.append(options.host)
        return PowerShellRunner(options, protocol_factory=lambda o: LabProtocol(lab, o.host))
    s = ClusterSession(WinRMOptions(hosts[0], user='u', password='pw'), hosts[1:], exclude=exclude, runner_factory=factory)
    return s, used


def test_the_node_being_worked_on_is_skipped_and_the_probe_rides_with_the_first_read():
    lab = build_lab('hyperv4')
    s, used = session(lab, ['HV-N2', 'HV-N3'], exclude='HV-N2')
    nodes = s.call('cluster.nodes', {'names': ['HV-N2']})
    assert nodes[0]['Name'] == 'HV-N2' and s.answered_by == 'HV-N3'
    assert used == ['HV-N2', 'HV-N3'] and s.round_trips == 2  # one probe batch per host tried


def test_an_unreachable_host_is_passed_over():
    lab = build_lab('hyperv4')
    lab.set_power('HV-N1', 'Off')
    s, used = session(lab, ['HV-N1', 'HV-N4'], exclude='HV-N2')
    s.call('cluster.get')
    assert s.answered_by == 'HV-N4'
    s2, used2 = session(lab, ['HV-N1', 'HV-N4'])
    s2.call('cluster.get', retry=True)  # no exclusion: no probe; a refused read moves on
    assert used2 == ['HV-N1', 'HV-N4']


def test_no_survivor_and_only_the_excluded_node_are_clear_errors():
    lab = build_lab('hyperv4')
    with pytest.raises(InvalidOption, match="winrm_host HV-N2 is the only way to the cluster and it is the node 'hv-n2'"):
        session(lab, ['HV-N2'], exclude='HV-N2')[0].call('cluster.get')
    for n in ('HV-N1', 'HV-N3'):
        lab.set_power(n, 'Off')
    with pytest.raises(UnsafeToProceed, match='No surviving cluster node answered: cannot connect to https://HV-N1'):
        session(lab, ['HV-N1', 'HV-N3', 'HV-N2'], exclude='HV-N2')[0].call('cluster.get')


def test_a_mutation_moves_to_another_host_only_when_it_never_reached_the_first():
    lab = build_lab('hyperv4')
    s, used = session(lab, ['HV-N1', 'HV-N4'])
    s.call('cluster.get')
    lab.set_power('HV-N1', 'Off')
    # Refused at connect: nothing was sent to HV-N1, so HV-N4 is asked.
    s.call('cluster.node.suspend', {'name': 'HV-N3'}, retry=False)
    assert used == ['HV-N1', 'HV-N4'] and lab.node('HV-N3').state == 'Paused'


class _LostAfterRunning(LabProtocol):
    """The request reaches the node and runs; every answer is lost (connection reset)."""
    ran = False

    def get_command_output_raw(self, shell_id, command_id):
        import requests
        if not self.ran:
            self.ran = True
            super().get_command_output_raw(shell_id, command_id)
        raise requests.exceptions.ConnectionError('Connection aborted: connection reset by peer')


def test_a_mutation_whose_outcome_is_unknown_is_not_sent_again_elsewhere():
    lab = build_lab('hyperv4')
    used = []

    def factory(options):
        used.append(options.host)
        runner = PowerShellRunner(options, protocol_factory=lambda o: _LostAfterRunning(lab, o.host))
        runner._sleep = lambda seconds: None
        return runner
    s = ClusterSession(WinRMOptions('HV-N1', user='u', password='pw'), ['HV-N4'], runner_factory=factory)
    with pytest.raises(ConnectionFailure):
        s.call('cluster.node.suspend', {'name': 'HV-N3'}, retry=False)
    assert used == ['HV-N1'] and lab.node('HV-N3').state == 'Paused'   # ran once, on HV-N1 only


def test_a_read_that_finds_the_cluster_service_stopped_moves_to_the_next_host_and_a_mutation_does_not():
    lab = build_lab('hyperv4')
    lab.set_cluster_service('HV-N1', 'Stopped')
    s, used = session(lab, ['HV-N1', 'HV-N4'])
    assert s.call('lock.read', retry=True)['Value'] in (None, '')
    assert used == ['HV-N1', 'HV-N4']
    s2, used2 = session(lab, ['HV-N1', 'HV-N4'])
    result = s2.invoke([('lock.cas', {'expect': None, 'value': '{}'})], retry=True)[0]
    assert not result.ok and result.error['native_code'] == 1753 and used2 == ['HV-N1']
