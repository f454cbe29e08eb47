"""The replies' part of the storage contract (gate/store.py keys, gate/replies.py records), on both
backends: one object per reply, created once, never overwritten, even by writers racing each other."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import replies
from gate import store as storage

MEMBER = "a.martin@example.org"
CABLE = "2026-BERLIN-0042"
MOMENT = dt.datetime(2026, 12, 1, 9, 30, 5, 123456, tzinfo=dt.UTC)
EXAMPLES = settings(max_examples=150, deadline=None, derandomize=True)



def a_reply(text: str = "Merci pour ce télégramme.\n\nDeux remarques :\n- une\n- deux", *, author: str = MEMBER,
            cable: str = CABLE, visibility: str = replies.EDITORS) -> replies.Reply:
    return replies.Reply(community="energie", cable=cable, author=author, release="20261201T090000Z-ab12",
                         digest="sha256:" + "ab" * 32, at="2026-12-01T09:30:05Z", visibility=visibility, text=text)


def test_a_reply_key_names_the_community_cable_time_and_member_by_a_hash_never_by_the_address():
    key = storage.reply_key("energie", CABLE, MOMENT, MEMBER, "0123456789abcdef")
    assert key == (f"replies/energie/{CABLE}/20261201T093005.123456Z-{storage.member_id(MEMBER)}"
                   "-0123456789abcdef.json")
    assert "@" not in key and "martin" not in key
    assert storage.replies_prefix("energie") == "replies/energie/"
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            storage.reply_key(bad, CABLE, MOMENT, MEMBER, "0123")
        with pytest.raises(ValueError):
            storage.reply_key("energie", bad, MOMENT, MEMBER, "0123")


def test_a_reply_is_written_once_and_read_back_as_written(store):
    reply = a_reply()
    key = replies.write_reply(store, reply, MOMENT)
    assert key.startswith(f"replies/energie/{CABLE}/20261201T093005.123456Z-")
    assert replies.reply_at(key, store.get(key)) == reply
    assert replies.replies_of(store, "energie", CABLE, MEMBER) == [(key, reply)]
    assert replies.replies_of(store, "energie", CABLE, "b@example.org") == []
    assert list(replies.every_reply(store, "energie")) == [(key, reply.to_json())]


def test_two_replies_at_the_same_instant_are_two_objects_and_neither_overwrites_the_other(store, monkeypatch):
    first = replies.write_reply(store, a_reply("première"), MOMENT)
    # The next writer draws the very nonce already taken: its create fails, it draws again
    nonce = first.rsplit("-", 1)[1].removesuffix(".json")
    draws = iter([nonce, "fedcba9876543210"])
    monkeypatch.setattr(replies.secrets, "token_hex", lambda n: next(draws))
    second = replies.write_reply(store, a_reply("seconde"), MOMENT)
    assert second != first and second.endswith("-fedcba9876543210.json")
    assert replies.reply_at(first, store.get(first)).text == "première"
    assert replies.reply_at(second, store.get(second)).text == "seconde"


def test_concurrent_writers_each_get_their_own_object(store):
    writers, results = 8, []
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        barrier.wait()
        results.append(replies.write_reply(store, a_reply(f"réponse {n}"), MOMENT))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == writers
    texts = sorted(r.text for _, r in replies.replies_of(store, "energie", CABLE, MEMBER))
    assert texts == sorted(f"réponse {n}" for n in range(writers))


def test_a_record_under_another_members_key_or_unreadable_is_not_anyones_reply(store):
    other = "b@example.org"
    key = storage.reply_key("energie", CABLE, MOMENT, other, "00aa")
    store.create(key, a_reply().to_json())  # MEMBER's record under b's key
    with pytest.raises(storage.StoreError):
        replies.reply_at(key, store.get(key))
    assert replies.replies_of(store, "energie", CABLE, other) == []
    broken = storage.reply_key("energie", CABLE, MOMENT, MEMBER, "00bb")
    store.create(broken, b"{not json")
    assert replies.replies_of(store, "energie", CABLE, MEMBER) == []
    for data in (b"[]", b'{"format": 2}', a_reply().to_json().replace(b'"editors"', b'"everyone"')):
        with pytest.raises(storage.StoreError):
            replies.Reply.from_json(data)


def test_the_store_never_takes_a_reply_that_is_empty_too_long_not_text_or_not_from_a_canonical_address(tmp_path):
    store = storage.FolderStore(tmp_path / "store")
    for text, reason in [("  \n ", replies.EMPTY), ("x" * (replies.MAX_CHARACTERS + 1), replies.TOO_LONG),
                         ("é" * 4000, None), ("a\x00b", replies.NOT_TEXT), ("\x1b[2Jhi", replies.NOT_TEXT),
                         ("abc\u202edef", replies.NOT_TEXT)]:
        if reason is None:
            replies.write_reply(store, a_reply(text), MOMENT)
            continue
        with pytest.raises(replies.ReplyRefused) as refused:
            replies.write_reply(store, a_reply(text), MOMENT)
        assert refused.value.reason == reason
    for author in ("A.Martin@Example.org", "x@localhost", "not an address"):
        with pytest.raises(ValueError):
            replies.write_reply(store, a_reply(author=author), MOMENT)
    with pytest.raises(ValueError):
        replies.write_reply(store, a_reply(visibility="public"), MOMENT)
    assert len(list(store.list("replies/"))) == 1


# Text a person types: letters of any script, digits, punctuation, symbols, spaces, line breaks, tabs.
TYPED = st.text(st.characters(whitelist_categories=("L", "M", "N", "P", "S", "Zs"), blacklist_characters="\x85")
                | st.sampled_from("\n\t"), min_size=1, max_size=300).filter(lambda t: t.strip())
NOT_TEXT = st.characters(whitelist_categories=("Cc", "Cf", "Co", "Cs"), blacklist_characters="\n\t")


@EXAMPLES
@given(TYPED)
def test_typed_text_is_taken(text):
    assert replies.text_problem(text) is None


@EXAMPLES
@given(TYPED, NOT_TEXT, st.integers(min_value=0))
def test_a_control_format_or_private_character_anywhere_refuses_the_text(text, char, where):
    where %= len(text) + 1
    assert replies.text_problem(text[:where] + char + text[where:]) == replies.NOT_TEXT


def test_line_breaks_are_kept_as_typed_whatever_the_browser_sends():
    assert replies.normalise_text("un\r\ndeux\rtrois\n\n") == "un\ndeux\ntrois"
