"""The provincial-level divisions of China a customer's region may name.

Canonical names are the official Chinese ones; the pinyin name (any case, with or without the
"Province"/"Shi" suffix) is accepted as an alias and stored canonically.
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

_SHORT = {name.removesuffix("省").removesuffix("市"): name for name in PROVINCES}
_ALIASES = {alias: name for name, alias in PROVINCES.items()}


def canonical_province(value: str) -> str | None:
    """The canonical name of a province given its Chinese or pinyin name; None if unknown."""
    text = value.strip()
    if text in PROVINCES:
        return text
    if text in _SHORT:
        return _SHORT[text]
    key = text.casefold().removesuffix(" province").removesuffix(" shi").strip()
    return _ALIASES.get(key)
