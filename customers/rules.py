"""Pure rules for customer data: identity checksums, phone format, masking, search terms.

No ORM, no settings, no clock: ``today`` is always a parameter.
"""

import re
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _


class RuleViolation(ValueError):
    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


# --- Resident identity card (GB 11643-1999) ---
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


RESIDENT_ID_FORMAT_MESSAGE = _("A resident ID has 18 characters: 17 digits and a digit or X (or 15 digits).")
RESIDENT_ID_DATE_MESSAGE = _("Digits 7–14 of the ID are not a real birth date.")
RESIDENT_ID_FUTURE_MESSAGE = _("The birth date in the ID is in the future.")
RESIDENT_ID_BEFORE_1880_MESSAGE = _("The birth date in the ID is before 1880.")
RESIDENT_ID_CHECK_MESSAGE = _("The ID's check character is wrong: please check the number for a typo.")


@dataclass(frozen=True)
class ResidentId:
    number: str  # 18 characters, check character upper case
    birth_date: date
    gender: str  # "M" or "F"
    area_code: str


def resident_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def resident_id_from_15(old: str) -> str:
    """A legacy 15-digit ID (YYMMDD, 19xx births) converted to 18 characters."""
    first17 = old[:6] + "19" + old[6:]
    return first17 + resident_id_check_char(first17)


def parse_resident_id(value: str, *, today: date) -> ResidentId:
    raw = (value or "").strip().replace(" ", "").upper()
    if re.fullmatch(r"\d{15}", raw):
        raw = resident_id_from_15(raw)
    if not re.fullmatch(r"\d{17}[\dX]", raw):
        raise RuleViolation(RESIDENT_ID_FORMAT_MESSAGE)
    try:
        born = date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    except ValueError:
        raise RuleViolation(RESIDENT_ID_DATE_MESSAGE) from None
    if born > today:
        raise RuleViolation(RESIDENT_ID_FUTURE_MESSAGE)
    if born.year < 1880:
        raise RuleViolation(RESIDENT_ID_BEFORE_1880_MESSAGE)
    if resident_id_check_char(raw[:17]) != raw[17]:
        raise RuleViolation(RESIDENT_ID_CHECK_MESSAGE)
    return ResidentId(number=raw, birth_date=born, gender="M" if int(raw[16]) % 2 else "F", area_code=raw[:6])


# --- Identity numbers of the other ID types (customers.constants.IdType) ---
# Every type is checked to its documented format, so that what is stored (and later revealed) is only ever
# letters, digits and, for old Taiwan permits, a bracketed suffix: never markup.
ID_FORMAT_MESSAGES = {
    "passport": _("A passport number has 5–17 letters and digits (a Chinese passport: E or G and 8 digits, "
                  "or E, a letter and 7 digits)."),
    "hk_macao_permit": _("A Mainland travel permit for Hong Kong/Macao residents is H or M and 8 digits "
                         "(older permits: 10 digits)."),
    "taiwan_permit": _("A Mainland travel permit for Taiwan residents has 8 digits (older permits: 10 digits, "
                       "or 8 digits and a bracketed letter)."),
    "foreign_pr": _("A foreign permanent resident ID is 18 characters starting with 9 (since 2023) "
                    "or 3 letters and 12 digits (earlier cards)."),
}
FOREIGN_PR_CHECK_MESSAGE = _("The permanent resident ID's check character is wrong: please check the number for a typo.")

# ASCII digits only ([0-9], not \d, which also matches full-width and other scripts' digits).
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAO_PERMIT = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?")
_TAIWAN_PERMIT = re.compile(r"[0-9]{8}(?:[0-9]{2}|\([A-Z0-9]\))?")
_FOREIGN_PR = re.compile(r"[A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X]")
ID_FORMATS = {"passport": _PASSPORT, "hk_macao_permit": _HK_MACAO_PERMIT, "taiwan_permit": _TAIWAN_PERMIT,
              "foreign_pr": _FOREIGN_PR}


def compact_id_number(value: str) -> str:
    """An ID number as stored: without whitespace, upper case, full-width brackets as ASCII ones."""
    return "".join((value or "").split()).upper().replace("（", "(").replace("）", ")")


