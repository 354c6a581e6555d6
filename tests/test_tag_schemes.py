"""IOB1 and BIOES tags become IOB2; tags that break their scheme are named with a hint."""

from __future__ import annotations

import pytest

from swiss_ner.constants import check_iob2_labels
from swiss_ner.tag_schemes import TagSchemeError, to_iob2

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG", "O", "B-PER"]


@pytest.mark.parametrize(("scheme", "tags"), [
    ("iob2", IOB2),
    ("iob1", ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "I-PER"]),
    ("bioes", ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "S-ORG", "O", "S-PER"]),
])
def test_each_scheme_gives_the_same_iob2_tags(scheme, tags):
    assert to_iob2(tags, scheme) == IOB2


def test_iob1_also_reads_a_b_tag_that_opens_an_entity():
    assert to_iob2(["O", "B-PER", "I-PER", "I-LOC"], "iob1") == ["O", "B-PER", "I-PER", "B-LOC"]


@pytest.mark.parametrize(("tags", "scheme", "index", "fragment"), [
    (["O", "I-PER"], "iob2", 1, "'I-PER' follows 'O', which IOB2 does not allow"),
    (["B-ORG", "I-LOC"], "iob2", 1, "'I-LOC' follows 'B-ORG'"),
    (["S-PER"], "iob2", 0, "'S-PER' is not an IOB2 tag; if the file is written in another "
                           "scheme, pass --tag-scheme bioes"),
    (["B-PER", "E-PER", "E-PER"], "bioes", 2, "'E-PER' follows 'E-PER', which BIOES"),
    (["E-LOC"], "iob1", 0, "'E-LOC' is not an IOB1 tag"),
    (["U-PER"], "iob2", 0, "read in IOB2, IOB1, BIOES only"),
    (["PER"], "iob2", 0, "'PER' is not a tag of any scheme"),
])
def test_a_tag_that_breaks_the_scheme_is_named_by_position(tags, scheme, index, fragment):
    with pytest.raises(TagSchemeError) as error:
        to_iob2(tags, scheme)
    assert error.value.index == index
    assert fragment in str(error.value)


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="--tag-scheme must be one of iob2, iob1, bioes"):
        to_iob2(["O"], "bilou")


def test_only_iob2_label_sets_pass():
    check_iob2_labels(["O", "B-PER", "I-PER", "B-MISC", "I-MISC"])
    for bad in ("S-PER", "E-ORG", "PER", "B-"):
        with pytest.raises(ValueError, match=f"'{bad}' is not an IOB2 label.*--tag-scheme"):
            check_iob2_labels(["O", "B-PER", "I-PER", bad])
