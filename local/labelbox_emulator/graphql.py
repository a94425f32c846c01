"""A small GraphQL reader and executor, enough for the queries the Labelbox SDK sends.

Why not a schema-first GraphQL library: the SDK builds its queries by string
formatting (field lists from its ORM, literals inlined in arguments), and what
matters for an emulator is answering *exactly the fields each query selects*
-- an SDK that reads a missing field crashes. So the executor walks the
query's own selection set over plain Python data ("nodes": dicts whose values
are data or callables taking the field's arguments) and fails loudly, naming
the operation and the field path, when a query asks for something the
emulator does not serve. The next gap then shows up as a readable error
instead of a ``KeyError`` deep in the SDK.

Supported: queries and mutations, variables with defaults, aliases, arguments
with every literal kind (int, float, string, block string, bool, null, enum,
list, object), inline fragments and named fragments (type conditions are not
checked: nodes are not typed), and ``__typename``. Directives are parsed and
ignored. Stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = [
    "GraphQLFault",
    "NotEmulated",
    "Operation",
    "parse",
    "execute",
]


class GraphQLFault(Exception):
    """An error the emulated server reports in ``errors``; ``code`` drives the SDK's exception type."""

    def __init__(self, message: str, code: str = "INTERNAL_SERVER_ERROR", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def to_error(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.status is not None:
            ext["exception"] = {"status": self.status}
        return {"message": self.message, "extensions": ext}


class NotEmulated(GraphQLFault):
    """The query reaches a field the emulator does not serve (the next gap to fill)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="NOT_EMULATED")


# --- lexer ---------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<block>\"\"\"(?:\\\"\"\"|[^"]|"(?!""))*\"\"\")
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<float>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+))
  | (?P<int>-?(?:0|[1-9][0-9]*))
  | (?P<spread>\.\.\.)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>[!$&()\:=@\[\]{}|])
    """,
    re.VERBOSE,
)

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out)


@dataclass
class _Tok:
    kind: str
    value: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise GraphQLFault(f"Syntax Error: unexpected character {text[pos]!r} at {pos}", "GRAPHQL_PARSE_FAILED")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("eof", "", pos))
    return toks


# --- AST -----------------------------------------------------------------------------------


@dataclass
class Var:
    name: str


@dataclass
class Enum:
    name: str


@dataclass
class Field:
    name: str
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    selections: list[Any] | None = None

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    selections: list[Any]


@dataclass
class FragmentSpread:
    name: str


