"""Windows Update and restart decisions of _cluster/updates.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils._cluster import updates


@pytest.mark.parametrize('before, after, silent, restarted', [
    ('2026-11-22T02:00:00.1000000Z', '2026-11-22T02:00:00.4000000Z', False, False),  # jitter, no restart
    ('2026-11-22T02:00:00.1000000Z', '2026-11-22T02:00:00.4000000Z', True, False),   # a network blip
    ('2026-11-22T02:00:00Z', '2026-11-22T02:00:59Z', False, False),
    ('2026-11-22T02:00:00Z', '2026-11-25T03:10:00Z', False, True),                    # a real restart
    ('2026-11-22T02:00:00Z', '2026-11-22T02:00:30Z', True, True),                     # quiet, then 30 s later
    ('2026-11-22T02:00:00Z', '2026-11-22T01:59:00Z', True, True),                     # clock corrected backwards
    ('', '2026-11-22T02:00:00Z', False, True),                                        # unknown before
])
def test_a_restart_is_a_boot_time_moved_by_more_than_jitter(before, after, silent, restarted):
    assert updates.restarted_since(before, after, silent) is restarted
