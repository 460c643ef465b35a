# Thin wrapper over CMake for the README's two commands.
#   make demo   install missing packages (as root), build, run the demo cluster
#   make check  install missing packages, build, run every test with ctest,
#               then the unit and integration tests again under ASan+UBSan
#   make bench  build and run the benchmarks (bench/)
#   make evaluate  build, run the scenario matrix (scenarios/), write
#               docs/evaluation.md and docs/eval/*.png (scripts/evaluate.sh)
#   make install   build, then cmake --install into $(DESTDIR)$(PREFIX)
#               (default /usr/local): programs, man pages, systemd units,
#               example configurations (docs/install.md); starts nothing
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build build-asan demo check check-asan bench evaluate install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

check: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(BUILD_ASAN) && ctest --output-on-failure -j 2 -L 'unit|integration'


check-asan: build-asan
	cd $(BUILD_ASAN) && ctest --output-on-failure -j 2 -L unit

# Benchmarks print their figures beside a baseline measured in the same run.
bench: build
	scripts/bench.sh $(BUILD)

# The evaluation: scenario x policy x seed, aggregated into docs/evaluation.md.
evaluate: build
	scripts/evaluate.sh $(BUILD)

# The prefix is given at install time (the units are written then), so a
# build made once installs anywhere.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
