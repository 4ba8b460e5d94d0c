"""The condition language: parses what admins write, evaluates safely, errors with columns."""

from __future__ import annotations

import pytest

from callcenter.flow.expr import ExprError, compile_condition, evaluate, names, parse


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        ("order_status == 'shipped'", {"order_status": "Shipped"}, True),
        ("attempts >= 2 and not confirmed", {"attempts": 2, "confirmed": False}, True),
        ("attempts >= 2 or confirmed", {"attempts": "1", "confirmed": False}, False),
        ("topic in ['billing', 'refund']", {"topic": "refund"}, True),
        ("topic not in ['billing', 'refund']", {"topic": "order"}, True),
        ("len(order_number) == 6", {"order_number": "123456"}, True),
        ("order.status == 'late' and order.items[0] == 'boots'",
         {"order": {"status": "late", "items": ["boots"]}}, True),
        ("missing_slot == null", {}, True),
        ("amount > 100", {}, False),
        ("amount * 2 + 1 == 21", {"amount": "10"}, True),
        ("matches(order_number, '^9')", {"order_number": "912"}, True),
        ("'ship' in order_status", {"order_status": "shipped"}, True),
        ("(a or b) and c", {"a": False, "b": True, "c": True}, True),
    ],
)
def test_conditions_evaluate_as_admins_expect(source: str, scope: dict[str, object],
                                              expected: bool) -> None:
    assert compile_condition(source)(scope) is expected


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("a = 1", 3, "use =="),
        ("a == 'open", 6, "unterminated"),
        ("a && b", 3, "and / or / not"),
        ("foo(1)", 1, "unknown function"),
        ("(a == 1", 8, "expected ')'"),
        ("a < b < c", 7, "chained"),
        ("a ==", 5, "expected a value"),
        ("", 1, "empty"),
    ],
)
def test_syntax_errors_name_the_column(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(source)
    assert info.value.column == column
    assert fragment in info.value.message


def test_names_lists_every_variable_read_with_its_column() -> None:
    assert names(parse("a == 1 and len(b.c) > x")) == [("a", 1), ("b", 16), ("x", 23)]


def test_no_python_is_ever_executed() -> None:
    for source in ("__import__('os').system('true')", "a.__class__", "exec('1')"):
        try:
            tree = parse(source)
        except ExprError:
            continue
        # Attribute access only reads dict keys, never Python attributes.
        assert evaluate(tree, {"a": 1}) is None


def test_type_errors_at_run_time_are_expr_errors() -> None:
    with pytest.raises(ExprError):
        evaluate(parse("len(n)"), {"n": 5})
