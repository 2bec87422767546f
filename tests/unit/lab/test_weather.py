"""Weather: seeded faults nobody asked for, and the runner riding them out."""

from lab import maintenance, scenario
from lab.clock import LabClock
from lab.recorder import Recorder
from lab.weather import Weather

from .test_maintenance import run_until


def draws(seed):
    weather = Weather(seed, Recorder(LabClock()))
    return [(weather.happens('reset'), weather.slow_seconds(), weather.storage_pause(600.0),
             weather.migration_fails('VM%02d' % (i % 5))) for i in range(400)]


def test_the_same_seed_gives_the_same_weather():
    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    resets = sum(1 for d in draws(7) if d[0])
    assert 0 < resets < 30      # about 2 % of 400


def test_a_vm_fails_its_live_migration_once_only():
    weather = Weather(3, Recorder(LabClock()), rates={'migration_fail': 1.0})
    assert weather.migration_fails('VM01') and not weather.migration_fails('VM01')


def test_a_paused_repair_reports_suspended_and_ends_later():
    spec = scenario.load('s2d4')
    spec.update(timing_jitter=0, weather={'seed': 5, 'rates': {'storage_pause': 1.0}})
    lab = scenario.build(spec, net='127.0.251')
    with lab.lock:
        job = maintenance.start_repair(lab, 30 * 60 * 30e6)   # 30 minutes of work at 30 MB/s
    run_until(lab, lambda: job.job_state == 5)
    assert job.job_state == 5
    run_until(lab, lambda: job.job_state == 7, seconds=20)
    done = next(e['t'] for e in lab.recorder.events if e['kind'] == 'storage.repair_completed')
    assert done - job.started > job.duration + 59    # the pause (at least a minute) did not count


def test_the_runner_rides_out_transient_winrm_faults_and_resets(start_lab):
    from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.queries import read_cluster_state
    from .test_lab import runner
    state = start_lab('hyperv4', weather=11)
    for dummy in range(40):
        with runner(state, state['nodes']['HV-N2']['address']) as r:
            assert len(read_cluster_state(r).nodes) == 4
    counters = lab_cli_counters(state)
    assert counters.get('weather.winrm_fault', 0) + counters.get('weather.reset', 0) >= 1, counters


def lab_cli_counters(state):
    from lab import cli as lab_cli
    return lab_cli.control(state, '/stats')['counters']
