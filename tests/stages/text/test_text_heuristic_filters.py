"""Heuristic filters on hand-checked documents; batch and scalar paths agree."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest

from raycurator.stages.text.filters import DocumentFilter
from raycurator.stages.text.filters import heuristic as h


def score(filter_obj: DocumentFilter, text: str) -> float:
    return filter_obj.score_document(text)


# -- words ----------------------------------------------------------------------------------------
def test_word_count():
    f = h.WordCountFilter(min_words=3, max_words=4)
    assert score(f, "one two three") == 3
    assert score(f, "  one\ttwo\n\nthree\u3000four  ") == 4  # any Unicode whitespace separates
    assert f.keep_document(3) and f.keep_document(4)
    assert not f.keep_document(2) and not f.keep_document(5)
    assert h.WordCountFilter().keep_document(50) and not h.WordCountFilter().keep_document(49)


def test_word_count_rejects_bad_bounds_and_segmented_languages():
    with pytest.raises(ValueError, match="min_words"):
        h.WordCountFilter(min_words=10, max_words=5)
    with pytest.raises(NotImplementedError, match="zh"):
        h.WordCountFilter(lang="zh")


def test_mean_word_length():
    f = h.MeanWordLengthFilter()
    assert score(f, "ab abcd") == pytest.approx((2 + 4) / 2)
    assert score(f, "") == 0.0
    assert f.keep_document(3.0) and f.keep_document(10.0)
    assert not f.keep_document(2.9) and not f.keep_document(10.1)


def test_long_word():
    f = h.LongWordFilter(max_word_length=10)
    assert score(f, "a " + "x" * 12 + " bb") == 12
    assert not f.keep_document(12)
    assert f.keep_document(10)
    assert score(f, "") == 0


def test_common_english_words():
    f = h.CommonEnglishWordsFilter()
    assert score(f, "The cat, and the dog.") == 2  # counting stops at the minimum
    assert h.CommonEnglishWordsFilter(stop_at_false=False).score_document("The cat, and the dog.") == 3
    assert score(f, "cats dogs birds") == 0
    assert f.keep_document(2) and not f.keep_document(1)


def test_words_with_alphabets():
    f = h.WordsWithoutAlphabetsFilter()
    assert score(f, "abc 123 x1") == pytest.approx(2 / 3)
    assert not f.keep_document(2 / 3)
    assert f.keep_document(0.8)


# -- characters -------------------------------------------------------------------------------------
def test_non_alpha_numeric():
    f = h.NonAlphaNumericFilter()
    # "ab, c!": 6 characters, alphanumeric a b c -> 3 non-alphanumeric
    assert score(f, "ab, c!") == pytest.approx(3 / 6)
    assert score(f, "é1日") == 0.0  # letters of any script count as alphanumeric
    assert score(f, "") == 1.0
    assert f.keep_document(0.25) and not f.keep_document(0.26)


def test_symbols_to_words():
    f = h.SymbolsToWordsFilter()
    # words: "#", "a", "b", "c", "...": 5; symbols: "#" and "..." -> 2
    assert score(f, "# a b c ...") == pytest.approx(2 / 5)
    assert score(f, "wait… what") == pytest.approx(1 / 2)
    assert score(f, "") == 0.0
    assert f.keep_document(0.1) and not f.keep_document(0.11)


def test_numbers():
    f = h.NumbersFilter()
    assert score(f, "ab12") == pytest.approx(2 / 4)
    assert f.keep_document(0.15) and not f.keep_document(0.16)


def test_urls():
    f = h.UrlsFilter()
    text = "see https://x.io now"  # the URL has 12 of the 20 characters
    assert score(f, text) == pytest.approx(12 / 20)
    assert score(f, "visit www.ab.cd") == pytest.approx(9 / 15)
    assert score(f, "no links") == 0.0
    assert not f.keep_document(0.6)


def test_white_space():
    f = h.WhiteSpaceFilter()
    assert score(f, "a b\n") == pytest.approx(2 / 4)
    assert score(f, "a\u00a0b") == pytest.approx(1 / 3)
    assert f.keep_document(0.25) and not f.keep_document(0.5)


def test_parentheses():
    f = h.ParenthesesFilter()
    assert score(f, "(a)") == pytest.approx(2 / 3)
    assert not f.keep_document(2 / 3)


# -- lines ----------------------------------------------------------------------------------------
def test_bullets():
    f = h.BulletsFilter()
    assert score(f, "• a\n• b\nc") == pytest.approx(2 / 3)
    assert score(f, "• a\n\n- b") == 1.0  # blank lines do not count
    assert not f.keep_document(1.0) and f.keep_document(0.9)


def test_ellipsis():
    f = h.EllipsisFilter()
    assert score(f, "a...\nb\nc…\nd") == pytest.approx(2 / 4)
    assert not f.keep_document(0.5) and f.keep_document(0.3)


def test_punctuation():
    f = h.PunctuationFilter()
    assert score(f, "Hello.\nworld\nok!") == pytest.approx(1 / 3)
    assert score(f, "") == 0.0
    assert f.keep_document(0.85) and not f.keep_document(0.9)


def test_boilerplate_strings():
    f = h.BoilerPlateStringFilter()
    lines = ["intro text", "Read our Privacy Policy here", "body text"]
    expected = len(lines[1]) / sum(len(line) for line in lines)
    assert score(f, "\n".join(lines)) == pytest.approx(expected)
    assert score(f, "Uses cookies.\nthe rest of the page") == 1.0  # boilerplate first line
    assert h.BoilerPlateStringFilter(remove_if_at_top_or_bottom=False).score_document(
        "uses cookies\nabcdefghijkl"
    ) == pytest.approx(12 / 24)
    assert f.keep_document(0.4) and not f.keep_document(0.41)


# -- repetition -------------------------------------------------------------------------------------
def test_repeated_lines():
    f = h.RepeatedLinesFilter()
    assert score(f, "a\nb\na\na") == pytest.approx(2 / 4)  # 2 distinct of 4 lines
    assert score(f, "a\n\nb\n\nc") == 1.0  # blank separators are not repeated lines
    assert not f.keep_document(0.5) and f.keep_document(0.7)


def test_repeated_paragraphs():
    f = h.RepeatedParagraphsFilter()
    assert score(f, "p1\n\np2\n\np1") == pytest.approx(2 / 3)
    assert not f.keep_document(2 / 3) and f.keep_document(0.7)


def test_repeated_lines_by_char():
    f = h.RepeatedLinesByCharFilter()
    # distinct lines "aaaa", "b": 5 characters of 4 + 1 + 4 = 9
    assert score(f, "aaaa\nb\naaaa") == pytest.approx(5 / 9)
    assert not f.keep_document(5 / 9) and f.keep_document(0.8)


def test_repeated_paragraphs_by_char():
    f = h.RepeatedParagraphsByCharFilter()
    assert score(f, "xx\n\nyyyy\n\nxx") == pytest.approx(6 / 8)
    assert not f.keep_document(0.75)


def test_top_ngrams():
    f = h.RepeatingTopNGramsFilter(n=2)
    # bigram ("a", "b") occurs twice: 2 x 2 characters of 5 word characters
    assert score(f, "a b a b c") == pytest.approx(4 / 5)
    assert score(f, "one two three four") == 0.0  # nothing repeats
    assert not f.keep_document(0.8) and f.keep_document(0.2)
    assert h.RepeatingTopNGramsFilter(n=3, max_repeating_ngram_ratio=0.18).keep_document(0.18)


def test_duplicate_ngrams():
    f = h.RepeatingDuplicateNGramsFilter(n=2)
    # ("x", "y") at positions 0 and 3 covers words 0, 1, 3, 4: 4 of 5 characters
    assert score(f, "x y z x y") == pytest.approx(4 / 5)
    # overlapping duplicates count each word once: "a a a" -> ("a","a") twice covers all 3 words
    assert score(f, "a a a") == 1.0
    assert score(f, "alpha beta gamma") == 0.0


def test_ngram_filters_reject_bad_n():
    with pytest.raises(ValueError, match="n must"):
        h.RepeatingTopNGramsFilter(n=0)
    with pytest.raises(ValueError, match="n must"):
        h.RepeatingDuplicateNGramsFilter(n=-1)


# -- markers --------------------------------------------------------------------------------------
def test_lorem_ipsum():
    f = h.LoremIpsumFilter()
    assert score(f, "Lorem Ipsum dolor sit amet") == 1
    assert score(f, "real text") == 0
    assert f.keep_document(0) and not f.keep_document(1)


def test_curly_bracket():
    f = h.CurlyBracketFilter()
    assert score(f, "a {b}") == 2
    assert not f.keep_document(2)
    assert h.CurlyBracketFilter(max_curly_brackets=2).keep_document(2)


def test_javascript():
    f = h.JavascriptFilter()
    assert score(f, "Please enable JavaScript\ntext\nmore") == pytest.approx(1 / 3)
    assert score(f, "no scripts here") == 0.0
    assert not f.keep_document(1 / 3)


def test_substring():
    assert h.SubstringFilter("ab", "prefix").score_document("abc") == 1.0
    assert h.SubstringFilter("ab", "suffix").score_document("abc") == 0.0
    assert h.SubstringFilter("bc", "any").score_document("abcd") == 1.0
    assert h.SubstringFilter("x").keep_document(1.0) and not h.SubstringFilter("x").keep_document(0.0)
    with pytest.raises(ValueError, match="position"):
        h.SubstringFilter("x", "middle")


def test_negative_thresholds_are_rejected():
    with pytest.raises(ValueError, match="max_url_to_text_ratio"):
        h.UrlsFilter(max_url_to_text_ratio=-0.1)


# -- every filter: batch == scalar, picklable ------------------------------------------------------------
ALL_FILTERS = [getattr(h, name)() if name != "SubstringFilter" else h.SubstringFilter("the") for name in h.__all__]

DOCS = [
    "",
    "The quick brown fox jumps over the lazy dog.",
    "• item one\n• item two\n• item three\nend...",
    "Visit https://example.com/page?x=1 and www.test.org for more!!! #tag #tag",
    "Café naïve über 日本語のテキスト 123 456 (note) [ref] {code}",
    "dup line\ndup line\ndup line\nother\n\nparagraph two\n\nparagraph two",
    "lorem ipsum dolor sit amet, Privacy Policy, enable JavaScript…",
    "a a a a b b b b a a a a",
    "x" * 1200 + " tail",
    "   \n\t  \u3000 ",
]


@pytest.mark.parametrize("filter_obj", ALL_FILTERS, ids=lambda f: type(f).__name__)
def test_batch_methods_match_scalar_methods(filter_obj):
    batch_scores = np.asarray(filter_obj.score_documents(pa.array(DOCS)), dtype=float)
    scalar_scores = np.array([filter_obj.score_document(d) for d in DOCS], dtype=float)
    np.testing.assert_allclose(batch_scores, scalar_scores)
    list_scores = np.asarray(filter_obj.score_documents(DOCS), dtype=float)
    np.testing.assert_allclose(list_scores, scalar_scores)
    batch_keep = filter_obj.keep_documents(batch_scores)
    assert batch_keep.tolist() == [filter_obj.keep_document(s) for s in scalar_scores]


@pytest.mark.parametrize("filter_obj", ALL_FILTERS, ids=lambda f: type(f).__name__)
def test_filters_pickle(filter_obj):
    clone = pickle.loads(pickle.dumps(filter_obj))
    assert clone.name == filter_obj.name
    assert [clone.score_document(d) for d in DOCS] == [filter_obj.score_document(d) for d in DOCS]


def test_at_least_twelve_heuristic_filters():
    assert len(h.__all__) >= 12
