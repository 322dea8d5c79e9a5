"""Shapefiles, plain or zipped, with the .dbf text encoding detected.

Chinese shapefiles often carry GBK/GB18030 attribute text, with or without a
``.cpg`` file saying so. The encoding is decided in this order: ``encoding=``;
the ``.cpg`` (if its encoding decodes the records); otherwise the raw bytes of the
field names and character fields are tried as strict UTF-8, then GB18030.

Damaged inputs are caught before GDAL sees them, with a message that says what is
wrong: missing siblings, zero-byte files, a ``.shp``/``.shx``/``.dbf`` cut short,
and ``.shp``/``.dbf`` that do not belong together.
"""

from __future__ import annotations

import codecs
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np

from geo.errors import EcozoneWarning, InputFormatError
from geo.io._coords import finalize_features
from geo.io._issues import IssueLog, check_errors_mode, user_stacklevel
from geo.io.vector import read_ogr

_SHP_MAGIC = 9994
# Bytes examined when guessing the .dbf encoding (whole records, from the start).
_SNIFF_BYTES = 4 * 1024 * 1024
# Refuse to unpack more than this from a zip (a zip bomb guard).
_MAX_UNZIPPED = 8 * 1024**3


def _sibling(shp: Path, ext: str) -> Path | None:
    """Find the file with ``shp``'s stem and suffix ``ext``, in any letter case."""
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if cand.exists():
            return cand
    if shp.parent.is_dir():
        for cand in shp.parent.iterdir():
            if cand.stem == shp.stem and cand.suffix.lower() == ext:
                return cand
    return None


def _missing(source: str, shp: Path, ext: str) -> InputFormatError:
    present = (
        sorted(p.name for p in shp.parent.iterdir() if p.stem == shp.stem and p.is_file())
        if shp.parent.is_dir()
        else []
    )
    msg = (
        f"{source}: 缺少 {ext} 文件 / the shapefile's {ext} file is missing "
        f"(found: {present or 'nothing'}). A shapefile needs .shp, .shx and .dbf with the "
        "same name; copy all of them (zip the whole set to be safe)."
    )
    return InputFormatError(msg)


def _check_shp_pair(shp: Path, shx: Path, source: str) -> int:
    """Check .shp/.shx headers and sizes; return the number of shapes."""
    for part in (shp, shx):
        size = part.stat().st_size
        if size == 0:
            msg = (
                f"{source}: {part.name} 为空(0 字节) / is empty (0 bytes). The copy was "
                "interrupted; copy the shapefile again."
            )
            raise InputFormatError(msg)
        with part.open("rb") as fh:
            head = fh.read(100)
        if len(head) < 100:
            msg = (
                f"{source}: {part.name} 不完整 / is truncated: {size} bytes, shorter than the "
                "100-byte shapefile header. Copy the shapefile again."
            )
            raise InputFormatError(msg)
        (code,) = struct.unpack(">i", head[:4])
        if code != _SHP_MAGIC:
            msg = (
                f"{source}: {part.name} 不是 shapefile / is not a shapefile part "
                f"(file code {code}, expected {_SHP_MAGIC})."
            )
            raise InputFormatError(msg)
        declared = struct.unpack(">i", head[24:28])[0] * 2
        if size < declared:
            msg = (
                f"{source}: {part.name} 不完整 / is truncated: the header declares "
                f"{declared} bytes but the file has {size} ({declared - size} missing). "
                "The copy or download was cut off; copy the shapefile again."
            )
            raise InputFormatError(msg)
    # Each .shx record is (offset, length) in 16-bit words; all must lie inside the .shp.
    index = np.fromfile(shx, dtype=">i4", offset=100).reshape(-1, 2)
    if len(index):
        ends = (index[:, 0].astype(np.int64) + index[:, 1] + 4) * 2
        shp_size = shp.stat().st_size
        if ends.max() > shp_size:
            first = int(np.argmax(ends > shp_size)) + 1
            msg = (
                f"{source}: {shp.name} 不完整 / is truncated: shape {first} of {len(index)} "
                f"ends at byte {int(ends.max())} but the file has {shp_size} bytes. "
                "Copy the shapefile again."
            )
            raise InputFormatError(msg)
    return len(index)


