"""Vectorised check digits and column formatting for PostgreSQL's COPY text format."""

import numpy as np

_ID_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def _digits(strings: list[str], width: int) -> np.ndarray:
    """Equal-length digit strings → (n, width) int matrix."""
    if not strings:
        return np.zeros((0, width), dtype=np.int64)
    return (np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8).reshape(-1, width) - 48).astype(np.int64)


def id_check_chars(first17: list[str]) -> np.ndarray:
    """GB 11643 check characters for many 17-digit prefixes at once (same rule as rules.resident_id_check_char)."""
    return _ID_CHECK[(_digits(first17, 17) @ _ID_W) % 11]


def luhn_check_digits(numbers: list[str], width: int) -> np.ndarray:
    """Luhn check digits (bank-card numbers) for many digit strings of one width."""
    d = _digits(numbers, width)[:, ::-1]  # rightmost digit first; it is doubled
    dbl = d[:, 0::2] * 2
    total = (dbl // 10 + dbl % 10).sum(axis=1) + d[:, 1::2].sum(axis=1)
    return (10 - total % 10) % 10


def org_code_check(first8: list[str]) -> list[str]:
    """GB 11714 organisation-code check character (digits-only bodies)."""
    c = 11 - (_digits(first8, 8) @ _ORG_W) % 11
    return ["X" if v == 10 else "0" if v == 11 else str(v) for v in c.tolist()]


def fmt_money(cents: np.ndarray) -> list[str]:
    """Integer cents → '1234.56' (exact: cents/100 as a float always rounds back to the same 2 decimals)."""
    return list(map("%.2f".__mod__, (cents / 100.0).tolist()))


def fmt_dates(days: np.ndarray, null_mask: np.ndarray | None = None) -> list[str]:
    out = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    if null_mask is not None:
        out[null_mask] = "\\N"
    return out.tolist()


def fmt_ts(epoch_s: np.ndarray) -> list[str]:
    s = np.datetime_as_string(epoch_s.astype("datetime64[s]"), unit="s").astype(object)
    return (s + "+00").tolist()


def pick(rng, options, p, n):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]
