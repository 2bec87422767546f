# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbooks' decisions, for one cluster and for a fleet of them.

Which node a failed or dead run of this owner left behind and what it still needs, why a run must not
start, what each node needs, the queue and its order, the deadline; for a fleet, which clusters are
which hosts and how their queues are interleaved so that a batch never holds two nodes of one cluster.
The roles call these through the ``wsfc.rolling.rolling_plan`` and ``wsfc.rolling.fleet_*`` filters and
only format the answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

KINDS = ('update', 'upgrade')
# Facts the shared phases (role wsfc.rolling.runbook) set on the hosts: <FACTS>_executor and <FACTS>_state
# (the cluster's run, on its executor), <FACTS>_node_done and <FACTS>_node_failed (on each node).
FACTS = '__runbook'
RUNBOOKS = {'rolling_update': ('update', 'updated'), 'rolling_upgrade': ('upgrade', 'upgraded')}


def _names(nodes):
    return [n['name'] for n in nodes]


def _node(cluster, name):
    return member(cluster.get('nodes'), name)


def member(nodes, name):
    """The node of ``nodes`` named ``name``; Windows compares computer names without regard to case."""
    return next((n for n in nodes or [] if str(n.get('name')).lower() == str(name).lower()), None)


def node_name(host, hostvars):
    """The cluster node an inventory host is: its ``wsfc_node_name``, else the host's own name (matched against
    the cluster's node names without regard to case, as Windows matches them)."""
    return str((hostvars.get(host) or {}).get('wsfc_node_name') or host)


class _Names(object):
    """Inventory hosts and the cluster's nodes, both ways: a host is the member whose name equals its node name
    (``wsfc_node_name`` or the host's own) in any case; the plan decides in the cluster's spelling of node names
    and answers in host names."""

    def __init__(self, cluster, hosts, names):
        # The node a run evicted is no member, but the run lock spells it.
        left = (cluster.get('run_lock') or {}).get('node')
        members = dict((m.lower(), m) for m in ([left] if left else []) + _names(cluster.get('nodes') or []))
        self.given = dict((h, str((names or {}).get(h) or h)) for h in hosts)
        self.node = dict((h, members.get(n.lower(), n)) for h, n in self.given.items())
        self.host = {}
        self.duplicates = {}
        for host, node in self.node.items():
            if node.lower() in self.host:
                self.duplicates.setdefault(node, [self.host[node.lower()]]).append(host)
            else:
                self.host[node.lower()] = host

    def nodes(self, hosts):
        return [self.node.get(h, h) for h in hosts]

    def hosts(self, nodes):
        return [self.to_host(n) for n in nodes]

    def to_host(self, node):
        return self.host.get(str(node).lower(), node) if node else node

    def wanted(self, node):
        """A name the user gave (a host or a node, e.g. in node_order) as the cluster spells its node."""
        return self.node.get(node) or next((n for n in self.node.values() if n.lower() == str(node).lower()), node)


def resume_node(cluster, owner, takeover=False, pending=None):
    """The node a failed or dead run of ``owner`` (or of anyone, with ``takeover``) left behind, or ''.

    ``pending``: for an upgrade, the nodes that still need it; a left node that is a member and no longer
    pending is done and not resumed (a node that is no member was evicted by the run and is resumed).
    """
    lock = cluster.get('run_lock')
    if not lock or not lock.get('abandoned') or not lock.get('node'):
        return ''
    if lock.get('owner') != owner and not takeover:
        return ''
    found = _node(cluster, lock['node'])
    node = found['name'] if found else lock['node']
    if pending is not None and found is not None and not _within(node, pending):
        return ''
    return node


def left_out(cluster, owner, takeover=False):
    """The nodes a failed or dead run of ``owner`` (or of anyone, with ``takeover``) had out at once besides its
    ``node`` (the run lock's ``out``, with ``max_nodes_out`` above one) that are still out: each needs its cycle
    finished. Members only: such a run never evicts."""
    lock = cluster.get('run_lock')
    if not lock or not lock.get('abandoned') or (lock.get('owner') != owner and not takeover):
        return []
    found = [_node(cluster, n) for n in lock.get('out') or []]
    return [n['name'] for n in found if n and n.get('state') != 'Up' and str(n['name']).lower() != str(lock.get('node')).lower()]


def fault_domain_order(cluster, nodes):
    """``nodes`` with those of one fault domain (site, rack, chassis) together, the domains in the order of their
    first node: the nodes out at once must share one, so the queue offers them side by side."""
    domain = dict((n['name'], tuple(d for d in n.get('fault_domain') or () if not str(d).lower().startswith('node=')))
                  for n in cluster.get('nodes') or [])
    first = {}
    for node in nodes:
        first.setdefault(domain.get(node, ()), len(first))
    return sorted(nodes, key=lambda n: first[domain.get(n, ())])


def _within(name, names):
    """Whether ``name`` is one of ``names``, in any case (Windows' computer names)."""
    return str(name).lower() in [str(n).lower() for n in names or []]


def what_it_needs(cluster, node):
    """What the node a run left behind needs before the rest of the run, in words, from its state."""
    found = _node(cluster, node)
    if found is None:
        return 'it is no member of the cluster (evicted by the run): bring it back and re-add it'
    state = found.get('state')
    if state == 'Down':
        return 'it is down (restarting, or off): wait for it, then finish its cycle and resume it'
    if state == 'Paused':
        return 'it is paused (drain %s): finish its cycle, then resume it' % found.get('drain_status')
    if state == 'Joining':
        return 'it is joining the cluster: wait for it, then finish its cycle'
    return 'it is Up: check that its work is done and go on'


def _name(cluster):
    return (cluster.get('cluster') or {}).get('name')


