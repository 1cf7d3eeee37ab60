"""Header text: the Message-IDs Postroom makes."""

from __future__ import annotations

import random

from postroom.kit.headers import as_message_id, new_message_id


def test_a_new_message_id_is_one_token_in_brackets_with_the_domain() -> None:
    message_id = new_message_id("corp.example.com")
    assert as_message_id(message_id) == message_id
    assert message_id.endswith("@corp.example.com>")


def test_a_new_message_id_header_with_a_common_domain_is_not_folded() -> None:
    """``Message-ID: <...>`` fits on one 78-character line, as make_msgid's did: a longer one
    is folded before the id, and the receiver reads it with a leading space."""
    assert len(f"Message-ID: {new_message_id('sender.example.com')}") <= 78


def test_new_message_ids_do_not_follow_the_process_random_generator() -> None:
    """Other code may reseed the ``random`` module (Hypothesis does, for every example): two
    Message-IDs made after the same seed, in the same hundredth of a second, were the same
    (``email.utils.make_msgid``), and the second email's insert a 500 on the organization's
    unique Message-ID."""
    made = set()
    for _ in range(3):
        random.seed(0)
        made.add(new_message_id("corp.example.com"))
    assert len(made) == 3
