"""Bad data files get one paragraph, as bad config values do: the file, what is wrong with it, and what to do. A data
set too small for a report still trains, and a Lightning refusal met once fit has started names its flag."""

import gzip

import pytest
import torch

from d2lab.data.airfoil import PACKAGED_FILE, Airfoil
from d2lab.data.fashion_mnist import FILES, FashionMNISTData, ensure_files, load_split, raw_folder
from d2lab.data.synthetic import SyntheticRegression
from d2lab.errors import ConfigError, DataFileError
from d2lab.models.closed_form import least_squares
from tests.conftest import read_metrics, run_cli
from tests.fashion_idx import idx_bytes, write_fake_fashion_mnist


def one_paragraph(message: str) -> str:
    assert "\n" not in message and len(message) < 700, message
    return message


# --- Fashion-MNIST -----------------------------------------------------------------------------------------------
def test_a_truncated_archive_is_named_and_leaves_no_half_file(tmp_path):
    write_fake_fashion_mnist(tmp_path)
    archive = raw_folder(tmp_path) / f"{FILES[2]}.gz"
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DataFileError) as caught:
        ensure_files(tmp_path, download=False)
    message = one_paragraph(str(caught.value))
    assert f"The Fashion-MNIST file {archive} is truncated or corrupt: gzip says" in message
    assert "Delete it and download it again" in message
    assert not (raw_folder(tmp_path) / FILES[2]).exists()  # nothing half-written for the next run to read
    assert not list(raw_folder(tmp_path).glob("*.partial"))


def test_an_archive_that_is_not_gzip_is_named(tmp_path):
    write_fake_fashion_mnist(tmp_path)
    archive = raw_folder(tmp_path) / f"{FILES[0]}.gz"
    archive.write_text("<html>404 Not Found</html>")
    with pytest.raises(DataFileError, match="is truncated or corrupt: gzip says Not a gzipped file"):
        ensure_files(tmp_path, download=False)


@pytest.mark.parametrize(
    ("name", "damage", "problem"),
    [
        (FILES[0], lambda b: b[:5000], "it has 5000 bytes, where its header (64 x 28 x 28) says 50192"),
        (FILES[1], lambda b: b + b"\0", "it has 73 bytes, where its header (64) says 72"),
        (FILES[3], lambda b: b"\x00\x00\x09\x01" + b[4:], "its header is not that of a uint8 IDX file of 1 dimension"),
        (FILES[2], lambda b: b[:2], "its header is not that of a uint8 IDX file of 3 dimension"),
        (FILES[0], lambda b: idx_bytes(torch.zeros(64, 32, 32, dtype=torch.uint8)), "its images are 32 x 32 pixels"),
        (FILES[1], lambda b: idx_bytes(torch.zeros(63, dtype=torch.uint8)), "it holds 63 labels, but"),
    ],
)
def test_a_damaged_unpacked_file_is_named_before_torchvision_reads_it(tmp_path, name, damage, problem):
    write_fake_fashion_mnist(tmp_path)
    ensure_files(tmp_path, download=False)  # unpacks all four
    path = raw_folder(tmp_path) / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataFileError) as caught:
        ensure_files(tmp_path, download=False)
    message = one_paragraph(str(caught.value))
    assert f"The Fashion-MNIST file {path} is truncated or corrupt: {problem}" in message
    assert f"Delete it (and {name}.gz beside it, if it came from there)" in message


def test_labels_outside_the_ten_classes_are_named(tmp_path):
    write_fake_fashion_mnist(tmp_path)
    labels = raw_folder(tmp_path) / f"{FILES[3]}.gz"
    labels.write_bytes(gzip.compress(idx_bytes(torch.full((32,), 200, dtype=torch.uint8))))
    ensure_files(tmp_path, download=False)
    with pytest.raises(DataFileError, match="it holds labels from 200 to 200, where Fashion-MNIST has 0 to 9"):
        load_split(tmp_path, train=False)


def test_an_intact_copy_still_loads(tmp_path):
    held = write_fake_fashion_mnist(tmp_path)
    data = FashionMNISTData(data_dir=str(tmp_path), download=False, val_fraction=0)
    data.setup("fit")
    assert torch.equal(data.train_set[1], held["train_y"].long())


# --- tables ------------------------------------------------------------------------------------------------------
GOOD_ROW = "800\t0\t0.3048\t71.3\t0.00266337\t126.201\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD_ROW + "800 0 0.3 x 0.002 126\n", "line 2 holds 'x', which is not a number"),
        (GOOD_ROW + "800 0 0.3 71.3 0.002\n", "line 2 has 5 columns, where 6 are needed"),
        ("freq angle chord velocity thickness level\n" + GOOD_ROW, "line 1 holds 'freq', which is not a number"),
        ("800,0,0.3048,71.3,0.00266337,126.201\n", "line 1 has 1 columns, where 6 are needed"),
        (GOOD_ROW + "800 0 0.3 nan 0.002 126\n", "line 2 holds a value that is not finite"),
        ("\n\n", "it has no rows"),
    ],
)
def test_a_table_that_is_not_numbers_is_named_with_its_line(tmp_path, text, problem):
    path = tmp_path / "airfoil.dat"
    path.write_text(text)
    with pytest.raises(DataFileError) as caught:
        Airfoil(path=str(path)).load()
    message = one_paragraph(str(caught.value))
    assert f"data.path='{path}' cannot be read as the airfoil table, rows of 6 numbers" in message
    assert problem in message and "set data.path=null" in message


