"""Event recorder and invariant checks of the lab.

Every state change is recorded with its lab timestamp. ``invariants()`` reports what the mission
promises: at most one node out (or the run's configured number, never more than one on S2D) of service at once, quorum kept with margin, VM downtime (0 for
live-migrated VMs), planned migrations per VM, and no drain asked for while storage was busy. ``physical_seconds()`` is the
lab's lower bound for the work done: per node, the union of the time spent draining, installing
(updates or an OS image), shutting down, rebooting, resyncing and failing back, summed over nodes.
"""

import threading


class Recorder:
    def __init__(self, clock):
        self.clock = clock
        self.events = []
        self.counters = {}
        self.min_quorum_margin = None
        self.max_nodes_out = 0
        self.violations = []
        self.activities = []          # [node, kind, start, end]
        self._open = {}
        self._lock = threading.Lock()

    def record(self, kind, **data):
        event = dict(t=round(self.clock.now(), 3), kind=kind, **data)
        with self._lock:
            self.events.append(event)
        return event

    def count(self, name, node=None, amount=1):
        key = name if node is None else '%s:%s' % (name, node)
        with self._lock:
            self.counters[key] = self.counters.get(key, 0) + amount

    def violation(self, rule, **data):
        self.violations.append(self.record('invariant.violation', rule=rule, **data))

    def activity_start(self, node, kind):
        self._open[(node, kind)] = self.clock.now()

    def activity_end(self, node, kind):
        start = self._open.pop((node, kind), None)
        if start is not None:
            self.activities.append([node, kind, round(start, 3), round(self.clock.now(), 3)])

    def check_quorum(self, lab):
        if lab.offline is not None:
            return      # the cluster is stopped on purpose (offline update): no quorum to keep
        present, needed = lab.quorum_votes()
        margin = present - needed
        if self.min_quorum_margin is None or margin < self.min_quorum_margin:
            self.min_quorum_margin = margin
        if margin < 0:
            self.violation('quorum_lost', present=present, needed=needed)

    def check_nodes_out(self, lab):
        if lab.offline is not None:
            return      # every node is out on purpose (offline update); its own rules apply (tests/lab/offline.py)
        # A node an administrator paused before the run is theirs, not the run's (allow_paused_nodes).
        out = [n.name for n in lab.machines.values() if not n.in_service and not n.admin_paused]
        allowed = 1 if lab.s2d_enabled else max(1, lab.allowed_nodes_out)
        if len(out) > self.max_nodes_out:
            self.max_nodes_out = len(out)
            if len(out) > allowed:
                self.violation('more_than_one_node_out' if allowed == 1 else 'more_nodes_out_than_allowed', nodes=out,
                               allowed=allowed)

    def physical_seconds(self):
        per_node = {}
        for node, _kind, start, end in self.activities:
            per_node.setdefault(node, []).append((start, end))
        total = 0.0
        for spans in per_node.values():
            spans.sort()
            cur_start, cur_end = spans[0]
            for start, end in spans[1:]:
                if start > cur_end:
                    total += cur_end - cur_start
                    cur_start, cur_end = start, end
                else:
                    cur_end = max(cur_end, end)
            total += cur_end - cur_start
        return total

    def invariants(self, lab=None):
        out = {
            'min_quorum_margin': self.min_quorum_margin,
            'max_nodes_out': self.max_nodes_out,
            'violations': list(self.violations),
            'events': len(self.events),
            'physical_seconds': round(self.physical_seconds(), 3),
            'activities': list(self.activities),
        }
        if lab is not None:
            # Unplanned downtime; a stop the user allowed (VM configuration version update) is apart.
            out['vm_downtime'] = dict((g.name, round(g.downtime - g.planned_downtime, 3)) for g in lab.groups.values()
                                      if g.group_type == 'VirtualMachine' and g.downtime - g.planned_downtime > 0)
            out['vm_planned_downtime'] = dict((g.name, round(g.planned_downtime, 3)) for g in lab.groups.values()
                                              if g.planned_downtime > 0)
            live = set(e['group'] for e in self.events if e['kind'] == 'group.live_migrated')
            out['live_migrated_vms'] = len(live)
            # Planned moves of each VM (live or quick migration, drain or failback or Move-ClusterVirtualMachineRole).
            moves = dict((g.name, 0) for g in lab.groups.values() if g.group_type == 'VirtualMachine')
            for e in self.events:
                if e['kind'] in ('group.live_migrated', 'group.quick_migrated') and e['group'] in moves:
                    moves[e['group']] += 1
            out['vm_migrations'] = moves
            out['live_migrated_downtime'] = round(sum(g.downtime - g.planned_downtime for g in lab.groups.values()
                                                      if g.name in live), 3)
        return out
