"""Event recorder and invariant checks of the lab.

Every state change is recorded with its lab timestamp. After a run, ``invariants()`` reports what
the mission promises: at most one node out of service at once, quorum kept with margin, no drain
started while storage was busy, and VM downtime (0 for live-migrated VMs).
"""

import threading


class Recorder:
    def __init__(self, clock):
        self.clock = clock
        self.events = []
        self.counters = {}
        self.min_quorum_margin = None
        self.violations = []
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

    def check_quorum(self, lab):
        present, needed = lab.quorum_votes()
        margin = present - needed
        if self.min_quorum_margin is None or margin < self.min_quorum_margin:
            self.min_quorum_margin = margin
        if margin < 0:
            self.violation('quorum_lost', present=present, needed=needed)

    def invariants(self):
        return {
            'min_quorum_margin': self.min_quorum_margin,
            'violations': list(self.violations),
            'events': len(self.events),
        }
