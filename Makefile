# Front door: one target per habit. CMake does the building underneath.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=
LEXICON_CACHE ?= $(CURDIR)/.cache/lexicons
# make train: labeled JSON Lines in, detector weights out (see tools/train.c
# and data/README.md). Everything it reads is in the repository: GoEmotions,
# the English support messages and every language's (support_<code>.jsonl).
TRAIN_DATA  ?= data/goemotions/goemotions_dev.jsonl \
  $(sort $(wildcard data/train/support_*.jsonl))
MODEL_OUT   ?= data/model/frustration-model.bin
# make train FROM_STORE=sqlite:PATH (or postgres://...): the same data plus
# the labels agents gave through POST /api/feedback (frustration-alert
# train --from-store). The model goes to STORE_MODEL_OUT unless MODEL_OUT
# is given, is compared with the current one on the held-out labels
# (eval --from-store), and is switched on with FRUSTRATION_MODEL=FILE: the
# shipped weights are left alone.
STORE_MODEL_OUT ?= $(BUILD)/team-model.bin
# make eval: the repository's labeled sets (GoEmotions and, when present,
# each language's support messages in data/eval/), plus the optional ones
# (airline tweets, GermEval; non-commercial, never committed) when
# SHARED_DATA names the folder that holds them.
EVAL_DATA   ?= data/goemotions/goemotions_dev.jsonl \
  $(sort $(wildcard data/eval/support_*.jsonl)) \
  $(if $(SHARED_DATA),$(wildcard $(SHARED_DATA)/airline_dev.jsonl $(SHARED_DATA)/germeval2017_de_dev.jsonl))

.PHONY: all build deps test-deps asan tsan test run bench fuzz format clean train eval

all: build

deps:
	@bash scripts/install-deps.sh build

test-deps:
	@bash scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DLEXICON_CACHE=$(LEXICON_CACHE) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DLEXICON_CACHE=$(LEXICON_CACHE) \
	  -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

tsan: test-deps
	cmake -S . -B $(TSAN_BUILD) -DLEXICON_CACHE=$(LEXICON_CACHE) \
	  -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	# The full retraining (make train's byte-for-byte check) has no threads
	# and takes minutes under TSan: make test and make asan run it.
	cd $(TSAN_BUILD) && SKIP_TRAIN_REPRO=1 ctest --output-on-failure -j $(JOBS)

# Retrains the detector (deterministic: the committed model comes out byte
# for byte), then rebuilds so that the binary carries the new weights.
ifdef FROM_STORE
train: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target frustration-alert
	./$(BUILD)/frustration-alert train --from-store --store '$(FROM_STORE)' \
	  --out $(if $(filter file,$(origin MODEL_OUT)),$(STORE_MODEL_OUT),$(MODEL_OUT)) \
	  $(TRAIN_DATA)
	-./$(BUILD)/frustration-alert eval --from-store --store '$(FROM_STORE)' \
	  --model $(if $(filter file,$(origin MODEL_OUT)),$(STORE_MODEL_OUT),$(MODEL_OUT))
else
train: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target fa-train
	./$(BUILD)/fa-train --out $(MODEL_OUT) $(TRAIN_DATA)
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
endif

# Precision, recall and F1 of the original rule, VADER and the model.
eval: build
	@$(if $(SHARED_DATA),,echo "eval: SHARED_DATA unset: the airline and GermEval sets are left out")
	./$(BUILD)/frustration-alert eval $(EVAL_DATA)

run: build
	./$(BUILD)/frustration-alert serve

bench: build
	@bash scripts/install-deps.sh bench
	bash bench/run.sh

fuzz: test-deps build
	bash fuzz/build.sh

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'fuzz/*.c' 'bench/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
