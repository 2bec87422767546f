# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's report: what became of every queued node, phase by phase, as data (JSON, AWX's job artifact), as
JUnit XML (for a CI system or a change ticket) and as a self-contained HTML timeline.

The phases are read from what each node's tasks registered: every module of the collection is stamped with
``started`` and ``ended`` by its action plugin, so no task is added to a node's cycle to keep the timeline.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time
from html import escape
from xml.etree import ElementTree

from ansible_collections.wsfc.rolling.plugins.module_utils._plan import FACTS, fleet_outcomes, member

# (phase, the variable a node's task registers it in), in the order of a node's cycle. A phase a node did not go
# through (skipped, or a run that resumed it past that point) is left out of its timeline.
PHASES = {
    'rolling_update': (
        ('gate', '__rolling_update_gate'), ('drain', '__rolling_update_drain'),
        ('install and restart', '__rolling_update_install'), ('resume', '__rolling_update_resume'),
        ('storage resync', FACTS + '_storage')),
    'rolling_upgrade': (
        ('gate', '__rolling_upgrade_gate'), ('capture', '__rolling_upgrade_captured'),
        ('drain', '__rolling_upgrade_drain'), ('evict', '__rolling_upgrade_evicted'),
        ('reinstall left under way', '__rolling_upgrade_awaited'), ('network boot', '__rolling_upgrade_netboot'),
        ('power cycle', '__rolling_upgrade_power'), ('reinstall', '__rolling_upgrade_reinstalled'), ('in-place upgrade', '__rolling_upgrade_setup'),
        ('verify configuration', '__rolling_upgrade_verified'), ('add back', '__rolling_upgrade_added'),
        ('resume', '__rolling_upgrade_resume'), ('storage resync', FACTS + '_storage')),
}
# One colour per phase in the HTML timeline (and its legend).
COLOURS = {'gate': '#7f7f7f', 'capture': '#bcbd22', 'drain': '#1f77b4', 'evict': '#8c564b', 'network boot': '#e377c2',
           'power cycle': '#9467bd', 'reinstall': '#ff7f0e', 'reinstall left under way': '#ff7f0e', 'in-place upgrade': '#ff7f0e',
           'install and restart': '#ff7f0e', 'verify configuration': '#17becf', 'add back': '#8c564b',
           'resume': '#2ca02c', 'storage resync': '#17a2b8'}
FAILED_COLOUR = '#d62728'


def _phases(variables, runbook):
    out = []
    for phase, name in PHASES.get(runbook, ()):
        result = variables.get(name)
        if not isinstance(result, dict) or result.get('skipped') or not result.get('started'):
            continue
        start, end = float(result['started']), float(result.get('ended') or result['started'])
        out.append({'phase': phase, 'start': start, 'end': end, 'seconds': round(end - start, 3),
                    'failed': bool(result.get('failed')), 'changed': bool(result.get('changed')),
                    'attempts': int(result.get('attempts') or 1), 'message': result.get('msg') if result.get('failed') else ''})
    return sorted(out, key=lambda p: p['start'])


