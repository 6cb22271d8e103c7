"""ConfigScope: a function whose body's local variables become configuration entries.

The body is taken from the source file, compiled once as module-level code (with the
line numbers of the file) and evaluated with a DogmaticDict as its locals, so that
fixed values (config updates) win over the assignments in the body.
"""

import ast
import inspect
import io
import re
import tokenize
from collections import deque
from copy import copy

from sacred.config.config_summary import ConfigSummary
from sacred.config.signature import get_argspec
from sacred.config.utils import dogmatize, normalize_or_die, recursive_fill_in
from sacred.settings import SETTINGS

__all__ = [
    "ConfigScope",
    "get_function_body",
    "dedent_function_body",
    "dedent_line",
    "is_empty_or_comment",
    "iscomment",
    "get_function_body_code",
    "get_config_comments",
    "find_doc_for",
    "add_doc",
    "is_ignored",
]

SEED_DOC = "the random seed for this experiment"


class ConfigScope:
    """Turns a function into a config scope; calling it returns a ConfigSummary."""

    def __init__(self, func):
        args, vararg_name, kw_wildcard_name, _, kwargs = get_argspec(func)
        assert vararg_name is None, "*args not allowed for ConfigScope functions"
        assert kw_wildcard_name is None, "**kwargs not allowed for ConfigScope functions"
        assert not kwargs, "default values are not allowed for ConfigScope functions"
        self.args = args
        self._func = func
        parsed = _parse_function(func)
        self._body_code = _compile_body(parsed)
        # module-level annotations (`a: int = 1`) would add an `__annotations__` local
        self._annotates = parsed.annotates
        self._var_docs = _comments(parsed)
        self.__doc__ = func.__doc__

    def __call__(self, fixed=None, preset=None, fallback=None):
        """Evaluate the body with ``fixed`` values winning; return a ConfigSummary.

        Arguments of the scope are read from ``preset`` (and then become part of the
        result) or from ``fallback`` (readable only).
        """
        cfg_locals = dogmatize(fixed or {})
        fallback = fallback or {}
        preset = preset or {}
        fallback_view = {}
        for arg in self.args:
            if arg in preset:
                cfg_locals[arg] = preset[arg]
            elif arg in fallback:
                fallback_view[arg] = fallback[arg]
            else:
                available = set(preset.keys()) | set(fallback.keys())
                raise KeyError(
                    f"'{arg}' not in preset for ConfigScope. Available options are: {available}"
                )
        cfg_locals.fallback = fallback_view

        eval(self._body_code, copy(self._func.__globals__), cfg_locals)
        if self._annotates and "__annotations__" not in cfg_locals.fixed:
            dict.pop(cfg_locals, "__annotations__", None)

        added = cfg_locals.revelation()
        summary = ConfigSummary(
            added,
            cfg_locals.modified,
            cfg_locals.typechanges,
            cfg_locals.fallback_writes,
            docs=self._var_docs,
        )
        # presets the body did not use are passed on unchanged
        recursive_fill_in(cfg_locals, preset)
        summary.update(normalize_or_die(cfg_locals))
        return summary


# ----------------------------------------------------------------- parsing helpers
class _ParsedFunction:
    """The body of a function as statements (with file line numbers), the file's lines,
    and what one walk over the body found (return/yield statements, annotations)."""

    def __init__(self, filename, body, file_lines):
        self.filename = filename
        self.body = body
        self.file_lines = file_lines
        self.forbidden = []
        self.annotates = False
        todo = deque(body)
        while todo:
            n = todo.popleft()
            if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom)):
                self.forbidden.append(n)
            elif isinstance(n, ast.AnnAssign):
                self.annotates = True
            # nested functions may return and yield
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                todo.extend(ast.iter_child_nodes(n))


def _parse_function(func):
    """Parse the dedented body of ``func``.

    Like the original, the body *text* is dedented, so continuation lines of multi-line
    strings (docstrings included) lose the body's indentation.
    """
    filename = inspect.getfile(func)
    file_lines, _ = inspect.findsource(func)
    body, line_offset = get_function_body(func)
    # leading newlines give the nodes the line numbers of the file
    source = "\n" * line_offset + dedent_function_body(body)
    tree = ast.parse(source, filename=filename)
    return _ParsedFunction(filename, tree.body, file_lines)


def _compile_body(parsed):
    for node in parsed.forbidden:
        kind = "return" if isinstance(node, ast.Return) else "yield"
        line = parsed.file_lines[node.lineno - 1].strip()
        raise SyntaxError(
            f"No {kind} statements allowed in ConfigScopes\n"
            f"('{line}' in File \"{parsed.filename}\", line {node.lineno})"
        )
    module = ast.Module(body=parsed.body, type_ignores=[])
    return compile(module, parsed.filename, "exec")


