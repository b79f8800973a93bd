"""The guard: SLO gates on each version's metrics, a verdict, and a pause on breach.

It never rolls back, never resumes, and never promotes a rollout a controller drives.
Modules, one job each:

- verdicts.py  the vocabulary: Gate, GateSet, GateState, GateResult, Verdict, Decision
- gates.py     gate sets as YAML: parsing with file/line/field errors, the built-in default,
               which set a rollout uses (annotation, namespace default, built-in)
- stats.py     Kayenta-style comparisons (Mann-Whitney U; error counts), scipy imported lazily
- evaluate.py  one rollout's metrics + its gate set -> Verdict (pure)
- debounce.py  k-of-n breach counting per gate, reset on a weight change or a new revision
- loop.py      the Guard: evaluate every rollout each interval, pause on breach, advance
               opted-in mesh canaries, dry-run, acknowledgements; one Decision per act
- lease.py     leader election through a coordination.k8s.io Lease
- manifests.py `guard --print-manifests`

No textual here (import-linter keeps it so): the same loop runs headless, in a pod,
and inside the TUI (`--guard`, and by default in `--demo`).
"""