def normalize_passport(value: str) -> str:
    """Passport number (护照号码): 5 to 17 letters and digits.

    Chinese ordinary passports are E + 8 digits (2012 e-passport), E + a letter (not I or O) + 7 digits
    (since the E-digit numbers ran out, 2017) or, older, G + 8 digits; other countries use 6–9 letters and
    digits (ICAO 9303's document number field holds 9, longer ones continue in the optional data), so without
    a nationality on the profile only the common shape is checked: 5–17 of A–Z and 0–9.
    """
    number = compact_id_number(value)
    if not _PASSPORT.fullmatch(number):
        raise RuleViolation(ID_FORMAT_MESSAGES["passport"])
    return number


def normalize_hk_macao_permit(value: str) -> str:
    """Mainland travel permit for Hong Kong and Macao residents (港澳居民来往内地通行证, 回乡证).

    H (Hong Kong) or M (Macao) and 8 digits; the booklets issued before the 2012 card added a 2-digit issue
    count, so H/M and 10 digits is accepted too.
    """
    number = compact_id_number(value)
    if not _HK_MACAO_PERMIT.fullmatch(number):
        raise RuleViolation(ID_FORMAT_MESSAGES["hk_macao_permit"])
    return number


def normalize_taiwan_permit(value: str) -> str:
    """Mainland travel permit for Taiwan residents (台湾居民来往大陆通行证, 台胞证).

    The card issued since 2015 carries 8 digits. Older booklets carried 10 digits (8 and a 2-digit issue
    count) or 8 digits with a bracketed letter, e.g. ``12345678(B)``; full-width brackets are stored as ASCII.
    """
    number = compact_id_number(value)
    if not _TAIWAN_PERMIT.fullmatch(number):
        raise RuleViolation(ID_FORMAT_MESSAGES["taiwan_permit"])
    return number


def normalize_foreign_pr(value: str) -> str:
    """Foreigner's permanent residence ID card (外国人永久居留身份证).

    The 2023 card: 18 characters in the resident ID's layout, starting with 9 (then province, nationality,
    birth date, sequence) and ending with a GB 11643 check character (a digit or X). Earlier cards (2004,
    2017): 15 characters, the holder's ISO 3166 3-letter nationality code and 12 digits.
    """
    number = compact_id_number(value)
    if not _FOREIGN_PR.fullmatch(number):
        raise RuleViolation(ID_FORMAT_MESSAGES["foreign_pr"])
    if len(number) == 18 and resident_id_check_char(number[:17]) != number[17]:
        raise RuleViolation(FOREIGN_PR_CHECK_MESSAGE)
    return number


ID_NUMBER_RULES = {
    "passport": normalize_passport,
    "hk_macao_permit": normalize_hk_macao_permit,
    "taiwan_permit": normalize_taiwan_permit,
    "foreign_pr": normalize_foreign_pr,
}


def normalize_id_number(id_type: str, value: str, *, today: date) -> str:
    """The ID number as stored, checked to the format of its type (a resident ID by ``parse_resident_id``)."""
    if id_type == "resident_id":
        return parse_resident_id(value, today=today).number
    rule = ID_NUMBER_RULES.get(id_type)
    return rule(value) if rule else compact_id_number(value)  # an unknown type is the choice field's error


# --- Unified social credit code (GB 32100-2015) ---
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


CREDIT_CODE_CHECK_MESSAGE = _("The credit code's check character is wrong: please check the code for a typo.")


def credit_code_format_message(code: str) -> str | None:
    """What is wrong with the shape of an upper-cased credit code (None: 18 characters of its alphabet)."""
    if len(code) != 18:
        return str(_("A unified social credit code has 18 characters."))
    bad = sorted({c for c in code if c not in _USCC_ALPHABET})
    if bad:
        return str(_("A unified social credit code cannot contain: %(chars)s (I, O, Z, S and V are never used).")
                   % {"chars": ", ".join(bad)})
    return None


