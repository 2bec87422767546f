"""Shared test set-up: the collection on an ansible_collections path, the lab package, lab fixtures."""

import hashlib
import itertools
import os
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(tempfile.gettempdir(), 'wsfc-rolling-%s' % hashlib.sha256(ROOT.encode()).hexdigest()[:10])


def _link_collection():
    parent = os.path.join(COLLECTIONS, 'ansible_collections', 'wsfc')
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, 'rolling')
    if os.path.realpath(link) != ROOT:
        if os.path.islink(link):
            os.remove(link)
        try:
            os.symlink(ROOT, link)
        except FileExistsError:  # another test worker made it at the same moment
            pass


_link_collection()
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from lab import cli as lab_cli  # noqa: E402  (needs the path set above)

# Every lab a test session starts gets its own 127.0.N.0/24 so that labs never collide; with pytest-xdist
# each worker (gw0, gw1, ...) counts in its own block of 100 networks (two workers: 20-119, 120-219).
WORKER = int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:] or 0)
# WSFC_TEST_NET_BASE moves the first block (a second test session on the same machine, run without workers).
_nets = itertools.count(int(os.environ.get('WSFC_TEST_NET_BASE', '20')) + 100 * WORKER)


def pytest_collection_modifyitems(items):
    """Tiers: ``lab_process`` for tests that start a lab, ``unit`` for the rest of tests/unit."""
    for item in items:
        if set(getattr(item, 'fixturenames', ())) & {'start_lab', 'bmc_lab'}:
            item.add_marker(pytest.mark.lab_process)
        elif os.sep + os.path.join('tests', 'unit') + os.sep in str(item.fspath):
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def start_lab(tmp_path):
    """Factory: ``state = start_lab('hyperv4')`` starts a lab; every lab started is stopped by PID."""
    started = []

    def start(scenario, scale=None, weather=None):
        run_dir = str(tmp_path / ('lab-%s-%d' % (scenario, len(started))))
        state = lab_cli.start(scenario, run_dir, net='127.0.%d' % next(_nets), scale=scale, weather=weather)
        state['run_dir'] = run_dir
        state['inventory'] = os.path.join(run_dir, 'inventory.yml')
        started.append(run_dir)
        return state

    yield start
    for run_dir in started:
        lab_cli.stop(run_dir)


@pytest.fixture(scope='session')
def collections_path():
    return COLLECTIONS
