# finetune: build, test and demo. Each target installs the Debian packages it needs when missing.
SWIFT ?= swift
CONFIG ?= release
# The kernels' own loops (depthwise convolution, normalisation, Winograd transforms) use AVX2 and
# FMA when the CPU has them (the Haswell instruction set: Intel since 2013, AMD since 2015);
# OpenBLAS picks its own kernels at run time. Kept out of Package.swift: an app that depends on
# FineTuneCore cannot take a product built with unsafe flags.
CPU_FLAGS = $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell")
# Tests run in release (numeric code is 10-100x slower in debug) with @testable imports allowed.
SWIFT_FLAGS = -c $(CONFIG) -Xswiftc -enable-testing $(CPU_FLAGS)
# libcurl4: FoundationNetworking (URLSession on Linux, which downloads weight sets) loads it at run time.
PACKAGES = pkg-config libopenblas-dev libjpeg-dev libturbojpeg0-dev libpng-dev libcurl4
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# libFuzzer targets with AddressSanitizer (Fuzz/, a package of its own): each runs FUZZ_SECONDS.
# swiftc keeps only the last of several -sanitize= flags, so SwiftPM's two would leave the
# Swift code without coverage counters: the combined flag comes last.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -c release --package-path Fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
	-Xswiftc -enable-testing --disable-dead-strip

.PHONY: deps build test example check-export fuzz demo clean

deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: build
	$(SWIFT) test $(SWIFT_FLAGS)

# Every installed backbone's ONNX export run in onnxruntime against `finetune predict`
# (tools/check_onnx_export.py), in a virtual environment of its own.
EXPORT_VENV = .build/venv-export
check-export: build
	@[ -x $(EXPORT_VENV)/bin/python ] || python3 -m venv $(EXPORT_VENV) 2>/dev/null || { \
	  $(SUDO) apt-get install -y -qq python3-venv && python3 -m venv $(EXPORT_VENV); }
	$(EXPORT_VENV)/bin/pip install -q onnx onnxruntime numpy pillow
	$(EXPORT_VENV)/bin/python tools/check_onnx_export.py --finetune "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/finetune"

# Examples/ClassifyImages built against a tagged clone of this checkout by version, as an app
# depends on a release, then run on a small trained model (scripts/example.sh).
example: build
	./scripts/example.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"

fuzz: deps
	$(SWIFT) build $(FUZZ_FLAGS)
	./scripts/fuzz.sh "$$($(SWIFT) build $(FUZZ_FLAGS) --show-bin-path)" $(FUZZ_SECONDS)

demo: build
	./scripts/demo.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"

clean:
	rm -rf .build Fuzz/.build
