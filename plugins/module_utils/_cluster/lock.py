# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock: one rolling run at a time per cluster, with owner, expiry and current node.

The lock is a JSON document in a private property of the cluster object (replicated by the cluster
database to every node; present on clusters without a core network name too). The shim only reads
and writes raw values; every decision (expiry, take-over by the same owner, staleness) is made here,
with the cluster's own clock.

Windows offers no compare-and-set on a property: two controllers that read "free" at the same
moment would both write. So a new holder enters through claims (powershell/shim/50-lock.ps1, in the
manner of Lamport's bakery, which needs no atomic register): ``lock.claim`` writes a claim and then
a ticket one higher than any it saw, ``lock.cas`` with that claim writes the lock only when no other
claim is still choosing and none goes first. A racing writer learns that it lost (``Lost``) and is
refused with the run that goes first. The holder's own later writes (node, status, heartbeat) need
no claim: nobody else writes a held lock unless it was abandoned and taken over explicitly, and then
the old holder finds a foreign run id at its next write and stops.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import datetime
import json
import os
import re
import time

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.gates import describe_lock
from ansible_collections.wsfc.rolling.plugins.module_utils._errors import (
    ConnectionFailure, InvalidOption, RemoteCommandError, TimeoutFailure, UnsafeToProceed)

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


# Seconds without a heartbeat after which a running lock's run counts as gone (its controller was
# killed, lost its network or its host). Live runs refresh the heartbeat at every lock write and
# every HEARTBEAT_EVERY seconds of a long wait.
STALE_AFTER = 600
HEARTBEAT_EVERY = 60


def ages(lock, now):
    """Seconds since the lock was taken and since its last heartbeat (None when unknown)."""
    out = {}
    for key, field in (('age', 'acquired'), ('heartbeat_age', 'heartbeat')):
        try:
            out[key] = int((now - parse_time(lock.get(field) or lock.get('acquired'))).total_seconds())
        except ValueError:
            out[key] = None
    return out


def abandoned(lock, now, stale_after=STALE_AFTER):
    """Whether the run holding ``lock`` is provably not working any more: it ended failed, the lock
    expired, or no heartbeat came for ``stale_after`` seconds."""
    if lock.get('status') == 'failed' or expired(lock, now):
        return True
    quiet = ages(lock, now).get('heartbeat_age')
    return quiet is None or quiet >= stale_after


def annotate(lock, now, stale_after=STALE_AFTER):
    """The lock with its age, heartbeat age and whether its run is gone, for reports and decisions."""
    if lock is None:
        return None
    return dict(lock, abandoned=abandoned(lock, now, stale_after), **ages(lock, now))


def refusal(lock, now, stale_after, owner):
    """Why ``owner`` may not take ``lock`` now, and what to do about it."""
    info = ages(lock, now)
    if lock.get('owner') == owner:
        why = ('Run %s of the same owner (%s) still looks alive: last heartbeat %ss ago (it counts as gone after %ss '
               'without one)' % (lock.get('run_id'), owner, info.get('heartbeat_age'), stale_after))
    else:
        why = 'Another rolling run holds the cluster: %s; taken %ss ago, last heartbeat %ss ago' % (
            describe_lock(lock), info.get('age'), info.get('heartbeat_age'))
    return ('%s. If that run is gone, run again once %ss passed without a heartbeat, or take the lock over at once '
            'with takeover=true (role variable rolling_update_takeover / rolling_upgrade_takeover); to remove it: '
            'wsfc.rolling.cluster_lock state=absent force=true' % (why, stale_after))


# A claim older than this (cluster clock) belongs to a contender that died between its two calls;
# it is removed by the next contender. How long a contender waits for others still choosing.
CLAIM_STALE = 120
BUSY_TRIES = 40
BUSY_WAIT = 0.25
_sleep = time.sleep


def _swap(session, expect, new, claim=None):
    """Compare-and-set (with ``claim``: once the claim entered); after a lost answer the lock is read
    again to learn whether the write landed (our value is there), did not (the old one is, so it is
    tried once more), or lost a race.

    Raises:
        UnsafeToProceed: the claim lost to another contender's, or went stale.
    """
    raw = None if new is None else json.dumps(new, sort_keys=True)
    params = {'expect': expect, 'value': raw}
    if claim:
        params.update(claim=claim, stale_seconds=CLAIM_STALE)
    lost_answers = 0
    for _try in range(BUSY_TRIES):
        try:
            value = session.call('lock.cas', params, action='Failed to write the run lock')
        except (ConnectionFailure, TimeoutFailure):
            lost_answers += 1
            _held, now_raw, _now = read(session)
            if now_raw == raw:
                return True, new
            if now_raw != expect or lost_answers == 2:
                return False, decode(now_raw)
            continue
        outcome = value.get('Outcome') or 'Done'
        if outcome == 'Busy':
            _sleep(BUSY_WAIT)
            continue
        if outcome == 'Lost':
            holder = value.get('Holder') or {}
            raise UnsafeToProceed('Another rolling run is taking the run lock at this same moment: run %s of %s goes '
                                  'first. Nothing was changed by this run' % (holder.get('run_id'), holder.get('owner')),
                                  details={'contender': holder})
        if outcome == 'ClaimLost':
            raise UnsafeToProceed('Taking the run lock took longer than %ss between two calls, so its claim no longer '
                                  'counts; nothing was changed: run again' % CLAIM_STALE)
        return value.get('Swapped'), decode(value.get('Value'))
    _unclaim(session, claim)
    raise UnsafeToProceed('Another rolling run kept choosing its place for the run lock for %ss; nothing was changed: '
                          'run again' % int(BUSY_TRIES * BUSY_WAIT))


def _unclaim(session, claim):
    """Withdraw a claim that will not be used (best effort: a stale claim is removed by the next one)."""
    if not claim:
        return
    try:
        session.call('lock.unclaim', {'claim': claim}, action='Failed to withdraw a run lock claim')
    except (ConnectionFailure, TimeoutFailure, RemoteCommandError):
        pass


def claim(session, owner, run_id):
    """Enter the queue for the lock; returns (token, (lock, raw, cluster time)) as ``read()`` would."""
    token = '%s-%s' % (re.sub(r'[^A-Za-z0-9-]', '-', str(run_id))[:60], binascii.hexlify(os.urandom(6)).decode('ascii'))
    value = session.call('lock.claim', {'claim': token, 'run_id': str(run_id), 'owner': str(owner),
                                        'stale_seconds': CLAIM_STALE}, action='Failed to claim the run lock')
    return token, (decode(value.get('Value')), value.get('Value'), parse_time(value['Now']))


def check_takeable(held, now, owner, stale_after=STALE_AFTER, takeover=False):
    """Raise UnsafeToProceed (what holds it, and how to get out) unless ``owner`` may take ``held``:
    it expired, or its run is gone and it is ``owner``'s own or ``takeover`` was asked for."""
    gone = abandoned(held, now, stale_after)
    if expired(held, now) or (gone and (held.get('owner') == owner or takeover)):
        return
    raise UnsafeToProceed(refusal(held, now, stale_after, owner), details={'lock': annotate(held, now, stale_after)})


def acquire(session, owner, run_id, ttl, current=None, stale_after=STALE_AFTER, takeover=False, **fields):
    """Take (or keep) the lock for ``run_id`` and set ``fields`` (``node``, ``status``), in one write.

    Refused while another run holds it, unless that lock expired (taken over, reported as stale), or
    it is this owner's own run that is gone (failed, or no heartbeat for ``stale_after`` seconds: the
    controller died; a re-run resumes it, keeping its current node), or ``takeover`` is set and the
    holder's run is gone.

    Args:
        current: the ``read()`` result already at hand (saves a round trip).
        takeover: take over another owner's lock whose run is gone (the node it recorded is kept).

    Returns:
        (lock, previous lock or None, changed)
    """
    if not owner or not run_id:
        raise InvalidOption('owner and run_id are required to take the run lock')
    if ttl <= 0:
        raise InvalidOption('ttl must be greater than 0, got %r' % (ttl,))
    held, raw, now = current or read(session)
    previous = None
    token = None
    if held is None or held.get('run_id') != run_id or expired(held, now):
        if held is not None:
            check_takeable(held, now, owner, stale_after, takeover)  # refused without writing anything
        # A new holder: through a claim, which also reads the lock again.
        token, (held, raw, now) = claim(session, owner, run_id)
    expires = format_time(now + datetime.timedelta(seconds=ttl))
    if held is not None and held.get('run_id') == run_id and not expired(held, now):
        _unclaim(session, token)
        if all(held.get(k) == v for k, v in fields.items()):
            return held, None, False
        token = None
        new = dict(held, expires=expires, heartbeat=format_time(now), **fields)
    else:
        inherit = False
        if held is not None:
            try:
                check_takeable(held, now, owner, stale_after, takeover)
            except UnsafeToProceed:
                _unclaim(session, token)
                raise
            previous = dict(held, stale=expired(held, now), **ages(held, now))
            inherit = held.get('owner') == owner or takeover
        new = {'owner': owner, 'run_id': run_id, 'acquired': format_time(now), 'status': 'running', 'expires': expires,
               'ttl': ttl, 'heartbeat': format_time(now), 'node': held.get('node') if inherit else None}
        if inherit and held.get('out'):
            new['out'] = held['out']
        new.update(fields)
    swapped, value = _swap(session, raw, new, claim=token)
    if not swapped:
        raise UnsafeToProceed('The run lock changed while taking it: %s' % describe_lock(value or {}), details={'lock': value})
    return new, previous, True


# Tries of a write to our own lock that another task of the same run changed in between (heartbeats of nodes that
# work at the same time, pre-staging on every node): each try reads the lock again.
OWN_WRITE_TRIES = 5


def update(session, run_id, ttl, change=None, **fields):
    """Change fields of our lock (``node`` worked on, ``status``), refresh its heartbeat and extend its
    expiry by ``ttl`` (None: by the ttl it was taken with). A write that another task of this run overtook is
    done again on what that task wrote; a lock that became another run's stops it. ``change``: a function of the
    lock as read, giving more fields (a list edited from what is there, as ``out``)."""
    for attempt in range(OWN_WRITE_TRIES):
        current, raw, now = read(session)
        if current is None or current.get('run_id') != run_id:
            raise UnsafeToProceed('The run lock is not held by run %s: %s' % (
                run_id, describe_lock(current) if current else 'no lock'), details={'lock': current})
        if change:
            fields.update(change(current))
        limit = ttl or current.get('ttl')
        if limit:
            fields['expires'] = format_time(now + datetime.timedelta(seconds=int(limit)))
        new = dict(current, heartbeat=format_time(now), **fields)
        swapped, value = _swap(session, raw, new)
        if swapped:
            return new, any(current.get(k) != v for k, v in fields.items() if k != 'expires')
        if not value or value.get('run_id') != run_id or attempt == OWN_WRITE_TRIES - 1:
            raise UnsafeToProceed('The run lock changed while updating it: %s' % describe_lock(value or {}))


def join_out(session, current, name, ttl):
    """Add ``name`` to the nodes this run has out at once (``out``) and record it as the node worked on, by
    compare-and-set against ``current`` (the ``read()`` the gates decided on). Returns the new lock, or None when
    another task of the run wrote first: the gates must then decide again on what it wrote."""
    held, raw, now = current
    out = sorted(set(held.get('out') or []) | {name}, key=str.lower)
    new = dict(held, node=name, status='running', out=out, heartbeat=format_time(now),
               expires=format_time(now + datetime.timedelta(seconds=int(ttl))))
    swapped, _value = _swap(session, raw, new)
    return new if swapped else None


def out_without(name):
    """For update(change=...): the run's nodes out at once, without ``name`` (its cycle ended)."""
    return lambda current: {'out': [n for n in current.get('out') or [] if str(n).lower() != str(name).lower()]}


class Heartbeat(object):
    """Refreshes the lock's heartbeat during a long wait, so that a live run is never taken for a gone one.

    ``beat()`` is called at every poll; it writes at most every ``every`` seconds (controller clock).
    A heartbeat that cannot be written (the cluster briefly unreachable) is skipped; a lock that is no
    longer this run's (another run took it over) stops the wait with UnsafeToProceed.
    """

    def __init__(self, session, run_id, every=HEARTBEAT_EVERY, clock=None):
        self.session, self.run_id, self.every = session, run_id, every
        self.clock = clock or time.monotonic
        self.last = self.clock()
        self.beats = 0

    def beat(self):
        if self.clock() - self.last < self.every:
            return
        self.last = self.clock()
        try:
            update(self.session, self.run_id, None)
        except (ConnectionFailure, TimeoutFailure, RemoteCommandError):
            return
        self.beats += 1


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
