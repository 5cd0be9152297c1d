"""When the daemon sends SLEEP: after the car has slept long enough, once, not to a refusing board."""

from __future__ import annotations

from battwatch.core.pisleep import ASKED, GRANTED, REFUSED, PiSleep


def test_sleep_is_due_once_the_car_has_slept_long_enough() -> None:
    p = PiSleep(60)
    assert [p.reading(t, False) for t in (0, 30, 59.9)] == [False, False, False]
    assert p.reading(60, False) and p.state == ASKED
    assert not p.reading(61, False)  # asked already, no answer yet
    assert p.answered(True) and p.state == GRANTED
    assert not p.reading(200, False)  # nothing more to ask


def test_a_wake_starts_the_count_again_and_voids_an_unanswered_request() -> None:
    p = PiSleep(60)
    assert not p.reading(0, False)
    assert not p.reading(50, True)
    assert not p.reading(51, None)  # unknown is not asleep
    assert not p.reading(100, False) and not p.reading(159, False)
    assert p.reading(160, False)
    assert not p.reading(170, True)
    assert not p.answered(True)  # the answer to a request the wake voided powers nothing off


def test_an_unanswered_request_is_repeated_and_a_refusal_ends_the_asking() -> None:
    p = PiSleep(10, retry_s=30)
    assert not p.reading(0, False)
    assert p.reading(10, False)
    assert not p.reading(39, False)
    assert p.reading(40, False)
    assert not p.answered(False) and p.state == REFUSED
    assert not p.reading(1000, False)


def test_zero_never_asks() -> None:
    p = PiSleep(0)
    assert not any(p.reading(t, False) for t in range(0, 100000, 1000))
