"""The collection's PowerShell: .ps1 files are the source, the Python module is generated from them."""

import ast
import importlib.machinery
import importlib.util
import os
import re

import pytest

from tests.unit.powershell import ps51_problems, syntax_errors, unconsumed_output

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATED = os.path.join('plugins', 'module_utils', '_winrm', '_powershell.py')


def _generator():
    path = os.path.join(ROOT, 'tools', 'gen_powershell.py')
    loader = importlib.machinery.SourceFileLoader('gen_powershell', path)
    spec = importlib.util.spec_from_loader('gen_powershell', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _ps1_files():
    found = []
    for folder, _dirs, names in os.walk(os.path.join(ROOT, 'powershell')):
        found.extend(os.path.relpath(os.path.join(folder, name), ROOT) for name in names if name.endswith('.ps1'))
    return sorted(found)


PS1 = _ps1_files()


def test_the_folder_holds_the_powershell():
    assert 'powershell/bootstrap.ps1' in PS1 and 'powershell/windows-update-task.ps1' in PS1
    assert len([name for name in PS1 if name.startswith('powershell/shim/')]) >= 5


def test_generated_module_is_what_the_script_writes():
    with open(os.path.join(ROOT, GENERATED), encoding='utf-8') as handle:
        assert handle.read() == _generator().render(), 'run tools/gen_powershell.py'


SHIPPED = ('BOOTSTRAP', 'SHIM', 'WINDOWS_UPDATE_TASK', 'OS_UPGRADE_TASK', 'CAU_RUN_TASK')


def test_generated_module_carries_every_file_once():
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
    texts = [getattr(_powershell, name) for name in SHIPPED]
    shipped = _generator().shipped
    for name in PS1:
        with open(os.path.join(ROOT, name), encoding='ascii') as handle:
            body = shipped(handle.read()).split('\n', 1)[1].strip()  # without its first line (shim parts)
        assert sum(body in text for text in texts) == 1, name


@pytest.mark.parametrize('name', SHIPPED)
def test_what_is_shipped_parses_cleanly_too(name):
    from ansible_collections.wsfc.rolling.plugins.module_utils._winrm import _powershell
    text = getattr(_powershell, name)
    assert syntax_errors(text) == [] and ps51_problems(text) == [] and unconsumed_output(text) == []


@pytest.mark.parametrize('name', PS1)
def test_every_ps1_parses_cleanly(name):
    with open(os.path.join(ROOT, name), encoding='ascii') as handle:  # ASCII only: no code page surprises
        assert syntax_errors(handle.read()) == []


@pytest.mark.parametrize('name', PS1)
def test_every_ps1_is_windows_powershell_51(name):
    with open(os.path.join(ROOT, name), encoding='ascii') as handle:
        assert ps51_problems(handle.read()) == []


@pytest.mark.parametrize('text, what', [
    ('$a = $b ? 1 : 2', 'ternary operator ? :'),
    ('$a = $b ?? 2', 'null-coalescing ??'),
    ('$n = $x?.Name', 'null-conditional member access ?.'),
    ('$n = ${x}?[0]', 'null-conditional index ?['),
    ('Get-Thing && Set-Thing', 'pipeline chain operator &&'),
    ('Get-Thing || throw "x"', 'pipeline chain operator ||'),
    ('1..3 | ForEach-Object -Parallel { $_ }', 'ForEach-Object -Parallel'),
    ('$o = $text | ConvertFrom-Json -AsHashtable', 'ConvertFrom-Json -AsHashtable'),
    ('$d = Get-Date -AsUTC', 'Get-Date -AsUTC'),
    ('$s = @(1, 2) | Join-String', 'join-string'),
    ('$j = ConvertTo-Json $x -EnumsAsStrings', 'ConvertTo-Json -EnumsAsStrings'),
])
def test_ps51_check_finds_newer_constructs(text, what):
    assert what in [found for _line, found in ps51_problems(text)]


def test_ps51_check_ignores_strings_comments_and_where_alias():
    assert ps51_problems('$m = "a ?? b && c -Parallel" # x?.y || z\n$v = @($l | ? { $_.A })') == []


def test_no_powershell_left_in_python_sources():
    # PowerShell only in the generated module: other Python under plugins/ holds no variables,
    # hashtables or script blocks of it.
    pattern = re.compile(r'\$[A-Za-z_]\w*\s*=|\[ordered\]@\{|@\{\s*\w+\s*=|\bparam\s*\(\s*\[')
    offenders = []
    for folder, _dirs, names in os.walk(os.path.join(ROOT, 'plugins')):
        for name in names:
            path = os.path.join(folder, name)
            if not name.endswith('.py') or os.path.relpath(path, ROOT) == GENERATED:
                continue
            with open(path, encoding='utf-8') as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.search(node.value):
                    offenders.append('%s:%s' % (os.path.relpath(path, ROOT), node.lineno))
    assert offenders == []


@pytest.mark.parametrize('name', PS1)
def test_cmdlet_output_never_leaks_into_a_result(name):
    # e.g. Update-ClusterFunctionalLevel -WhatIf writes the Cluster object to the pipeline.
    with open(os.path.join(ROOT, name), encoding='ascii') as handle:
        assert unconsumed_output(handle.read()) == []


def test_the_output_check_finds_a_leak():
    assert unconsumed_output('if ($w) {\n    Update-ClusterFunctionalLevel -Force -WhatIf\n}\n') == [
        (2, 'Update-ClusterFunctionalLevel')]
    assert unconsumed_output('[void](Update-ClusterFunctionalLevel -Force -WhatIf)\nNew-Item -Path x | Out-Null\n') == []


def _read(name):
    with open(os.path.join(ROOT, 'powershell', name), encoding='ascii') as handle:
        return handle.read()


def test_cdxml_cmdlet_errors_stop_too():
    # Storage, ScheduledTasks and NetTCPIP cmdlets ignore a script-scope $ErrorActionPreference.
    assert re.search(r"^\$PSDefaultParameterValues = @\{ '\*:ErrorAction' = 'Stop' \}$", _read('shim/00-prelude.ps1'), re.M)


def test_every_result_is_checked_to_be_writable_as_json():
    dispatch = _read('shim/90-dispatch.ps1')
    assert 'ConvertTo-WsfcWritable (Invoke-WsfcCall $call $request.delegate)' in dispatch
    assert "fqid = 'WsfcUnwritableResult'" in dispatch
