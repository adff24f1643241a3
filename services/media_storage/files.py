"""What an uploaded file may be, decided from its name and its bytes. Pure functions.

listmonk checks only the name's extension against ``upload.extensions`` (``*`` allows any) and
trusts the browser's content type. postlog also looks at the bytes:

- the extension must be allowed (listmonk's rule and message, ``Unsupported file type (x)``);
- *active* types, those a browser or an operating system runs (HTML, scripts, programs), are
  never covered by ``*``: they are accepted only when ``upload.extensions`` names them;
- the content is sniffed from its first bytes: a file whose content is HTML or a program is
  refused unless its extension is that type's and allowed; a known extension (``png``, ``jpg``,
  ``pdf``, ``svg``, ``txt``...) must hold content of its type;
- images listmonk makes thumbnails of (``jpg``, ``jpeg``, ``png``, ``gif``) must decode; their
  width and height are recorded and a 250 px wide PNG thumbnail is made (listmonk's size).

The content type recorded is postlog's, from the content and the extension, not the client's.
File names are sanitised (``sanitize_filename``): a name carrying a path is refused.
"""

from __future__ import annotations

import io
import mimetypes
import re
import secrets
import string
import unicodedata
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

THUMB_PREFIX = "thumb_"
THUMB_WIDTH = 250  # listmonk's thumbnailSize
MAX_IMAGE_PIXELS = 50_000_000  # larger images are refused (decompression bombs)
FILENAME_MAX_BYTES = 200
SUFFIX_LENGTH = 6  # listmonk's random suffix of a name already taken

IMAGE_EXTS = ("gif", "png", "jpg", "jpeg")  # listmonk's: thumbnail and width/height
VECTOR_EXTS = ("svg",)  # listmonk's: its own thumbnail

UNSUPPORTED = "Unsupported file type ({})"
INVALID_FILE = "Invalid file: {}"

# Types a browser renders as a page or a system runs: never allowed by "*" alone.
ACTIVE_EXTS = frozenset({
    "html", "htm", "xhtml", "xht", "shtml", "mht", "mhtml", "hta", "js", "mjs", "jsp", "php",
    "phtml", "asp", "aspx", "cgi", "pl", "py", "rb", "sh", "bash", "ps1", "psm1", "vbs", "vbe",
    "wsf", "wsh", "bat", "cmd", "com", "exe", "dll", "msi", "msp", "scr", "cpl", "jar", "apk",
    "app", "elf", "bin", "run", "swf", "xml", "xsl", "xslt",
})

# What the content of a file with a known extension must be.
EXPECTED_KIND: dict[str, frozenset[str]] = {
    **{e: frozenset({"jpeg"}) for e in ("jpg", "jpeg", "jpe", "jfif")},
    "png": frozenset({"png"}), "gif": frozenset({"gif"}), "webp": frozenset({"webp"}),
    "bmp": frozenset({"bmp"}), "ico": frozenset({"ico"}),
    "tif": frozenset({"tiff"}), "tiff": frozenset({"tiff"}),
    "svg": frozenset({"svg"}), "pdf": frozenset({"pdf"}),
    **{e: frozenset({"zip"}) for e in ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp",
                                        "epub", "jar", "apk")},
    "gz": frozenset({"gzip"}), "tgz": frozenset({"gzip"}),
    **{e: frozenset({"text"}) for e in ("txt", "csv", "tsv", "md", "json", "ics", "vcf",
                                        "css", "rtf")},
    **{e: frozenset({"html"}) for e in ("html", "htm", "xhtml", "xht", "shtml")},
    **{e: frozenset({"program"}) for e in ("exe", "dll", "msi", "scr", "com", "cpl")},
}
KIND_NAMES = {
    "jpeg": "a JPEG image", "png": "a PNG image", "gif": "a GIF image", "webp": "a WebP image",
    "bmp": "a BMP image", "ico": "an icon", "tiff": "a TIFF image", "svg": "an SVG image",
    "pdf": "a PDF document", "zip": "a ZIP archive", "gzip": "a gzip archive",
    "text": "text", "html": "an HTML page", "program": "a program", "binary": "binary data",
}
ACTIVE_KINDS = frozenset({"html", "program"})
CONTENT_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "bmp": "image/bmp", "ico": "image/vnd.microsoft.icon", "tiff": "image/tiff",
    "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html",
}
# Served inline (under the sandboxing CSP); any other type is served as an attachment.
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/vnd.microsoft.icon",
    "image/x-icon", "image/tiff", "image/svg+xml", "text/plain", "text/csv", "audio/mpeg",
    "audio/ogg", "audio/wav", "video/mp4", "video/webm", "video/ogg",
})