def test_a_binary_file_and_a_folder_are_named(tmp_path):
    binary = tmp_path / "airfoil.dat"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataFileError, match="it is not a text file"):
        Airfoil(path=str(binary)).load()


def test_a_column_that_never_varies_is_named(tmp_path):
    path = tmp_path / "airfoil.dat"
    path.write_text("".join(f"{800 + i} 0 0.3 71.3 0.002 {120 + i}\n" for i in range(10)))
    with pytest.raises(DataFileError, match="column 2 holds the same value in every row"):
        Airfoil(path=str(path), num_examples=10).load()


def test_more_examples_than_rows_is_refused():
    with pytest.raises(ConfigError, match=r"data.num_examples=2000 is more than the 1503 rows of .*use at most 1503"):
        Airfoil(path=str(PACKAGED_FILE), num_examples=2000).load()


# --- too small -----------------------------------------------------------------------------------------------------
def test_a_split_that_leaves_nothing_to_train_on_is_refused():
    data = SyntheticRegression(num_examples=2, val_fraction=0.9)
    with pytest.raises(ConfigError) as caught:
        data.setup("fit")
    assert "data.val_fraction=0.9 of the 2 examples leaves none to train on" in one_paragraph(str(caught.value))


def test_least_squares_says_when_its_answer_is_not_unique():
    x, y = torch.randn(5, 5), torch.randn(5, 1)
    assert least_squares(x, y) is None  # 5 rows, 6 unknowns
    repeated = torch.randn(20, 2).repeat(1, 2)
    assert least_squares(repeated, torch.randn(20, 1)) is None  # columns 3 and 4 repeat 1 and 2
    assert least_squares(torch.randn(20, 4), torch.randn(20, 1)) is not None


# --- the real command line -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_command_line_prints_one_paragraph_for_a_truncated_archive(tmp_path):
    write_fake_fashion_mnist(tmp_path / "data")
    archive = raw_folder(tmp_path / "data") / f"{FILES[0]}.gz"
    archive.write_bytes(archive.read_bytes()[:1000])
    result = run_cli("-m", "d2lab.train", "data=fashion_mnist", f"paths.data_dir={tmp_path}/data",
                     f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out, out[-3000:]
    assert "├──" not in out  # no config tree before the refusal
    paragraph = out[out.index("d2lab: failed: ") :].strip()
    assert len(paragraph.splitlines()) == 1 and f"{archive} is truncated or corrupt" in paragraph
    assert read_metrics(tmp_path / "run")["status"] == "failed"


@pytest.mark.slow
def test_the_command_line_prints_one_paragraph_for_a_table_of_words(tmp_path):
    (tmp_path / "words.dat").write_text(GOOD_ROW + "a b c d e f\n")
    result = run_cli("-m", "d2lab.train", "data=airfoil", f"data.path={tmp_path}/words.dat",
                     f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out and "├──" not in out, out[-3000:]
    assert "line 2 holds 'a', which is not a number" in out[out.index("d2lab: failed: ") :]


@pytest.mark.slow
def test_too_few_rows_for_the_closed_form_still_trains_and_records(tmp_path):
    result = run_cli("-m", "d2lab.train", "data=airfoil", "data.num_examples=5", "trainer.max_epochs=2",
                     f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in out, out[-3000:]
    assert "closed form  skipped: 5 training rows do not determine 5 weights and a bias uniquely" in out
    metrics = read_metrics(tmp_path / "run")
    assert metrics["status"] == "ok" and "closed_form" not in metrics and metrics["epochs"] == 2
    assert metrics["closed_form_skipped"].startswith("5 training rows")


@pytest.mark.slow
def test_a_flag_lightning_refuses_once_it_sees_the_data_is_one_paragraph(tmp_path):
    # the synthetic data validates on 200 rows: one batch, of which half is no batch at all
    result = run_cli("-m", "d2lab.train", "+trainer.limit_val_batches=0.5", f"hydra.run.dir={tmp_path}/run",
                     cwd=tmp_path)  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in out and "├──" not in out, out[-3000:]
    paragraph = out[out.index("d2lab: failed: ") :].strip()
    assert paragraph.startswith("d2lab: failed: trainer.limit_val_batches=0.5 is invalid: You requested to check")
    assert "Try at least `limit_val_batches=1.0`" in paragraph and len(paragraph.splitlines()) == 1
