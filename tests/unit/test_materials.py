import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from services.common.errors import Invalid, NotFound
from services.reissue.materials import (
    DOCUMENT_MAX_BYTES,
    MAX_IMAGE_PIXELS,
    PHOTO_MAX_BYTES,
    Material,
    check,
    required_materials,
)

WHITE = (255, 255, 255)
DOCUMENTS = [
    Material.COMMITMENT_LETTER,
    Material.PROOF_OF_PASSING,
    Material.CERTIFICATE_COPY,
]


def portrait(size=(295, 413), background=WHITE) -> Image.Image:
    """A holder's photo: a dark head in the middle, shoulders across the bottom."""
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (0.3 * width, 0.15 * height, 0.7 * width, 0.6 * height), fill=(40, 30, 30)
    )
    draw.rectangle((0, 0.72 * height, width, height), fill=(20, 20, 60))
    return image


def encoded(image: Image.Image, kind: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def a_pdf() -> bytes:
    return encoded(Image.new("RGB", (200, 280), WHITE), "PDF")


def refusal(slot, content: bytes) -> Invalid:
    with pytest.raises(Invalid) as raised:
        check(slot, content)
    return raised.value


def huge_png(width: int, height: int) -> bytes:
    """A small PNG that decodes to a vast black canvas: a decompression bomb."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte, then 1-bit pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height))
    data += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        _chunk(kind, body)
        for kind, body in ((b"IHDR", header), (b"IDAT", data), (b"IEND", b""))
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def test_the_photo_and_the_commitment_letter_are_required():
    assert required_materials() == (Material.PHOTO, Material.COMMITMENT_LETTER)
    assert Material("photo").label == "一寸免冠白底照片"
    assert not Material.CERTIFICATE_COPY.required


def test_a_one_inch_photo_on_white_passes():
    content = encoded(portrait())

    checked = check("photo", content)

    assert checked.slot is Material.PHOTO
    assert checked.content_type == "image/jpeg"
    assert (checked.width, checked.height) == (295, 413)
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


def test_a_finer_scan_of_the_same_proportions_passes():
    checked = check(Material.PHOTO, encoded(portrait((590, 826)), "PNG"))

    assert checked.content_type == "image/png"
    assert (checked.width, checked.height) == (590, 826)


def test_a_slightly_uneven_crop_passes():
    checked = check(Material.PHOTO, encoded(portrait((300, 413))))

    assert checked.width == 300


@pytest.mark.parametrize("size", [(200, 280), (1500, 2100)])
def test_a_photo_of_the_right_proportions_but_wrong_size_is_refused(size):
    error = refusal(Material.PHOTO, encoded(portrait(size)))

    assert error.code == "photo_pixel_size"
    assert "295×413 像素" in error.message


@pytest.mark.parametrize("size", [(413, 413), (413, 295), (307, 413), (354, 472)])
def test_a_photo_of_other_proportions_is_refused(size):
    error = refusal(Material.PHOTO, encoded(portrait(size)))

    assert error.code == "photo_proportions"


@pytest.mark.parametrize(
    "background",
    [(60, 60, 60), (173, 216, 230), (67, 142, 219), (200, 30, 30)],
    ids=["dark grey", "light blue", "ID blue", "red"],
)
def test_a_photo_on_a_dark_or_coloured_background_is_refused(background):
    error = refusal(Material.PHOTO, encoded(portrait(background=background)))

    assert error.code == "photo_background"
    assert "白色" in error.message


@pytest.mark.parametrize("background", [(235, 235, 235), (250, 245, 230)])
def test_an_off_white_background_passes(background):
    assert check(Material.PHOTO, encoded(portrait(background=background))).width


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("L", "JPEG"), ("CMYK", "JPEG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG")],
)
def test_photos_in_other_colour_modes_are_measured(mode, kind):
    good = encoded(portrait().convert(mode), kind)
    dark = encoded(portrait(background=(50, 50, 50)).convert(mode), kind)

    assert check(Material.PHOTO, good).height == 413
    assert refusal(Material.PHOTO, dark).code == "photo_background"


def test_a_sixteen_bit_greyscale_photo_is_scaled_not_clipped():
    def sixteen_bit(image: Image.Image) -> bytes:
        grey = image.convert("L").convert("I").point(lambda value: value * 257)
        return encoded(grey.convert("I;16"), "PNG")

    assert check(Material.PHOTO, sixteen_bit(portrait())).width == 295
    dark = sixteen_bit(portrait(background=(50, 50, 50)))
    assert refusal(Material.PHOTO, dark).code == "photo_background"


def test_a_transparent_background_is_taken_as_the_white_it_prints_on():
    figure = portrait(background=(0, 0, 0))
    transparent = figure.convert("RGBA")
    transparent.putalpha(portrait().convert("L").point(lambda v: 0 if v > 250 else 255))

    assert check(Material.PHOTO, encoded(transparent, "PNG")).width == 295
    black = encoded(figure, "PNG")
    assert refusal(Material.PHOTO, black).code == "photo_background"


def test_a_palette_photo_with_a_transparent_background_passes():
    palette = portrait(background=(0, 0, 0)).convert("P", dither=Image.Dither.NONE)
    black = palette.getpixel((0, 0))

    content = encoded(palette, "PNG", transparency=black)

    assert check(Material.PHOTO, content).width == 295
    assert refusal(Material.PHOTO, encoded(palette, "PNG")).code == "photo_background"


def test_a_photo_is_measured_upright_as_its_exif_orientation_says():
    lying = portrait().transpose(Image.Transpose.ROTATE_90)  # stored 413×295
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"

    checked = check(Material.PHOTO, encoded(lying, exif=exif))

    assert (checked.width, checked.height) == (295, 413)
    assert refusal(Material.PHOTO, encoded(lying)).code == "photo_proportions"


@pytest.mark.parametrize("material", DOCUMENTS)
def test_a_scanned_image_is_accepted_for_a_document(material):
    scan = Image.new("RGB", (1240, 900), (30, 90, 200))  # any size, any colour

    checked = check(material, encoded(scan, "PNG"))

    assert checked.content_type == "image/png"
    assert (checked.width, checked.height) == (1240, 900)


@pytest.mark.parametrize("material", DOCUMENTS)
def test_a_pdf_is_accepted_for_a_document(material):
    content = a_pdf()

    checked = check(material, content)

    assert checked.content_type == "application/pdf"
    assert checked.size == len(content)
    assert checked.width is None


def test_a_pdf_is_refused_for_the_photo():
    error = refusal(Material.PHOTO, a_pdf())

    assert error.code == "unsupported_file_type"
    assert "JPG 或 PNG" in error.message


@pytest.mark.parametrize(
    "content",
    [b"I promise to tell the truth.\n", b"GIF89a" + bytes(64), b"PK\x03\x04zip"],
    ids=["text", "gif", "zip"],
)
@pytest.mark.parametrize("material", list(Material))
def test_other_kinds_of_file_are_refused(material, content):
    assert refusal(material, content).code == "unsupported_file_type"


def test_a_pdf_cut_short_is_refused():
    content = a_pdf()

    error = refusal(Material.COMMITMENT_LETTER, content[: len(content) // 2])

    assert error.code == "unreadable_file"


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_an_image_cut_short_is_refused(kind):
    content = encoded(portrait(), kind)

    error = refusal(Material.PHOTO, content[: len(content) * 2 // 3])

    assert error.code == "unreadable_file"


def test_an_image_signature_on_other_data_is_refused():
    content = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8

    assert refusal(Material.CERTIFICATE_COPY, content).code == "unreadable_file"


@pytest.mark.parametrize("material", list(Material))
def test_an_empty_file_is_refused(material):
    assert refusal(material, b"").code == "empty_file"


def test_a_photo_over_its_size_limit_is_refused():
    padded = encoded(portrait()) + bytes(PHOTO_MAX_BYTES)

    error = refusal(Material.PHOTO, padded)

    assert error.code == "file_too_large"
    assert "2 MB" in error.message


def test_a_document_may_be_as_large_as_its_limit_and_no_larger():
    pdf = a_pdf()
    at_limit = pdf[:-6] + b" " * (DOCUMENT_MAX_BYTES - len(pdf)) + pdf[-6:]

    assert check(Material.PROOF_OF_PASSING, at_limit).size == DOCUMENT_MAX_BYTES
    error = refusal(Material.PROOF_OF_PASSING, at_limit + b"\n")
    assert error.code == "file_too_large"
    assert "10 MB" in error.message


def test_a_large_scan_within_the_pixel_limit_is_decoded():
    checked = check(Material.CERTIFICATE_COPY, huge_png(4_000, 5_000))

    assert (checked.width, checked.height) == (4_000, 5_000)


@pytest.mark.parametrize(
    ("material", "size"),
    [
        (Material.CERTIFICATE_COPY, (20_000, 20_000)),  # beyond Pillow's own limit
        (Material.CERTIFICATE_COPY, (8_000, 8_000)),  # beyond ours only
        (Material.PHOTO, (20_000, 28_000)),
    ],
)
def test_a_decompression_bomb_is_refused_before_it_is_decoded(material, size):
    content = huge_png(*size)
    assert len(content) < PHOTO_MAX_BYTES
    assert size[0] * size[1] > MAX_IMAGE_PIXELS

    assert refusal(material, content).code == "image_too_large"


def test_an_unknown_slot_is_not_found():
    with pytest.raises(NotFound) as raised:
        check("passport", encoded(portrait()))
    error = raised.value

    assert error.code == "unknown_material"
    assert "个人承诺书" in error.message
