# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell as RPC: the fixed shim text and the request/response encoding.

How a round trip works:

1. The runner starts ``powershell.exe ... -EncodedCommand <BOOTSTRAP>`` once per shell. The bootstrap is
   tiny and constant, so the command line stays far below the 32767-character CreateProcess limit
   however large the shim grows.
2. Its first write to the process's stdin (WS-Man Send) is ``SHIM``, a separator line, and the first
   request as one line of base64(request JSON); every later round trip writes one more request line.
   The bootstrap turns the shim into a script block once and runs it for each line, passing the line
   as a *string argument*. User values only ever live inside that base64 string: no user text is
   part of PowerShell source, whatever quotes, ``$(...)`` or ``'@`` it holds. The process stays warm
   (powershell.exe started and FailoverClusters loaded once) until the runner deletes the shell.
3. The shim decodes the request, runs each operation, projects the results to plain strings and
   numbers itself (Windows PowerShell 5.1 ``ConvertTo-Json`` would write enums as integers, dates as
   ``\\/Date(ms)\\/``, unwrap one-element arrays and cut at depth 2) and prints one line:
   ``RESULT_MARKER + base64(UTF-8 JSON)``, with the request's nonce inside. Base64 keeps the output
   immune to the console code page.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import re

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError
# The PowerShell itself lives in powershell/*.ps1 (bootstrap.ps1: started with -EncodedCommand, reads the
# shim and the request from stdin; shim/*.ps1 joined in name order: the one script that runs cluster
# operations, ASCII only; windows-update-task.ps1: written to the node by 'wu.start' and run there as
# SYSTEM, because the Windows Update Agent refuses to download and install from a WinRM session).
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm._powershell import BOOTSTRAP, SHIM

PROTOCOL = 1
# Operations that may simply be sent again when the connection dropped before their answer came:
# reads, and 'wu.start', which finds the job it already started by its id. Everything else changes
# the cluster; after a drop the caller re-reads the state before deciding.
SAFE_TO_REPEAT = frozenset((
    'cluster.get', 'cluster.quorum', 'cluster.nodes', 'cluster.groups', 'cluster.csv', 'cluster.vm_move_policy',
    'cluster.vm_migration',
    'storage.pools', 'storage.virtualdisks', 'storage.jobs', 'cau.role', 'cau.run_state', 'cau.scan',
    'lock.read', 'node.capacity', 'node.boot', 'wu.start', 'wu.status', 'node.config', 'vm.list',
    'node.media', 'node.os_upgrade_status', 'capture.read',
    # Writes the same text again: the same outcome.
    'capture.write',
))
# Operations whose cmdlets reach other nodes and so need a delegated credential from a WinRM
# session (windows-behaviour.md §2), with the cmdlet named in the error when there is none.
NEEDS_DELEGATION = {
    'cluster.node.remove': 'Remove-ClusterNode', 'cluster.node.add': 'Add-ClusterNode',
    'cluster.group.move': 'Move-ClusterVirtualMachineRole',
}
REQUEST_SEPARATOR = '#wsfc-rpc-request#'
RESULT_MARKER = 'WSFC-RPC-RESULT:'


def encode_request(calls, stop_on_error=False, delegate=None, expect_computer=None, expect_node_id=None, nonce=None):
    """Encode calls as the base64 request the shim decodes.

    Args:
        calls: list of ``(op, params)``; params is a dict of JSON-serialisable values.
        stop_on_error: stop at the first failed call (for dependent mutations).
        delegate: ``{'user', 'password'}`` for the scheduled task that runs the operations in
            NEEDS_DELEGATION, or None.
        expect_computer: the computer name the endpoint must have; on any other machine the shim
            runs none of the calls and answers with an ``identity`` record instead.
        expect_node_id: with it, also the cluster node id the endpoint must have while its cluster
            service runs (a node of the same name in another cluster is refused the same way).

    Returns:
        ASCII base64 text of the UTF-8 JSON request.
    """
    request = {
        'protocol': PROTOCOL,
        'stop_on_error': bool(stop_on_error),
        'calls': [{'id': i, 'op': op, 'params': params or {}} for i, (op, params) in enumerate(calls)],
    }
    if delegate:
        request['delegate'] = delegate
    if nonce:
        request['nonce'] = str(nonce)
    if expect_computer:
        request['expect'] = {'computer': expect_computer}
        if expect_node_id:
            request['expect']['node_id'] = str(expect_node_id)
    raw = json.dumps(request, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return base64.b64encode(raw).decode('ascii')


def decode_request(request_b64):
    """Inverse of ``encode_request`` (what the shim does first); used by tests and the lab."""
    return json.loads(base64.b64decode(request_b64.encode('ascii'), validate=True).decode('utf-8'))


def stdin_payload(request_b64, with_shim=True):
    """The bytes written to powershell.exe's stdin: the shim and the separator first, then a request line."""
    head = SHIM + '\n' + REQUEST_SEPARATOR + '\n' if with_shim else ''
    return (head + request_b64 + '\n').encode('ascii')


def powershell_command():
    """The executable and arguments of one round trip (the bootstrap as -EncodedCommand)."""
    encoded = base64.b64encode(BOOTSTRAP.encode('utf-16-le')).decode('ascii')
    return 'powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass',
                              '-EncodedCommand', encoded]


