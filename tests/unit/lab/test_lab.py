"""The lab over the real protocol: what pywinrm sees from nodes, the cluster name, refusals."""

import os
import re
import time

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    AuthenticationFailure, ConnectionFailure, NotFound, RemoteCommandError, TimeoutFailure)
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _shim
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions
from lab import cli as lab_cli
from lab import ops


def runner(state, host, **kw):
    opts = dict(user=state['user'], password=state['password'], ca_path=state['ca_path'])
    opts.update(kw)
    return PowerShellRunner(WinRMOptions(host, **opts))


def test_lab_implements_exactly_the_operations_the_shim_defines():
    assert ops.shim_operations(_shim.SHIM) == set(ops.OPERATIONS)


@pytest.mark.parametrize('transport, scheme', [('ntlm', 'https'), ('ntlm', 'http'), ('basic', 'https'), ('basic', 'http')])
def test_every_transport_reads_the_cluster(start_lab, transport, scheme):
    state = start_lab('twonode')
    with runner(state, state['cluster_address'], transport=transport, scheme=scheme,
                allow_insecure=(transport, scheme) == ('basic', 'http')) as r:
        snapshot = read_cluster_state(r, expected_cluster='EDGECLU01')
    assert [n.name for n in snapshot.nodes] == ['EDGE-N1', 'EDGE-N2']
    assert snapshot.health()['quorum']['margin'] == 1


def test_refusals_and_routing(start_lab):
    state = start_lab('hyperv4', scale=60)   # slow enough to see each phase of a boot
    n1, n3 = state['nodes']['HV-N1']['address'], state['nodes']['HV-N3']['address']
    with pytest.raises(AuthenticationFailure, match=r'authentication failed for LAB\\admin at https://%s:5986/wsman' % re.escape(n1)):
        read_cluster_state(runner(state, n1, password='wrong'))
    with pytest.raises(AuthenticationFailure):
        read_cluster_state(runner(state, n1, password='wrong', transport='basic'))
    # Without the lab CA the certificate is not trusted: validation is on by default.
    with pytest.raises(ConnectionFailure, match='TLS failure'):
        read_cluster_state(runner(state, n1, ca_path=None))
    with pytest.raises(NotFound, match="Cluster 'NOPE' not found"):
        read_cluster_state(runner(state, n1), expected_cluster='NOPE')
    # Each node's certificate names that node: over HTTPS the cluster name's address (served by a node's
    # listener) fails host-name checking, and the error says why; over HTTP with message encryption it answers.
    with pytest.raises(ConnectionFailure, match="certificate does not name %s" % re.escape(state['cluster_address'])) as failure:
        read_cluster_state(runner(state, state['cluster_address']))
    assert failure.value.details['not_sent']
    with runner(state, n1) as r:
        with pytest.raises(NotFound, match='The cluster node was not found'):
            r.call('cluster.nodes', {'names': ['HV-N9']})
        unknown = r.invoke([('cluster.reboot-everything', {})])[0]
        assert not unknown.ok and unknown.error['fqid'] == 'WsfcUnknownOperation'

    lab_cli.control(state, '/', {'action': 'cluster_service', 'node': 'HV-N3', 'status': 'Stopped'})
    with pytest.raises(RemoteCommandError, match='The cluster service is not running'):
        read_cluster_state(runner(state, n3))

    # Powered off: nothing answers the node's address (a connection attempt times out, as to a machine
    # that is off); the cluster name moves with the core group.
    lab_cli.control(state, '/', {'action': 'power', 'node': 'HV-N1', 'power': 'Off'})
    started = time.monotonic()
    with pytest.raises(TimeoutFailure, match='timed out after 1 s'):
        read_cluster_state(runner(state, n1, connection_timeout=1))
    assert time.monotonic() - started >= 1
    snapshot = read_cluster_state(runner(state, state['cluster_address'], scheme='http'))
    assert snapshot.cluster.answered_by == 'HV-N2'
    assert dict((n.name, n.state) for n in snapshot.nodes) == {'HV-N1': 'Down', 'HV-N2': 'Up', 'HV-N3': 'Down', 'HV-N4': 'Up'}
    assert snapshot.health()['quorum']['margin'] == 0
    events = lab_cli.control(state, '/events')
    assert any(e['kind'] == 'group.failover' and e['group'] == 'Cluster Group' and e['target'] == 'HV-N2' for e in events)

    # Powered on: POST and the OS start (nothing answers), then WinRM answers while the cluster service
    # is still starting (its cmdlets fail as when it is stopped), then the node joins.
    lab_cli.control(state, '/', {'action': 'power', 'node': 'HV-N1', 'power': 'On'})
    seen = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            seen.append(read_cluster_state(runner(state, n1, connection_timeout=1)).node('HV-N1').state)
        except TimeoutFailure:
            seen.append('timeout')
        except RemoteCommandError as exc:
            assert 'The cluster service is not running' in str(exc)
            seen.append('cluster service starting')
        except ConnectionFailure:
            seen.append('reset')
        if seen[-1] == 'Up':
            break
        time.sleep(0.02)
    phases = [p for i, p in enumerate(seen) if i == 0 or seen[i - 1] != p]
    assert phases[0] == 'timeout' and 'cluster service starting' in phases and phases[-1] == 'Up', seen


