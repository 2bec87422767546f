"""A WS-Management (WinRM) endpoint speaking the protocol pywinrm talks.

One ``WsmanListener`` per node address and scheme (HTTP 5985 / HTTPS 5986). It implements the
shell resource (Create, Command, Send, Receive, Signal, Delete) with Basic and NTLM authentication
(NTLM with HTTP-SPNEGO session encryption), and runs the wsfc.rolling shim requests against the lab
model. Replies carry every element and attribute pywinrm reads; tests compare them with pywinrm's
recorded fixtures. A node that is down refuses connections: its listener is closed.
"""

import base64
import http.server
import json
import re
import socket
import ssl
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET

from . import ops
from .weather import FAULT_1018 as weather_fault

NS = {
    's': 'http://www.w3.org/2003/05/soap-envelope',
    'a': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'w': 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
    'rsp': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
    'x': 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
    'p': 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
}
ACTION = {
    'create': 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
    'delete': 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
    'command': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
    'send': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
    'receive': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
    'signal': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
}
SHELL_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'
STATE_DONE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done'
STATE_RUNNING = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running'
ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
ENVELOPE_OPEN = ('<s:Envelope xml:lang="en-US" xmlns:s="%(s)s" xmlns:a="%(a)s" xmlns:w="%(w)s" '
                 'xmlns:rsp="%(rsp)s" xmlns:x="%(x)s" xmlns:p="%(p)s">' % NS)
SPNEGO_PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted'
BOUNDARY = b'--Encrypted Boundary'

# [MS-WSMV] fault codes seen from Windows (windows-behaviour.md §15).
FAULT_TIMED_OUT = 2150858793
FAULT_UNKNOWN_SHELL = 2150858843
FAULT_UNKNOWN_COMMAND = 2150858882
FAULT_SHELLS_PER_USER = 2150859179      # ERROR_WSMAN_QUOTA_MAX_SHELLUSERS (wsmerror.h)
FAULT_ENVELOPE = 2150858824             # ERROR_WSMAN_MAX_ENVELOPE_SIZE_EXCEEDED (wsmerror.h); for a request: UNVERIFIED

# WinRM service settings a node has unless the scenario's ``winrm:`` says otherwise (windows-behaviour.md §15):
# winrm/config/winrs MaxShellsPerUser 30 and IdleTimeout 7,200,000 ms, winrm/config MaxEnvelopeSizekb 500.
WINRM_LIMITS = {'max_shells_per_user': 30, 'idle_timeout_seconds': 7200.0, 'max_envelope_kb': 500}

BOOTSTRAP_MARK = '# wsfc.rolling rpc bootstrap 2'
SHIM_MARK = '# wsfc.rolling rpc shim 1'
SEPARATOR = '#wsfc-rpc-request#'
RESULT_MARKER = 'WSFC-RPC-RESULT:'


class Fault(Exception):
    def __init__(self, code, subcode, reason, wsman_code):
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.wsman_code = code, subcode, reason, wsman_code


class Command:
    """One process in a shell. The wsfc.rolling bootstrap reads the shim up to the separator line, then runs one
    request per stdin line as it arrives (a warm process) until stdin ends; each answer is output once the
    request's Windows time has passed, the first paying for the PowerShell start."""

    def __init__(self, command_id, line):
        self.id = command_id
        self.line = line
        self.pending = ''           # stdin text not yet run: the shim before the separator, then a partial line
        self.shim = None            # the shim text, once the separator came
        self.defined_ops = set()
        self.requests = 0
        self.stderr_written = False
        self.busy_until = None      # lab time the last request's answer is due
        self.chunks = []            # output due and not yet received: [(stream, bytes)]
        self.exit_code = None
        self.done = threading.Event()


