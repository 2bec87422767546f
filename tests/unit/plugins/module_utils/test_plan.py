"""The runbooks' decisions (plugins/module_utils/_plan.py), on their own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils import _plan as plan_mod

NODES = ['N1', 'N2', 'N3', 'N4']


def cluster(states=None, lock=None, roles=None, cau=None, upgrade=None, drain=None):
    """A cluster_info result: node states (default Up), the run lock, roles owned per node."""
    states = states or {}
    roles = roles or {'N1': 3, 'N2': 1, 'N3': 2, 'N4': 0}
    groups = [{'name': '%s-vm%d' % (n, i), 'owner_node': n} for n, count in roles.items() for i in range(count)]
    out = {'cluster': {'name': 'CLU'}, 'groups': groups, 'run_lock': lock,
           'nodes': [{'name': n, 'state': states.get(n, 'Up'), 'drain_status': (drain or {}).get(n, 'NotInitiated')}
                     for n in NODES if states.get(n) != 'gone'],
           'cau_run': cau or {'in_progress': False, 'summary': 'RunNotInProgress'}}
    if upgrade is not None:
        out['upgrade'] = {'nodes_to_upgrade': upgrade}
    return out


def lock(node, owner='alice', abandoned=True, status='failed'):
    return {'owner': owner, 'run_id': 'r0', 'node': node, 'abandoned': abandoned, 'status': status}


KB1 = {'kb': 'KB1', 'size_mb': 600, 'reboot_required': True, 'title': 'Cumulative Update'}
SCANS = {'N1': {'updates': [KB1], 'reboot_required': False}, 'N2': {'updates': []}, 'N3': {'updates': [KB1]},
         'N4': {'updates': [], 'reboot_required': True}}


def test_queue_is_fewest_roles_first_and_compliant_nodes_are_left_out():
    p = plan_mod.plan(cluster(), NODES, scans=SCANS, owner='alice')
    assert p['needs'] == {'N1': 'update', 'N3': 'update', 'N4': 'restart'}
    assert p['queue'] == ['N4', 'N3', 'N1'] and p['refusals'] == [] and p['resume_node'] == ''
    assert p['scan'] == NODES and p['measure'] == NODES


def test_node_order_comes_first_then_the_rest_by_roles():
    p = plan_mod.plan(cluster(), NODES, scans=SCANS, node_order=['N1', 'N2'])
    assert p['queue'] == ['N1', 'N4', 'N3']     # N2 is compliant: named, but not queued


def test_a_queue_of_zero():
    p = plan_mod.plan(cluster(), NODES, scans={}, owner='alice')
    assert p['queue'] == [] and p['needs'] == {} and p['refusals'] == []


def test_the_cau_scan_decides_when_it_was_asked():
    p = plan_mod.plan(cluster(), NODES, cau_scan={'noncompliant_nodes': ['N2', 'N3']})
    assert p['needs'] == {'N2': 'update', 'N3': 'update'} and p['queue'] == ['N2', 'N3']


@pytest.mark.parametrize('state, words', [
    ('Paused', 'it is paused (drain Completed): finish its cycle, then resume it'),
    ('Down', 'it is down (restarting, or off): wait for it, then finish its cycle and resume it'),
    ('Joining', 'it is joining the cluster: wait for it, then finish its cycle'),
])
def test_a_failed_run_of_this_owner_is_resumed_first_whatever_phase_it_left_the_node_in(state, words):
    c = cluster(states={'N3': state}, lock=lock('N3'), drain={'N3': 'Completed'})
    p = plan_mod.plan(c, NODES, scans=dict(SCANS, N3={'updates': []}), owner='alice', node_order=['N1'])
    assert p['resume_node'] == 'N3' and p['resume_needs'] == words
    assert p['needs']['N3'] == 'finish' and p['queue'][0] == 'N3' and p['queue'][1] == 'N1'
    assert p['scan'] == (NODES if state != 'Down' else ['N1', 'N2', 'N4'])
    assert p['measure'] == (NODES if state == 'Paused' else ['N1', 'N2', 'N4'])
    assert p['refusals'] == [] and p['stale_own_lock'] is True and p['died'] is False
    # A left node not Up: no storage wait first (paused, its drives stay in maintenance until its cycle resumes it).
    assert plan_mod.plan(dict(c, virtual_disks=[{'friendly_name': 'v'}]), NODES, owner='alice')['wait_storage_first'] is False


def test_a_left_node_that_is_up_again_needs_only_what_its_scan_says():
    c = cluster(lock=lock('N2', status='running'))
    p = plan_mod.plan(c, NODES, scans=SCANS, owner='alice')
    assert p['resume_node'] == 'N2' and 'N2' not in p['needs'] and p['died'] is True
    assert p['wait_storage_first'] is False                       # no virtual disks on this cluster
    assert plan_mod.plan(dict(c, virtual_disks=[{'friendly_name': 'v'}]), NODES, scans=SCANS, owner='alice')['wait_storage_first']
    assert p['resume_needs'] == 'it is Up: check that its work is done and go on'


def test_another_owners_run_is_not_resumed_and_its_node_refuses_the_start():
    c = cluster(states={'N3': 'Paused'}, lock=lock('N3', owner='bob'))
    p = plan_mod.plan(c, NODES, scans=SCANS, owner='alice')
    assert p['resume_node'] == '' and p['stale_own_lock'] is False
    assert p['refusals'] == ['nodes not Up: N3. Run lock: held by bob, run r0, failed, node N3.']
    taken = plan_mod.plan(c, NODES, scans=SCANS, owner='alice', takeover=True)
    assert taken['resume_node'] == 'N3' and taken['refusals'] == []


def test_a_live_lock_is_not_resumed():
    c = cluster(states={'N3': 'Paused'}, lock=lock('N3', abandoned=False, status='running'))
    assert plan_mod.plan(c, NODES, scans=SCANS, owner='alice')['resume_node'] == ''


def test_refusals_name_the_cau_run_and_hosts_that_are_no_nodes():
    cau = {'in_progress': True, 'summary': 'RunInProgress (run cau-1 orchestrated by N4; N1 Installing)'}
    p = plan_mod.plan(cluster(states={'N1': 'Paused'}, cau=cau), NODES + ['N9'], scans=SCANS)
    assert p['scan'] == []      # refused: nothing is searched
    assert p['refusals'] == ['nodes not Up: N1. No run lock. CAU reports RunInProgress (run cau-1 orchestrated by N4; '
                             'N1 Installing).', 'inventory hosts that are not nodes of CLU: N9 (its nodes: N1, N2, N3, N4). '
                             "Where an inventory host name is not the node name (an FQDN, an alias), set the host's "
                             'wsfc_node_name to the node name']


def test_upgrade_queue_and_an_evicted_node_left_behind():
    c = cluster(states={'N2': 'gone'}, lock=lock('N2'), upgrade=['N1', 'N3'])
    p = plan_mod.plan(c, NODES, kind='upgrade', owner='alice')
    assert p['resume_node'] == 'N2' and p['refusals'] == []
    assert p['resume_needs'].startswith('it is no member of the cluster')
    assert p['needs'] == {'N1': 'upgrade', 'N3': 'upgrade', 'N2': 'finish'} and p['queue'] == ['N2', 'N3', 'N1']
    assert p['first_up'] == 'N3'        # the evicted node comes first: no first gate for N3 yet
    # A node left behind that runs the target build and is a member is done: not resumed.
    done = plan_mod.plan(cluster(lock=lock('N4'), upgrade=['N1']), NODES, kind='upgrade', owner='alice')
    assert done['resume_node'] == '' and done['queue'] == ['N1']
    # Without a run to resume, a host that is no member is refused.
    refused = plan_mod.plan(cluster(states={'N2': 'gone'}, upgrade=['N1']), NODES, kind='upgrade')['refusals']
    assert len(refused) == 1 and refused[0].startswith('inventory hosts that are not nodes of CLU: N2 (its nodes: N1, N3, N4)')


FQDN = dict(('n%d.lab.test' % i, 'n%d' % i) for i in range(1, 5))   # host -> wsfc_node_name, lower case


def test_hosts_are_the_nodes_their_wsfc_node_name_names_in_any_case_and_the_plan_answers_in_hosts():
    hosts = sorted(FQDN)
    scans = dict(('n%d.lab.test' % i, SCANS['N%d' % i]) for i in range(1, 5))
    p = plan_mod.plan(cluster(lock=lock('n3')), hosts, scans=scans, owner='alice', names=FQDN, inventory_hosts=hosts,
                      node_order=['N4'])
    assert p['refusals'] == []
    assert p['node_names'] == {'n1.lab.test': 'N1', 'n2.lab.test': 'N2', 'n3.lab.test': 'N3', 'n4.lab.test': 'N4'}
    # The lock's node (recorded as given, in lower case) is resumed first; node_order names a node.
    assert p['resume_node'] == 'n3.lab.test'
    assert p['queue'] == ['n3.lab.test', 'n4.lab.test', 'n1.lab.test']
    assert p['needs'] == {'n1.lab.test': 'update', 'n3.lab.test': 'update', 'n4.lab.test': 'restart'}
    assert sorted(p['nodes']) == ['n1.lab.test', 'n3.lab.test', 'n4.lab.test']
    assert p['scan'] == hosts and p['measure'] == hosts
    assert p['first_gate'] == 'N3'      # the gate's node, as the cluster names it
    # An evicted node left behind, named by the lock: the host mapped to it is resumed, not refused as a stranger.
    evicted = plan_mod.plan(cluster(states={'N2': 'gone'}, lock=lock('N2'), upgrade=['N1', 'N3']), hosts, kind='upgrade',
                            owner='alice', names=FQDN)
    assert evicted['refusals'] == [] and evicted['queue'][0] == 'n2.lab.test'
    # A host named as its node in another case needs no mapping.
    assert plan_mod.plan(cluster(), ['n1', 'N2', 'n3', 'N4'], scans={})['node_names']['n1'] == 'N1'


def test_a_host_mapped_to_no_node_or_two_hosts_to_one_node_are_refused_naming_what_was_set():
    hosts = sorted(FQDN)
    p = plan_mod.plan(cluster(), hosts, scans={}, names=dict(FQDN, **{'n4.lab.test': 'n9'}))
    assert any(r.startswith('inventory hosts that are not nodes of CLU: n4.lab.test (wsfc_node_name n9) (its nodes:')
               for r in p['refusals']), p['refusals']
    # Unmapped FQDN hosts: each is named, with the hint.
    unmapped = plan_mod.plan(cluster(), hosts, scans={})['refusals']
    assert 'n1.lab.test, n2.lab.test' in unmapped[0] and 'wsfc_node_name' in unmapped[0]
    twice = plan_mod.plan(cluster(), hosts + ['x'], scans={}, names=dict(FQDN, x='N1'))['refusals']
    assert 'inventory hosts n1.lab.test, x are all the node N1 (wsfc_node_name or the host name): one host per node' in twice


def test_the_run_state_names_the_node_of_each_host():
    hostvars = {'a.lab': {'__runbook_executor': 'a.lab', 'wsfc_node_name': 'n1',
                          '__runbook_state': {'run_id': 'r', 'node_names': {'a.lab': 'N1', 'b.lab': 'N2'}}},
                'b.lab': {'__runbook_executor': 'a.lab', 'wsfc_node_name': 'n2'}, 'c': {}}
    assert plan_mod.run_state('b.lab', hostvars)['node'] == 'N2'
    assert plan_mod.run_state('a.lab', hostvars)['run_id'] == 'r'
    # Before the run state: the plan's names, else the configured name, else the host.
    hostvars['a.lab'] = {'__runbook_executor': 'a.lab', '__runbook_plan': {'node_names': {'a.lab': 'N1'}}}
    assert plan_mod.run_state('a.lab', hostvars) == {'node': 'N1'}
    assert plan_mod.run_state('b.lab', hostvars) == {'node': 'n2'}
    assert plan_mod.run_state('c', hostvars) == {'node': 'c'}


def test_deadline():
    assert plan_mod.plan(cluster(), NODES, scans={}, now=1000, stop_after=600)['deadline'] == 1600
    assert plan_mod.deadline(1000, 0) == 0
    assert not plan_mod.past_deadline(0, 10 ** 10)
    assert not plan_mod.past_deadline(1600, 1599) and plan_mod.past_deadline(1600, 1600)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of update, upgrade, got 'patch'"):
        plan_mod.plan(cluster(), NODES, kind='patch')


HOSTVARS = {'A1': {'wsfc_cluster_address': 'a'}, 'A2': {'wsfc_cluster_address': 'a'}, 'B1': {'wsfc_cluster_address': 'b'},
            'A3': {'wsfc_cluster_address': 'a'}, 'B2': {'wsfc_cluster_address': 'b'}, 'C1': {'wsfc_cluster_address': 'c'}}


def test_fleet_clusters_are_the_hosts_sharing_a_cluster_address():
    hosts = list(HOSTVARS)
    assert plan_mod.fleet(hosts, HOSTVARS) == {'a': ['A1', 'A2', 'A3'], 'b': ['B1', 'B2'], 'c': ['C1']}
    assert plan_mod.cluster_hosts(hosts, HOSTVARS, 'b') == ['B1', 'B2']


def test_the_fleet_map_groups_hosts_play_hosts_and_addresses_by_cluster():
    hostvars = dict((h, dict(v, wsfc_winrm_host=h.lower() + '.lab')) for h, v in HOSTVARS.items())
    fleet_map = plan_mod.fleet_map(list(hostvars), ['A1', 'A3', 'B2'], hostvars)
    assert fleet_map['hosts'] == {'a': ['A1', 'A2', 'A3'], 'b': ['B1', 'B2'], 'c': ['C1']}
    assert fleet_map['play'] == {'a': ['A1', 'A3'], 'b': ['B2'], 'c': []}
    assert fleet_map['addresses'] == {'a': ['a1.lab', 'a2.lab', 'a3.lab'], 'b': ['b1.lab', 'b2.lab'], 'c': ['c1.lab']}
    # Each host of the play maps to the host that reads its cluster: the cluster's first host in the play.
    assert fleet_map['executor'] == {'A1': 'A1', 'A3': 'A1', 'B2': 'B2'}
    # Only the hosts whose node name is not their own are listed (wsfc_node_name).
    assert fleet_map['nodes'] == {}
    hostvars['A2']['wsfc_node_name'] = 'node-a2'
    assert plan_mod.fleet_map(list(hostvars), [], hostvars)['nodes'] == {'A2': 'node-a2'}


def test_the_fleet_queue_interleaves_the_clusters_round_by_round():
    queues = {'a': ['A3', 'A1', 'A2'], 'b': ['B1', 'B2'], 'c': [], 'd': ['D1']}
    order = plan_mod.fleet_queue(queues)
    assert [(e['node'], e['cluster']) for e in order] == [
        ('A3', 'a'), ('B1', 'b'), ('D1', 'd'), ('A1', 'a'), ('B2', 'b'), ('A2', 'a')]
    assert plan_mod.fleet_queue({'a': []}) == [] and plan_mod.fleet_queue({}) == []


QUEUE = [('A3', 'a'), ('B1', 'b'), ('D1', 'd'), ('A1', 'a'), ('B2', 'b'), ('A2', 'a')]


def test_each_cluster_runs_its_first_unfinished_node_and_the_clusters_do_not_wait_for_each_other():
    assert plan_mod.runnable_nodes(QUEUE, set()) == ['A3', 'B1', 'D1']
    # b finished its first node while a is still on its first: b goes on, a's next node waits.
    assert plan_mod.runnable_nodes(QUEUE, {'B1'}) == ['A3', 'D1', 'B2']
    assert plan_mod.runnable_nodes(QUEUE, {'B1', 'B2', 'D1'}) == ['A3']
    assert plan_mod.runnable_nodes(QUEUE, {'A3', 'B1', 'B2', 'D1'}) == ['A1']
    everything = set(n for n, _c in QUEUE)
    assert plan_mod.runnable_nodes(QUEUE, everything) == []
    assert plan_mod.runnable_nodes([], set()) == []
    # A node that is not finished (running, failed or unreachable) holds its cluster's later nodes, never others.
    for step in range(len(QUEUE) + 1):
        finished = set(n for n, _c in QUEUE[:step])
        running = plan_mod.runnable_nodes(QUEUE, finished)
        assert not set(running) & finished
        clusters = [dict(QUEUE)[n] for n in running]
        assert len(clusters) == len(set(clusters))


def test_clusters_in_flight_are_limited_and_a_cluster_starts_when_another_ends():
    assert plan_mod.runnable_nodes(QUEUE, set(), max_in_flight=2) == ['A3', 'B1']
    # a is still on its first node: b goes on to its second, d waits for a or b to end.
    assert plan_mod.runnable_nodes(QUEUE, {'B1'}, max_in_flight=2) == ['A3', 'B2']
    # b ended: d takes its place while a goes on.
    assert plan_mod.runnable_nodes(QUEUE, {'B1', 'B2'}, max_in_flight=2) == ['A3', 'D1']
    # A cluster that started keeps its place ahead of clusters that have not (order of first nodes).
    assert plan_mod.runnable_nodes(QUEUE, {'A3', 'B1', 'B2'}, max_in_flight='1') == ['A1']
    assert plan_mod.runnable_nodes(QUEUE, set(), max_in_flight=0) == plan_mod.runnable_nodes(QUEUE, set(), max_in_flight=9)


def test_a_sliced_inventory_is_refused_and_a_limit_is_not():
    sliced = plan_mod.plan(cluster(), ['N1', 'N3'], scans=SCANS, inventory_hosts=['N1', 'N3'])
    assert sliced['refusals'] == ['the inventory lists 2 of the 4 nodes of CLU (missing: N2, N4): a job slice or an '
                                  'incomplete inventory. Every node of a cluster must be in one job: slice a fleet by '
                                  'cluster (a limit of whole cluster groups), never by node']
    limited = plan_mod.plan(cluster(), ['N1', 'N3'], scans=SCANS, inventory_hosts=NODES)
    assert limited['refusals'] == [] and limited['queue'] == ['N3', 'N1']
    # Only the limited nodes are searched and queued; the capacity gate measures every node (their room counts).
    assert limited['scan'] == ['N1', 'N3'] and limited['measure'] == NODES
    one = plan_mod.plan(cluster(), ['N1'], scans=SCANS, inventory_hosts=NODES)
    assert one['queue'] == ['N1'] and one['measure'] == NODES


def test_a_deadline_kept_as_text_is_read_as_a_number():
    # ansible-core 2.16 gives a fact's numbers back as text: '0' is no deadline, not one long past.
    assert plan_mod.past_deadline('0', 100) is False and plan_mod.past_deadline(0, 100) is False
    assert plan_mod.past_deadline('150', 100) is False and plan_mod.past_deadline('150', '151') is True


def test_node_verdict_failure_isolation_budget_and_deadline():
    go = plan_mod.node_verdict('a', [], 0, 0, 100)
    assert go == {'go': True, 'release_lock': False, 'reason': ''}
    own = plan_mod.node_verdict('a', ['a', 'a'], 0)
    assert own['go'] is False and own['release_lock'] is False and 'a node of this cluster failed' in own['reason']
    assert plan_mod.node_verdict('b', ['a'], 0)['go'] is True             # another cluster's failure: no budget
    assert plan_mod.node_verdict('b', ['a'], 2)['go'] is True
    spent = plan_mod.node_verdict('c', ['a', 'b'], 2)
    assert spent == {'go': False, 'release_lock': True,
                     'reason': 'the fleet failure budget (rolling_update_max_failed_clusters 2) is spent: 2 cluster(s) '
                               'failed (a, b)'}
    late = plan_mod.node_verdict('a', [], 0, deadline_at=100, now=100, runbook='rolling_upgrade')
    assert late == {'go': False, 'release_lock': True, 'reason': 'deadline reached (rolling_upgrade_stop_after)'}


def test_a_host_whose_own_preflight_checks_failed_stops_its_cluster():
    p = plan_mod.plan(cluster(), NODES, scans=SCANS, failed_hosts=['N2'])
    assert p['refusals'] == ['the preflight checks failed on N2 (see above): nothing is started on CLU']


def test_the_first_gate_is_the_updates_first_node_and_the_upgrades_only_when_it_is_up():
    paused = cluster(states={'N2': 'Paused'}, lock=lock('N2'))
    update = plan_mod.plan(paused, NODES, scans=SCANS, owner='alice')
    assert update['queue'][0] == 'N2' and update['first_gate'] == 'N2'
    evicted = plan_mod.plan(cluster(states={'N2': 'gone'}, lock=lock('N2'), upgrade=['N1', 'N3']), NODES, kind='upgrade',
                            owner='alice')
    assert evicted['queue'][0] == 'N2' and evicted['first_gate'] == ''
    fresh = plan_mod.plan(cluster(upgrade=['N1', 'N3']), NODES, kind='upgrade', owner='alice')
    assert fresh['first_gate'] == fresh['queue'][0] == 'N3'
    assert plan_mod.plan(cluster(), NODES, scans={}, owner='alice')['first_gate'] == ''


def test_storage_spaces_decide_the_storage_wait():
    assert plan_mod.plan(cluster(), NODES, scans={})['storage_spaces'] is False
    s2d = dict(cluster(), virtual_disks=[{'name': 'v1'}])
    assert plan_mod.plan(s2d, NODES, scans={})['storage_spaces'] is True


FLEET = {'A1': {'wsfc_cluster_address': 'a', '__runbook_executor': 'A1',
                '__runbook_state': {'name': 'A', 'run_id': 'r1', 'queue': ['A1', 'A2'], 'deadline': 0}},
         'A2': {'wsfc_cluster_address': 'a', '__runbook_executor': 'A1', '__runbook_node_failed': 'boom'},
         'B1': {'wsfc_cluster_address': 'b', '__runbook_executor': 'B1',
                '__runbook_state': {'name': 'B', 'run_id': 'r2', 'queue': ['B1'], 'deadline': 50}},
         'C1': {'wsfc_cluster_address': 'c', '__runbook_executor': 'C1', '__runbook_node_failed': ''}}


def test_next_node_reads_the_run_and_the_failures_from_the_facts():
    hosts = list(FLEET)
    assert plan_mod.run_state('A2', FLEET)['run_id'] == 'r1'
    assert plan_mod.run_state('C1', FLEET) == {'node': 'C1'}     # no run: only the node it is
    assert plan_mod.next_node('A1', hosts, FLEET, now=10)['go'] is False           # A2 failed: cluster a stops
    assert plan_mod.next_node('B1', hosts, FLEET, now=10)['go'] is True
    assert plan_mod.next_node('B1', hosts, FLEET, max_failed=1, now=10)['reason'].startswith('the fleet failure budget')
    assert plan_mod.next_node('B1', hosts, FLEET, now=60)['reason'] == 'deadline reached (rolling_update_stop_after)'
    assert plan_mod.failed_nodes(hosts, FLEET) == ['boom']


def test_a_failed_node_is_put_back_only_within_the_budget_and_only_when_a_resume_can():
    facts = {'N1': {'wsfc_cluster_address': 'a', '__runbook_executor': 'N1', '__runbook_state': {'run_id': 'r'}},
             'N2': {'wsfc_cluster_address': 'a', '__runbook_executor': 'N1', '__runbook_node_failed': 'boom'},
             'N3': {'wsfc_cluster_address': 'a', '__runbook_executor': 'N1'}}
    hosts = list(facts)
    paused = cluster(states={'N2': 'Paused'}, drain={'N2': 'Completed'})
    assert plan_mod.node_recovery('N2', paused, hosts, facts)['resume'] is False          # no budget: today's rule
    decision = plan_mod.node_recovery('N2', paused, hosts, facts, max_failed_nodes=1)
    assert decision == {'resume': True, 'used': 0, 'budget': 1, 'reason': ''}
    down = cluster(states={'N2': 'Down'})
    assert plan_mod.node_recovery('N2', down, hosts, facts, 1)['reason'] == 'it is Down (drain NotInitiated): a resume cannot put it back'
    draining = cluster(states={'N2': 'Paused'}, drain={'N2': 'InProgress'})
    assert plan_mod.node_recovery('N2', draining, hosts, facts, 1)['resume'] is False
    evicted = dict(paused, nodes=[n for n in paused['nodes'] if n['name'] != 'N2'])
    assert 'evicted' in plan_mod.node_recovery('N2', evicted, hosts, facts, 1)['reason']
    # Once N2 was put back, the budget of 1 is spent for the next failed node of the cluster; N2 no longer stops it.
    facts['N2']['__runbook_node_resumed'] = True
    assert plan_mod.next_node('N3', hosts, facts, now=1)['go'] is True
    facts['N3']['__runbook_node_failed'] = 'again'
    spent = plan_mod.node_recovery('N3', cluster(states={'N3': 'Paused'}, drain={'N3': 'Completed'}), hosts, facts, 1)
    assert spent['resume'] is False and spent['reason'] == 'the failure budget is spent (1 of max_failed_nodes 1)'
    text = plan_mod.failure_report(paused, 'N2', 'Windows Update failed on N2.', 'rolling_update', 'alice',
                                   dict(decision, resumed=True))
    assert 'put back into service (resumed with failback)' in text and 'allows 1 such node(s) per cluster, this is number 1' in text


def test_the_failure_report_says_where_the_node_was_left():
    info = cluster(states={'N2': 'Paused'}, drain={'N2': 'Completed'})
    text = plan_mod.failure_report(info, 'N2', 'Windows Update failed on N2.', 'rolling_update', 'alice')
    assert text.startswith('Rolling update stopped at N2: Windows Update failed on N2. The node is Paused in the cluster '
                           '(drain Completed) and was left as it is: a paused node is never resumed automatically')
    assert 'run the same command again as alice' in text
    gone = plan_mod.failure_report(cluster(states={'N2': 'gone'}), 'N2', 'setup failed', 'rolling_upgrade', 'bob')
    assert gone.startswith('Rolling upgrade stopped at N2: setup failed The node is not a member of the cluster (evicted)')


def test_plan_and_run_summaries():
    p = plan_mod.plan(cluster(states={'N2': 'Paused'}, lock=lock('N2')), NODES, scans=SCANS, owner='alice')
    line = plan_mod.plan_summary(p, cluster(), 'rolling_update')
    assert line.startswith('Cluster CLU: 4 node(s) to update in this order: N2, ')
    assert '; first N2, left by the last run: ' in line
    # Each queued node's work, one line each (what a check-mode run previews).
    assert p['nodes']['N1'] == {'need': 'update', 'roles': p['nodes']['N1']['roles'], 'updates': [{'kb': 'KB1', 'size_mb': 600}],
                                'download_mb': 600, 'restart': True}
    assert p['nodes']['N4']['updates'] == [] and p['nodes']['N4']['restart'] is True and p['nodes']['N4']['need'] == 'restart'
    lines = line.split('\n  ')[1:]
    assert [entry.split(':')[0] for entry in lines] == p['queue']
    assert '\n  N1: updates to install; %d clustered role(s) to move; 1 update(s), 600 MB: KB1; restart expected' % (
        p['nodes']['N1']['roles']) in line
    assert '\n  N4: a pending restart only; ' in line
    unknown = plan_mod.node_work(cluster(), ['N1'], {'N1': 'update'}, None)['N1']
    assert unknown['restart'] is None and unknown['updates'] == []
    assert plan_mod.plan_summary({'queue': []}, cluster(), 'rolling_update') == 'Cluster CLU: every node is compliant; nothing to do'
    up = dict(cluster(), upgrade={'nodes_to_upgrade': ['N1'], 'nodes_on_target': ['N2', 'N3', 'N4'], 'target_build': 20348,
                                  'target_level': 11})
    up['cluster'] = {'name': 'CLU', 'functional_level': 10}
    assert plan_mod.plan_summary({'queue': []}, up, 'rolling_upgrade', 20348, 'in_place') == (
        'Cluster CLU (functional level 10), target build 20348 by in_place: every node runs the target build; nothing to do')
    outcome = {'preflight_failed': False, 'done': ['N1'], 'queue': ['N1'], 'failed': None, 'left': [], 'seconds': 5}
    assert plan_mod.cluster_summary(outcome, up, 'rolling_upgrade').endswith('On build 20348: 3/4 nodes; functional level 10.')
    up['upgrade']['nodes_to_upgrade'] = []
    assert 'not raised: when you are sure' in plan_mod.cluster_summary(outcome, up, 'rolling_upgrade')
    assert 'On build' not in plan_mod.cluster_summary(outcome, up, 'rolling_update')
    # A dry run says that it changed nothing and which nodes it went through, not that it updated them.
    dry = plan_mod.cluster_summary(dict(outcome, name='CLU', queue=['N1', 'N2'], done=['N1'], left=['N2']), None,
                                   'rolling_update', True)
    assert dry == 'CLU: check mode, nothing was changed; 2 queued node(s) previewed (N1, N2); 5 s'
    assert 'updated' not in dry and 'not started' not in dry


def test_the_upgrade_starts_a_node_by_how_it_finds_it():
    up = plan_mod.upgrade_node(cluster(), 'N1')
    assert up['member'] and up['gate'] and up['capture'] and up['drain'] and up['node']['name'] == 'N1'
    paused = plan_mod.upgrade_node(cluster(states={'N1': 'Paused'}), 'N1')
    assert not paused['gate'] and not paused['capture'] and paused['drain']     # keeps its first capture
    down = plan_mod.upgrade_node(cluster(states={'N1': 'Down'}), 'N1')
    assert not down['drain'] and not down['gate']
    gone = plan_mod.upgrade_node(cluster(states={'N1': 'gone'}), 'N1')
    assert dict(gone, measure=None) == {'node': None, 'member': False, 'gate': False, 'capture': False, 'drain': False,
                                        'measure': None}
    # The gate measures the node alone once the preflight measured the others, else every member.
    assert up['measure'] == ['N1', 'N2', 'N3', 'N4']
    assert plan_mod.upgrade_node(cluster(), 'N1', {'N2': {'free_mb': 1}})['measure'] == ['N1']


def test_node_hosts_are_the_inventory_addresses_of_the_named_nodes():
    hostvars = {'N1': {'wsfc_winrm_host': 'n1.example'}, 'N2': {'wsfc_winrm_host': '10.0.0.2'}}
    assert plan_mod.node_hosts(['N2'], hostvars) == {'N2': '10.0.0.2'}
    assert plan_mod.node_hosts([], hostvars) == {}
    # Hosts whose names are not their nodes': keyed by node; nodes are found among the hosts in any case.
    hostvars = {'n1.lab': {'wsfc_node_name': 'n1', 'wsfc_winrm_host': '127.0.0.1'}, 'n2.lab': {'wsfc_node_name': 'n2', 'wsfc_winrm_host': '127.0.0.2'}}
    assert plan_mod.node_hosts(['n1.lab'], hostvars) == {'n1': '127.0.0.1'}
    assert plan_mod.node_hosts(['N1', 'N2'], hostvars, ['n1.lab', 'n2.lab']) == {'n1': '127.0.0.1', 'n2': '127.0.0.2'}
    with pytest.raises(ValueError, match='the node N3 has no host in the inventory'):
        plan_mod.node_hosts(['N3'], hostvars, ['n1.lab', 'n2.lab'])


@pytest.mark.parametrize('node, died, os_read, chassis, step', [
    # A node that answers: reinstalled unless it already runs the target, shut down gracefully.
    ('N2', False, {'os': {'build': 17763}}, None, (False, False, True, True)),
    ('N2', False, {'os': {'build': 20348}}, None, (False, False, False, True)),
    # Not answering, not left by a dead run: reinstalled, hard.
    ('N2', True, {'os': None}, None, (False, False, True, False)),
    ('N1', False, {'os': None}, None, (False, False, True, False)),
    # Not answering and left by a run that died (its died flag as text, as older ansible-core keeps it): read the
    # chassis first; on, it is installing: wait; off: reinstall.
    ('N1', 'True', {'os': None}, None, (True, False, False, False)),
    ('N1', True, {'os': None}, {'power_state': 'on'}, (False, True, False, False)),
    ('N1', True, {'os': None}, {'power_state': 'off'}, (False, False, True, False)),
    ('N1', 'False', {'os': None}, None, (False, False, True, False)),
])
def test_the_reinstall_steps_for_each_way_a_node_can_be_found(node, died, os_read, chassis, step):
    got = plan_mod.reprovision_step(node, {'resume_node': 'N1', 'died': died}, os_read, 20348, chassis)
    assert (got['read_chassis'], got['wait_for_reinstall'], got['reinstall'], got['graceful']) == step


def test_the_finish_releases_the_lock_of_a_run_without_a_failure_and_clears_a_stale_own_lock():
    hostvars = {'N1': {'__runbook_node_done': True}, 'N2': {'__runbook_node_failed': ''}}
    done = plan_mod.cluster_outcome(['N1', 'N2'], hostvars, '__runbook', {'run_id': 'r', 'queue': ['N1']}, now=0)
    assert done['release_lock'] and not done['clear_stale_lock'] and done['done'] == ['N1']
    hostvars['N2']['__runbook_node_failed'] = 'boom'
    failed = plan_mod.cluster_outcome(['N1', 'N2'], hostvars, '__runbook', {'run_id': 'r', 'queue': ['N1', 'N2']}, now=0)
    assert failed['failed'] == 'N2' and not failed['release_lock']
    idle = plan_mod.cluster_outcome(['N1'], {'N1': {}}, '__runbook', {'run_id': 'r', 'queue': [], 'stale_own_lock': 'True'}, now=0)
    assert idle['clear_stale_lock'] and not idle['release_lock']
    assert not plan_mod.cluster_outcome(['N1'], {'N1': {}}, '__runbook', {'run_id': 'r', 'queue': []}, now=0)['clear_stale_lock']


def test_the_estimate_of_each_node_comes_from_its_vms_memory_and_its_updates_sizes():
    p = plan_mod.plan(cluster(), NODES, scans=SCANS, owner='alice')
    capacity = {'N1': {'vms': {'a': 8000, 'b': 2000}}, 'N3': {'vms': {'c': 4000}}, 'N4': {'vms': {}}}
    e = plan_mod.estimate(p, capacity)
    n1 = e['nodes']['N1']
    # 10 GB at 10 Gbit/s with 1.3 times copied: 10.4 s, plus 2 s per VM over 2 at a time: 12 s each way.
    assert n1['parts'] == {'drain': 12, 'download': 24, 'install': 120, 'restart': 420, 'failback': 12}
    assert (n1['seconds'], n1['vms'], n1['memory_mb']) == (589, 2, 10000)     # the parts unrounded: 588.8
    # N4 only has a restart pending: no download, no install.
    assert e['nodes']['N4']['parts'] == {'drain': 0, 'download': 0, 'install': 0, 'restart': 420, 'failback': 0}
    assert e['seconds'] == sum(n['seconds'] for n in e['nodes'].values())
    assert e['lines'][0].startswith('N4: about 7 min (0 VM(s), 0 MB to move off and back; drain 0 s, download 0 s')
    assert e['lines'][-1].startswith('CLU: about ') and 'storage resync not included' in e['lines'][-1]
    # Your own figures replace the assumed ones; an upgrade reinstalls instead of updating.
    faster = plan_mod.estimate(p, capacity, rates={'migration_gbps': 40, 'restart_seconds': 200})['nodes']['N1']
    assert faster['parts']['drain'] == 5 and faster['parts']['restart'] == 200     # 2.6 s + 2 s
    up = plan_mod.plan(cluster(upgrade=['N1']), NODES, kind='upgrade', owner='alice')
    assert plan_mod.estimate(up, capacity, 'upgrade', 'in_place')['nodes']['N1']['parts'] == {
        'drain': 12, 'in-place upgrade': 3600, 'failback': 12}


def test_nodes_paused_by_an_administrator_are_refused_or_left_and_never_on_storage_spaces_direct():
    paused = cluster(states={'N2': 'Paused'}, drain={'N2': 'Completed'})
    refused = plan_mod.plan(paused, NODES, scans={'N2': {'updates': [{'kb': 'KB1'}]}})
    assert [r for r in refused['refusals'] if r.startswith('nodes not Up: N2')] and refused['left_paused'] == []
    kept = plan_mod.plan(paused, NODES, scans=dict((n, {'updates': [{'kb': 'KB1'}]}) for n in NODES), allow_paused=True)
    assert kept['refusals'] == [] and kept['left_paused'] == ['N2'] and 'N2' not in kept['queue'] and kept['queue']
    assert 'left as they are (paused by an administrator): N2' in plan_mod.plan_summary(kept, paused, 'rolling_update')
    s2d = dict(paused, virtual_disks=[{'name': 'v1'}])
    assert any('On Storage Spaces Direct the run never leaves a paused node' in r
               for r in plan_mod.plan(s2d, NODES, scans={}, allow_paused=True)['refusals'])


def test_a_wider_cluster_runs_its_first_unfinished_nodes_and_a_failed_node_starts_no_more():
    widths = {'a': 2}
    assert plan_mod.runnable_nodes(QUEUE, set(), widths=widths) == ['A3', 'B1', 'D1', 'A1']
    # A3 finished: A2 takes its place beside A1.
    assert plan_mod.runnable_nodes(QUEUE, {'A3'}, widths=widths) == ['B1', 'D1', 'A1', 'A2']
    # A failed node (A3) holds its place and its cluster starts no node it had not started; b goes on.
    assert plan_mod.runnable_nodes(QUEUE, set(), widths=widths, started={'A3'}, stopped={'a'}) == ['A3', 'B1', 'D1']
    assert plan_mod.fleet_queue({'a': ['A1'], 'b': ['B1']}, {'a': 3}) == [
        {'node': 'A1', 'cluster': 'a', 'width': 3}, {'node': 'B1', 'cluster': 'b', 'width': 1}]


def racks(c, domains):
    for node in c['nodes']:
        node['fault_domain'] = ['Site=s', 'Rack=%s' % domains[node['name']], 'Node=%s' % node['name']]
    return c


def test_more_nodes_out_at_once_keeps_each_fault_domain_together_and_is_refused_on_s2d_and_for_upgrades():
    c = racks(cluster(), {'N1': 'R1', 'N2': 'R2', 'N3': 'R1', 'N4': 'R2'})
    scans = dict((n, {'updates': [KB1]}) for n in NODES)
    p = plan_mod.plan(c, NODES, scans=scans, owner='alice', max_nodes_out=2)
    # Fewest roles first (N4, N2, N3, N1), then each rack's nodes side by side, the racks in the order of their first.
    assert p['queue'] == ['N4', 'N2', 'N3', 'N1'] and p['width'] == 2 and p['refusals'] == [] and p['out'] == []
    c['virtual_disks'] = [{'friendly_name': 'Volume1'}]
    p = plan_mod.plan(c, NODES, scans=scans, owner='alice', max_nodes_out=2)
    assert p['width'] == 1 and 'max_nodes_out 2 on CLU, which runs Storage Spaces Direct' in p['refusals'][0]
    p = plan_mod.plan(cluster(upgrade=['N1']), NODES, kind='upgrade', owner='alice', max_nodes_out=3)
    assert p['refusals'] == ['max_nodes_out 3: an upgrade takes one node at a time']


def test_the_nodes_a_wider_run_left_out_are_all_finished_first_and_recorded_out_again():
    left = dict(lock('N3'), out=['N1', 'N3', 'N4'])
    c = cluster({'N1': 'Paused', 'N3': 'Down', 'N4': 'Up'}, left, drain={'N1': 'Completed'})
    p = plan_mod.plan(c, NODES, scans=dict((n, {'updates': [KB1]}) for n in NODES), owner='alice', max_nodes_out=3)
    assert p['refusals'] == [] and p['resume_node'] == 'N3' and p['left_out'] == ['N1']
    # N4 came back Up: its own search decides; N1 (paused) and N3 (down) are finished first and recorded as out.
    assert p['queue'][:2] == ['N3', 'N1'] and p['needs']['N1'] == 'finish' and p['needs']['N3'] == 'finish'
    assert p['out'] == ['N3', 'N1']
    # Fewer than the nodes left out, or one at a time: refused, naming the number to run with.
    assert 'run with max_nodes_out 2 or more' in plan_mod.plan(c, NODES, owner='alice', max_nodes_out=1)['refusals'][-1]
    assert 'more than max_nodes_out' not in ' '.join(p['refusals'])
