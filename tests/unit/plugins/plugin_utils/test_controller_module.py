"""The modules run inside the controller's worker: arguments, results, no_log and check mode as shipped."""

import pytest

from ansible_collections.wsfc.rolling.plugins.module_utils import _module, _wait
from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import runner
from ansible_collections.wsfc.rolling.plugins.plugin_utils.controller_module import run_module_in_worker

pytestmark = pytest.mark.unit


def test_an_unknown_argument_fails_the_task_naming_it():
    result = run_module_in_worker('cluster_info', {'winrm_host': 'n1', 'winrm_user': 'u', 'winrm_password': 'Pa55word!',
                                                   'wrong_option': 1}, check_mode=False)
    assert result['failed'] is True
    assert 'wrong_option' in result['msg'] and 'wsfc.rolling.cluster_info' in result['msg']


def test_a_bad_choice_is_named_before_anything_is_sent():
    result = run_module_in_worker('cluster_lock', {'winrm_host': 'n1', 'winrm_user': 'u', 'winrm_password': 'Pa55word!',
                                                   'state': 'held'}, check_mode=False)
    assert result['failed'] is True
    assert 'state' in result['msg'] and 'held' in result['msg']


def test_collection_errors_keep_their_type_and_no_log_values_are_masked():
    # An insecure connection is refused before any request; the message names the host, which here is
    # (contrived) the same text as the password: the result must not show it.
    result = run_module_in_worker('cluster_info', {'winrm_host': 'S3cretPassw0rd', 'winrm_user': 'u',
                                                   'winrm_password': 'S3cretPassw0rd', 'winrm_scheme': 'http',
                                                   'winrm_transport': 'basic'}, check_mode=False)
    assert result['failed'] is True
    assert result['error_type'] == 'InvalidOption'
    assert 'S3cretPassw0rd' not in repr(result)
    assert '********' in result['msg']


def test_environment_fallbacks_apply(monkeypatch):
    monkeypatch.setenv('WSFC_WINRM_HOST', 'node-from-env')
    monkeypatch.setenv('WSFC_WINRM_SCHEME', 'http')
    result = run_module_in_worker('cluster_info', {'winrm_user': 'u', 'winrm_password': 'Pa55word!', 'winrm_transport': 'basic'},
                                  check_mode=False)
    assert result['failed'] is True
    assert 'node-from-env' in result['msg']


def test_the_module_keeps_its_own_ansible_module_after_the_run():
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.wsfc.rolling.plugins.modules import cluster_info
    run_module_in_worker('cluster_info', {'wrong_option': 1}, check_mode=False)
    assert cluster_info.AnsibleModule is AnsibleModule


def test_a_task_run_again_in_the_same_process_starts_without_the_last_ones_callbacks_and_warnings():
    """until/retries run the action again in the same worker: the heartbeat must not be registered twice."""
    class Module(object):
        params = {}
        check_mode = False

        def __init__(self):
            self.warnings = []

        def warn(self, text):
            self.warnings.append(text)

        def exit_json(self, **result):
            raise SystemExit(0)

    _wait.on_poll(lambda: None)
    runner.note_remote_warning('left over from the last try')
    module = Module()
    with pytest.raises(SystemExit):
        _module.run_module(module, lambda m: {})
    assert _wait._on_poll == []
    assert module.warnings == []