def xml_escape(text):
    return (str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;'))


class ShellHost:
    """The shells of one node: shells and commands live on the node, whichever listener served them."""

    def __init__(self, lab, node_name, limits=None):
        self.lab = lab
        self.node_name = node_name
        self.limits = dict(WINRM_LIMITS, **(limits or {}))
        self.shells = {}
        self.used = {}          # shell id -> lab time of its last request
        self.lock = threading.Lock()

    def reset(self):
        """A reboot or a power-off loses every shell."""
        with self.lock:
            self.shells.clear()
            self.used.clear()

    def _expire_idle(self):
        """Shells without a request for IdleTimeout are deleted by the service (a client that died
        leaves its shells behind until then). Called with ``self.lock`` held."""
        now = self.lab.clock.now()
        for shell_id, used in list(self.used.items()):
            if now - used > self.limits['idle_timeout_seconds']:
                self.shells.pop(shell_id, None)
                self.used.pop(shell_id, None)
                self.lab.recorder.record('winrm.shell_expired', node=self.node_name, shell=shell_id)

    # -- actions -----------------------------------------------------------------------------

    def create(self, endpoint):
        shell_id = str(uuid.uuid4()).upper()
        with self.lock:
            self._expire_idle()
            limit = self.limits['max_shells_per_user']
            if limit and len(self.shells) >= limit:
                # The lab has one user: every shell is that user's.
                self.lab.recorder.record('winrm.shell_quota', node=self.node_name, shells=len(self.shells))
                raise Fault('s:Receiver', 'w:QuotaLimit',
                            'The WS-Management service cannot process the request. This user is allowed a maximum '
                            'number of %d concurrent shells, which has been exceeded. Close existing shells or raise '
                            'the quota for this user. ' % limit, FAULT_SHELLS_PER_USER)
            self.shells[shell_id] = {}
            self.used[shell_id] = self.lab.clock.now()
        body = ('<x:ResourceCreated><a:Address>%s</a:Address><a:ReferenceParameters>'
                '<w:ResourceURI>%s</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector>'
                '</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>') % (xml_escape(endpoint), SHELL_URI, shell_id)
        return 'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse', body

    def _shell(self, shell_id):
        with self.lock:
            self._expire_idle()
            shell = self.shells.get(shell_id)
            if shell is not None:
                self.used[shell_id] = self.lab.clock.now()
        if shell is None:
            raise Fault('s:Sender', 'w:InvalidSelectors',
                        'The request for the Windows Remote Shell with ShellId %s failed because the shell was not '
                        'found on the server. Possible causes are: the specified ShellId is incorrect or the shell no '
                        'longer exists on the server. Provide the correct ShellId or create a new shell and retry the '
                        'operation. ' % shell_id, FAULT_UNKNOWN_SHELL)
        return shell

    def delete(self, shell_id):
        self._shell(shell_id)
        with self.lock:
            self.shells.pop(shell_id, None)
            self.used.pop(shell_id, None)
        return 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse', ''

    def command(self, shell_id, body):
        shell = self._shell(shell_id)
        line = body.find('.//rsp:CommandLine', NS)
        command = (line.findtext('rsp:Command', '', NS) or '').strip()
        arguments = (line.findtext('rsp:Arguments', '', NS) or '').strip()
        cmd = Command(str(uuid.uuid4()).upper(), (command + ' ' + arguments).strip())
        shell[cmd.id] = cmd
        self.lab.recorder.count('winrm.commands', self.node_name)
        if not self._is_bootstrap(cmd.line):
            # Only the collection's shim is executed; anything else fails as an unknown program would.
            self._finish(cmd, b'', ("'%s' is not recognized by the wsfc.rolling lab: it runs only the "
                                    "wsfc.rolling PowerShell shim.\r\n" % cmd.line[:60]).encode(), 1)
        body = '<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>' % cmd.id
        return 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse', body

    def send(self, shell_id, body):
        shell = self._shell(shell_id)
        stream = body.find('.//rsp:Stream', NS)
        cmd = shell.get(stream.get('CommandId', '').upper())
        if cmd is None:
            raise Fault('s:Sender', 'w:InvalidParameter', 'The command ID is not valid.', FAULT_UNKNOWN_COMMAND)
        end = stream.get('End', 'false').lower() == 'true'
        if not cmd.done.is_set() and cmd.exit_code is None:
            self._feed(cmd, base64.b64decode(stream.text) if stream.text else b'', end)
        return 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse', '<rsp:SendResponse/>'

    # Output is handed out in pieces of at most this many bytes, one piece per Receive, with CommandState
    # Running until the last: a client must gather every piece before it reads the result.
    CHUNK_BYTES = 8192

    def receive(self, shell_id, body, timeout):
        """``timeout``: wall seconds to wait for output (the request's OperationTimeout, in lab time,
        scaled); nothing by then gives the OperationTimeout fault and the client asks again."""
        shell = self._shell(shell_id)
        desired = body.find('.//rsp:DesiredStream', NS)
        cmd = shell.get(desired.get('CommandId', '').upper())
        if cmd is None:
            raise Fault('s:Sender', 'w:InvalidParameter', 'The command ID is not valid.', FAULT_UNKNOWN_COMMAND)
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                piece = cmd.chunks.pop(0) if cmd.chunks else None
                last = cmd.done.is_set() and not cmd.chunks
            if piece is not None or last:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.lab.recorder.count('winrm.operation_timeouts', self.node_name)
                raise Fault('s:Receiver', 'w:TimedOut', 'The WS-Management service cannot complete the operation '
                            'within the time specified in OperationTimeout.  ', FAULT_TIMED_OUT)
            self.lab.tick()     # let lab time reach the output without waiting for the clock thread
            cmd.done.wait(min(0.002, remaining))
        parts = []
        if piece is not None:
            parts.append('<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>'
                         % (piece[0], cmd.id, base64.b64encode(piece[1]).decode()))
        if last:
            for name in ('stdout', 'stderr'):
                parts.append('<rsp:Stream Name="%s" CommandId="%s" End="true"></rsp:Stream>' % (name, cmd.id))
            parts.append('<rsp:CommandState CommandId="%s" State="%s"><rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState>'
                         % (cmd.id, STATE_DONE, cmd.exit_code))
        else:
            parts.append('<rsp:CommandState CommandId="%s" State="%s"/>' % (cmd.id, STATE_RUNNING))
        body = '<rsp:ReceiveResponse>%s</rsp:ReceiveResponse>' % ''.join(parts)
        return 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse', body

    def signal(self, shell_id, body):
        shell = self._shell(shell_id)
        sig = body.find('.//rsp:Signal', NS)
        shell.pop(sig.get('CommandId', '').upper(), None)
        return 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse', '<rsp:SignalResponse/>'

    # -- execution ---------------------------------------------------------------------------

    @staticmethod
    def _is_bootstrap(line):
        match = re.search(r'-EncodedCommand\s+([A-Za-z0-9+/=]+)', line, re.I)
        if not match or not line.lower().startswith('powershell'):
            return False
        try:
            script = base64.b64decode(match.group(1)).decode('utf-16-le')
        except (ValueError, UnicodeDecodeError):
            return False
        return script.startswith(BOOTSTRAP_MARK)

    def _output(self, cmd, stdout, stderr, seconds=0.0, rc=None):
        """Output that appears ``seconds`` of lab time after the process's previous output was due (requests
        run one after the other); with ``rc``, the process then ends with that exit code."""
        now = self.lab.clock.now()
        due = max(now, cmd.busy_until if cmd.busy_until is not None else now) + max(seconds, 0.0)
        cmd.busy_until = due
        if rc is not None:
            cmd.exit_code = rc

        def appear():
            # What the request wrote to the host (warnings, on stderr) came while it ran, before its answer line.
            with self.lock:
                cmd.chunks += [('stderr', stderr[i:i + self.CHUNK_BYTES]) for i in range(0, len(stderr), self.CHUNK_BYTES)]
                cmd.chunks += [('stdout', stdout[i:i + self.CHUNK_BYTES]) for i in range(0, len(stdout), self.CHUNK_BYTES)]
            if rc is not None:
                cmd.done.set()
        if due <= now:
            appear()
            return
        with self.lab.lock:
            self.lab.clock.after(due - now, appear)

    def _finish(self, cmd, stdout, stderr, rc):
        """The process ends now with this output (a program the lab does not run, a broken bootstrap input)."""
        self._output(cmd, stdout, stderr, rc=rc)

    def _feed(self, cmd, data, end):
        """stdin for the bootstrap: the shim up to the separator line, then one request per line."""
        cmd.pending += data.decode('ascii', 'replace').replace('\r\n', '\n')
        if cmd.shim is None:
            if SEPARATOR not in cmd.pending:
                if end:
                    self._finish(cmd, b'', b'wsfc.rolling bootstrap: no request separator on stdin\r\n', 2)
                return
            shim, cmd.pending = cmd.pending.split(SEPARATOR, 1)
            if not shim.lstrip().startswith(SHIM_MARK):
                self._finish(cmd, b'', b'the lab runs only the wsfc.rolling shim\r\n', 1)
                return
            cmd.shim, cmd.defined_ops = shim, ops.shim_operations(shim)
        while '\n' in cmd.pending:
            line, cmd.pending = cmd.pending.split('\n', 1)
            if line.strip():
                self._run(cmd, line.strip())
        if end:
            if cmd.pending.strip():
                self._run(cmd, cmd.pending.strip())
            cmd.pending = ''
            self._output(cmd, b'', b'', rc=0)      # the bootstrap ends once stdin does

    def _run(self, cmd, request_b64):
        node = self.lab.machine(self.node_name)
        try:
            request = json.loads(base64.b64decode(request_b64, validate=True).decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as exc:
            request = None
            response = {'protocol': 1, 'computer': node.name, 'results': [], 'fatal': str(exc)}
        else:
            response = ops.execute(self.lab, node, request, cmd.defined_ops)
            if isinstance(request, dict) and request.get('nonce') is not None:
                response['nonce'] = str(request['nonce'])
        raw = json.dumps(response, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        line = RESULT_MARKER + base64.b64encode(raw).decode('ascii') + '\r\n'
        warnings = ops.host_warnings(request) if isinstance(request, dict) else []
        first = cmd.requests == 0
        cmd.requests += 1
        self.lab.recorder.count('winrm.requests', self.node_name)
        stderr = clixml_warnings(warnings, header=not cmd.stderr_written)
        cmd.stderr_written = cmd.stderr_written or bool(stderr)
        self._output(cmd, line.encode('ascii'), stderr, ops.request_seconds(self.lab, request, start=first))


def clixml_warnings(warnings, header=True):
    """Warnings as powershell.exe writes them to a redirected stderr (CLIXML: the header line once per
    process, then the records), b'' for none."""
    if not warnings:
        return b''
    body = ''.join('<S S="warning">%s_x000D__x000A_</S>' % xml_escape(w) for w in warnings)
    return (('#< CLIXML\r\n' if header else '') +
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">%s</Objs>' % body).encode('utf-8')


def envelope(action, relates_to, body):
    return ('<?xml version="1.0" encoding="utf-8"?>' + ENVELOPE_OPEN +
            '<s:Header><a:Action>%s</a:Action><a:MessageID>uuid:%s</a:MessageID><a:To>%s</a:To>'
            '<a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>%s</s:Body></s:Envelope>'
            % (action, str(uuid.uuid4()).upper(), ANONYMOUS, relates_to, body)).encode('utf-8')


def fault_envelope(relates_to, fault, machine):
    body = ('<s:Fault><s:Code><s:Value>%s</s:Value><s:Subcode><s:Value>%s</s:Value></s:Subcode></s:Code>'
            '<s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason><s:Detail>'
            '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="%d" Machine="%s">'
            '<f:Message>%s</f:Message></f:WSManFault></s:Detail></s:Fault>'
            % (fault.code, fault.subcode, xml_escape(fault.reason), fault.wsman_code, xml_escape(machine),
               xml_escape(fault.reason)))
    return envelope('http://schemas.dmtf.org/wbem/wsman/1/wsman/fault', relates_to, body)


def parse_operation_timeout(text, default=20.0):
    match = re.match(r'PT([0-9.]+)S', text or '')
    return float(match.group(1)) if match else default


class WsmanHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''
    disable_nagle_algorithm = True  # otherwise ~40 ms per request (Nagle and delayed ACKs on small replies)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    # -- HTTP plumbing -----------------------------------------------------------------------

    def _reply(self, status, body=b'', headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _unauthorized(self, challenge=None):
        listener = self.server.listener
        headers = {}
        if challenge is not None:
            headers['WWW-Authenticate'] = challenge
        else:
            offers = []
            if 'ntlm' in listener.auth:
                offers.append('Negotiate')
            if 'basic' in listener.auth:
                offers.append('Basic realm="WSMAN"')
            headers['WWW-Authenticate'] = ', '.join(offers)
        self._reply(401, b'', headers)

    def _reset(self):
        """Abort the connection: the peer sees a reset (RST), not an orderly close."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        self.close_connection = True
        self.connection.close()

    def handle(self):
        self.epoch = self.server.listener.epoch
        if self.server.listener.mode == 'reset':
            self._reset()
            return
        super().handle()

    def do_POST(self):  # noqa: N802 - http.server naming
        listener = self.server.listener
        if listener.mode != 'up' or self.epoch != listener.epoch:
            # A connection opened before the node went away: while it is off or booting nothing
            # answers (the client's read times out); once it is back, or shutting down, the old
            # connection is reset.
            while listener.mode == 'dark' and not listener.closed:
                time.sleep(0.02)
            self._reset()
            return
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        listener.lab.recorder.count('winrm.http', listener.node_name)
        if self.path.split('?')[0].lower() != '/wsman':
            self._reply(404)
            return
        auth = self.headers.get('Authorization', '')
        ctype = self.headers.get('Content-Type', '')
        if auth.startswith('Basic ') and 'basic' in listener.auth:
            if self._unencrypted_refused():
                return
            try:
                user, dummy, password = base64.b64decode(auth[6:]).decode('utf-8').partition(':')
            except (ValueError, UnicodeDecodeError):
                self._unauthorized()
                return
            if not listener.check_password(user, password):
                self._unauthorized()
                return
            self._dispatch(raw, encrypt=False)
            return
        if (auth.startswith('Negotiate ') or auth.startswith('NTLM ')) and 'ntlm' in listener.auth:
            self._ntlm_step(auth, raw)
            return
        if getattr(self, 'ntlm_ctx', None) is not None and self.ntlm_ctx.complete:
            if 'multipart/encrypted' in ctype:
                self._dispatch(self._unwrap(raw), encrypt=True)
            elif not self._unencrypted_refused():
                self._dispatch(raw, encrypt=False)
            return
        self._unauthorized()

    def _unencrypted_refused(self):
        """AllowUnencrypted false (the service default): a message over HTTP without message encryption is
        refused with 401 (windows-behaviour.md §15; the status is what clients report, UNVERIFIED)."""
        listener = self.server.listener
        if listener.scheme != 'http' or listener.allow_unencrypted:
            return False
        self._unauthorized()
        return True

    # -- NTLM (pyspnego acceptor; the context belongs to this TCP connection) ---------------

    def _ntlm_step(self, auth, raw):
        import spnego
        scheme, dummy, token = auth.partition(' ')
        try:
            data = base64.b64decode(token)
            if data[8:12] == b'\x01\x00\x00\x00':  # NEGOTIATE_MESSAGE starts a new context
                self.ntlm_ctx = spnego.server(protocol='ntlm')
            out = self.ntlm_ctx.step(data)
        except Exception:  # noqa: BLE001 - any NTLM failure is an authentication failure
            self.ntlm_ctx = None
            self._unauthorized()
            return
        if not self.ntlm_ctx.complete:
            self._unauthorized('%s %s' % (scheme, base64.b64encode(out).decode()))
            return
        if raw:
            ctype = self.headers.get('Content-Type', '')
            if 'multipart/encrypted' in ctype:
                self._dispatch(self._unwrap(raw), encrypt=False)
            elif not self._unencrypted_refused():
                self._dispatch(raw, encrypt=False)
        else:
            self._reply(200, b'')

    def _unwrap(self, raw):
        parts = [p for p in raw.split(BOUNDARY + b'\r\n') if p]
        payload = parts[1]
        if payload.endswith(BOUNDARY + b'--\r\n'):
            payload = payload[:-len(BOUNDARY + b'--\r\n')]
        payload = payload.replace(b'\tContent-Type: application/octet-stream\r\n', b'', 1)
        sig_len = struct.unpack('<i', payload[:4])[0]
        signature, sealed = payload[4:4 + sig_len], payload[4 + sig_len:]
        return self.ntlm_ctx.unwrap(signature + sealed).data

    def _wrap(self, message):
        wrapped = self.ntlm_ctx.wrap(message).data
        signature, sealed = wrapped[:16], wrapped[16:]
        return (BOUNDARY + b'\r\n\tContent-Type: ' + SPNEGO_PROTOCOL.encode() + b'\r\n'
                b'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=' + str(len(message)).encode() +
                b'\r\n' + BOUNDARY + b'\r\n\tContent-Type: application/octet-stream\r\n' +
                struct.pack('<i', len(signature)) + signature + sealed + BOUNDARY + b'--\r\n')

    def _drop_fault(self, node_name):
        """Fault 'winrm_drop': the node drops the connection without answering; the command itself
        keeps running on the node (what a network blip or a WinRM service restart looks like)."""
        lab = self.server.listener.lab
        with lab.lock:
            drops = lab.faults.get('winrm_drop') or {}
            if drops.get(node_name, 0) <= 0:
                return False
            drops[node_name] -= 1
            lab.recorder.record('fault.winrm_drop', node=node_name)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    # -- SOAP --------------------------------------------------------------------------------

    def _dispatch(self, raw, encrypt):
        listener = self.server.listener
        relates_to = ''
        host = listener.shell_host()
        try:
            limit = host.limits['max_envelope_kb'] * 1024 if host is not None else 0
            if limit and len(raw) > limit:
                # MaxEnvelopeSizekb also bounds the requests the service processes ([MS-WSMV] 2.2.4.10).
                raise Fault('s:Sender', 'w:EncodingLimit', 'The WS-Management service cannot process the request '
                            'because the request is larger than MaxEnvelopeSizekb (%d KB). ' % (limit // 1024),
                            FAULT_ENVELOPE)
            root = ET.fromstring(raw)
            header = root.find('s:Header', NS)
            body = root.find('s:Body', NS)
            action = header.findtext('a:Action', '', NS).strip()
            relates_to = header.findtext('a:MessageID', '', NS).strip()
            selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
            shell_id = selector.text.strip().upper() if selector is not None else None
            timeout = parse_operation_timeout(header.findtext('w:OperationTimeout', '', NS))
            if host is None:
                raise Fault('s:Receiver', 'w:InternalError', 'The cluster name has no owner node.', 2150858770)
            weather = listener.lab.weather
            if (action in (ACTION['create'], ACTION['command']) and weather is not None
                    and weather.happens('winrm_fault', node=host.node_name)):
                raise Fault('s:Receiver', 'w:InternalError', weather_fault[0], weather_fault[1])
            if action == ACTION['create']:
                reply_action, reply_body = host.create(listener.endpoint)
            elif action == ACTION['delete']:
                reply_action, reply_body = host.delete(shell_id)
            elif action == ACTION['command']:
                reply_action, reply_body = host.command(shell_id, body)
            elif action == ACTION['send']:
                reply_action, reply_body = host.send(shell_id, body)
            elif action == ACTION['receive']:
                if self._drop_fault(host.node_name):
                    return
                if weather is not None and weather.happens('reset', node=host.node_name):
                    self._reset()
                    return
                # OperationTimeout is Windows time; the lab's clock runs clock_scale times faster.
                wait = timeout / listener.lab.clock.scale
                reply_action, reply_body = host.receive(shell_id, body, min(wait, listener.max_receive_wait))
            elif action == ACTION['signal']:
                reply_action, reply_body = host.signal(shell_id, body)
            else:
                raise Fault('s:Sender', 'a:ActionNotSupported', 'The action is not supported by the service.', 2150858754)
            status, payload = 200, envelope(reply_action, relates_to, reply_body)
        except Fault as fault:
            status, payload = 500, fault_envelope(relates_to, fault, listener.address)
        except ET.ParseError:
            status, payload = 400, b''
        ctype = 'application/soap+xml;charset=UTF-8'
        if encrypt:
            payload = self._wrap(payload)
            ctype = 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % SPNEGO_PROTOCOL
        self._reply(status, payload, {'Content-Type': ctype})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, listener):
        self.listener = listener
        self.connections = set()
        super().__init__(address, WsmanHandler)

    def get_request(self):
        sock, addr = super().get_request()
        self.connections.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        self.connections.discard(request)
        super().shutdown_request(request)


class WsmanListener:
    """One listening socket (address, port, scheme) in front of a node's shells.

    ``route`` returns the ShellHost to serve: the node's own, or for the cluster-name address the
    shells of the node that owns the core cluster group.
    """

    def __init__(self, lab, address, port, route, node_name, scheme='http', tls=None, users=None,
                 auth=('ntlm',), max_receive_wait=5.0, allow_unencrypted=False):
        self.lab = lab
        self.address = address
        self.port = port
        self.route = route
        self.node_name = node_name
        self.scheme = scheme
        self.tls = tls
        self.users = users or {}
        self.auth = auth
        self.max_receive_wait = max_receive_wait
        self.allow_unencrypted = allow_unencrypted
        self.mode = 'down'          # up | reset | dark | down (stopped: connections refused)
        self.epoch = 0              # connections from an earlier epoch are reset
        self.closed = False
        self._server = None
        self._thread = None
        self._dark = []             # the listening socket with a full backlog, and what fills it
        self._lock = threading.Lock()

    @property
    def endpoint(self):
        return '%s://%s:%d/wsman' % (self.scheme, self.address, self.port)

    @property
    def listening(self):
        return self._server is not None and self.mode == 'up'

    def set_mode(self, mode):
        """up: served; reset: connections accepted and reset (the OS is shutting down); dark: nothing
        answers, a connection attempt times out (powered off, POST, booting). A dark address listens
        with a backlog of 0 that one idle connection fills, so the kernel drops every further SYN."""
        if mode not in ('up', 'reset', 'dark'):
            raise ValueError(mode)
        if mode != 'up' and mode != self.mode:
            self.epoch += 1
        if mode == 'dark':
            self._stop_server(drop_connections=False)
            self.mode = 'dark'
            self._go_dark()
            return
        self._end_dark()
        self.mode = mode
        self.start()

    def _go_dark(self):
        with self._lock:
            if self._dark:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.address, self.port))
            except OSError:
                sock.close()
                return
            sock.listen(0)
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(1.0)
            try:
                filler.connect((self.address, self.port))
            except OSError:
                pass
            self._dark = [sock, filler]

    def _end_dark(self):
        with self._lock:
            dark, self._dark = self._dark, []
        for sock in dark:
            try:
                sock.close()
            except OSError:
                pass

    def shell_host(self):
        return self.route()

    def check_password(self, user, password):
        key = user.lower()
        if '\\' in key:
            key = key.split('\\', 1)[1]
        if '@' in key:
            key = key.split('@', 1)[0]
        return key in self.users and self.users[key] == password

    def start(self):
        if self.mode in ('down', 'dark'):
            self._end_dark()
            self.mode = 'up'
        with self._lock:
            if self._server is not None:
                return
            server = _Server((self.address, self.port), self)
            if self.scheme == 'https':
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.tls['cert'], self.tls['key'])
                server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                                            name='wsman-%s:%d' % (self.address, self.port), daemon=True)
            self._thread.start()

    def stop(self):
        """Close the listening socket and every open connection (connections are then refused)."""
        self.closed = True
        self.mode = 'down'
        self._end_dark()
        self._stop_server()

    def _stop_server(self, drop_connections=True):
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for sock in list(server.connections) if drop_connections else []:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
