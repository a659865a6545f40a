# Tessera — common tasks. `make demo` and `make test` are the README's two commands.
SWIFT ?= swift

.PHONY: setup build release demo test test-swift test-python python-library wheel test-sanitize lint format \
	bench-decode bench-python fixtures clean

setup:
	@bash Scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: release
	.build/release/tessera demo

# The Swift suite, then the Python package's (which builds libTesseraC and a `tessera` linked the same
# way, and a virtualenv outside the repository: Scripts/setup-python.sh).
test: test-swift test-python

test-swift: setup
	$(SWIFT) test

PYTHON_VENV ?= $(HOME)/.cache/tessera/venv
PYTHON = $(PYTHON_VENV)/bin/python
PYTHON_READY = $(PYTHON_VENV)/.tessera-requirements

python-library: setup
	bash Scripts/build-library.sh

$(PYTHON_READY): python/requirements-dev.txt
	bash Scripts/setup-python.sh "$(PYTHON_VENV)"
	cp python/requirements-dev.txt $@

test-python: wheel
	cd python && $(PYTHON) -m pytest -q -W ignore::DeprecationWarning

# dist/tessera-<version>-py3-none-manylinux_*.whl: the library with its Swift runtime inside.
wheel: python-library $(PYTHON_READY)
	bash Scripts/build-wheel.sh "$(PYTHON)"

# The test suite under AddressSanitizer, then ThreadSanitizer, each in its own build folder (slow:
# FILTER=… narrows it, e.g. FILTER='TesseraPipelinesTests|TesseraCoreTests'). Leak reports are off:
# the only leaks are swift-foundation's `String(contentsOf:)` buffers and XCTest's own objects.
test-sanitize: setup
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --sanitize=address --scratch-path .build/asan \
		$(if $(FILTER),--filter '$(FILTER)')
	$(SWIFT) test --sanitize=thread --scratch-path .build/tsan $(if $(FILTER),--filter '$(FILTER)')

# Style: .swift-format (4 spaces, lines ≤ 120). CI runs `make lint`; `make format` fixes what it can.
lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Examples Tests Fuzz

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Examples Tests Fuzz

bench-decode: release
	bash Scripts/bench-decode.sh

fixtures:
	bash Tests/Reference/make_fixtures.sh

bench-python: python-library $(PYTHON_READY)
	$(PYTHON) Scripts/bench-python.py

clean:
	rm -rf .build out dist python/tessera/libTesseraC.*
