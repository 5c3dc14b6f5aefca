"""docs/notebooks/quickstart.ipynb, executed top to bottom in a real Jupyter kernel (nbclient), as a reader runs it."""

import base64
import re

import nbclient
import nbformat
import pytest

from tests.conftest import REPO
from tests.fashion_idx import REAL_RAW, link_real_fashion_mnist

NOTEBOOK = REPO / "docs" / "notebooks" / "quickstart.ipynb"


def outputs(notebook: nbformat.NotebookNode, tag: str) -> tuple[str, list[bytes]]:
    """The text (stdout, and each result's text/plain) and the PNG images of the cell tagged `tag`."""
    (cell,) = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    text, images = [], []
    for out in cell.outputs:
        if out.output_type == "stream" and out.name == "stdout":
            text.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            if "image/png" in out.data:  # its text/plain is only the object's repr
                images.append(base64.b64decode(out.data["image/png"]))
            else:
                text.append(out.data.get("text/plain", ""))
    return "\n".join(text), images


@pytest.mark.slow
@pytest.mark.skipif(not REAL_RAW.is_dir(), reason=f"the real Fashion-MNIST files are not in {REAL_RAW}")
def test_the_quickstart_notebook_runs_in_a_real_kernel_with_its_outputs(tmp_path, monkeypatch):
    link_real_fashion_mnist(tmp_path / "data")
    monkeypatch.setenv("D2LAB_DATA_DIR", str(tmp_path / "data"))  # the kernel inherits it
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails

    text, images = outputs(notebook, "linear")
    assert re.search(r"^ok \| learned w", text, re.M) and "val/loss" in text
    assert len(images) == 1 and images[0][:8] == b"\x89PNG\r\n\x1a\n"  # the live plot, updated in place
    text, _ = outputs(notebook, "sweep")
    assert "jobs: 12 ok" in text and all(name in text for name in ("gd", "sgd", "batch_10", "batch_100"))
    _, images = outputs(notebook, "sweep_plot")
    assert len(images) == 1
    text, images = outputs(notebook, "lenet")
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", text).group(1))
    assert re.search(r"^ok \| test accuracy", text, re.M) and accuracy > 0.3 and len(images) == 1  # chance is 0.1
    text, images = outputs(notebook, "load")
    assert "status='ok'" in text and "best checkpoint: best.ckpt" in text and len(images) == 1
    runs = sorted(p.name for p in (tmp_path / "logs").glob("*/runs/*"))
    assert len(runs) == 2 and len(list((tmp_path / "logs").glob("*/multiruns/*/*/metrics.json"))) == 12
