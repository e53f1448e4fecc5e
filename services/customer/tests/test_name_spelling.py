"""Pinyin spellings of customer names (search by pinyin and initials, order by sound)."""

from __future__ import annotations

import pytest

from crm_common.regions import canonical_province, province_spelling
from crm_customer.domain.spelling import search_spelling, spell_name


@pytest.mark.parametrize(
    ("name", "pinyin", "initials"),
    [
        ("杭州西湖茶叶有限公司", "hangzhouxihuchayeyouxiangongsi", "hzxhcyyxgs"),
        ("重庆火锅", "chongqinghuoguo", "cqhg"),  # phrase-aware: not zhongqing
        ("ABC科技", "abckeji", "abckj"),
        ("Acme Trading", "acmetrading", "acmetrading"),
        ("阿里巴巴(中国)2号", "alibabazhongguo2hao", "albbzg2h"),
    ],
)
def test_names_are_spelled_in_pinyin(name: str, pinyin: str, initials: str) -> None:
    spelling = spell_name(name)
    assert (spelling.pinyin, spelling.initials) == (pinyin, initials)


def test_pinyin_orders_chinese_names_by_sound() -> None:
    names = ["张三贸易", "阿里巴巴", "Bosch", "杭州西湖"]
    assert sorted(names, key=lambda n: spell_name(n).sort_key) == [
        "阿里巴巴",
        "Bosch",
        "杭州西湖",
        "张三贸易",
    ]


def test_names_order_word_by_word() -> None:
    names = ["Alphabet Inc", "Alpha Ltd", "阿里 巴巴", "Alpha"]
    assert sorted(names, key=lambda n: spell_name(n).sort_key) == [
        "阿里 巴巴",  # a li ba ba
        "Alpha",
        "Alpha Ltd",
        "Alphabet Inc",
    ]


@pytest.mark.parametrize(
    ("text", "key"), [("hzxh", "hzxh"), ("Hang Zhou", "hangzhou"), ("杭州", None), ("  ", None)]
)
def test_search_text_in_latin_letters_compares_with_spellings(text: str, key: str | None) -> None:
    assert search_spelling(text) == key


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Zhejiang", "浙江省"),
        ("zhejiang province", "浙江省"),
        ("Inner Mongolia", "内蒙古自治区"),
        ("Nei Menggu", "内蒙古自治区"),
        ("内蒙古", "内蒙古自治区"),
        ("Tibet", "西藏自治区"),
        ("Xizang Autonomous Region", "西藏自治区"),
        ("Hong Kong SAR", "香港特别行政区"),
        ("Macao", "澳门特别行政区"),
        ("Beijing Municipality", "北京市"),
        ("Guangxi Zhuang Autonomous Region", "广西壮族自治区"),
        ("Xinjiang Uyghur Autonomous Region", "新疆维吾尔自治区"),
        ("Atlantis", None),
    ],
)
def test_regions_by_chinese_pinyin_or_english_name(given: str, canonical: str | None) -> None:
    assert canonical_province(given) == canonical


def test_a_filter_value_that_names_no_province_is_kept_as_typed() -> None:
    assert province_spelling("Atlantis") == "Atlantis"
    assert province_spelling("zhejiang") == "浙江省"
