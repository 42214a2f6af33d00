"""Auterity Streams: the Faust app, pipelines, settings and the `auterity` CLI."""

import os

# litellm reads this at import: its bundled cost map, never a download (whichever module imports it first).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
