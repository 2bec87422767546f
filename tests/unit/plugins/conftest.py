"""A lab process whose BMCs the BMC tests of one test file share (started once, stopped by PID)."""

import itertools

import pytest

from lab import cli as lab_cli

_nets = itertools.count(200)


@pytest.fixture(scope='module')
def bmc_lab(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp('bmc-lab'))
    state = lab_cli.start('hyperv4', run_dir, net='127.0.%d' % next(_nets))
    yield state
    lab_cli.stop(run_dir)
