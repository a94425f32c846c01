"""Trim the model layer to what inference loads, then prove it still works.

Lambda layers count against a 250 MB unzipped limit and every megabyte is
cold-start I/O. ``ai-edge-litert`` ships compilers, vendor plugins and a
WebGPU accelerator the ``Interpreter`` never loads; numpy and Pillow ship
tests, f2py, fonts and codecs the detector never touches. After deleting,
a Python started with nothing but the layer on its path decodes every
supported image format and runs the model, or the build fails.

    python3.12 trim.py ARTIFACTS_DIR --model-dir model
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

#: Paths under python/ that inference never loads (globs).
REMOVE = [
    "ai_edge_litert/vendors",
    "ai_edge_litert/tools",
    "ai_edge_litert/aot",
    "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
    "ai_edge_litert/libLiteRt.so",
    "ai_edge_litert/_pywrap_litert_converter.so",
    "ai_edge_litert/_pywrap_litert_compiled_model_wrapper.so",
    "ai_edge_litert/_pywrap_litert_environment_wrapper.so",
    "ai_edge_litert/_pywrap_litert_tensor_buffer_wrapper.so",
    "ai_edge_litert/pywrap_genai_ops.so",
    "ai_edge_litert/_pywrap_tfl_calibration.so",
    "ai_edge_litert/_pywrap_tensorflow_lite_calibration_wrapper.so",
    "ai_edge_litert/_pywrap_tensorflow_lite_metrics_wrapper.so",
    "ai_edge_litert/_pywrap_analyzer_wrapper.so",
    "ai_edge_litert/_pywrap_modify_model_interface.so",
    "ai_edge_litert/format_converter_wrapper_pybind11.so",
    "google",  # protobuf: only the converter and profiling protos use it
    "protobuf*.dist-info",
    "tqdm", "tqdm*.dist-info",
    # ai-edge-litert's schema and tensor-buffer modules use these; the Interpreter does not.
    "ml_dtypes", "ml_dtypes*.dist-info", "flatbuffers", "flatbuffers*.dist-info",
    "typing_extensions.py", "typing_extensions*.dist-info",
    "bin",
    "numpy/tests", "numpy/*/tests", "numpy/f2py", "numpy/_pyinstaller", "numpy/doc",  # numpy.typing stays: modelobs annotates with it
    "PIL/_imagingft*.so", "PIL/_avif*.so", "PIL/_imagingtk*.so",
    "pillow.libs/libfreetype*", "pillow.libs/libharfbuzz*", "pillow.libs/libbrotli*", "pillow.libs/libavif*",
    "**/__pycache__", "**/*.pyi", "*.dist-info/RECORD",
]

SMOKE = r"""
import io, sys
sys.path[:0] = [sys.argv[1]]
import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter
assert np.__file__.startswith(sys.argv[1]), np.__file__
rgb = Image.fromarray((np.arange(64 * 48 * 3) % 251).astype(np.uint8).reshape(48, 64, 3))
for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"):
    buf = io.BytesIO(); rgb.save(buf, format=fmt)
    img = Image.open(io.BytesIO(buf.getvalue())); img.draft("RGB", (32, 32)); img.load()
    img.convert("RGB").resize((320, 320), Image.Resampling.BILINEAR)
it = Interpreter(model_path=sys.argv[2], num_threads=1)
it.allocate_tensors()
inp, = it.get_input_details(); out, = it.get_output_details()
it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"])); it.invoke()
print("ok", it.get_tensor(out["index"]).shape)
"""


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def compile_bytecode(python_dir: Path) -> None:
    """Ship .pyc files: /opt is read-only in Lambda, so without them every cold start compiles.

    ``unchecked-hash`` pycs stay valid whatever mtimes the zip gives the sources.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", str(python_dir)],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifacts", type=Path, help="the layer root being built (SAM's ARTIFACTS_DIR)")
    parser.add_argument("--model-dir", type=Path, required=True, help="folder with detector.json and the model files")
    args = parser.parse_args()

    python_dir = args.artifacts / "python"
    before = du(python_dir)
    for pattern in REMOVE:
        for path in sorted(python_dir.glob(pattern), reverse=True):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)

    card = json.loads((args.model_dir / "detector.json").read_text())
    model_out = args.artifacts / "model"
    model_out.mkdir(parents=True, exist_ok=True)
    for name in ("detector.json", card["file"]):  # only the default variant ships
        shutil.copy2(args.model_dir / name, model_out / name)

    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", SMOKE, str(python_dir), str(model_out / card["file"])],
        capture_output=True, text=True,
    )
    if result.returncode != 0 or not result.stdout.startswith("ok"):
        print(f"trimmed layer failed its smoke test:\n{result.stdout}{result.stderr}", file=sys.stderr)
        return 1
    compile_bytecode(python_dir)
    print(f"model layer: runtime {before / 1e6:.1f} MB -> {du(python_dir) / 1e6:.1f} MB after trimming; "
          f"total {du(args.artifacts) / 1e6:.1f} MB unzipped; smoke test {result.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
