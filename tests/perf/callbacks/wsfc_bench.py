# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper (not shipped): records every task result's host, duration and WinRM counts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: wsfc_bench
type: aggregate
short_description: Record task durations and WinRM round trips for the benchmark
description:
  - Writes one JSON line per task result to the file named by E(WSFC_BENCH_OUT).
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'wsfc_bench'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._started = {}
        self._path = os.environ.get('WSFC_BENCH_OUT')
        self._play = None

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def _write(self, result, status):
        if not self._path:
            return
        data = result._result
        line = {'host': result._host.get_name(), 'task': result._task.get_name(), 'status': status, 'play': self._play,
                'action': result._task.action, 'seconds': time.monotonic() - self._started.get(result._task._uuid, time.monotonic()),
                'round_trips': data.get('round_trips'), 'polls': data.get('polls'), 'changed': data.get('changed'),
                'end': time.time()}
        with open(self._path, 'a') as handle:
            handle.write(json.dumps(line) + '\n')

    def v2_runner_on_ok(self, result):
        self._write(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed')
