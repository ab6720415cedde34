"""Evidence uploads (cases/uploads.py): the size limit, the kind checked by content against the
allow-list, the extension that must agree, and images and PDFs stored without their metadata,
through the workspace's upload form and the admin's add form alike."""

import hashlib
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import ExifTags, Image, ImageChops, PngImagePlugin
from pypdf import PdfReader, PdfWriter

from cases import uploads
from cases.enums import Role
from cases.models import CustodyEntry, Evidence

from .factories import EvidenceFactory, pdf_document
from .test_forms import field_block, fill, read_form, url

pytestmark = pytest.mark.django_db

RED, BLUE = (200, 30, 30), (20, 40, 220)


# --- Files ----------------------------------------------------------------------------------

def two_colour_image(size=(64, 32)) -> Image.Image:
    """Red on the left half, blue on the right: easy to find again, upright or turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def photo_with_gps(orientation=None) -> bytes:
    """A JPEG as a phone writes it: camera, date, GPS position, a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Sourcephone"
    exif[ExifTags.Base.Model] = "SP-12 Pro"
    exif[ExifTags.Base.DateTime] = "2025:05:09 06:12:44"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (47.0, 13.0, 30.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (39.0, 42.0, 5.0),
    }
    out = io.BytesIO()
    two_colour_image().save(out, "JPEG", exif=exif, quality=90, comment=b"Sent by Ivan")
    return out.getvalue()


def png(image=None, **text) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    (image or two_colour_image()).save(out, "PNG", pnginfo=info)
    return out.getvalue()


PDF = pdf_document()  # without metadata
OVERSIZE_PDF = PDF + bytes(4096 - len(PDF))  # 4.0 KB
HTML_AS_PNG = b"<html><script>fetch('/admin/').then(r => r.text())</script></html>"
SVG_WITH_SCRIPT = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/'
                   b'svg" width="10" height="10"><script>alert(document.cookie)</script></svg>')
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\x00\x00"

# (file name, content, what the message beside the field says, its code)
REFUSED = {
    "html disguised as png": ("x.png", HTML_AS_PNG, "an HTML page", "html"),
    "svg with script": ("chart.svg", SVG_WITH_SCRIPT, "an SVG image", "svg"),
    "svg disguised as png": ("chart.png", SVG_WITH_SCRIPT, "an SVG image", "svg"),
    "png named pdf": ("ruling.pdf", png(), "ends in .pdf, but its content is a PNG image",
                      "extension"),
    "elf executable": ("photo.jpg", ELF, "a Linux program", "program"),
    "windows executable": ("report.pdf", PE, "a Windows program", "program"),
    "zip archive": ("photos.zip", b"PK\x03\x04" + bytes(60), "a ZIP archive", "archive"),
    "damaged png": ("x.png", b"\x89PNG\r\n\x1a\n" + b"not really", "cannot be read as one",
                    "image"),
    "unknown binary": ("x.txt", bytes(range(256)), "cannot tell what kind of file", "type"),
    "text not utf-8": ("notes.txt", "Привет, мир".encode("cp1251"),
                       "cannot tell what kind of file", "type"),
}


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(tmp_path) -> list:
    """Every file in the test's evidence storage (tests/conftest.py puts it in tmp_path)."""
    root = tmp_path / "evidence"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_bytes(evidence) -> bytes:
    with evidence.file.open("rb") as handle:
        return handle.read()


# --- Through the workspace's upload form ----------------------------------------------------

def post_upload(client, case, file, **changes):
    data = fill(read_form(client.get(url("evidence_create", case))),
                description="From the reporter's phone", **changes)
    data["file"] = file
    return client.post(url("evidence_create", case), data)


@pytest.mark.parametrize("label", REFUSED)
def test_workspace_form_refuses_the_file_beside_the_field_and_writes_nothing(
        client, case, reporter, tmp_path, label):
    name, content, message, code = REFUSED[label]
    client.force_login(reporter)
    response = post_upload(client, case, upload(name, content, "image/png"))
    assert response.status_code == 400
    assert message in field_block(response.content.decode(), "file")
    assert [e.code for e in response.context["form"].errors.as_data()["file"]] == [code]
    assert not Evidence.objects.exists() and not CustodyEntry.objects.exists()
    assert stored_files(tmp_path) == []