def refusals(cluster, hosts, resume, kind, inventory_hosts=None, failed_hosts=(), names=None, kept=(), also=()):
    """Why a run must not start on this cluster (empty when it may). ``inventory_hosts``: every host the
    inventory has for this cluster (``hosts`` may be fewer, with --limit); a node missing there means the
    inventory is a slice of the cluster (AWX job slicing splits hosts, not groups) or incomplete.
    ``failed_hosts``: hosts of this cluster whose own preflight checks failed (its update search, its BMC,
    its setup media, or the address answering as another machine). ``names``: a _Names for the hosts' words
    (``hosts`` and ``inventory_hosts`` are node names here). ``kept``: nodes paused by an administrator that the run
    may leave as they are (refused on Storage Spaces Direct: a paused node's drives may be in storage maintenance, and
    taking another server out could take the last copy of data offline)."""
    out = []
    members = _names(cluster.get('nodes') or [])
    for node, duplicates in sorted((names.duplicates if names else {}).items()):
        out.append('inventory hosts %s are all the node %s (wsfc_node_name or the host name): one host per node'
                   % (', '.join(duplicates), node))
    if inventory_hosts is not None:
        missing = [m for m in members if m not in inventory_hosts]
        if missing:
            out.append('the inventory lists %d of the %d nodes of %s (missing: %s): a job slice or an incomplete '
                       'inventory. Every node of a cluster must be in one job: slice a fleet by cluster (a limit '
                       'of whole cluster groups), never by node'
                       % (len(members) - len(missing), len(members), _name(cluster), ', '.join(missing)))
    if kept and cluster.get('virtual_disks'):
        out.append('nodes paused by an administrator: %s. On Storage Spaces Direct the run never leaves a paused node and '
                   'takes another: resume them first (allow_paused_nodes is for clusters on shared storage)' % ', '.join(kept))
    not_up = [n['name'] for n in cluster.get('nodes') or [] if n.get('state') != 'Up' and n['name'] != resume
              and n['name'] not in kept and n['name'] not in also]
    strangers = [h for h in hosts if h not in members and not (kind == 'upgrade' and h == resume)]
    cau = cluster.get('cau_run') or {}
    if not_up:
        lock = cluster.get('run_lock')
        reason = 'nodes not Up: %s. %s' % (', '.join(not_up), 'Run lock: held by %s, run %s, %s, node %s.' % (
            lock.get('owner'), lock.get('run_id'), lock.get('status', 'running'), lock.get('node') or 'none')
            if lock else 'No run lock.')
        if cau.get('in_progress'):
            reason += ' CAU reports %s.' % cau.get('summary')
        out.append(reason)
    if strangers:
        out.append('inventory hosts that are not nodes of %s: %s (its nodes: %s). Where an inventory host name is '
                   'not the node name (an FQDN, an alias), set the host\'s wsfc_node_name to the node name'
                   % (_name(cluster), ', '.join(_stranger(h, names) for h in strangers), ', '.join(members)))
    if failed_hosts:
        out.append('the preflight checks failed on %s (see above): nothing is started on %s'
                   % (', '.join(failed_hosts), _name(cluster)))
    return out


def _stranger(node, names):
    host = names.to_host(node) if names else node
    given = names.given.get(host, node) if names else node
    return host if given == host else '%s (wsfc_node_name %s)' % (host, given)


def node_needs(kind, cluster, hosts, resume, scans=None, cau_scan=None):
    """{node: need} for every host that needs work; the others are compliant.

    update: 'update' (updates to install), 'restart' (only a restart pending), from ``scans``
    ({node: node_updates check-mode result}) or ``cau_scan`` (the cau_scan result); upgrade: the nodes the
    cluster's upgrade plan lists. The node a run left behind needs 'finish' unless it is Up (update).
    """
    needs = {}
    if kind == 'upgrade':
        pending = (cluster.get('upgrade') or {}).get('nodes_to_upgrade') or []
        for host in hosts:
            if _within(host, pending):
                needs[host] = 'upgrade'
        if resume:
            needs[resume] = 'finish'
        return needs
    for host in hosts:
        if cau_scan is not None:
            if _within(host, cau_scan.get('noncompliant_nodes')):
                needs[host] = 'update'
            continue
        scan = (scans or {}).get(host) or {}
        if scan.get('updates'):
            needs[host] = 'update'
        elif scan.get('reboot_required'):
            needs[host] = 'restart'
    node = _node(cluster, resume) if resume else None
    if resume and (node is None or node.get('state') != 'Up'):
        needs[resume] = 'finish'
    return needs


def node_work(cluster, ordered, needs, scans=None):
    """What each queued node is in for, for the plan the preflight prints (and a check-mode run previews):
    {node: {'need', 'roles' (clustered roles it owns, moved by its drain), 'updates' ([{kb, size_mb}] the
    search found), 'download_mb', 'restart' (True: an update or a pending restart needs one; False: none
    does; None: not known, as after a CAU scan)}}."""
    owned = {}
    for group in cluster.get('groups') or []:
        if group.get('owner_node'):
            owned[group['owner_node']] = owned.get(group['owner_node'], 0) + 1
    work = {}
    for node in ordered:
        scan = (scans or {}).get(node)
        updates = [{'kb': u.get('kb'), 'size_mb': u.get('size_mb')} for u in (scan or {}).get('updates') or []]
        restart = None
        if scan and 'reboot_required' in scan:
            restart = bool(scan.get('reboot_required') or any(u.get('reboot_required') for u in scan.get('updates') or []))
        work[node] = {'need': needs.get(node), 'roles': owned.get(node, 0), 'updates': updates,
                      'download_mb': sum(int(u['size_mb'] or 0) for u in updates), 'restart': restart}
    return work


NEED_WORDS = {'update': 'updates to install', 'restart': 'a pending restart only', 'finish': 'left by the last run',
              'upgrade': 'to upgrade'}


