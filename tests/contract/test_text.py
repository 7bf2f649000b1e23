"""The text rule: a string passes exactly when UTF-8 can encode it and it holds no NUL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirin_video.contract.errors import InvalidRequest
from kirin_video.contract.text import check_tree, fault, readable


def _storable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=())))
def test_fault_finds_exactly_what_no_store_can_hold(value: str) -> None:
    assert (fault(value) is None) == _storable(value)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_text_fails_only_for_nul(value: str) -> None:
    assert (fault(value) is None) == ("\x00" not in value)


def test_the_first_bad_field_of_a_document_is_named_by_its_path() -> None:
    document = {"input": [{"params": {"prompt": "ok", "image_list": [{"image": "a\x00"}]}}]}
    document["input"][0]["params"]["negative_prompt"] = "\ud800"
    with pytest.raises(InvalidRequest) as refused:
        check_tree(document)
    assert refused.value.message.startswith("input[0].params.image_list[0].image: ")
    assert "(a NUL character at character 2)" in refused.value.message


def test_a_document_nested_as_deep_as_json_allows_is_walked_without_recursion() -> None:
    deep: object = "\x00"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidRequest):
        check_tree(deep)


def test_readable_turns_lone_surrogates_into_the_replacement_character() -> None:
    assert readable("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert readable("a😀") == "a😀" and readable(None) is None