def _node_record(host, status, failure, variables, run, snapshot, final, runbook):
    node = (run.get('node_names') or {}).get(host) or host
    phases = _phases(variables, runbook)
    gate = variables.get('__%s_gate' % runbook) or {}
    drain = variables.get('__%s_drain' % runbook) or {}
    resume = variables.get('__%s_resume' % runbook) or {}
    install = variables.get('__%s_install' % runbook) or {}
    found = member(final.get('nodes'), node)
    # An update changes the build revision (UBR), which only the node itself reports; else the cluster's reads.
    before = install.get('os_build_before') or (member(snapshot.get('nodes'), node) or {}).get('build_number')
    after = install.get('os_build_after') or (found or {}).get('build_number')
    if found is None and final:
        left = 'not a member of the cluster'
    elif found is not None:
        left = '%s (drain %s)' % (found.get('state'), found.get('drain_status') or 'none')
    else:
        left = ''
    return {
        'node': host, 'node_name': node, 'status': status, 'failure': failure,
        'started': phases[0]['start'] if phases else None, 'ended': max(p['end'] for p in phases) if phases else None,
        'seconds': round(max(p['end'] for p in phases) - phases[0]['start'], 3) if phases else 0,
        'phases': phases,
        'failed_phase': next((p['phase'] for p in phases if p['failed']), None),
        'gates': [dict((k, c.get(k)) for k in ('name', 'ok', 'detail')) for c in gate.get('checks') or []],
        'roles_moved': list(drain.get('roles_moved') or []),
        'roles_back': list(resume.get('roles_moved') or []),
        'roles_not_back': list(resume.get('roles_not_back') or []),
        'updates_installed': [{'kb': u.get('kb'), 'title': u.get('title')} for u in install.get('installed') or []],
        'updates_failed': [{'kb': u.get('kb'), 'title': u.get('title')} for u in install.get('failed_updates') or []],
        'restarts': install.get('restarts') or 0,
        'build_before': before, 'build_after': after, 'left': left,
        # What the preflight estimated the node's cycle would take (storage resync not included).
        'estimated_seconds': ((run.get('estimate') or {}).get(host) or {}).get('seconds'),
    }


def _final(hosts, hostvars, prefix):
    """The cluster as the finish read it, on whichever of ``hosts`` read it ({} when none did)."""
    for host in hosts:
        final = (hostvars.get(host) or {}).get(prefix + '_final')
        if isinstance(final, dict) and not final.get('skipped'):
            return final
    return {}


def run_report(hosts, hostvars, prefix, runbook, check_mode=False, now=None):
    """The run as data, for a change ticket, a workflow or AWX's job artifacts: per cluster its outcome and per
    queued node what became of it (done, failed with the failure report, not started; previewed in check mode),
    with its phases (start, end, seconds, failed), gate results, roles moved, updates installed by KB, build
    before and after, and where it was left."""
    clusters, failed_any = [], False
    for address, members, executor, outcome in fleet_outcomes(hosts, hostvars, prefix):
        run = executor.get(prefix + '_state') or {}
        snapshot = executor.get(prefix + '_cluster') or {}
        final = _final(members, hostvars, prefix)
        nodes = []
        queued = outcome['queue'] + ([outcome['failed']] if outcome['failed'] and outcome['failed'] not in outcome['queue'] else [])
        for node in queued:
            variables = hostvars.get(node) or {}
            failure = variables.get(prefix + '_node_failed') or ''
            if failure:
                status = 'failed'
            elif check_mode:
                status = 'previewed'
            else:
                status = 'done' if node in outcome['done'] else 'not started'
            nodes.append(_node_record(node, status, failure, variables, run, snapshot, final, runbook))
        failed = bool(outcome['failed'] or outcome['preflight_failed'])
        failed_any = failed_any or failed
        clusters.append({'cluster': outcome['name'], 'address': address, 'result': 'failed' if failed else 'succeeded',
                         'preflight_failed': outcome['preflight_failed'], 'seconds': outcome['seconds'],
                         # Why the preflight refused to start (the checks that stopped it otherwise are in the output).
                         'refusals': list((executor.get(prefix + '_plan') or {}).get('refusals') or []),
                         'started': int(run.get('started') or 0) or None, 'nodes': nodes})
    return {'runbook': runbook, 'check_mode': bool(check_mode), 'result': 'failed' if failed_any else 'succeeded',
            'finished': int(time.time() if now is None else now), 'clusters': clusters}


# -- JUnit XML ---------------------------------------------------------------------------------------

