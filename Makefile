# lcx — live code execution backend.
#   make run    install missing packages, build, start the whole stack in the foreground
#   make test   install missing packages, build, run every test
#   make all | deps | dev-deps | unit | clean | format | lint

CC       ?= cc
BUILD    := build
BIN      := $(BUILD)/bin
PKGS     := libzmq libczmq libmicrohttpd sqlite3 msgpack jansson libseccomp libsodium
CPPFLAGS += -Iproto -Iservices/common -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

# Debian packages: the libraries we link and the toolchains the languages need.
DEB_PKGS := pkg-config gcc g++ make bash python3 nodejs default-jdk-headless \
            libzmq3-dev libczmq-dev libmicrohttpd-dev libsqlite3-dev libmsgpack-dev \
            libjansson-dev libcmocka-dev libseccomp-dev libsodium-dev iproute2 curl procps wrk
# The tools of `make lint` and `make format` only (neither run nor test needs them).
DEV_PKGS := cppcheck pyflakes3 clang-format
# Those of a list that dpkg does not know as installed.
missing   = $(shell for p in $(1); do \
              dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done)
# Installs those of a list that are missing (a fresh machine needs the update first).
define install
	@missing="$(call missing,$(1))"; if [ -n "$$missing" ]; then \
	  echo "$@: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

COMMON_SRC := $(wildcard proto/*.c services/common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
SERVICES   := gateway session dispatcher runner keygen
BINARIES   := $(SERVICES:%=$(BIN)/lcx-%) $(BIN)/lcx-keeper
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_INC   := -Iservices/gateway -Iservices/session -Iservices/dispatcher -Iservices/runner
# Test tools the integration tests run (not installed): lcx-forge speaks the protocol as told.
TOOLS      := $(BUILD)/tools/lcx-forge
ETC        := $(BUILD)/etc/languages.conf \
              $(patsubst web/%,$(BUILD)/etc/%,$(wildcard web/openapi.json web/docs.html))

.PHONY: all deps dev-deps run test unit integration bench keygen clean format lint
all: $(BINARIES) $(ETC) $(TOOLS)

deps:
	$(call install,$(DEB_PKGS))

dev-deps:
	$(call install,$(DEV_PKGS))

$(BUILD)/liblcx.a: $(COMMON_OBJ)
	@echo "  AR    $@"
	@ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# Each service: every .c in its directory except main.c forms a module set; main.c wires it.
define service_rules
$(1)_SRC := $$(wildcard services/$(1)/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/obj/%.o)
$(BIN)/lcx-$(1): $$($(1)_OBJ) $(BUILD)/liblcx.a
	@mkdir -p $(BIN)
	@echo "  LD    $$@"
	@$(CC) $(CFLAGS) -o $$@ $$^ $(LDLIBS) $(2)
endef
$(eval $(call service_rules,gateway,))
$(eval $(call service_rules,session,))
$(eval $(call service_rules,dispatcher,))
$(eval $(call service_rules,runner,))
$(eval $(call service_rules,keygen,))

# The runner's sandbox keeper in an image of its own (services/runner/keeper.h): the modules
# that run in the keeper and its inits, linked against libc, libseccomp and jansson (logging) only.
# Bound at load (-z now): every init is a fresh clone of the keeper, and would otherwise look up
# each library function it calls that the keeper itself never called, once per run.
KEEPER_OBJ := $(patsubst %,$(BUILD)/obj/services/runner/%.o,keeper/main keeper jail child rootfs \
                nsfd privs rlimits seccomp_policy cgroup)
$(BUILD)/obj/services/runner/keeper/main.o: CPPFLAGS += -Iservices/runner
$(BIN)/lcx-keeper: $(KEEPER_OBJ) $(BUILD)/liblcx.a
	@mkdir -p $(BIN)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -Wl,-z,now -o $@ $^ $(shell pkg-config --libs libseccomp jansson 2>/dev/null)

$(BUILD)/tools/lcx-forge: tests/tools/lcx_forge.c $(BUILD)/liblcx.a
	@mkdir -p $(dir $@)
	@echo "  LD    $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/liblcx.a $(LDLIBS)

$(BUILD)/etc/languages.conf: services/common/languages.conf
	@mkdir -p $(dir $@)
	@cp $< $@

$(BUILD)/etc/%: web/%
	@mkdir -p $(dir $@)
	@cp $< $@

# Unit tests link the module under test (service modules without main.c) and cmocka.
UNIT_MODULES := $(filter-out %/main.o,$(gateway_OBJ) $(session_OBJ) $(dispatcher_OBJ) $(runner_OBJ))

# CURVE keys for the services (see README "Security", "Between hosts"): make keygen KEYS=dir
KEYS ?= keys
keygen: all
	@$(BIN)/lcx-keygen $(KEYS)
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_MODULES) $(BUILD)/liblcx.a
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CPPFLAGS) $(UNIT_INC) $(CFLAGS) -o $@ $< $(UNIT_MODULES) $(BUILD)/liblcx.a $(LDLIBS) \
	  -lcmocka

# The unit tests once more under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer (tests/run-all runs both builds): a memory error, undefined behaviour or a leak
# fails the test binary.
ASAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_OBJ      := $(patsubst $(BUILD)/obj/%,$(BUILD)/asan/obj/%,$(COMMON_OBJ) $(UNIT_MODULES))
UNIT_ASAN_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)
.SECONDARY: $(ASAN_OBJ)
$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (sanitizers)"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/tests/%: tests/unit/%.c $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CPPFLAGS) $(UNIT_INC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(ASAN_OBJ) $(LDLIBS) -lcmocka

# The services under the same sanitizers, for the integration tests' second pass (tests/run-all):
# a memory error or undefined behaviour stops the service, a leak shows at its exit. The keeper
# stays the plain build: its inits and programs are raw clones and vfork children that make
# system calls only, where the sanitizers' runtime has no place (its modules are in the unit
# tests' sanitizer build).
ASAN_BIN     := $(BUILD)/asan/bin
ASAN_SERVICE := $(SERVICES:%=$(ASAN_BIN)/lcx-%) $(ASAN_BIN)/lcx-keeper \
                $(ETC:$(BUILD)/etc/%=$(BUILD)/asan/etc/%)
define asan_service_rules
$(ASAN_BIN)/lcx-$(1): $$(patsubst $(BUILD)/obj/%,$(BUILD)/asan/obj/%,$$($(1)_OBJ) $(COMMON_OBJ))
	@mkdir -p $(ASAN_BIN)
	@echo "  LD    $$@ (sanitizers)"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $$@ $$^ $(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call asan_service_rules,$(s))))
$(ASAN_BIN)/lcx-keeper: $(BIN)/lcx-keeper
	@mkdir -p $(dir $@)
	@cp $< $@
$(BUILD)/asan/etc/%: $(BUILD)/etc/%
	@mkdir -p $(dir $@)
	@cp $< $@

run: deps
	@$(MAKE) --no-print-directory all
	./services/lcx-stack

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(UNIT_ASAN_BIN) $(ASAN_SERVICE)
	@./tests/run-all

unit: all $(UNIT_BIN) $(UNIT_ASAN_BIN)
	@./tests/run-all --unit-only

bench: deps
	@$(MAKE) --no-print-directory all
	@./bench/run

clean:
	rm -rf $(BUILD)

format: dev-deps
	clang-format -i $$(git ls-files '*.c' '*.h')

lint: dev-deps
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB $(CPPFLAGS) proto services
	pyflakes3 tests bench

-include $(shell find $(BUILD)/obj $(BUILD)/asan/obj -name '*.d' 2>/dev/null)
