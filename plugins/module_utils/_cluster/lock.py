# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock: one rolling run at a time per cluster, with owner, expiry and current node.

The lock is a JSON document in a private property of the core cluster name resource (replicated
by the cluster database). The shim only compares-and-sets the raw value; every decision (expiry,
take-over by the same owner, staleness) is made here, with the cluster's own clock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import re

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.gates import describe_lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, UnsafeToProceed

_ISO = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$')


def parse_time(text):
    """Parse PowerShell's round-trip ('o') dates, with up to 7 fractional digits, as UTC."""
    match = _ISO.match(text or '')
    if not match:
        raise ValueError('not an ISO 8601 time: %r' % (text,))
    y, mo, d, h, mi, s, frac, zone = match.groups()
    value = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or '0')[:6].ljust(6, '0')))
    if zone and zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        value -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return value


def format_time(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


def decode(raw):
    """The lock document from the raw property value (None when there is no lock)."""
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return {'owner': 'unknown (unreadable lock %r)' % raw[:80], 'run_id': None, 'expires': None}
    return doc if isinstance(doc, dict) else None


def read(session):
    """Returns (lock dict or None, raw value, cluster time)."""
    value = session.call('lock.read', action='Failed to read the run lock', retry=True)
    return decode(value.get('Value')), value.get('Value'), parse_time(value['Now'])


def expired(lock, now):
    try:
        return parse_time(lock.get('expires')) <= now
    except ValueError:
        return True


def _swap(session, expect, new):
    value = session.call('lock.cas', {'expect': expect, 'value': None if new is None else json.dumps(new, sort_keys=True)},
                         action='Failed to write the run lock')
    return value.get('Swapped'), decode(value.get('Value'))


def acquire(session, owner, run_id, ttl, current=None, **fields):
    """Take (or keep) the lock for ``run_id`` and set ``fields`` (``node``, ``status``), in one write.

    Refused while another run holds it, unless that lock expired (taken over, reported as stale) or
    it is this owner's own run that ended failed (a re-run resumes it, keeping its current node).

    Args:
        current: the ``read()`` result already at hand (saves a round trip).

    Returns:
        (lock, previous lock or None, changed)
    """
    if not owner or not run_id:
        raise InvalidOption('owner and run_id are required to take the run lock')
    if ttl <= 0:
        raise InvalidOption('ttl must be greater than 0, got %r' % (ttl,))
    held, raw, now = current or read(session)
    previous = None
    expires = format_time(now + datetime.timedelta(seconds=ttl))
    if held is not None and held.get('run_id') == run_id and not expired(held, now):
        if all(held.get(k) == v for k, v in fields.items()):
            return held, None, False
        new = dict(held, expires=expires, **fields)
    else:
        if held is not None:
            is_stale = expired(held, now)
            resumable = held.get('owner') == owner and held.get('status') == 'failed'
            if not (is_stale or resumable):
                raise UnsafeToProceed('Another rolling run holds the cluster: %s' % describe_lock(held),
                                      details={'lock': held})
            previous = dict(held, stale=is_stale)
        new = {'owner': owner, 'run_id': run_id, 'acquired': format_time(now), 'status': 'running', 'expires': expires,
               'node': held.get('node') if held and held.get('owner') == owner else None}
        new.update(fields)
    swapped, value = _swap(session, raw, new)
    if not swapped:
        raise UnsafeToProceed('The run lock changed while taking it: %s' % describe_lock(value or {}), details={'lock': value})
    return new, previous, True


def update(session, run_id, ttl, **fields):
    """Change fields of our lock (``node`` worked on, ``status``) and extend its expiry."""
    current, raw, now = read(session)
    if current is None or current.get('run_id') != run_id:
        raise UnsafeToProceed('The run lock is not held by run %s: %s' % (
            run_id, describe_lock(current) if current else 'no lock'), details={'lock': current})
    new = dict(current, expires=format_time(now + datetime.timedelta(seconds=ttl)), **fields)
    swapped, value = _swap(session, raw, new)
    if not swapped:
        raise UnsafeToProceed('The run lock changed while updating it: %s' % describe_lock(value or {}))
    return new, any(current.get(k) != v for k, v in fields.items())


def release(session, run_id, force=False, current=None):
    """Remove the lock if this run holds it (or with ``force``). Returns (previous lock, changed)."""
    current, raw, _now = current or read(session)
    if current is None:
        return None, False
    if current.get('run_id') != run_id and not force:
        raise UnsafeToProceed('Not releasing the run lock of another run: %s' % describe_lock(current),
                              details={'lock': current})
    swapped, value = _swap(session, raw, None)
    if not swapped:
        raise UnsafeToProceed('The run lock changed while releasing it: %s' % describe_lock(value or {}))
    return current, True
