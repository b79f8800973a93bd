"""Text from a cluster or Prometheus is untrusted: make it safe to show.

Anyone who may annotate one object could otherwise write to every operator's
terminal: an ESC sequence in an annotation clears the screen or retitles the
tmux pane, a right-to-left override makes `v2` read as `2v`. This module is
the one sanitiser; the backends apply it where raw objects become the domain
model (console/kube/backend.py), where errors become sentences
(console/model.py ConsoleError, console/kube/errors.py) and where Prometheus
answers are parsed (console/metrics/prometheus.py).

`clean` removes:

* whole escape sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings
  (ESC ] ... up to BEL or ST, or to the end when unterminated: a terminal
  would swallow that much too), their 8-bit C1 forms, and any other ESC;
* every remaining C0 control (tab and newline become a space on one line),
  DEL and every C1 control (U+0080-U+009F);
* bidi embeddings, overrides, isolates and marks, and the Unicode line and
  paragraph separators.

Printable text, by far the common case (ASCII or not), is returned as is
after one C-level check, so running it on every watched object costs next to
nothing.
Pure stdlib: the model, the backends and the headless CLI may all import it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.model import ActionResult, Image, Rollout, RolloutRef, Step, VersionInfo

#: Longest untrusted value echoed inside a sentence ("plan '...' is invalid").
ECHO_LIMIT = 200
#: Backstop for a whole free-text field of a rollout (message, warning, reason).
FIELD_LIMIT = 1000

_SEQUENCES = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]                       # CSI: ESC [ params intermediates final
    | \x9b [0-?]* [ -/]* [@-~]                          # CSI, 8-bit
    | (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] )       # OSC DCS SOS PM APC, 7- or 8-bit
      [^\x07\x1b\x9c]* (?: \x07 | \x1b\\ | \x9c )?      # ... up to BEL or ST (or the end)
    | \x1b [ -/]* [0-~]?                                # any other ESC sequence, or a lone ESC
    """,
    re.VERBOSE,
)

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROP = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *map(ord, _BIDI)]
_SPACES = "\t\n\x0b\x0c\u2028\u2029"

#: One line: every line break or tab is a space, everything else dropped.
_LINE_TABLE: dict[int, str | None] = {c: None for c in _DROP} | {ord(c): " " for c in _SPACES}
#: Several lines: newlines stay, other spacing controls become a space.
_TEXT_TABLE = _LINE_TABLE | {ord("\n"): "\n"}


def _strip(text: str, table: dict[int, str | None]) -> str:
    # The fast path, one C-level scan: every control (Cc), bidi mark (Cf) and line
    # separator (Zl, Zp) is "not printable", so printable text has nothing to drop.
    if text.isprintable():
        return text
    return _SEQUENCES.sub("", text).translate(table)


def clean_line(text: str) -> str:
    """`text` fit for one line of a terminal: no control or bidi character at all."""
    return _strip(text, _LINE_TABLE)


def clean(text: str) -> str:
    """`text` fit for a terminal; newlines are kept, every other control goes."""
    return _strip(text, _TEXT_TABLE)


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(value: object, limit: int = 512) -> str:
    """Any untrusted value as one clean line, clipped: for logs, Events and tables."""
    return clip(clean_line(str(value)).strip(), limit)


def quote(value: object, limit: int = ECHO_LIMIT) -> str:
    """An untrusted value echoed in a sentence: repr-quoted, one clean line, clipped.

    A 5,000-character annotation is not echoed whole in a warning.
    """
    if isinstance(value, str):
        return repr(clip(clean_line(value), limit))
    return clip(clean_line(repr(value)), limit)


# --- the domain model, field by field ---------------------------------------------------
# Each helper returns the very object it was given when nothing needed cleaning
# (the common case), so "unchanged" is an identity test, not a deep comparison.


def _field(text: str) -> str:
    return clip(clean_line(text), FIELD_LIMIT)


def _same(new: Sequence[object], old: Sequence[object]) -> bool:
    return all(a is b for a, b in zip(new, old, strict=True))