def encode_response(response):
    """Render a response document the way the shim prints it (used by the lab and tests)."""
    raw = json.dumps(response, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return RESULT_MARKER + base64.b64encode(raw).decode('ascii')


def find_result(stdout, endpoint, nonce=None, complete=False):
    """The decoded answer to the request ``nonce`` in the output so far, or None while its line is not complete
    (``complete``: the process ended, its last line is whole). Answers naming another nonce (an interrupted
    request's) are passed over.

    Raises:
        RemoteCommandError: an unreadable result line, or the shim's fatal decoding error.
    """
    text = stdout.decode('utf-8', 'replace') if isinstance(stdout, bytes) else stdout
    for line in text.splitlines(True):
        if not line.endswith('\n') and not complete:
            break       # the rest of this line is still on its way
        line = line.strip()
        if not line.startswith(RESULT_MARKER):
            continue
        try:
            doc = json.loads(base64.b64decode(line[len(RESULT_MARKER):]).decode('utf-8'))
        except (ValueError, TypeError) as exc:
            raise RemoteCommandError('Unreadable result from %s: %s' % (endpoint, exc))
        if nonce is not None and doc.get('nonce') not in (None, str(nonce)):
            continue
        if doc.get('fatal'):
            raise RemoteCommandError('The PowerShell shim on %s could not run the request: %s' % (endpoint, doc['fatal']))
        return doc
    return None


def parse_output(stdout, stderr, rc, endpoint, nonce=None):
    """The shim's answer in the output of a command that ended (or whose answer came).

    Raises:
        RemoteCommandError: no result line (PowerShell failed before or around the shim), or the
            shim reported a fatal decoding error.
    """
    doc = find_result(stdout, endpoint, nonce, complete=True)
    if doc is not None:
        return doc
    err = stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else (stderr or '')
    raise RemoteCommandError('PowerShell on %s exited with code %s and no result: %s'
                             % (endpoint, rc, clixml_to_text(err).strip() or '(no error output)'))


CLIXML_STRING = re.compile(r'<S S="([A-Za-z]+)">(.*?)</S>', re.S)
CLIXML_ESCAPE = re.compile(r'_x([0-9A-Fa-f]{4})_')


def clixml_streams(text):
    """The strings of each stream in PowerShell's ``#< CLIXML`` stderr, e.g. ``{'error': [...],
    'warning': [...]}`` (stream names lower-cased); ``{'error': [text]}`` for plain text.

    PowerShell writes the ``#< CLIXML`` line once per process and then one ``<Objs>`` document per record, so
    the output of a warm process's later requests has records without the line: they are read all the same.
    """
    if '<Objs' not in text:
        return {'error': [text]} if text else {}
    streams = {}
    for name, value in CLIXML_STRING.findall(text):
        value = CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        value = value.replace('&lt;', '<').replace('&gt;', '>').replace('&quot;', '"').replace('&amp;', '&')
        streams.setdefault(name.lower(), []).append(value)
    return streams


def clixml_to_text(text):
    """Turn PowerShell's ``#< CLIXML`` stderr into plain text (the error-stream strings)."""
    return ''.join(clixml_streams(text).get('error', []))


def host_warnings(stderr):
    """The warnings PowerShell wrote to the host (CLIXML on stderr), one string each, trimmed.

    FailoverClusters cmdlets write some in remote sessions; they are not failures (the result line
    decides that) and are passed on to the module result as warnings.
    """
    text = stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else (stderr or '')
    return [w.strip() for w in clixml_streams(text).get('warning', []) if w.strip()]
