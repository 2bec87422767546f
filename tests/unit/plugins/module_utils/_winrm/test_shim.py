from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _shim
from unit.powershell import syntax_errors

HOSTILE = st.one_of(
    st.text(),
    st.sampled_from(["'; Remove-Item C:\\ -Recurse; '", '$(Stop-Computer -Force)', "'@\nStop-Computer\n@'",
                     '"@\n$(calc)\n"@', '`"; exit 1', '#wsfc-rpc-request#', 'WSFC-RPC-RESULT:AAAA',
                     'ノード\u202e\x00\r\n', '${env:PATH}', '@(1,2)|%{$_}']),
)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | HOSTILE,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE, inner, max_size=4),
                       max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(op=HOSTILE, params=st.dictionaries(HOSTILE, JSONISH, max_size=5))
def test_hostile_values_reach_powershell_only_as_base64_data(op, params):
    encoded = _shim.encode_request([(op, params), ('cluster.nodes', {'names': [op]})])
    payload = _shim.stdin_payload(encoded).decode('ascii')
    code, data = payload.split('\n' + _shim.REQUEST_SEPARATOR + '\n')
    # What becomes PowerShell source is exactly the fixed shim: nothing of the request is in it.
    assert code == _shim.SHIM
    # What follows the separator is plain base64, which has no quote, $, backtick, @ or newline.
    assert set(data.strip()) <= set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=')
    decoded = _shim.decode_request(data.strip())
    assert decoded['calls'][0] == {'id': 0, 'op': op, 'params': params}
    assert decoded['calls'][1]['params'] == {'names': [op]}


def test_command_line_is_constant_and_short():
    exe, args = _shim.powershell_command()
    assert exe == 'powershell.exe'
    assert _shim.powershell_command() == (exe, args)
    # CreateProcess refuses command lines over 32767 characters; the shim travels on stdin instead.
    assert len(exe + ' ' + ' '.join(args)) < 2000
    encoded = args[args.index('-EncodedCommand') + 1]
    assert base64.b64decode(encoded).decode('utf-16-le') == _shim.BOOTSTRAP


def test_shim_is_ascii_and_cannot_be_split_by_its_own_separator():
    _shim.SHIM.encode('ascii')
    _shim.BOOTSTRAP.encode('ascii')
    assert _shim.REQUEST_SEPARATOR not in _shim.SHIM
    # The bootstrap splits on the same separator the Python side writes.
    assert "'%s'" % _shim.REQUEST_SEPARATOR in _shim.BOOTSTRAP
    assert "'%s'" % _shim.RESULT_MARKER in _shim.SHIM


def test_syntax_check_catches_broken_powershell():
    broken = _shim.SHIM.replace("$WsfcOperations['cluster.get'] = {", "$WsfcOperations['cluster.get'] = ", 1)
    assert syntax_errors(broken)
    assert syntax_errors('function f( { $x = ')


def test_parse_output_finds_the_result_line_among_noise():
    doc = {'protocol': 1, 'computer': 'N1', 'results': [{'id': 0, 'op': 'x', 'ok': True, 'value': ['ä']}]}
    stdout = ('WARNING: something\r\n' + _shim.encode_response(doc) + '\r\n').encode()
    assert _shim.parse_output(stdout, b'', 0, 'ep') == doc


def test_parse_output_without_result_reports_clixml_error_text():
    stderr = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              '<S S="Error">The term \'x\' is not recognized_x000D__x000A_</S></Objs>')
    with pytest.raises(RemoteCommandError, match="exited with code 1 and no result: The term 'x' is not recognized"):
        _shim.parse_output(b'', stderr.encode(), 1, 'https://n1:5986/wsman')


def test_parse_output_reports_fatal_request_error():
    line = _shim.encode_response({'protocol': 1, 'results': [], 'fatal': 'Invalid JSON primitive'})
    with pytest.raises(RemoteCommandError, match='could not run the request: Invalid JSON primitive'):
        _shim.parse_output(line.encode(), b'', 0, 'ep')


def test_request_document_shape():
    doc = json.loads(base64.b64decode(_shim.encode_request([('a', None)], stop_on_error=True)))
    assert doc == {'protocol': 1, 'stop_on_error': True, 'calls': [{'id': 0, 'op': 'a', 'params': {}}]}


def test_an_answer_is_read_only_once_its_line_is_whole_and_only_for_its_nonce():
    mine = _shim.encode_response({'protocol': 1, 'nonce': 'n2', 'results': []})
    other = _shim.encode_response({'protocol': 1, 'nonce': 'n1', 'results': []})
    assert _shim.find_result((other + '\r\n' + mine[:20]).encode(), 'ep', 'n2') is None
    assert _shim.find_result((other + '\r\n' + mine + '\r\n').encode(), 'ep', 'n2')['nonce'] == 'n2'
    assert _shim.find_result((other + '\r\n').encode(), 'ep', 'n2') is None


def test_warnings_of_a_warm_process_are_read_without_the_clixml_header():
    later = ('<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             '<S S="warning">Node &amp; disk_x000D__x000A_</S></Objs>'
             '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             '<S S="warning">second</S></Objs>')
    assert _shim.host_warnings(later.encode()) == ['Node & disk', 'second']
    assert _shim.host_warnings(('#< CLIXML\r\n' + later).encode()) == ['Node & disk', 'second']
