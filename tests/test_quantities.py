"""One quantity parser: tui.kube.quantities.parse_quantity agrees with kubernetes.utils.parse_quantity."""

from __future__ import annotations

import pytest

from tui.kube.quantities import parse_quantity

# Every form of resource.Quantity's grammar: decimal SI, binary SI, exponents, signs, fractions.
VALID = [
    "0", "1", "2", "512", "+1", "-1", "1.5", ".5", "5.", "0.1", "007",
    "1n", "123456n", "108793499n", "1u", "250u", "500m", "250m", "1500m", "15800m",
    "1k", "1M", "1G", "1T", "1P", "1E", "2.5G",
    "1Ki", "76081Ki", "256Mi", "1.5Gi", "1Ti", "1Pi", "1Ei", "65843184Ki", "-1Mi",
    "1e3", "1E3", "1e-3", "1.5e-3", "2e+2", "1E0", "12e6",
    "123456789012345678901234567890n",
]

# Not quantities for the API server; the Python client is laxer with some of them (Decimal's syntax,
# a capital K), ours follows the server's grammar and says None.
NOT_QUANTITIES = ["", " ", "abc", "1K", "1ki", "1mi", "1Mib", "Mi", "m", "1 Mi", " 1", "1e", "1e1.5", "--1",
                  "1.2.3", "NaN", "Infinity", "1_000", "0x10", "1e3m"]


@pytest.mark.parametrize("q", VALID)
def test_agrees_with_the_kubernetes_client(q):
    from kubernetes.utils import parse_quantity as reference

    assert parse_quantity(q) == float(reference(q))


@pytest.mark.parametrize("q", NOT_QUANTITIES)
def test_what_is_not_a_quantity_is_none(q):
    assert parse_quantity(q) is None


def test_the_forms_that_used_to_give_none():
    assert parse_quantity("1Pi") == 1024.0 ** 5
    assert parse_quantity("500m") == 0.5  # memory in millibytes is odd but valid, and the API server keeps it
    assert parse_quantity("1k") == 1000.0  # a CPU quantity with the kilo suffix


def test_numbers_and_absence():
    assert parse_quantity(None) is None and parse_quantity(True) is None
    assert parse_quantity(2) == 2.0 and parse_quantity(0.25) == 0.25
    assert parse_quantity("1e" + "9" * 20) is None  # beyond any exponent the server keeps
