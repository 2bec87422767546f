"""The runbooks' option checks, by the names users set."""

from ansible_collections.wsfc.rolling.plugins.filter.runbook import FilterModule
from ansible_collections.wsfc.rolling.plugins.module_utils._runbook import option_errors

NODES = ['HV-N1', 'HV-N2', 'HV-N3', 'HV-N4']


def test_good_defaults_pass_and_the_filter_is_registered():
    assert FilterModule().filters()['option_errors'] is option_errors
    assert option_errors({'rolling_update_drain_timeout': 1800, 'rolling_update_poll_interval': 0.1,
                          'rolling_update_category_names': ['Security Updates', '0fa1201d-4330-4fa8-8ae9-b877473b6441'],
                          'rolling_update_node_order': ['hv-n2'], 'rolling_update_min_quorum_margin': -1,
                          'rolling_update_storage_timeout': '600'},  # -e name=600 gives text
                         'rolling_update', NODES) == []


def test_each_bad_value_is_named_by_its_variable():
    errors = option_errors({
        'rolling_update_drain_timeout': 0, 'rolling_update_poll_interval': 'fast', 'rolling_update_max_retries': -1,
        'rolling_update_category_names': ['Security Update'], 'rolling_update_accept_list': ['5068791'],
        'rolling_update_node_order': ['HV-N2', 'HV-N9', 'HV-N2'], 'rolling_update_stop_after': True,
        'rolling_update_max_nodes_out': 2.5,
    }, 'rolling_update', NODES)
    text = '\n'.join(errors)
    assert 'rolling_update_drain_timeout must be a number of seconds of at least 1, got 0' in text
    assert "rolling_update_poll_interval must be a number of seconds of at least 0.001, got 'fast'" in text
    assert 'rolling_update_max_retries must be a number of retries of at least 0, got -1' in text
    assert ("rolling_update_category_names has names that are no Windows Update classification: 'Security Update'"
            in text and 'make every node look compliant' in text)
    assert "rolling_update_accept_list has values that are no KB article id like KB5068791: '5068791'" in text
    assert 'rolling_update_node_order names hosts that are not nodes of this cluster in the inventory: HV-N9' in text
    assert 'rolling_update_node_order names a node more than once: HV-N2' in text
    assert 'rolling_update_stop_after must be a number' in text
    assert 'rolling_update_max_nodes_out must be a number of nodes out at once (a whole number' in text and 'got 2.5' in text
    assert option_errors({'rolling_update_max_nodes_out': 0}, 'rolling_update', NODES)[0].endswith('got 0')
    assert len(errors) == 9


def test_the_node_order_names_nodes_by_host_or_by_node_name_in_any_case():
    hosts = ['hv-n1.lab.test', 'hv-n2.lab.test']
    names = {'hv-n1.lab.test': 'hv-n1', 'hv-n2.lab.test': 'hv-n2'}
    assert option_errors({'rolling_update_node_order': ['HV-N2', 'hv-n1.lab.test']}, 'rolling_update', hosts, None, names) == []
    errors = option_errors({'rolling_update_node_order': ['hv-n2.lab.test', 'HV-N2', 'HV-N3']}, 'rolling_update', hosts, None, names)
    assert errors == ['rolling_update_node_order names hosts that are not nodes of this cluster in the inventory: HV-N3 '
                      '(nodes: hv-n1.lab.test, hv-n2.lab.test)',
                      'rolling_update_node_order names a node more than once: HV-N2, hv-n2.lab.test']


def test_the_estimate_rates_are_known_positive_figures():
    assert option_errors({'rolling_update_estimate_rates': {'migration_gbps': 25}}, 'rolling_update') == []
    errors = option_errors({'rolling_update_estimate_rates': {'migration_gbps': 0, 'warp': 9}}, 'rolling_update')
    assert len(errors) == 1 and errors[0].startswith('rolling_update_estimate_rates: unknown figures warp (known: ')
    assert errors[0].endswith('; not positive numbers: migration_gbps')
    assert option_errors({'rolling_update_estimate_rates': 'fast'}, 'rolling_update') == [
        "rolling_update_estimate_rates must be a mapping of figures, got 'fast'"]


def test_upgrade_options():
    assert option_errors({'rolling_upgrade_target_build': '20348', 'rolling_upgrade_method': 'reprovision'},
                         'rolling_upgrade', NODES) == []
    errors = option_errors({'rolling_upgrade_target_build': 0, 'rolling_upgrade_method': 'in_place',
                            'rolling_upgrade_setup_media': ''}, 'rolling_upgrade', NODES)
    assert errors == ['rolling_upgrade_target_build (the Windows Server build to upgrade to, e.g. 20348) is required, got 0',
                      "rolling_upgrade_method in_place needs rolling_upgrade_setup_media (the path of the new release's "
                      "setup media as the nodes see it)"]


def test_task_files_must_exist_and_hold_tasks(tmp_path):
    from ansible_collections.wsfc.rolling.plugins.module_utils._runbook import task_file
    (tmp_path / 'ok.yml').write_text('- name: Say hello\n  ansible.builtin.debug:\n    msg: hi\n')
    (tmp_path / 'bad.yml').write_text('- name: [unclosed\n')
    (tmp_path / 'dict.yml').write_text('name: not a list\n')
    assert task_file('ok.yml', str(tmp_path)) == str(tmp_path / 'ok.yml')
    assert task_file('/abs/x.yml', str(tmp_path)) == '/abs/x.yml'
    assert option_errors({'rolling_update_pre_node_tasks': 'ok.yml'}, 'rolling_update', playbook_dir=str(tmp_path)) == []
    errors = option_errors({'rolling_update_pre_node_tasks': 'missing.yml', 'rolling_update_post_node_tasks': 'bad.yml'},
                           'rolling_update', playbook_dir=str(tmp_path))
    assert errors[0] == 'rolling_update_pre_node_tasks: no such file %s (a path, absolute or relative to the playbook ' \
                        'directory %s)' % (tmp_path / 'missing.yml', tmp_path)
    assert errors[1].startswith('rolling_update_post_node_tasks: %s is not valid YAML' % (tmp_path / 'bad.yml'))
    assert option_errors({'rolling_upgrade_pre_node_tasks': str(tmp_path / 'dict.yml'), 'rolling_upgrade_target_build': 1},
                         'rolling_upgrade') == ['rolling_upgrade_pre_node_tasks: %s must hold a list of tasks' % (tmp_path / 'dict.yml')]
