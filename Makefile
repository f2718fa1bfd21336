# gor - goroutines for C. The only build system.
#
#   make              build/libgor.a, build/libgor.so, build/gor.pc, tools, samples
#                     (tools: build/tools/gor-trace, which reads GOR_TRACE files)
#   make demo         build and run the first sample (fib on 8 goroutines, P=1 vs P=N)
#   make test         the Check suites
#   make check-valgrind check-asan check-tsan check-aarch64 check-ao
#   make check-kqueue the suites with the kqueue netpoller, over an emulation
#   make bench        gor beside Go (QUICK=1: each once, as a smoke test)
#   make install PREFIX=/usr/local
#
# Variables: CC (gcc or clang), B (build directory), ATOMICS=c11|ao,
# SAN=address|thread (sanitizer build), NETPOLL=kqueue (the kqueue backend
# on Linux, over tests/compat/kqueue_emu.c). Each variant builds into its
# own directory under build/, so they never mix objects.

VERSION := 0.1.0
CC      ?= cc
B       ?= build
ATOMICS ?= c11
SAN     ?=
NETPOLL ?=
PREFIX  ?= /usr/local

ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)
NATIVE  := $(shell uname -m)

CFLAGS_COMMON := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer \
                 -pthread -Iinclude
ifeq ($(ATOMICS),ao)
CFLAGS_COMMON += -DGOR_ATOMICS_AO
endif
ifneq ($(SAN),)
CFLAGS_COMMON += -fsanitize=$(SAN)
LDFLAGS_SAN   := -fsanitize=$(SAN)
endif
# Valgrind's client requests register goroutine stacks (a no-op natively).
ifeq ($(ARCH),$(NATIVE))
ifneq ($(wildcard /usr/include/valgrind/valgrind.h),)
CFLAGS_COMMON += -DGOR_VALGRIND
endif
endif

LIB_CFLAGS := $(CFLAGS_COMMON) -fPIC -fno-plt -fvisibility=hidden -Iruntime
LIBS       := -pthread -ldl

