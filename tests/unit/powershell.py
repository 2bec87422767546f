"""PowerShell syntax checking with the tree-sitter PowerShell grammar (syntax only, no execution)."""

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
