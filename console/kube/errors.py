"""Turn API and connection failures into one sentence an operator can act on.

403, 404, 409, timeouts and refused connections each get their own sentence;
anything else keeps the server's message (redacted) so nothing is hidden.
The server's words are untrusted text: the sentence is one clean line and a
quoted body is clipped (console/untrusted.py).
This module does not import kubernetes: it reads the exception's attributes
(ApiError and kubernetes' ApiException have .status/.reason/.body), so it is
testable without a cluster. console/kube/client.py turns urllib3's network
errors into the builtin OSErrors these sentences look for.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from typing import Any

from console.model import Action, ActionError, ConsoleError, RolloutRef, UnavailableError
from console.untrusted import clean_line, clip

# Bearer tokens, JWTs, client keys/passwords in kubeconfig-ish text: never echoed.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),  # JWT
    re.compile(
        r"(?i)((?:token|password|client-key-data|client-certificate-data|"
        r"client_key|secret|auth)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
    ),
)

# A server message can quote the object (a 422 echoes the bad value): long
# enough for any real Status message, short enough that nothing floods a line.
SERVER_TEXT_LIMIT = 400


class ApiError(Exception):
    """A non-2xx answer. `.status`, `.reason`, `.body` as kubernetes' ApiException has them."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body

    @property
    def message(self) -> str:
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.reason
        return str(data.get("message") or self.reason) if isinstance(data, dict) else self.reason


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


def status_message(exc: BaseException) -> str:
    """The apiserver's Status.message of an ApiException, else its reason."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return clip(clean_line(redact(data["message"])), SERVER_TEXT_LIMIT)
    return clip(clean_line(redact(str(getattr(exc, "reason", "") or exc))), SERVER_TEXT_LIMIT)


def _is_timeout(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(
        names & {"ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "timeout"}
    ) or any(isinstance(e, socket.timeout | TimeoutError) for e in _chain(exc))


def _is_refused(exc: BaseException) -> bool:
    text = " ".join(str(e) for e in _chain(exc))
    return any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)) or (
        "Connection refused" in text or "NewConnectionError" in text
    )


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        reason = getattr(cur, "reason", None)
        cur = reason if isinstance(reason, BaseException) else cur.__cause__ or cur.__context__
    return out


def is_unavailable(exc: BaseException) -> bool:
    """The server could not be reached or could not serve: not the request's fault."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        return status in (408, 429, 500, 502, 503, 504)
    if isinstance(exc, ConsoleError):  # a sentence already: config, exec plugin, ...
        return False
    return _is_timeout(exc) or _is_refused(exc) or isinstance(exc, OSError)


def describe_error(exc: BaseException, *, what: str, cluster: str, user: str = "") -> str:
    """One sentence for `exc` raised while doing `what` (e.g. "patch rollouts/status of ns/x")."""
    return clean_line(_describe(exc, what=what, cluster=cluster, user=user))


def _describe(exc: BaseException, *, what: str, cluster: str, user: str) -> str:
    if isinstance(exc, ConsoleError):
        return str(exc)  # already one sentence (an exec credential plugin's, ...)
    status = getattr(exc, "status", None)
    where = f"on cluster {cluster!r}" if cluster else ""
    if isinstance(status, int) and status > 0:
        detail = status_message(exc)
        if status == 401:
            return f"Not authenticated {where}: the credentials of the kubeconfig were refused."
        if status == 403:
            who = f"user {user!r}" if user else "you"
            return f"Forbidden: {who} may not {what} {where} ({detail})."
        if status == 404:
            return f"Not found: {what} {where} found nothing ({detail})."
        if status == 409:
            return (
                f"Conflict: the object changed while {what} {where}; "
                f"nothing was overwritten, try again ({detail})."
            )
        if status == 415:
            return f"Unsupported patch type for {what} {where} ({detail})."
        if status == 422:
            return f"Rejected as invalid: {what} {where} ({detail})."
        if status == 504 or status == 408:
            return f"Timed out: {what} {where} took too long on the server ({detail})."
        return f"The API server answered {status} to {what} {where} ({detail})."
    if _is_timeout(exc):
        return f"Timed out: {what} {where} got no answer from the API server in time."
    if _is_refused(exc):
        return f"Connection refused: the API server {where} is not reachable for {what}."
    tls = next((e for e in _chain(exc) if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        reason = getattr(tls, "verify_message", "") or getattr(tls, "reason", "") or str(tls)
        detail = clip(clean_line(redact(str(reason))), SERVER_TEXT_LIMIT)
        return f"TLS failed with the API server {where} for {what}: {detail.rstrip('.')}."
    detail = clip(clean_line(redact(str(exc))), SERVER_TEXT_LIMIT)
    return f"Failed to {what} {where}: {detail or type(exc).__name__}."


def action_error(
    exc: BaseException, ref: RolloutRef, action: Action, *, what: str, user: str = ""
) -> ActionError:
    err = ActionError(ref, action, describe_error(exc, what=what, cluster=ref.cluster, user=user))
    if is_unavailable(exc):
        err.exit_code = UnavailableError.exit_code
    return err
