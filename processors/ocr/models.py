"""PaddleOCR model directories built once from the PP-OCRv6 small ONNX models shipped in the ``rapidocr`` wheel.

PaddleOCR loads a model from a directory holding ``inference.onnx`` and an ``inference.yml`` whose
``Global.model_name`` names the model and whose pre/post-processing matches it. The recognition model carries
its character dictionary in the ONNX metadata (``character``), which goes into the YAML's ``CTCLabelDecode``.
Nothing is downloaded: a missing wheel is an error that names it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DETECTION = "PP-OCRv6_small_det"
RECOGNITION = "PP-OCRv6_small_rec"
_SOURCES = {DETECTION: "PP-OCRv6_det_small.onnx", RECOGNITION: "PP-OCRv6_rec_small.onnx"}
_NORMALISE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "1./255.", "order": "hwc"}


@dataclass(frozen=True)
class PaddleModels:
    detection: Path
    recognition: Path


def packaged_model(name: str) -> Path:
    """The ONNX file of ``name`` inside the installed rapidocr wheel."""
    try:
        import rapidocr
    except ImportError as exc:
        raise FileNotFoundError("the rapidocr wheel (which ships the PP-OCRv6 ONNX models) is not installed: run "
                                "the README's set-up command (it installs rapidocr with --no-deps)") from exc
    path = Path(rapidocr.__file__).parent / "models" / _SOURCES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the rapidocr wheel; reinstall rapidocr")
    return path


def prepare_paddle_models(root: Path) -> PaddleModels:
    """The two model directories under ``root``, built on first use and rebuilt only when the wheel's file
    changes (the directory name carries a digest of its source, so an upgrade never reads stale files)."""
    return PaddleModels(*(_prepare(root, name) for name in (DETECTION, RECOGNITION)))


def _prepare(root: Path, name: str) -> Path:
    source = packaged_model(name)
    stat = source.stat()
    tag = hashlib.sha256(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = root / "paddleocr" / f"{name}-{tag}" / name
    if (target / "inference.yml").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        shutil.copyfile(source, staging / "inference.onnx")
        config = _detection_config() if name == DETECTION else _recognition_config(source)
        with (staging / "inference.yml").open("w", encoding="utf-8") as out:
            yaml.safe_dump({"Global": {"model_name": name}, **config}, out, allow_unicode=True, sort_keys=False)
        try:
            os.replace(staging, target)  # atomic: two workers preparing at once both end with whole files
        except OSError:
            if not (target / "inference.yml").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _detection_config() -> dict[str, Any]:
    return {
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetLabelEncode": None},
            {"DetResizeForTest": {"resize_long": 960}},
            {"NormalizeImage": _NORMALISE},
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
        ]},
        "PostProcess": {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6, "max_candidates": 1000,
                        "unclip_ratio": 1.5},
    }


def _recognition_config(onnx_file: Path) -> dict[str, Any]:
    import onnx

    model = onnx.load(str(onnx_file), load_external_data=False)
    meta = {prop.key: prop.value for prop in model.metadata_props}
    if "character" not in meta:
        raise ValueError(f"{onnx_file} carries no 'character' metadata: not a PP-OCR recognition model")
    return {
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
            {"RecResizeImg": {"image_shape": [3, 48, 320]}},
            {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}},
        ]},
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": meta["character"].splitlines()},
    }