@dataclass
class Operation:
    kind: str  # "query" | "mutation" | "subscription"
    name: str | None
    variable_defaults: dict[str, Any]
    selections: list[Any]
    fragments: dict[str, list[Any]]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str | None = None, value: str | None = None) -> _Tok:
        tok = self.toks[self.i]
        if (kind and tok.kind != kind) or (value is not None and tok.value != value):
            want = value or kind
            raise GraphQLFault(
                f"Syntax Error: expected {want!r}, found {tok.value or tok.kind!r} at {tok.pos}",
                "GRAPHQL_PARSE_FAILED",
            )
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind in ("punct", "spread", "name") and tok.value == value

    def document(self, operation_name: str | None) -> Operation:
        ops: list[Operation] = []
        fragments: dict[str, list[Any]] = {}
        while self.peek().kind != "eof":
            if self.at("{"):
                ops.append(Operation("query", None, {}, self.selection_set(), fragments))
            elif self.at("fragment"):
                self.take()
                name = self.take("name").value
                self.take("name", "on")
                self.take("name")
                self.directives()
                fragments[name] = self.selection_set()
            else:
                kind = self.take("name").value
                if kind not in ("query", "mutation", "subscription"):
                    raise GraphQLFault(f"Syntax Error: unexpected {kind!r}", "GRAPHQL_PARSE_FAILED")
                name = self.take("name").value if self.peek().kind == "name" else None
                defaults = self.variable_definitions() if self.at("(") else {}
                self.directives()
                ops.append(Operation(kind, name, defaults, self.selection_set(), fragments))
        if not ops:
            raise GraphQLFault("Syntax Error: no operation in document", "GRAPHQL_PARSE_FAILED")
        if operation_name:
            for op in ops:
                if op.name == operation_name:
                    return op
            raise GraphQLFault(f"Unknown operation named {operation_name!r}", "GRAPHQL_VALIDATION_FAILED")
        return ops[0]

    def variable_definitions(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        self.take("punct", "(")
        while not self.at(")"):
            self.take("punct", "$")
            name = self.take("name").value
            self.take("punct", ":")
            self.type_ref()
            if self.at("="):
                self.take()
                defaults[name] = self.value(const=True)
            self.directives()
        self.take("punct", ")")
        return defaults

    def type_ref(self) -> None:
        if self.at("["):
            self.take()
            self.type_ref()
            self.take("punct", "]")
        else:
            self.take("name")
        if self.at("!"):
            self.take()

    def directives(self) -> None:
        while self.at("@"):
            self.take()
            self.take("name")
            if self.at("("):
                self.arguments()

    def selection_set(self) -> list[Any]:
        self.take("punct", "{")
        sels: list[Any] = []
        while not self.at("}"):
            if self.peek().kind == "spread":
                self.take()
                if self.at("on"):
                    self.take()
                    self.take("name")
                    self.directives()
                    sels.append(InlineFragment(self.selection_set()))
                elif self.at("{") or self.at("@"):
                    self.directives()
                    sels.append(InlineFragment(self.selection_set()))
                else:
                    sels.append(FragmentSpread(self.take("name").value))
                    self.directives()
                continue
            name = self.take("name").value
            alias = None
            if self.at(":"):
                self.take()
                alias, name = name, self.take("name").value
            args = self.arguments() if self.at("(") else {}
            self.directives()
            sub = self.selection_set() if self.at("{") else None
            sels.append(Field(name, alias, args, sub))
        self.take("punct", "}")
        return sels

    def arguments(self) -> dict[str, Any]:
        self.take("punct", "(")
        args: dict[str, Any] = {}
        while not self.at(")"):
            name = self.take("name").value
            self.take("punct", ":")
            args[name] = self.value()
        self.take("punct", ")")
        return args

    def value(self, const: bool = False) -> Any:
        tok = self.peek()
        if tok.kind == "punct" and tok.value == "$" and not const:
            self.take()
            return Var(self.take("name").value)
        if tok.kind == "int":
            self.take()
            return int(tok.value)
        if tok.kind == "float":
            self.take()
            return float(tok.value)
        if tok.kind == "string":
            self.take()
            return _unescape(tok.value[1:-1])
        if tok.kind == "block":
            self.take()
            return tok.value[3:-3].replace('\\"""', '"""')
        if tok.kind == "name":
            self.take()
            literals = {"true": True, "false": False, "null": None}
            return literals[tok.value] if tok.value in literals else Enum(tok.value)
        if tok.kind == "punct" and tok.value == "[":
            self.take()
            items = []
            while not self.at("]"):
                items.append(self.value(const))
            self.take("punct", "]")
            return items
        if tok.kind == "punct" and tok.value == "{":
            self.take()
            obj: dict[str, Any] = {}
            while not self.at("}"):
                key = self.take("name").value
                self.take("punct", ":")
                obj[key] = self.value(const)
            self.take("punct", "}")
            return obj
        raise GraphQLFault(f"Syntax Error: unexpected {tok.value or tok.kind!r} at {tok.pos}", "GRAPHQL_PARSE_FAILED")


def parse(text: str, operation_name: str | None = None) -> Operation:
    """Parse a GraphQL document and return the operation to run (the named one, or the first)."""
    return _Parser(text).document(operation_name)


# --- execution -----------------------------------------------------------------------------


def _resolve_value(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Var):
        return variables.get(value.name)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return [_resolve_value(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_value(v, variables) for k, v in value.items()}
    return value


def _flatten(selections: list[Any], fragments: Mapping[str, list[Any]]) -> list[Field]:
    out: list[Field] = []
    for sel in selections:
        if isinstance(sel, Field):
            out.append(sel)
        elif isinstance(sel, InlineFragment):
            out.extend(_flatten(sel.selections, fragments))
        elif isinstance(sel, FragmentSpread):
            if sel.name not in fragments:
                raise GraphQLFault(f"Unknown fragment {sel.name!r}", "GRAPHQL_VALIDATION_FAILED")
            out.extend(_flatten(fragments[sel.name], fragments))
    return out


Resolver = Callable[[dict[str, Any]], Any]


@dataclass
class _Run:
    op: Operation
    variables: Mapping[str, Any]

    @property
    def label(self) -> str:
        return self.op.name or f"anonymous {self.op.kind}"

    def project(self, value: Any, selections: list[Any] | None, path: str) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.project(v, selections, f"{path}[{i}]") for i, v in enumerate(value)]
        if selections is None:
            return value
        if not isinstance(value, Mapping):
            raise NotEmulated(f"labelbox emulator: {self.label} selects fields of {path}, which is a scalar here")
        out: dict[str, Any] = {}
        for fld in _flatten(selections, self.op.fragments):
            if fld.name == "__typename":
                out[fld.key] = value.get("__typename", "Node")
                continue
            if fld.name not in value:
                typename = value.get("__typename", "node")
                raise NotEmulated(
                    f"labelbox emulator: {self.label} asks for {path}.{fld.name} "
                    f"({typename}.{fld.name}), which is not emulated"
                )
            raw = value[fld.name]
            if callable(raw):
                raw = raw(_resolve_value(fld.args, self.variables))
            out[fld.key] = self.project(raw, fld.selections, f"{path}.{fld.key}")
        return out


def execute(op: Operation, variables: Mapping[str, Any] | None, roots: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Run ``op`` against ``roots[op.kind]`` (a node) and return the ``data`` object.

    Raises ``GraphQLFault`` (including ``NotEmulated``) on the first error, which
    the server turns into a GraphQL ``errors`` answer: the SDK raises on any
    error anyway, so partial data would never be read.
    """
    merged = dict(op.variable_defaults)
    merged.update(variables or {})
    run = _Run(op, merged)
    root = roots.get(op.kind)
    if root is None:
        raise NotEmulated(f"labelbox emulator: {run.label}: {op.kind} operations are not emulated")
    return run.project(root, op.selections, op.kind)