def test_workspace_form_refuses_an_oversize_file_with_its_size(client, case, reporter,
                                                                tmp_path, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    client.force_login(reporter)
    response = post_upload(client, case, upload("ruling.pdf", OVERSIZE_PDF))
    assert response.status_code == 400
    block = field_block(response.content.decode(), "file").replace("\xa0", " ")
    assert "This file is 4.0 KB; files up to 1000 bytes are accepted." in block
    assert not Evidence.objects.exists() and stored_files(tmp_path) == []


def test_workspace_form_tells_what_is_accepted(client, case, reporter, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    client.force_login(reporter)
    block = field_block(client.get(url("evidence_create", case)).content.decode(), "file")
    block = block.replace("\xa0", " ")
    assert "photos (JPEG, PNG, WebP), PDF" in block and "up to 20.0 MB" in block
    assert 'accept=".jpg,.jpeg,.png,.webp,.pdf,' in block


def test_photo_is_stored_without_its_exif_and_gps_and_the_original_hash_is_kept(
        client, case, reporter, tmp_path):
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    client.force_login(reporter)
    response = post_upload(client, case, upload("IMG_0412.jpg", original, "image/jpeg"))
    assert response.status_code == 302

    evidence = Evidence.objects.get()
    content = stored_bytes(evidence)
    stored = Image.open(io.BytesIO(content))
    assert stored.format == "JPEG"
    assert not stored.getexif() and not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(stored.info)
    for leak in (b"Sourcephone", b"SP-12", b"2025:05:09", b"Sent by Ivan", b"Exif"):
        assert leak not in content
    # The pixels survive: same size, the same colours where they were (JPEG is re-encoded
    # with its own quantisation tables, so values may move by a few levels at the edge).
    assert stored.size == (64, 32)
    assert _close(stored.getpixel((8, 16)), RED) and _close(stored.getpixel((56, 16)), BLUE)

    assert evidence.original_sha256 == sha256(original)
    assert evidence.sha256 == sha256(content) != evidence.original_sha256
    assert (evidence.size, evidence.content_type, evidence.original_name) == (
        len(content), "image/jpeg", "IMG_0412.jpg")
    assert len(stored_files(tmp_path)) == 1  # the working copy; the original is not kept

    collected, stripped = evidence.custody.all()
    assert (collected.action, collected.actor) == (CustodyEntry.Action.COLLECTED, reporter)
    assert sha256(original) in collected.note
    assert (stripped.action, stripped.actor) == (CustodyEntry.Action.METADATA_STRIPPED, reporter)
    assert "EXIF with GPS position" in stripped.note and "comment" in stripped.note
    assert sha256(original) in stripped.note and evidence.sha256 in stripped.note
    assert "Ivan" not in stripped.note  # what was removed is named, never repeated

    page = client.get(response["Location"]).content.decode()
    assert "Metadata removed before storing: EXIF with GPS position, comment." in page


def test_photo_is_turned_upright_before_its_orientation_tag_goes(client, case, reporter):
    client.force_login(reporter)
    # Orientation 6: the camera was held turned; viewers rotate the picture 90° clockwise.
    response = post_upload(client, case, upload("turned.jpg", photo_with_gps(orientation=6)))
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    stored = Image.open(io.BytesIO(stored_bytes(evidence)))
    assert not stored.getexif()
    assert stored.size == (32, 64)  # upright now: red on top, blue below
    assert _close(stored.getpixel((16, 8)), RED) and _close(stored.getpixel((16, 56)), BLUE)
    assert "EXIF orientation applied" in evidence.custody.get(
        action=CustodyEntry.Action.METADATA_STRIPPED).note


def test_pdf_without_metadata_is_stored_as_uploaded_whatever_the_browser_calls_it(
        client, case, reporter):
    client.force_login(reporter)
    response = post_upload(client, case, upload("ruling.pdf", PDF, content_type="text/html"))
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert stored_bytes(evidence) == PDF
    assert evidence.sha256 == evidence.original_sha256 == sha256(PDF)
    assert evidence.content_type == "application/pdf"
    assert list(evidence.custody.values_list("action", flat=True)) == ["collected"]


XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Jane Source</dc:creator>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
PDF_INFO = {"/Author": "Jane Source", "/Creator": "Newsroom Leak Tool 3.1",
            "/Title": "Internal memo"}


def assert_pdf_without_metadata(data: bytes, pages=1):
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == pages
    assert reader.metadata is None and "/Info" not in reader.trailer
    assert "/Metadata" not in reader.trailer["/Root"]
    assert not any("/Metadata" in page for page in reader.pages)
    for secret in (b"Jane Source", b"Newsroom Leak Tool", b"Internal memo", b"xmpmeta"):
        assert secret not in data


def test_pdf_loses_its_document_information_and_xmp(client, case, reporter):
    content = pdf_document(info=PDF_INFO, xmp=XMP, page_xmp=XMP)
    client.force_login(reporter)

    response = post_upload(client, case, upload("memo.pdf", content))

    assert response.status_code == 302
    evidence = Evidence.objects.get()
    stored = stored_bytes(evidence)
    assert_pdf_without_metadata(stored)
    assert evidence.original_sha256 == sha256(content) != evidence.sha256 == sha256(stored)
    assert (evidence.size, evidence.content_type) == (len(stored), "application/pdf")
    collected, stripped = evidence.custody.order_by("pk")
    assert (collected.action, stripped.action) == ("collected", "metadata_stripped")
    assert stripped.actor == reporter
    assert ("found: document information (Author, Creator, Title), XMP metadata (2 packets)"
            in stripped.note)
    assert sha256(content) in stripped.note and sha256(stored) in stripped.note
    assert "Jane Source" not in stripped.note  # names of things, never their values


def test_pdf_saved_again_loses_its_earlier_save_and_trailing_data():
    first = pdf_document(info=PDF_INFO)
    writer = PdfWriter(io.BytesIO(first), incremental=True)
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    content = out.getvalue() + b"PK\x03\x04 an archive glued on"

    stored = uploads.clean_upload(upload("memo.pdf", content))

    assert_pdf_without_metadata(stored.read(), pages=2)
    assert stored.upload_info.metadata_removed == (
        "document information (Author, Creator, Title)", "sections from earlier saves",
        "data after the end of the document")


def test_admin_add_strips_a_pdf_too(client, case, staff_reporter):
    content = pdf_document(info=PDF_INFO, xmp=XMP)
    client.force_login(staff_reporter)
    admin_add(client, case, upload("memo.pdf", content))
    evidence = Evidence.objects.get()
    assert_pdf_without_metadata(stored_bytes(evidence))
    assert evidence.original_sha256 == sha256(content)
    assert evidence.custody.filter(action="metadata_stripped").exists()


@pytest.mark.parametrize(("content", "says"), [
    ("encrypted", "This PDF is encrypted"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n%%EOF", "cannot be read as one"),
    (b"%PDF-1.4\n1 0 obj << /Info 1 0 R /Root 1 0 R >> endobj\ntrailer << /Root 1 0 R "
     b"/Info 1 0 R >>\n%%EOF", "cannot be read as one"),
    (b"%PDF-1.7 court ruling", "cannot be read as one"),
])
def test_encrypted_or_unreadable_pdf_is_refused_and_nothing_is_stored(client, case, reporter,
                                                                     tmp_path, content, says):
    if content == "encrypted":
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_document(info=PDF_INFO))))
        writer.encrypt(user_password="", owner_password="owner")  # opens without a password
        out = io.BytesIO()
        writer.write(out)
        content = out.getvalue()
    with pytest.raises(ValidationError) as refused:
        uploads.clean_upload(upload("ruling.pdf", content))
    assert refused.value.code == "pdf"
    client.force_login(reporter)
    response = post_upload(client, case, upload("ruling.pdf", content))
    assert response.status_code == 400
    assert says in field_block(response.content.decode(), "file")
    assert not Evidence.objects.exists() and not stored_files(tmp_path)