def junit(report):
    """The report as JUnit XML: a test suite per cluster, a test case per phase of each queued node (class name
    ``<cluster>.<node>``), the failed phase with the failure report, a node not started as a skipped case and a
    cluster whose preflight stopped it as a failed ``preflight`` case."""
    top = ElementTree.Element('testsuites', name='wsfc.rolling %s' % report['runbook'])
    totals = {'tests': 0, 'failures': 0, 'skipped': 0}
    for cluster in report['clusters']:
        suite = ElementTree.SubElement(top, 'testsuite', name=str(cluster['cluster']))
        counts = {'tests': 0, 'failures': 0, 'skipped': 0}
        if cluster['preflight_failed']:
            case = ElementTree.SubElement(suite, 'testcase', classname=str(cluster['cluster']), name='preflight', time='0')
            failure = ElementTree.SubElement(case, 'failure', message='the preflight stopped this cluster: nothing was started')
            failure.text = '\n'.join(cluster['refusals'])
            counts['tests'] += 1
            counts['failures'] += 1
        for node in cluster['nodes']:
            classname = '%s.%s' % (cluster['cluster'], node['node'])
            for phase in node['phases']:
                case = ElementTree.SubElement(suite, 'testcase', classname=classname, name=phase['phase'],
                                              time='%.3f' % phase['seconds'])
                counts['tests'] += 1
                if phase['failed']:
                    failure = ElementTree.SubElement(case, 'failure', message=(phase['message'] or 'failed').splitlines()[0][:300])
                    failure.text = node['failure'] or phase['message']
                    counts['failures'] += 1
            if node['status'] == 'failed' and not node['failed_phase']:
                case = ElementTree.SubElement(suite, 'testcase', classname=classname, name='node', time='0')
                ElementTree.SubElement(case, 'failure', message='failed').text = node['failure']
                counts['tests'] += 1
                counts['failures'] += 1
            if node['status'] in ('not started', 'previewed') and not node['phases']:
                case = ElementTree.SubElement(suite, 'testcase', classname=classname, name=node['status'], time='0')
                ElementTree.SubElement(case, 'skipped', message='%s: %s' % (node['node'], node['status']))
                counts['tests'] += 1
                counts['skipped'] += 1
        suite.set('time', '%d' % (cluster['seconds'] or 0))
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        top.set(key, str(value))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(top, encoding='unicode') + '\n'