def normalize_credit_code(value: str) -> str:
    code = (value or "").strip().replace(" ", "").upper()
    message = credit_code_format_message(code)
    if message:
        raise RuleViolation(message)
    if credit_code_check_char(code[:17]) != code[17]:
        raise RuleViolation(CREDIT_CODE_CHECK_MESSAGE)
    return code


# --- CIF (core-banking customer number) ---
_CIF = re.compile(r"[A-Z0-9-]+")
_CIF_COLUMN = re.compile(r"[A-Z0-9-]+(?:\n[A-Z0-9-]+)*")
CIF_MESSAGE = _("A CIF has only letters, digits and dashes.")


def normalize_cif(value: str) -> str:
    """The CIF as stored: stripped and upper-cased; only Latin letters, digits and dashes."""
    cif = (value or "").strip().upper()
    if not _CIF.fullmatch(cif):
        raise RuleViolation(CIF_MESSAGE)
    return cif


# --- Mobile numbers ---
_MOBILE = re.compile(r"1[3-9]\d{9}")
MOBILE_MESSAGE = _("Enter a mainland mobile number: 11 digits starting 13–19 (a +86 prefix is fine).")


def normalize_mobile(value: str) -> str:
    digits = re.sub(r"[\s\-()]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.fullmatch(digits):
        raise RuleViolation(MOBILE_MESSAGE)
    return digits


# --- Masking (JR/T 0171-2020 C2 data): masked values keep their length ---
def _mask(value: str, keep_start: int, keep_end: int) -> str:
    if not value:
        return value
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]


def mask_mobile(value: str) -> str:
    """138****8000: first 3 and last 4 kept."""
    return _mask(value, 3, 4)


