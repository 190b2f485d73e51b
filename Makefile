# Two commands do everything (see README): `make demo` and `make test`.
# Both create .venv and install the pinned package on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Where the demo writes; delete it to start from scratch.
RUN    := runs/demo
DATA   := data
# Percent of documents held out for evaluation; the vocab is learned without them.
HELDOUT := 5
# The downstream task: movie-review sentences, positive or negative (pipelines/sentiment_task.py).
SENTIMENT := --train_file=$(DATA)/sentiment/train.tsv --eval_file=$(DATA)/sentiment/dev.tsv \
	--text_columns=sentence --label_column=label --override=task.max_seq_length=64

.PHONY: demo test test-all install clean

install: $(STAMP)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip check
	touch $@

# The main job, end to end on the embedded Wikipedia excerpt.
demo: $(STAMP)
	$(PY) -m pipelines.default_corpus --cache_dir=$(DATA)
	$(PY) -m pipelines.build_vocab --input='$(DATA)/enwiki-sample.xml.bz2' \
	    --output=$(RUN)/vocab.txt --vocab_size=8000 --heldout_percent=$(HELDOUT)
	$(PY) -m pipelines.build_pretraining_data --input='$(DATA)/enwiki-sample.xml.bz2' \
	    --output_dir=$(RUN)/tfrecords --vocab=$(RUN)/vocab.txt --max_seq_length=128 \
	    --heldout_percent=$(HELDOUT)
	$(PY) -m trainers.pretrain --config=tiny --data='$(RUN)/tfrecords/train-*' \
	    --eval_data='$(RUN)/tfrecords/heldout-*' --model_dir=$(RUN)/model
	test -d $(RUN)/saved_model/1 || $(PY) -m trainers.export --model_dir=$(RUN)/model --output=$(RUN)/saved_model
	$(PY) -m trainers.serving_check --saved_model=$(RUN)/saved_model \
	    --text="the city is the capital and largest city of the state" --swap=capital:banana
	$(PY) -m pipelines.sentiment_task --cache_dir=$(DATA) --output_dir=$(DATA)/sentiment
	$(PY) -m trainers.finetune --task=classification --init_checkpoint=$(RUN)/model \
	    --model_dir=$(RUN)/sentiment $(SENTIMENT)
	$(PY) -m trainers.finetune --task=classification --init_checkpoint=$(RUN)/model --random_init \
	    --model_dir=$(RUN)/sentiment_random_init $(SENTIMENT)
	$(PY) -m trainers.results_table $(RUN)/sentiment $(RUN)/sentiment_random_init
	test -d $(RUN)/sentiment_serving/1 || $(PY) -m trainers.export --model_dir=$(RUN)/sentiment \
	    --output=$(RUN)/sentiment_serving
	$(PY) -m trainers.serving_check --saved_model=$(RUN)/sentiment_serving \
	    --text="a gorgeous, witty and moving film" --text="a dull, tedious mess that goes nowhere" \
	    --text="the acting is fine but the plot makes no sense"

# The test suite (fast tests; `make test-all` adds the slow ones).
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow" tests

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

clean:
	rm -rf $(RUN) $(VENV)
