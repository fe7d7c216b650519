"""cltv.io.atomic: the one way outputs are replaced, files and folders alike."""
import pytest

from cltv.io import atomic


def folder_of(text: str):
    def write(tmp):
        tmp.mkdir()
        (tmp / "part-0.parquet").write_text(text)
    return write


def test_a_folder_replaces_a_file_and_a_folder_and_a_failed_write_keeps_the_old_one(tmp_path):
    out = tmp_path / "scores.parquet"
    out.write_text("pandas file")
    atomic(out, folder_of("first"), folder=True)
    assert (out / "part-0.parquet").read_text() == "first"
    atomic(out, folder_of("second"), folder=True)
    assert (out / "part-0.parquet").read_text() == "second"

    def broken(tmp):
        folder_of("half")(tmp)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic(out, broken, folder=True)
    assert (out / "part-0.parquet").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # nothing left aside
    atomic(out, lambda tmp: tmp.write_text("file again"))
    assert out.read_text() == "file again"


def test_a_replaced_file_gets_the_mode_a_new_file_gets(tmp_path):
    """Outputs are readable as the umask allows (not the temporary file's owner-only mode)."""
    import os

    from cltv.io import write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o644