def _dbf_header(dbf: Path, source: str) -> tuple[int, int, int]:
    """Return (records, header_length, record_length) after checking the size."""
    size = dbf.stat().st_size
    if size == 0:
        msg = (
            f"{source}: {dbf.name} 为空(0 字节) / the attribute table .dbf is empty (0 bytes). "
            "The copy was interrupted; copy the .dbf again (or the whole shapefile)."
        )
        raise InputFormatError(msg)
    with dbf.open("rb") as fh:
        head = fh.read(32)
    if len(head) < 32:
        msg = f"{source}: {dbf.name} 不完整 / is truncated ({size} bytes). Copy it again."
        raise InputFormatError(msg)
    n_rec, hdr_len, rec_len = struct.unpack("<IHH", head[4:12])
    expected = hdr_len + n_rec * rec_len
    if size < expected:
        msg = (
            f"{source}: {dbf.name} 不完整 / is truncated: {n_rec} records need {expected} "
            f"bytes but the file has {size}. Copy the .dbf again."
        )
        raise InputFormatError(msg)
    return n_rec, hdr_len, rec_len


def _cpg_encoding(cpg: Path) -> str | None:
    """Python codec named by a .cpg file ("GBK", "936", "ANSI 936", "UTF-8" ...)."""
    text = cpg.read_bytes()[:200].decode("ascii", errors="ignore").strip().lower()
    # a .cpg holding NULs or other controls names nothing usable: detect instead
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    if not text:
        return None
    if text.startswith("ansi"):
        text = text[4:].strip(" _-")
    if text.isdigit():
        text = {"65001": "utf-8", "936": "gbk", "54936": "gb18030"}.get(text, f"cp{text}")
    if text in ("gbk", "gb2312", "cp936", "gb18030", "euc-cn"):
        return "gb18030"  # superset: decodes every GBK/GB2312 byte sequence the same way
    try:
        return codecs.lookup(text).name
    except (LookupError, ValueError):
        return None


