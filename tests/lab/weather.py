"""Weather: the faults a real datacenter has without anyone asking, seeded so that the same seed gives the
same sequence of draws.

Off unless a scenario sets ``weather: {seed: N}`` or the lab is started with ``--weather N``. Each kind
happens with its rate (a probability per occasion), recorded as a ``weather.<kind>`` event:

- ``winrm_fault``: a shell Create or a Command fails with WSManFault 1018 ("Illegal operation attempted on
  a registry key that has been marked for deletion."), a transient fault seen on Windows Server 2022
  (github.com/puppetlabs/bolt issue 3385; the WinRb/WinRM client retries WSMan faults for this reason);
  nothing ran.
- ``reset``: a Receive's connection is reset before the server reads it (the command keeps running and
  its output waits for the next Receive).
- ``slow``: a request's cmdlets take 30 to 120 s longer (so the client sees OperationTimeout faults).
- ``storage_pause``: a repair job is Suspended for 1 to 5 minutes at a random point, then resumes.
- ``migration_fail``: a VM's live migration fails once (the next attempt succeeds).
"""

import random

RATES = {'winrm_fault': 0.02, 'reset': 0.02, 'slow': 0.03, 'storage_pause': 0.5, 'migration_fail': 0.05}
FAULT_1018 = ('Illegal operation attempted on a registry key that has been marked for deletion.', 1018)


class Weather:
    def __init__(self, seed, recorder, rates=None):
        self.seed = int(seed)
        self.rng = random.Random(self.seed)
        self.recorder = recorder
        self.rates = dict(RATES, **(rates or {}))
        self.failed_once = set()

    def happens(self, kind, **data):
        """Draw for ``kind``; record it when it happens."""
        if self.rng.random() >= self.rates[kind]:
            return False
        self.recorder.record('weather.' + kind, **data)
        self.recorder.count('weather.' + kind)
        return True

    def slow_seconds(self, **data):
        return self.rng.uniform(30.0, 120.0) if self.happens('slow', **data) else 0.0

    def storage_pause(self, duration, **data):
        """(start offset, length) of a pause of a repair job lasting ``duration``, or None."""
        if not self.happens('storage_pause', **data):
            return None
        return self.rng.uniform(0.1, 0.8) * duration, self.rng.uniform(60.0, 300.0)

    def migration_fails(self, group):
        if group in self.failed_once or not self.happens('migration_fail', group=group):
            return False
        self.failed_once.add(group)
        return True
