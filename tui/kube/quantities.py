"""Kubernetes resource quantities ("250m", "256Mi", "1e3", "1Pi") as numbers: the one quantity parser.

The grammar is resource.Quantity's (k8s.io/apimachinery/pkg/api/resource):
    quantity ::= [+-] number suffix
    number   ::= digits | digits "." [digits] | "." digits
    suffix   ::= "" | n u m k M G T P E  (powers of 1000)  |  Ki Mi Gi Ti Pi Ei  (powers of 1024)  |  (e|E) [+-] digits
Anything else (whitespace, "1K", "1ki", "NaN") is not a quantity: the API server never writes one.
"""

from __future__ import annotations

import re
from decimal import Decimal

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?\Z")
_DECIMAL = {None: 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}


def parse_quantity(q: str | int | float | None) -> float | None:
    """A quantity's value (cores for CPU, bytes for memory); None when absent or not a quantity.
    Exact, then rounded once to a float: "123456n" is the float nearest 0.000123456."""
    if q is None or isinstance(q, bool):
        return None
    if isinstance(q, (int, float)):
        return float(q)
    m = _QUANTITY.match(q) if isinstance(q, str) else None
    if m is None:
        return None
    number, suffix = m.groups()
    if suffix in _BINARY:
        if "." in number or len(number) > 40:
            return float(Decimal(number) * (1024 ** _BINARY[suffix]))
        return float(int(number) * 1024 ** _BINARY[suffix])
    elif suffix is not None and len(suffix) > 1:  # e3, E-3
        exp = int(suffix[1:])
    else:
        exp = _DECIMAL[suffix]
    if "." in number or len(number) > 40 or not -30 <= exp <= 30:
        try:
            return float(Decimal(number).scaleb(exp))
        except ArithmeticError:  # beyond Decimal's exponent range: no quantity the API server would keep
            return None
    # integers (what the API server writes): int arithmetic, and int / int is correctly rounded
    return float(int(number) * 10 ** exp) if exp >= 0 else int(number) / 10 ** -exp