def test_inventory_and_state_files(start_lab):
    import yaml
    state = start_lab('s2d16')
    inventory = yaml.safe_load(open(state['inventory']))
    group = inventory['all']['children']['wsfc_cluster']
    assert len(group['hosts']) == 16
    assert group['vars']['wsfc_cluster_name'] == 'S2DCLU16'
    assert all(h['wsfc_winrm_host'].startswith('127.') for h in group['hosts'].values())
    assert os.path.isfile(group['vars']['wsfc_winrm_ca_path'])


def test_lab_refuses_non_loopback_and_unknown_scenarios(tmp_path):
    from lab.scenario import ScenarioError
    from lab.server import LabServer
    with pytest.raises(ValueError, match='loopback only'):
        LabServer('twonode', str(tmp_path), net='10.0.0')
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        LabServer('nope', str(tmp_path))


def test_failoverclusters_remote_warnings_become_warnings_not_failures(start_lab):
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import runner as runner_mod
    state = start_lab('hyperv4')
    with runner(state, state['nodes']['HV-N1']['address'], delegation='scheduled_task') as r:
        moved = r.invoke([('cluster.group.move', {'names': ['VM01'], 'owner': 'HV-N2'})])[0]
    assert moved.ok, moved.error
    found = [w for w in runner_mod.remote_warnings() if 'some failover clustering cmdlets do not work remotely' in w]
    assert found and found[0].startswith(state['nodes']['HV-N1']['address'] + ': ')


def test_a_result_that_cannot_be_written_is_an_error_naming_the_operation(start_lab):
    state = start_lab('hyperv4')
    lab_cli.control(state, '/', {'action': 'fault', 'fault': 'unwritable_result', 'value': ['cluster.csv']})
    with runner(state, state['nodes']['HV-N1']['address']) as r:
        nodes, csv = r.invoke([('cluster.nodes', {}), ('cluster.csv', {})])
        assert nodes.ok and not csv.ok and csv.error['fqid'] == 'WsfcUnwritableResult'
        with pytest.raises(RemoteCommandError, match="The result of 'cluster.csv' could not be written as JSON"):
            read_cluster_state(r)


def test_slow_cmdlets_answer_through_operation_timeouts_and_large_output_arrives_in_pieces(start_lab):
    state = start_lab('s2d16')
    with runner(state, state['cluster_address'], scheme='http') as r:
        # Invoke-CauScan reaches every node: without a credential that is a refused second hop.
        with pytest.raises(RemoteCommandError, match='Access is denied'):
            r.call('cau.scan', {'plugin': 'Microsoft.WindowsUpdatePlugin'})
        before = lab_cli.control(state, '/stats')['counters']
        rows = r.call('cau.scan', {'plugin': 'Microsoft.WindowsUpdatePlugin', 'user': state['user'],
                                   'password': state['password']})
        snapshot_requests = r.http_requests
        snapshot = read_cluster_state(r)
        snapshot_requests = r.http_requests - snapshot_requests
    after = lab_cli.control(state, '/stats')['counters']
    timeouts = sum(v for k, v in after.items() if k.startswith('winrm.operation_timeouts')) - \
        sum(v for k, v in before.items() if k.startswith('winrm.operation_timeouts'))
    # Invoke-CauScan takes minutes: the client was told "still running" (OperationTimeout) and asked again.
    assert rows and timeouts >= 3
    # The whole cluster (16 nodes, their groups, disks) is more than one piece of output: the request goes to the
    # warm PowerShell (a send), its answer comes in several receives.
    assert len(snapshot.nodes) == 16 and snapshot_requests >= 3