def _image(image: Image) -> Image:
    repository, tag, digest = (clean_line(s) for s in (image.repository, image.tag, image.digest))
    if _same((repository, tag, digest), (image.repository, image.tag, image.digest)):
        return image
    return replace(image, repository=repository, tag=tag, digest=digest)


def _version(v: VersionInfo) -> VersionInfo:
    texts = (v.revision, v.pod_hash, v.label, v.workload)
    cleaned = tuple(clean_line(s) for s in texts)
    images = tuple(_image(i) for i in v.images)
    pods = tuple(clean_line(p) for p in v.pods)
    if _same(cleaned, texts) and _same(images, v.images) and _same(pods, v.pods):
        return v
    revision, pod_hash, label, workload = cleaned
    return replace(
        v,
        revision=revision,
        pod_hash=pod_hash,
        label=label,
        workload=workload,
        images=images,
        pods=pods,
    )


def _step(s: Step) -> Step:
    if not s.detail:
        return s
    detail = _field(s.detail)
    return s if detail is s.detail else replace(s, detail=detail)


def clean_ref(ref: RolloutRef) -> RolloutRef:
    """A rollout's cluster, namespace and name made safe; the same object when they were."""
    cluster, namespace, name = (clean_line(s) for s in (ref.cluster, ref.namespace, ref.name))
    if _same((cluster, namespace, name), (ref.cluster, ref.namespace, ref.name)):
        return ref
    return replace(ref, cluster=cluster, namespace=namespace, name=name)


def _already_clean(r: Rollout) -> bool:
    """One join and one C-level scan over every text of `r`: the common case."""
    free = [r.message, *r.warnings, *(why for _, why in r.unavailable)]
    free += [s.detail for s in r.steps]
    free += [v for _, v in r.extra]
    if any(len(text) > FIELD_LIMIT for text in free):
        return False
    texts = [r.ref.cluster, r.ref.namespace, r.ref.name, *free, *(k for k, _ in r.extra)]
    if r.route is not None:
        texts += (r.route.stable, r.route.canary)
    for v in (r.stable, r.canary):
        if v is not None:
            texts += (v.revision, v.pod_hash, v.label, v.workload, *v.pods)
            for i in v.images:
                texts += (i.repository, i.tag, i.digest)
    return "".join(texts).isprintable()


def clean_rollout(r: Rollout) -> Rollout:
    """Every text of a rollout made safe; the same object when it already was."""
    if _already_clean(r):
        return r
    ref = clean_ref(r.ref)
    stable = _version(r.stable)
    canary = _version(r.canary) if r.canary is not None else None
    message = _field(r.message)
    steps = tuple(_step(s) for s in r.steps)
    warnings = tuple(_field(w) for w in r.warnings)
    unavailable = tuple((a, _field(why)) for a, why in r.unavailable)
    extra = tuple((clean_line(k), _field(v)) for k, v in r.extra)
    route = r.route
    if route is not None and not _same(
        (clean_line(route.stable), clean_line(route.canary)), (route.stable, route.canary)
    ):
        route = replace(route, stable=clean_line(route.stable), canary=clean_line(route.canary))
    if (
        ref is r.ref
        and route is r.route
        and stable is r.stable
        and canary is r.canary
        and message is r.message
        and _same(steps, r.steps)
        and _same(warnings, r.warnings)
        and all(new[1] is old[1] for new, old in zip(unavailable, r.unavailable, strict=True))
        and all(
            new[0] is old[0] and new[1] is old[1] for new, old in zip(extra, r.extra, strict=True)
        )
    ):
        return r
    return replace(
        r,
        ref=ref,
        stable=stable,
        canary=canary,
        message=message,
        steps=steps,
        warnings=warnings,
        unavailable=unavailable,
        route=route,
        extra=extra,
    )


def clean_result(result: ActionResult) -> ActionResult:
    """An action's sentence and before/after text made safe."""
    message, before, after = (_field(s) for s in (result.message, result.before, result.after))
    ref = clean_ref(result.ref)
    if ref is result.ref and _same(
        (message, before, after), (result.message, result.before, result.after)
    ):
        return result
    return replace(result, ref=ref, message=message, before=before, after=after)
