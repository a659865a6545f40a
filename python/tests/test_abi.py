"""The binding table against the header, and what the library links and exports."""

import re
import subprocess

import tessera
from tessera import _lib

from conftest import ROOT

HEADER = ROOT / "Sources/CTesseraABI/include/tessera.h"


def header_functions() -> dict[str, int]:
    """Every function of tessera.h with its parameter count."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    found = {}
    for name, params in re.findall(r"\b(tess_\w+)\s*\(([^)]*)\)\s*;", text):
        params = params.strip()
        found[name] = 0 if params in ("", "void") else params.count(",") + 1
    return found


def test_signature_table_matches_the_header():
    declared = header_functions()
    assert set(declared) == set(_lib.SIGNATURES), set(declared) ^ set(_lib.SIGNATURES)
    for name, count in declared.items():
        assert len(_lib.SIGNATURES[name][1]) == count, name


def test_abi_and_versions():
    assert _lib.lib.tess_abi_version() == _lib.ABI_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", tessera.library_version())
    assert tessera.__version__ == tessera.library_version()


def test_the_library_carries_its_swift_runtime_and_exports_only_the_abi():
    path = _lib.lib.path
    needed = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    libraries = re.findall(r"Shared library: \[([^\]]+)\]", needed)
    assert libraries and not [n for n in libraries if "swift" in n.lower() or "Foundation" in n], libraries
    symbols = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True)
    exported = {line.split()[-1] for line in symbols.stdout.splitlines() if line.split()[1:2] == ["T"]}
    assert exported == set(header_functions()), exported ^ set(header_functions())


def test_threads_and_memory_limit_settings():
    before = tessera.threads()
    tessera.set_threads(1)
    assert tessera.threads() == 1
    tessera.set_threads(before)
    limit = tessera.memory_limit()
    tessera.set_memory_limit("512M")
    assert tessera.memory_limit() == 512 << 20
    tessera.set_memory_limit(None)
    assert tessera.memory_limit() == limit
    try:
        tessera.set_threads(0)
    except tessera.ArgumentError as e:
        assert "threads" in str(e)
    else:
        raise AssertionError("set_threads(0) was accepted")


def test_the_header_serves_c_callers(demo, tmp_path):
    """Examples/c/tokenize.c, compiled against tessera.h and the library, gives the package's ids."""
    import shutil

    import pytest

    from conftest import DEMO_MODEL, IMAGES

    cc = shutil.which("cc") or shutil.which("clang") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    library = _lib.lib.path
    exe = tmp_path / "tokenize"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", "-I", str(HEADER.parent), str(ROOT / "Examples/c/tokenize.c"),
         library, f"-Wl,-rpath,{library.rsplit('/', 1)[0]}", "-o", str(exe)],
        check=True,
    )
    done = subprocess.run([str(exe), str(DEMO_MODEL), *map(str, IMAGES[:2])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    expected = demo.encode(IMAGES[:2])
    assert [list(map(int, line.split(":")[1].split())) for line in lines] == expected.tolist()
    bad = subprocess.run([str(exe), str(DEMO_MODEL), str(tmp_path / "missing.png")], capture_output=True, text=True)
    assert bad.returncode == 1 and "missing.png" in bad.stderr