def test_image_without_metadata_is_kept_byte_for_byte(client, case, reporter):
    content = png()
    client.force_login(reporter)
    assert post_upload(client, case, upload("screenshot.png", content)).status_code == 302
    evidence = Evidence.objects.get()
    assert stored_bytes(evidence) == content
    assert evidence.sha256 == evidence.original_sha256 == sha256(content)
    assert list(evidence.custody.values_list("action", flat=True)) == ["collected"]


def test_text_and_csv_are_told_apart_by_their_extension(client, case, reporter):
    client.force_login(reporter)
    for name in ("deserters.csv", "notes.txt"):
        content = "Имя;Часть\nИванов;in 2025\n".encode()
        assert post_upload(client, case, upload(name, content, "text/html")).status_code == 302
    assert dict(Evidence.objects.values_list("original_name", "content_type")) == {
        "deserters.csv": "text/csv", "notes.txt": "text/plain"}


# --- Through the admin ----------------------------------------------------------------------

@pytest.fixture
def staff_reporter(make_member):
    user = make_member(Role.REPORTER, username="desk", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="cases"))
    return user


def admin_add(client, case, file):
    return client.post(reverse("admin:cases_evidence_add"), {
        "case": case.pk, "description": "Sent by a source", "file": file,
        "captured_at_0": "2025-05-10", "captured_at_1": "12:00:00",
        "custody-TOTAL_FORMS": 0, "custody-INITIAL_FORMS": 0,
        "custody-MIN_NUM_FORMS": 0, "custody-MAX_NUM_FORMS": 1000,
    }, follow=True)