def _comments(parsed):
    variables = {"seed": SEED_DOC}
    for statement in parsed.body:
        for entry in [statement, *ast.iter_child_nodes(statement)]:
            if isinstance(entry, ast.Assign):
                for target in entry.targets:
                    add_doc(target, variables, parsed.file_lines)
            elif isinstance(entry, ast.AnnAssign):
                add_doc(entry.target, variables, parsed.file_lines)
    return variables


def get_function_body_code(func):
    """The compiled body of ``func`` (module-level code, line numbers of the file)."""
    return _compile_body(_parse_function(func))


def get_config_comments(func):
    """``{name: doc}`` for the variables of a config scope, from comments in its body.

    The doc of an assignment is the comment on its line, else the nearest comment line
    above it (blank lines skipped; any other line ends the search). Comments matching
    ``SETTINGS.CONFIG.IGNORED_COMMENTS`` are skipped. Always contains ``"seed"``.
    """
    return _comments(_parse_function(func))


def add_doc(target, variables, body_lines):
    """Record the doc of an assignment target (a name or a tuple of names)."""
    if isinstance(target, ast.Name):
        name = target.id
        if name not in variables:
            doc = find_doc_for(target, body_lines)
            if doc is not None:
                variables[name] = doc
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            add_doc(element, variables, body_lines)
    elif isinstance(target, ast.Starred):
        add_doc(target.value, variables, body_lines)


def _line_comments(line):
    """The comments of one line of code (also if the statement continues below)."""
    if "#" not in line:
        return []
    comments = []
    readline = io.StringIO(line.lstrip()).readline
    try:
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.COMMENT:
                comments.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        pass  # e.g. an opening bracket that closes on a later line
    return comments


def find_doc_for(ast_entry, body_lines):
    """The doc for the node ``ast_entry``, whose ``lineno`` indexes ``body_lines`` (1-based)."""
    lineno = ast_entry.lineno - 1
    for comment in _line_comments(body_lines[lineno]):
        text = comment[1:].strip()
        if not is_ignored(text):
            return text
    lineno -= 1
    while lineno >= 0:
        line = body_lines[lineno]
        if iscomment(line):
            comment = line.strip().strip("# ")
            if not is_ignored(comment):
                return comment
        elif line.strip():
            return None
        lineno -= 1
    return None


def is_ignored(line):
    """Whether a comment matches one of ``SETTINGS.CONFIG.IGNORED_COMMENTS``."""
    return any(re.match(pattern, line) for pattern in SETTINGS.CONFIG.IGNORED_COMMENTS)


def iscomment(line):
    return line.strip().startswith("#")


def is_empty_or_comment(line):
    return not line.strip() or iscomment(line)


def dedent_line(line, indent):
    """Remove as much of ``indent`` from the start of ``line`` as it shares."""
    for i, (line_sym, indent_sym) in enumerate(zip(line, indent)):
        if line_sym != indent_sym:
            return line[i:]
    return line[min(len(indent), len(line)) :]


def dedent_function_body(body):
    """Dedent a body by the indentation of its first line of code.

    Comment lines with less indentation are kept (only the shared part is removed).
    """
    lines = body.split("\n")
    indent = ""
    for line in lines:
        if not is_empty_or_comment(line):
            indent = re.match(r"^\s*", line).group()
            break
    return "\n".join(dedent_line(line, indent) for line in lines)


def _header_end(source):
    """(row, col) (1-based row) of the colon ending the first ``def`` header in source."""
    depth = 0
    seen_def = False
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string == "def" and depth == 0:
            seen_def = True
        elif token.type == tokenize.OP:
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif token.string == ":" and depth == 0 and seen_def:
                return token.start
    raise ValueError("no function definition found")


def get_function_body(func):
    """``(body, line_offset)``: the source text after the ``def ...:`` header.

    Line ``i`` (1-based) of ``body`` is line ``i + line_offset`` of the file. The body
    of a one-line definition (``def cfg(): a = 1``) is the rest of that line. A comment
    after the colon belongs to the body, as in the original: for ``def cfg(a):  # note``
    the body starts with ``"  # note"``.
    """
    block, first_line = inspect.getsourcelines(func)
    source = "".join(block)
    row, col = _header_end(source)
    lines = source.splitlines(keepends=True)
    rest = lines[row - 1][col + 1 :]
    if not rest.strip():
        return "".join(lines[row:]), first_line + row - 1
    if iscomment(rest):
        return rest + "".join(lines[row:]), first_line + row - 2
    return rest.lstrip() + "".join(lines[row:]), first_line + row - 2
