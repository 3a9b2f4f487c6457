# Thin wrapper around CMake; a bare `cmake -S . -B build && cmake --build
# build` works without it.
BUILD    ?= build
ASAN     ?= build-asan
PREFIX   ?= /usr/local
DESTDIR  ?=
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
UNIT     ?= rmail
CMAKE    ?= cmake
CTEST    ?= ctest

.PHONY: all build test test-plain test-asan run install deps clean format-check \
	start stop restart status logs

all: build

build:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	$(CMAKE) --build $(BUILD) -j$(JOBS)

deps:
	scripts/deps.sh

# The committed .clang-format, as Debian 12's clang-format 14 applies it
# (another major formats differently).
format-check:
	git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror

# Formatting, the suite, then the same suite under ASan+UBSan (fuzz
# smoke runs once, in the plain build).
test: deps
	$(MAKE) format-check
	$(MAKE) build
	$(CTEST) --test-dir $(BUILD) --output-on-failure -j2
	$(CMAKE) -S . -B $(ASAN) -DRMAIL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	$(CMAKE) --build $(ASAN) -j$(JOBS)
	$(CTEST) --test-dir $(ASAN) --output-on-failure -j2 -LE fuzz-smoke

run:
	scripts/dev-run.sh

install: build
	DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN)

start stop restart status:
	systemctl $@ $(UNIT)

logs:
	journalctl -u $(UNIT) -e --no-pager -n 200
