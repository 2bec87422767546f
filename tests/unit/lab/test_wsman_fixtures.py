"""The lab's WS-Man replies against real Windows replies recorded in pywinrm's own test fixtures.

The fixture *requests* are sent to a running lab node; each reply must contain every element (by
namespace and path) and every attribute name that the recorded Windows reply has, and relate to the
request's MessageID.
"""

import ast
import base64
import os
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
import winrm

FIXTURES = os.path.join(os.path.dirname(winrm.__file__), 'tests', 'conftest.py')
A = '{http://schemas.xmlsoap.org/ws/2004/08/addressing}'


def fixtures():
    tree = ast.parse(open(FIXTURES).read())
    return dict((n.targets[0].id, n.value.value) for n in tree.body
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str))


def shape(xml_text):
    """Every element as (path of namespaced tags, attribute names)."""
    root = ET.fromstring(xml_text.strip().encode())
    out = set()

    def walk(node, path):
        here = path + (node.tag,)
        out.add((here, tuple(sorted(k for k in node.attrib if not k.startswith('{http://www.w3.org/XML/1998/namespace}')))))
        for child in node:
            walk(child, here)
    walk(root, ())
    return out


def message_id(xml_text):
    return ET.fromstring(xml_text.strip().encode()).find('.//%sMessageID' % A).text


def relates_to(xml_bytes):
    return ET.fromstring(xml_bytes).find('.//%sRelatesTo' % A).text


@pytest.fixture
def node(start_lab):
    state = start_lab('twonode')
    address = state['nodes']['EDGE-N1']['address']
    session = requests.Session()
    session.trust_env = False
    session.auth = ('LAB\\admin', state['password'])
    url = 'http://%s:5985/wsman' % address

    def post(xml_text):
        reply = session.post(url, data=xml_text.encode(), headers={'Content-Type': 'application/soap+xml;charset=UTF-8'})
        return reply
    return post


def check(reply, request_text, recorded_reply):
    assert reply.status_code == 200, reply.text
    assert reply.headers['Content-Type'].startswith('application/soap+xml')
    missing = shape(recorded_reply) - shape(reply.content.decode())
    assert not missing, 'lab reply lacks what Windows sends: %s' % sorted(missing)
    assert relates_to(reply.content).upper() == message_id(request_text).upper()


def test_shell_lifecycle_replies_match_recorded_windows_replies(node):
    fx = fixtures()
    fixed_shell = '11111111-1111-1111-1111-111111111113'

    def fresh(text):
        return text.replace('uuid:11111111-1111-1111-1111-111111111111', 'uuid:%s' % uuid.uuid4())

    req = fresh(fx['open_shell_request'])
    reply = node(req)
    check(reply, req, fx['open_shell_response'])
    shell_id = ET.fromstring(reply.content).find(".//*[@Name='ShellId']").text

    req = fresh(fx['run_cmd_req_input'].replace(fixed_shell, shell_id))
    reply = node(req)
    check(reply, req, fx['run_cmd_req_input_response'])
    command_id = next(e.text for e in ET.fromstring(reply.content).iter() if e.tag.endswith('CommandId'))

    req = fresh(fx['run_cmd_send_input'].replace(fixed_shell, shell_id)
                .replace('CommandId="11111111-1111-1111-1111-111111111111"', 'CommandId="%s"' % command_id)
                .replace('End="false"', 'End="true"'))
    check(node(req), req, fx['run_cmd_send_input_response'])

    req = fresh(fx['run_cmd_send_input_get_output'].replace(fixed_shell, shell_id)
                .replace('11111111-1111-1111-1111-111111111111"', '%s"' % command_id))
    reply = node(req)
    check(reply, req, fx['run_cmd_send_input_get_output_response'])
    # The lab runs only the shim: plain cmd fails the way an unknown program does, with an exit code.
    streams = [e for e in ET.fromstring(reply.content).iter() if e.tag.endswith('Stream') and e.text]
    assert b'runs only the wsfc.rolling PowerShell shim' in base64.b64decode(streams[0].text)

    req = fresh(fx['cleanup_cmd_request'].replace(fixed_shell, shell_id).replace('11111111-1111-1111-1111-1111111111%s4', command_id))
    check(node(req), req, fx['cleanup_cmd_response'])

    req = fresh(fx['close_shell_request'].replace(fixed_shell, shell_id))
    check(node(req), req, fx['close_shell_response'])

    # The shell is gone now: Windows answers such requests with fault 2150858843.
    req = fresh(fx['close_shell_request'].replace(fixed_shell, shell_id))
    reply = node(req)
    assert reply.status_code == 500 and b'Code="2150858843"' in reply.content


def test_unauthenticated_request_gets_401_offering_negotiate_and_basic(start_lab):
    state = start_lab('twonode')
    reply = requests.post('http://%s:5985/wsman' % state['cluster_address'], data=b'<x/>',
                          proxies={'http': None, 'https': None})
    assert reply.status_code == 401
    assert 'Negotiate' in reply.headers['WWW-Authenticate'] and 'Basic' in reply.headers['WWW-Authenticate']