def queue(cluster, needs, resume, node_order=()):
    """The order: the node a run left behind first; then ``node_order`` as given; then the rest, the nodes
    owning the fewest roles first (the fewest moves while the cluster has the most room), by name."""
    needing = [n for n in needs if n != resume]
    owned = dict((n, 0) for n in needing)
    for group in cluster.get('groups') or []:
        if group.get('owner_node') in owned:
            owned[group['owner_node']] += 1
    rest = sorted(needing, key=lambda n: (owned[n], n))
    ordered = [n for n in node_order if n in needing] + [n for n in rest if n not in node_order]
    return ([resume] if resume and resume in needs else []) + ordered


def deadline(now, stop_after):
    """The deadline (epoch seconds) of a run started at ``now``; 0 for none."""
    return int(now + stop_after) if stop_after and float(stop_after) > 0 else 0


def past_deadline(deadline_at, now):
    """True once a deadline set by deadline() has passed (never without one). The deadline may come back from a
    fact as text (ansible-core before 2.17 templates a fact's numbers to strings: '0' is no deadline)."""
    deadline_at = int(float(deadline_at or 0))
    return deadline_at > 0 and int(float(now)) >= deadline_at


def plan(cluster, hosts, kind='update', owner='', takeover=False, scans=None, cau_scan=None, node_order=(),
         now=0, stop_after=0, inventory_hosts=None, failed_hosts=(), names=None, allow_paused=False, max_nodes_out=1):
    """Everything a runbook decides about one cluster before its first node.

    Args:
        cluster: the cluster_info result (with ``upgrade`` for an upgrade).
        hosts: the hosts of this cluster in the play.
        inventory_hosts: every host the inventory has for this cluster (see refusals()).
        names: {host: node name} where a host's name is not its node's (``wsfc_node_name``; fleet_map's ``nodes``);
            a host is the node of its name in any case. Nodes in ``node_order`` may be named by host or node.
        failed_hosts: hosts of this cluster whose own preflight checks failed.
        scans / cau_scan: what each node's Windows Update search found / what Invoke-CauScan found (update).
        allow_paused: nodes an administrator paused before the run are left as they are (not queued, accepted by the
            gates as ``left_paused``) instead of refusing the run; never on Storage Spaces Direct.
        max_nodes_out: nodes the run may have out at once (update only; refused above one on Storage Spaces Direct).

    Returns:
        dict: resume_node, left_out (more nodes the run left out, with max_nodes_out above one), out (the nodes to
        record as out when the lock is taken), width (nodes of the queue that run at once), resume_needs (words),
        refusals (list), scan, measure, needs ({node: need}), queue (list), first_up,
        first_gate, storage_spaces, stale_own_lock, died (the run left behind died rather than failed), deadline (epoch seconds,
        0 none), node_names ({host: the node as the cluster spells it}). Nodes are named by their inventory hosts, but
        first_gate by the cluster's name of the node.
    """
    if kind not in KINDS:
        raise ValueError('kind must be one of %s, got %r' % (', '.join(KINDS), kind))
    known = _Names(cluster, list(hosts) + [h for h in inventory_hosts or [] if h not in hosts], names)
    decided = _plan(cluster, known.nodes(hosts), kind, owner, takeover,
                    dict((known.node.get(h, h), s) for h, s in (scans or {}).items()), cau_scan,
                    [known.wanted(n) for n in node_order or ()], now, stop_after,
                    None if inventory_hosts is None else known.nodes(inventory_hosts), failed_hosts, known, allow_paused,
                    int(max_nodes_out or 1))
    # first_gate and out stay node names: the preflight's gate and the run lock take them.
    for key in ('resume_node', 'first_up'):
        decided[key] = known.to_host(decided[key])
    for key in ('scan', 'measure', 'queue', 'left_out'):
        decided[key] = known.hosts(decided[key])
    for key in ('needs', 'nodes'):
        decided[key] = dict((known.to_host(n), v) for n, v in decided[key].items())
    decided['node_names'] = known.node
    return decided


def left_paused(cluster, resume, allow):
    """Nodes an administrator paused (not the node a run of ours left) that the run leaves as they are."""
    if not _flag(allow):
        return []
    return [n['name'] for n in cluster.get('nodes') or [] if n.get('state') == 'Paused' and n['name'] != resume]


