"""Materials a holder uploads: a one-inch photo, a commitment letter as a PDF."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from reportlab.pdfgen.canvas import Canvas


def one_inch_photo(background: str = "white", size=(295, 413)) -> bytes:
    """A head-and-shoulders figure on a plain background, as a JPEG."""
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (width * 0.3, height * 0.2, width * 0.7, height * 0.55), fill=(90, 60, 40)
    )
    draw.rectangle(
        (width * 0.15, height * 0.6, width * 0.85, height), fill=(20, 20, 60)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def commitment_letter() -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "Personal commitment letter")
    canvas.showPage()
    canvas.save()
    return out.getvalue()
