"""One contract between the shim and the lab: the fields each operation emits.

The lab does not execute the shim's PowerShell; it answers each operation with a Python imitation.
This test reads what the shim can emit from the .ps1 source itself (the ``[ordered]`` literals of
each operation and of the shim functions it calls; plain ``@{}`` hashtables are splatting and files,
never output) and runs every operation in the lab: every object the lab returns must have exactly
the keys of one of the shim's literals, and every literal of the shim must be seen in the lab's
answers. Field names are checked, not values or types.
"""

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell, _shim
from lab import cau, ops, scenario
from tests.unit.powershell import operation_shapes

SHAPES = operation_shapes(_shim.SHIM)
# The Windows Update task writes the update rows that 'wu.start' and 'wu.status' pass through.
TASK_SHAPES = {frozenset(s) for s in operation_shapes(
    "$WsfcOperations['task'] = {\n%s\n}\n" % _powershell.WINDOWS_UPDATE_TASK.split('\n', 1)[1].replace('[CmdletBinding()]', ''))['task']}


class _Wall:
    """A wall clock the test moves by hand: lab time passes only in _run_for."""
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _lab(name, **overrides):
    spec = scenario.load(name)
    spec['cluster'].update(overrides)
    lab = scenario.build(spec, net='127.0.252')
    lab.clock._wall = _Wall()
    lab.clock._start = lab.clock._wall()
    lab.users = {'LAB\\admin': 'secret'}
    return lab


def _call(lab, node, op, params=None, delegate=None):
    request = {'calls': [{'id': 0, 'op': op, 'params': params or {}}]}
    if delegate:
        request['delegate'] = delegate
    result = ops.execute(lab, lab.machines[node], request, set(ops.OPERATIONS))['results'][0]
    assert result['ok'], (op, result.get('error'))
    return result['value']