def _plan(cluster, hosts, kind, owner, takeover, scans, cau_scan, node_order, now, stop_after, inventory_hosts,
          failed_hosts, names, allow_paused=False, max_nodes_out=1):
    """plan() in the cluster's node names."""
    pending = (cluster.get('upgrade') or {}).get('nodes_to_upgrade') or [] if kind == 'upgrade' else None
    resume = resume_node(cluster, owner, takeover, pending)
    also = left_out(cluster, owner, takeover)
    lock = cluster.get('run_lock')
    own = bool(lock and lock.get('abandoned') and (lock.get('owner') == owner or takeover))
    kept = left_paused(cluster, resume, allow_paused)
    kept = [n for n in kept if n not in also]
    needs = dict((n, v) for n, v in node_needs(kind, cluster, hosts, resume, scans, cau_scan).items() if n not in kept)
    needs.update((n, 'finish') for n in also if n in hosts)
    states = dict((n['name'], n.get('state')) for n in cluster.get('nodes') or [])
    # The nodes a dead run left out (not Up again), each finished first.
    left = [n for n in [resume] + also if n and states.get(n) != 'Up']
    refused = refusals(cluster, hosts, resume, kind, inventory_hosts, failed_hosts, names, kept, also) + width_refusals(
        cluster, kind, max_nodes_out, left)
    ordered = queue(cluster, needs, resume, list(node_order or ()))
    if max_nodes_out > 1:
        # The nodes left out first (they are out already), then the others with each fault domain's together.
        first = [n for n in ordered if n == resume or n in also]
        ordered = first + fault_domain_order(cluster, [n for n in ordered if n not in first])
    first_up = next((n for n in ordered if states.get(n) == 'Up'), '')
    return {
        'cluster': _name(cluster),
        'resume_node': resume,
        'resume_needs': what_it_needs(cluster, resume) if resume else '',
        'refusals': refused,
        # Nodes to search for updates (none when the run is refused: a down node cannot be searched);
        # nodes whose free memory the first gate measures (a restarting node has none to measure): every node of
        # the cluster the inventory has, also those a --limit left out of the play (their room takes the VMs).
        'scan': [] if refused else [h for h in hosts if states.get(h) not in (None, 'Down')],
        'measure': [h for h in (hosts if inventory_hosts is None else inventory_hosts) if states.get(h) in ('Up', 'Paused')],
        'needs': needs,
        'queue': ordered,
        'nodes': node_work(cluster, ordered, needs, scans),
        # Storage to wait for before anything: the resync a left node that is Up again started. A left node still
        # paused holds its drives in maintenance (the spaces stay degraded until it is resumed, by its own cycle).
        'wait_storage_first': bool(resume and states.get(resume) == 'Up' and cluster.get('virtual_disks')),
        # The first queued node that is Up: the first gate holds for it only when it is also the first in the queue.
        'first_up': first_up,
        # The node the preflight's gate checks (and whose run measures every node's memory): the update's first
        # queued node, whatever its state (a paused one passes); the upgrade's only when it is Up (an evicted
        # node has no membership to gate; its own cycle's gate measures every node then).
        'first_gate': (ordered[0] if ordered else '') if kind == 'update' else (first_up if ordered and first_up == ordered[0] else ''),
        # Storage Spaces to wait for after each node (none on a SAN-backed cluster).
        'storage_spaces': bool(cluster.get('virtual_disks')),
        'stale_own_lock': own,
        'died': bool(own and (lock.get('status') or 'running') == 'running'),
        'deadline': deadline(now, stop_after),
        'left_paused': kept,
        'left_out': also,
        'out': [n for n in left if states.get(n) is not None] if max_nodes_out > 1 else [],
        'width': max_nodes_out if not refused else 1,
    }


def width_refusals(cluster, kind, max_nodes_out, left):
    """Why the run may not have ``max_nodes_out`` nodes out at once: above one only for the update, never on Storage
    Spaces Direct, and never fewer than the nodes a run left out (``left``)."""
    if max_nodes_out <= 1:
        return ['the last run left %d nodes out (%s): run with max_nodes_out %d or more to finish them together, or '
                'finish them by hand' % (len(left), ', '.join(left), len(left))] if len(left) > 1 else []
    out = []
    if kind != 'update':
        out.append('max_nodes_out %d: an upgrade takes one node at a time' % max_nodes_out)
    if cluster.get('virtual_disks'):
        out.append('max_nodes_out %d on %s, which runs Storage Spaces Direct: with a node out every mirror is one copy '
                   'short, and a second node out can take the last copy of some data offline. One node at a time there'
                   % (max_nodes_out, _name(cluster)))
    if len(left) > max_nodes_out:
        out.append('the last run left %d nodes out (%s), more than max_nodes_out %d: run with %d or more to finish them '
                   'together' % (len(left), ', '.join(left), max_nodes_out, len(left)))
    return out


# -- fleets -----------------------------------------------------------------------------------------

def cluster_hosts(hosts, hostvars, address):
    """The hosts of ``hosts`` that are nodes of the cluster at ``address`` (their ``wsfc_cluster_address``),
    in inventory order. One inventory group per cluster sets it for its nodes; a single-cluster inventory
    sets it once for the whole ``wsfc_cluster`` group."""
    return [h for h in hosts if (hostvars.get(h) or {}).get('wsfc_cluster_address') == address]


def fleet(hosts, hostvars):
    """{cluster address: [hosts]} for every cluster of ``hosts``, in inventory order."""
    return fleet_map(hosts, (), hostvars)['hosts']


def fleet_map(inventory_hosts, play_hosts, hostvars):
    """What the runbooks need to know about every cluster of the fleet, read from ``hostvars`` once per run
    (each host's variables cost the controller a lookup; per task and per host that grows with the square of the
    fleet): {'hosts': {cluster: [its hosts in the inventory]}, 'play': {cluster: [its hosts in the play]},
    'addresses': {cluster: [its hosts' wsfc_winrm_host]}, 'executor': {host in the play: its cluster's first host
    in the play, which reads the cluster for the run}, 'nodes': {host: its node_name() where that is not the host's
    own}}, in inventory order."""
    hosts, addresses = {}, {}
    for host in inventory_hosts:
        variables = hostvars.get(host) or {}
        cluster = variables.get('wsfc_cluster_address')
        hosts.setdefault(cluster, []).append(host)
        addresses.setdefault(cluster, []).append(variables.get('wsfc_winrm_host'))
    playing = set(play_hosts)
    play = dict((cluster, [h for h in members if h in playing]) for cluster, members in hosts.items())
    executor = dict((host, members[0]) for members in play.values() for host in members)
    names = dict((host, node_name(host, hostvars)) for host in inventory_hosts)
    return {'hosts': hosts, 'addresses': addresses, 'play': play, 'executor': executor,
            'nodes': dict((host, name) for host, name in names.items() if name != host)}


