"""PowerShell syntax checking with the tree-sitter PowerShell grammar (syntax only, no execution)."""

import re

import tree_sitter_powershell
from tree_sitter import Language, Parser

_PARSER = Parser(Language(tree_sitter_powershell.language()))


def syntax_errors(text):
    """Return (line, column, kind) of every ERROR or missing node; [] for a clean parse."""
    tree = _PARSER.parse(text.encode('utf-8'))
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == 'ERROR' or node.is_missing:
            found.append((node.start_point[0] + 1, node.start_point[1] + 1, 'missing ' + node.type if node.is_missing else 'error'))
        stack.extend(node.children)
    return sorted(found)


# Windows PowerShell 5.1 is what a Windows Server node runs by default; these came with PowerShell 6/7.
# Operators are found as tokens of the parse tree (so text inside strings and comments never counts),
# parameters and commands by name.
PS7_OPERATORS = {'&&': 'pipeline chain operator &&', '||': 'pipeline chain operator ||'}
PS7_TEXT = {
    '?.': 'null-conditional member access ?.', '?[': 'null-conditional index ?[', '??': 'null-coalescing ??',
}
PS7_PARAMETERS = {
    '-parallel': 'ForEach-Object -Parallel', '-ashashtable': 'ConvertFrom-Json -AsHashtable',
    '-asutc': 'Get-Date -AsUTC', '-enumsasstrings': 'ConvertTo-Json -EnumsAsStrings',
    '-asarray': 'ConvertTo-Json -AsArray', '-skiphttperrorcheck': 'Invoke-WebRequest -SkipHttpErrorCheck',
    '-unixtimeseconds': 'Get-Date -UnixTimeSeconds', '-noenumerate': 'ConvertFrom-Json -NoEnumerate',
    '-throttlelimit': 'ForEach-Object -ThrottleLimit', '-ascii': 'Get-Content/Set-Content -AsByteStream',
    '-asbytestream': 'Get-Content/Set-Content -AsByteStream',
}
PS7_COMMANDS = {'join-string', 'get-error', 'test-json', 'foreach-object -parallel', 'remove-alias', 'get-uptime'}
_QUOTED = ('string', 'comment', 'here_string')
_TERNARY = re.compile(r'[^|\s]\s+\?\s+[^{\s].*\s:\s')


def _code_leaves(node, out):
    if any(kind in node.type for kind in _QUOTED):
        out.append((node, ' '))
        return
    if not node.children:
        out.append((node, node.text.decode('utf-8', 'replace')))
    for child in node.children:
        _code_leaves(child, out)


def ps51_problems(text):
    """Constructs Windows PowerShell 5.1 does not have: [(line, what)], [] when there are none.

    Ternary ``a ? b : c`` and ``??`` do not parse with this grammar at all (syntax_errors finds them);
    they are also looked for here in the text outside strings and comments.
    """
    tree = _PARSER.parse(text.encode('utf-8'))
    leaves = []
    _code_leaves(tree.root_node, leaves)
    found = []
    code_lines = {}
    for node, piece in leaves:
        line = node.start_point[0] + 1
        code_lines.setdefault(line, []).append(piece)
        kind = node.type
        lowered = piece.strip().lower()
        if kind in PS7_OPERATORS:
            found.append((line, PS7_OPERATORS[kind]))
        elif lowered in PS7_PARAMETERS and lowered != '-ascii':
            found.append((line, PS7_PARAMETERS[lowered]))
        elif lowered in PS7_COMMANDS:
            found.append((line, lowered))
    for line, pieces in code_lines.items():
        joined = ''.join(pieces)
        for token, what in PS7_TEXT.items():
            if token in joined:
                found.append((line, what))
        # A lone '?' after a value and before a ':' (a '?' after a pipe is Where-Object's alias).
        if _TERNARY.search(' '.join(pieces)):
            found.append((line, 'ternary operator ? :'))
    return sorted(set(found))


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _ordered_shapes(node):
    """Key sets of every ``[ordered]@{...}`` literal under node (an empty literal gives frozenset())."""
    shapes = []
    for item in _walk(node):
        if item.type == 'type_literal' and item.text.decode().lower().startswith('[ordered]'):
            literal = next((c for c in _walk(item.parent) if c.type == 'hash_literal_expression'), None)
            if literal is None:
                continue
            body = next((c for c in literal.children if c.type == 'hash_literal_body'), None)
            keys = [] if body is None else [
                k.text.decode() for entry in body.children if entry.type == 'hash_entry'
                for k in entry.children if k.type == 'key_expression']
            shapes.append(frozenset(keys))
    return shapes


def _called(node, known):
    return {item.text.decode() for item in _walk(node) if item.type == 'command_name' and item.text.decode() in known}


def operation_shapes(shim_text):
    """{operation: set of key sets} of what each shim operation can emit: the ``[ordered]`` literals
    in its script block and in the shim functions it calls (transitively). Read from the source."""
    tree = _PARSER.parse(shim_text.encode('utf-8'))
    functions, operations = {}, {}
    for item in _walk(tree.root_node):
        if item.type == 'function_statement':
            name = next(c for c in item.children if c.type == 'function_name').text.decode()
            functions[name] = item
    op_start = re.compile(r"^\$WsfcOperations\['([a-z0-9._]+)'\] = \{", re.M)
    for item in _walk(tree.root_node):
        if item.type == 'pipeline' and item.parent is not None and item.parent.type == 'statement_list':
            match = op_start.match(item.text.decode())
            if match and item.parent.parent is not None and item.parent.parent.type == 'program':
                operations[match.group(1)] = item
    result = {}
    for op, node in operations.items():
        shapes, seen, todo = set(_ordered_shapes(node)), set(), _called(node, functions)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            shapes.update(_ordered_shapes(functions[name]))
            todo |= _called(functions[name], functions) - seen
        result[op] = shapes
    return result


# Cmdlets that write an object to the pipeline which an operation does not mean to return (it would
# end up in the operation's value): their output must be assigned, cast to [void] or piped to Out-Null.
OUTPUT_CMDLETS = {
    'update-clusterfunctionallevel', 'suspend-clusternode', 'resume-clusternode', 'add-clusternode',
    'move-clustergroup', 'move-clustervirtualmachinerole', 'register-scheduledtask', 'new-item',
    'start-clusternode', 'stop-clusternode', 'new-scheduledtaskaction', 'new-scheduledtaskprincipal',
    'new-scheduledtasksettingsset', 'enable-storagemaintenancemode', 'disable-storagemaintenancemode',
}


def unconsumed_output(text):
    """[(line, cmdlet)] of statements that call one of OUTPUT_CMDLETS and let its output through."""
    tree = _PARSER.parse(text.encode('utf-8'))
    found = []
    for item in _walk(tree.root_node):
        if item.type != 'pipeline' or item.parent is None or item.parent.type != 'statement_list':
            continue
        first = next((c for c in item.children if c.type in ('pipeline_chain', 'command', 'assignment_expression')), None)
        command = first if first is not None and first.type == 'command' else (
            next((c for c in first.children if c.type == 'command'), None) if first is not None and first.type == 'pipeline_chain' else None)
        if command is None:
            continue
        name = next((c for c in command.children if c.type == 'command_name'), None)
        if name is None or name.text.decode().lower() not in OUTPUT_CMDLETS:
            continue
        if re.search(r'\|\s*Out-Null\s*$', item.text.decode(), re.I):
            continue
        found.append((item.start_point[0] + 1, name.text.decode()))
    return found
