"""The emulator's GraphQL reader/executor: the literal forms the SDK sends, and loud gaps."""

from __future__ import annotations

import pytest

from local.labelbox_emulator.graphql import GraphQLFault, NotEmulated, execute, parse


def test_literals_variables_and_aliases():
    op = parse(
        'query Q($a: ID!, $n: Int = 3) { thing(id: $a, n: $n, f: -1.5e2, s: "x\\"y\\u0041", b: true, z: null, e: RED, '
        "l: [1 2, 3], o: {k: {v: $a}}) { first: name  __typename } }"
    )
    seen = {}

    def thing(args):
        seen.update(args)
        return {"name": "n1", "__typename": "Thing"}

    data = execute(op, {"a": "id-1"}, {"query": {"thing": thing}})
    assert data == {"thing": {"first": "n1", "__typename": "Thing"}}
    assert seen == {"id": "id-1", "n": 3, "f": -150.0, "s": 'x"yA', "b": True, "z": None, "e": "RED", "l": [1, 2, 3], "o": {"k": {"v": "id-1"}}}


def test_fragments_and_lists_are_projected():
    op = parse("query { items { ...F ... on Item { b } } } fragment F on Item { a }")
    data = execute(op, {}, {"query": {"items": lambda a: [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]}})
    assert data == {"items": [{"a": 1, "b": 2}, {"a": 4, "b": 5}]}


def test_unknown_field_names_the_operation_and_the_path():
    op = parse("query GetThingPyApi { thing { id missingField } }")
    with pytest.raises(NotEmulated) as info:
        execute(op, {}, {"query": {"thing": lambda a: {"id": 1, "__typename": "Thing"}}})
    assert "GetThingPyApi" in info.value.message and "missingField" in info.value.message
    assert info.value.to_error()["extensions"]["code"] == "NOT_EMULATED"


def test_syntax_errors_are_parse_failures():
    with pytest.raises(GraphQLFault) as info:
        parse("query { a(b: ) }")
    assert info.value.code == "GRAPHQL_PARSE_FAILED"