def fleet_queue(queues, widths=None):
    """The node play's hosts in order, as [{'node', 'cluster', 'width'}], from ``queues`` ({cluster: [nodes in
    order]}, in cluster order): the clusters' queues interleaved round by round (every cluster's first node, then
    every cluster's second, ...), so that a cluster's place in the play is the place of its first node. ``widths``:
    {cluster: nodes out at once} (1 where not given)."""
    clusters = [c for c in queues if queues[c]]
    order = []
    for index in range(max([len(queues[c]) for c in clusters] or [0])):
        order.extend({'node': queues[c][index], 'cluster': c, 'width': int((widths or {}).get(c) or 1)}
                     for c in clusters if index < len(queues[c]))
    return order


def runnable_nodes(queue, finished, max_in_flight=0, widths=None, started=(), stopped=()):
    """The nodes of the node play that may be given tasks now, in play order (the per_cluster strategy asks this
    before it looks for work).

    ``queue`` is [(node, cluster)] in play order, ``finished`` the nodes whose part of the play is over (not
    failed: a node that failed outside the runbook's own handling stops its cluster). Each cluster runs its
    first unfinished node (its first ``widths[cluster]`` unfinished nodes, with a width above one: the run's
    max_nodes_out); its later nodes wait until one of those is finished. A cluster in ``stopped`` (one of its nodes
    failed) starts none of them: only those already ``started`` go on. With ``max_in_flight`` > 0 only
    the first ``max_in_flight`` clusters (in the order of their first node) that have a node not finished run,
    so a cluster starts when another one ends and no more than that many are ever in the middle of their run.
    Finished nodes are not in the answer: they have nothing left to do.
    """
    order, current = {}, {}
    for node, cluster in queue:
        order.setdefault(cluster, len(order))
        if node not in finished and len(current.setdefault(cluster, [])) < int((widths or {}).get(cluster) or 1):
            current[cluster].append(node)
    active = sorted((c for c in current if current[c]), key=order.get)
    if max_in_flight and int(max_in_flight) > 0:
        active = active[:int(max_in_flight)]
    allowed = set(n for c in active for n in current[c] if c not in stopped or n in started)
    return [node for node, _cluster in queue if node in allowed]


def node_verdict(cluster, failed_clusters, max_failed=0, deadline_at=0, now=0, runbook='rolling_update'):
    """Whether the next node of ``cluster`` may start. Returns {'go', 'reason', 'release_lock'}.

    A node of a cluster that had a node fail in this run never starts (the failed node stays as it was
    left, the lock stays marked failed). Once ``max_failed`` clusters (0: no budget) failed, or past the
    cluster's deadline, no node starts and the cluster's lock is released (no node of it is out).
    """
    failed = sorted(set(c for c in failed_clusters or [] if c))
    if cluster in failed:
        return {'go': False, 'release_lock': False,
                'reason': 'a node of this cluster failed in this run: the cluster stops there'}
    if max_failed and int(max_failed) > 0 and len(failed) >= int(max_failed):
        return {'go': False, 'release_lock': True,
                'reason': 'the fleet failure budget (%s_max_failed_clusters %s) is spent: %d cluster(s) failed (%s)'
                          % (runbook, max_failed, len(failed), ', '.join(failed))}
    if past_deadline(deadline_at, now):
        return {'go': False, 'release_lock': True, 'reason': 'deadline reached (%s_stop_after)' % runbook}
    return {'go': True, 'release_lock': False, 'reason': ''}


def cluster_outcome(hosts, hostvars, prefix, run, now=None):
    """What a run did to one cluster, from the facts its nodes set: ``<prefix>_node_done`` and
    ``<prefix>_node_failed`` on the nodes, the run state the preflight kept (``run``; empty when the
    cluster's preflight failed)."""
    run = dict(run or {})
    facts = dict((h, hostvars.get(h) or {}) for h in hosts)
    done = [h for h in run.get('queue') or [] if facts.get(h, {}).get(prefix + '_node_done')]
    failed = [h for h in hosts if facts[h].get(prefix + '_node_failed') and not _flag(facts[h].get(prefix + '_node_resumed'))]
    resumed = [h for h in hosts if facts[h].get(prefix + '_node_failed') and _flag(facts[h].get(prefix + '_node_resumed'))]
    queue = list(run.get('queue') or [])
    started = int(run.get('started') or 0)
    return {
        'name': run.get('name') or (facts[hosts[0]].get('wsfc_cluster_name') if hosts else None) or
        (facts[hosts[0]].get('wsfc_cluster_address') if hosts else None),
        'preflight_failed': not run.get('run_id'),
        'queue': queue, 'done': done, 'failed': failed[0] if failed else None, 'resumed': resumed,
        'left': [h for h in queue if h not in done and h not in failed and h not in resumed],
        'seconds': int((now if now is not None else time.time()) - started) if started else 0,
        # The run's lock is released unless a node failed (the re-run resumes from it); with nothing queued, a
        # lock this owner's failed or dead run left is cleared (the node it recorded needs nothing more).
        'release_lock': bool(queue) and not failed,
        'clear_stale_lock': not queue and _flag(run.get('stale_own_lock')),
    }


def _verb(runbook):
    """'updated' for rolling_update, 'upgraded' for rolling_upgrade; any other word as it is."""
    return RUNBOOKS[runbook][1] if runbook in RUNBOOKS else runbook


