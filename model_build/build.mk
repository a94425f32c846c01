# model_build: data, training and export. Included by the top Makefile.
# TensorFlow lives only in .venv-train (about 1.6 GB); the runtime layers and .venv never see it.

TRAIN_VENV := .venv-train
TRAIN_PY := $(TRAIN_VENV)/bin/python
# What training needs beyond the project itself: TF, the silhouettes, a progress bar, pytest for its smoke test.
TRAIN_REQS := 'tensorflow-cpu==2.21.*' 'animal-shape-mnist==0.39' 'tqdm>=4.66' 'pytest>=8'

# make train knobs (all optional): DATASET=dir trains on a dataset folder instead of synthetic data.
TRAIN_ARGS ?=
DATASET ?=
MODEL_DIR ?= layers/model/model
# make etl knobs
EXPORT ?=
IMAGES ?=
OUT ?= data/labelbox
PROJECT_ID ?=
LABEL_MAP ?=
# make synthetic / contact-sheet knobs
N ?= 200
SEED ?= 0
SYNTH_OUT ?= data/synthetic
DIFFICULTY ?= 0:0.6
SHEET ?= artifacts/contact-sheet.png

.PHONY: train-venv synthetic contact-sheet etl train export test-training

$(TRAIN_VENV)/.installed: pyproject.toml model_build/build.mk | check-python
	@test -x $(TRAIN_PY) || "$(PYTHON312)" -m venv $(TRAIN_VENV)
	@echo "==> installing TensorFlow and modelobs into $(TRAIN_VENV) (first time: about a minute)"
	@$(TRAIN_PY) -m pip install $(PIP_FLAGS) --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(TRAIN_PY) -m pip install $(PIP_FLAGS) $(TRAIN_REQS) -e '.[runtime]' 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

train-venv: $(TRAIN_VENV)/.installed ## create .venv-train (TensorFlow, for training only)

synthetic: venv ## write a synthetic dataset: make synthetic SYNTH_OUT=data/synthetic N=200 SEED=0 DIFFICULTY=0:0.6
	$(PY) -m model_build.synthetic --out $(SYNTH_OUT) -n $(N) --seed $(SEED) --difficulty $(DIFFICULTY)

contact-sheet: venv ## PNG grid of samples with boxes (synthetic at difficulty 0 and 1, or DATASET=dir)
	$(PY) -m model_build.contact_sheet --out $(SHEET) $(if $(DATASET),--dataset $(DATASET))

etl: venv ## Labelbox export -> dataset: make etl EXPORT=export.ndjson IMAGES=dir OUT=data/labelbox [PROJECT_ID=..]
	@test -n "$(EXPORT)" || { echo "usage: make etl EXPORT=export.ndjson [IMAGES=dir] [OUT=data/labelbox] [PROJECT_ID=id] [LABEL_MAP='cat=animal dog=animal']"; exit 2; }
	$(PY) -m model_build.labelbox_export --export $(EXPORT) --out $(OUT) $(if $(IMAGES),--images $(IMAGES)) \
		$(if $(PROJECT_ID),--project-id $(PROJECT_ID)) $(if $(LABEL_MAP),--label-map $(LABEL_MAP))

train: train-venv ## train (4 min budget: AP50 ~0.7; the committed model had 28 min, TRAIN_ARGS="--time-budget 1700") and export TFLite + card
	$(TRAIN_PY) -m model_build.train --out $(MODEL_DIR) $(if $(DATASET),--dataset $(DATASET)) $(TRAIN_ARGS)

export: train-venv ## re-export the last trained Keras model (artifacts/train) to TFLite + model card
	$(TRAIN_PY) -m model_build.export --out $(MODEL_DIR)

test-training: train-venv ## TensorFlow tests: a tiny end-to-end training run that exports a loadable model
	$(TRAIN_PY) -m pytest tests/training -p no:cacheprovider