_HTML_STARTS = ("<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div",
                "<font", "<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p",
                "<!--", "<meta", "<link", "<form", "<object", "<embed", "<svg")
_SPACES = re.compile(r"\s+")
_UNSAFE = re.compile(r"[^\w.+~()-]")
_DASHES = re.compile(r"-{2,}")


class FileRefused(Exception):
    """The upload is refused; ``message`` is the API's (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def extension(filename: str) -> str:
    """Go's ``filepath.Ext`` without the dot, lower-cased (``""`` when there is none)."""
    base = filename.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot + 1:].lower() if dot >= 0 else ""


def sanitize_filename(raw: str) -> str:
    """A safe file name from the client's: refused (``FileRefused``) when it carries a path or
    control characters; whitespace runs become ``-`` (listmonk), any character but letters,
    digits and ``. _ - + ~ ( )`` becomes ``-``, leading dots go (no hidden files), at most
    ``FILENAME_MAX_BYTES`` (the extension kept); an empty name becomes random letters."""
    name = unicodedata.normalize("NFC", raw.strip())
    if "/" in name or "\\" in name or name in (".", ".."):
        raise FileRefused(INVALID_FILE.format("the file name must not contain a path"))
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in name):
        raise FileRefused(INVALID_FILE.format("the file name holds control characters"))
    name = _SPACES.sub("-", name)
    name = _DASHES.sub("-", _UNSAFE.sub("-", name)).lstrip(".")
    if not name.strip("-"):
        name = random_letters(10)
    ext = extension(name)
    stem = name[: len(name) - len(ext) - 1] if ext else name
    suffix = name[len(stem):]  # the extension as sent (its case kept)
    if len(suffix.encode()) > 20:  # an absurd extension is part of the name
        stem, suffix = name, ""
    limit = FILENAME_MAX_BYTES - len(suffix.encode())
    while len(stem.encode()) > limit:
        stem = stem[:-1]
    return (stem or random_letters(10)) + suffix


def random_letters(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def with_suffix(filename: str, suffix: str) -> str:
    """listmonk's ``name_suffix.ext`` for a name already taken."""
    ext = extension(filename)
    stem = filename[: len(filename) - len(ext) - 1] if ext else filename
    return f"{stem}_{suffix}.{ext}" if ext else f"{stem}_{suffix}"


def sniff(data: bytes) -> str:
    """The kind of content ``data`` starts with (one of ``KIND_NAMES``)."""
    head = data[:4096]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) > 14:
        return "bmp"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ico"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                        b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")):
        return "program"
    if b"\x00" in head:
        return "binary"
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip().lower()
    if _is_svg(text):
        return "svg"
    if _is_html(text):
        return "html"
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < min(len(data), 65536) - 4:  # not just a character cut at the end
            return "binary"
    return "text"


def _is_svg(text: str) -> bool:
    rest = text
    while rest.startswith(("<?xml", "<!--", "<!doctype svg")):
        end = rest.find("-->" if rest.startswith("<!--") else ">")
        if end < 0:
            return False
        rest = rest[end + (3 if rest.startswith("<!--") else 1):].lstrip()
    return rest.startswith("<svg")


def _is_html(text: str) -> bool:
    for start in _HTML_STARTS:
        if text.startswith(start):
            after = text[len(start):len(start) + 1]
            if start in ("<!--", "<!doctype html") or after in ("", " ", ">", "\t", "\n", "/"):
                return True
    return False


@dataclass(frozen=True)
class Image_:
    """A decoded image: its size and its thumbnail (PNG bytes)."""

    width: int
    height: int
    thumbnail: bytes


