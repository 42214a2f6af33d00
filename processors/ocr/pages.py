"""Document bytes to pages: PNG, JPEG, TIFF (every frame) and PDF, within limits that bound time and memory.

A PDF page with a text layer gives its text directly; a scanned one is rendered for OCR. Images are turned
upright by their EXIF orientation and deskewed. Every limit is checked before the expensive step: the pixel
count from the image header before decoding, the page count before rendering anything.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

PDF_DPI = 200  # enough for 8 pt print; a Letter page is 1700 x 2200 px
MIN_TEXT_LAYER_CHARS = 20  # fewer means a scanned page (a stray header in the text layer doesn't count)
_SKEW_RANGE_DEG = 6.0


class DocumentError(ValueError):
    """The bytes are not a document this pipeline can read; the message says why, for the producer."""


@dataclass(frozen=True)
class Limits:
    """What one document may cost a worker."""

    max_pages: int = 50
    max_megapixels: float = 36.0  # per image or page, judged before decoding
    max_side_px: int = 3300  # larger pages are scaled down to this (300 dpi Letter) before OCR


@dataclass(frozen=True)
class Page:
    """One page: an image to OCR, or the text of a PDF text layer (then ``image`` is None)."""

    number: int
    image: Image.Image | None = None
    text: str | None = None
    skew_deg: float = 0.0


def sniff(data: bytes) -> str:
    """The MIME type of a document from its first bytes."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return "application/octet-stream"


def load_pages(data: bytes, limits: Limits = Limits()) -> Iterator[Page]:
    """The pages of a document, one at a time (a 50-page scan is never all in memory at once)."""
    if not data:
        raise DocumentError("the document is empty (0 bytes)")
    if sniff(data) == "application/pdf":
        yield from _pdf_pages(data, limits)
    else:
        yield from _image_pages(data, limits)


def _image_pages(data: bytes, limits: Limits) -> Iterator[Page]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentError(f"not a readable image or PDF ({sniff(data)}): {exc}") from exc
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise DocumentError(f"the image has {frames} pages; the limit is {limits.max_pages} (AUTERITY_OCR__MAX_PAGES)")
    for index in range(frames):
        image.seek(index)
        _check_pixels(image.width, image.height, limits, f"page {index + 1}")
        try:
            frame = ImageOps.exif_transpose(image).convert("RGB")  # a phone photo taken sideways, turned upright
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
            raise DocumentError(f"page {index + 1} of the image cannot be decoded: {exc}") from exc
        yield _upright(index + 1, _bounded(frame, limits))


def _pdf_pages(data: bytes, limits: Limits) -> Iterator[Page]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentError(f"not a readable PDF (damaged, encrypted or without pages): {exc}") from exc
    try:
        count = len(pdf)
        if count == 0:
            raise DocumentError("the PDF has no pages")
        if count > limits.max_pages:
            raise DocumentError(f"the PDF has {count} pages; the limit is {limits.max_pages} "
                                "(AUTERITY_OCR__MAX_PAGES)")
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_bounded()
                textpage.close()
                if sum(not c.isspace() for c in text) >= MIN_TEXT_LAYER_CHARS:
                    yield Page(index + 1, text=text.replace("\r\n", "\n").replace("\r", "\n"))
                    continue
                width_pt, height_pt = page.get_size()
                scale = PDF_DPI / 72
                megapixels = width_pt * scale * height_pt * scale / 1e6
                if megapixels > limits.max_megapixels:  # a poster-sized page: render it smaller instead
                    scale *= math.sqrt(limits.max_megapixels / megapixels)
                bitmap = page.render(scale=scale)
                image = bitmap.to_pil().convert("RGB")
                bitmap.close()
            finally:
                page.close()
            yield _upright(index + 1, _bounded(image, limits))
    finally:
        pdf.close()


def _check_pixels(width: int, height: int, limits: Limits, what: str) -> None:
    megapixels = width * height / 1e6
    if megapixels > limits.max_megapixels:
        raise DocumentError(f"{what} is {width} x {height} px ({megapixels:.1f} MP); the limit is "
                            f"{limits.max_megapixels:g} MP (AUTERITY_OCR__MAX_MEGAPIXELS)")


def _bounded(image: Image.Image, limits: Limits) -> Image.Image:
    """Scale a page down so its longer side is at most ``max_side_px`` (OCR needs no more than 300 dpi)."""
    longest = max(image.size)
    if longest <= limits.max_side_px:
        return image
    factor = limits.max_side_px / longest
    return image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                        Image.Resampling.LANCZOS)


def _upright(number: int, image: Image.Image) -> Page:
    angle = estimate_skew(image)
    if abs(angle) >= 0.3:
        image = image.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    return Page(number, image=image, skew_deg=round(angle, 2))


def estimate_skew(image: Image.Image) -> float:
    """How far the text rows are turned from horizontal, in degrees counter-clockwise (as PIL's ``rotate``
    turns): the angle whose projection of dark pixels onto the vertical axis is sharpest (text rows and
    the gaps between them give the highest variance when they are level)."""
    small = image.convert("L")
    small.thumbnail((1000, 1000))
    pixels = np.asarray(small, dtype=np.uint8)
    threshold = min(160, int(pixels.mean()) - 40)
    ys, xs = np.nonzero(pixels < threshold)
    if len(ys) < 200:
        return 0.0
    if len(ys) > 60_000:  # a sample is enough and keeps this at a few milliseconds
        pick = np.random.default_rng(0).choice(len(ys), 60_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys_f, xs_f = ys.astype(np.float64), xs.astype(np.float64)

    def sharpness(angle_deg: float) -> float:
        theta = math.radians(angle_deg)
        projected = ys_f * math.cos(theta) - xs_f * math.sin(theta)
        counts = np.bincount((projected - projected.min()).astype(np.int64))
        return float(np.var(counts))

    coarse = [float(a) for a in np.arange(-_SKEW_RANGE_DEG, _SKEW_RANGE_DEG + 0.01, 0.5)]
    best = max(coarse, key=sharpness)
    fine = [float(a) for a in np.arange(best - 0.5, best + 0.51, 0.1)]
    return -float(max(fine, key=sharpness))  # the projection that levels the rows turns back by the skew
