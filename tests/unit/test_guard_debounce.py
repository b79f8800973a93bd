"""K of the last N evaluations, reset on a new epoch (set weight, canary revision)."""

import threading

from console.guard.debounce import Debounce, pauses_in

F, P = True, False  # failed, passed


def test_pauses_in_counts_exactly() -> None:
    assert pauses_in((), 3, 5) is None
    assert pauses_in((F, F, P), 3, 5) is None  # this evaluation passed: nothing counts down
    assert pauses_in((F,), 3, 5) == 2
    assert pauses_in((F, F), 3, 5) == 1
    assert pauses_in((F, F, F), 3, 5) == 0
    assert pauses_in((F, P, F, P, F), 3, 5) == 0
    # The oldest failure leaves the window as the next arrives: still one more needed.
    assert pauses_in((F, P, P, P, F), 3, 5) == 2
    # Failures older than N don't count.
    assert pauses_in((F, F, P, P, P, P, F), 3, 5) == 2
    assert pauses_in((F,), 1, 1) == 0
    assert pauses_in((P, F), 2, 2) == 1


def test_record_returns_failures_among_the_last_n() -> None:
    d = Debounce()
    epoch = (10, "rev-2")
    counts = [d.record("c/ml/yolo", "p99", failed, epoch) for failed in (F, P, F, F, P, F, F)]
    assert counts == [1, 1, 2, 3, 3, 3, 4]
    assert d.history("c/ml/yolo", "p99") == (F, P, F, F, P, F, F)
    assert d.pauses_in("c/ml/yolo", "p99", 3, 5) == 0
    assert d.record("c/ml/yolo", "p99", F, epoch, n=2) == 2


def test_a_new_epoch_resets_the_counts() -> None:
    d = Debounce()
    for _ in range(3):
        d.record("k", "g", F, (10, "rev-2"))
    assert d.record("k", "g", F, (20, "rev-2")) == 1  # weight changed
    assert d.record("k", "g", F, (20, "rev-2")) == 2
    assert d.record("k", "g", F, (20, "rev-3")) == 1  # new canary revision
    assert d.history("k", "g") == (F,)


def test_gates_and_rollouts_count_separately_and_can_be_forgotten() -> None:
    d = Debounce()
    d.record("a", "g1", F, ())
    d.record("a", "g2", P, ())
    d.record("b", "g1", F, ())
    assert d.history("a", "g1") == (F,) and d.history("a", "g2") == (P,)
    d.reset("a")
    assert d.history("a", "g1") == () and d.history("b", "g1") == (F,)
    d.keep_only({"c"})
    assert d.history("b", "g1") == ()
    assert d.history("never", "seen") == ()


def test_history_is_bounded() -> None:
    d = Debounce()
    for _ in range(500):
        d.record("k", "g", F, ())
    assert len(d.history("k", "g")) == 50


def test_record_is_thread_safe() -> None:
    d = Debounce()

    def work() -> None:
        for _ in range(200):
            d.record("k", "g", F, ("same",), n=50)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert d.record("k", "g", F, ("same",), n=50) == 50
