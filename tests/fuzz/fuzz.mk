# tests/fuzz/fuzz.mk - libFuzzer targets; included by the Makefile.
fuzz: deps
	@echo "make fuzz: no fuzz targets yet" >&2; exit 1
