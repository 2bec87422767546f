"""Cluster-Aware Updating runs and the Windows Update phases in the lab model: as Windows does them."""

from lab import cau, maintenance, ops, scenario

from .test_maintenance import run_until


def build(name, **cluster):
    spec = scenario.load(name)
    spec['cluster'].update(cluster)
    return scenario.build(spec, net='127.0.252', clock_scale=6000.0)


def run_state(lab):
    """Get-CauRun on a node whose cluster service runs (the run restarts the others in turn)."""
    with lab.lock:
        node = next(n for n in lab.nodes.values() if n.cluster_service == 'Running')
        return ops.OPERATIONS['cau.run_state'](lab, node, {})


def test_a_self_updating_run_starts_on_its_schedule_holds_the_cluster_and_updates_one_node_at_a_time():
    lab = build('hyperv4', cau_run_after_seconds=600)
    assert run_state(lab)['RunState'] == 'RunNotInProgress'
    # CAU's default order starts with the node that owns the fewest clustered roles (PS:Invoke-CauRun NodeOrder).
    owned = dict((n, sum(1 for g in lab.groups.values() if g.owner == n)) for n in lab.nodes)
    first = min(sorted(lab.nodes), key=lambda n: owned[n])
    run_until(lab, lambda: lab.cau_run is not None, seconds=20)
    seen = []

    def progress():
        state = run_state(lab)
        if state['RunState'] == 'RunInProgress':
            seen.append(dict((n['Node'], n['Status']) for n in state['Nodes']))
        return state['RunState'] == 'RunNotInProgress'
    run_until(lab, progress, seconds=60)
    # Get-CauRun showed the run's nodes, one of them being worked on at a time, in order.
    working = [[n for n, s in states.items() if s not in ('Waiting', 'Succeeded', 'Failed')] for states in seen]
    assert all(len(w) <= 1 for w in working)
    assert [w[0] for i, w in enumerate(working) if w and (i == 0 or working[i - 1] != w)][:1] == [first]
    # Every phase of every node, from the run's own record (sampling Get-CauRun in real time can miss a short one).
    phases = [(e['node'], e['state']) for e in lab.recorder.events if e['kind'] == 'cau.node_state']
    for name in lab.nodes:
        assert {'Installing', 'Restarting', 'WaitingForStorage'} <= set(p for n, p in phases if n == name), phases
    assert set(s for states in seen for s in states.values()) & {'Installing', 'Restarting', 'WaitingForStorage'}
    finished = [e for e in lab.recorder.events if e['kind'] == 'cau.run_finished']
    assert finished and finished[0]['result'] == 'Succeeded'
    assert set(finished[0]['nodes'].values()) == {'Succeeded'}
    assert all(not n.updates or all(u.after_restart for u in n.updates) for n in lab.nodes.values())
    assert lab.recorder.violations == []


def test_only_one_updating_run_at_a_time_and_one_more_failed_node_than_max_failed_nodes_ends_the_run():
    lab = build('hyperv4')
    lab.faults['update_fail'] = {'HV-N1': [lab.node('HV-N1').updates[0].kb]}
    with lab.lock:
        first = cau.start_run(lab, {'MaxFailedNodes': 0, 'MaxRetriesPerNode': 0, 'NodeOrder': ['HV-N1']})
        assert cau.start_run(lab) is first     # the run holds the cluster: no second run
    run_until(lab, lambda: lab.cau_run is None, seconds=30)
    finished = [e for e in lab.recorder.events if e['kind'] == 'cau.run_finished'][0]
    # MaxFailedNodes 0: "if one more than this number of nodes fails, the Updating Run is stopped".
    assert finished['result'] == 'Failed' and finished['nodes']['HV-N1'] == 'Failed'
    assert finished['nodes']['HV-N2'] == 'Waiting'
    assert lab.node('HV-N1').state == 'Up'         # resumed, not left paused


def test_windows_update_downloads_then_installs_and_reports_each_result_code():
    lab = build('hyperv4')
    node = lab.node('HV-N2')
    kbs = [u.kb for u in node.updates]
    lab.faults['download_fail'] = {'HV-N2': [kbs[1]]}
    lab.faults['update_partial'] = {'HV-N2': [kbs[0]]}
    with lab.lock:
        job = maintenance.wu_start(lab, node, 'job-1', 'install', {})
    phases = []

    def done():
        if not phases or phases[-1] != job['Phase']:
            phases.append(job['Phase'])
        return job['Phase'] in ('Completed', 'Failed')
    run_until(lab, done, seconds=30)
    assert phases[:3] == ['Searching', 'Downloading', 'Installing']
    codes = dict((u['KB'], (u['ResultCode'], u['HResult'])) for u in job['Updates'])
    assert codes[kbs[0]] == ('SucceededWithErrors', 0)            # installed, with errors logged
    assert codes[kbs[1]] == ('Failed', -2145107924)                # 0x8024402C: the download failed
    assert job['Phase'] == 'Failed'
    assert kbs[1] in [u.kb for u in node.updates] and kbs[0] not in [u.kb for u in node.updates]