def _run_for(lab, seconds):
    for _step in range(int(seconds // 10)):
        lab.clock._wall.now += 10 / lab.clock.scale
        lab.tick()


def _samples():
    """(op, value) for every operation, each path the lab has: both labs, before and after changes."""
    seen = []

    def call(lab, node, op, params=None, delegate=None):
        seen.append((op, _call(lab, node, op, params, delegate)))
        return seen[-1][1]

    hci = _lab('s2d4', cau_role=True)
    first, second = sorted(hci.nodes)[:2]
    for op in ('cluster.get', 'cluster.quorum', 'cluster.nodes', 'cluster.groups', 'cluster.csv',
               'cluster.vm_move_policy', 'storage.pools', 'storage.virtualdisks', 'cau.run_state', 'cau.role',
               'lock.read', 'node.capacity', 'node.boot', 'node.config', 'vm.list', 'node.doctor'):
        if op == 'cau.role':
            call(hci, first, op, {'user': 'LAB\\admin', 'password': 'secret'})
            continue
        call(hci, first, op)
    call(hci, first, 'cau.scan', {'plugin': 'Microsoft.WindowsUpdatePlugin', 'user': 'LAB\\admin', 'password': 'secret'})
    call(hci, first, 'lock.claim', {'claim': 'a-1', 'run_id': 'a', 'owner': 'alice'})
    call(hci, second, 'lock.claim', {'claim': 'b-1', 'run_id': 'b', 'owner': 'bob'})
    call(hci, second, 'lock.cas', {'expect': None, 'value': 'b', 'claim': 'b-1'})
    call(hci, first, 'lock.cas', {'expect': None, 'value': 'a', 'claim': 'a-1'})
    call(hci, first, 'lock.unclaim', {'claim': 'b-1'})
    call(hci, first, 'lock.cas', {'expect': 'a', 'value': None})
    call(hci, first, 'capture.read', {'node': second})
    call(hci, first, 'capture.write', {'node': second, 'value': '{"node": "%s"}' % second})
    assert call(hci, first, 'capture.read', {'node': second.lower()})['Value'] == '{"node": "%s"}' % second
    call(hci, first, 'wu.start', {'id': 'wsfc-scan-1', 'mode': 'scan', 'task_script': _powershell.WINDOWS_UPDATE_TASK})
    call(hci, first, 'wu.status', {'id': 'wsfc-scan-1'})
    call(hci, first, 'wu.start', {'id': 'wsfc-install-1', 'mode': 'install', 'task_script': _powershell.WINDOWS_UPDATE_TASK})
    _run_for(hci, 3600)
    call(hci, first, 'wu.start', {'id': 'wsfc-scan-1', 'mode': 'scan', 'task_script': _powershell.WINDOWS_UPDATE_TASK})
    call(hci, first, 'wu.status', {'id': 'wsfc-install-1', 'remove': True})
    hci.faults['task_fails'] = {second: 1}
    call(hci, second, 'wu.start', {'id': 'wsfc-scan-2', 'mode': 'scan', 'task_script': _powershell.WINDOWS_UPDATE_TASK})
    del hci.faults['task_fails']
    call(hci, first, 'cluster.node.suspend', {'name': second, 'drain': True})
    _run_for(hci, 600)
    call(hci, second, 'node.restart')
    _run_for(hci, 1200)
    call(hci, first, 'cluster.node.resume', {'name': second, 'failback': 'NoFailback'})
    _run_for(hci, 30)
    call(hci, first, 'storage.jobs')
    call(hci, first, 'cluster.functional_level', {'what_if': True})
    call(hci, first, 'storage.pool_update', {'name': hci.pools[0].friendly_name})
    vm = next(v['Name'] for v in call(hci, first, 'vm.list'))
    call(hci, first, 'vm.update_version', {'name': vm, 'allow_stop': True})
    delegate = delegate_for(hci)
    group = next(g.name for g in hci.groups.values() if g.group_type == 'VirtualMachine' and g.owner == first)
    call(hci, first, 'cluster.group.move', {'names': [group], 'owner': second}, delegate)
    call(hci, first, 'cluster.vm_migration', {'names': [group]})
    cau.start_run(hci)          # a self-updating CAU run: Get-CauRun with each node's state
    call(hci, first, 'cau.run_state')

    hci.faults['validation'] = {'Network': {'level': 'warning', 'message': 'one adapter'}}
    call(hci, first, 'cluster.validate', {'categories': ['Inventory', 'Network', 'Storage'], 'nodes': [], 'disks': []})

    # An Updating Run started by the collection: its task, Get-CauRun, its report; a leftover run and its recovery.
    patch = _lab('hyperv4')
    call(patch, 'HV-N1', 'cau.report')
    call(patch, 'HV-N1', 'cau.run_task')
    call(patch, 'HV-N1', 'cau.run_start', {'plugin': {'name': 'Microsoft.WindowsUpdatePlugin', 'arguments': {}},
                                           'parameters': {'MaxFailedNodes': 1}, 'task_script': _powershell.CAU_RUN_TASK,
                                           'user': 'LAB\\admin', 'password': 'secret'})
    call(patch, 'HV-N1', 'cau.run_task')
    _run_for(patch, 60)
    call(patch, 'HV-N1', 'cau.run_task')
    _run_for(patch, 6 * 3600)
    call(patch, 'HV-N1', 'cau.run_task')
    call(patch, 'HV-N1', 'cau.report')
    call(patch, 'HV-N1', 'cau.role_set', {'parameters': {'MaxFailedNodes': 2}, 'user': 'LAB\\admin', 'password': 'secret'})
    call(patch, 'HV-N1', 'cau.role_enable', {'enabled': False, 'user': 'LAB\\admin', 'password': 'secret'})
    call(patch, 'HV-N1', 'cau.role_remove', {'user': 'LAB\\admin', 'password': 'secret'})
    call(patch, 'HV-N1', 'cau.role_add', {'parameters': {'DaysOfWeek': ['Tuesday']}, 'plugin': None})
    call(patch, 'HV-N1', 'cau.setup_test', {'user': 'LAB\\admin', 'password': 'secret'})
    patch.cau_leftover = 'cau-old'
    # The fast offline update: roles stopped, the cluster stopped and started, the service's start mode, the record.
    vm = next(g.name for g in patch.groups.values() if g.group_type == 'VirtualMachine')
    call(patch, 'HV-N1', 'offline.state', {'value': '{"phase": "stopping"}'})
    call(patch, 'HV-N1', 'cluster.group_stop', {'names': [vm]})
    call(patch, 'HV-N1', 'cluster.stop')
    call(patch, 'HV-N1', 'node.cluster_startup', {'mode': 'Automatic'})
    call(patch, 'HV-N1', 'cluster.start')
    _run_for(patch, 1200)
    call(patch, 'HV-N1', 'cluster.group_start', {'names': [vm]})
    call(patch, 'HV-N1', 'offline.state', {'clear': True})
    call(patch, 'HV-N1', 'cau.run_state')
    call(patch, 'HV-N1', 'cau.recover')

    upgrade = _lab('hyperv4')
    upgrade.setup_media['D:\\'] = 'ws2022'
    call(upgrade, 'HV-N1', 'node.media', {'media': 'D:\\'})
    call(upgrade, 'HV-N1', 'cluster.node.suspend', {'name': 'HV-N4'})
    _run_for(upgrade, 600)
    call(upgrade, 'HV-N4', 'node.os_upgrade_status')
    call(upgrade, 'HV-N4', 'node.os_upgrade', {'media': 'D:\\', 'task_script': _powershell.OS_UPGRADE_TASK})
    call(upgrade, 'HV-N4', 'node.os_upgrade_status')
    call(upgrade, 'HV-N1', 'cluster.node.remove', {'name': 'HV-N3'}, delegate_for(upgrade))
    call(upgrade, 'HV-N3', 'cluster.node.add', {'name': 'HV-N3', 'cluster': upgrade.name}, delegate_for(upgrade))
    return seen


def delegate_for(lab):
    user = next(iter(lab.users))
    return {'user': user, 'password': lab.users[user]}


def _objects(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


SAMPLES = _samples()


def test_samples_cover_every_operation():
    assert {op for op, _value in SAMPLES} == set(SHAPES) == set(ops.OPERATIONS)


@pytest.mark.parametrize('op', sorted(SHAPES))
def test_lab_answers_with_the_fields_the_shim_emits(op):
    shapes = SHAPES[op] | (TASK_SHAPES if op.startswith('wu.') else set())
    dynamic = frozenset() in shapes  # an empty [ordered]@{} filled with names read at run time
    observed = set()
    for _op, value in (s for s in SAMPLES if s[0] == op):
        for obj in _objects(value):
            keys = frozenset(obj)
            if keys in shapes:
                observed.add(keys)
            else:
                assert dynamic and all(not isinstance(v, (dict, list)) for v in obj.values()), \
                    '%s: the lab answers with %s; the shim emits one of %s' % (op, sorted(keys), [sorted(s) for s in shapes])
    missing = [sorted(s) for s in SHAPES[op] if s and s not in observed]
    assert missing == [], '%s: the shim emits %s, never seen in the lab' % (op, missing)
