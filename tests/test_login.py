"""The page's login limit (``LoginGuard``), with a fake clock."""

from ancre.ui.login import LoginGuard


def test_wrong_passwords_lock_the_user_name_for_a_while():
    now = [0.0]
    guard = LoginGuard(
        [("alice", "s3cret"), ("bob", "b0b")], max_failures=3, window=60, clock=lambda: now[0]
    )
    assert guard("alice", "s3cret") and not guard("alice", "nope") and not guard("eve", "s3cret")
    assert not guard("alice", "x") and not guard("alice", "y")
    assert not guard("alice", "s3cret"), "the right password too, once the limit is reached"
    assert guard("bob", "b0b"), "other users are not locked out"
    now[0] = 61.0
    assert guard("alice", "s3cret")