def cluster_summary(outcome, final, runbook, check_mode=False):
    """One cluster's summary line: what was done, what failed or was left, and how the cluster is now (after an
    upgrade also its builds and functional level). ``runbook``: rolling_update or rolling_upgrade (or a verb).
    ``check_mode``: a dry run, which changed nothing: the queued nodes it went through are previewed, not done."""
    verb = _verb(runbook)
    health = (final or {}).get('health') or {}
    name = ((final or {}).get('cluster') or {}).get('name') or outcome.get('name')
    if outcome['preflight_failed']:
        text = '%s: not started (its preflight stopped it, see above)' % name
    elif check_mode:
        text = '%s: check mode, nothing was changed; %d queued node(s) previewed%s' % (
            name, len(outcome['queue']), (' (%s)' % ', '.join(outcome['queue'])) if outcome['queue'] else ' (all compliant)')
        if outcome['failed']:
            text += '; the preview stopped at %s' % outcome['failed']
        text += '; %d s' % outcome['seconds']
    else:
        text = '%s: %s %d of %d queued node(s)%s' % (
            name, verb, len(outcome['done']), len(outcome['queue']),
            (' (%s)' % ', '.join(outcome['done'])) if outcome['done'] else (' (all compliant)' if not outcome['queue'] else ''))
        if outcome.get('resumed'):
            text += '; FAILED and put back into service: %s (run the same command again to finish them)' % ', '.join(
                outcome['resumed'])
        if outcome['failed']:
            text += '; FAILED at %s (left as it was, the lock marked failed: run the same command again)' % outcome['failed']
        if outcome['left']:
            text += '; not started: %s' % ', '.join(outcome['left'])
        text += '; %d s' % outcome['seconds']
    if health:
        text += '; nodes up %s/%s, quorum margin %s, storage %s.' % (
            health.get('nodes_up'), health.get('nodes_total'), (health.get('quorum') or {}).get('margin'),
            'healthy and quiet' if health.get('storage_healthy') and health.get('storage_quiet') else 'NOT healthy')
    if runbook == 'rolling_upgrade' and (final or {}).get('upgrade'):
        text += ' ' + upgrade_summary(final, final['upgrade'].get('target_build'))
    return text


def fleet_outcomes(hosts, hostvars, prefix):
    """[(cluster address, its hosts, the variables of its executor, cluster_outcome())] for every cluster of
    ``hosts``, in inventory order."""
    out = []
    for cluster, members in fleet(hosts, hostvars).items():
        executor = hostvars.get((hostvars.get(members[0]) or {}).get(prefix + '_executor') or members[0]) or {}
        out.append((cluster, members, executor, cluster_outcome(members, hostvars, prefix, executor.get(prefix + '_state'))))
    return out


def fleet_summary(hosts, hostvars, prefix, runbook, check_mode=False):
    """One line per cluster of the fleet and a total line (``check_mode``: see cluster_summary())."""
    verb = _verb(runbook)
    lines, totals = [], {'clusters': 0, 'failed': 0, 'done': 0, 'left': 0}
    for _cluster, _members, _executor, outcome in fleet_outcomes(hosts, hostvars, prefix):
        lines.append(cluster_summary(outcome, None, verb, check_mode))
        totals['clusters'] += 1
        totals['failed'] += 1 if outcome['failed'] or outcome.get('resumed') or outcome['preflight_failed'] else 0
        totals['done'] += len(outcome['done'])
        totals['left'] += len(outcome['left'])
    if check_mode:
        lines.append('fleet (check mode, nothing was changed): %(clusters)d cluster(s), %(failed)d failed' % totals)
    else:
        lines.append('fleet: %(clusters)d cluster(s), %(failed)d failed; %(done)d node(s) done, %(left)d left' % totals)
    return lines


# -- the node play, from the facts the shared runbook phases keep ------------------------------------

def run_state(host, hostvars):
    """The run of ``host``'s cluster as its preflight kept it (only ``node`` when the preflight did not get that
    far), with ``node``: the cluster node ``host`` is, as the cluster spells it once the plan has matched it."""
    variables = hostvars.get(host) or {}
    executor = hostvars.get(variables.get(FACTS + '_executor') or host) or {}
    state = dict(executor.get(FACTS + '_state') or {})
    names = state.get('node_names') or (executor.get(FACTS + '_plan') or {}).get('node_names') or {}
    state['node'] = str(names.get(host) or node_name(host, hostvars))
    return state


def _stopped(variables):
    """A node that failed and was not put back into service (within the failure budget): its cluster stops."""
    return bool(variables.get(FACTS + '_node_failed')) and not _flag(variables.get(FACTS + '_node_resumed'))


def next_node(host, hosts, hostvars, max_failed=0, now=None, runbook='rolling_update'):
    """node_verdict() for ``host`` of the node play: its cluster, the clusters with a failed node among ``hosts``
    (every host of the play) that was not put back into service, and its cluster's deadline, all from the facts."""
    failed = [(hostvars.get(h) or {}).get('wsfc_cluster_address') for h in hosts if _stopped(hostvars.get(h) or {})]
    return node_verdict((hostvars.get(host) or {}).get('wsfc_cluster_address'), failed, max_failed,
                        run_state(host, hostvars).get('deadline') or 0, time.time() if now is None else now, runbook)


def node_recovery(host, info, hosts, hostvars, max_failed_nodes=0):
    """Whether the failed node ``host`` is put back into service and its cluster's run goes on (CAU's MaxFailedNodes):
    only while fewer than ``max_failed_nodes`` nodes of its cluster were put back in this run, and only a node that a
    resume returns to service (a member, paused with its drain ended, or up). ``info``: cluster_info read after the
    failure. Returns {'resume', 'used', 'budget', 'reason'} (``reason``: why not)."""
    budget = int(max_failed_nodes or 0)
    cluster = (hostvars.get(host) or {}).get('wsfc_cluster_address')
    used = sum(1 for h in hosts if h != host and (hostvars.get(h) or {}).get('wsfc_cluster_address') == cluster
               and _flag((hostvars.get(h) or {}).get(FACTS + '_node_resumed')))
    out = {'resume': False, 'used': used, 'budget': budget, 'reason': ''}
    if budget <= 0:
        return out
    left = member((info or {}).get('nodes'), run_state(host, hostvars)['node'])
    if used >= budget:
        out['reason'] = 'the failure budget is spent (%d of max_failed_nodes %d)' % (used, budget)
    elif left is None:
        out['reason'] = 'it is no member of the cluster (evicted): a resume cannot put it back'
    elif left.get('state') == 'Paused' and left.get('drain_status') != 'InProgress':
        out['resume'] = True
    elif left.get('state') == 'Up':
        out['resume'] = True
    else:
        out['reason'] = 'it is %s (drain %s): a resume cannot put it back' % (left.get('state'), left.get('drain_status'))
    return out


