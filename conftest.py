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
        if set(getattr(item, 'fixturenames', ())) & {'start_lab', 'bmc_lab', 'start_fleet'}:
            item.add_marker(pytest.mark.lab_process)
        elif os.sep + os.path.join('tests', 'unit') + os.sep in str(item.fspath):
            item.add_marker(pytest.mark.unit)


def _labs(tmp_path, kind, starter, stopper):
    """A factory fixture's body: ``starter(what, run_dir, **options)`` starts labs in a new run directory under
    ``tmp_path``; every run directory started is stopped with ``stopper`` at the end."""
    started = []

    def start(what, **options):
        run_dir = str(tmp_path / ('%s-%d' % (kind, len(started))))
        state = starter(what, run_dir, **options)
        state['run_dir'] = run_dir
        state['inventory'] = os.path.join(run_dir, 'inventory.yml')
        started.append(run_dir)
        return state

    yield start
    for run_dir in started:
        stopper(run_dir)


@pytest.fixture
def start_lab(tmp_path):
    """Factory: ``state = start_lab('hyperv4')`` starts a lab; every lab started is stopped by PID."""
    def starter(scenario, run_dir, scale=None, weather=None):
        return lab_cli.start(scenario, run_dir, net='127.0.%d' % next(_nets), scale=scale, weather=weather)
    yield from _labs(tmp_path, 'lab', starter, lab_cli.stop)


@pytest.fixture
def start_fleet(tmp_path):
    """Factory: ``fleet = start_fleet('hyperv4,s2d4')`` starts one lab per cluster and a fleet inventory
    (``fleet['inventory']``); every fleet started is stopped."""
    from lab import fleet as fleet_mod

    def starter(spec, run_dir, scale=None):
        nets = ['127.0.%d' % next(_nets) for _cluster in fleet_mod.read_spec(spec)]
        return fleet_mod.start(spec, run_dir, scale=scale, nets=nets)
    yield from _labs(tmp_path, 'fleet', starter, fleet_mod.stop)


@pytest.fixture(scope='session')
def collections_path():
    return COLLECTIONS