@dataclass(frozen=True)
class CheckedFile:
    """An upload accepted: its content type, and for an image its size and thumbnail."""

    content_type: str
    kind: str
    image: Image_ | None = None


def check_file(filename: str, data: bytes, allowed: list[str], client_type: str = ""
               ) -> CheckedFile:
    """Accept ``data`` named ``filename`` (already sanitised) under ``upload.extensions``
    (``allowed``, lower-cased), or ``FileRefused`` with the API's message."""
    ext = extension(filename)
    named = [e.strip().lstrip(".").lower() for e in allowed]
    if "*" not in named and ext not in named:
        raise FileRefused(UNSUPPORTED.format(ext))
    if ext in ACTIVE_EXTS and ext not in named:
        raise FileRefused(UNSUPPORTED.format(ext))
    if not data:
        raise FileRefused(INVALID_FILE.format("the file is empty"))
    kind = sniff(data)
    expected = EXPECTED_KIND.get(ext)
    if kind in ACTIVE_KINDS and (expected is None or kind not in expected):
        raise FileRefused(INVALID_FILE.format(
            f"the content is {KIND_NAMES[kind]}, which a .{ext or '(no extension)'} file may"
            " not hold"))
    if expected is not None and kind not in expected:
        wanted = KIND_NAMES[sorted(expected)[0]]
        raise FileRefused(INVALID_FILE.format(f"the content of a .{ext} file is not {wanted}"))
    image = thumbnail_of(data) if ext in IMAGE_EXTS else None
    return CheckedFile(content_type=content_type(kind, ext, client_type), kind=kind,
                       image=image)


def content_type(kind: str, ext: str, client_type: str = "") -> str:
    """The content type recorded: the content's, else the extension's, else the client's
    when it is a plain ``type/subtype`` of nothing active, else ``application/octet-stream``."""
    if kind in CONTENT_TYPES:
        return CONTENT_TYPES[kind]
    guessed = mimetypes.guess_type(f"x.{ext}", strict=False)[0] if ext else None
    if guessed and not _active_type(guessed):
        return guessed
    sent = client_type.split(";")[0].strip().lower()
    if (re.fullmatch(r"[a-z0-9][\w.+-]*/[a-z0-9][\w.+-]*", sent) and not _active_type(sent)
            and not sent.startswith("image/")):
        return sent
    return "text/plain" if kind == "text" else "application/octet-stream"


def _active_type(value: str) -> bool:
    return ("html" in value or "javascript" in value or "ecmascript" in value
            or value.endswith(("+xml", "/xml")) or "msdownload" in value
            or "executable" in value or "x-sh" in value)


def thumbnail_of(data: bytes) -> Image_:
    """Width, height and a ``THUMB_WIDTH`` px wide PNG thumbnail (listmonk resizes to that
    width whatever the size, keeping the ratio); ``FileRefused`` when it does not decode."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
                raise FileRefused(INVALID_FILE.format(
                    f"the image is too large ({width}x{height} pixels)"))
            img.load()
            frame = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    except FileRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FileRefused(INVALID_FILE.format(f"the image does not decode ({exc})")) from None
    thumb_height = max(1, round(height * THUMB_WIDTH / width))
    thumb = frame.resize((THUMB_WIDTH, thumb_height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="PNG", optimize=True)
    return Image_(width=width, height=height, thumbnail=out.getvalue())


def is_inline(content_type_: str) -> bool:
    """Whether a file of this type may be shown by the browser (else it is downloaded)."""
    return content_type_.split(";")[0].strip().lower() in INLINE_TYPES


def type_of_name(key: str) -> str:
    """The content type a stored file is served with, from its name (the check on upload made
    sure the name's extension matches the content)."""
    ext = extension(key)
    by_ext = {"jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "jfif": "jpeg", "png": "png",
              "gif": "gif", "webp": "webp", "bmp": "bmp", "ico": "ico", "tif": "tiff",
              "tiff": "tiff", "svg": "svg", "pdf": "pdf", "html": "html", "htm": "html"}
    if ext in by_ext:
        return CONTENT_TYPES[by_ext[ext]]
    return content_type("binary", ext)