def failure_report(info, node, error, runbook, owner, recovery=None):
    """What the run says about a node that failed: the error, where the node was left (read after the failure),
    and how to go on. ``recovery``: node_recovery() once the node was put back into service (``resumed`` true)."""
    recovery = recovery or {}
    if recovery.get('resumed'):
        return ('Rolling %s of %s failed: %s The node was put back into service (resumed with failback) and the run went '
                'on with the next node: %s_max_failed_nodes allows %d such node(s) per cluster, this is number %d. Its '
                'work is not done: fix the cause and run the same command again to finish it.'
                % (RUNBOOKS[runbook][0], node, (error or 'failed').strip(), runbook, recovery.get('budget'),
                   int(recovery.get('used') or 0) + 1))
    left = member((info or {}).get('nodes'), node)
    if left is None:
        where = 'not a member of the cluster (evicted)'
    else:
        where = '%s in the cluster (drain %s)' % (left.get('state'), left.get('drain_status') or 'none')
    return ('Rolling %s stopped at %s: %s The node is %s and was left as it is: a paused node is never resumed '
            'automatically, and nothing else was started on this cluster. Fix the cause, then run the same command '
            'again as %s: it continues with this node (the run lock keeps %s, marked failed; '
            'playbooks/cluster_report.yml shows it).%s'
            % (RUNBOOKS[runbook][0], node, (error or 'failed').strip(), where, owner, node,
               (' Not put back into service: %s.' % recovery['reason']) if recovery.get('reason') else ''))


def plan_summary(run_plan, info, runbook, target_build=None, method=None):
    """The preflight's line about one cluster: which nodes, in which order, and the node a failed run left."""
    name = ((info or {}).get('cluster') or {}).get('name') or run_plan.get('cluster')
    queue_ = run_plan.get('queue') or []
    if runbook == 'rolling_upgrade':
        head = 'Cluster %s (functional level %s), target build %s by %s: ' % (
            name, ((info or {}).get('cluster') or {}).get('functional_level'), target_build, method)
        body = ('%d node(s) in this order: %s' % (len(queue_), ', '.join(queue_)) if queue_
                else 'every node runs the target build; nothing to do')
    else:
        head = 'Cluster %s: ' % name
        body = ('%d node(s) to update in this order: %s' % (len(queue_), ', '.join(queue_)) if queue_
                else 'every node is compliant; nothing to do')
    resume = run_plan.get('resume_node')
    tail = '; first %s, left by the last run: %s' % (resume, run_plan.get('resume_needs')) if resume and resume in queue_ else ''
    if run_plan.get('left_paused'):
        tail += '; left as they are (paused by an administrator): %s' % ', '.join(run_plan['left_paused'])
    lines = [_node_line(node, (run_plan.get('nodes') or {}).get(node)) for node in queue_ if (run_plan.get('nodes') or {}).get(node)]
    return head + body + tail + ''.join('\n  ' + line for line in lines)


def _node_line(node, work):
    """One queued node in the plan the preflight prints: what it needs, the roles its drain moves, the updates."""
    parts = ['%s: %s' % (node, NEED_WORDS.get(work.get('need'), work.get('need')))]
    parts.append('%d clustered role(s) to move' % work.get('roles', 0))
    if work.get('updates'):
        parts.append('%d update(s), %d MB: %s' % (len(work['updates']), work.get('download_mb', 0),
                                                  ', '.join(u['kb'] or '?' for u in work['updates'])))
    if work.get('restart') is not None:
        parts.append('restart expected' if work['restart'] else 'no restart expected')
    return '; '.join(parts)


# What the estimate of a node's cycle assumes where the cluster cannot tell: the migration network's speed (and the
# memory a live migration copies per MB of VM memory, as pages dirtied during the copy are sent again), the update
# source's download rate, Windows Update's install rate, one restart of a physical server (shutdown with "Working on
# updates", firmware POST, Windows starting, the cluster service joining), a reinstall and an in-place upgrade.
# <runbook>_estimate_rates overrides any of them with the figures of your own datacenter.
ESTIMATE_RATES = {'migration_gbps': 10.0, 'migration_overhead': 1.3, 'migration_setup_seconds': 2.0, 'parallel_migrations': 2,
                  'download_mb_per_second': 25.0, 'install_mb_per_second': 5.0, 'restart_seconds': 420.0,
                  'reinstall_seconds': 1800.0, 'in_place_seconds': 3600.0}


