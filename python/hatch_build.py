"""Hatchling build hook: builds libTesseraC with the Swift toolchain and puts it in the wheel.

The library has no Python dependency (ctypes loads it), so one wheel serves every CPython:
py3-none-<platform>. Set TESSERA_PREBUILT=1 to package the library already in tessera/ as it is.
"""

import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SwiftLibraryHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        name = "libTesseraC.dylib" if sys.platform == "darwin" else "libTesseraC.so"
        library = root / "tessera" / name
        if not os.environ.get("TESSERA_PREBUILT"):
            script = root.parent / "Scripts" / "build-library.sh"
            if not script.exists():
                raise RuntimeError("building tessera needs the Tessera repository (Scripts/build-library.sh) and Swift 6.3")
            subprocess.run(["bash", str(script)], check=True)
        if not library.exists():
            raise RuntimeError(f"{library} is missing: run Scripts/build-library.sh")
        build_data["force_include"][str(library)] = f"tessera/{name}"
        build_data["pure_python"] = False
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        if sys.platform == "darwin":
            plat = f"macosx_14_0_{platform.machine()}"
        build_data["tag"] = f"py3-none-{plat}"
