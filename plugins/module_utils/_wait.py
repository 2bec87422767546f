# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one bounded wait helper of the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import InvalidOption, TimeoutFailure


BACKOFF_LIMIT = 2
# Called once per poll of every wait in this process: the run lock's heartbeat, registered by the
# module glue when the task runs under a lock. A process runs one task at a time (a shipped module, or an
# Ansible worker, which may run the same task again for until/retries): the glue clears this at each start.
_on_poll = []


def on_poll(callback):
    """Register ``callback()`` to run at every poll of every wait in this process."""
    _on_poll.append(callback)


# Where a long wait says how far it is, at most every ``every`` seconds: the worker's glue
# (plugin_utils/controller_module.py) shows it in ansible-playbook's output while the task runs; a module run
# as a separate process has none.
_progress = {'report': None, 'every': 60.0}


def report_progress(report, every=60.0):
    """Send ``report(text)`` the state of every wait of this process at most every ``every`` seconds (None:
    stop). The text is the wait's own description of what it waits for and how far it is."""
    _progress['report'] = report
    _progress['every'] = float(every)


def clear_poll_callbacks():
    """Forget the callbacks of the task that ran before in this process."""
    del _on_poll[:]


def wait_until(predicate, timeout, interval=2.0, max_interval=None, describe=None, done=bool,
               clock=time.monotonic, sleep=time.sleep):
    """Call ``predicate`` until ``done`` holds for what it returned, or ``timeout`` seconds pass.

    The interval grows by half after each miss, up to ``max_interval`` (default: twice
    ``interval``, so the slack between an event and its detection stays proportional to the poll
    interval the user chose), and never sleeps past the deadline.

    Args:
        predicate: callable with no arguments that observes the state (one poll).
        done: callable judging an observation; default: the observation is truthy.
        timeout: seconds, > 0.
        interval: first pause between calls, seconds, > 0.
        max_interval: largest pause, seconds.
        describe: callable taking the last observation and giving the text that names the
            last observed state in the timeout message.

    Returns:
        The first observation for which ``done`` holds.

    Raises:
        InvalidOption: timeout or interval not positive.
        TimeoutFailure: the deadline passed; the message names the last observed state.
    """
    if timeout is None or timeout <= 0:
        raise InvalidOption('wait timeout must be greater than 0, got %r' % (timeout,))
    if interval is None or interval <= 0:
        raise InvalidOption('poll interval must be greater than 0, got %r' % (interval,))
    max_interval = interval * BACKOFF_LIMIT if max_interval is None else max(interval, max_interval)
    start = clock()
    deadline = start + timeout
    pause = interval
    polls = 0
    reported = start
    while True:
        last = predicate()
        polls += 1
        for callback in _on_poll:
            callback()
        if done(last):
            return last
        now = clock()
        if _progress['report'] is not None and describe is not None and now - reported >= _progress['every']:
            _progress['report']('%s (waited %d s of at most %d s)' % (describe(last), int(now - start), int(timeout)))
            reported = now
        if now >= deadline:
            state = describe(last) if describe else repr(last)
            raise TimeoutFailure('%s after %d s' % (state, int(round(now - start))),
                                 details={'elapsed': now - start, 'polls': polls})
        sleep(min(pause, deadline - now))
        pause = min(pause * 1.5, max_interval)