def admin_file_errors(response) -> str:
    """The admin's error list beside the file field, as rendered."""
    page = response.content.decode()
    start = page.index("field-file")
    return page[start:page.index("</div>", page.index("<ul class=\"errorlist", start))]


@pytest.mark.parametrize("label", REFUSED)
def test_admin_add_refuses_the_file_beside_the_field_and_writes_nothing(
        client, case, staff_reporter, tmp_path, label):
    name, content, message, code = REFUSED[label]
    client.force_login(staff_reporter)
    response = admin_add(client, case, upload(name, content, "image/png"))
    assert response.status_code == 200
    assert any(message in error for error in response.context["adminform"].form.errors["file"])
    errors = response.context["adminform"].form.errors.as_data()["file"]
    assert [e.code for e in errors] == [code]  # the same code as the workspace's form
    assert message in admin_file_errors(response).replace("&#x27;", "'")
    assert not Evidence.objects.exists() and not CustodyEntry.objects.exists()
    assert stored_files(tmp_path) == []


def test_admin_add_refuses_an_oversize_file(client, case, staff_reporter, tmp_path, settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1000
    client.force_login(staff_reporter)
    response = admin_add(client, case, upload("ruling.pdf", OVERSIZE_PDF))
    errors = response.context["adminform"].form.errors["file"]
    assert [e.replace("\xa0", " ") for e in errors] == [
        "This file is 4.0 KB; files up to 1000 bytes are accepted."]
    assert not Evidence.objects.exists() and stored_files(tmp_path) == []


def test_admin_add_strips_png_text_chunks_and_keeps_every_pixel(client, case, staff_reporter):
    image = two_colour_image()
    original = png(image, Author="Ivan Petrov", Location="47.2257 N, 39.7015 E")
    client.force_login(staff_reporter)
    response = admin_add(client, case, upload("map.png", original, "image/png"))
    assert response.redirect_chain and response.status_code == 200
    evidence = Evidence.objects.get()
    content = stored_bytes(evidence)
    stored = Image.open(io.BytesIO(content))
    assert stored.text == {} and not stored.getexif()
    assert b"Ivan" not in content and b"39.7015" not in content
    assert ImageChops.difference(stored.convert("RGB"), image).getbbox() is None  # exact
    assert evidence.original_sha256 == sha256(original) != evidence.sha256 == sha256(content)
    assert (evidence.content_type, evidence.captured_by) == ("image/png", staff_reporter)
    assert list(evidence.custody.values_list("action", "actor")) == [
        (CustodyEntry.Action.COLLECTED, staff_reporter.pk),
        (CustodyEntry.Action.METADATA_STRIPPED, staff_reporter.pk)]
    assert "text chunks (Author, Location)" in evidence.custody.last().note
    messages = [str(m) for m in response.context["messages"]]
    assert "Metadata removed before storing: text chunks (Author, Location)." in messages


def test_admin_add_strips_the_gps_of_a_photo(client, case, staff_reporter):
    client.force_login(staff_reporter)
    original = photo_with_gps()
    admin_add(client, case, upload("IMG_0413.jpeg", original, "image/jpeg"))
    evidence = Evidence.objects.get()
    assert not Image.open(io.BytesIO(stored_bytes(evidence))).getexif()
    assert evidence.original_sha256 == sha256(original)


# --- Downloads ------------------------------------------------------------------------------

def test_download_is_an_attachment_the_browser_may_not_sniff_or_render(client, case, viewer):
    evidence = EvidenceFactory(case=case, file=SimpleUploadedFile("x.png", png()))
    client.force_login(viewer)
    response = client.get(url("evidence_download", case, evidence.pk))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


# --- The kind, from the content -------------------------------------------------------------

@pytest.mark.parametrize(("head", "expected"), [
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", uploads.MP4),
    (b"\x00\x00\x00\x1cftypmp42\x00\x00\x00\x00mp42isom", uploads.MP4),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", uploads.MOV),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", uploads.MOV),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom", uploads.M4A),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", uploads.HEIF),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", uploads.HEIF),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", uploads.WEBM),
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", uploads.MKV),
    (b"OggS\x00\x02" + bytes(20) + b"OpusHead", uploads.OGG),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", uploads.WAV),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", uploads.WEBP),
    (b"fLaC\x00\x00\x00\x22", uploads.FLAC),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", uploads.MP3),
    (b"\xff\xfb\x90\x64" + bytes(60), uploads.MP3),
    (b"%PDF-1.4\n", uploads.PDF),
    (b"MZ is how the unit signs its posts\n", uploads.TEXT),  # text, not a program
    (b"\xef\xbb\xbf  <!DOCTYPE html><p>hi", uploads.HTML),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", uploads.SVG),
    (b"<?xml version='1.0'?><rss/>", uploads.XML),
    (b"#!/bin/sh\nrm -rf /\n", None),
    (b"GIF89a\x01\x00\x01\x00", None),
    (bytes(257) + b"ustar\x0000", None),
])
def test_identify_by_content(head, expected):
    found = uploads.identify(head)
    if expected is None:
        assert isinstance(found, uploads.Refused)
    else:
        assert found is expected


