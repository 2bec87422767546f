"""An in-process stand-in for pywinrm's Protocol that runs shim requests against a lab model.

Used by unit tests that need realistic cluster data without sockets; the network path is covered
by the lab and integration tests.
"""

import base64
import json

from lab import ops
from lab import scenario as scenario_mod
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _shim


class LabProtocol:
    def __init__(self, lab, node_name):
        self.lab = lab
        self.node_name = node_name
        self.requests = []
        self._stdin = b''
        self._shim = None

    def _check_power(self):
        self.lab.tick()  # time passes for the whole lab, also while this node is off
        node = self.lab.machine(self.node_name)
        if node.power != 'On':
            import requests
            raise requests.exceptions.ConnectionError('[Errno 111] Connection refused')

    def open_shell(self):
        self._check_power()
        return 'S'

    def run_command(self, shell_id, command, args):
        self._check_power()
        self._stdin = b''  # a new process: nothing of an earlier, interrupted one
        self._shim = None
        return 'C'

    def send_command_input(self, shell_id, command_id, data, end):
        self._check_power()
        self._stdin += data

    def get_command_output_raw(self, shell_id, command_id):
        """The next request line's answer, as the warm shim process gives it; the process keeps running."""
        self._check_power()
        text = self._stdin.decode('ascii')
        if self._shim is None:
            self._shim, text = text.split(_shim.REQUEST_SEPARATOR, 1)
        request, _newline, rest = text.strip('\n').partition('\n')
        self._stdin = rest.encode('ascii')
        decoded = json.loads(base64.b64decode(request.strip()))
        self.requests.append(decoded)
        response = ops.execute(self.lab, self.lab.machine(self.node_name), decoded, ops.shim_operations(self._shim))
        response['nonce'] = decoded.get('nonce')
        return (_shim.encode_response(response) + '\r\n').encode(), b'', 0, False

    def cleanup_command(self, shell_id, command_id):
        pass

    def close_shell(self, shell_id):
        pass


def build_lab(name='hyperv4', **overrides):
    spec = scenario_mod.load(name)
    spec.update(overrides)
    lab = scenario_mod.build(spec, net='127.0.250')
    lab.users = {'LAB\\admin': 'pw'}
    return lab


def snapshot(lab):
    """The lab's plain-data state without the clock, to compare before and after a task."""
    snap = lab.snapshot()
    snap.pop('time')
    return snap


def patch_modules(monkeypatch, lab, *modules):
    """Point the modules' connections at the lab model: a host that is a node name reaches that
    node, anything else (the cluster name) reaches the owner of the core cluster group."""
    from ansible_collections.wsfc.rolling.plugins.module_utils._cluster.session import ClusterSession
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm.runner import PowerShellRunner, WinRMOptions

    def runner_factory(options, expect_node=None, expect_node_id=None):
        node = options.host if lab.machine(options.host) else lab.core_group().owner
        protocol = LabProtocol(lab, node)
        lab.protocols.append(protocol)
        return PowerShellRunner(options, protocol_factory=lambda o: protocol, expect_node=expect_node,
                                expect_node_id=expect_node_id)

    def session_from_module(module, exclude=None):
        return ClusterSession(WinRMOptions.from_params(module.params), module.params.get('winrm_fallback_hosts') or [],
                              exclude=exclude, runner_factory=runner_factory)

    def runner_from_module(module, host=None, node=None):
        return runner_factory(WinRMOptions.from_params(module.params, host=host), expect_node=node,
                              expect_node_id=module.params.get('node_id') if node else None)

    lab.protocols = []
    for module in modules:
        for name, value in (('session_from_module', session_from_module), ('runner_from_module', runner_from_module)):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
        if hasattr(module, 'node_runner'):
            monkeypatch.setattr(module, 'node_runner',
                                lambda options, node, host: runner_factory(options.replace(host=host), expect_node=node))


def bmc_args(lab, node, protocol, **kw):
    """Connection options of ``node``'s BMC in the lab, as the modules name them."""
    bmc = lab['bmc']
    out = dict(name=bmc['addresses'][node], user=bmc['user'], password=bmc['password'], protocol=protocol,
               port=bmc.get('%s_port' % protocol), ca_path=lab['ca_path'])
    out.update(kw)
    return out