def estimate(run_plan, capacity, kind='update', method=None, rates=None):
    """How long each queued node's cycle should take, from the cluster's own figures: the memory of the VMs it runs
    (``capacity``, as the first gate measured every node: {node: {'vms': {vm: MB}}}) moved off and back, the size of
    its updates (the plan's search results) downloaded and installed, a restart when one is expected; an upgrade's
    reinstall or in-place upgrade instead of the updates. Storage resync is not estimated (it depends on what the
    VMs write meanwhile). Returns {'nodes': {host: {'seconds', 'parts': {part: seconds}, 'vms', 'memory_mb'}} for the
    queue, 'seconds' (the nodes one after another), 'lines' (the estimate in words)}."""
    r = dict(ESTIMATE_RATES, **dict((k, float(v)) for k, v in (rates or {}).items()))
    names = run_plan.get('node_names') or {}
    out = {}
    for host in run_plan.get('queue') or []:
        work = (run_plan.get('nodes') or {}).get(host) or {}
        vms = ((capacity or {}).get(names.get(host, host)) or {}).get('vms') or {}
        memory = sum(int(mb or 0) for mb in vms.values())
        move = (memory * r['migration_overhead'] * 8 / 1000.0 / r['migration_gbps']
                + r['migration_setup_seconds'] * len(vms) / max(r['parallel_migrations'], 1))
        parts = {'drain': move}
        if kind == 'upgrade' and method == 'in_place':
            parts['in-place upgrade'] = r['in_place_seconds']
        elif kind == 'upgrade':
            parts['reinstall'] = r['reinstall_seconds']
        else:
            size = work.get('download_mb') or 0
            parts['download'] = size / r['download_mb_per_second']
            parts['install'] = size / r['install_mb_per_second']
            if work.get('restart') is not False:
                parts['restart'] = r['restart_seconds']
        parts['failback'] = move
        out[host] = {'seconds': int(round(sum(parts.values()))), 'parts': dict((k, int(round(v))) for k, v in parts.items()),
                     'vms': len(vms), 'memory_mb': memory}
    total = sum(e['seconds'] for e in out.values())
    return {'nodes': out, 'seconds': total, 'lines': _estimate_lines(out, total, run_plan, kind)}


def _minutes(seconds):
    return '%d s' % seconds if seconds < 90 else '%d min' % int(round(seconds / 60.0))


def _estimate_lines(estimates, total, run_plan, kind):
    """The estimate in words: one line per queued node and the cluster's total (nodes one after another)."""
    lines = []
    for host in run_plan.get('queue') or []:
        e = estimates.get(host)
        if e:
            lines.append('%s: about %s (%d VM(s), %d MB to move off and back; %s)' % (
                host, _minutes(e['seconds']), e['vms'], e['memory_mb'],
                ', '.join('%s %s' % (part, _minutes(sec)) for part, sec in e['parts'].items())))
    lines.append('%s: about %s for %d node(s), storage resync not included (figures the cluster cannot tell are assumed: '
                 'rolling_%s_estimate_rates)' % (run_plan.get('cluster'), _minutes(total), len(estimates), kind))
    return lines


def upgrade_summary(final, target_build):
    """After an upgrade run: how many nodes run the target build, and the functional level (and how to raise it)."""
    upgrade = (final or {}).get('upgrade') or {}
    cluster = (final or {}).get('cluster') or {}
    text = 'On build %s: %d/%d nodes; functional level %s' % (
        target_build, len(upgrade.get('nodes_on_target') or []), len((final or {}).get('nodes') or []),
        cluster.get('functional_level'))
    if not upgrade.get('nodes_to_upgrade') and (cluster.get('functional_level') or 0) < (upgrade.get('target_level') or 0):
        text += (' (not raised: when you are sure, run playbooks/rolling_upgrade_finalize.yml with '
                 '-e wsfc_accept_irreversible=true; it cannot be undone)')
    return text + '.'


def failed_nodes(hosts, hostvars):
    """The failure reports of the nodes that failed in this run, in play order."""
    return [hostvars[h][FACTS + '_node_failed'] for h in hosts if (hostvars.get(h) or {}).get(FACTS + '_node_failed')]


def _flag(value):
    """A boolean kept in a fact: True, or its string forms where an older ansible-core templated it to text."""
    return value is True or str(value).strip().lower() in ('true', 'yes', '1')


def upgrade_node(info, node, capacity=None):
    """Where the upgrade finds ``node`` at the start of its cycle (``info``: cluster_info read then) and what it does
    first: the gates and a configuration capture only for a whole (Up) node (one paused or evicted by a failed
    run keeps its first capture), a drain for a member that is not Down; and whose memory the gate measures: the
    node alone when the preflight measured the others (``capacity``, kept in the run), else every member."""
    members = (info or {}).get('nodes') or []
    found = member(members, node)
    state = (found or {}).get('state')
    return {'node': found, 'member': found is not None, 'gate': state == 'Up', 'capture': state == 'Up',
            'drain': found is not None and state != 'Down',
            'measure': [found['name'] if found else node] if capacity else [n.get('name') for n in members]}


def node_hosts(names, hostvars, hosts=()):
    """{node: its WinRM address (``wsfc_winrm_host``)} for ``names``: inventory hosts, or nodes named as the cluster
    does, found among ``hosts`` by their node_name() in any case."""
    by_node = dict((node_name(h, hostvars).lower(), h) for h in hosts or ())
    out = {}
    for name in names or []:
        host = by_node.get(str(name).lower(), name)
        if host not in hostvars:
            raise ValueError('the node %s has no host in the inventory (hosts: %s)' % (name, ', '.join(hosts or ()) or 'none given'))
        out[node_name(host, hostvars)] = hostvars[host]['wsfc_winrm_host']
    return out


def reprovision_step(node, run, os_read, target_build, chassis=None):
    """The reinstall's next step for ``node`` from what it runs now (``os_read``: node_os without waiting) and, for
    the node a run that died left not answering, its chassis power (``chassis``: bmc_info, once read).

    That node, powered on, is installing what the dead run started: wait for it rather than power-cycle it.
    Powered off, nothing runs: reinstall. A node that answers on another build than the target, or does not
    answer, is reinstalled; one already on the target is not."""
    current = (os_read or {}).get('os')
    answers = current is not None
    left_by_dead_run = not answers and node == (run or {}).get('resume_node') and _flag((run or {}).get('died'))
    installing = left_by_dead_run and (chassis or {}).get('power_state') == 'on'
    on_target = answers and int(current.get('build') or 0) == int(target_build)
    return {'read_chassis': left_by_dead_run and chassis is None, 'wait_for_reinstall': installing,
            'reinstall': not installing and not on_target and (chassis is not None or not left_by_dead_run),
            'graceful': answers}
