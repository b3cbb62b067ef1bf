"""The Simplified Chinese catalogue: complete, not fuzzy, compiled, and covering every template string.

The .po checks need no database; only the page-rendering test uses ``db``. The .po is read by a small
parser below (the project does not depend on polib).

To refresh the catalogue after adding strings::

    python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=bench --no-obsolete
    # translate the new entries in locale/zh_Hans/LC_MESSAGES/django.po, then
    python manage.py compilemessages -l zh_Hans --ignore=.venv
"""

import datetime as dt
import gettext as pygettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from customers.rules import RuleViolation, normalize_credit_code, normalize_mobile, parse_resident_id

BASE_DIR = Path(settings.BASE_DIR)
LC_MESSAGES = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"
TEMPLATES_DIR = BASE_DIR / "templates"

CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


# --- A small .po parser -------------------------------------------------------------------------------------------

@dataclass
class PoEntry:
    line: int
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict = field(default_factory=dict)
    flags: set = field(default_factory=set)
    references: list = field(default_factory=list)

    @property
    def key(self) -> str:
        """The key gettext uses in a .mo: ``context\\x04msgid`` when there is a context."""
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid

    @property
    def translations(self) -> list[str]:
        if self.msgid_plural is not None:
            return [self.msgstr_plural[i] for i in sorted(self.msgstr_plural)]
        return [self.msgstr]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str, lineno: int) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{PO_PATH.name}:{lineno}: expected a quoted string, got {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text[1:-1])


def parse_po(path: Path) -> tuple[PoEntry | None, list[PoEntry]]:
    """Returns (header entry, other entries). Obsolete (``#~``) entries are skipped."""
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple | None = None  # (attribute, plural index or None) that continuation lines append to
    seen_msgstr = False

    def finish():
        nonlocal current, target, seen_msgstr
        if current is not None:
            entries.append(current)
        current, target, seen_msgstr = None, None, False

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if seen_msgstr:  # a comment after a complete entry starts the next one
                finish()
            if current is None:
                current = PoEntry(line=lineno)
            if line.startswith("#,"):
                current.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            elif line.startswith("#:"):
                current.references += line[2:].split()
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if current is None or target is None:
                raise ValueError(f"{path.name}:{lineno}: continuation line outside an entry")
            attr, index = target
            if index is None:
                setattr(current, attr, getattr(current, attr) + _unquote(line, lineno))
            else:
                current.msgstr_plural[index] += _unquote(line, lineno)
            continue
        if keyword in ("msgctxt", "msgid") and seen_msgstr:
            finish()
        if current is None:
            current = PoEntry(line=lineno)
        if keyword == "msgctxt":
            current.msgctxt = _unquote(rest, lineno)
            target = ("msgctxt", None)
        elif keyword == "msgid":
            current.msgid = _unquote(rest, lineno)
            target = ("msgid", None)
        elif keyword == "msgid_plural":
            current.msgid_plural = _unquote(rest, lineno)
            target = ("msgid_plural", None)
        elif keyword == "msgstr":
            current.msgstr = _unquote(rest, lineno)
            target, seen_msgstr = ("msgstr", None), True
        elif (m := re.fullmatch(r"msgstr\[(\d+)\]", keyword)):
            index = int(m.group(1))
            current.msgstr_plural[index] = _unquote(rest, lineno)
            target, seen_msgstr = ("msgstr_plural", index), True
        else:
            raise ValueError(f"{path.name}:{lineno}: cannot parse {raw!r}")
    finish()

    header = next((e for e in entries if e.msgid == "" and e.msgctxt is None), None)
    return header, [e for e in entries if e is not header]


@pytest.fixture(scope="module")
def po():
    return parse_po(PO_PATH)


@pytest.fixture(scope="module")
def entries(po):
    return po[1]


def describe(e: PoEntry) -> str:
    where = " ".join(e.references[:3]) or f"{PO_PATH.name}:{e.line}"
    return f"{e.msgid!r} ({where})"


# --- (a) complete, not fuzzy, well formed -------------------------------------------------------------------------