RT_SRC  := $(sort $(wildcard runtime/*.c))
RT_OBJ  := $(RT_SRC:%.c=$(B)/obj/%.o) $(B)/obj/asm/$(ARCH).o

ifeq ($(NETPOLL),kqueue)
LIB_CFLAGS += -DGOR_NETPOLL_KQUEUE -Itests/compat
RT_OBJ     += $(B)/obj/tests/compat/kqueue_emu.o
endif

# Check: native, or the cross architecture's copy when cross-compiling.
ifeq ($(ARCH),$(NATIVE))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck_pic -lsubunit -lm -lrt)
else
CHECK_LIBS := -L/usr/lib/$(ARCH)-linux-gnu -lcheck_pic -lsubunit -lm -lrt
endif

# jansson parses trace JSON for gor-trace and the trace tests.
ifeq ($(ARCH),$(NATIVE))
JSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
else
JSON_LIBS := -L/usr/lib/$(ARCH)-linux-gnu -ljansson
endif
GT_SRC := $(sort $(wildcard tools/gor-trace/*.c))
GT_LIB := $(filter-out tools/gor-trace/main.c,$(GT_SRC))

TEST_SRC  := $(sort $(wildcard tests/check_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
SAMPLE_SRC := $(sort $(wildcard samples/*.c))
SAMPLE_BIN := $(SAMPLE_SRC:samples/%.c=$(B)/samples/%)

.PHONY: all lib tools test check-valgrind check-asan check-tsan check-aarch64 check-ao \
        check-clang check-kqueue bench demo clean install deps-test deps-ci deps-tools
.DELETE_ON_ERROR:

all: lib tools $(SAMPLE_BIN)

lib: $(B)/libgor.a $(B)/libgor.so $(B)/gor.pc

$(B)/obj/%.o: %.c $(wildcard runtime/*.h) include/gor.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(B)/obj/runtime/netpoll_kqueue.o $(B)/obj/tests/compat/kqueue_emu.o: tests/compat/sys/event.h

$(B)/obj/asm/%.o: asm/%.S
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(B)/libgor.a: $(RT_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/libgor.so: $(RT_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS_SAN) $(LIBS)

$(B)/gor.pc: gor.pc.in
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

tools: $(B)/tools/gor-trace

deps-tools:
	@tools/deps.sh libjansson-dev pkg-config

$(B)/tools/gor-trace: $(GT_SRC) tools/gor-trace/gortrace.h | deps-tools
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(GT_SRC) -o $@ $(LDFLAGS_SAN) $(JSON_LIBS) -lm

$(B)/samples/%: samples/%.c $(B)/libgor.a include/gor.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $< -o $@ $(B)/libgor.a $(LDFLAGS_SAN) $(LIBS) -lm

# ---- tests -------------------------------------------------------------

# The stack suite links stack.o alone and supplies the two hooks proc.c
# would; the context suite needs only the switch.
$(B)/tests/check_stack: tests/check_stack.c $(B)/obj/runtime/stack.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iruntime $^ -o $@ $(LDFLAGS_SAN) $(CHECK_LIBS) $(LIBS)

$(B)/tests/check_context: tests/check_context.c $(B)/obj/asm/$(ARCH).o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iruntime $^ -o $@ $(LDFLAGS_SAN) $(CHECK_LIBS) $(LIBS)

# The trace suites parse JSON; check_trace also links gor-trace's model
# and text output to compare them with tests/data/ (no exec: it runs
# under qemu too).
$(B)/tests/check_trace: tests/check_trace.c tests/testutil.h $(GT_LIB) tools/gor-trace/gortrace.h \
                        $(B)/libgor.a include/gor.h | deps-tools
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iruntime -Itools/gor-trace -DGOR_TESTDATA='"$(CURDIR)/tests/data"' \
	  $< $(GT_LIB) -o $@ $(B)/libgor.a $(LDFLAGS_SAN) $(CHECK_LIBS) $(JSON_LIBS) $(LIBS) -lm

$(B)/tests/check_schedtrace: tests/check_schedtrace.c tests/testutil.h $(B)/libgor.a include/gor.h | deps-tools
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iruntime $< -o $@ $(B)/libgor.a $(LDFLAGS_SAN) $(CHECK_LIBS) $(JSON_LIBS) $(LIBS)

$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libgor.a include/gor.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Iruntime $< -o $@ $(B)/libgor.a $(LDFLAGS_SAN) $(CHECK_LIBS) $(LIBS)

deps-test:
	@tools/deps.sh check pkg-config libjansson-dev

# RUNNER prefixes every test binary (valgrind, qemu).
test: deps-test
	@$(MAKE) --no-print-directory lib $(TEST_BIN)
	@tools/runtests.sh "$(RUNNER)" $(TEST_BIN)

check-valgrind:
	@tools/deps.sh valgrind check pkg-config
	@$(MAKE) --no-print-directory test B=build/valgrind \
	  RUNNER="valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --trace-children=yes"

check-asan:
	@$(MAKE) --no-print-directory test B=build/asan SAN=address

check-tsan:
	@$(MAKE) --no-print-directory test B=build/tsan SAN=thread

check-ao:
	@tools/deps.sh libatomic-ops-dev
	@$(MAKE) --no-print-directory test B=build/ao ATOMICS=ao

check-clang:
	@tools/deps.sh clang
	@$(MAKE) --no-print-directory test B=build/clang CC=clang

# runtime/netpoll_kqueue.c has no kqueue kernel here: it is built against
# tests/compat/sys/event.h and runs over the epoll emulation beside it.
check-kqueue:
	@$(MAKE) --no-print-directory test B=build/kqueue NETPOLL=kqueue

check-aarch64:
	@tools/deps.sh gcc-aarch64-linux-gnu qemu-user check:arm64 libsubunit-dev:arm64 libjansson-dev:arm64
	@$(MAKE) --no-print-directory test B=build/aarch64 CC=aarch64-linux-gnu-gcc \
	  RUNNER="env GOR_STACK_GUARD=mprotect qemu-aarch64 -L /"

# ---- samples, demo, bench --------------------------------------------------

demo: lib $(B)/samples/fib_demo
	@$(B)/samples/fib_demo

bench: lib
	@tools/deps.sh golang-go
	@bench/run.sh $(B) $(if $(QUICK),quick,full)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/gor.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(B)/libgor.a $(B)/libgor.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' gor.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gor.pc

clean:
	rm -rf build
