"""One node's BMC speaking Redfish over HTTPS (DMTF DSP0266 / the ComputerSystem schema), bound to
the lab model through the server's ``bmc_state`` / ``bmc_act``.

Resources: the service root, the Systems collection with one ComputerSystem (PowerState, Boot with
BootSourceOverrideTarget / -Enabled / -Mode, Model, Manufacturer, SerialNumber, BiosVersion, the
ComputerSystem.Reset action) and one Manager (FirmwareVersion). HTTP Basic authentication (DSP0266
requires services to accept it). A one-time override reads back Disabled once the system has
booted with it (DSP0266: "Once").
"""

import base64
import http.server
import json
import ssl
import threading

SYSTEM = '/redfish/v1/Systems/1'
TARGETS = {'none': 'None', 'network': 'Pxe', 'disk': 'Hdd', 'cd': 'Cd', 'bios': 'BiosSetup'}
DEVICES = dict((v, k) for k, v in TARGETS.items())
RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle']


def _error(code, message):
    return {'error': {'code': 'Base.1.8.%s' % code, 'message': message,
                      '@Message.ExtendedInfo': [{'MessageId': 'Base.1.8.%s' % code, 'Message': message}]}}


class RedfishListener:
    def __init__(self, server, node_name, address, port, tls):
        self.server, self.node_name, self.address, self.port, self.tls = server, node_name, address, port, tls
        self._httpd = None

    def start(self):
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, format, *args):  # noqa: A002
                pass

            def _send(self, status, doc=None):
                body = json.dumps(doc).encode() if doc is not None else b''
                self.send_response(status)
                if doc is not None:
                    self.send_header('Content-Type', 'application/json')
                self.send_header('OData-Version', '4.0')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self):
                length = int(self.headers.get('Content-Length') or 0)
                try:
                    return json.loads(self.rfile.read(length) or b'{}')
                except ValueError:
                    return None

            def _authorised(self, state):
                auth = self.headers.get('Authorization', '')
                if auth.startswith('Basic '):
                    try:
                        user, dummy, password = base64.b64decode(auth[6:]).decode('utf-8').partition(':')
                    except ValueError:
                        user = password = None
                    if user == state['user'] and password == state['password']:
                        return True
                self.send_response(401)
                body = json.dumps(_error('InsufficientPrivilege', 'Authentication failed.')).encode()
                self.send_header('WWW-Authenticate', 'Basic realm="Redfish"')
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return False

            def _route(self, method):
                state = listener.server.bmc_state(listener.node_name)
                path = self.path.split('?')[0].rstrip('/')
                if path == '/redfish/v1' and method == 'GET':
                    # The service root is readable without authentication (DSP0266).
                    return self._send(200, {'@odata.id': '/redfish/v1', '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
                                            'Id': 'RootService', 'RedfishVersion': '1.15.0',
                                            'Systems': {'@odata.id': '/redfish/v1/Systems'},
                                            'Managers': {'@odata.id': '/redfish/v1/Managers'}})
                if not self._authorised(state):
                    return None
                if path == '/redfish/v1/Systems' and method == 'GET':
                    return self._send(200, {'@odata.id': '/redfish/v1/Systems', 'Members@odata.count': 1,
                                            'Members': [{'@odata.id': SYSTEM}]})
                if path == SYSTEM and method == 'GET':
                    return self._send(200, system_resource(state))
                if path == SYSTEM and method == 'PATCH':
                    return self._patch(self._body())
                if path == SYSTEM + '/Actions/ComputerSystem.Reset' and method == 'POST':
                    return self._reset(self._body())
                if path == '/redfish/v1/Managers' and method == 'GET':
                    return self._send(200, {'@odata.id': '/redfish/v1/Managers', 'Members@odata.count': 1,
                                            'Members': [{'@odata.id': '/redfish/v1/Managers/1'}]})
                if path == '/redfish/v1/Managers/1' and method == 'GET':
                    return self._send(200, {'@odata.id': '/redfish/v1/Managers/1', 'Id': '1', 'ManagerType': 'BMC',
                                            'FirmwareVersion': state['bmc_firmware']})
                return self._send(404, _error('ResourceMissingAtURI', 'The resource at %s was not found.' % path))

            def _patch(self, doc):
                boot = (doc or {}).get('Boot')
                if not isinstance(boot, dict):
                    return self._send(400, _error('MalformedJSON', 'The request body is not a Boot update.'))
                state = listener.server.bmc_state(listener.node_name)
                target = boot.get('BootSourceOverrideTarget', TARGETS[state['boot_device']])
                enabled = boot.get('BootSourceOverrideEnabled', 'Continuous' if state['persistent'] else 'Once')
                mode = boot.get('BootSourceOverrideMode', 'UEFI' if state['uefi'] else 'Legacy')
                if target not in DEVICES or enabled not in ('Once', 'Continuous', 'Disabled') or mode not in ('UEFI', 'Legacy'):
                    return self._send(400, _error('PropertyValueNotInList', 'A Boot property has a value not in its list.'))
                device = 'none' if enabled == 'Disabled' else DEVICES[target]
                listener.server.bmc_act(listener.node_name, 'boot', device=device, persistent=enabled == 'Continuous',
                                        uefi=mode == 'UEFI')
                return self._send(204)

            def _reset(self, doc):
                kind = (doc or {}).get('ResetType')
                ops = {'On': 'on', 'ForceOff': 'off', 'GracefulShutdown': 'soft', 'GracefulRestart': 'soft_restart',
                       'ForceRestart': 'cycle', 'PowerCycle': 'cycle'}
                if kind not in ops:
                    return self._send(400, _error('ActionParameterValueNotInList',
                                                  'ResetType %r is not supported.' % kind))
                listener.server.bmc_act(listener.node_name, ops[kind])
                return self._send(204)

            def do_GET(self):  # noqa: N802
                self._route('GET')

            def do_PATCH(self):  # noqa: N802
                self._route('PATCH')

            def do_POST(self):  # noqa: N802
                self._route('POST')

        httpd = http.server.ThreadingHTTPServer((self.address, self.port), Handler)
        httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls['cert'], self.tls['key'])
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def listening(self):
        return self._httpd is not None


def system_resource(state):
    return {
        '@odata.id': SYSTEM, '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem', 'Id': '1',
        'Name': state['host_name'], 'HostName': state['host_name'], 'SystemType': 'Physical',
        'Manufacturer': state['manufacturer'], 'Model': state['model'], 'SerialNumber': state['serial'],
        'BiosVersion': state['bios_version'], 'PowerState': state['power'],
        'Boot': {
            'BootSourceOverrideTarget': TARGETS[state['boot_device']],
            'BootSourceOverrideEnabled': ('Disabled' if state['boot_device'] == 'none'
                                          else 'Continuous' if state['persistent'] else 'Once'),
            'BootSourceOverrideMode': 'UEFI' if state['uefi'] else 'Legacy',
            'BootSourceOverrideTarget@Redfish.AllowableValues': list(TARGETS.values()),
        },
        'Actions': {'#ComputerSystem.Reset': {'target': SYSTEM + '/Actions/ComputerSystem.Reset',
                                              'ResetType@Redfish.AllowableValues': RESET_TYPES}},
    }