def mask_id_number(value: str) -> str:
    """110105********002X: first 6 and last 4 kept; the birth date is hidden.

    Shorter numbers (passports, permits, old permanent resident IDs) show at most half their characters,
    split between the start and the end (``USA********0012`` for an old 15-character permanent resident ID); up to
    10 characters nothing is shown (``*********`` for a 9-character passport).
    """
    n = len(value or "")
    if n >= 18:
        return _mask(value, 6, 4)
    shown = n // 2 if n > 10 else 0
    keep_end = min(4, (shown + 1) // 2)
    return _mask(value, shown - keep_end, keep_end)


def mask_account_no(value: str) -> str:
    """At most the first 6 and last 4 kept; short numbers keep less."""
    keep = max(0, min(6, (len(value or "") - 4) // 2))
    return _mask(value, keep, 4 if len(value or "") > 8 else 0)


def mask_credit_code(value: str) -> str:
    return _mask(value, 6, 4)


MASKERS = {
    "id_number": mask_id_number,
    "mobile": mask_mobile,
    "account_no": mask_account_no,
    "credit_code": mask_credit_code,
}


# --- Profile history ---
EMPTY_VALUES = (None, "", [], False)  # what a form shows as nothing


def jsonable(value):
    """A field value as profile history stores it (dates as ISO text)."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def creation_values(current: dict, later_changes: list[dict]) -> dict:
    """The values a customer was created with: its current values with every change recorded since
    undone, newest change first (``later_changes`` newest first, each ``{field: [old, new]}``).

    Bulk loads write the creation entry without values (building that JSON for every new row cost
    PostgreSQL about a fifth of a bulk batch); every later change records the old value, so the
    creation values follow from the current ones. Empty values are left out, as on a form.
    """
    values = dict(current)
    for changes in later_changes:
        for field, (old, _new) in changes.items():
            values[field] = old
    return {f: v for f, v in values.items() if v not in EMPTY_VALUES}


# --- Search ---
def bigrams(text: str) -> list[str]:
    """Distinct 2-character fragments of a name, for the GIN index that finds Chinese
    names by any 2+ character fragment (pg_trgm needs 3 characters and a UTF-8 ctype)."""
    text = "".join((text or "").lower().split())  # without whitespace (the same as re.sub(r"\s+", ""), faster)
    return sorted({text[i:i + 2] for i in range(len(text) - 1)})


@dataclass(frozen=True)
class SearchTerms:
    text: str
    cif: str
    mobile: str | None
    id_number: str | None
    name_bigrams: list[str]
    mobile_last4: str | None = None


_LAST4 = re.compile(r"[0-9]{4}")


def search_terms(query: str) -> SearchTerms:
    """What one search box means: an exact CIF, mobile or ID number, or a name fragment; four digits are
    also the last four of a mobile (手机尾号, how an RM often looks a customer up)."""
    q = (query or "").strip()
    try:
        mobile = normalize_mobile(q)
    except RuleViolation:
        mobile = None
    compact = q.replace(" ", "").upper()
    id_number = compact if re.fullmatch(r"\d{17}[\dX]|\d{15}", compact) else None
    if id_number and len(id_number) == 15:
        id_number = resident_id_from_15(id_number)
    return SearchTerms(text=q, cif=q.upper(), mobile=mobile, id_number=id_number, name_bigrams=bigrams(q),
                       mobile_last4=q if _LAST4.fullmatch(q) else None)


def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


# --- Whole-column versions for bulk loads (sequences of str in, numpy arrays out) ---
# The same rules as the functions above, over a whole batch at once with numpy on the values' bytes: the
# batch's IDs joined into one string and viewed as an n × 18 array of digits, so that a checksum or a date
# check is a handful of array operations whatever the batch size.
_MOBILE_COLUMN = re.compile(r"(?:1[3-9]\d{9})?(?:\n(?:1[3-9]\d{9})?)*")


def _fixed_width(values: list, width: int):
    """(n × width array of the bytes of each ASCII value of exactly ``width`` characters, zeros for the
    others; mask of those values)."""
    import numpy as np

    n = len(values)
    ok = (np.fromiter(map(len, values), dtype=np.int64, count=n) == width) & np.fromiter(
        map(str.isascii, values), dtype=bool, count=n)
    joined = "".join(values) if ok.all() else "".join(v if good else "\0" * width for v, good in zip(values, ok))
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(n, width), ok


def dates_from_parts(year, month, day):
    """(datetime64[D] array, mask of real dates) from integer arrays; NaT where not a real date."""
    import numpy as np

    ok = (year >= 1) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1)
    y, m = np.where(ok, year, 1970), np.where(ok, month, 1)
    first = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)
    length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    ok &= day <= length
    days = first.astype("datetime64[D]") + (np.where(ok, day, 1) - 1)
    return np.where(ok, days, np.datetime64("NaT")), ok


def resident_id_checks(ids, *, today: date):
    """Vectorised GB 11643 checks over upper-cased strings ("" = none).

    Returns (ok_format, ok_date, ok_not_future, ok_check, birth_dates, genders): masks aligned with ``ids``,
    the birth date encoded in each ID (``date`` objects, None when not a real date) and the gender ("M"/"F").
    """
    import numpy as np

    values = list(ids)
    chars, ok_len = _fixed_width(values, 18)
    digits = chars[:, :17].astype(np.int64) - 48
    last = chars[:, 17]
    ok_format = ok_len & ((digits >= 0) & (digits <= 9)).all(axis=1) & (((last >= 48) & (last <= 57)) | (last == 88))
    d = np.where(ok_format[:, None], digits, 0)
    born, real = dates_from_parts(d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9],
                                    d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13])
    ok_date = ok_format & real & (born >= np.datetime64("1880-01-01"))
    ok_not_future = ~(ok_date & (born > np.datetime64(today, "D")))
    expected = np.frombuffer(_ID_CHECK.encode("ascii"), dtype=np.uint8)[(d @ np.array(_ID_WEIGHTS)) % 11]
    ok_check = ok_format & (expected == last)
    birth_dates = np.full(len(values), None, dtype=object)
    birth_dates[ok_date] = born[ok_date].astype(object)
    genders = np.where(d[:, 16] % 2 == 1, "M", "F").astype(object)
    return ok_format, ok_date, ok_not_future, ok_check, birth_dates, genders


_USCC_VALUES = [-1] * 256
for _i, _c in enumerate(_USCC_ALPHABET):
    _USCC_VALUES[ord(_c)] = _i


def credit_code_checks(codes):
    """Vectorised GB 32100 checks over upper-cased strings: (ok_format, ok_check) masks."""
    import numpy as np

    chars, ok_len = _fixed_width(list(codes), 18)
    values = np.array(_USCC_VALUES, dtype=np.int64)[chars]
    ok_format = ok_len & (values >= 0).all(axis=1)
    values = np.where(ok_format[:, None], values, 0)
    expected = (31 - (values[:, :17] @ np.array(_USCC_WEIGHTS)) % 31) % 31
    return ok_format, ok_format & (expected == values[:, 17])


def cif_checks(cifs):
    """Vectorised ``normalize_cif`` format check over stripped, upper-cased strings: the ok mask. A batch of
    good CIFs is recognised with one regular-expression pass over the joined column."""
    import numpy as np

    values = list(cifs)
    joined = "\n".join(values)
    if values and joined.count("\n") == len(values) - 1 and _CIF_COLUMN.fullmatch(joined):
        return np.ones(len(values), dtype=bool)
    match = _CIF.fullmatch
    return np.fromiter((match(v) is not None for v in values), dtype=bool, count=len(values))


def normalize_mobiles(values):
    """Vectorised ``normalize_mobile`` over strings ("" = none): (normalised list, ok mask). Empty values are
    ok and stay empty. A batch of already clean numbers is recognised with one regular-expression pass."""
    import numpy as np

    values = ["" if v is None else str(v) for v in values]
    joined = "\n".join(values)
    if joined.count("\n") == len(values) - 1 and _MOBILE_COLUMN.fullmatch(joined):
        return values, np.ones(len(values), dtype=bool)
    out, ok = [], np.zeros(len(values), dtype=bool)
    for i, v in enumerate(values):  # the one-value rule, for a batch with something to clean or reject
        if not re.sub(r"[\s\-()]", "", v):
            v, ok[i] = "", True
        else:  # (a lone "+86" is a bad number, not an empty one)
            try:
                v, ok[i] = normalize_mobile(v), True
            except RuleViolation:
                pass
        out.append(v)
    return out, ok


# --- Dates the CRM accepts (API, filters, bulk, import): a typo like 0199 or 20260 is an error, not a record ---
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2100, 12, 31)
MAX_TAGS, MAX_TAG_LENGTH = 20, 30  # as Customer.tags: ArrayField(CharField(max_length=30)), MaxLengthValidator(20)
TAG_LENGTH_MESSAGE = _("A tag has at most 30 characters.")
TAG_COUNT_MESSAGE = _("A customer has at most 20 tags.")


def tags_problem(tags) -> str | None:
    """The message for a customer's list of tags that breaks the limits, or None."""
    if any(len(t) > MAX_TAG_LENGTH for t in tags):
        return TAG_LENGTH_MESSAGE
    if len(tags) > MAX_TAGS:
        return TAG_COUNT_MESSAGE
    return None


DATE_BOUNDS_MESSAGE = _("Enter a date between 1900-01-01 and 2100-12-31.")


def date_in_bounds(value: date) -> bool:
    """True for a date (or a datetime's date) from 1900-01-01 to 2100-12-31."""
    day = value.date() if hasattr(value, "date") and callable(value.date) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def id_number_format_checks(id_types, ids):
    """Vectorised ``ID_NUMBER_RULES`` over compacted (``compact_id_number``) ID numbers, "" = none.

    Returns (ok_format, ok_check): masks aligned with ``ids`` that are False where a number of a type other
    than the resident ID does not have its type's format (``ID_FORMAT_MESSAGES[type]``), or where a 2023
    foreign permanent resident ID has a wrong check character (``FOREIGN_PR_CHECK_MESSAGE``). Resident IDs,
    empty numbers and unknown types are left to other checks (True). One regular-expression pass per type
    over that type's rows (pandas ``str.fullmatch``); the check character only for the few 18-character
    permanent resident IDs.
    """
    import numpy as np
    import pandas as pd

    types = pd.Series(list(id_types), dtype=object).fillna("")
    numbers = pd.Series(list(ids), dtype=object).fillna("")
    n = len(numbers)
    ok_format, ok_check = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    given = (numbers != "").to_numpy()
    for id_type, pattern in ID_FORMATS.items():
        rows = given & (types == id_type).to_numpy()
        if rows.any():
            ok_format[rows] = numbers[rows].str.fullmatch(pattern.pattern).to_numpy(dtype=bool)
    fpr = given & ok_format & (types == "foreign_pr").to_numpy() & (numbers.str.len() == 18).to_numpy()
    for i in np.flatnonzero(fpr):
        ok_check[i] = resident_id_check_char(numbers.iat[i][:17]) == numbers.iat[i][17]
    return ok_format, ok_check


# --- Cross-field rules of a customer record (DOMAIN.md §2) ---
# Each is written once, with one message, over columns: the bulk pipeline passes a batch of merged records, the
# single-record service (``services.customer_check``) a record of one.
ID_TYPE_NEEDED_MESSAGE = _("Choose the type of the ID document.")
BIRTH_DATE_FUTURE_MESSAGE = _("The birth date cannot be in the future.")
ASSESSMENT_FUTURE_MESSAGE = _("The assessment date cannot be in the future.")
RISK_DATE_NEEDED_MESSAGE = _("Give the date of the risk assessment.")
GENDER_MISMATCH_MESSAGE = _("The gender does not match the ID number.")
CREDIT_CODE_INDIVIDUAL_MESSAGE = _("Only corporate customers have a credit code.")
CREDIT_CODE_NEEDED_MESSAGE = _("A corporate customer needs its unified social credit code.")
RM_BRANCH_MESSAGE = _("This relationship manager does not work in the customer's branch.")

# The fields the record rules read; they normalise mobile, id_number and credit_code and fill birth_date and
# gender in from a resident ID.
RECORD_FIELDS = ("kind", "id_type", "id_number", "credit_code", "mobile", "birth_date", "gender", "risk_level",
                 "risk_assessed_on")


def birth_date_mismatch_message(born: date) -> str:
    return str(_("The birth date does not match the ID number (%(date)s).") % {"date": born.isoformat()})


def blank(values):
    """None, NaN or "" per value."""
    import numpy as np
    import pandas as pd

    values = np.asarray(values, dtype=object)
    return pd.isna(values) | (values == "")


def _filled(values):
    """Text values with None as ""."""
    values = values.copy()
    values[blank(values)] = ""
    return values


def _compact_upper(values):
    """Text values without spaces, upper-cased ("" for None): ID numbers and credit codes."""
    import numpy as np

    values = _filled(values)
    joined = "".join(values)
    if " " not in joined and joined.upper() == joined:
        return values  # the usual batch: nothing to change (checked in two C-level passes)
    return np.fromiter((v.replace(" ", "").upper() for v in values), dtype=object, count=len(values))


def customer_record_problems(m: dict, *, today: date) -> list[tuple[str, object, object]]:
    """The cross-field rules over records given as columns (``RECORD_FIELDS``: object arrays, None or "" for
    no value): ``(field, mask of the records that break the rule, message)`` in the order a field's first
    problem is reported; a message is one text, or an array of texts by record. Normalises mobiles, ID numbers
    and credit codes in ``m`` and fills birth date and gender in from resident IDs."""
    import numpy as np

    problems = []

    def fail(mask, field, message):
        problems.append((field, np.asarray(mask, dtype=bool), message))

    mobiles, ok = normalize_mobiles(m["mobile"])
    fail(~ok, "mobile", MOBILE_MESSAGE)
    m["mobile"] = np.where(ok, np.fromiter(mobiles, dtype=object, count=len(mobiles)), m["mobile"])
    _id_number_problems(m, fail, today=today)
    _credit_code_problems(m, fail)
    fail(~blank(m["risk_level"]) & blank(m["risk_assessed_on"]), "risk_assessed_on", RISK_DATE_NEEDED_MESSAGE)
    return problems


def _id_number_problems(m: dict, fail, *, today: date) -> None:
    """Resident IDs: format, a real birth date (not in the future, not before 1880), the check character, and
    agreement with the birth date and gender given (which they fill in when not given). The other ID types: each
    to its documented format (``ID_NUMBER_RULES``), one regex pass per type. A number needs its type."""
    import numpy as np

    n = len(m["kind"])
    ids = _compact_upper(m["id_number"])
    resident_type = m["id_type"] == "resident_id"
    if 15 in set(map(len, ids)):
        legacy = resident_type & np.fromiter((len(v) == 15 and v.isdigit() and v.isascii() for v in ids),
                                             dtype=bool, count=n)
        ids[legacy] = [resident_id_from_15(v) for v in ids[legacy]]
    m["id_number"] = ids
    resident = resident_type & (ids != "")
    if resident.any():
        ok_format, ok_date, ok_not_future, ok_check, born, genders = resident_id_checks(ids, today=today)
        early = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(resident & ok_format & ~ok_date):
            try:
                early[i] = date(int(ids[i][6:10]), int(ids[i][10:12]), int(ids[i][12:14])).year < 1880
            except ValueError:
                pass  # not a real date
        fail(resident & ~ok_format, "id_number", RESIDENT_ID_FORMAT_MESSAGE)
        fail(resident & ~ok_date & ~early, "id_number", RESIDENT_ID_DATE_MESSAGE)
        fail(resident & ~ok_not_future, "id_number", RESIDENT_ID_FUTURE_MESSAGE)
        fail(resident & early, "id_number", RESIDENT_ID_BEFORE_1880_MESSAGE)
        fail(resident & ~ok_check, "id_number", RESIDENT_ID_CHECK_MESSAGE)
        good = (m["kind"] == "individual") & resident & ok_check & ok_date & ok_not_future
        given_birth = m["birth_date"]
        no_birth = blank(given_birth)
        differs = good & ~no_birth & (given_birth != born)
        if differs.any():
            messages = np.full(n, None, dtype=object)
            messages[differs] = [birth_date_mismatch_message(d) for d in born[differs]]
            fail(differs, "birth_date", messages)
        has_gender = (m["gender"] == "M") | (m["gender"] == "F")
        fail(good & has_gender & (m["gender"] != genders), "gender", GENDER_MISMATCH_MESSAGE)
        m["birth_date"] = np.where(good & no_birth, born, given_birth)
        m["gender"] = np.where(good & ~has_gender, genders, m["gender"])
    other_type = (ids != "") & ~resident_type
    if other_type.any():
        ids[other_type] = [compact_id_number(v) for v in ids[other_type]]  # (few rows: a loop is cheap)
        ok_format, ok_check = id_number_format_checks(m["id_type"], ids)
        for id_type, message in ID_FORMAT_MESSAGES.items():
            fail(other_type & (m["id_type"] == id_type) & ~ok_format, "id_number", message)
        fail(other_type & ~ok_check, "id_number", FOREIGN_PR_CHECK_MESSAGE)
    fail((ids != "") & blank(m["id_type"]), "id_type", ID_TYPE_NEEDED_MESSAGE)


def _credit_code_problems(m: dict, fail) -> None:
    """Only a corporate customer has a credit code, and it needs one: 18 characters of the code's alphabet with
    the right check character."""
    import numpy as np

    m["credit_code"] = codes = _compact_upper(m["credit_code"])
    individual = m["kind"] == "individual"
    corporate = ~individual
    has_code = codes != ""
    fail(individual & has_code, "credit_code", CREDIT_CODE_INDIVIDUAL_MESSAGE)
    fail(corporate & ~has_code, "credit_code", CREDIT_CODE_NEEDED_MESSAGE)
    if (corporate & has_code).any():
        ok_format, ok_check = credit_code_checks(codes)
        bad_format = corporate & has_code & ~ok_format
        if bad_format.any():
            messages = np.full(len(codes), None, dtype=object)
            messages[bad_format] = [credit_code_format_message(c) for c in codes[bad_format]]
            fail(bad_format, "credit_code", messages)
        fail(corporate & ok_format & ~ok_check, "credit_code", CREDIT_CODE_CHECK_MESSAGE)
