"""Accelerated lab clock with a scheduler.

Lab time runs ``scale`` times faster than the wall clock: at scale 600, one minute of Windows time
passes in 100 ms. Timed behaviour (a drain finishing, a repair job progressing) is scheduled as
callbacks at lab times and run, in order, whenever the lab advances.
"""

import datetime
import heapq
import itertools
import time

EPOCH = datetime.datetime(2026, 11, 22, 2, 0, 0, tzinfo=datetime.timezone.utc)


class LabClock:
    def __init__(self, scale=600.0, wall=time.monotonic):
        if scale <= 0:
            raise ValueError('clock scale must be > 0')
        self.scale = float(scale)
        self._wall = wall
        self._start = wall()
        self._queue = []
        self._seq = itertools.count()
        self._pinned = None

    def now(self):
        """Lab seconds since the lab started."""
        if self._pinned is not None:
            return self._pinned
        return (self._wall() - self._start) * self.scale

    def datetime(self, seconds=None):
        return EPOCH + datetime.timedelta(seconds=self.now() if seconds is None else seconds)

    def iso(self, seconds=None):
        return self.datetime(seconds).isoformat().replace('+00:00', 'Z')

    def parse_iso(self, text):
        """Lab seconds of a time written by iso() (or any ISO 8601 UTC time)."""
        value = datetime.datetime.fromisoformat(str(text).replace('Z', '+00:00'))
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - EPOCH).total_seconds()

    def at(self, lab_seconds, callback):
        """Run ``callback()`` once lab time reaches ``lab_seconds``."""
        heapq.heappush(self._queue, (lab_seconds, next(self._seq), callback))

    def after(self, delay, callback):
        self.at(self.now() + delay, callback)

    def advance(self):
        """Run every due callback in time order, each seeing ``now()`` equal to its due time."""
        limit = self.now()
        while self._queue and self._queue[0][0] <= limit:
            due, _seq, callback = heapq.heappop(self._queue)
            self._pinned = due
            try:
                callback()
            finally:
                self._pinned = None

    def real_seconds(self, lab_seconds):
        return lab_seconds / self.scale
