# Tessera — common tasks. `make demo` and `make test` are the README's two commands.
SWIFT ?= swift

.PHONY: setup build release demo test test-sanitize lint format bench-decode fixtures clean

setup:
	@bash Scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

demo: release
	.build/release/tessera demo

test: setup
	$(SWIFT) test

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

clean:
	rm -rf .build out
