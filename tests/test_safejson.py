"""cases.safejson: strict JSON for untrusted input, property-tested."""

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cases.safejson import DEFAULT_MAX_DEPTH, UnsafeJSON, loads

# Text every later step can store and show: no NUL, no surrogates.
clean_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
bad_char = st.one_of(st.just("\x00"), st.integers(0xD800, 0xDFFF).map(chr))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    clean_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(clean_text, children, max_size=4)
    ),
    max_leaves=30,
)
path_steps = st.lists(
    st.one_of(st.integers(0, 3).map(lambda i: ("index", i)), clean_text.map(lambda k: ("key", k))),
    max_size=6,
)


def render(steps):
    """The path loads() reports, computed independently of cases.safejson."""
    out = ""
    for kind, step in steps:
        if kind == "index":
            out += f"[{step}]"
        elif step.isascii() and (step[:1].isalpha() or step[:1] == "_") and (
            step.replace("_", "a").isalnum()
        ):
            out += f".{step}" if out else step
        else:
            shown = json.dumps(step[:40])
            out += f"[{shown if len(step) <= 40 else shown[:-1] + '…' + chr(34)}]"
    return out


def place(value, steps, filler):
    """`value` nested at `steps`, among `filler` siblings; the steps as actually taken."""
    taken = []
    built = value
    for kind, step in reversed(steps):
        if kind == "index":
            built = [*filler[:step], built]
            taken.append(("index", len(built) - 1))
        else:
            container = {"sibling": filler[0]} if filler and step != "sibling" else {}
            container[step] = built
            built = container
            taken.append(("key", step))
    return built, list(reversed(taken))


@given(json_values)
def test_loads_valid_json_same_as_standard_library(value):
    document = json.dumps(value)
    assert loads(document) == json.loads(document)
    assert loads(document.encode()) == json.loads(document)


@given(path_steps, st.lists(scalars, max_size=3), bad_char, clean_text, clean_text)
@example(steps=[("key", "claims"), ("index", 3), ("key", "title")], filler=[],
         char="\ud800", before="x", after="")
def test_loads_bad_character_refused_with_its_path(steps, filler, char, before, after):
    document, taken = place(before + char + after, steps, filler)
    with pytest.raises(UnsafeJSON) as refused:
        loads(json.dumps(document))  # escaped: \u0000, \ud800
    assert refused.value.code == ("nul" if char == "\x00" else "surrogate")
    assert refused.value.path == render(taken)
    str(refused.value).encode("utf-8")  # the message itself can be shown


@given(path_steps, bad_char)
def test_loads_bad_character_in_a_key_refused(steps, char):
    document, taken = place({"a" + char: 1}, steps, [])
    with pytest.raises(UnsafeJSON) as refused:
        loads(json.dumps(document))
    assert refused.value.code == ("nul" if char == "\x00" else "surrogate")
    assert refused.value.path == render(taken)
    str(refused.value).encode("utf-8")


@given(st.integers(1, 3000), st.sampled_from("[{"), st.integers(1, 100))
@example(depth=100_000, opener="[", max_depth=DEFAULT_MAX_DEPTH)
@example(depth=1_000, opener="{", max_depth=DEFAULT_MAX_DEPTH)
def test_loads_depth_bounded_without_recursion(depth, opener, max_depth):
    if opener == "[":
        document = "[" * depth + "]" * depth
    else:
        document = '{"a":' * depth + "1" + "}" * depth
    if depth <= max_depth:
        assert loads(document, max_depth=max_depth) is not None
        return
    with pytest.raises(UnsafeJSON) as refused:
        loads(document, max_depth=max_depth)
    assert refused.value.code == "too_deep"
    assert refused.value.path == ("[0]" * max_depth if opener == "[" else ".".join("a" * max_depth))


def test_loads_brackets_inside_strings_not_counted_as_depth():
    document = json.dumps({"title": "[" * 10_000 + "{\\\"[" * 100})
    assert loads(document)["title"].startswith("[[[")


def test_loads_depth_path_names_keys_and_indices():
    document = '{"claims": [1, 2, {"title": ' + "[" * 40 + "]" * 40 + "}]}"
    with pytest.raises(UnsafeJSON) as refused:
        loads(document, max_depth=5)
    assert refused.value.path == "claims[2].title[0][0]"


@pytest.mark.parametrize(
    ("document", "code", "path"),
    [
        ('{"a": [NaN]}', "not_finite", "a[0]"),
        ('{"a": -Infinity}', "not_finite", "a"),
        ('{"a": 1e400}', "not_finite", "a"),
        ('{"a": ' + "9" * 5000 + "}", "number_too_long", "a"),
        ('{"x": {"a": 1, "a": 2}}', "duplicate_key", "x"),
        ('{"a": 1,}', "syntax", ""),
        ("", "syntax", ""),
    ],
)
def test_loads_refusals_carry_code_and_path(document, code, path):
    with pytest.raises(UnsafeJSON) as refused:
        loads(document)
    assert (refused.value.code, refused.value.path) == (code, path)


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\xed\xa0\x80"}', b'{"a": "\xff"}', b'{"a": "\xc3"}', "x".encode("utf-16")],
)
def test_loads_invalid_utf8_refused(data):
    with pytest.raises(UnsafeJSON) as refused:
        loads(data)
    assert refused.value.code == "invalid_utf8"


def test_loads_byte_order_mark_ignored():
    assert loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@given(st.one_of(st.text(), st.binary()))
@example(data='"\\ud800"')
@example(data=b"[" * 5000)
def test_loads_any_input_parsed_or_refused_cleanly(data):
    try:
        loads(data)
    except UnsafeJSON as refused:
        str(refused).encode("utf-8")
        assert refused.code
