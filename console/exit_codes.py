"""Exit codes of every headless command, defined once (README "Exit codes").

Runbooks branch on these, so each means one thing everywhere.
"""

from __future__ import annotations

OK = 0
#: The action was refused or failed (403, 404, 409, a provider's refusal).
REFUSED = 1
#: Usage or configuration: bad arguments, an unreadable kubeconfig, an unknown context.
USAGE = 2
#: Unavailable: the cluster or Prometheus could not be reached or did not answer.
UNAVAILABLE = 3
#: Nothing is visible to this identity (e.g. `get -A` with a namespaced token).
NOTHING_VISIBLE = 4


def for_error(exc: BaseException) -> int:
    """The exit code of a ConsoleError (REFUSED for anything unclassified)."""
    code = getattr(exc, "exit_code", REFUSED)
    return code if isinstance(code, int) else REFUSED
