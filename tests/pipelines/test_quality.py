"""Web-text quality filter: each rule with its threshold."""
from pipelines import quality

GOOD = ["The committee met on Tuesday to discuss the new library building plans.",
        "Everyone agreed that the reading room needed more light and more chairs."] * 3


def test_each_rule_names_its_reason():
    check = quality.QualityFilter(min_words=10, max_words=200).reason
    assert check(GOOD) is None
    assert check(["Too short."]) == "quality_min_words"
    assert check(GOOD * 20) == "quality_max_words"
    assert check(["a b c d e f g h i j k."]) == "quality_mean_word_length"
    assert check(["#tag #more words here, " * 3 + "end."]) == "quality_symbol_ratio"
    assert check(["1234 5678 9012 3456 7890 1234 5678 9012 word word."]) == (
        "quality_alpha_words")
    assert check(["Home About Contact Products Services Support Login Register Help Sitemap",
                  "Menu Search Account Basket Checkout Wishlist Compare Orders Returns Blog"]) == (
        "quality_terminal_punctuation")


def test_thresholds_are_configurable():
    assert quality.QualityFilter(min_words=1000).reason(GOOD) == "quality_min_words"
    assert quality.QualityFilter(min_words=1).reason(["Too short."]) is None