def _text_values(dbf: Path, hdr_len: int, rec_len: int, n_rec: int) -> list[bytes]:
    """Field names and non-ASCII character-field values from the start of a .dbf."""
    raw = dbf.read_bytes()[
        : hdr_len + min(n_rec, max(1, _SNIFF_BYTES // max(rec_len, 1))) * rec_len
    ]
    values: list[bytes] = []
    fields: list[tuple[str, int, int]] = []
    pos, offset = 32, 1  # each record starts with a deletion flag byte
    while pos + 32 <= hdr_len and raw[pos] != 0x0D:
        desc = raw[pos : pos + 32]
        values.append(desc[:11].split(b"\x00", 1)[0])
        ftype, flen = chr(desc[11]), desc[16]
        fields.append((ftype, offset, flen))
        offset += flen
        pos += 32
    n = (len(raw) - hdr_len) // rec_len if rec_len else 0
    if n:
        recs = np.frombuffer(raw, dtype=np.uint8, count=n * rec_len, offset=hdr_len)
        recs = recs.reshape(n, rec_len)
        for ftype, off, flen in fields:
            if ftype not in "CM":
                continue
            col = recs[:, off : off + flen]
            nonascii = (col >= 0x80).any(axis=1)
            values.extend(bytes(v).rstrip(b" \x00") for v in col[nonascii])
    return [v for v in values if not v.isascii()]


def _decodes(values: list[bytes], encoding: str) -> bool:
    """Check that every value decodes (a multibyte character cut at the field end is fine)."""
    for v in values:
        try:
            # final=False buffers an incomplete trailing sequence instead of failing:
            # the .dbf field width often cuts the last character in half.
            codecs.getincrementaldecoder(encoding)().decode(v, final=False)
        except UnicodeDecodeError:
            return False
    return True


def detect_dbf_encoding(shp_or_dbf: str | Path) -> str:
    """Guess the text encoding of a shapefile's .dbf.

    Parameters
    ----------
    shp_or_dbf
        The ``.shp`` or ``.dbf`` path.

    Returns
    -------
    str
        A Python codec name: the ``.cpg``'s when it fits the bytes, else "utf-8"
        when the bytes are valid UTF-8 (or plain ASCII), else "gb18030".
    """
    path = Path(shp_or_dbf)
    dbf = path if path.suffix.lower() == ".dbf" else _sibling(path, ".dbf")
    if dbf is None:
        return "utf-8"
    n_rec, hdr_len, rec_len = _dbf_header(dbf, str(dbf))
    values = _text_values(dbf, hdr_len, rec_len, n_rec)
    cpg = _sibling(dbf, ".cpg")
    named = _cpg_encoding(cpg) if cpg is not None else None
    if named is not None:
        if _decodes(values, named):
            return named
        warnings.warn(
            f"{dbf}: .cpg 声明的编码 {named} 与内容不符 / the .cpg names {named} but the text "
            "does not decode with it; guessing from the bytes instead.",
            EcozoneWarning,
            stacklevel=user_stacklevel(),
        )
    if _decodes(values, "utf-8"):
        return "utf-8"
    if _decodes(values, "gb18030"):
        return "gb18030"
    return "latin-1"


def _read_shapefile(
    path: Path,
    *,
    source: str,
    crs: Any,
    coords: str,
    zone: int | None,
    encoding: str | None,
    errors: str,
) -> gpd.GeoDataFrame:
    check_errors_mode(errors)
    path = Path(path)
    if path.is_dir():
        shps = sorted(p for p in path.iterdir() if p.suffix.lower() == ".shp")
        if len(shps) != 1:
            msg = (
                f"{source}: 文件夹中有 {len(shps)} 个 .shp / the folder holds {len(shps)} "
                ".shp files; pass one."
            )
            raise InputFormatError(msg)
        path = shps[0]
    shp = (
        path
        if path.suffix.lower() == ".shp"
        else (_sibling(path, ".shp") or path.with_suffix(".shp"))
    )
    if not shp.exists():
        raise _missing(source, shp, ".shp")
    if shp.stat().st_size == 0:
        msg = f"{source}: 文件为空(0 字节) / the file is empty (0 bytes). Copy it again."
        raise InputFormatError(msg)
    shx = _sibling(shp, ".shx")
    if shx is None:
        raise _missing(source, shp, ".shx")
    dbf = _sibling(shp, ".dbf")
    if dbf is None:
        raise _missing(source, shp, ".dbf")
    n_shapes = _check_shp_pair(shp, shx, source)
    n_rec, _, _ = _dbf_header(dbf, source)
    if n_rec != n_shapes:
        msg = (
            f"{source}: .shp 有 {n_shapes} 个图形而 .dbf 有 {n_rec} 条记录 / the .shp holds "
            f"{n_shapes} shapes but the .dbf {n_rec} records: the files do not belong "
            "together or one is damaged. Export the shapefile again."
        )
        raise InputFormatError(msg)
    if encoding is None:
        encoding = detect_dbf_encoding(dbf)
    log = IssueLog(source, errors)
    gdf = read_ogr(shp, encoding=encoding, source=source)
    return finalize_features(gdf, crs=crs, coords=coords, zone=zone, log=log)


def read_shapefile(
    path: str | Path,
    *,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    encoding: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a shapefile, decoding GBK/GB18030 attribute text correctly.

    Parameters
    ----------
    path
        The ``.shp`` (or its ``.dbf``/``.shx``; the siblings are found by name).
    crs
        CRS for a shapefile without ``.prj`` (anything ``CRS.from_user_input``
        accepts); without it the CRS is detected from the coordinates.
    coords
        Lon/lat system: "wgs84"/"cgcs2000", "gcj02" or "bd09" (converted to WGS84).
    zone
        3° Gauss-Krüger zone for projected data without ``.prj`` and without prefix.
    encoding
        The ``.dbf`` text encoding; default: detected (see :func:`detect_dbf_encoding`).
    errors
        "report" or "raise".

    Returns
    -------
    geopandas.GeoDataFrame
        Features with ``source_row`` (record number, 1-based) and ``attrs["issues"]``.

    Raises
    ------
    InputFormatError
        Missing ``.shp``/``.shx``/``.dbf``, zero-byte or truncated parts, parts that
        do not match, or unreadable content.
    CRSDetectionError
        No ``.prj``, no ``crs=`` and coordinates that fit no known CRS.

    Examples
    --------
    >>> gdf = read_shapefile("parcels.shp")  # doctest: +SKIP
    """
    return _read_shapefile(
        Path(path),
        source=str(path),
        crs=crs,
        coords=coords,
        zone=zone,
        encoding=encoding,
        errors=errors,
    )


def _member_name(info: zipfile.ZipInfo) -> str:
    """Return the member name, decoding GBK names stored without the UTF-8 flag."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        for enc in ("utf-8", "gb18030"):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
    return name


def _unsafe(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":")


def read_zip(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    coords: str = "wgs84",
    zone: int | None = None,
    encoding: str | None = None,
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read a zipped shapefile.

    Parameters
    ----------
    path
        The ``.zip``.
    layer
        The shapefile's name (stem or member path) when the zip holds several.
    crs, coords, zone, encoding, errors
        As for :func:`read_shapefile`.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_shapefile`; issues name ``archive.zip!member.shp``.

    Raises
    ------
    InputFormatError
        A damaged zip, member names that escape the folder ("../", absolute paths:
        rejected outright), no shapefile inside, or several without ``layer=``.
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        msg = f"{path}: ZIP 文件已损坏 / the zip archive is damaged or truncated ({err})."
        raise InputFormatError(msg) from err
    with zf:
        infos = zf.infolist()
        names = {info.filename: _member_name(info) for info in infos}
        bad = [names[i.filename] for i in infos if _unsafe(i.filename)]
        if bad:
            msg = (
                f"{path}: 压缩包含有指向目录外的路径，已拒绝 / the zip is rejected: member "
                f"names point outside the archive folder ({bad[:5]}). Re-create the zip "
                "from the files themselves."
            )
            raise InputFormatError(msg)
        shps = [
            i
            for i in sorted(infos, key=lambda i: i.filename)
            if i.filename.lower().endswith(".shp")
            and not i.filename.startswith("__MACOSX/")
            and not PurePosixPath(i.filename).name.startswith("._")
        ]
        if not shps:
            shown = [names[i.filename] for i in infos[:20]]
            msg = (
                f"{path}: 压缩包中没有 shapefile / the zip holds no shapefile (.shp); it "
                f"contains {shown}. Zip the .shp, .shx, .dbf and .prj together, or unzip "
                "and pass the file inside."
            )
            raise InputFormatError(msg)
        if layer is not None:
            want = str(layer).lower().removesuffix(".shp")
            chosen = [
                i
                for i in shps
                if names[i.filename].lower().removesuffix(".shp") == want
                or PurePosixPath(names[i.filename]).stem.lower() == want
            ]
            if not chosen:
                msg = (
                    f"{path}: 没有名为 {layer!r} 的 shapefile / no shapefile named {layer!r}; "
                    f"the zip holds {[names[i.filename] for i in shps]}."
                )
                raise InputFormatError(msg)
            shp_info = chosen[0]
        elif len(shps) > 1:
            msg = (
                f"{path}: 压缩包中有多个 shapefile，请用 layer= 指定 / the zip holds "
                f"{len(shps)} shapefiles; choose one with layer=: "
                f"{[names[i.filename] for i in shps]}."
            )
            raise InputFormatError(msg)
        else:
            shp_info = shps[0]
        stem = shp_info.filename[: -len(".shp")]
        members = [i for i in infos if i.filename.rsplit(".", 1)[0] == stem and not i.is_dir()]
        if sum(i.file_size for i in members) > _MAX_UNZIPPED:
            msg = (
                f"{path}: 解压后过大 / the shapefile unpacks to more than 8 GiB; unzip it yourself."
            )
            raise InputFormatError(msg)
        source = f"{path}!{names[shp_info.filename]}"
        with tempfile.TemporaryDirectory(prefix="ecozone-zip-") as tmp:
            for info in members:
                ext = info.filename.rsplit(".", 1)[-1]
                target = Path(tmp) / f"layer.{ext}"
                try:
                    target.write_bytes(zf.read(info))
                except (zipfile.BadZipFile, OSError, EOFError) as err:
                    msg = f"{source}: 解压失败 / cannot unpack {names[info.filename]} ({err})."
                    raise InputFormatError(msg) from err
            return _read_shapefile(
                Path(tmp) / f"layer.{shp_info.filename.rsplit('.', 1)[-1]}",
                source=source,
                crs=crs,
                coords=coords,
                zone=zone,
                encoding=encoding,
                errors=errors,
            )