def test_po_parses_and_has_entries(entries):
    assert len(entries) > 300
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys)), "duplicate msgids in the .po"


def test_header_is_valid_and_not_fuzzy(po):
    header, _ = po
    assert header is not None, "the .po has no header entry"
    assert "fuzzy" not in header.flags, "the header is marked fuzzy: msgfmt would ignore its charset and plural forms"
    meta = dict(line.split(": ", 1) for line in header.msgstr.splitlines() if ": " in line)
    assert meta.get("Language") == "zh_Hans"
    assert meta.get("Plural-Forms") == "nplurals=1; plural=0;"
    assert "charset=UTF-8" in meta.get("Content-Type", "")


def test_every_entry_is_translated(entries):
    empty = [describe(e) for e in entries if not all(t.strip() for t in e.translations)]
    assert not empty, f"{len(empty)} untranslated entries:\n" + "\n".join(empty)


def test_no_entry_is_fuzzy(entries):
    fuzzy = [describe(e) for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries:\n" + "\n".join(fuzzy)


def test_plural_entries_have_the_single_zh_form(entries):
    bad = [describe(e) for e in entries if e.msgid_plural is not None and sorted(e.msgstr_plural) != [0]]
    assert not bad, "zh has nplurals=1: plural entries need exactly msgstr[0]:\n" + "\n".join(bad)


def test_placeholders_are_kept(entries):
    bad = []
    for e in entries:
        expected = sorted(PLACEHOLDER.findall(e.msgid))
        for t in e.translations:
            if sorted(PLACEHOLDER.findall(t)) != expected:
                bad.append(f"{describe(e)} → {t!r}")
    assert not bad, "placeholders differ between msgid and msgstr:\n" + "\n".join(bad)


def test_translations_are_chinese(entries):
    """Guards against a msgid copied into its msgstr. A few entries are legitimately Latin (``App``) or
    punctuation (the label suffix ":", translated to the full-width "：")."""
    allowed_latin = {"App", "API", ":"}
    bad = [describe(e) for e in entries
           if e.msgid not in allowed_latin and not all(CJK.search(t) for t in e.translations)]
    assert not bad, "translations without any Chinese characters:\n" + "\n".join(bad)


# --- (b) the .mo is compiled from this .po ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mo():
    assert MO_PATH.exists(), "run: python manage.py compilemessages -l zh_Hans --ignore=.venv"
    with MO_PATH.open("rb") as fh:
        return pygettext.GNUTranslations(fh)


def test_mo_translates_every_po_entry(entries, mo):
    stale = []
    for e in entries:
        if e.msgid_plural is not None:
            got = (mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1) if e.msgctxt is not None
                   else mo.ngettext(e.msgid, e.msgid_plural, 1))
        else:
            got = mo.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else mo.gettext(e.msgid)
        if got != e.translations[0]:
            stale.append(f"{describe(e)}: .mo has {got!r}, .po has {e.translations[0]!r}")
    assert not stale, ("the .mo is out of date; run compilemessages:\n" + "\n".join(stale[:30]))


def test_mo_has_no_entries_missing_from_po(entries, mo):
    po_keys = {e.key for e in entries} | {""}
    mo_keys = {k[0] if isinstance(k, tuple) else k for k in mo._catalog}
    extra = sorted(mo_keys - po_keys)
    assert not extra, f"the .mo holds msgids no longer in the .po; run compilemessages: {extra[:20]}"


def test_mo_header(mo):
    assert mo.info().get("language") == "zh_Hans"
    assert mo.info().get("plural-forms") == "nplurals=1; plural=0;"


# --- (c) Django uses the catalogue --------------------------------------------------------------------------------

def test_django_translates_to_chinese():
    with translation.override("zh-hans"):
        assert translation.gettext("Customers") == "客户"
        assert translation.gettext("My tasks") == "我的任务"
        assert translation.gettext("Relationship manager") == "客户经理"
    with translation.override("en"):
        assert translation.gettext("Customers") == "Customers"