def _refusals():
    named = [value for value in vars(uploads).values() if isinstance(value, uploads.Refused)]
    return [*named, *(kind for _o, _s, kind in uploads.SIGNATURES
                      if isinstance(kind, uploads.Refused))]


def test_every_kind_refused_by_name_is_refused_with_its_code():
    """The code beside the file field says which kind of file was refused, for every entry
    of the signature table (the message says it in words)."""
    codes = {refusal.code for refusal in _refusals()}
    assert codes == {"html", "svg", "xml", "program", "archive", "office_document",
                     "uncleanable_image", "unsupported_media", "empty"}
    for offset, signature, kind in uploads.SIGNATURES:
        if not isinstance(kind, uploads.Refused):
            continue
        with pytest.raises(ValidationError) as refused:
            uploads.clean_upload(upload("evidence.bin", bytes(offset) + signature + bytes(64)))
        assert refused.value.code == kind.code, kind.label
        assert refused.value.messages == [kind.message()]


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty"),
    (b"RIFF\x24\x00\x00\x00AVI LIST", "unsupported_media"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "uncleanable_image"),
    (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00", "unsupported_media"),
    (b"<?xml version='1.0'?><rss/>", "xml"),
    (PE, "program"),
])
def test_kinds_told_apart_by_structure_are_refused_with_their_code(content, code):
    with pytest.raises(ValidationError) as refused:
        uploads.clean_upload(upload("evidence.bin", content))
    assert refused.value.code == code


def test_factory_and_script_saves_record_the_detected_type_not_the_claimed_one(case):
    evidence = EvidenceFactory(case=case, file=upload("photo.jpg", png(), "image/jpeg"))
    assert evidence.content_type == "image/png"
    assert evidence.original_sha256 == evidence.sha256
    evidence = EvidenceFactory(case=case, file=upload("page.txt", HTML_AS_PNG, "text/plain"))
    assert evidence.content_type == "application/octet-stream"


def test_webp_loses_its_exif_and_keeps_every_pixel():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Sourcephone"
    out = io.BytesIO()
    two_colour_image().save(out, "WEBP", exif=exif, quality=80)
    cleaned = uploads.clean_upload(upload("sticker.webp", out.getvalue()))
    assert cleaned.upload_info.metadata_removed == ("EXIF",)
    before, after = Image.open(io.BytesIO(out.getvalue())), Image.open(cleaned)
    assert not after.getexif() and b"Sourcephone" not in cleaned.read()
    assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is None


def test_animated_images_and_pixel_bombs_are_refused(monkeypatch):
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(ValidationError, match="animated image"):
        uploads.clean_upload(upload("sticker.png", out.getvalue()))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValidationError, match="too many pixels"):
        uploads.clean_upload(upload("huge.png", png(Image.new("L", (100, 100)))))


def test_jpeg_with_data_after_its_end_is_rewritten():
    out = io.BytesIO()
    two_colour_image().save(out, "JPEG")
    content = out.getvalue() + b"hidden: 47.2257 N"
    cleaned = uploads.clean_upload(upload("x.jpg", content))
    assert cleaned.upload_info.metadata_removed == ("data after the end of the image",)
    assert b"hidden" not in cleaned.read()


def test_size_limit_handler_keeps_no_bytes_past_the_limit(settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 10
    handler = uploads.SizeLimitUploadHandler()
    handler.new_file("file", "big.pdf", "application/pdf", None)
    assert handler.receive_data_chunk(b"%PDF-1.4", 0) == b"%PDF-1.4"
    assert handler.receive_data_chunk(b"0123456789", 8) is None
    stand_in = handler.file_complete(18)
    assert (stand_in.name, stand_in.size, stand_in.read()) == ("big.pdf", 18, b"")


def _close(pixel, colour, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
