# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for Storage Spaces Direct to be quiet and healthy, with stall detection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import TimeoutFailure
from ansible_collections.wsfc.rolling.plugins.module_utils._wait import wait_until
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import error_for_record

STORAGE_CALLS = (('storage.jobs', {}), ('storage.virtualdisks', {}))


class StorageView(object):
    def __init__(self, jobs, disks):
        self.jobs = jobs
        self.disks = disks

    @property
    def running(self):
        return [j for j in self.jobs if not j.finished]

    @property
    def unhealthy(self):
        return [d for d in self.disks if not d.healthy]

    @property
    def quiet_and_healthy(self):
        return not self.running and not self.unhealthy

    @property
    def progress(self):
        """Bytes done across running jobs (the stall detector watches it grow)."""
        return sum(j.bytes_processed for j in self.running), sum(j.bytes_total for j in self.running)

    def describe(self):
        parts = ['job %s %s %d%% (%d of %d bytes)' % (j.name, j.job_state, j.percent_complete, j.bytes_processed, j.bytes_total)
                 for j in self.running]
        parts += ['disk %s %s/%s' % (d.friendly_name, d.health_status, ','.join(d.operational_status))
                  for d in self.unhealthy]
        return '; '.join(parts) or 'quiet and healthy'

    def to_dict(self):
        done, total = self.progress
        return {'quiet_and_healthy': self.quiet_and_healthy,
                'jobs': [{'name': j.name, 'state': j.job_state, 'percent': j.percent_complete,
                          'bytes_processed': j.bytes_processed, 'bytes_total': j.bytes_total} for j in self.jobs],
                'unhealthy_disks': dict((d.friendly_name, '%s/%s' % (d.health_status, ','.join(d.operational_status)))
                                        for d in self.unhealthy),
                'percent': int(100 * done / total) if total else 100}


def read_storage(session, poll=False):
    jobs, disks = session.invoke(list(STORAGE_CALLS), retry=True, poll=poll)
    for result in (jobs, disks):
        if not result.ok:
            raise error_for_record('Failed to read storage health', result.error)
    return StorageView([model.StorageJob.from_ps(j) for j in jobs.value or []],
                       [model.VirtualDisk.from_ps(d) for d in disks.value or []])


def wait_storage(session, timeout, interval, stall_timeout, clock=None):
    """Wait until no storage job runs and every virtual disk is Healthy/OK (windows-facts.md 4.5).

    Fails early when the running jobs make no progress for ``stall_timeout`` seconds, naming them,
    rather than waiting out one long timeout.
    """
    clock = clock or time.monotonic
    last = {'progress': None, 'since': clock()}

    def poll():
        view = read_storage(session, poll=True)
        progress = view.progress
        if view.running and progress == last['progress']:
            if clock() - last['since'] >= stall_timeout:
                raise TimeoutFailure('Storage repair stalled: no progress for %d s: %s' % (stall_timeout, view.describe()),
                                     details={'storage': view.to_dict()})
        else:
            last['progress'], last['since'] = progress, clock()
        return view

    return wait_until(poll, timeout, interval=interval, describe=lambda v: 'Storage still busy: %s' % v.describe(),
                      done=lambda v: v.quiet_and_healthy)
