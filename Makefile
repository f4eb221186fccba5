# finetune: build, test and demo. Each target installs the Debian packages it needs when missing.
SWIFT ?= swift
CONFIG ?= release
# Tests run in release (numeric code is 10-100x slower in debug) with @testable imports allowed.
SWIFT_FLAGS = -c $(CONFIG) -Xswiftc -enable-testing
PACKAGES = pkg-config libopenblas-dev libjpeg-dev libturbojpeg0-dev libpng-dev
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test demo clean

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

demo: build
	./scripts/demo.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"

clean:
	rm -rf .build
