"""replacing_file: the previous file stays on failure; the new one is as shareable as any."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from geo.io.atomic import replacing_file
from geo.io.spreadsheet import write_csv


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("旧 / previous", encoding="utf-8")
    with pytest.raises(RuntimeError, match="interrupted"):
        with replacing_file(path) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise RuntimeError("interrupted")
    assert path.read_text(encoding="utf-8") == "旧 / previous"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_outputs_get_the_umasks_permissions_not_owner_only(tmp_path):
    # mkstemp made errors files, CSV tables and reports readable by their owner only
    old = os.umask(0o022)
    try:
        out = write_csv(pd.DataFrame({"site_id": ["a"]}), tmp_path / "r.errors.csv")
        with replacing_file(tmp_path / "new" / "report.json") as tmp:
            tmp.write_bytes(b"{}")
    finally:
        os.umask(old)
    for path in (out, tmp_path / "new" / "report.json"):
        assert path.stat().st_mode & 0o777 == 0o644
