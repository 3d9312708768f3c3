# Two set-up commands, both safe to run again:
#   make demo   create .venv, install, run the demo on the built-in synthetic dataset
#   make test   create .venv, install, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Optional second venv with tflite-runtime 2.14 (needs numpy<2, cp311 wheels only), so
# bundles record whether they load there. Best effort: skipped where no wheel exists.
TFLRT := .venv-tflrt
TFLRT_STAMP := $(TFLRT)/.installed

# The Raspberry Pi AI Camera (IMX500) converter: its own venv (TF 2.15, MCT, Sony's imx500-converter,
# Java 17), every package pinned in flower_edge/imx500/requirements.txt; built in ~/.cache/flower-edge
# (or $$FLOWER_EDGE_IMX500_VENV), kept between runs, rebuilt when the pins change.
.PHONY: demo test lint clean imx500

imx500: $(STAMP)
	$(PY) -m flower_edge.imx500.env

$(TFLRT_STAMP):
	-$(PYTHON) -m venv $(TFLRT) && $(TFLRT)/bin/python -m pip install --quiet "tflite-runtime==2.14.0" "numpy<2" && touch $(TFLRT_STAMP)

# MediaPipe, best effort like tflite-runtime, in two venvs of its own: the latest release runs
# bundles as an app would (tests/test_mediapipe.py); 0.10.21 has the last metadata writer and
# displayer that import (1.x's need a missing mediapipe.tasks.cc). The writer venv skips the
# jax/audio/tokenizer deps the metadata code never imports.
MP := .venv-mediapipe
MP_STAMP := $(MP)/.installed
MPW := .venv-mediapipe-writer
MPW_STAMP := $(MPW)/.installed

$(MP_STAMP):
	-$(PYTHON) -m venv $(MP) && $(MP)/bin/python -m pip install --quiet "mediapipe==1.2.3" && touch $(MP_STAMP)

$(MPW_STAMP):
	-$(PYTHON) -m venv $(MPW) && $(MPW)/bin/python -m pip install --quiet --no-deps "mediapipe==0.10.21" \
		&& $(MPW)/bin/python -m pip install --quiet "numpy==1.26.4" "flatbuffers==25.*" "absl-py==2.*" \
		"protobuf==4.25.*" "attrs" "opencv-python-headless==4.11.0.86" "matplotlib==3.10.*" && touch $(MPW_STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[train,dev,explain,serve,camera,review]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flower-edge demo --out artifacts/demo

test: $(STAMP) $(TFLRT_STAMP) $(MP_STAMP) $(MPW_STAMP)
	if [ -f $(TFLRT_STAMP) ]; then export FLOWER_EDGE_TFLITE_RUNTIME_PYTHON=$(CURDIR)/$(TFLRT)/bin/python; fi; \
	if [ -f $(MP_STAMP) ]; then export FLOWER_EDGE_MEDIAPIPE_PYTHON=$(CURDIR)/$(MP)/bin/python; fi; \
	if [ -f $(MPW_STAMP) ]; then export FLOWER_EDGE_MEDIAPIPE_WRITER_PYTHON=$(CURDIR)/$(MPW)/bin/python; fi; \
	$(PY) -m pytest -q --durations=20

lint: $(STAMP)
	$(VENV)/bin/ruff check flower_edge tests benchmarks

clean:
	rm -rf $(VENV) $(TFLRT) $(MP) $(MPW) build *.egg-info
