# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for Storage Spaces Direct to be quiet and healthy, with stall detection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import model
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import TimeoutFailure, UnsafeToProceed
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

    def check_repairable(self):
        """Raise UnsafeToProceed when waiting cannot make storage healthy: a disk lost its data or went
        offline, or the repair jobs ended without completing and left disks short of redundancy."""
        lost = [d for d in self.disks if d.lost]
        if lost:
            raise UnsafeToProceed('Storage will not become healthy by waiting: %s. Check Get-VirtualDisk and '
                                  'Get-StoragePool before any node is taken out' % self._disks(lost),
                                  details={'storage': self.to_dict()})
        failed = [j for j in self.jobs if j.failed]
        if failed and not self.running and self.unhealthy:
            raise UnsafeToProceed('Storage repair ended without completing (%s) and left %s; no repair is running. Check '
                                  'Get-StorageJob and the storage event logs, start Repair-VirtualDisk, then run again' % (
                                      ', '.join('job %s %s at %d%%' % (j.name, j.job_state, j.percent_complete) for j in failed),
                                      self._disks(self.unhealthy)), details={'storage': self.to_dict()})

    @staticmethod
    def _disks(disks):
        return ', '.join('disk %s %s/%s' % (d.friendly_name, d.health_status, ','.join(d.operational_status)) for d in disks)

    @property
    def progress(self):
        """Bytes done across running jobs (the stall detector watches it grow)."""
        return sum(j.bytes_processed for j in self.running), sum(j.bytes_total for j in self.running)

    def describe(self):
        parts = ['job %s %s %d%% (%d of %d bytes)' % (j.name, j.job_state, j.percent_complete, j.bytes_processed, j.bytes_total)
                 for j in self.running]
        if self.unhealthy:
            parts.append(self._disks(self.unhealthy))
        return '; '.join(parts) or 'quiet and healthy'

    def to_dict(self):
        done, total = self.progress
        return {'quiet_and_healthy': self.quiet_and_healthy,
                'jobs': [{'name': j.name, 'state': j.job_state, 'percent': j.percent_complete,
                          'bytes_processed': j.bytes_processed, 'bytes_total': j.bytes_total} for j in self.jobs],
                'unhealthy_disks': dict((d.friendly_name, '%s/%s' % (d.health_status, ','.join(d.operational_status)))
                                        for d in self.unhealthy),
                'suboptimal_disks': [d.friendly_name for d in self.disks if d.suboptimal],
                'percent': int(100 * done / total) if total else 100}


def read_storage(session, poll=False):
    jobs, disks = session.invoke(list(STORAGE_CALLS), retry=True, poll=poll)
    for result in (jobs, disks):
        if not result.ok:
            raise error_for_record('Failed to read storage health', result.error)
    return StorageView([model.StorageJob.from_ps(j) for j in jobs.value or []],
                       [model.VirtualDisk.from_ps(d) for d in disks.value or []])


def wait_storage(session, timeout, interval, stall_timeout, clock=None):
    """Wait until no storage job runs and every virtual disk is Healthy (windows-behaviour.md §8).

    Fails early, naming what it saw, when the running jobs make no progress for ``stall_timeout``
    seconds, and when waiting cannot help (``StorageView.check_repairable``, seen on two polls in a
    row), rather than waiting out one long timeout.
    """
    clock = clock or time.monotonic
    last = {'progress': None, 'since': clock(), 'doubt': False}

    def poll():
        view = read_storage(session, poll=True)
        try:
            view.check_repairable()
            last['doubt'] = False
        except UnsafeToProceed:
            # Twice in a row: right after a node returns, disks can be degraded a moment before the
            # cluster starts their repair, next to a finished job of an earlier one.
            if last['doubt']:
                raise
            last['doubt'] = True
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