@pytest.mark.parametrize("check, value", [
    (lambda v: parse_resident_id(v, today=dt.date(2026, 1, 1)), "12345"),
    (lambda v: parse_resident_id(v, today=dt.date(2026, 1, 1)), "110105194913310021"),  # no 31st of the 13th month
    (lambda v: parse_resident_id(v, today=dt.date(2026, 1, 1)), "110105194912310021"),  # wrong check character
    (normalize_credit_code, "91350100M000100Y4"),
    (normalize_mobile, "12345678901"),
])
def test_rule_violations_come_out_in_chinese(check, value):
    with translation.override("zh-hans"):
        with pytest.raises(RuleViolation) as exc:
            check(value)
        message = str(exc.value.message)
    assert CJK.search(message), message


def test_placeholder_message_is_formatted_in_chinese():
    with translation.override("zh-hans"):
        with pytest.raises(RuleViolation) as exc:
            normalize_credit_code("91350100M000100YIO")
        message = str(exc.value.message)
    assert message.startswith("统一社会信用代码不能包含："), message
    assert "I, O" in message


@pytest.mark.django_db
def test_login_page_renders_in_chinese():
    response = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    body = response.content.decode()
    assert "登录" in body and "用户名" in body and "密码" in body


# --- (d) every template string is in the catalogue ----------------------------------------------------------------

# {% translate "..." %} / {% trans '...' %}, optionally followed by context "..." / noop / as var.
TRANSLATE_TAG = re.compile(
    r"""\{%\s*trans(?:late)?\s+(?P<q>["'])(?P<msg>.*?)(?P=q)(?P<rest>[^%]*?)%\}""", re.DOTALL)
CONTEXT = re.compile(r"""context\s+(?P<q>["'])(?P<ctx>.*?)(?P=q)""")
# _("...") used as a filter argument or in a tag.
UNDERSCORE = re.compile(r"""\b_\((?P<q>["'])(?P<msg>.*?)(?P=q)\)""")
# {% blocktranslate [with ...] [trimmed] %}...{% endblocktranslate %} without plural.
BLOCKTRANSLATE = re.compile(
    r"\{%\s*blocktrans(?:late)?(?P<args>[^%]*)%\}(?P<body>.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.DOTALL)


def _template_strings():
    for path in sorted(TEMPLATES_DIR.rglob("*.html")) + sorted(TEMPLATES_DIR.rglob("*.txt")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(BASE_DIR)

        def where(pos, text=text, rel=rel):
            return f"{rel}:{text.count(chr(10), 0, pos) + 1}"

        for m in TRANSLATE_TAG.finditer(text):
            ctx = CONTEXT.search(m.group("rest"))
            # makemessages writes a literal % of a template string as %% (it becomes a format string)
            yield where(m.start()), (ctx.group("ctx") if ctx else None), m.group("msg").replace("%", "%%")
        for m in UNDERSCORE.finditer(text):
            yield where(m.start()), None, m.group("msg")
        for m in BLOCKTRANSLATE.finditer(text):
            args, body = m.group("args"), m.group("body")
            if re.search(r"\{%\s*plural\s*%\}", body):
                continue  # plural forms: checked by makemessages itself
            msg = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", body.replace("%", "%%"))
            if re.search(r"\btrimmed\b", args):
                msg = " ".join(line.strip() for line in msg.strip().splitlines() if line.strip())
            ctx = CONTEXT.search(args)
            yield where(m.start()), (ctx.group("ctx") if ctx else None), msg


def test_template_scan_finds_strings():
    assert len(list(_template_strings())) > 100


def test_every_template_string_is_in_the_catalogue(entries):
    by_key = {e.key: e for e in entries}
    missing = []
    for where, ctx, msg in _template_strings():
        key = f"{ctx}\x04{msg}" if ctx is not None else msg
        if key not in by_key:
            missing.append(f"{where}: {msg!r}")
    assert not missing, (
        "template strings missing from locale/zh_Hans/LC_MESSAGES/django.po; run makemessages, translate, "
        "compilemessages:\n" + "\n".join(missing))
