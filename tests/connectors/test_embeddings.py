"""The MiniLM embedder: unit vectors that put similar dealership requests close together, whatever the batching."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from connectors import embeddings
from connectors.embeddings import MiniLmEmbedder


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedder(model_cache: Path) -> MiniLmEmbedder:
    return MiniLmEmbedder(cache_dir=model_cache, batch_size=4)


def test_rows_are_384_float32_unit_vectors(embedder: MiniLmEmbedder) -> None:
    vectors = embedder.embed(["book an oil change", "Necesito cambiar los frenos", ""])

    assert vectors.shape == (3, 384) == (3, embedder.dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.model_name == "all-MiniLM-L6-v2"


def test_no_texts_give_an_empty_matrix(embedder: MiniLmEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.count_tokens([]) == []


def test_batching_and_padding_do_not_change_embeddings(embedder: MiniLmEmbedder) -> None:
    # Lengths differ a lot and batch_size=4 splits them, so every text is padded differently than alone.
    texts = [
        "hi",
        "Can I get a quote on four new all-season tires for a 2021 Honda CR-V, installed this Saturday?",
        "",
        "oil change",
        "The customer says the check engine light came on after the last service visit and the car idles rough.",
        "trade-in value?",
    ]
    batched = embedder.embed(texts)
    one_by_one = np.stack([embedder.embed([text])[0] for text in texts])

    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_each_request_is_nearest_to_its_own_department(embedder: MiniLmEmbedder) -> None:
    # MiniLM puts "book an oil change" slightly nearer "apply for car financing" (0.062) than "schedule a service
    # appointment" (0.048), as sentence-transformers does too, so the service side is phrased as a maintenance visit.
    departments = embedder.embed(
        [
            "book a maintenance visit at the service department",
            "what is the interest rate on a car loan",
            "order replacement wiper blades from the parts counter",
        ]
    )
    requests = embedder.embed(["book an oil change", "apply for car financing", "I need new windshield wipers"])

    similarity = requests @ departments.T

    assert similarity.argmax(axis=1).tolist() == [0, 1, 2]
    assert (similarity.diagonal() - np.sort(similarity, axis=1)[:, -2]).min() > 0.05  # not a coin toss


def test_a_100_kb_text_is_truncated_to_max_tokens(embedder: MiniLmEmbedder) -> None:
    huge = "The customer reports a squeal from the front brakes when stopping. " * 1500
    assert len(huge) > 100_000

    (vector,) = embedder.embed([huge])

    assert np.isfinite(vector).all()
    assert embedder.count_tokens([huge, "oil change", ""]) == [256, 4, 2]  # [CLS] ... [SEP] included


def test_the_built_graph_is_cached_and_reused(
    embedder: MiniLmEmbedder, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cached,) = model_cache.glob("*")  # built once by the module's embedder, no temporary file left behind
    assert f"-b{embeddings.BUILD_VERSION}.onnx" in cached.name
    built_at = cached.stat().st_mtime_ns

    def no_rebuild(model_dir: Path) -> None:
        raise AssertionError("the cached graph should have been reused")

    monkeypatch.setattr(embeddings, "build_onnx_model", no_rebuild)
    again = MiniLmEmbedder(cache_dir=model_cache)

    assert again.onnx_path == cached
    assert cached.stat().st_mtime_ns == built_at
    assert again.embed(["oil change"]).shape == (1, 384)


def test_threads_share_one_embedder(embedder: MiniLmEmbedder) -> None:
    texts = [f"request {number}: " + "please rotate the tires " * (number % 7) for number in range(40)]
    expected = embedder.embed(texts)

    with ThreadPoolExecutor(max_workers=4) as pool:
        parts = list(pool.map(lambda offset: embedder.embed(texts[offset::4]), range(4)))

    for offset, part in enumerate(parts):
        np.testing.assert_allclose(part, expected[offset::4], atol=1e-5)


def test_one_string_instead_of_a_list_is_refused(embedder: MiniLmEmbedder) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        embedder.embed("book an oil change")


def test_int8_weights_stay_close_to_fp32_and_keep_the_ranking(embedder: MiniLmEmbedder, model_cache: Path) -> None:
    quantised = MiniLmEmbedder(cache_dir=model_cache, precision="int8")
    assert quantised.onnx_path != embedder.onnx_path and quantised.onnx_path.name.endswith("-int8.onnx")
    texts = ["Text customers a reminder 3 days before their oil change", "Apply for car financing online",
             "Order brake pads for the parts counter", "Why did the review emails bounce yesterday?"]
    exact, approx = embedder.embed(texts), quantised.embed(texts)
    assert np.allclose(np.linalg.norm(approx, axis=1), 1.0, atol=1e-5)
    assert float((exact * approx).sum(axis=1).min()) > 0.97
    assert ((approx @ approx.T).argsort(axis=1) == (exact @ exact.T).argsort(axis=1))[:, -2:].all()
