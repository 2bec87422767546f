"""One node's BMC speaking Redfish over HTTPS (DMTF DSP0266 / the ComputerSystem schema), bound to
the lab model through the server's ``bmc_state`` / ``bmc_act``.

Resources: the service root, the Systems collection with one ComputerSystem (PowerState, Boot with
BootSourceOverrideTarget / -Enabled / -Mode, Model, Manufacturer, SerialNumber, BiosVersion, the
ComputerSystem.Reset action) and one Manager (FirmwareVersion). HTTP Basic authentication (DSP0266
requires services to accept it). A one-time override reads back Disabled once the system has
booted with it (DSP0266: "Once").

Harsher than many BMCs, as some real ones are: the system resource carries an ETag and a PATCH of it
must name it in If-Match (HTTP 428 without, 412 when the system changed since; Lenovo XCC and others
answer 428, github.com/ansible/ansible pull 56150 and DMTF Redfish-Tacklebox issue 22). The reset types
are those the BMC publishes in ResetType@Redfish.AllowableValues, any other is refused (HTTP 400); a BMC
may publish fewer (fault redfish_reset_types). An enclosure's manager (fault redfish_enclosure) lists a
neighbour's system first: a request for it is recorded as an invariant violation.
"""

import base64
import hashlib
import http.server
import json
import ssl
import threading

SYSTEM = '/redfish/v1/Systems/1'
# In an enclosure the neighbour is Systems/1 and the node's own system Systems/2.
OWN_IN_ENCLOSURE = '/redfish/v1/Systems/2'
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

            def _send(self, status, doc=None, headers=None):
                body = json.dumps(doc).encode() if doc is not None else b''
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
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
                # The body is read before any answer, also a refusal: what is left unread would be taken for the
                # start of the next request on this connection.
                body = self._body() if method in ('PATCH', 'POST') else None
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
                own = OWN_IN_ENCLOSURE if state['enclosure'] else SYSTEM
                if path == '/redfish/v1/Systems' and method == 'GET':
                    members = [SYSTEM, OWN_IN_ENCLOSURE] if state['enclosure'] else [SYSTEM]
                    return self._send(200, {'@odata.id': '/redfish/v1/Systems', 'Members@odata.count': len(members),
                                            'Members': [{'@odata.id': m} for m in members]})
                if state['enclosure'] and path.startswith(SYSTEM):
                    return self._neighbour(method, path, state)
                if path == own and method == 'GET':
                    doc = system_resource(state, own)
                    return self._send(200, doc, {'ETag': etag(doc)})
                if path == own and method == 'PATCH':
                    current = etag(system_resource(state, own))
                    match = self.headers.get('If-Match')
                    if match is None:
                        return self._send(428, _error('PreconditionRequired', 'The request did not provide the required '
                                                      'precondition, such as an If-Match header.'))
                    if match != current:
                        return self._send(412, _error('PreconditionFailed', 'The ETag supplied did not match the ETag '
                                                      'required to change this resource.'))
                    return self._patch(body)
                if path == own + '/Actions/ComputerSystem.Reset' and method == 'POST':
                    return self._reset(body, state)
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

            def _neighbour(self, method, path, state):
                """The other server of the enclosure: readable; anything else sent to it is a violation."""
                if method == 'GET' and path == SYSTEM:
                    doc = dict(system_resource(dict(state, serial='NEIGHBOUR-' + state['serial'], host_name='neighbour',
                                                    power='On'), SYSTEM))
                    return self._send(200, doc, {'ETag': etag(doc)})
                if method != 'GET':
                    listener.server.bmc_act(listener.node_name, 'neighbour', device='%s %s' % (method, path))
                    return self._send(204)
                return self._send(404, _error('ResourceMissingAtURI', 'The resource at %s was not found.' % path))

            def _reset(self, doc, state):
                kind = (doc or {}).get('ResetType')
                ops = {'On': 'on', 'ForceOff': 'off', 'GracefulShutdown': 'soft', 'GracefulRestart': 'soft_restart',
                       'ForceRestart': 'cycle', 'PowerCycle': 'cycle'}
                if kind not in ops or kind not in (state['reset_types'] or RESET_TYPES):
                    return self._send(400, _error('ActionParameterValueNotInList',
                                                  'ResetType %r is not supported.' % kind))
                listener.server.bmc_act(listener.node_name, ops[kind], reset_type=kind)
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


def etag(doc):
    """A weak entity tag of a resource's current representation."""
    return 'W/"%s"' % hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def system_resource(state, path=SYSTEM):
    return {
        '@odata.id': path, '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem', 'Id': path.rsplit('/', 1)[-1],
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
        'Actions': {'#ComputerSystem.Reset': {'target': path + '/Actions/ComputerSystem.Reset',
                                              'ResetType@Redfish.AllowableValues': state.get('reset_types') or RESET_TYPES}},
    }
