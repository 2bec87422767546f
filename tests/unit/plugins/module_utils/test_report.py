"""The run's report (plugins/module_utils/_report.py): its phases from what the nodes' tasks registered, and its
JUnit XML and HTML forms."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
from xml.etree import ElementTree

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils import _report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def result(start, seconds, **extra):
    return dict({'started': start, 'ended': start + seconds, 'changed': True}, **extra)


def fleet(failed=False, preflight_failed=False):
    """Hostvars of a two-node cluster A (N1 done, N2 done or failed in its install) and, with ``preflight_failed``,
    a cluster B whose preflight stopped it."""
    state = {'name': 'A', 'run_id': 'r1', 'queue': ['n1.lab', 'n2.lab'], 'started': 1000,
             'node_names': {'n1.lab': 'N1', 'n2.lab': 'N2'}}
    cluster = {'nodes': [{'name': 'N1', 'build_number': 17763}, {'name': 'N2', 'build_number': 17763}]}
    final = {'nodes': [{'name': 'N1', 'build_number': 17763, 'state': 'Up', 'drain_status': 'Completed'},
                       {'name': 'N2', 'build_number': 17763, 'state': 'Paused' if failed else 'Up', 'drain_status': 'Completed'}]}
    install = result(1020, 60, installed=[{'kb': 'KB1', 'title': 'CU'}], restarts=1, os_build_before='17763.1',
                     os_build_after='17763.2')
    n1 = {'wsfc_cluster_address': 'a', '__runbook_executor': 'n1.lab', '__runbook_state': state, '__runbook_cluster': cluster,
          '__runbook_node_done': True, '__runbook_node_failed': '', '__runbook_final': final,
          '__rolling_update_gate': result(1001, 1, checks=[{'name': 'quorum_margin', 'ok': True, 'detail': 'margin 1'}]),
          '__rolling_update_drain': result(1002, 10, roles_moved=['VM1', 'VM2']),
          '__rolling_update_install': install,
          '__rolling_update_resume': result(1081, 5, roles_moved=['VM1']),
          '__runbook_storage': {'skipped': True, 'changed': False}}
    n2 = {'wsfc_cluster_address': 'a', '__runbook_executor': 'n1.lab', '__runbook_node_done': not failed,
          '__runbook_node_failed': 'Rolling update stopped at N2: boom' if failed else '',
          '__rolling_update_gate': result(1100, 1, checks=[]),
          '__rolling_update_drain': result(1101, 10, roles_moved=['VM3']),
          '__rolling_update_install': result(1112, 30, failed=True, msg='Windows Update failed on N2') if failed else install,
          '__rolling_update_resume': {'skipped': True} if failed else result(1150, 5)}
    hostvars = {'n1.lab': n1, 'n2.lab': n2}
    if preflight_failed:
        hostvars['b1'] = {'wsfc_cluster_address': 'b', 'wsfc_cluster_name': 'B', '__runbook_executor': 'b1',
                          '__runbook_plan': {'refusals': ['nodes not Up: B2. No run lock.']}}
    return hostvars


def test_each_node_has_its_phases_in_order_and_what_it_went_through():
    report = _report.run_report(list(fleet(failed=True)), fleet(failed=True), '__runbook', 'rolling_update', now=2000)
    [cluster] = report['clusters']
    n1, n2 = cluster['nodes']
    assert [p['phase'] for p in n1['phases']] == ['gate', 'drain', 'install and restart', 'resume']
    assert (n1['started'], n1['ended'], n1['seconds']) == (1001, 1086, 85)
    assert n1['node_name'] == 'N1' and n1['status'] == 'done' and n1['failed_phase'] is None
    assert n1['roles_moved'] == ['VM1', 'VM2'] and n1['roles_back'] == ['VM1']
    assert n1['updates_installed'] == [{'kb': 'KB1', 'title': 'CU'}] and n1['restarts'] == 1
    assert (n1['build_before'], n1['build_after'], n1['left']) == ('17763.1', '17763.2', 'Up (drain Completed)')
    assert n1['gates'] == [{'name': 'quorum_margin', 'ok': True, 'detail': 'margin 1'}]
    assert [p['phase'] for p in n2['phases']] == ['gate', 'drain', 'install and restart']
    assert n2['status'] == 'failed' and n2['failed_phase'] == 'install and restart' and n2['left'] == 'Paused (drain Completed)'
    assert n2['phases'][-1]['message'] == 'Windows Update failed on N2'
    # Builds from the cluster's own reads where the node's install did not report them.
    assert (n2['build_before'], n2['build_after']) == (17763, 17763)
    assert report['result'] == 'failed' and cluster['started'] == 1000
    json.dumps(report)      # plain data


def test_junit_has_a_case_per_phase_the_failure_and_the_clusters_whose_preflight_failed():
    hostvars = fleet(failed=True, preflight_failed=True)
    report = _report.run_report(list(hostvars), hostvars, '__runbook', 'rolling_update', now=2000)
    top = ElementTree.fromstring(_report.junit(report).split('\n', 1)[1])
    assert (top.get('tests'), top.get('failures'), top.get('skipped')) == ('8', '2', '0')
    a, b = top.findall('testsuite')
    assert [(c.get('classname'), c.get('name')) for c in a.findall('testcase')][3:5] == [('A.n1.lab', 'resume'), ('A.n2.lab', 'gate')]
    failure = a.find("testcase[@name='install and restart'][@classname='A.n2.lab']/failure")
    assert failure.get('message') == 'Windows Update failed on N2' and failure.text == 'Rolling update stopped at N2: boom'
    assert [(c.get('name'), c[0].tag, c[0].text) for c in b.findall('testcase')] == [
        ('preflight', 'failure', 'nodes not Up: B2. No run lock.')]
    assert 'nodes not Up: B2. No run lock.' in _report.html(report)
    assert a.find("testcase[@name='drain'][@classname='A.n1.lab']").get('time') == '10.000'


def test_a_dry_run_and_nodes_not_started_are_skipped_cases():
    hostvars = fleet()
    for name in ('__rolling_update_gate', '__rolling_update_drain', '__rolling_update_install', '__rolling_update_resume'):
        hostvars['n2.lab'][name] = {'skipped': True}
    hostvars['n2.lab']['__runbook_node_done'] = False
    report = _report.run_report(list(hostvars), hostvars, '__runbook', 'rolling_update', now=2000)
    assert [n['status'] for n in report['clusters'][0]['nodes']] == ['done', 'not started']
    top = ElementTree.fromstring(_report.junit(report).split('\n', 1)[1])
    assert [c.get('name') for c in top.iter('testcase')][-1] == 'not started' and top.get('skipped') == '1'
    preview = _report.run_report(list(hostvars), hostvars, '__runbook', 'rolling_update', check_mode=True, now=2000)
    assert [n['status'] for n in preview['clusters'][0]['nodes']] == ['previewed', 'previewed']


def test_the_html_page_is_self_contained_and_lays_the_phases_out_on_one_time_axis():
    hostvars = fleet(failed=True)
    page = _report.html(_report.run_report(list(hostvars), hostvars, '__runbook', 'rolling_update', now=2000))
    assert '<script' not in page and not re.search(r'(src|href)=', page)
    bars = re.findall(r'class="bar phase-([a-z-]+)" style="left:([0-9.]+)%;width:([0-9.]+)%;background:(#[0-9a-f]+)"', page)
    assert len(bars) == 7
    # The run spans 1001..1142: n1's drain starts at 1/141 of it, n2's failed install ends at its end, in red.
    assert bars[1][:2] == ('drain', '%.3f' % (100.0 / 141))
    assert bars[-1][0] == 'install-and-restart' and bars[-1][3] == _report.FAILED_COLOUR
    assert abs(float(bars[-1][1]) + float(bars[-1][2]) - 100.0) < 0.01
    assert 'Rolling update stopped at N2: boom' in page and 'KB1' in page
    # Text from the cluster is escaped.
    hostvars['n2.lab']['__runbook_node_failed'] = '<b>x</b>'
    assert '&lt;b&gt;x&lt;/b&gt;' in _report.html(_report.run_report(list(hostvars), hostvars, '__runbook', 'rolling_update'))


def test_report_files_are_the_json_junit_and_html_named_for_the_runbook(tmp_path):
    report = _report.run_report(list(fleet()), fleet(), '__runbook', 'rolling_update', now=2000)
    files = _report.report_files(report, str(tmp_path))
    assert [os.path.basename(f['path']) for f in files] == [
        'rolling_update_report.json', 'rolling_update_report.junit.xml', 'rolling_update_report.html']
    assert json.loads(files[0]['content']) == report


@pytest.mark.parametrize('runbook', sorted(_report.PHASES))
def test_every_phase_is_registered_by_a_task_of_the_roles(runbook):
    registered = set()
    for path in glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml')):
        with open(path) as handle:
            registered.update(re.findall(r'^\s*register: (\S+)$', handle.read(), re.M))
    missing = [name for _phase, name in _report.PHASES[runbook] if name not in registered]
    assert missing == []
    assert all(phase in _report.COLOURS for phase, _name in _report.PHASES[runbook])
