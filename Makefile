# SPDX-License-Identifier: Apache-2.0
#
# Front door for people: `make run` installs, builds, migrates and serves;
# `make test` runs the whole suite.  CMake and CTest do the work.

BUILD ?= build
SANITIZE ?=
JOBS ?= $(shell nproc)
DATA_DIR ?= data

CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo
ifneq ($(SANITIZE),)
CMAKE_FLAGS += -DSANITIZE=$(SANITIZE)
endif

.PHONY: all deps build models run test clean

all: build

deps:
	./scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

models:
	./scripts/fetch-models.sh $(DATA_DIR)/models

run:
	./scripts/run.sh

test:
	./scripts/test.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
