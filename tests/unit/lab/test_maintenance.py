"""The lab's drain, failback and restart behaviour, on the model directly."""

import time

import pytest

from lab import maintenance, scenario


def build(name='hyperv4', **overrides):
    spec = scenario.load(name)
    spec.update(overrides)
    return scenario.build(spec, net='127.0.251')


def run_until(lab, done, seconds=10.0):
    """Let lab time pass (it follows the wall clock, accelerated) until ``done()``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lab.tick()
        if done():
            return
        time.sleep(0.002)
    raise AssertionError('the lab never got there')


def drain(lab, name, **kw):
    with lab.lock:
        maintenance.suspend(lab, name, **kw)
    run_until(lab, lambda: not lab.node(name).draining)


def test_drain_moves_high_priority_first_and_keeps_offline_groups_offline():
    lab = build()
    drain(lab, 'HV-N1')
    assert lab.node('HV-N1').state == 'Paused' and lab.node('HV-N1').drain_status == 'Completed'
    assert not [g for g in lab.groups.values() if g.owner == 'HV-N1']
    assert lab.groups['Available Storage'].state == 'Offline'
    started = [e['group'] for e in lab.recorder.events if e['kind'] == 'vm.live_migration_started']
    priorities = [lab.groups[name].priority for name in started]
    assert priorities == sorted(priorities, reverse=True)
    assert all(g.downtime == 0 for g in lab.groups.values())


def test_default_threshold_quick_migrates_low_priority_vms_with_downtime():
    lab = build(move_type_threshold=2000)
    low = [g.name for g in lab.groups.values() if g.owner == 'HV-N2' and g.priority == 1000]
    drain(lab, 'HV-N2')
    assert low and all(lab.groups[n].downtime == lab.timings['quick_migration_seconds'] for n in low)
    assert all(lab.groups[n].state == 'Online' for n in low)


def test_failback_immediate_brings_the_drained_roles_home():
    lab = build()
    before = sorted(g.name for g in lab.groups.values() if g.owner == 'HV-N3')
    drain(lab, 'HV-N3')
    with lab.lock:
        maintenance.resume(lab, 'HV-N3', 'Immediate')
    run_until(lab, lambda: sorted(g.name for g in lab.groups.values() if g.owner == 'HV-N3') == before)
    assert lab.node('HV-N3').state == 'Up' and lab.node('HV-N3').drain_status == 'NotInitiated'
    assert lab.recorder.invariants(lab)['violations'] == []


def test_pause_survives_restart_and_applies_the_pending_build():
    lab = build()
    drain(lab, 'HV-N4')
    node = lab.node('HV-N4')
    node.reboot_pending, node.pending_ubr = True, 7136
    with lab.lock:
        maintenance.restart(lab, node)
    run_until(lab, lambda: node.power == 'Off')
    run_until(lab, lambda: node.state == 'Paused' and not node.restarting)
    assert node.ubr == 7136 and not node.reboot_pending and node.boot_time > 0


def test_refusals():
    lab = build('s2d4')
    lab.virtual_disks[2].health, lab.virtual_disks[2].operational = 1, [3]
    with lab.lock:
        with pytest.raises(maintenance.CmdletError) as err:
            maintenance.suspend(lab, 'HCI-N1')
    assert err.value.record['native_code'] == 5987
    assert [v['rule'] for v in lab.recorder.violations] == ['drain_while_storage_busy']
    lab = build('twonode')
    lab.set_power('EDGE-N2', 'Off')
    with lab.lock:
        with pytest.raises(maintenance.CmdletError) as err:
            maintenance.suspend(lab, 'EDGE-N1')
    assert err.value.record['native_code'] == 5050
