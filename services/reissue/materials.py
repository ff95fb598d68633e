"""Materials a holder uploads for a reissue application (证书补办), checked by content.

A file's name and declared type come from the holder's browser and prove nothing, so
its type is decided from its bytes: a JPEG or PNG must carry its signature and decode
completely; a PDF must start with its header and end with its end-of-file marker.
Each slot takes the types that serve it. The photo is printed on the certificate, so
it must be a JPEG or PNG of the one-inch size (295×413 pixels, or a finer scan of the
same proportions) on a white background.

Every refusal is an `Invalid` with a stable code and a message that says what is
allowed, so the holder can fix the file and upload it again.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageChops, ImageOps

from services.common.errors import Invalid, NotFound

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"

IMAGE_TYPES = frozenset({JPEG, PNG})
DOCUMENT_TYPES = frozenset({PDF, JPEG, PNG})
TYPES_IN_WORDS = {
    IMAGE_TYPES: "JPG 或 PNG 格式的图片",
    DOCUMENT_TYPES: "PDF 文件，或 JPG、PNG 格式的图片",
}

KB = 1024
MB = 1024 * KB
PHOTO_MAX_BYTES = 2 * MB
DOCUMENT_MAX_BYTES = 10 * MB

# Decoding costs memory by pixels, not by file size: a small file can claim a canvas
# of billions of pixels. Images above this are refused before they are decoded. An
# A4 page scanned at 600 dpi has about 35 million pixels.
MAX_IMAGE_PIXELS = 40_000_000

# One inch is 25×35 mm: 295×413 pixels at 300 dpi. Finer scans are welcome up to four
# times that (1200 dpi); beyond it the file only grows.
PHOTO_STANDARD_SIZE = (295, 413)
PHOTO_MAX_SIZE = (1180, 1652)
# Width/height may differ from 295/413 by this share: a scanner's crop is rarely exact
# to the pixel, while a photo cut for another format (two-inch, passport) is off by
# more than 5%.
PHOTO_RATIO_TOLERANCE = 0.03

# Only background should show in these bands: the top, and the two sides down to
# PHOTO_SIDE_BAND_DEPTH of the height. The bottom and the lower sides are left out,
# as shoulders reach the edges there.
PHOTO_BAND = 0.05
PHOTO_SIDE_BAND_DEPTH = 0.55
# Near-white: bright (a luminance of 200 of 255 allows a studio's uneven light and a
# scanner's grey cast) and nearly colourless (an HSV saturation of at most 40 of 255
# refuses the light blue and red backgrounds also used for ID photos).
PHOTO_BACKGROUND_MIN_LUMINANCE = 200
PHOTO_BACKGROUND_MAX_SATURATION = 40
# Stray hair or a shadow may cover part of the bands; a coloured or dark background
# covers nearly all of them.
PHOTO_BACKGROUND_MIN_SHARE = 0.90

DAMAGED_IMAGE = "图片不完整或已损坏，无法打开，请重新拍摄或扫描后上传。"

PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
# Readers look for the end-of-file marker within the last kilobyte, as writers may
# append a line break or padding after it.
PDF_EOF_MARKER = b"%%EOF"
PDF_EOF_WINDOW = 1024

SIGNATURES = {
    JPEG: b"\xff\xd8\xff",
    PNG: b"\x89PNG\r\n\x1a\n",
    PDF: b"%PDF-",
}
PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG"}


class Material(StrEnum):
    """The material slots of a reissue application, by their stable codes."""

    label: str
    required: bool

    def __new__(cls, code: str, label: str, required: bool) -> Material:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        member.required = required
        return member

    PHOTO = "photo", "一寸免冠白底照片", True
    COMMITMENT_LETTER = "commitment_letter", "个人承诺书", True
    PROOF_OF_PASSING = "proof_of_passing", "考试合格证明", False
    CERTIFICATE_COPY = "certificate_copy", "证书复印件", False

    @property
    def accepted_types(self) -> frozenset[str]:
        return IMAGE_TYPES if self is Material.PHOTO else DOCUMENT_TYPES

    @property
    def max_bytes(self) -> int:
        return PHOTO_MAX_BYTES if self is Material.PHOTO else DOCUMENT_MAX_BYTES


def required_materials() -> tuple[Material, ...]:
    return tuple(material for material in Material if material.required)


@dataclass(frozen=True)
class CheckedMaterial:
    slot: Material
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def check(slot: Material | str, content: bytes) -> CheckedMaterial:
    """The upload for `slot`, described; raises `Invalid` if it cannot be accepted."""
    material = _material(slot)
    _check_size(material, content)
    content_type = _content_type(material, content)
    digest = hashlib.sha256(content).hexdigest()
    if content_type == PDF:
        _check_pdf(content)
        return CheckedMaterial(material, PDF, len(content), digest)
    image = _decoded(content, content_type)
    if material is Material.PHOTO:
        _check_photo(image)
    return CheckedMaterial(
        material, content_type, len(content), digest, image.width, image.height
    )


def _material(slot: Material | str) -> Material:
    try:
        return Material(slot)
    except ValueError:
        labels = "、".join(material.label for material in Material)
        # Named in the path of the upload: an unknown one is not there at all.
        raise NotFound(
            "unknown_material", f"没有这一类补办材料。可上传的材料有：{labels}。"
        ) from None


def _check_size(material: Material, content: bytes) -> None:
    if not content:
        raise Invalid(
            "empty_file", f"上传的{material.label}是空文件，请选择文件后重新上传。"
        )
    if len(content) > material.max_bytes:
        raise Invalid(
            "file_too_large",
            f"{material.label}文件不能超过 {_size_text(material.max_bytes)}，"
            "请压缩或降低扫描分辨率后重新上传。",
        )


def _size_text(size: int) -> str:
    return f"{size // MB} MB" if size % MB == 0 else f"{size // KB} KB"


def _content_type(material: Material, content: bytes) -> str:
    for content_type, signature in SIGNATURES.items():
        if content.startswith(signature) and content_type in material.accepted_types:
            return content_type
    allowed = TYPES_IN_WORDS[material.accepted_types]
    raise Invalid("unsupported_file_type", f"{material.label}请上传 {allowed}。")


def _check_pdf(content: bytes) -> None:
    complete = PDF_HEADER.match(content) and PDF_EOF_MARKER in content[-PDF_EOF_WINDOW:]
    if not complete:
        raise _unreadable("PDF 文件不完整或已损坏，请重新导出 PDF 后上传。")


def _decoded(content: bytes, content_type: str) -> Image.Image:
    """The image decoded in full and turned upright as its EXIF orientation says."""
    image = _opened(content, content_type)
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels()
    # Pillow reports damaged data with many exception types; to the holder they all
    # mean the same thing.
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception:
        raise _unreadable(DAMAGED_IMAGE) from None


def _opened(content: bytes, content_type: str) -> Image.Image:
    """The image with only its header read; the format is the one its bytes name."""
    try:
        return Image.open(io.BytesIO(content), formats=[PILLOW_FORMATS[content_type]])
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except Exception:
        raise _unreadable(DAMAGED_IMAGE) from None


def _unreadable(message: str) -> Invalid:
    return Invalid("unreadable_file", message)


def _too_many_pixels() -> Invalid:
    return Invalid(
        "image_too_large",
        f"图片像素过多（不能超过 {MAX_IMAGE_PIXELS // 10_000} 万像素），"
        "请降低扫描分辨率后重新上传。",
    )


def _check_photo(image: Image.Image) -> None:
    _check_photo_proportions(image.size)
    _check_photo_pixel_size(image.size)
    _check_photo_background(_on_white(image))


def _check_photo_proportions(size: tuple[int, int]) -> None:
    standard_width, standard_height = PHOTO_STANDARD_SIZE
    ratio = (size[0] / size[1]) / (standard_width / standard_height)
    if abs(ratio - 1) > PHOTO_RATIO_TOLERANCE:
        raise Invalid(
            "photo_proportions",
            "照片应为竖版一寸照片，宽高比例为 295:413（与 295×413 像素相同），"
            "请按一寸照片的比例裁剪后重新上传。",
        )


def _check_photo_pixel_size(size: tuple[int, int]) -> None:
    (width, height), (most_width, most_height) = size, PHOTO_MAX_SIZE
    least_width, least_height = PHOTO_STANDARD_SIZE
    if least_width <= width <= most_width and least_height <= height <= most_height:
        return
    raise Invalid(
        "photo_pixel_size",
        f"照片尺寸应为 {least_width}×{least_height} 像素（标准一寸），"
        f"或按同一比例放大，最大 {most_width}×{most_height} 像素。",
    )


def _on_white(image: Image.Image) -> Image.Image:
    """The photo as RGB, with transparent parts shown on white as they will print."""
    if image.mode.startswith(("I", "F")):
        # 16-bit greyscale: scaled down to 8 bits; a plain conversion would clip
        # every value above 255 to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if not image.has_transparency_data:
        return image.convert("RGB")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


def _check_photo_background(photo: Image.Image) -> None:
    bands = _background_bands(photo)
    near_white = sum(_near_white_pixels(band) for band in bands)
    total = sum(band.width * band.height for band in bands)
    if near_white < PHOTO_BACKGROUND_MIN_SHARE * total:
        raise Invalid(
            "photo_background",
            "照片背景应为白色。请使用白色背景、无阴影的免冠照片，"
            "不要使用蓝色、红色或其他颜色的背景。",
        )


def _background_bands(photo: Image.Image) -> list[Image.Image]:
    width, height = photo.size
    side = max(1, round(width * PHOTO_BAND))
    top = max(1, round(height * PHOTO_BAND))
    depth = round(height * PHOTO_SIDE_BAND_DEPTH)
    return [
        photo.crop((0, 0, width, top)),
        photo.crop((0, top, side, depth)),
        photo.crop((width - side, top, width, depth)),
    ]


def _near_white_pixels(band: Image.Image) -> int:
    saturation = band.convert("HSV").getchannel("S")
    bright = band.convert("L").point(
        lambda value: 255 if value >= PHOTO_BACKGROUND_MIN_LUMINANCE else 0
    )
    pale = saturation.point(
        lambda value: 255 if value <= PHOTO_BACKGROUND_MAX_SATURATION else 0
    )
    return ImageChops.multiply(bright, pale).histogram()[255]
