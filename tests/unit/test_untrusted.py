"""console/untrusted.py: the one sanitiser, fed every category of hostile text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.model import (
    Action,
    ActionResult,
    Image,
    Phase,
    ProviderKind,
    Role,
    Rollout,
    RolloutRef,
    Step,
    StepKind,
    VersionInfo,
)
from console.untrusted import (
    ECHO_LIMIT,
    clean,
    clean_line,
    clean_result,
    clean_rollout,
    clip,
    quote,
)
from tests.faults.hostile import BIDI_CONTROLS, REPRO, assert_terminal_safe

#: The exact payload of the report (issue 9): clear screen, red, retitle the pane.

HOSTILE = [
    # (what, input, clean output)
    ("CSI erase display", "a\x1b[2Jb", "ab"),
    ("CSI SGR with params", "\x1b[1;31;48;5;196mred\x1b[0m", "red"),
    ("CSI private mode (alt screen)", "x\x1b[?1049hy", "xy"),
    ("CSI cut short at the end", "v2\x1b[31", "v231"),
    ("OSC title, BEL-terminated", "a\x1b]0;pwned\x07b", "ab"),
    ("OSC title, ST-terminated", "a\x1b]2;pwned\x1b\\b", "ab"),
    ("OSC 8 hyperlink", "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "click"),
    ("OSC 52 clipboard write", "a\x1b]52;c;cm0gLXJmIH4=\x07b", "ab"),
    ("OSC unterminated swallows the rest", "ok\x1b]0;pwned", "ok"),
    ("DCS", "a\x1bPq#0;2;0;0;0#0~~\x1b\\b", "ab"),
    ("APC, PM, SOS", "a\x1b_apc\x1b\\b\x1b^pm\x1b\\c\x1bXsos\x1b\\d", "abcd"),
    ("charset designation", "\x1b(0lqk\x1b(B", "lqk"),
    ("reset terminal", "a\x1bcb", "ab"),
    ("bare ESC", "a\x1bb", "a"),  # ESC b is a (meaningless) escape sequence: both go
    ("bare ESC at the end", "tail\x1b", "tail"),
    ("BEL", "ding\x07dong", "dingdong"),
    ("BS overwrites", "safe\x08\x08\x08\x08evil", "safeevil"),
    ("CR overwrites the line", "ok\rFAILED", "okFAILED"),
    ("NUL", "a\x00b", "ab"),
    ("VT and FF", "a\x0bb\x0cc", "a b c"),
    ("DEL", "a\x7fb", "ab"),
    ("C1 CSI (U+009B)", "a\x9b2Jb", "ab"),
    ("C1 OSC (U+009D), ST-terminated", "a\x9d0;pwned\x9cb", "ab"),
    ("C1 OSC (U+009D), BEL-terminated", "a\x9d0;pwned\x07b", "ab"),
    ("C1 DCS (U+0090)", "a\x90q\x9cb", "ab"),
    ("other C1 (NEL, U+0085)", "a\x85b", "ab"),
    ("right-to-left override", "2.13.0-\u202egpu", "2.13.0-gpu"),
    ("left-to-right override", "a\u202db", "ab"),
    ("embeddings and pop", "\u202aa\u202bb\u202c", "ab"),
    ("isolates", "\u2066a\u2067b\u2068c\u2069", "abc"),
    ("marks", "a\u200eb\u200fc\u061cd", "abcd"),
    ("line and paragraph separators", "a\u2028b\u2029c", "a b c"),
    ("tab and newline on one line", "a\tb\nc\r\nd", "a b c d"),
    ("the report's payload", REPRO, "mallory"),
]

PLAIN = [
    "",
    "tf-serving",
    "tensorflow/serving:2.13.0-gpu@sha256:" + "ab" * 32,
    "[red]x[/]",  # markup is not this function's business: it stays as typed
    "café é ü ß",
    "日本語のモデル",
    "модель",
    "🚀 ✅ ⚠ …",
    "👩\u200d👩\u200d👧 family (ZWJ sequence)",
    "e\u0301 (combining accent)",
    "שלום عربى",  # right-to-left scripts stay; only the overrides go
]


@pytest.mark.parametrize(("what", "raw", "want"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_every_category_is_removed(what: str, raw: str, want: str) -> None:
    assert clean_line(raw) == want
    assert_terminal_safe(clean_line(raw))
    assert_terminal_safe(clean(raw), newlines=True)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_and_unicode_text_passes_unchanged(text: str) -> None:
    assert clean_line(text) == text
    assert clean(text) == text


def test_printable_text_is_returned_as_is() -> None:
    text = "tensorflow/serving:2.13.0-gpu 日本"
    assert clean_line(text) is text


def test_clean_keeps_newlines_and_clean_line_does_not() -> None:
    assert clean("a\nb\tc\x1b[2J") == "a\nb c"
    assert clean_line("a\nb\tc\x1b[2J") == "a b c"


def test_cleaning_is_idempotent() -> None:
    for _, raw, _ in HOSTILE:
        once = clean_line(raw)
        assert clean_line(once) == once
        multi = clean(raw)
        assert clean(multi) == multi


def test_every_control_and_bidi_code_point_goes() -> None:
    dangerous = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
    dangerous += sorted(BIDI_CONTROLS)
    for ch in dangerous:
        assert_terminal_safe(clean_line(f"a{ch}b"))


def test_clip_and_quote_cap_long_values() -> None:
    assert clip("short") == "short"
    long = "x" * 5000
    assert len(clip(long)) == ECHO_LIMIT and clip(long).endswith("…")
    quoted = quote(long + REPRO)
    assert len(quoted) <= ECHO_LIMIT + 2 and "\x1b" not in quoted
    assert quote("v1") == "'v1'"
    assert quote(1.5) == "1.5"
    assert quote(REPRO) == "'mallory'"


def hostile_rollout() -> Rollout:
    evil = Image("reg.example/\x1b[2Jserving", "2.13.0-\u202egpu", "")
    return Rollout(
        ref=RolloutRef("lab\x07", "ns\x1b[31m", "tf\u202e-serving"),
        provider=ProviderKind.ISTIO,
        phase=Phase.PAUSED,
        stable=VersionInfo(Role.STABLE, revision="1\x9b", label="v1", images=(evil,)),
        canary=VersionInfo(Role.CANARY, workload="w\x1b]0;t\x07", pods=("p\x00",)),
        message=f"paused by {REPRO}",
        steps=(Step(StepKind.UNKNOWN, detail="x\x1bPq\x1b\\"),),
        warnings=("bad plan " + "9" * 5000,),
        unavailable=((Action.ADVANCE, "why\x7f"),),
        extra=(("paused by\x1b[2J", REPRO),),
    )


def test_clean_rollout_cleans_every_text_field() -> None:
    r = clean_rollout(hostile_rollout())
    assert r.ref == RolloutRef("lab", "ns", "tf-serving")
    assert r.stable.images[0] == Image("reg.example/serving", "2.13.0-gpu", "")
    assert r.stable.revision == "1"
    assert r.canary is not None and r.canary.workload == "w" and r.canary.pods == ("p",)
    assert r.message == "paused by mallory"
    assert r.steps[0].detail == "x"
    assert len(r.warnings[0]) <= 1000 and r.warnings[0].endswith("…")
    assert r.unavailable == ((Action.ADVANCE, "why"),)
    assert r.extra == (("paused by", "mallory"),)
    assert_terminal_safe(repr(r))


def test_clean_rollout_returns_a_clean_rollout_itself() -> None:
    clean_once = clean_rollout(hostile_rollout())
    assert clean_rollout(clean_once) is clean_once


def test_clean_result() -> None:
    ref = RolloutRef("lab", "ns", "vs")
    raw = ActionResult(ref, Action.RESUME, f"resumed ({REPRO})", before=f"paused by {REPRO}")
    result = clean_result(raw)
    assert result.message == "resumed (mallory)" and result.before == "paused by mallory"
    assert clean_result(result) is result


def test_a_long_but_printable_message_is_still_capped() -> None:
    r = replace(clean_rollout(hostile_rollout()), message="m" * 5000)
    assert len(clean_rollout(r).message) == 1000


def test_the_demo_fleet_is_already_clean() -> None:
    from console.demo import make_demo

    backend, _ = make_demo(seed=7, extra=20)
    for r in backend.list():
        assert clean_rollout(r) is r
