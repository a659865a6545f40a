# Tessera — common tasks. `make demo` and `make test` are the README's two commands.
SWIFT ?= swift

.PHONY: setup build release demo test bench-decode fixtures clean

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

bench-decode: release
	bash Scripts/bench-decode.sh

fixtures:
	bash Tests/Reference/make_fixtures.sh

clean:
	rm -rf .build out