def test_winrm_service_defaults_refuse_basic_and_unencrypted_http(start_lab):
    import requests
    state = start_lab('hyperv4')
    reply = requests.post('http://%s:5985/wsman' % state['cluster_address'], data=b'<x/>',
                          proxies={'http': None, 'https': None})
    assert reply.status_code == 401 and 'Basic' not in reply.headers['WWW-Authenticate']
    node = state['nodes']['HV-N1']['address']
    with pytest.raises(AuthenticationFailure):      # the right password, but Basic is off
        read_cluster_state(runner(state, node, transport='basic'))
    with pytest.raises(AuthenticationFailure):      # NTLM over HTTP without message encryption
        read_cluster_state(runner(state, state['cluster_address'], scheme='http', message_encryption='never',
                                  allow_insecure=True))
    with runner(state, state['cluster_address'], scheme='http') as r:   # NTLM with message encryption
        assert len(read_cluster_state(r).nodes) == 4


def test_winrm_shell_quota_idle_timeout_and_envelope_limit(start_lab, tmp_path):
    import yaml
    from lab import scenario
    spec = scenario.load('hyperv4')
    spec['winrm'] = {'max_shells_per_user': 2, 'idle_timeout_seconds': 1200}
    path = tmp_path / 'hyperv4-quota.yml'
    path.write_text(yaml.safe_dump(spec))
    state = start_lab(str(path))
    node = state['nodes']['HV-N1']['address']
    left = [runner(state, node), runner(state, node)]     # shells a controller that died left behind
    for r in left:
        r.call('cluster.get')
    with pytest.raises(RemoteCommandError, match='maximum number of 2 concurrent shells') as refused:
        runner(state, node).call('cluster.get')
    assert refused.value.details['wsman_fault_code'] == 2150859179
    # IdleTimeout: the service deletes shells nobody used for that long; then a new one opens.
    time.sleep(1200 / state['clock_scale'] + 0.5)
    assert runner(state, node).call('cluster.get')['Name'] == 'HVCLU01'
    # MaxEnvelopeSizekb (500) bounds what a request may carry.
    with pytest.raises(RemoteCommandError, match='larger than MaxEnvelopeSizekb'):
        runner(state, node).call('cluster.get', {'padding': 'x' * 600 * 1024})


def test_every_request_the_collection_sends_fits_the_smallest_winrm_envelope():
    """[MS-WSMV] lets MaxEnvelopeSizekb default to 150 KB (500 on current Windows): the largest request
    (the shim with a node-side task script) stays well below it."""
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
    biggest = max(len(_shim.stdin_payload(_shim.encode_request([(op, params)], False)))
                  for op, params in (('wu.start', {'task_script': _powershell.WINDOWS_UPDATE_TASK, 'id': 'x' * 64}),
                                     ('node.os_upgrade', {'task_script': _powershell.OS_UPGRADE_TASK, 'media': 'x' * 260})))
    # base64 in the Send element: 4/3 of the bytes, plus the SOAP envelope.
    assert biggest * 4 / 3 + 4096 < 150 * 1024, biggest


def test_a_warm_powershell_pays_its_start_once_and_a_restart_ends_it(start_lab):
    """Each request of a process costs the cmdlets' time; powershell.exe and FailoverClusters start only with the
    first (the lab's powershell_start_seconds, in Windows time). A restart of the node ends the process with its
    shell: the next round trip starts another and gives it the request, which runs once."""
    state = start_lab('hyperv4')
    address = state['nodes']['HV-N2']['address']

    def counts():
        counters = lab_cli.control(state, '/stats')['counters']
        return counters.get('winrm.commands:HV-N2', 0), counters.get('winrm.requests:HV-N2', 0)
    with runner(state, address) as r:
        for _read in range(5):
            boot_time = r.call('node.boot')['LastBootUpTime']
        assert counts() == (1, 5) and r.starts == 1 and r.round_trips == 5
        boot = next(n for n in lab_cli.control(state, '/state')['nodes'] if n['name'] == 'HV-N2')['boot_time']
        r.call('node.restart')
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            node = next(n for n in lab_cli.control(state, '/state')['nodes'] if n['name'] == 'HV-N2')
            if node['state'] == 'Up' and node['boot_time'] != boot:
                break
        assert r.call('node.boot')['LastBootUpTime'] != boot_time
        assert r.starts == 2 and counts() == (2, 7)  # five reads, the restart, one read in a new process
