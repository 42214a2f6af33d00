"""Document bytes to pages: formats, EXIF orientation, deskew, PDF text layers, and the limits on bad input."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from PIL import Image, ImageDraw, ImageFont

from processors.ocr.engines import order_lines
from processors.ocr.fields import OcrLine
from processors.ocr.pages import DocumentError, Limits, estimate_skew, load_pages, sniff

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ROWS = ["REPAIR ORDER", "RO #: 458213   Date: 03/14/2026", "VIN: 1HGCM82633A004352", "Customer: Maria Gonzalez",
        "Phone: (415) 555-0134", "Mileage In: 45,210", "Subtotal $1,102.50", "Total Due: $1,193.46"]


def page(rows: list[str] = ROWS, size: tuple[int, int] = (1275, 1650)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 30)
    for i, row in enumerate(rows):
        draw.text((90, 90 + 60 * i), row, font=font, fill="black")
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def text_pdf(rows: list[str], pages: int = 1) -> bytes:
    """A PDF with a real text layer (Helvetica), the way a DMS exports a repair order."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
               + b"] /Count %d >>" % pages,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(pages):
        lines = b" ".join(b"(%s) Tj 0 -18 Td" % row.encode() for row in rows)
        stream = b"BT /F1 12 Tf 72 720 Td " + lines + b" ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_every_image_format_gives_its_page(fmt: str) -> None:
    data = encoded(page(), fmt)
    assert sniff(data) == f"image/{fmt.lower()}"
    pages = list(load_pages(data))
    assert len(pages) == 1 and pages[0].image is not None and pages[0].image.size == (1275, 1650)
    assert pages[0].image.mode == "RGB" and pages[0].text is None


def test_a_multipage_tiff_and_a_scanned_pdf_give_every_page() -> None:
    first, second = page(), page(["INVOICE", "Invoice #: INV-20931"])
    tiff = encoded(first, "TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    assert [p.number for p in load_pages(tiff)] == [1, 2]
    pdf = encoded(first, "PDF", save_all=True, append_images=[second], resolution=150)
    pages = list(load_pages(pdf))
    assert [p.number for p in pages] == [1, 2] and all(p.image is not None and p.text is None for p in pages)
    assert pages[0].image is not None and pages[0].image.width == pytest.approx(1275 * 200 / 150, abs=2)


def test_a_pdf_text_layer_is_used_instead_of_ocr() -> None:
    pages = list(load_pages(text_pdf(["REPAIR ORDER", "RO #: 458213", "VIN: 1HGCM82633A004352"])))
    assert len(pages) == 1 and pages[0].image is None
    assert pages[0].text is not None and "RO #: 458213" in pages[0].text.splitlines()


def test_exif_orientation_turns_a_phone_photo_upright() -> None:
    upright = page()
    sideways = upright.rotate(90, expand=True)  # the camera stored it turned; EXIF says "rotate 270 to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    [result] = load_pages(encoded(sideways, "JPEG", exif=exif.tobytes(), quality=95))
    assert result.image is not None and result.image.size == upright.size


@pytest.mark.parametrize("angle", [-3.5, -1.5, 2.0, 4.0])
def test_a_skewed_scan_is_straightened(angle: float) -> None:
    skewed = page().rotate(angle, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    [result] = load_pages(encoded(skewed, "PNG"))
    assert result.skew_deg == pytest.approx(angle, abs=0.3)
    assert result.image is not None and abs(estimate_skew(result.image)) <= 0.3


def test_side_by_side_pieces_read_as_one_row_in_order() -> None:
    pieces = [OcrLine("Date: 03/14/2026", 0.9, (700, 148, 980, 178)), OcrLine("REPAIR ORDER", 0.99, (90, 90, 400, 122)),
              OcrLine("RO #: 458213", 0.95, (90, 150, 330, 180)), OcrLine("VIN: 1HGCM82633A004352", 1.0,
                                                                           (90, 210, 600, 240))]
    lines = order_lines(pieces)
    assert [line.text for line in lines] == ["REPAIR ORDER", "RO #: 458213 Date: 03/14/2026",
                                             "VIN: 1HGCM82633A004352"]
    assert lines[1].box == (90, 148, 980, 180) and 0.9 < lines[1].confidence < 0.95


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 100, "not a readable image"),
    (b"%PDF-1.7\n%%EOF\n", "not a readable PDF"),
    (b"just some bytes from a mail gateway", "not a readable image or PDF"),
])
def test_unreadable_bytes_get_a_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentError, match=reason):
        list(load_pages(data))


def test_a_truncated_jpeg_is_a_document_error() -> None:
    data = encoded(page(), "JPEG", quality=90)
    with pytest.raises(DocumentError, match="cannot be decoded"):
        list(load_pages(data[: len(data) // 2]))


def test_a_pdf_with_no_pages_is_refused() -> None:
    with pytest.raises(DocumentError, match="without pages"):  # PDFium will not open a document with no pages
        list(load_pages(text_pdf([], pages=0)))


def test_a_60_page_pdf_is_refused_before_any_page_is_rendered() -> None:
    pdf = text_pdf(["CONTRACT PAGE"], pages=60)
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="60 pages; the limit is 50"):
        list(load_pages(pdf))
    assert time.perf_counter() - started < 1.0  # refused from the page count, nothing rendered
    assert len(list(load_pages(pdf, Limits(max_pages=60)))) == 60  # the limit is a setting


def test_a_40_megapixel_image_is_refused_from_its_header_without_decoding() -> None:
    huge = encoded(Image.new("L", (8000, 5000), 255), "PNG")
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError, match=r"8000 x 5000 px \(40.0 MP\); the limit is 36 MP"):
            list(load_pages(huge))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # 40 MP decoded would be 40 MB


def test_large_pages_are_scaled_down_before_ocr() -> None:
    [result] = load_pages(encoded(page(size=(5100, 6600)), "PNG"), Limits(max_megapixels=40))
    assert result.image is not None and max(result.image.size) == 3300
