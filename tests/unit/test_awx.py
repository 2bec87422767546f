"""The AWX / Automation Controller material in docs/awx/ and meta/ agrees with the collection: the credential types
inject exactly what the modules read from the environment, every survey variable is an option the runbooks take
(with values they accept), the project's playbooks exist, and the execution environment's requirements are the
collection's."""

import os
import re

import pytest
import yaml

from ansible_collections.wsfc.rolling.plugins.module_utils import _argspec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(ROOT, 'docs', 'awx')
PROJECT = os.path.join(ROOT, 'examples', 'awx-project')
# Variables of the playbooks themselves (not role options), with the values they accept.
PLAYBOOK_VARIABLES = {'wsfc_accept_irreversible': {'type': 'bool'}, 'doctor_cau_required': {'type': 'bool'}}


def load(*parts):
    with open(os.path.join(*parts)) as handle:
        return yaml.safe_load(handle)


def env_fallbacks(spec, out=None):
    """{environment variable: (option name, option spec)} for every option of ``spec`` that falls back to one."""
    out = {} if out is None else out
    for name, option in spec.items():
        fallback = option.get('fallback')
        if fallback and fallback[0] is _argspec.env_fallback:
            for variable in fallback[1]:
                out[variable] = (name, option)
    return out


def role_options():
    options = {}
    for role in ('rolling_update', 'rolling_upgrade'):
        options.update(load(ROOT, 'roles', role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options'])
    options.update(PLAYBOOK_VARIABLES)
    return options


@pytest.mark.parametrize('name', ['wsfc-winrm.yml', 'wsfc-bmc.yml'])
def test_credential_types_inject_what_the_modules_read(name):
    ctype = load(AWX, 'credential-types', name)
    fallbacks = env_fallbacks(_argspec.winrm_argument_spec())
    fallbacks.update(env_fallbacks(_argspec.bmc_argument_spec()))
    fields = dict((f['id'], f) for f in ctype['inputs']['fields'])
    assert set(ctype['inputs']['required']) <= set(fields)
    for variable, template in ctype['injectors']['env'].items():
        assert variable in fallbacks, '%s injects %s, which no module reads' % (name, variable)
        field = fields[re.match(r'^\{\{ (\w+) \}\}$', template).group(1)]
        option = fallbacks[variable][1]
        if 'choices' in field:
            assert set(field['choices']) <= set(option['choices']), (variable, field['choices'])
            assert field['default'] in option['choices']
        if option.get('no_log'):
            assert field.get('secret') is True, '%s carries a secret but the field is not secret' % variable


def test_job_templates_run_the_projects_playbooks_with_options_the_runbooks_take():
    templates = load(AWX, 'job-templates.yml')['job_templates']
    options = role_options()
    ctypes = set(load(AWX, 'credential-types', n)['name'] for n in os.listdir(os.path.join(AWX, 'credential-types')))
    assert len(templates) == 4
    for template in templates:
        assert os.path.isfile(os.path.join(PROJECT, template['playbook'])), template['playbook']
        assert set(template['credentials']) <= ctypes, template['credentials']
        assert template.get('job_slice_count', 1) == 1 and not template.get('allow_simultaneous')
        for question in template['survey_spec']['spec']:
            option = options.get(question['variable'])
            assert option is not None, '%s: %s is no option of the runbooks' % (template['name'], question['variable'])
            if question['type'] == 'multiplechoice':
                allowed = ['false', 'true'] if option['type'] == 'bool' else option['choices']
                assert set(question['choices']) <= set(allowed), question
                assert question.get('default') in question['choices'], question
            elif question['type'] == 'integer':
                assert option['type'] == 'int', question
                if 'default' in question:
                    assert question['min'] <= question['default'] <= question['max'] and question['default'] == option.get('default')
            else:
                assert option['type'] == 'str', question


def test_the_project_imports_the_collections_playbooks():
    for name in sorted(os.listdir(PROJECT)):
        if name.endswith('.yml'):
            play = load(PROJECT, name)
            target = play[0]['ansible.builtin.import_playbook']
            assert target == 'wsfc.rolling.' + name[:-4] and os.path.isfile(os.path.join(ROOT, 'playbooks', name)), name
    requirements = load(PROJECT, 'collections', 'requirements.yml')
    assert [c['name'] for c in requirements['collections']] == ['wsfc.rolling']


def test_the_execution_environment_gets_the_collections_requirements_with_both_extras():
    meta = load(ROOT, 'meta', 'execution-environment.yml')
    assert os.path.isfile(os.path.join(ROOT, meta['dependencies']['system']))

    def requirements(path):
        lines = [line.split('#')[0].strip() for line in open(os.path.join(ROOT, path))]
        return dict(re.match(r'^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?(.*)$', line).group(1, 3) for line in lines if line)
    ee = requirements(meta['dependencies']['python'])
    assert ee == requirements('requirements.txt')
    assert 'pywinrm[credssp,kerberos]' in open(os.path.join(ROOT, meta['dependencies']['python'])).read()
