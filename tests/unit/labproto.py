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

    def open_shell(self):
        return 'S'

    def run_command(self, shell_id, command, args):
        return 'C'

    def send_command_input(self, shell_id, command_id, data, end):
        self._stdin += data

    def get_command_output_raw(self, shell_id, command_id):
        shim, request = self._stdin.decode('ascii').split(_shim.REQUEST_SEPARATOR)
        self._stdin = b''
        decoded = json.loads(base64.b64decode(request.strip()))
        self.requests.append(decoded)
        response = ops.execute(self.lab, self.lab.node(self.node_name), decoded, ops.shim_operations(shim))
        return (_shim.encode_response(response) + '\r\n').encode(), b'', 0, True

    def cleanup_command(self, shell_id, command_id):
        pass

    def close_shell(self, shell_id):
        pass


def build_lab(name='hyperv4'):
    return scenario_mod.build(scenario_mod.load(name), net='127.0.250')