# -- HTML ----------------------------------------------------------------------------------------------

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.succeeded, .done { color: #2ca02c; } .failed { color: #d62728; } .not-started, .previewed { color: #666; }
.timeline { border-collapse: collapse; width: 100%; }
.timeline td { padding: 3px 6px; vertical-align: middle; }
.timeline td.name { width: 14em; white-space: nowrap; }
.track { position: relative; height: 22px; background: #f0f0f0; min-width: 400px; }
.bar { position: absolute; top: 2px; height: 18px; min-width: 3px; }
.axis { font-size: 0.8em; color: #666; display: flex; justify-content: space-between; }
.legend span { display: inline-block; margin-right: 1em; font-size: 0.85em; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }
table.details { border-collapse: collapse; margin-top: 0.8em; font-size: 0.9em; }
table.details th, table.details td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; margin: 0; }
"""


def _when(epoch):
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(epoch)) if epoch else '-'


def _status_class(node):
    return node['status'].replace(' ', '-')


def _timeline(cluster):
    nodes = cluster['nodes']
    starts = [p['start'] for n in nodes for p in n['phases']]
    ends = [p['end'] for n in nodes for p in n['phases']]
    if not starts:
        return '<p>No node went through a phase in this run.</p>'
    first, last = min(starts), max(ends)
    span = max(last - first, 0.001)
    rows = []
    for node in nodes:
        bars = []
        for phase in node['phases']:
            left = 100.0 * (phase['start'] - first) / span
            width = 100.0 * (phase['end'] - phase['start']) / span
            colour = FAILED_COLOUR if phase['failed'] else COLOURS.get(phase['phase'], '#999')
            bars.append('<div class="bar phase-%s" style="left:%.3f%%;width:%.3f%%;background:%s" title="%s"></div>' % (
                escape(phase['phase'].replace(' ', '-')), left, width, colour,
                escape('%s: %s, %.1f s%s' % (node['node'], phase['phase'], phase['seconds'], ' (failed)' if phase['failed'] else ''))))
        rows.append('<tr><td class="name">%s <span class="%s">%s</span></td><td><div class="track">%s</div></td></tr>' % (
            escape(node['node']), _status_class(node), escape(node['status']), ''.join(bars)))
    axis = '<tr><td></td><td><div class="axis"><span>%s</span><span>%.1f s</span><span>%s</span></div></td></tr>' % (
        _when(first), span, _when(last))
    return '<table class="timeline">%s%s</table>' % (''.join(rows), axis)


def _details(cluster):
    head = ('<tr><th>node</th><th>status</th><th>took / estimated (s)</th><th>phases (s)</th><th>gates</th><th>roles moved</th><th>updates installed</th>'
            '<th>build before / after</th><th>left as</th></tr>')
    rows = []
    for node in cluster['nodes']:
        phases = ', '.join('%s %.1f%s' % (p['phase'], p['seconds'], ' FAILED' if p['failed'] else '') for p in node['phases'])
        gates = ', '.join('%s %s' % (g['name'], 'ok' if g['ok'] else 'FAILED') for g in node['gates'])
        updates = ', '.join(u['kb'] or '?' for u in node['updates_installed']) or '-'
        rows.append('<tr><td>%s</td><td class="%s">%s</td><td>%s / %s</td><td>%s</td><td>%s</td><td>%d out, %d back%s</td>'
                    '<td>%s</td><td>%s / %s</td><td>%s</td></tr>' % (
                        escape(node['node']), _status_class(node), escape(node['status']),
                        '%.0f' % node['seconds'] if node['phases'] else '-', node['estimated_seconds'] or '-',
                        escape(phases or '-'), escape(gates or '-'), len(node['roles_moved']), len(node['roles_back']),
                        escape(' (not back: %s)' % ', '.join(node['roles_not_back'])) if node['roles_not_back'] else '',
                        escape(updates), node['build_before'] or '-', node['build_after'] or '-', escape(node['left'] or '-')))
        if node['failure']:
            rows.append('<tr><td></td><td colspan="8" class="failed"><pre>%s</pre></td></tr>' % escape(node['failure']))
    return '<table class="details">%s%s</table>' % (head, ''.join(rows))


def html(report):
    """The report as one self-contained HTML page (no script, no outside resource): per cluster a timeline of
    each node's phases and a table of what each node went through."""
    title = 'wsfc.rolling %s: %s' % (report['runbook'], report['result'])
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body>'
             % (escape(title), STYLE),
             '<h1>%s <span class="%s">%s</span>%s</h1><p>Finished %s.</p>' % (
                 escape('wsfc.rolling %s' % report['runbook']), escape(report['result']), escape(report['result']),
                 ' (check mode: nothing was changed)' if report['check_mode'] else '', _when(report['finished']))]
    used = sorted(set(p['phase'] for c in report['clusters'] for n in c['nodes'] for p in n['phases']))
    parts.append('<p class="legend">%s<span><i style="background:%s"></i>failed</span></p>' % (
        ''.join('<span><i style="background:%s"></i>%s</span>' % (COLOURS.get(p, '#999'), escape(p)) for p in used), FAILED_COLOUR))
    for cluster in report['clusters']:
        parts.append('<h2>%s <span class="%s">%s</span>, %d s%s</h2>' % (
            escape(str(cluster['cluster'])), escape(cluster['result']), escape(cluster['result']), cluster['seconds'] or 0,
            ' (its preflight stopped it: nothing was started)' if cluster['preflight_failed'] else ''))
        if cluster['refusals']:
            parts.append('<p class="failed">%s</p>' % escape('; '.join(cluster['refusals'])))
        parts.append(_timeline(cluster))
        parts.append(_details(cluster))
    parts.append('</body></html>\n')
    return ''.join(parts)


def report_files(report, directory):
    """[{'path', 'content'}] of the report's three files in ``directory``: <runbook>_report.json, .junit.xml, .html."""
    base = os.path.join(os.path.expanduser(str(directory)), '%s_report' % report['runbook'])
    return [{'path': base + '.json', 'content': json.dumps(report, indent=2, sort_keys=True) + '\n'},
            {'path': base + '.junit.xml', 'content': junit(report)},
            {'path': base + '.html', 'content': html(report)}]
