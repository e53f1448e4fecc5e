"""The provincial-level divisions of China a customer's region may name.

Shared: the customer service stores a customer's province canonically, and a service that
filters its customer copy by province (engagement's touch segments) spells the filter the
same way.

Canonical names are the official Chinese ones. The short Chinese name (浙江), the pinyin
(zhejiang, "Nei Menggu") and the English name ("Inner Mongolia", "Tibet", "Macao") are
accepted as aliases, in any case, with or without a suffix such as "Province", "Shi",
"Municipality" or "Autonomous Region", and stored — or searched — canonically.
"""

from __future__ import annotations

# Canonical name -> pinyin alias.
PROVINCES: dict[str, str] = {
    "北京市": "beijing",
    "天津市": "tianjin",
    "上海市": "shanghai",
    "重庆市": "chongqing",
    "河北省": "hebei",
    "山西省": "shanxi",
    "辽宁省": "liaoning",
    "吉林省": "jilin",
    "黑龙江省": "heilongjiang",
    "江苏省": "jiangsu",
    "浙江省": "zhejiang",
    "安徽省": "anhui",
    "福建省": "fujian",
    "江西省": "jiangxi",
    "山东省": "shandong",
    "河南省": "henan",
    "湖北省": "hubei",
    "湖南省": "hunan",
    "广东省": "guangdong",
    "海南省": "hainan",
    "四川省": "sichuan",
    "贵州省": "guizhou",
    "云南省": "yunnan",
    "陕西省": "shaanxi",
    "甘肃省": "gansu",
    "青海省": "qinghai",
    "台湾省": "taiwan",
    "内蒙古自治区": "inner mongolia",
    "广西壮族自治区": "guangxi",
    "西藏自治区": "tibet",
    "宁夏回族自治区": "ningxia",
    "新疆维吾尔自治区": "xinjiang",
    "香港特别行政区": "hong kong",
    "澳门特别行政区": "macau",
}

# Where the pinyin and the usual English name differ (PROVINCES holds the English one).
_PINYIN: dict[str, str] = {
    "内蒙古自治区": "nei menggu",
    "西藏自治区": "xizang",
    "香港特别行政区": "xianggang",
    "澳门特别行政区": "aomen",
}
_MORE_ENGLISH: dict[str, str] = {
    "澳门特别行政区": "macao",
    "广西壮族自治区": "guangxi zhuang",
    "宁夏回族自治区": "ningxia hui",
    "新疆维吾尔自治区": "xinjiang uyghur",
}

_SUFFIXES = (
    "special administrative region",
    "autonomous region",
    "municipality",
    "province",
    "sheng",
    "city",
    "shi",
    "sar",
)
_SHORT = {
    name.removesuffix("省").removesuffix("市").removesuffix("特别行政区"): name
    for name in PROVINCES
}
_SHORT.update({"内蒙古": "内蒙古自治区", "广西": "广西壮族自治区", "西藏": "西藏自治区"})
_SHORT.update({"宁夏": "宁夏回族自治区", "新疆": "新疆维吾尔自治区"})


def _latin_key(text: str) -> str:
    key = text.casefold().strip()
    for suffix in _SUFFIXES:
        key = key.removesuffix(suffix).strip()
    return "".join(ch for ch in key if ch.isalnum())


_ALIASES = {
    _latin_key(alias): name
    for table in (PROVINCES, _PINYIN, _MORE_ENGLISH)
    for name, alias in table.items()
}


def canonical_province(value: str) -> str | None:
    """The canonical name of a province given its Chinese, pinyin or English name; None if
    unknown."""
    text = value.strip()
    if text in PROVINCES:
        return text
    if text in _SHORT:
        return _SHORT[text]
    return _ALIASES.get(_latin_key(text))


def province_spelling(value: str) -> str:
    """What a filter on the stored province compares with: the canonical name when ``value``
    names a province, else ``value`` unchanged (it then matches nothing, as typed)."""
    return canonical_province(value) or value
