"""An embeddable CJK font for the quote PDF, cut to the characters one document uses.

The font is Noto Sans CJK SC Regular (SIL Open Font License), shipped inside the
``noto-cjk-sans-otc`` wheel: nothing is downloaded at run time, and the PDF carries the
glyphs itself, so a viewer without Chinese fonts shows the document as rendered.

ReportLab embeds TrueType (``glyf``) outlines only, and Noto CJK has PostScript (CFF) ones.
So per document: fontTools subsets the collection's SC face to the document's characters
(about 0.5 s for the 65,000-glyph face), then converts those few glyphs' cubic outlines to
quadratic TrueType ones (cu2qu, error below 1/1000 em: invisible at any size). ReportLab
subsets again while writing the PDF, so the file holds only the glyphs printed (a quote is
some tens of KiB). The latest few subsets are cached: rendering the same quote again (the
download, then the e-mail) costs nothing.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import noto_cjk_sans_otc
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

FONT_FAMILY = "NotoSansCJKsc-Regular"
# Index of "Noto Sans CJK SC" in NotoSansCJK-Regular.ttc (JP, KR, SC, TC, HK, then Mono).
_SC_FACE = 2
_CACHE_SIZE = 16
# Always present, so a document of digits and Latin letters only still gets a usable font.
_BASE = "0123456789 .,:;-+/%()#·¥"

_lock = threading.Lock()
_cache: OrderedDict[str, bytes] = OrderedDict()


def font_path() -> str:
    return str(noto_cjk_sans_otc.FONT_PATH)


def truetype_subset(text: str) -> bytes:
    """A TrueType font with the glyphs of ``text`` (plus digits and punctuation)."""
    characters = "".join(sorted(set(text + _BASE) - {"\n", "\r", "\t"}))
    with _lock:
        cached = _cache.get(characters)
        if cached is not None:
            _cache.move_to_end(characters)
            return cached
    data = _build(characters)
    with _lock:
        _cache[characters] = data
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return data


def _build(characters: str) -> bytes:
    font = TTFont(font_path(), fontNumber=_SC_FACE, lazy=True)
    options = subset.Options()
    options.layout_features = []  # no shaping needed for horizontal CJK and Latin
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.glyph_names = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in characters])
    subsetter.subset(font)
    _cff_to_glyf(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _cff_to_glyf(font: TTFont) -> None:
    """Replace the CFF outlines by TrueType ones (the font's metrics stay as they are)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attribute in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attribute, 0)
    maxp.maxZones = 1
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"
